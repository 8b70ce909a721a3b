"""CCSDS time codes (CCSDS 301.0-B-4, Time Code Formats): CUC and CDS.

* :class:`CucTime` -- CCSDS Unsegmented Code (§3.2): a binary count of whole
  seconds (coarse, 1..7 octets) and binary fractions of a second (fine,
  0..10 octets) since an epoch. The P-field (§3.2.3) is optional; its second
  octet is written when more than 4 coarse or 3 fine octets are used. Time
  code ID 001 is the 1958-01-01 TAI epoch (level 1), 010 an agency-defined
  (mission) epoch (level 2).
* :class:`CdsTime` -- CCSDS Day Segmented code (§3.3): a 16- or 24-bit day
  count, a 32-bit millisecond of day and an optional 16-bit microsecond or
  32-bit picosecond of millisecond. P-field optional.

Both are frozen dataclasses of raw wire integers (``*_raw``) plus a config
(:class:`CucConfig` / :class:`CdsConfig`) naming octet widths, epoch, time
scale and whether the P-field is on the wire ("explicit") or agreed
beforehand ("implicit"). Conversions are exact (``fractions.Fraction``):
``elapsed_s`` since the code's epoch, ``tai_s`` since 1958-01-01 TAI, and
``datetime`` in UTC.

Time scales and leap seconds. A code counts either

* :attr:`TimeScale.TAI` -- elapsed SI seconds, leap seconds included. This is
  the default for CUC because §3.2 defines CUC as a count of TAI seconds that
  is not UTC-based (no leap-second corrections); a mission epoch is then a
  TAI calendar instant.
* :attr:`TimeScale.UTC` -- UTC calendar days of 86 400 s, leap seconds not
  counted. This is the default for CDS because CDS is day-segmented UTC on
  most missions (S-NPP/JPSS, many ESA missions): day count + millisecond of
  day read straight off a UTC calendar; during a positive leap second the
  millisecond of day runs to 86 400 999. A UTC-scale CUC (coarse seconds =
  calendar seconds since the epoch, like POSIX time) cannot represent
  23:59:60 and refuses to encode it.

TAI <-> UTC uses :data:`LEAP_SECONDS`, the TAI-UTC table from 1972-01-01
(10 s) to 2017-01-01 (37 s), held here as data. Instants before 1972 have no
integral TAI-UTC and are refused when a TAI <-> UTC conversion is needed.
A real mission picks CUC 4+2 octets (implicit P-field, TAI, mission epoch)
for onboard time, or CDS 16-bit day + ms (+ µs) in UTC.
"""

from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from numbers import Rational, Real

import construct as c
import numpy as np

from .errors import LocalProtocolError, RemoteProtocolError, TruncatedError, check_enum, check_length, check_range
from .layout import BitLayout

__all__ = [
    "TimeScale",
    "CCSDS_EPOCH",
    "LEAP_SECONDS",
    "tai_minus_utc_s",
    "utc_to_tai_s",
    "tai_s_to_utc",
    "CucPField",
    "CucPFieldExtension",
    "CucTField",
    "CdsPField",
    "CdsTField",
    "CucConfig",
    "CucTime",
    "CdsSubMs",
    "CdsConfig",
    "CdsTime",
    "TimeCode",
    "TimeConfig",
    "decode_time_from",
]

LAYER_CUC = "CUC time code"
LAYER_CDS = "CDS time code"
LAYER_SCALE = "time scale"

#: The CCSDS epoch 1958-01-01T00:00:00 (TAI for level-1 CUC). Epochs are naive
#: datetimes read in the code's own time scale.
CCSDS_EPOCH = datetime(1958, 1, 1)
SECONDS_PER_DAY = 86_400
MS_PER_DAY = SECONDS_PER_DAY * 1000

#: TAI-UTC (s) from the UTC date it takes effect (IERS Bulletin C); ends with the
#: leap second of 2016-12-31. Extend this tuple when the IERS announces another.
LEAP_SECONDS: tuple[tuple[date, int], ...] = (
    (date(1972, 1, 1), 10), (date(1972, 7, 1), 11), (date(1973, 1, 1), 12), (date(1974, 1, 1), 13),
    (date(1975, 1, 1), 14), (date(1976, 1, 1), 15), (date(1977, 1, 1), 16), (date(1978, 1, 1), 17),
    (date(1979, 1, 1), 18), (date(1980, 1, 1), 19), (date(1981, 7, 1), 20), (date(1982, 7, 1), 21),
    (date(1983, 7, 1), 22), (date(1985, 7, 1), 23), (date(1988, 1, 1), 24), (date(1990, 1, 1), 25),
    (date(1991, 1, 1), 26), (date(1992, 7, 1), 27), (date(1993, 7, 1), 28), (date(1994, 7, 1), 29),
    (date(1996, 1, 1), 30), (date(1997, 7, 1), 31), (date(1999, 1, 1), 32), (date(2006, 1, 1), 33),
    (date(2009, 1, 1), 34), (date(2012, 7, 1), 35), (date(2015, 7, 1), 36), (date(2017, 1, 1), 37),
)


