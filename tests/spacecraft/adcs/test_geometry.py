"""Geometry checked against skyfield computed independently (its own frames, IAU 2000A nutation, wgs84)."""

from __future__ import annotations

import numpy as np
import pytest
from skyfield.api import wgs84
from skyfield.framelib import itrs

from spacecraft.adcs import Target
from spacecraft.adcs.environment import Orbit, geodetic_to_itrs_m, itrs_to_geodetic, timescale
from spacecraft.adcs.guidance import find_windows, reference_from_dcm, tracking_dcm
from spacecraft.adcs.quaternion import quat_to_dcm

ALMATY = Target("Almaty", lat_deg=43.24, lon_deg=76.95, alt_m=800.0)
WGS84_A = 6378137.0
WGS84_B = WGS84_A * (1 - 1 / 298.257223563)


@pytest.fixture(scope="module")
def orbit() -> Orbit:
    return Orbit()


@pytest.fixture(scope="module")
def window(orbit):
    return find_windows(orbit, ALMATY, start_s=0.0, duration_s=86400.0)[0]


def _skyfield_time(orbit: Orbit, t_s: np.ndarray):
    ts = timescale()
    return ts.tt_jd(orbit.t0.whole, orbit.t0.tt_fraction + np.asarray(t_s) / 86400.0)


def _hit_ellipsoid(o: np.ndarray, d: np.ndarray, h: float) -> np.ndarray:
    """Ray/ellipsoid (semi-axes a+h, a+h, b+h) intersection, written out separately from the library's."""
    a2, b2 = (WGS84_A + h) ** 2, (WGS84_B + h) ** 2
    w = np.array([1 / a2, 1 / a2, 1 / b2])
    qa = np.sum(w * d * d, axis=-1)
    qb = 2 * np.sum(w * o * d, axis=-1)
    qc = np.sum(w * o * o, axis=-1) - 1
    s = (-qb - np.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
    return o + s[:, None] * d


def test_perfect_tracking_puts_the_boresight_on_the_target(orbit, window):
    """Reference attitude through the pass: boresight ray meets the ellipsoid (raised to the target height) within 10 m."""
    dt = 0.1
    t_s = np.arange(window.start_s, window.end_s, 7.3)
    grid = (t_s[:, None] + np.array([-dt, 0.0, dt])).ravel()
    env = orbit.sample(grid)
    ref = reference_from_dcm(tracking_dcm(env, ALMATY, boresight_body=(0, 0, 1), panel_body=(1, 0, 0)), dt)
    # reference_from_dcm drops the first and last grid points: keep the centres of each triple
    q = ref.q[np.arange(len(t_s)) * 3]
    bore_gcrs = quat_to_dcm(q)[:, :, 2]
    # independent: skyfield's satellite position and its (IAU 2000A) Earth rotation
    t = _skyfield_time(orbit, t_s)
    sat_gcrs = orbit.satellite.at(t).position.m.T
    rot = np.moveaxis(itrs.rotation_at(t), -1, 0)
    o = np.einsum("nij,nj->ni", rot, sat_gcrs)
    d = np.einsum("nij,nj->ni", rot, bore_gcrs)
    hit = _hit_ellipsoid(o, d, ALMATY.alt_m)
    target = wgs84.latlon(ALMATY.lat_deg, ALMATY.lon_deg, elevation_m=ALMATY.alt_m).itrs_xyz.m
    miss_m = np.linalg.norm(hit - target, axis=1)
    assert len(t_s) > 30
    assert miss_m.max() < 10.0, miss_m.max()


def test_pass_start_and_end_agree_with_skyfield_find_events(orbit):
    """Windows above 10° over Almaty for a day match skyfield's find_events rise/set to 1 s."""
    ours = find_windows(orbit, ALMATY, start_s=0.0, duration_s=86400.0)
    site = wgs84.latlon(ALMATY.lat_deg, ALMATY.lon_deg, elevation_m=ALMATY.alt_m)
    t, events = orbit.satellite.find_events(site, _skyfield_time(orbit, 0.0), _skyfield_time(orbit, 86400.0), altitude_degrees=10.0)
    secs = (t.tt - orbit.t0.tt) * 86400.0
    rises = secs[events == 0]
    sets = secs[events == 2]
    assert len(ours) == len(rises) == len(sets) >= 1
    for w, r, s in zip(ours, rises, sets):
        assert abs(w.start_s - r) < 1.0
        assert abs(w.end_s - s) < 1.0
        assert w.max_elevation_deg > 10.0


def test_geodetic_round_trip_and_agreement_with_skyfield():
    """Our WGS84 conversion equals skyfield's wgs84 to a millimetre and inverts to 1e-9 deg."""
    for lat, lon, h in [(43.24, 76.95, 800.0), (-33.9, 18.4, 0.0), (89.0, -120.0, 4000.0)]:
        ours = geodetic_to_itrs_m(lat, lon, h)
        theirs = wgs84.latlon(lat, lon, elevation_m=h).itrs_xyz.m
        assert np.linalg.norm(ours - theirs) < 1e-3
        la, lo, hh = itrs_to_geodetic(ours)
        assert abs(la - lat) < 1e-9 and abs(lo - lon) < 1e-9 and abs(hh - h) < 1e-6


def test_environment_accepts_scalar_and_array_times(orbit):
    """A scalar time and the same time inside an array give the same sample; the field is ~20-50 µT at 500 km."""
    one = orbit.sample(1234.5)
    many = orbit.sample(np.array([0.0, 1234.5]))
    assert np.allclose(one.r_m[0], many.r_m[1])
    assert np.allclose(one.sun_unit[0], many.sun_unit[1])
    b = np.linalg.norm(many.b_t, axis=1)
    assert np.all((b > 15e-6) & (b < 60e-6))
    alt = np.linalg.norm(many.r_m, axis=1) - 6371e3
    assert np.all((alt > 450e3) & (alt < 560e3))
