"""Orbit and space environment along a time grid, offline, with skyfield.

* Orbit: SGP4 from a two-line element set (:data:`DEFAULT_TLE` is a plausible
  ~500 km sun-synchronous orbit, 97.4° inclination, 10:40 descending node,
  epoch 2024-03-20 12:00 UTC). Positions are GCRS (the inertial frame of
  the whole ADCS), metres.
* Time: ``load.timescale(builtin=True)`` (no download); the Earth's
  orientation uses IAU 2000B nutation, which skyfield allows to substitute
  for the default IAU 2000A and which agrees to ~1 mas -- far below
  anything the ADCS resolves -- at a fraction of the cost.
* Sun: DE421 from the skyfield-data package's data folder, opened with
  ``load_file``; nothing is ever downloaded.
* Eclipse: cylindrical umbra of a spherical Earth (a real mission would add
  the penumbra, a ~10 s ramp at 500 km).
* Magnetic field: a tilted dipole from the IGRF-13 degree-1 coefficients at
  2020.0 (a real mission would carry the full IGRF to degree 10-13).
* Atmosphere: exponential density (Vallado's table, 300-1000 km).

Everything is evaluated in vectorised skyfield calls over a whole time
array at once; :class:`Environment` caches one array per block of grid
points so the control loop only indexes.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

__all__ = [
    "DEFAULT_TLE",
    "MU_EARTH_M3_S2",
    "WGS84_A_M",
    "WGS84_F",
    "OMEGA_EARTH_RAD_S",
    "timescale",
    "ephemeris",
    "geodetic_to_itrs_m",
    "itrs_to_geodetic",
    "ray_ellipsoid_intersection_m",
    "dipole_field_itrs_t",
    "density_kg_m3",
    "EnvironmentSamples",
    "Orbit",
]

DEFAULT_TLE = (
    "TTC-1",
    "1 99901U 24001A   24080.50000000  .00002000  00000-0  10000-3 0  9990",
    "2 99901  97.4000 160.0000 0001000  90.0000 270.0000 15.22000000 10007",
)

MU_EARTH_M3_S2 = 3.986004418e14
WGS84_A_M = 6378137.0
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
R_EARTH_MEAN_M = 6371008.8
OMEGA_EARTH_RAD_S = 7.2921150e-5

# IGRF-13 at 2020.0, degree 1 (nT), reference radius 6371.2 km.
IGRF_G10_NT = -29404.8
IGRF_G11_NT = -1450.9
IGRF_H11_NT = 4652.5
IGRF_REF_RADIUS_M = 6371200.0

# Exponential atmosphere (Vallado, Fundamentals of Astrodynamics, table 8-4):
# base altitude km, nominal density kg/m^3, scale height km.
_ATMOSPHERE = np.array(
    [
        (300.0, 2.418e-11, 53.298),
        (350.0, 9.518e-12, 53.628),
        (400.0, 3.725e-12, 58.515),
        (450.0, 1.585e-12, 60.828),
        (500.0, 6.967e-13, 63.822),
        (600.0, 1.454e-13, 71.835),
        (700.0, 3.614e-14, 88.667),
        (800.0, 1.170e-14, 124.64),
        (900.0, 5.245e-15, 181.05),
        (1000.0, 3.019e-15, 268.00),
    ]
)


@functools.cache
def timescale():
    """Skyfield timescale from the built-in tables (never downloads)."""
    from skyfield.api import load

    return load.timescale(builtin=True)


@functools.cache
def ephemeris():
    """DE421 opened from the skyfield-data package (never downloads)."""
    import skyfield_data
    from skyfield.api import load_file

    return load_file(os.path.join(os.path.dirname(skyfield_data.__file__), "data", "de421.bsp"))


def geodetic_to_itrs_m(lat_deg: float, lon_deg: float, alt_m: float = 0.0) -> np.ndarray:
    """WGS84 geodetic latitude/longitude/height to an ITRS position (3,), metres."""
    lat = math.radians(lat_deg)
    lon = math.radians(lon_deg)
    n = WGS84_A_M / math.sqrt(1.0 - WGS84_E2 * math.sin(lat) ** 2)
    return np.array(
        [
            (n + alt_m) * math.cos(lat) * math.cos(lon),
            (n + alt_m) * math.cos(lat) * math.sin(lon),
            (n * (1.0 - WGS84_E2) + alt_m) * math.sin(lat),
        ]
    )


def geodetic_up_itrs(lat_deg: float, lon_deg: float) -> np.ndarray:
    """Unit ellipsoid normal (local up) at a geodetic latitude/longitude, ITRS (3,)."""
    lat = math.radians(lat_deg)
    lon = math.radians(lon_deg)
    return np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])


def itrs_to_geodetic(r_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ITRS positions (..., 3) in metres to WGS84 (lat_deg, lon_deg, alt_m) (Bowring, 3 iterations)."""
    r = np.asarray(r_m, dtype=float)
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1.0 - WGS84_E2))
    for _ in range(4):
        n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
        alt = p / np.cos(lat) - n
        lat = np.arctan2(z, p * (1.0 - WGS84_E2 * n / (n + alt)))
    n = WGS84_A_M / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
    alt = p / np.cos(lat) - n
    return np.degrees(lat), np.degrees(np.arctan2(y, x)), alt


