"""Passes: when each satellite is above each station's horizon, and when it can image a target.

Offline, from two-line element sets, with skyfield's SGP4 library (``sgp4``, which skyfield itself uses)
and nothing downloaded. Choices, each with its reason:

* **One vectorised search for every satellite and station.** A coarse grid (``step_s``, 20 s by default)
  is propagated once for all satellites together (``SatrecArray``, compiled SGP4) and turned into
  look angles for every station by numpy. Sign changes of *elevation minus the horizon mask* bracket the
  AOS and LOS; each bracket is then narrowed by bisection on exact propagations to
  ``tolerance_s`` (10 ms). A pass can hide between two grid points only if it lasts less than one step:
  every grid maximum that comes within ``grazing_margin_deg`` of the mask is refined too, so such
  grazing passes are found as well (the search misses only passes shorter than a step that also stay
  below the margin at every grid point — a few seconds at a degree above the mask).
* **TEME to the Earth-fixed frame by GMST (IAU 1982)**, the rotation SGP4's TEME is defined against
  (Vallado et al., "Revisiting Spacetrack Report #3", AIAA 2006-6753; skyfield's ``TEME_to_ITRF``
  without polar motion). UT1-UTC is taken from skyfield's built-in tables once per search: it drifts by
  milliseconds a week. The tests hold AOS/LOS to skyfield's own ``find_events`` within 1 s.
* **TCA is the time of maximum elevation** (golden-section search inside the pass): what an operator
  plans with; it is within a fraction of a second of the minimum range for a pass like ours.
* **A horizon mask** is elevation as a function of azimuth, linear between the given points and periodic
  in azimuth: buildings and mountains (Almaty has the Tien Shan to the south) cut passes short.
* **Target windows**: a target can be imaged when the satellite sees it within ``max_off_nadir_deg``
  of nadir (the ADCS's agility) and above its horizon; the sun's elevation at the target is reported
  (DE421 from skyfield-data) so daylight windows can be chosen. Each window lists the stations that see
  the satellite at the same time: their events can come down in that pass.

Times are timezone-aware UTC ``datetime`` at the edges and float seconds since the search start inside.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

__all__ = [
    "TleError", "StationConfigError", "Tle", "parse_tles", "tle_checksum_ok", "with_tle_checksum", "HorizonMask",
    "RotatorConfig",
    "RadioConfig", "GroundStation", "load_stations", "default_stations", "Pass", "find_passes", "LookAngles",
    "look_angles", "TargetWindow", "find_target_windows", "doppler_hz",
]

C_M_S = 299_792_458.0
WGS84_A_KM = 6378.137
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
DAY_S = 86400.0
UNIX_EPOCH_JD = 2440587.5
DEFAULT_STATIONS = Path(__file__).with_name("stations.toml")


class TleError(ValueError):
    """A two-line element set that cannot be used: which line, which column, and why."""


class StationConfigError(ValueError):
    """A station configuration that cannot be used: which station, which field, the allowed range."""


# ------------------------------------------------------------------ TLEs
def _tle_sum(line: str) -> int:
    """The modulo-10 sum of columns 1-68: digits count their value, minus signs count 1."""
    return sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68]) % 10


def tle_checksum_ok(line: str) -> bool:
    """Whether column 69 holds the line's checksum."""
    return len(line) >= 69 and line[68].isdigit() and _tle_sum(line) == int(line[68])


def with_tle_checksum(line: str) -> str:
    """Columns 1-68 of ``line`` with their checksum in column 69 (for element sets edited by a program)."""
    return line[:68] + str(_tle_sum(line))


@dataclass(frozen=True)
class Tle:
    """One satellite's two-line element set."""

    name: str
    line1: str
    line2: str

    @property
    def norad_id(self) -> int:
        """The catalogue number (columns 3-7)."""
        return int(self.line1[2:7])

    @property
    def epoch_utc(self) -> datetime:
        """The element set's epoch (columns 19-32 of line 1: two-digit year, day of year with fraction)."""
        yy = int(self.line1[18:20])
        day = float(self.line1[20:32])
        year = 2000 + yy if yy < 57 else 1900 + yy
        return datetime(year, 1, 1, tzinfo=timezone.utc) + timedelta(days=day - 1.0)

    def age_days(self, at_utc: datetime) -> float:
        """Days from the epoch to ``at_utc`` (negative before the epoch)."""
        return (at_utc - self.epoch_utc).total_seconds() / DAY_S

    def satrec(self):
        """The sgp4 library's satellite record."""
        from sgp4.api import Satrec

        return Satrec.twoline2rv(self.line1, self.line2)