class TimeScale(enum.Enum):
    """What a code counts: TAI seconds (leap seconds included) or UTC calendar seconds (86 400 per day)."""

    TAI = "TAI"
    UTC = "UTC"


# ---------------------------------------------------------------------------
# Calendar arithmetic. "Calendar seconds" are seconds since 1958-01-01 00:00 on
# a calendar of 86 400 s days; for TAI they are exactly TAI seconds since 1958.


def _naive(dt: datetime) -> datetime:
    if dt.tzinfo is not None:
        return dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def _cal_s(dt: datetime) -> Fraction:
    d = _naive(dt) - CCSDS_EPOCH
    return Fraction(d.days * SECONDS_PER_DAY + d.seconds) + Fraction(d.microseconds, 1_000_000)


def _cal_dt(cal_s: Fraction) -> datetime:
    try:
        return CCSDS_EPOCH + timedelta(microseconds=round(cal_s * 1_000_000))
    except OverflowError as e:
        raise LocalProtocolError(LAYER_SCALE, "calendar seconds since 1958", float(cal_s),
                                 "an instant before year 10000 (datetime range)") from e


_LEAP_UTC_CAL = tuple(int(_cal_s(datetime(d.year, d.month, d.day))) for d, _ in LEAP_SECONDS)
_LEAP_OFFSET = tuple(off for _, off in LEAP_SECONDS)
_LEAP_TAI = tuple(u + o for u, o in zip(_LEAP_UTC_CAL, _LEAP_OFFSET))
_UNIX_EPOCH_CAL_S = 4383 * 86_400  # 1970-01-01 in UTC calendar seconds since 1958 (12 years, 3 leap days)
_LEAP_INSERTED = frozenset(_LEAP_UTC_CAL[1:])  # midnights that follow a 23:59:60 (1972-01-01 was a step, not one)


def _offset_at_utc_cal(utc_cal_s: Fraction) -> int:
    i = bisect.bisect_right(_LEAP_UTC_CAL, utc_cal_s) - 1
    if i < 0:
        raise LocalProtocolError(LAYER_SCALE, "UTC instant", str(_cal_dt(utc_cal_s)),
                                 "1972-01-01 or later (TAI-UTC table starts there)")
    return _LEAP_OFFSET[i]


def _utc_cal_to_tai(utc_cal_s: Fraction) -> Fraction:
    return utc_cal_s + _offset_at_utc_cal(utc_cal_s)