def ray_ellipsoid_intersection_m(origin_m: np.ndarray, direction: np.ndarray, *, alt_m: float = 0.0) -> np.ndarray:
    """First point where rays (ITRS, (..., 3)) meet the WGS84 ellipsoid raised by ``alt_m``; NaN on a miss."""
    o = np.asarray(origin_m, dtype=float)
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    a = WGS84_A_M + alt_m
    b = WGS84_A_M * (1.0 - WGS84_F) + alt_m
    scale = np.array([1.0 / a, 1.0 / a, 1.0 / b])
    os_, ds = o * scale, d * scale
    qa = np.sum(ds * ds, axis=-1)
    qb = 2.0 * np.sum(os_ * ds, axis=-1)
    qc = np.sum(os_ * os_, axis=-1) - 1.0
    disc = qb * qb - 4.0 * qa * qc
    with np.errstate(invalid="ignore"):
        s = (-qb - np.sqrt(disc)) / (2.0 * qa)
    s = np.where((disc >= 0) & (s > 0), s, np.nan)
    return o + s[..., None] * d


def dipole_field_itrs_t(r_itrs_m: np.ndarray) -> np.ndarray:
    """Tilted-dipole geomagnetic field (tesla) at ITRS positions (..., 3) in metres."""
    r = np.asarray(r_itrs_m, dtype=float)
    g = np.array([IGRF_G11_NT, IGRF_H11_NT, IGRF_G10_NT]) * 1e-9
    rn = np.linalg.norm(r, axis=-1, keepdims=True)
    rh = r / rn
    # B = (a/r)^3 [3 (g·r̂) r̂ - g], from the degree-1 potential V = a^3 (g·r)/r^3
    return (IGRF_REF_RADIUS_M / rn) ** 3 * (3.0 * np.sum(g * rh, axis=-1, keepdims=True) * rh - g)


def density_kg_m3(alt_m: np.ndarray) -> np.ndarray:
    """Exponential-model atmospheric density at geodetic heights (metres)."""
    h_km = np.asarray(alt_m, dtype=float) / 1000.0
    i = np.clip(np.searchsorted(_ATMOSPHERE[:, 0], h_km, side="right") - 1, 0, len(_ATMOSPHERE) - 1)
    h0, rho0, sh = _ATMOSPHERE[i, 0], _ATMOSPHERE[i, 1], _ATMOSPHERE[i, 2]
    return rho0 * np.exp(-(h_km - h0) / sh)


@dataclass(frozen=True)
class EnvironmentSamples:
    """The environment at N times; vectors are shape (N, 3) in GCRS unless named ``_itrs``."""

    t_s: np.ndarray  # seconds since the orbit's start epoch, (N,)
    r_m: np.ndarray  # spacecraft position
    v_m_s: np.ndarray  # spacecraft velocity
    sun_unit: np.ndarray  # unit vector spacecraft -> sun
    in_eclipse: np.ndarray  # (N,) bool, cylindrical umbra
    b_t: np.ndarray  # geomagnetic field, tesla
    density_kg_m3: np.ndarray  # (N,)
    gcrs_to_itrs: np.ndarray  # (N, 3, 3) rotation, v_itrs = M @ v_gcrs