def parse_tles(text: str, *, source: str = "TLE text") -> list[Tle]:
    """Every element set in ``text`` (two-line or three-line sets, mixed), each line's checksum checked."""
    lines = [ln.rstrip() for ln in text.splitlines()]
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
    out: list[Tle] = []
    i = 0
    while i < len(numbered):
        n, ln = numbered[i]
        name = None
        if not ln.startswith("1 "):
            name = ln[2:].strip() if ln.startswith("0 ") else ln.strip()
            i += 1
            if i >= len(numbered):
                raise TleError(f"{source} line {n}: name {name!r} is not followed by line 1 of an element set")
            n, ln = numbered[i]
        if not ln.startswith("1 "):
            raise TleError(f"{source} line {n}: expected line 1 of an element set (starting '1 '), got {ln[:20]!r}")
        if i + 1 >= len(numbered) or not numbered[i + 1][1].startswith("2 "):
            raise TleError(f"{source} line {n}: line 1 is not followed by line 2 (starting '2 ')")
        n2, ln2 = numbered[i + 1]
        for k, line in ((n, ln), (n2, ln2)):
            if len(line) < 69:
                raise TleError(f"{source} line {k}: {len(line)} columns, allowed 69")
            if not tle_checksum_ok(line):
                raise TleError(f"{source} line {k}: checksum (column 69) is {line[68]!r}, the line sums to "
                               f"{_tle_sum(line)}")
        if ln[2:7] != ln2[2:7]:
            raise TleError(f"{source} line {n2}: catalogue number {ln2[2:7].strip()} differs from line 1's "
                           f"{ln[2:7].strip()}")
        tle = Tle(name or f"NORAD {int(ln[2:7])}", ln, ln2)
        from sgp4.api import Satrec

        if Satrec.twoline2rv(ln, ln2).error:
            raise TleError(f"{source} line {n}: SGP4 cannot initialise these elements")
        out.append(tle)
        i += 2
    if not out:
        raise TleError(f"{source}: no element set found")
    return out


# ------------------------------------------------------------------ stations
@dataclass(frozen=True)
class HorizonMask:
    """Minimum elevation by azimuth: points (az_deg, el_deg), linear between them, periodic in azimuth."""

    az_deg: tuple[float, ...] = (0.0,)
    el_deg: tuple[float, ...] = (0.0,)

    def __post_init__(self) -> None:
        if len(self.az_deg) != len(self.el_deg) or not self.az_deg:
            raise StationConfigError("horizon mask: as many elevations as azimuths, at least one point")
        if any(not 0.0 <= a < 360.0 for a in self.az_deg) or list(self.az_deg) != sorted(set(self.az_deg)):
            raise StationConfigError(f"horizon mask azimuths {self.az_deg}: increasing, within 0..360 deg")
        if any(not -5.0 <= e <= 90.0 for e in self.el_deg):
            raise StationConfigError(f"horizon mask elevations {self.el_deg}: allowed -5..90 deg")

    @classmethod
    def constant(cls, el_deg: float) -> HorizonMask:
        """The same minimum elevation all round."""
        return cls((0.0,), (float(el_deg),))

    def min_el_deg(self, az_deg: np.ndarray | float) -> np.ndarray:
        """The mask's elevation at ``az_deg`` (any shape)."""
        az = np.mod(np.asarray(az_deg, dtype=np.float64), 360.0)
        if len(self.az_deg) == 1:
            return np.full_like(az, self.el_deg[0])
        xp = np.array(self.az_deg)
        return np.interp(az, xp, np.array(self.el_deg), period=360.0)


@dataclass(frozen=True)
class RotatorConfig:
    """An azimuth-elevation rotator behind hamlib's rotctld, and what it can do."""

    host: str = "127.0.0.1"
    port: int = 4533
    min_az_deg: float = -180.0
    max_az_deg: float = 450.0
    min_el_deg: float = 0.0
    max_el_deg: float = 90.0
    az_slew_rate_deg_s: float = 6.0
    el_slew_rate_deg_s: float = 6.0
    park_az_deg: float = 0.0
    park_el_deg: float = 90.0


@dataclass(frozen=True)
class RadioConfig:
    """A transceiver behind hamlib's rigctld."""

    host: str = "127.0.0.1"
    port: int = 4532