def _tai_to_utc_day(tai_s: Fraction) -> tuple[int, Fraction]:
    """UTC (day since 1958, seconds of day) of a TAI instant; seconds of day >= 86400 inside a leap second."""
    i = bisect.bisect_right(_LEAP_TAI, tai_s) - 1
    if i < 0:
        raise LocalProtocolError(LAYER_SCALE, "TAI instant", float(tai_s),
                                 f">= {_LEAP_TAI[0]} s after 1958 (1972-01-01 UTC, start of the TAI-UTC table)")
    utc = tai_s - _LEAP_OFFSET[i]
    if i + 1 < len(_LEAP_UTC_CAL) and utc >= _LEAP_UTC_CAL[i + 1]:
        # the inserted second 23:59:60 before the next table entry
        day = _LEAP_UTC_CAL[i + 1] // SECONDS_PER_DAY - 1
        return day, SECONDS_PER_DAY + (utc - _LEAP_UTC_CAL[i + 1])
    day = int(utc // SECONDS_PER_DAY)
    return day, utc - day * SECONDS_PER_DAY


def _ends_with_leap_second(cal_day: int) -> bool:
    """True when the UTC day ``cal_day`` (calendar days, as _cal_s counts them) ends with 23:59:60."""
    return (cal_day + 1) * SECONDS_PER_DAY in _LEAP_INSERTED


def tai_minus_utc_s(utc: datetime) -> int:
    """TAI-UTC in seconds at a UTC instant (naive = UTC), from the built-in table."""
    return _offset_at_utc_cal(_cal_s(utc))


def utc_to_tai_s(utc: datetime) -> Fraction:
    """TAI seconds since 1958-01-01 TAI of a UTC datetime (naive = UTC)."""
    return _utc_cal_to_tai(_cal_s(utc))


def tai_us_to_unix_us(tai_us: np.ndarray) -> np.ndarray:
    """UTC microseconds since 1970 of many TAI instants (int64 microseconds since 1958), exactly, vectorised.

    The leap-second table as :func:`tai_s_to_utc` uses it; an instant inside a leap second (23:59:60),
    which a timestamp cannot show, becomes the start of the next day; before 1972 the first offset holds.
    """
    t = np.asarray(tai_us, dtype=np.int64)
    leap_tai_us = np.asarray(_LEAP_TAI, dtype=np.int64) * 1_000_000
    i = np.clip(np.searchsorted(leap_tai_us, t, side="right") - 1, 0, None)
    utc_cal = t - np.asarray(_LEAP_OFFSET, dtype=np.int64)[i] * 1_000_000
    nxt = np.minimum(i + 1, len(_LEAP_UTC_CAL) - 1)
    next_midnight = np.asarray(_LEAP_UTC_CAL, dtype=np.int64)[nxt] * 1_000_000
    inside = (i + 1 < len(_LEAP_UTC_CAL)) & (utc_cal >= next_midnight)
    return np.where(inside, next_midnight, utc_cal) - _UNIX_EPOCH_CAL_S * 1_000_000


def utc_iso_columns(tai_s: np.ndarray, unix_us: np.ndarray) -> tuple[list[str], np.ndarray]:
    """ISO-8601 UTC text of many instants, as :meth:`CucTime.utc_iso` writes each, and where it holds.

    ``tai_s``: TAI seconds since 1958; ``unix_us``: the same instants as :func:`tai_us_to_unix_us` gives
    them. The mask is False, and the text not to be used, before 1972 (no UTC) and within 2 s of a leap
    second (23:59:60, which a timestamp cannot show, and the rounding next to it): those go one by one.
    """
    t = np.asarray(tai_s, dtype=np.float64)
    leaps = np.asarray(_LEAP_TAI[1:], dtype=np.float64)  # the TAI instants of the midnights after a 23:59:60
    k = np.searchsorted(leaps, t)
    near = np.zeros(t.shape, dtype=bool)
    for j in (k - 1, k):
        near |= np.abs(t - leaps[np.clip(j, 0, len(leaps) - 1)]) < 2.0
    ok = (t >= _LEAP_TAI[0] + 2.0) & ~near
    text = np.char.add(np.datetime_as_string(np.asarray(unix_us, dtype=np.int64).astype("datetime64[us]"),
                                             unit="us"), "Z")
    return text.tolist(), ok


def fine_to_us(fine: np.ndarray, fine_octets: int) -> np.ndarray:
    """Microseconds of CUC fine-time counts, rounded half to even as the per-packet conversion rounds."""
    d = 1 << (8 * fine_octets)
    q, r = np.divmod(np.asarray(fine, dtype=np.int64) * 1_000_000, d)
    return q + ((2 * r > d) | ((2 * r == d) & (q % 2 == 1)))


def tai_s_to_utc(tai_s: Real) -> datetime:
    """UTC datetime (tz-aware) of TAI seconds since 1958; refuses an instant inside a leap second."""
    day, sod = _tai_to_utc_day(Fraction(tai_s))  # type: ignore[arg-type]
    if sod >= SECONDS_PER_DAY:
        raise LocalProtocolError(LAYER_SCALE, "UTC instant", _iso(day, sod),
                                 "a time datetime can hold (not 23:59:60)",
                                 detail="inside a leap second; use utc_iso() instead")
    return _cal_dt(day * SECONDS_PER_DAY + sod).replace(tzinfo=timezone.utc)


def _iso(day: int, sod: Fraction) -> str:
    """ISO-8601 UTC text with microseconds; shows 23:59:60 inside a leap second."""
    us = int(round(sod * 1_000_000))
    if us >= SECONDS_PER_DAY * 1_000_000 and sod >= SECONDS_PER_DAY:
        d = _cal_dt(Fraction(day * SECONDS_PER_DAY)).date()
        frac = us - SECONDS_PER_DAY * 1_000_000
        return f"{d.isoformat()}T23:59:60.{min(frac, 999_999):06d}Z"
    return _cal_dt(day * SECONDS_PER_DAY + Fraction(us, 1_000_000)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _as_fraction(value: Real, layer: str, name: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise LocalProtocolError(layer, name, value, "a real number of seconds")
    if isinstance(value, (int, Rational)):
        return Fraction(value)  # type: ignore[arg-type]
    f = float(value)
    if f != f or f in (float("inf"), float("-inf")):
        raise LocalProtocolError(layer, name, value, "a finite number of seconds")
    return Fraction(f)


# ---------------------------------------------------------------------------
# Layouts, declared once.

#: CUC P-field, first octet (CCSDS 301.0-B-4 §3.2.3): extension flag, time code
#: ID (001 = 1958 TAI epoch, 010 = agency-defined epoch), coarse octets - 1, fine octets.
CucPField = c.BitStruct(
    "extension" / c.Flag,
    "time_code_id" / c.BitsInteger(3),
    "coarse_octets_minus_1" / c.BitsInteger(2),
    "fine_octets" / c.BitsInteger(2),
)
#: CUC P-field, second octet (§3.2.3, present when the first octet's extension
#: flag is set): further extension flag, additional coarse (0..3) and fine (0..7) octets, reserved.
CucPFieldExtension = c.BitStruct(
    "extension" / c.Flag,
    "coarse_octets_added" / c.BitsInteger(2),
    "fine_octets_added" / c.BitsInteger(3),
    "reserved" / c.BitsInteger(2),
)
#: CUC T-field (§3.2.2): coarse then fine time, widths from the P-field or the
#: mission's implicit format (pass ``coarse_octets=``, ``fine_octets=`` to parse/build).
CucTField = c.Struct(
    "coarse" / c.BytesInteger(c.this._params.coarse_octets),
    "fine" / c.If(c.this._params.fine_octets > 0, c.BytesInteger(c.this._params.fine_octets)),
)
#: CDS P-field (§3.3.3): extension flag (0), time code ID 100, epoch ID (0 = 1958,
#: 1 = agency-defined), day segment length (0 = 16 bit, 1 = 24 bit), sub-ms
#: resolution (00 none, 01 µs, 10 ps, 11 reserved).
CdsPField = c.BitStruct(
    "extension" / c.Flag,
    "time_code_id" / c.BitsInteger(3),
    "epoch_id" / c.BitsInteger(1),
    "day_segment_24bit" / c.BitsInteger(1),
    "submillisecond" / c.BitsInteger(2),
)
#: CDS T-field (§3.3.2): day, ms of day (32 bit), optional sub-ms segment
#: (pass ``day_octets=``, ``submillisecond_octets=`` to parse/build).
CdsTField = c.Struct(
    "day" / c.BytesInteger(c.this._params.day_octets),
    "ms_of_day" / c.Int32ub,
    "submillisecond" / c.If(c.this._params.submillisecond_octets > 0,
                            c.BytesInteger(c.this._params.submillisecond_octets)),
)

_CUC_P1 = BitLayout(CucPField)
_CUC_P2 = BitLayout(CucPFieldExtension)
_CDS_P = BitLayout(CdsPField)

CUC_ID_1958 = 0b001
CUC_ID_AGENCY = 0b010
CDS_ID = 0b100


# ---------------------------------------------------------------------------
# CUC


@dataclass(frozen=True, slots=True, kw_only=True)
class CucConfig:
    """Format of a CUC code: octet widths, epoch (naive, in ``scale``), time scale, P-field on the wire."""

    coarse_octets: int = 4
    fine_octets: int = 2
    epoch: datetime = CCSDS_EPOCH
    scale: TimeScale = TimeScale.TAI
    p_field: bool = False

    def __post_init__(self) -> None:
        check_range(LAYER_CUC, "coarse_octets", self.coarse_octets, 1, 7)
        check_range(LAYER_CUC, "fine_octets", self.fine_octets, 0, 10)
        object.__setattr__(self, "epoch", _naive(self.epoch))
        object.__setattr__(self, "scale", check_enum(LAYER_CUC, "scale", TimeScale, self.scale))

    @property
    def time_code_id(self) -> int:
        """P-field time code ID: 001 for the 1958 TAI epoch, else 010 (agency-defined epoch)."""
        if self.epoch == CCSDS_EPOCH and self.scale is TimeScale.TAI:
            return CUC_ID_1958
        return CUC_ID_AGENCY

    @property
    def p_field_len(self) -> int:
        """Octets of P-field this config writes (0 when implicit)."""
        if not self.p_field:
            return 0
        return 2 if self.coarse_octets > 4 or self.fine_octets > 3 else 1

    @property
    def length(self) -> int:
        """Encoded length in octets (P-field included when explicit)."""
        return self.p_field_len + self.coarse_octets + self.fine_octets

    def p_field_bytes(self) -> bytes:
        """The P-field octet(s) describing this format (§3.2.3)."""
        extended = self.coarse_octets > 4 or self.fine_octets > 3
        first = _CUC_P1.pack(extension=int(extended), time_code_id=self.time_code_id,
                             coarse_octets_minus_1=min(self.coarse_octets, 4) - 1,
                             fine_octets=min(self.fine_octets, 3))
        if not extended:
            return first
        return first + _CUC_P2.pack(extension=0, coarse_octets_added=max(self.coarse_octets - 4, 0),
                                    fine_octets_added=max(self.fine_octets - 3, 0), reserved=0)


DEFAULT_CUC = CucConfig()


@dataclass(frozen=True, slots=True)
class CucTime:
    """A CUC time: ``coarse_s_raw`` whole seconds + ``fine_raw`` / 256**fine_octets s since the epoch."""

    coarse_s_raw: int
    fine_raw: int = 0
    config: CucConfig = DEFAULT_CUC

    def __post_init__(self) -> None:
        check_range(LAYER_CUC, "coarse_s_raw", self.coarse_s_raw, 0, (1 << (8 * self.config.coarse_octets)) - 1)
        check_range(LAYER_CUC, "fine_raw", self.fine_raw, 0, (1 << (8 * self.config.fine_octets)) - 1)

    # -- wire -------------------------------------------------------------
    def encode(self) -> bytes:
        """P-field (when explicit) and T-field octets."""
        cfg = self.config
        t = self.coarse_s_raw.to_bytes(cfg.coarse_octets, "big")
        if cfg.fine_octets:
            t += self.fine_raw.to_bytes(cfg.fine_octets, "big")
        return (cfg.p_field_bytes() if cfg.p_field else b"") + t

    def __len__(self) -> int:
        return self.config.length

    @classmethod
    def decode(cls, buf: bytes | bytearray | memoryview, *, config: CucConfig = DEFAULT_CUC,
               offset: int = 0) -> CucTime:
        """Decode a CUC code occupying all of ``buf`` (P-field read when ``config.p_field``)."""
        t, end = cls.decode_from(buf, 0, config=config, base_offset=offset)
        check_length(LAYER_CUC, "code length", len(buf), end, offset=offset)
        return t

    @classmethod
    def decode_from(cls, buf: bytes | bytearray | memoryview, pos: int = 0, *,
                    config: CucConfig = DEFAULT_CUC, base_offset: int = 0) -> tuple[CucTime, int]:
        """Decode the CUC code at ``buf[pos]``; return it and the position after it."""
        where = base_offset + pos
        if config.p_field:
            config, pos = _read_cuc_p_field(buf, pos, config, base_offset)
        n = config.coarse_octets + config.fine_octets
        if len(buf) - pos < n:
            raise TruncatedError(LAYER_CUC, "T-field", max(0, len(buf) - pos),
                                 f"{n} octets ({config.coarse_octets} coarse + {config.fine_octets} fine)",
                                 offset=where)
        mid = pos + config.coarse_octets
        coarse = int.from_bytes(buf[pos:mid], "big")
        fine = int.from_bytes(buf[mid:pos + n], "big")
        return cls(coarse, fine, config), pos + n

    # -- conversions ------------------------------------------------------
    @property
    def elapsed_s(self) -> Fraction:
        """Exact seconds since the code's epoch, in the code's time scale."""
        return self.coarse_s_raw + Fraction(self.fine_raw, 1 << (8 * self.config.fine_octets))

    @property
    def tai_s(self) -> Fraction:
        """Exact TAI seconds since 1958-01-01 TAI."""
        cfg = self.config
        cal = _cal_s(cfg.epoch) + self.elapsed_s
        return cal if cfg.scale is TimeScale.TAI else _utc_cal_to_tai(cal)

    def to_datetime(self) -> datetime:
        """The instant as a tz-aware UTC datetime (rounded to the microsecond)."""
        cfg = self.config
        if cfg.scale is TimeScale.UTC:
            return _cal_dt(_cal_s(cfg.epoch) + self.elapsed_s).replace(tzinfo=timezone.utc)
        return tai_s_to_utc(self.tai_s)

    def utc_iso(self) -> str:
        """ISO-8601 UTC text (``...T23:59:60.xxxxxxZ`` inside a leap second)."""
        cfg = self.config
        if cfg.scale is TimeScale.UTC:
            cal = _cal_s(cfg.epoch) + self.elapsed_s
            day = int(cal // SECONDS_PER_DAY)
            return _iso(day, cal - day * SECONDS_PER_DAY)
        return _iso(*_tai_to_utc_day(self.tai_s))

    @classmethod
    def from_elapsed_s(cls, elapsed_s: Real, *, config: CucConfig = DEFAULT_CUC) -> CucTime:
        """The code for ``elapsed_s`` seconds since the epoch (fine part rounded to nearest)."""
        e = _as_fraction(elapsed_s, LAYER_CUC, "elapsed_s")
        scale = 1 << (8 * config.fine_octets)
        ticks = round(e * scale)
        coarse, fine = divmod(ticks, scale)
        if not 0 <= coarse < 1 << (8 * config.coarse_octets):
            raise LocalProtocolError(LAYER_CUC, "elapsed_s", float(e),
                                     f"0..{(1 << (8 * config.coarse_octets)) - 1} s after the epoch "
                                     f"({config.coarse_octets} coarse octets)")
        return cls(coarse, fine, config)

    @classmethod
    def from_tai_s(cls, tai_s: Real, *, config: CucConfig = DEFAULT_CUC) -> CucTime:
        """The code for TAI seconds since 1958-01-01 TAI."""
        t = _as_fraction(tai_s, LAYER_CUC, "tai_s")
        if config.scale is TimeScale.TAI:
            return cls.from_elapsed_s(t - _cal_s(config.epoch), config=config)
        day, sod = _tai_to_utc_day(t)
        if sod >= SECONDS_PER_DAY:
            raise LocalProtocolError(LAYER_CUC, "UTC instant", _iso(day, sod), "not 23:59:60",
                                     detail="a UTC-scale CUC cannot count a leap second")
        return cls.from_elapsed_s(day * SECONDS_PER_DAY + sod - _cal_s(config.epoch), config=config)

    @classmethod
    def from_datetime(cls, dt: datetime, *, config: CucConfig = DEFAULT_CUC) -> CucTime:
        """The code for a UTC datetime (naive = UTC)."""
        if config.scale is TimeScale.UTC:
            return cls.from_elapsed_s(_cal_s(dt) - _cal_s(config.epoch), config=config)
        return cls.from_tai_s(utc_to_tai_s(dt), config=config)


def _read_cuc_p_field(buf: bytes | bytearray | memoryview, pos: int, config: CucConfig,
                      base_offset: int) -> tuple[CucConfig, int]:
    where = base_offset + pos
    if len(buf) - pos < 1:
        raise TruncatedError(LAYER_CUC, "P-field", 0, "1 or 2 octets", offset=where)
    ext, code_id, coarse_m1, fine = _CUC_P1.unpack(buf, pos)
    coarse = coarse_m1 + 1
    pos += 1
    if ext:
        if len(buf) - pos < 1:
            raise TruncatedError(LAYER_CUC, "P-field second octet", 0, "1 octet (extension flag set)",
                                 offset=where + 1)
        ext2, coarse_add, fine_add, _reserved = _CUC_P2.unpack(buf, pos)
        if ext2:
            raise RemoteProtocolError(LAYER_CUC, "P-field second octet extension flag", ext2,
                                      "0 (at most two P-field octets)", offset=where + 1)
        coarse += coarse_add
        fine += fine_add
        pos += 1
    if code_id == CUC_ID_1958:
        epoch, scale = CCSDS_EPOCH, TimeScale.TAI
    elif code_id == CUC_ID_AGENCY:
        if config.epoch == CCSDS_EPOCH and config.scale is TimeScale.TAI:
            raise RemoteProtocolError(LAYER_CUC, "P-field time code ID", code_id,
                                      "001 unless a mission epoch is configured",
                                      offset=where, detail="010 = agency-defined epoch: pass "
                                      "config=CucConfig(epoch=<mission epoch>, p_field=True)")
        epoch, scale = config.epoch, config.scale
    else:
        raise RemoteProtocolError(LAYER_CUC, "P-field time code ID", code_id,
                                  "001 (1958 TAI epoch) or 010 (agency epoch)", offset=where)
    return CucConfig(coarse_octets=coarse, fine_octets=fine, epoch=epoch, scale=scale, p_field=True), pos


# ---------------------------------------------------------------------------
# CDS


class CdsSubMs(enum.IntEnum):
    """CDS sub-millisecond segment (§3.3.2): none, 16-bit microseconds, 32-bit picoseconds."""

    NONE = 0
    MICROSECONDS = 1
    PICOSECONDS = 2

    @property
    def octets(self) -> int:
        """Width of the segment in octets."""
        return (0, 2, 4)[self.value]

    @property
    def per_ms(self) -> int:
        """Units of the segment per millisecond."""
        return (1, 1000, 1_000_000_000)[self.value]


@dataclass(frozen=True, slots=True, kw_only=True)
class CdsConfig:
    """Format of a CDS code: day width (2/3 octets), sub-ms segment, epoch (a midnight), scale, P-field."""

    day_octets: int = 2
    submillisecond: CdsSubMs = CdsSubMs.NONE
    epoch: datetime = CCSDS_EPOCH
    scale: TimeScale = TimeScale.UTC
    p_field: bool = False

    def __post_init__(self) -> None:
        check_range(LAYER_CDS, "day_octets", self.day_octets, 2, 3)
        object.__setattr__(self, "submillisecond", check_enum(LAYER_CDS, "submillisecond", CdsSubMs, self.submillisecond))
        object.__setattr__(self, "scale", check_enum(LAYER_CDS, "scale", TimeScale, self.scale))
        epoch = _naive(self.epoch)
        if epoch.time() != datetime.min.time():
            raise LocalProtocolError(LAYER_CDS, "epoch", str(epoch), "a midnight (days count from it)")
        object.__setattr__(self, "epoch", epoch)

    @property
    def length(self) -> int:
        """Encoded length in octets (P-field included when explicit)."""
        return int(self.p_field) + self.day_octets + 4 + self.submillisecond.octets

    @property
    def max_ms_of_day(self) -> int:
        """Largest millisecond of day: 86 400 999 in UTC (leap second), 86 399 999 in TAI."""
        return MS_PER_DAY + 999 if self.scale is TimeScale.UTC else MS_PER_DAY - 1

    def p_field_bytes(self) -> bytes:
        """The P-field octet describing this format (§3.3.3)."""
        return _CDS_P.pack(extension=0, time_code_id=CDS_ID, epoch_id=int(self.epoch != CCSDS_EPOCH),
                           day_segment_24bit=int(self.day_octets == 3), submillisecond=self.submillisecond)


DEFAULT_CDS = CdsConfig()


@dataclass(frozen=True, slots=True)
class CdsTime:
    """A CDS time: ``day_raw`` days + ``ms_of_day_raw`` ms + ``submillisecond_raw`` µs or ps since the epoch."""

    day_raw: int
    ms_of_day_raw: int
    submillisecond_raw: int = 0
    config: CdsConfig = DEFAULT_CDS

    def __post_init__(self) -> None:
        cfg = self.config
        check_range(LAYER_CDS, "day_raw", self.day_raw, 0, (1 << (8 * cfg.day_octets)) - 1)
        check_range(LAYER_CDS, "ms_of_day_raw", self.ms_of_day_raw, 0, cfg.max_ms_of_day)
        check_range(LAYER_CDS, "submillisecond_raw", self.submillisecond_raw, 0, cfg.submillisecond.per_ms - 1)

    def encode(self) -> bytes:
        """P-field (when explicit) and T-field octets."""
        cfg = self.config
        out = cfg.p_field_bytes() if cfg.p_field else b""
        out += self.day_raw.to_bytes(cfg.day_octets, "big") + self.ms_of_day_raw.to_bytes(4, "big")
        if cfg.submillisecond.octets:
            out += self.submillisecond_raw.to_bytes(cfg.submillisecond.octets, "big")
        return out

    def __len__(self) -> int:
        return self.config.length

    @classmethod
    def decode(cls, buf: bytes | bytearray | memoryview, *, config: CdsConfig = DEFAULT_CDS,
               offset: int = 0) -> CdsTime:
        """Decode a CDS code occupying all of ``buf`` (P-field read when ``config.p_field``)."""
        t, end = cls.decode_from(buf, 0, config=config, base_offset=offset)
        check_length(LAYER_CDS, "code length", len(buf), end, offset=offset)
        return t

    @classmethod
    def decode_from(cls, buf: bytes | bytearray | memoryview, pos: int = 0, *,
                    config: CdsConfig = DEFAULT_CDS, base_offset: int = 0) -> tuple[CdsTime, int]:
        """Decode the CDS code at ``buf[pos]``; return it and the position after it."""
        where = base_offset + pos
        if config.p_field:
            config, pos = _read_cds_p_field(buf, pos, config, base_offset)
        sub_n = config.submillisecond.octets
        n = config.day_octets + 4 + sub_n
        if len(buf) - pos < n:
            raise TruncatedError(LAYER_CDS, "T-field", max(0, len(buf) - pos), f"{n} octets", offset=where)
        d_end = pos + config.day_octets
        day = int.from_bytes(buf[pos:d_end], "big")
        ms = int.from_bytes(buf[d_end:d_end + 4], "big")
        sub = int.from_bytes(buf[d_end + 4:pos + n], "big")
        if ms > config.max_ms_of_day:
            raise RemoteProtocolError(LAYER_CDS, "ms of day", ms, f"0..{config.max_ms_of_day} "
                                      f"({config.scale.value} scale)", offset=base_offset + d_end)
        if sub >= config.submillisecond.per_ms:
            raise RemoteProtocolError(LAYER_CDS, "sub-millisecond segment", sub,
                                      f"0..{config.submillisecond.per_ms - 1}", offset=base_offset + d_end + 4)
        return cls(day, ms, sub, config), pos + n

    # -- conversions ------------------------------------------------------
    @property
    def elapsed_s(self) -> Fraction:
        """Exact seconds since the epoch on the code's day calendar (86 400 s days; ms may exceed a day)."""
        return (self.day_raw * SECONDS_PER_DAY + Fraction(self.ms_of_day_raw, 1000)
                + Fraction(self.submillisecond_raw, 1000 * self.config.submillisecond.per_ms))

    @property
    def second_of_day(self) -> Fraction:
        """Exact seconds since the start of the day (>= 86400 inside a leap second)."""
        return Fraction(self.ms_of_day_raw, 1000) + Fraction(
            self.submillisecond_raw, 1000 * self.config.submillisecond.per_ms)

    @property
    def tai_s(self) -> Fraction:
        """Exact TAI seconds since 1958-01-01 TAI."""
        cfg = self.config
        midnight = _cal_s(cfg.epoch) + self.day_raw * SECONDS_PER_DAY
        if cfg.scale is TimeScale.UTC:
            midnight = _utc_cal_to_tai(midnight)
        return midnight + self.second_of_day

    def to_datetime(self) -> datetime:
        """The instant as a tz-aware UTC datetime (rounded to the microsecond); refuses 23:59:60."""
        cfg = self.config
        if cfg.scale is TimeScale.TAI:
            return tai_s_to_utc(self.tai_s)
        if self.ms_of_day_raw >= MS_PER_DAY:
            raise LocalProtocolError(LAYER_CDS, "UTC instant", self.utc_iso(), "not 23:59:60",
                                     detail="datetime cannot hold a leap second; use utc_iso()")
        return _cal_dt(_cal_s(cfg.epoch) + self.elapsed_s).replace(tzinfo=timezone.utc)

    def utc_iso(self) -> str:
        """ISO-8601 UTC text (``...T23:59:60.xxxxxxZ`` inside a leap second)."""
        cfg = self.config
        if cfg.scale is TimeScale.TAI:
            return _iso(*_tai_to_utc_day(self.tai_s))
        epoch_day = int(_cal_s(cfg.epoch)) // SECONDS_PER_DAY
        return _iso(epoch_day + self.day_raw, self.second_of_day)

    @classmethod
    def _from_day_sod(cls, day: int, sod: Fraction, config: CdsConfig) -> CdsTime:
        per_ms = config.submillisecond.per_ms
        ticks = round(sod * 1000 * per_ms)
        ms, sub = divmod(ticks, per_ms)
        epoch_day = int(_cal_s(config.epoch)) // SECONDS_PER_DAY
        leap_day = config.scale is TimeScale.UTC and _ends_with_leap_second(epoch_day + day)
        if ms >= MS_PER_DAY and sod < SECONDS_PER_DAY and not leap_day:  # rounded up into the next day
            day, ms = day + 1, ms - MS_PER_DAY
        elif ms >= MS_PER_DAY + 1000:  # rounded up past the end of 23:59:60
            day, ms = day + 1, ms - MS_PER_DAY - 1000
        if not 0 <= day < 1 << (8 * config.day_octets):
            raise LocalProtocolError(LAYER_CDS, "day", day,
                                     f"0..{(1 << (8 * config.day_octets)) - 1} days after {config.epoch:%Y-%m-%d}")
        return cls(day, ms, sub, config)

    @classmethod
    def from_elapsed_s(cls, elapsed_s: Real, *, config: CdsConfig = DEFAULT_CDS) -> CdsTime:
        """The code for seconds since the epoch on the code's 86 400 s day calendar."""
        e = _as_fraction(elapsed_s, LAYER_CDS, "elapsed_s")
        day = int(e // SECONDS_PER_DAY)
        return cls._from_day_sod(day, e - day * SECONDS_PER_DAY, config)

    @classmethod
    def from_tai_s(cls, tai_s: Real, *, config: CdsConfig = DEFAULT_CDS) -> CdsTime:
        """The code for TAI seconds since 1958-01-01 TAI (a leap second gives ms of day >= 86 400 000)."""
        t = _as_fraction(tai_s, LAYER_CDS, "tai_s")
        if config.scale is TimeScale.TAI:
            return cls.from_elapsed_s(t - _cal_s(config.epoch), config=config)
        day, sod = _tai_to_utc_day(t)
        return cls._from_day_sod(day - int(_cal_s(config.epoch)) // SECONDS_PER_DAY, sod, config)

    @classmethod
    def from_datetime(cls, dt: datetime, *, config: CdsConfig = DEFAULT_CDS) -> CdsTime:
        """The code for a UTC datetime (naive = UTC)."""
        if config.scale is TimeScale.UTC:
            return cls.from_elapsed_s(_cal_s(dt) - _cal_s(config.epoch), config=config)
        return cls.from_tai_s(utc_to_tai_s(dt), config=config)


def _read_cds_p_field(buf: bytes | bytearray | memoryview, pos: int, config: CdsConfig,
                      base_offset: int) -> tuple[CdsConfig, int]:
    where = base_offset + pos
    if len(buf) - pos < 1:
        raise TruncatedError(LAYER_CDS, "P-field", 0, "1 octet", offset=where)
    ext, code_id, epoch_id, day24, sub = _CDS_P.unpack(buf, pos)
    if ext:
        raise RemoteProtocolError(LAYER_CDS, "P-field extension flag", ext, "0", offset=where)
    if code_id != CDS_ID:
        raise RemoteProtocolError(LAYER_CDS, "P-field time code ID", code_id, "100 (CDS)", offset=where)
    if sub == 0b11:
        raise RemoteProtocolError(LAYER_CDS, "P-field sub-ms resolution", sub,
                                  "00 (none), 01 (µs) or 10 (ps)", offset=where)
    if epoch_id:
        if config.epoch == CCSDS_EPOCH:
            raise RemoteProtocolError(LAYER_CDS, "P-field epoch ID", epoch_id,
                                      "0 unless a mission epoch is configured", offset=where,
                                      detail="1 = agency-defined epoch: pass config=CdsConfig(epoch=...)")
        epoch = config.epoch
    else:
        epoch = CCSDS_EPOCH
    return CdsConfig(day_octets=3 if day24 else 2, submillisecond=CdsSubMs(sub), epoch=epoch,
                     scale=config.scale, p_field=True), pos + 1


#: Either time code, as carried in PUS headers and bodies.
TimeCode = CucTime | CdsTime
TimeConfig = CucConfig | CdsConfig


def decode_time_from(buf: bytes | bytearray | memoryview, pos: int = 0, *, config: TimeConfig,
                     base_offset: int = 0) -> tuple[TimeCode, int]:
    """Decode a CUC or CDS code (per ``config``'s type) at ``buf[pos]``; return it and the end position."""
    if isinstance(config, CucConfig):
        return CucTime.decode_from(buf, pos, config=config, base_offset=base_offset)
    return CdsTime.decode_from(buf, pos, config=config, base_offset=base_offset)
