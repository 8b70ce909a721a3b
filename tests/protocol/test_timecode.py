"""CCSDS 301.0-B-4 time codes: golden vectors, leap seconds, round trips, spacepackets interop, fuzz."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError, TruncatedError
from protocol.timecode import (
    CCSDS_EPOCH,
    CdsConfig,
    CdsSubMs,
    CdsTField,
    CdsTime,
    CucConfig,
    CucTField,
    CucTime,
    TimeScale,
    decode_time_from,
    tai_minus_utc_s,
    tai_s_to_utc,
    utc_to_tai_s,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MISSION_EPOCH = datetime(2000, 1, 1)
SNPP = CdsConfig(day_octets=2, submillisecond=CdsSubMs.MICROSECONDS)

# ---------------------------------------------------------------------------
# golden vectors


def test_snpp_cds_secondary_header_golden() -> None:
    t = CdsTime.decode(bytes.fromhex("52E8037B574C0103"), config=SNPP)
    assert (t.day_raw, t.ms_of_day_raw, t.submillisecond_raw) == (21224, 58414924, 259)
    assert t.to_datetime() == datetime(2016, 2, 10, 16, 13, 34, 924259, tzinfo=timezone.utc)
    assert t.utc_iso() == "2016-02-10T16:13:34.924259Z"
    assert t.encode() == bytes.fromhex("52E8037B574C0103")
    # UTC -> TAI: 36 s of TAI-UTC in February 2016
    assert t.tai_s == 21224 * 86400 + Fraction(58414924259, 1_000_000) + 36


def test_p_field_octets() -> None:
    assert CucConfig(p_field=True).p_field_bytes() == b"\x1e"  # 0 001 11 10: 1958 TAI, 4+2
    assert CucConfig(fine_octets=3).p_field_bytes() == b"\x1f"
    assert CucConfig(epoch=MISSION_EPOCH).p_field_bytes() == b"\x2e"  # 010 agency epoch
    assert CucConfig(coarse_octets=1, fine_octets=0).p_field_bytes() == b"\x10"
    # second octet: 5 coarse (4+1), 4 fine (3+1)
    assert CucConfig(coarse_octets=5, fine_octets=4).p_field_bytes() == bytes([0b1_001_11_11, 0b0_01_001_00])
    assert CucConfig(coarse_octets=7, fine_octets=10).p_field_bytes() == bytes([0x9F, 0b0_11_111_00])
    assert CdsConfig().p_field_bytes() == b"\x40"  # 0 100 0 0 00
    assert SNPP.p_field_bytes() == b"\x41"
    assert CdsConfig(day_octets=3, submillisecond=CdsSubMs.PICOSECONDS).p_field_bytes() == b"\x46"
    assert CdsConfig(epoch=MISSION_EPOCH).p_field_bytes() == b"\x48"


def test_t_fields_match_construct_declarations() -> None:
    t = CucTime(0x01020304, 0x0506, CucConfig())
    parsed = CucTField.parse(t.encode(), coarse_octets=4, fine_octets=2)
    assert (parsed.coarse, parsed.fine) == (t.coarse_s_raw, t.fine_raw)
    assert CucTField.build(dict(coarse=t.coarse_s_raw, fine=t.fine_raw), coarse_octets=4, fine_octets=2) == t.encode()
    d = CdsTime(21224, 58414924, 259, SNPP)
    parsed = CdsTField.parse(d.encode(), day_octets=2, submillisecond_octets=2)
    assert (parsed.day, parsed.ms_of_day, parsed.submillisecond) == (21224, 58414924, 259)


def test_unix_epoch_day_count() -> None:
    t = CdsTime.from_datetime(datetime(1970, 1, 1, tzinfo=timezone.utc))
    assert (t.day_raw, t.ms_of_day_raw) == (4383, 0)


# ---------------------------------------------------------------------------
# leap seconds


def test_leap_second_table() -> None:
    assert tai_minus_utc_s(datetime(1972, 1, 1)) == 10
    assert tai_minus_utc_s(datetime(1972, 6, 30, 23, 59, 59)) == 10
    assert tai_minus_utc_s(datetime(1972, 7, 1)) == 11
    assert tai_minus_utc_s(datetime(2016, 12, 31, 23, 59, 59)) == 36
    assert tai_minus_utc_s(datetime(2017, 1, 1)) == 37
    assert tai_minus_utc_s(datetime(2030, 1, 1, tzinfo=timezone.utc)) == 37
    with pytest.raises(LocalProtocolError):
        tai_minus_utc_s(datetime(1971, 12, 31))


def test_tai_code_counts_the_leap_second_utc_code_does_not() -> None:
    before, after = datetime(2016, 12, 31, 23, 59, 59), datetime(2017, 1, 1)
    tai = CucConfig(coarse_octets=4, fine_octets=0)
    utc = CucConfig(coarse_octets=4, fine_octets=0, scale=TimeScale.UTC)
    assert CucTime.from_datetime(after, config=tai).coarse_s_raw - CucTime.from_datetime(before, config=tai).coarse_s_raw == 2
    assert CucTime.from_datetime(after, config=utc).coarse_s_raw - CucTime.from_datetime(before, config=utc).coarse_s_raw == 1


def test_leap_second_instant() -> None:
    leap = utc_to_tai_s(datetime(2017, 1, 1)) - Fraction(1, 2)  # 2016-12-31T23:59:60.5
    cds = CdsTime.from_tai_s(leap, config=SNPP)
    assert cds.ms_of_day_raw == 86_400_500
    assert cds.utc_iso() == "2016-12-31T23:59:60.500000Z"
    assert cds.tai_s == leap
    assert CdsTime.decode(cds.encode(), config=SNPP) == cds
    cuc = CucTime.from_tai_s(leap)
    assert cuc.utc_iso() == "2016-12-31T23:59:60.500000Z"
    for code in (cds, cuc):
        with pytest.raises(LocalProtocolError, match="leap second"):
            code.to_datetime()
    with pytest.raises(LocalProtocolError):
        tai_s_to_utc(leap)
    with pytest.raises(LocalProtocolError):  # a UTC-scale CUC has no 23:59:60
        CucTime.from_tai_s(leap, config=CucConfig(scale=TimeScale.UTC))
    # the second after the leap second is midnight
    assert tai_s_to_utc(leap + Fraction(1, 2)) == datetime(2017, 1, 1, tzinfo=timezone.utc)


def test_cds_ms_of_day_limits() -> None:
    with pytest.raises(RemoteProtocolError, match="ms of day"):
        CdsTime.decode(bytes.fromhex("0001") + (86_401_000).to_bytes(4, "big"))
    tai = CdsConfig(scale=TimeScale.TAI)
    with pytest.raises(RemoteProtocolError, match="ms of day"):
        CdsTime.decode(bytes.fromhex("0001") + (86_400_000).to_bytes(4, "big"), config=tai)
    with pytest.raises(RemoteProtocolError, match="sub-millisecond"):
        CdsTime.decode(bytes.fromhex("0001 00000000 03E8"), config=SNPP)
    with pytest.raises(LocalProtocolError):
        CdsTime(0, 86_400_000, config=tai)


# ---------------------------------------------------------------------------
# P-field decoding


def test_p_field_overrides_widths_and_epoch() -> None:
    sent = CucTime(0x1234, 0x56, CucConfig(coarse_octets=2, fine_octets=1, p_field=True))
    got = CucTime.decode(sent.encode(), config=CucConfig(p_field=True))
    assert got == sent
    mission = CucConfig(epoch=MISSION_EPOCH, p_field=True)
    sent = CucTime(100, 0, mission)
    with pytest.raises(RemoteProtocolError, match="time code ID"):
        CucTime.decode(sent.encode(), config=CucConfig(p_field=True))  # 010 but no mission epoch configured
    assert CucTime.decode(sent.encode(), config=mission) == sent
    with pytest.raises(RemoteProtocolError, match="time code ID"):
        CucTime.decode(b"\x4e" + bytes(6), config=CucConfig(p_field=True))  # 100 is CDS
    with pytest.raises(RemoteProtocolError, match="time code ID"):
        CdsTime.decode(b"\x1e" + bytes(6), config=CdsConfig(p_field=True))
    with pytest.raises(RemoteProtocolError, match="sub-ms"):
        CdsTime.decode(b"\x43" + bytes(6), config=CdsConfig(p_field=True))
    with pytest.raises(TruncatedError):
        CucTime.decode(b"\x9e", config=CucConfig(p_field=True))


def test_mission_epoch() -> None:
    cfg = CucConfig(epoch=MISSION_EPOCH)
    t = CucTime.from_datetime(datetime(2000, 1, 1, 0, 1, tzinfo=timezone.utc), config=cfg)
    # a TAI-scale mission epoch is a TAI instant: UTC 00:01 is TAI 00:01:32 in 2000
    assert t.elapsed_s == 60 + 32
    cds = CdsConfig(epoch=MISSION_EPOCH)
    d = CdsTime.from_datetime(datetime(2000, 1, 3, 12), config=cds)
    assert (d.day_raw, d.ms_of_day_raw) == (2, 43_200_000)
    assert d.to_datetime() == datetime(2000, 1, 3, 12, tzinfo=timezone.utc)
    with pytest.raises(LocalProtocolError, match="midnight"):
        CdsConfig(epoch=datetime(2000, 1, 1, 12))


def test_decode_from_reports_offsets() -> None:
    buf = b"\xAA\xBB" + CucTime(7, 1).encode() + b"\xCC"
    t, end = decode_time_from(buf, 2, config=CucConfig())
    assert t == CucTime(7, 1) and end == 8
    with pytest.raises(TruncatedError) as e:
        CucTime.decode_from(buf, 5, base_offset=100)
    assert e.value.offset == 105
    with pytest.raises(RemoteProtocolError, match="trailing"):
        CucTime.decode(CucTime(7).encode() + b"\x00")


def test_encoder_rejects_bad_values() -> None:
    with pytest.raises(LocalProtocolError):
        CucTime(1 << 32, 0)
    with pytest.raises(LocalProtocolError):
        CucTime(0, 1 << 16)
    with pytest.raises(LocalProtocolError):
        CucConfig(coarse_octets=8)
    with pytest.raises(LocalProtocolError):
        CucConfig(fine_octets=11)
    with pytest.raises(LocalProtocolError):
        CucTime.from_elapsed_s(-1)
    with pytest.raises(LocalProtocolError):
        CucTime.from_elapsed_s(float("nan"))
    with pytest.raises(LocalProtocolError):
        CdsTime.from_elapsed_s(70_000 * 86400)
    with pytest.raises(LocalProtocolError):
        CdsConfig(day_octets=4)


# ---------------------------------------------------------------------------
# round trips

epochs = st.sampled_from([CCSDS_EPOCH, MISSION_EPOCH])
cuc_configs = st.builds(CucConfig, coarse_octets=st.integers(1, 7), fine_octets=st.integers(0, 10),
                        epoch=epochs, scale=st.sampled_from(list(TimeScale)), p_field=st.booleans())
cds_configs = st.builds(CdsConfig, day_octets=st.sampled_from([2, 3]), submillisecond=st.sampled_from(list(CdsSubMs)),
                        epoch=epochs, scale=st.sampled_from(list(TimeScale)), p_field=st.booleans())


@st.composite
def cuc_times(draw: st.DrawFn, configs: st.SearchStrategy[CucConfig] = cuc_configs) -> CucTime:
    cfg = draw(configs)
    return CucTime(draw(st.integers(0, (1 << (8 * cfg.coarse_octets)) - 1)),
                   draw(st.integers(0, (1 << (8 * cfg.fine_octets)) - 1)), cfg)


@st.composite
def cds_times(draw: st.DrawFn, configs: st.SearchStrategy[CdsConfig] = cds_configs, *, leap: bool = True) -> CdsTime:
    cfg = draw(configs)
    top = cfg.max_ms_of_day if leap else 86_399_999
    return CdsTime(draw(st.integers(0, (1 << (8 * cfg.day_octets)) - 1)), draw(st.integers(0, top)),
                   draw(st.integers(0, cfg.submillisecond.per_ms - 1)), cfg)


@FAST
@given(cuc_times())
def test_cuc_encode_decode_round_trip(t: CucTime) -> None:
    raw = t.encode()
    assert len(raw) == len(t)
    assert CucTime.decode(raw, config=t.config) == t


@FAST
@given(cds_times())
def test_cds_encode_decode_round_trip(t: CdsTime) -> None:
    raw = t.encode()
    assert len(raw) == len(t)
    assert CdsTime.decode(raw, config=t.config) == t


# 1972 .. 2100 in the code's own scale, so TAI <-> UTC stays inside the leap-second table
modern_cuc = st.builds(CucConfig, coarse_octets=st.just(4), fine_octets=st.integers(0, 4), epoch=epochs,
                       scale=st.sampled_from(list(TimeScale)))


@FAST
@given(st.data())
def test_cuc_tai_seconds_round_trip(data: st.DataObject) -> None:
    cfg = data.draw(modern_cuc)
    lo = 0 if cfg.epoch == MISSION_EPOCH else 14 * 366 * 86400
    t = CucTime(data.draw(st.integers(lo, 3_000_000_000)), data.draw(st.integers(0, (1 << (8 * cfg.fine_octets)) - 1)),
                cfg)
    assert CucTime.from_tai_s(t.tai_s, config=cfg) == t
    assert CucTime.from_elapsed_s(t.elapsed_s, config=cfg) == t


@FAST
@given(st.data())
def test_cds_tai_seconds_round_trip(data: st.DataObject) -> None:
    cfg = data.draw(st.builds(CdsConfig, submillisecond=st.sampled_from(list(CdsSubMs)), epoch=epochs,
                              scale=st.sampled_from(list(TimeScale))))
    lo = 0 if cfg.epoch == MISSION_EPOCH else 14 * 366 + 1
    t = CdsTime(data.draw(st.integers(lo, 40_000)), data.draw(st.integers(0, 86_399_999)),
                data.draw(st.integers(0, cfg.submillisecond.per_ms - 1)), cfg)
    assert CdsTime.from_tai_s(t.tai_s, config=cfg) == t
    assert CdsTime.from_elapsed_s(t.elapsed_s, config=cfg) == t


datetimes = st.datetimes(min_value=datetime(1972, 1, 2), max_value=datetime(2090, 12, 31),
                         timezones=st.just(timezone.utc))


@FAST
@given(datetimes, st.sampled_from(list(TimeScale)))
def test_datetime_round_trip(dt: datetime, scale: TimeScale) -> None:
    cuc = CucConfig(fine_octets=3, scale=scale)  # 60 ns resolution: recovers the microsecond exactly
    assert CucTime.from_datetime(dt, config=cuc).to_datetime() == dt
    cds = CdsConfig(submillisecond=CdsSubMs.MICROSECONDS, scale=scale)
    assert CdsTime.from_datetime(dt, config=cds).to_datetime() == dt
    ms_cds = CdsTime.from_datetime(dt)  # ms resolution truncates by rounding to the nearest ms
    assert abs(ms_cds.to_datetime() - dt) <= timedelta(microseconds=500)


@FAST
@given(datetimes)
def test_cuc_and_cds_agree_on_the_instant(dt: datetime) -> None:
    cuc = CucTime.from_datetime(dt, config=CucConfig(fine_octets=3))
    cds = CdsTime.from_datetime(dt, config=CdsConfig(submillisecond=CdsSubMs.MICROSECONDS))
    assert abs(cuc.tai_s - cds.tai_s) <= Fraction(1, 1 << 25)


# ---------------------------------------------------------------------------
# PEER: spacepackets (0.32 has CdsShortTimestamp only, no CUC class)

sp_time = pytest.importorskip("spacepackets.ccsds.time")


@FAST
@given(st.integers(0, 0xFFFF), st.integers(0, 86_399_999))
def test_spacepackets_cds_short_decodes_here(day: int, ms: int) -> None:
    theirs = sp_time.CdsShortTimestamp(ccsds_days=day, ms_of_day=ms)
    ours = CdsTime.decode(theirs.pack(), config=CdsConfig(p_field=True))
    assert (ours.day_raw, ours.ms_of_day_raw) == (theirs.ccsds_days, theirs.ms_of_day)
    assert ours.encode() == bytes(theirs.pack())
    if day >= 4383:  # spacepackets' datetime is float-based; compare to the millisecond
        assert abs(ours.to_datetime() - theirs.as_datetime()) < timedelta(milliseconds=1)


@FAST
@given(datetimes)
def test_ours_decode_in_spacepackets(dt: datetime) -> None:
    ours = CdsTime.from_datetime(dt, config=CdsConfig(p_field=True))
    if ours.ms_of_day_raw >= 86_400_000:
        return
    theirs = sp_time.CdsShortTimestamp.unpack(ours.encode())
    assert (theirs.ccsds_days, theirs.ms_of_day) == (ours.day_raw, ours.ms_of_day_raw)
    assert abs(theirs.as_datetime() - ours.to_datetime()) < timedelta(milliseconds=1)
    # and spacepackets' own datetime -> CDS conversion lands on the same day (its ms truncates)
    back = sp_time.CdsShortTimestamp.from_datetime(dt)
    assert back.ccsds_days == CdsTime.from_datetime(dt.replace(microsecond=0)).day_raw


# ---------------------------------------------------------------------------
# fuzz: only ProtocolError subclasses escape

FUZZ_CONFIGS = [CucConfig(p_field=True), CucConfig(p_field=True, epoch=MISSION_EPOCH), CucConfig(),
                CdsConfig(p_field=True), CdsConfig(p_field=True, epoch=MISSION_EPOCH), SNPP,
                CdsConfig(scale=TimeScale.TAI, submillisecond=CdsSubMs.PICOSECONDS, day_octets=3)]


def _decode_any(buf: bytes, cfg: CucConfig | CdsConfig) -> None:
    try:
        t = (CucTime if isinstance(cfg, CucConfig) else CdsTime).decode(buf, config=cfg)  # type: ignore[attr-defined]
    except ProtocolError:
        return
    assert t.encode() == buf or cfg.p_field  # reserved P-field bits are not kept
    try:
        t.utc_iso()
        t.to_datetime()
    except LocalProtocolError:
        pass  # before 1972 or inside a leap second


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=20), st.sampled_from(FUZZ_CONFIGS))
def test_fuzz_random_bytes(buf: bytes, cfg: CucConfig | CdsConfig) -> None:
    _decode_any(buf, cfg)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FUZZ_CONFIGS), st.binary(min_size=16, max_size=16), st.integers(0, 15), st.integers(0, 255),
       st.integers(-2, 2))
def test_fuzz_mutated_codes(cfg: CucConfig | CdsConfig, seed: bytes, idx: int, xor: int, resize: int) -> None:
    if isinstance(cfg, CucConfig):
        good = CucTime.from_elapsed_s(Fraction(int.from_bytes(seed[:4], "big")), config=cfg).encode()
    else:
        good = CdsTime(int.from_bytes(seed[:2], "big"), int.from_bytes(seed[2:6], "big") % 86_400_000, 0, cfg).encode()
    buf = bytearray(good)
    buf[idx % len(buf)] ^= xor
    buf = buf[:len(buf) + resize] if resize < 0 else buf + bytes(resize)
    _decode_any(bytes(buf), cfg)


def test_cds_rounding_next_to_a_leap_second_stays_in_23_59_60() -> None:
    # review finding: 23:59:59.9999 rounded to the ms must give 23:59:60.000 on a leap-second day
    from protocol.timecode import CdsTime, utc_to_tai_s

    before = utc_to_tai_s(datetime(2016, 12, 31, 23, 59, 59))
    t = CdsTime.from_tai_s(before + Fraction(9999, 10000))
    assert t.utc_iso().startswith("2016-12-31T23:59:60.000")
    assert abs(t.tai_s - (before + Fraction(9999, 10000))) <= Fraction(1, 1000)
    # and the end of the leap second rolls into the next day
    t2 = CdsTime.from_tai_s(before + Fraction(19999, 10000))
    assert t2.utc_iso().startswith("2017-01-01T00:00:00.000")
    # an ordinary day still rolls over at 86 400 000 ms
    plain = utc_to_tai_s(datetime(2016, 12, 30, 23, 59, 59))
    assert CdsTime.from_tai_s(plain + Fraction(9999, 10000)).utc_iso().startswith("2016-12-31T00:00:00.000")