class Orbit:
    """A spacecraft orbit (SGP4 from a TLE) and its environment, sampled at seconds from ``start_utc``."""

    def __init__(self, tle: tuple[str, str, str] | tuple[str, str] = DEFAULT_TLE, *, start_utc: datetime | None = None) -> None:
        from skyfield.api import EarthSatellite

        lines = tle if len(tle) == 3 else ("SAT", *tle)
        self.ts = timescale()
        self.satellite = EarthSatellite(lines[1], lines[2], lines[0], self.ts)
        if start_utc is None:
            self.t0 = self.satellite.epoch
        else:
            if start_utc.tzinfo is None:
                start_utc = start_utc.replace(tzinfo=timezone.utc)
            self.t0 = self.ts.from_datetime(start_utc)
        self.start_utc: datetime = self.t0.utc_datetime()

    def times(self, t_s: np.ndarray):
        """Skyfield Time array for seconds since the start, with IAU 2000B nutation set."""
        from skyfield.nutationlib import iau2000b_radians

        t_s = np.atleast_1d(np.asarray(t_s, dtype=float))
        t = self.ts.tt_jd(self.t0.whole, self.t0.tt_fraction + t_s / 86400.0)
        if t_s.size > 4 * _NUTATION_STEP_S and t_s.ndim == 1:
            # Nutation's shortest IAU 2000B term has a period of ~5.6 days: on a
            # 60 s grid, linear interpolation is exact to ~1e-13 rad, and the
            # series (77 terms × every 10 Hz point) was 2/3 of a block's cost.
            t._nutation_angles_radians = tuple(
                _interpolated_1d(t_s, _NUTATION_STEP_S, lambda ts_: np.stack(iau2000b_radians(self._raw_times(ts_)), axis=1))
            )
        else:
            t._nutation_angles_radians = iau2000b_radians(t)
        return t

    def _raw_times(self, t_s: np.ndarray):
        return self.ts.tt_jd(self.t0.whole, self.t0.tt_fraction + t_s / 86400.0)

    def position_gcrs_m(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Spacecraft GCRS position and velocity (N, 3), metres and m/s."""
        pos = self.satellite.at(self.times(t_s))
        return pos.position.m.T.copy(), pos.velocity.m_per_s.T.copy()

    def gcrs_to_itrs(self, t_s: np.ndarray) -> np.ndarray:
        """Rotation matrices (N, 3, 3) from GCRS to ITRS (Earth-fixed)."""
        from skyfield.framelib import itrs

        return np.ascontiguousarray(np.moveaxis(itrs.rotation_at(self.times(t_s)), -1, 0))

    def sample(self, t_s: np.ndarray) -> EnvironmentSamples:
        """The environment at seconds ``t_s`` since the start (scalar or (N,) array)."""
        from skyfield.framelib import itrs

        t_s = np.atleast_1d(np.asarray(t_s, dtype=float))
        t = self.times(t_s)
        pos = self.satellite.at(t)
        r = pos.position.m.T.copy()
        v = pos.velocity.m_per_s.T.copy()
        rot = np.ascontiguousarray(np.moveaxis(itrs.rotation_at(t), -1, 0))
        eph = ephemeris()
        # The sun moves 0.04"/s across the sky; sampling it every 60 s and
        # interpolating is exact to far below a microradian and saves the
        # ephemeris call on every 10 Hz grid point.
        sun_e = _interpolated(t_s, 60.0, lambda ts_: (eph["sun"] - eph["earth"]).at(self.times(ts_)).position.m.T)
        sun = sun_e - r
        sun_unit = sun / np.linalg.norm(sun, axis=1, keepdims=True)
        s_e = sun_e / np.linalg.norm(sun_e, axis=1, keepdims=True)
        along = np.sum(r * s_e, axis=1)
        perp = np.linalg.norm(r - along[:, None] * s_e, axis=1)
        eclipse = (along < 0) & (perp < R_EARTH_MEAN_M)
        r_itrs = np.einsum("nij,nj->ni", rot, r)
        b_itrs = dipole_field_itrs_t(r_itrs)
        b = np.einsum("nji,nj->ni", rot, b_itrs)
        _, _, alt = itrs_to_geodetic(r_itrs)
        return EnvironmentSamples(t_s, r, v, sun_unit, eclipse, b, density_kg_m3(alt), rot)


_NUTATION_STEP_S = 60.0


def _interpolated_1d(t_s: np.ndarray, step_s: float, fn) -> list[np.ndarray]:
    """Columns of ``fn`` (coarse times -> (M, k)) evaluated on a coarse grid and interpolated onto ``t_s``."""
    lo = math.floor(t_s.min() / step_s) * step_s
    hi = math.ceil(t_s.max() / step_s) * step_s
    coarse = np.arange(lo, hi + step_s * 1.5, step_s)
    vals = fn(coarse)
    return [np.interp(t_s, coarse, vals[:, i]) for i in range(vals.shape[1])]


def _interpolated(t_s: np.ndarray, step_s: float, fn) -> np.ndarray:
    """``fn`` evaluated on a coarse grid covering ``t_s`` and linearly interpolated onto it, (N, 3)."""
    lo = math.floor(t_s.min() / step_s) * step_s
    hi = math.ceil(t_s.max() / step_s) * step_s
    coarse = np.arange(lo, hi + step_s * 1.5, step_s)
    vals = fn(coarse)
    return np.stack([np.interp(t_s, coarse, vals[:, i]) for i in range(3)], axis=1)