@dataclass(frozen=True)
class GroundStation:
    """A site (WGS84), its horizon, its frequencies and data rates, and its rotator and radio."""

    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    horizon: HorizonMask = field(default_factory=HorizonMask)
    downlink_hz: float = 437.1e6
    uplink_hz: float = 145.9e6
    #: downlink rate by elevation: at or above rate_el_deg[i] the rate is downlink_bps[i]
    rate_el_deg: tuple[float, ...] = (0.0,)
    downlink_bps: tuple[float, ...] = (9600.0,)
    rotator: RotatorConfig | None = None
    radio: RadioConfig | None = None

    def __post_init__(self) -> None:
        where = f"station {self.name!r}"
        if not -90.0 <= self.lat_deg <= 90.0:
            raise StationConfigError(f"{where}: lat_deg {self.lat_deg}, allowed -90..90")
        if not -180.0 <= self.lon_deg <= 360.0:
            raise StationConfigError(f"{where}: lon_deg {self.lon_deg}, allowed -180..360")
        if not -500.0 <= self.alt_m <= 9000.0:
            raise StationConfigError(f"{where}: alt_m {self.alt_m}, allowed -500..9000")
        for name in ("downlink_hz", "uplink_hz"):
            if not 1e6 <= getattr(self, name) <= 100e9:
                raise StationConfigError(f"{where}: {name} {getattr(self, name)}, allowed 1e6..100e9 Hz")
        if (len(self.rate_el_deg) != len(self.downlink_bps) or not self.rate_el_deg
                or list(self.rate_el_deg) != sorted(self.rate_el_deg) or min(self.downlink_bps) <= 0):
            raise StationConfigError(f"{where}: rates need increasing rate_el_deg and as many positive "
                                     f"downlink_bps (got {self.rate_el_deg} / {self.downlink_bps})")

    def rate_bps(self, el_deg: np.ndarray | float) -> np.ndarray:
        """The downlink rate at elevation ``el_deg`` (0 below the first step)."""
        el = np.asarray(el_deg, dtype=np.float64)
        idx = np.searchsorted(np.array(self.rate_el_deg), el, side="right") - 1
        rates = np.concatenate([[0.0], np.array(self.downlink_bps)])
        return rates[idx + 1]

    def ecef_km(self) -> np.ndarray:
        """The site's Earth-fixed position (3,), km."""
        lat, lon = math.radians(self.lat_deg), math.radians(self.lon_deg)
        n = WGS84_A_KM / math.sqrt(1.0 - WGS84_E2 * math.sin(lat) ** 2)
        h = self.alt_m / 1000.0
        return np.array([(n + h) * math.cos(lat) * math.cos(lon), (n + h) * math.cos(lat) * math.sin(lon),
                         (n * (1.0 - WGS84_E2) + h) * math.sin(lat)])

    def enu(self) -> np.ndarray:
        """Rows east, north, up (3, 3): unit vectors of the local horizon frame, Earth-fixed."""
        lat, lon = math.radians(self.lat_deg), math.radians(self.lon_deg)
        sl, cl, so, co = math.sin(lat), math.cos(lat), math.sin(lon), math.cos(lon)
        return np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])


_STATION_KEYS = {"name", "lat_deg", "lon_deg", "alt_m", "min_el_deg", "horizon", "downlink_hz", "uplink_hz",
                 "rates", "rotator", "radio"}


def _station(entry: dict, where: str) -> GroundStation:
    unknown = set(entry) - _STATION_KEYS
    if unknown:
        raise StationConfigError(f"{where}: unknown keys {sorted(unknown)}, allowed {sorted(_STATION_KEYS)}")
    for key in ("name", "lat_deg", "lon_deg"):
        if key not in entry:
            raise StationConfigError(f"{where}: {key} missing")
    if "horizon" in entry and "min_el_deg" in entry:
        raise StationConfigError(f"{where}: give min_el_deg or a horizon mask, not both")
    if "horizon" in entry:
        points = entry["horizon"]
        if not isinstance(points, list) or not all(isinstance(p, list) and len(p) == 2 for p in points):
            raise StationConfigError(f"{where}: horizon is a list of [az_deg, el_deg] pairs")
        points = sorted((float(a), float(e)) for a, e in points)
        mask = HorizonMask(tuple(a for a, _ in points), tuple(e for _, e in points))
    else:
        mask = HorizonMask.constant(float(entry.get("min_el_deg", 0.0)))
    rates = entry.get("rates", {"el_deg": [0.0], "downlink_bps": [9600.0]})
    try:
        rotator = RotatorConfig(**entry["rotator"]) if "rotator" in entry else None
        radio = RadioConfig(**entry["radio"]) if "radio" in entry else None
    except TypeError as e:
        raise StationConfigError(f"{where}: rotator/radio: {e}") from e
    if rotator is not None:
        _check_rotator(rotator, where)
    return GroundStation(
        name=str(entry["name"]), lat_deg=float(entry["lat_deg"]), lon_deg=float(entry["lon_deg"]),
        alt_m=float(entry.get("alt_m", 0.0)), horizon=mask,
        downlink_hz=float(entry.get("downlink_hz", 437.1e6)), uplink_hz=float(entry.get("uplink_hz", 145.9e6)),
        rate_el_deg=tuple(float(x) for x in rates.get("el_deg", [])),
        downlink_bps=tuple(float(x) for x in rates.get("downlink_bps", [])), rotator=rotator, radio=radio)


def _check_rotator(r: RotatorConfig, where: str) -> None:
    if not (r.min_az_deg < r.max_az_deg and r.max_az_deg - r.min_az_deg >= 360.0 - 1e-9):
        raise StationConfigError(f"{where}: rotator azimuth range {r.min_az_deg}..{r.max_az_deg} deg must "
                                 "cover at least 360 deg")
    if not (-10.0 <= r.min_el_deg < r.max_el_deg <= 180.0):
        raise StationConfigError(f"{where}: rotator elevation range {r.min_el_deg}..{r.max_el_deg}, allowed "
                                 "within -10..180 deg")
    if r.az_slew_rate_deg_s <= 0 or r.el_slew_rate_deg_s <= 0:
        raise StationConfigError(f"{where}: rotator slew rates must be above 0 deg/s")
    if not (r.min_az_deg <= r.park_az_deg <= r.max_az_deg and r.min_el_deg <= r.park_el_deg <= r.max_el_deg):
        raise StationConfigError(f"{where}: rotator park position ({r.park_az_deg}, {r.park_el_deg}) is outside "
                                 "its limits")


def load_stations(path: Path | None = None) -> list[GroundStation]:
    """The ``[[station]]`` tables of a TOML file (default: the Almaty station shipped with ttc)."""
    path = DEFAULT_STATIONS if path is None else path
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise StationConfigError(f"station file {path}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise StationConfigError(f"station file {path}: not TOML ({e})") from e
    entries = data.get("station")
    if not isinstance(entries, list) or not entries:
        raise StationConfigError(f"station file {path}: no [[station]] table")
    stations = [_station(e, f"station file {path}, station {i + 1}") for i, e in enumerate(entries)]
    names = [s.name for s in stations]
    if len(set(names)) != len(names):
        raise StationConfigError(f"station file {path}: station names repeat ({names})")
    return stations


def default_stations() -> list[GroundStation]:
    """The stations shipped with ttc (``groundstation/stations.toml``)."""
    return load_stations(DEFAULT_STATIONS)


# ------------------------------------------------------------------ geometry
def _jd_split(start_utc: datetime, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Julian date (UTC) as whole and fraction, for sgp4, at ``start_utc + t_s``."""
    days = (start_utc.timestamp() + np.asarray(t_s, dtype=np.float64)) / DAY_S
    whole = np.floor(days)
    return whole + UNIX_EPOCH_JD, days - whole


def _dut1_s(start_utc: datetime) -> float:
    """UT1 - UTC at ``start_utc`` from skyfield's built-in tables (seconds)."""
    from skyfield.api import load

    ts = load.timescale(builtin=True)
    t = ts.from_datetime(start_utc)
    jd_utc = start_utc.timestamp() / DAY_S + UNIX_EPOCH_JD
    return float((t.ut1 - jd_utc) * DAY_S)


def _gmst_rad(start_utc: datetime, t_s: np.ndarray, dut1_s: float) -> np.ndarray:
    from skyfield.sgp4lib import theta_GMST1982

    whole, frac = _jd_split(start_utc, np.asarray(t_s, dtype=np.float64) + dut1_s)
    theta, _ = theta_GMST1982(whole, frac)
    return np.asarray(theta)


def _teme_to_ecef(r_km: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Rotate TEME positions (..., N, 3) about z by GMST ``theta`` (N,) into the Earth-fixed frame."""
    c, s = np.cos(theta), np.sin(theta)
    x, y, z = r_km[..., 0], r_km[..., 1], r_km[..., 2]
    return np.stack([c * x + s * y, -s * x + c * y, z], axis=-1)


def _topocentric(r_ecef_km: np.ndarray, station: GroundStation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(azimuth deg, elevation deg, range km) of Earth-fixed positions (..., 3) from ``station``."""
    rho = r_ecef_km - station.ecef_km()
    enu = rho @ station.enu().T
    rng = np.linalg.norm(enu, axis=-1)
    el = np.degrees(np.arcsin(np.clip(enu[..., 2] / rng, -1.0, 1.0)))
    az = np.mod(np.degrees(np.arctan2(enu[..., 0], enu[..., 1])), 360.0)
    return az, el, rng


class _Propagator:
    """Exact SGP4 positions of one satellite at any times, Earth-fixed (km)."""

    def __init__(self, tle: Tle, start_utc: datetime, dut1_s: float) -> None:
        self.sat = tle.satrec()
        self.start, self.dut1 = start_utc, dut1_s

    def ecef_km(self, t_s: np.ndarray) -> np.ndarray:
        t_s = np.asarray(t_s, dtype=np.float64)
        jd, fr = _jd_split(self.start, t_s)
        _e, r, _v = self.sat.sgp4_array(jd, fr)
        return _teme_to_ecef(np.asarray(r), _gmst_rad(self.start, t_s, self.dut1))


@dataclass(frozen=True)
class Pass:
    """One contact: a satellite above one station's horizon mask, from AOS to LOS."""

    satellite: str
    station: str
    aos_utc: datetime
    tca_utc: datetime
    los_utc: datetime
    max_el_deg: float
    aos_az_deg: float
    tca_az_deg: float
    los_az_deg: float
    #: True when the search window cut the pass (AOS at its start or LOS at its end)
    truncated: bool = False

    @property
    def duration_s(self) -> float:
        """LOS - AOS in seconds."""
        return (self.los_utc - self.aos_utc).total_seconds()

    def as_dict(self) -> dict[str, object]:
        """JSON-ready fields (ISO times, rounded angles)."""
        return {"satellite": self.satellite, "station": self.station,
                "aos_utc": _iso(self.aos_utc), "tca_utc": _iso(self.tca_utc), "los_utc": _iso(self.los_utc),
                "duration_s": round(self.duration_s, 1), "max_el_deg": round(self.max_el_deg, 2),
                "aos_az_deg": round(self.aos_az_deg, 1), "tca_az_deg": round(self.tca_az_deg, 1),
                "los_az_deg": round(self.los_az_deg, 1), "truncated": self.truncated}


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _utc(start: datetime) -> datetime:
    if start.tzinfo is None:
        return start.replace(tzinfo=timezone.utc)
    return start.astimezone(timezone.utc)


def _bisect(fn, lo: np.ndarray, hi: np.ndarray, rising: np.ndarray, tolerance_s: float) -> np.ndarray:
    """Where ``fn`` (vectorised over brackets) crosses 0 in each [lo, hi]: rising or setting."""
    lo, hi = lo.copy(), hi.copy()
    while np.any(hi - lo > tolerance_s):
        mid = 0.5 * (lo + hi)
        above = fn(mid) >= 0.0
        move_hi = above == rising  # rising: above at mid -> the crossing is before mid
        hi = np.where(move_hi, mid, hi)
        lo = np.where(move_hi, lo, mid)
    return 0.5 * (lo + hi)


def _golden_max(fn, lo: np.ndarray, hi: np.ndarray, tolerance_s: float) -> np.ndarray:
    """The argmax of unimodal ``fn`` in each [lo, hi] (vectorised golden-section search)."""
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo.astype(np.float64), hi.astype(np.float64)
    while np.any(b - a > tolerance_s):
        c, d = b - g * (b - a), a + g * (b - a)
        left = fn(c) > fn(d)  # the maximum is in [a, d]; else in [c, b]
        b = np.where(left, d, b)
        a = np.where(left, a, c)
    return 0.5 * (a + b)


class _Geometry:
    """Exact look angles for many (satellite, station, time) triples at once: one SGP4 call per satellite."""

    def __init__(self, tles: Sequence[Tle], stations: Sequence[GroundStation], start: datetime) -> None:
        dut1 = _dut1_s(start)
        self.props = [_Propagator(t, start, dut1) for t in tles]
        self.stations = stations
        self.ecef = np.array([s.ecef_km() for s in stations])  # (n_station, 3)
        self.enu = np.array([s.enu() for s in stations])  # (n_station, 3, 3)

    def az_el(self, t_s: np.ndarray, sat: np.ndarray, sta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Azimuth and elevation (deg), shape (N,), of satellite ``sat[i]`` from station ``sta[i]`` at ``t_s[i]``."""
        r = np.empty((len(t_s), 3))
        for k in np.unique(sat):
            sel = sat == k
            r[sel] = self.props[k].ecef_km(t_s[sel])
        enu = np.einsum("nij,nj->ni", self.enu[sta], r - self.ecef[sta])
        el = np.degrees(np.arcsin(np.clip(enu[:, 2] / np.linalg.norm(enu, axis=1), -1.0, 1.0)))
        return np.mod(np.degrees(np.arctan2(enu[:, 0], enu[:, 1])), 360.0), el

    def margin(self, t_s: np.ndarray, sat: np.ndarray, sta: np.ndarray) -> np.ndarray:
        """Elevation above the station's horizon mask (deg)."""
        az, el = self.az_el(t_s, sat, sta)
        out = np.empty_like(el)
        for k in np.unique(sta):
            sel = sta == k
            out[sel] = el[sel] - self.stations[k].horizon.min_el_deg(az[sel])
        return out


def _grid_margin(r_ecef_km: np.ndarray, station: GroundStation) -> np.ndarray:
    """Elevation above the mask on the coarse grid, (n_sat, n_t). Azimuth is computed only where the
    elevation reaches the mask's lowest point: below it the sign (and so every bracket) is known, and the
    value used there (elevation minus the lowest mask point) is never below the true margin."""
    rho = r_ecef_km - station.ecef_km()
    up = station.enu()[2]
    el = np.degrees(np.arcsin(np.clip((rho @ up) / np.linalg.norm(rho, axis=-1), -1.0, 1.0)))
    low = min(station.horizon.el_deg)
    f = el - low
    if len(station.horizon.el_deg) > 1:
        near = el >= low
        enu = rho[near] @ station.enu()[:2].T
        az = np.mod(np.degrees(np.arctan2(enu[:, 0], enu[:, 1])), 360.0)
        f[near] = el[near] - station.horizon.min_el_deg(az)
    return f


def find_passes(tles: Sequence[Tle], stations: Sequence[GroundStation], start_utc: datetime, *,
                days: float = 1.0, step_s: float = 20.0, tolerance_s: float = 0.01,
                grazing_margin_deg: float = 1.0) -> list[Pass]:
    """Every pass of ``tles`` over ``stations`` from ``start_utc`` for ``days``, sorted by AOS."""
    from sgp4.api import SatrecArray

    if not tles or not stations:
        return []
    if not 0 < days <= 60:
        raise ValueError(f"days {days}: allowed 0..60 (TLE predictions degrade within weeks)")
    if not 1.0 <= step_s <= 120.0:
        raise ValueError(f"step_s {step_s}: allowed 1..120 s (passes shorter than a step may be missed)")
    start = _utc(start_utc)
    span_s = days * DAY_S
    grid = np.arange(0.0, span_s + step_s, step_s)
    grid[-1] = min(grid[-1], span_s)
    geo = _Geometry(tles, stations, start)
    jd, fr = _jd_split(start, grid)
    _e, r_teme, _v = SatrecArray([t.satrec() for t in tles]).sgp4(jd, fr)
    r_ecef = _teme_to_ecef(np.asarray(r_teme), _gmst_rad(start, grid, geo.props[0].dut1))  # (n_sat, n_t, 3)
    # brackets over every (satellite, station): rises, sets, grazing maxima, and passes cut by the window
    rise, fall, graze, cut_start, cut_end = [], [], [], [], []
    for j, station in enumerate(stations):
        f = _grid_margin(r_ecef, station)  # (n_sat, n_t): above the mask where >= 0
        up = f >= 0.0
        for kind, (si, k) in ((rise, np.nonzero(~up[:, :-1] & up[:, 1:])), (fall, np.nonzero(up[:, :-1] & ~up[:, 1:])),
                              (graze, np.nonzero((f[:, 1:-1] >= f[:, :-2]) & (f[:, 1:-1] >= f[:, 2:])
                                                 & (f[:, 1:-1] < 0.0) & (f[:, 1:-1] > -grazing_margin_deg)))):
            kind.append(np.stack([si, np.full_like(si, j), k + (1 if kind is graze else 0)], axis=1))
        cut_start += [(int(si), j) for si in np.flatnonzero(up[:, 0])]
        cut_end += [(int(si), j) for si in np.flatnonzero(up[:, -1])]
    rise_a, fall_a, graze_a = (np.concatenate(x) if x else np.zeros((0, 3), int) for x in (rise, fall, graze))
    t_rise = _bisect(lambda t: geo.margin(t, rise_a[:, 0], rise_a[:, 1]), grid[rise_a[:, 2]],
                     grid[rise_a[:, 2] + 1], np.ones(len(rise_a), bool), tolerance_s)
    t_fall = _bisect(lambda t: geo.margin(t, fall_a[:, 0], fall_a[:, 1]), grid[fall_a[:, 2]],
                     grid[fall_a[:, 2] + 1], np.zeros(len(fall_a), bool), tolerance_s)
    events: dict[tuple[int, int], list[tuple[float, int]]] = {}
    for arr, times, edge in ((rise_a, t_rise, +1), (fall_a, t_fall, -1)):
        for (si, j, _k), t in zip(arr, times, strict=True):
            events.setdefault((int(si), int(j)), []).append((float(t), edge))
    for si, j in cut_start:
        events.setdefault((si, j), []).append((float(grid[0]), +2))
    for si, j in cut_end:
        events.setdefault((si, j), []).append((float(grid[-1]), -2))
    intervals: list[tuple[int, int, float, float, bool]] = []
    for (si, j), evs in events.items():
        evs.sort(key=lambda e: (e[0], -e[1]))
        opened: tuple[float, bool] | None = None
        for t, edge in evs:
            if edge > 0:
                opened = (t, edge == 2)
            elif opened is not None:
                intervals.append((si, j, opened[0], t, opened[1] or edge == -2))
                opened = None
    if len(graze_a):  # a pass may hide between grid points: refine the maxima just below the mask
        gs, gj, gk = graze_a[:, 0], graze_a[:, 1], graze_a[:, 2]
        peak = _golden_max(lambda t: geo.margin(t, gs, gj), grid[gk - 1], grid[gk + 1], tolerance_s)
        hit = geo.margin(peak, gs, gj) >= 0.0
        if np.any(hit):
            hs, hj, hp, hk = gs[hit], gj[hit], peak[hit], gk[hit]
            a = _bisect(lambda t: geo.margin(t, hs, hj), grid[hk - 1], hp, np.ones(len(hp), bool), tolerance_s)
            b = _bisect(lambda t: geo.margin(t, hs, hj), hp, grid[hk + 1], np.zeros(len(hp), bool), tolerance_s)
            intervals += [(int(x), int(y), float(p), float(q), False) for x, y, p, q in zip(hs, hj, a, b, strict=True)]
    if not intervals:
        return []
    sat_i = np.array([iv[0] for iv in intervals])
    sta_i = np.array([iv[1] for iv in intervals])
    lo = np.array([iv[2] for iv in intervals])
    hi = np.maximum(np.array([iv[3] for iv in intervals]), lo + tolerance_s)
    tca = _golden_max(lambda t: geo.az_el(t, sat_i, sta_i)[1], lo, hi, tolerance_s)
    n = len(lo)
    az, el = geo.az_el(np.concatenate([lo, tca, hi]), np.tile(sat_i, 3), np.tile(sta_i, 3))
    passes = [Pass(tles[sat_i[i]].name, stations[sta_i[i]].name, start + timedelta(seconds=float(lo[i])),
                   start + timedelta(seconds=float(tca[i])), start + timedelta(seconds=float(hi[i])),
                   float(el[n + i]), float(az[i]), float(az[n + i]), float(az[2 * n + i]), intervals[i][4])
              for i in range(n)]
    passes.sort(key=lambda p: (p.aos_utc, p.station, p.satellite))
    return passes


# ------------------------------------------------------------------ look angles and Doppler
@dataclass(frozen=True)
class LookAngles:
    """Where a satellite is seen from a station at each time: arrays of shape (N,)."""

    t_s: np.ndarray
    az_deg: np.ndarray
    el_deg: np.ndarray
    range_km: np.ndarray
    range_rate_km_s: np.ndarray


def look_angles(tle: Tle, station: GroundStation, start_utc: datetime, t_s: np.ndarray | float) -> LookAngles:
    """Azimuth, elevation, range and range rate from ``station`` at ``start_utc + t_s``, with skyfield
    (its full Earth orientation: the reference the fast pass search is held to)."""
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale(builtin=True)
    sat = EarthSatellite(tle.line1, tle.line2, tle.name, ts)
    topos = wgs84.latlon(station.lat_deg, station.lon_deg, elevation_m=station.alt_m)
    t_arr = np.atleast_1d(np.asarray(t_s, dtype=np.float64))
    t = ts.from_datetime(_utc(start_utc)) + t_arr / DAY_S
    el, az, rng, _el_rate, _az_rate, rng_rate = (sat - topos).at(t).frame_latlon_and_rates(topos)
    return LookAngles(t_arr, np.mod(np.asarray(az.degrees), 360.0), np.asarray(el.degrees),
                      np.asarray(rng.km), np.asarray(rng_rate.km_per_s))


def doppler_hz(carrier_hz: float, range_rate_km_s: np.ndarray | float) -> np.ndarray:
    """The shift a receiver sees on ``carrier_hz``: -f * range rate / c (a closing satellite is heard high)."""
    return -carrier_hz * np.asarray(range_rate_km_s, dtype=np.float64) * 1000.0 / C_M_S


# ------------------------------------------------------------------ target windows
@dataclass(frozen=True)
class TargetWindow:
    """When a satellite can image a ground target, and who sees the satellite meanwhile."""

    satellite: str
    target: str
    start_utc: datetime
    best_utc: datetime
    end_utc: datetime
    min_off_nadir_deg: float
    sun_el_deg: float
    stations_in_view: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready fields."""
        return {"satellite": self.satellite, "target": self.target, "start_utc": _iso(self.start_utc),
                "best_utc": _iso(self.best_utc), "end_utc": _iso(self.end_utc),
                "duration_s": round((self.end_utc - self.start_utc).total_seconds(), 1),
                "min_off_nadir_deg": round(self.min_off_nadir_deg, 2), "sun_el_deg": round(self.sun_el_deg, 1),
                "stations_in_view": list(self.stations_in_view)}


def _off_nadir_deg(r_sat_km: np.ndarray, r_tgt_km: np.ndarray) -> np.ndarray:
    to_tgt = r_tgt_km - r_sat_km
    cos = -np.sum(r_sat_km * to_tgt, axis=-1) / (np.linalg.norm(r_sat_km, axis=-1) * np.linalg.norm(to_tgt, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def find_target_windows(tles: Sequence[Tle], target: GroundStation, start_utc: datetime, *, days: float = 1.0,
                        max_off_nadir_deg: float = 30.0, stations: Iterable[GroundStation] = (),
                        step_s: float = 10.0, tolerance_s: float = 0.01) -> list[TargetWindow]:
    """Windows in which each satellite sees ``target`` within ``max_off_nadir_deg`` of nadir."""
    if not 0.0 < max_off_nadir_deg < 70.0:
        raise ValueError(f"max_off_nadir_deg {max_off_nadir_deg}: allowed 0..70 deg")
    start = _utc(start_utc)
    stations = list(stations)
    passes = find_passes(tles, stations, start, days=days) if stations else []
    grid = np.arange(0.0, days * DAY_S + step_s, step_s)
    dut1 = _dut1_s(start)
    r_tgt = target.ecef_km()
    out: list[TargetWindow] = []
    for tle in tles:
        prop = _Propagator(tle, start, dut1)

        def room(t: np.ndarray, prop: _Propagator = prop) -> np.ndarray:
            r = prop.ecef_km(t)
            el = _topocentric(r, target)[1]
            return np.where(el > 0.0, max_off_nadir_deg - _off_nadir_deg(r, r_tgt), -90.0)

        g = room(grid)
        ok = g >= 0.0
        rises, sets = np.flatnonzero(~ok[:-1] & ok[1:]), np.flatnonzero(ok[:-1] & ~ok[1:])
        a = list(_bisect(room, grid[rises], grid[rises + 1], np.ones(len(rises), bool), tolerance_s))
        b = list(_bisect(room, grid[sets], grid[sets + 1], np.zeros(len(sets), bool), tolerance_s))
        if ok[0]:
            a.insert(0, float(grid[0]))
        if ok[-1]:
            b.append(float(grid[-1]))
        for lo, hi in zip(a, b, strict=True):
            best = float(_golden_max(room, np.array([lo]), np.array([max(hi, lo + tolerance_s)]), tolerance_s)[0])
            t_best = start + timedelta(seconds=best)
            t_lo, t_hi = start + timedelta(seconds=float(lo)), start + timedelta(seconds=float(hi))
            seen = tuple(sorted({p.station for p in passes if p.satellite == tle.name
                                 and p.aos_utc <= t_hi and p.los_utc >= t_lo}))
            out.append(TargetWindow(tle.name, target.name, t_lo, t_best, t_hi,
                                    float(max_off_nadir_deg - room(np.array([best]))[0]),
                                    _sun_el_deg(target, t_best), seen))
    out.sort(key=lambda w: w.start_utc)
    return out


def _sun_el_deg(site: GroundStation, at_utc: datetime) -> float:
    """The sun's elevation at ``site`` (DE421 from skyfield-data; never downloads)."""
    import os

    import skyfield_data
    from skyfield.api import load, load_file, wgs84

    eph = load_file(os.path.join(os.path.dirname(skyfield_data.__file__), "data", "de421.bsp"))
    ts = load.timescale(builtin=True)
    topos = eph["earth"] + wgs84.latlon(site.lat_deg, site.lon_deg, elevation_m=site.alt_m)
    alt, _az, _d = topos.at(ts.from_datetime(at_utc)).observe(eph["sun"]).apparent().altaz()
    return float(alt.degrees)
