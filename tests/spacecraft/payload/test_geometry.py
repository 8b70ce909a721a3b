"""Camera model and geolocation, checked against geometry written out here (NED frames, chords, textbook distances)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spacecraft.adcs.environment import geodetic_to_itrs_m
from spacecraft.adcs.quaternion import quat_from_axis_angle, quat_to_dcm
from spacecraft.payload.geometry import (
    Camera,
    GeometryError,
    geodesic_distance_m,
    geolocate,
    ground_sample_distance_m,
    local_grid,
    pixel_rays_body,
)

ALT_M = 500e3
IFOV = 4e-4


def _ned_dcm(lat_deg: float, lon_deg: float) -> np.ndarray:
    """Body (X north, Y east, Z down) to ITRS at a geodetic place: a nadir-pointing camera with rows going north."""
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    north = np.array([-math.sin(lat) * math.cos(lon), -math.sin(lat) * math.sin(lon), math.cos(lat)])
    east = np.array([-math.sin(lon), math.cos(lon), 0.0])
    down = -np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
    return np.column_stack([north, east, down])


def _chord_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    p1 = np.array([geodetic_to_itrs_m(a, b) for a, b in zip(np.ravel(lat1), np.ravel(lon1))])
    p2 = np.array([geodetic_to_itrs_m(a, b) for a, b in zip(np.ravel(lat2), np.ravel(lon2))])
    return np.linalg.norm(p1 - p2, axis=1)


def test_rays_are_unit_and_follow_the_axis_convention() -> None:
    cam = Camera(5, 7, 0.01)
    rays = pixel_rays_body(cam)
    assert rays.shape == (5, 7, 3)
    np.testing.assert_allclose(np.linalg.norm(rays, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(rays[2, 3], [0, 0, 1], atol=1e-15)
    # one row down tilts towards +X by one IFOV, one column right towards +Y
    np.testing.assert_allclose(rays[3, 3] / rays[3, 3, 2], [0.01, 0, 1], atol=1e-15)
    np.testing.assert_allclose(rays[2, 4] / rays[2, 4, 2], [0, 0.01, 1], atol=1e-15)
    # pinhole: tangent of the off-axis angle grows linearly with the pixel offset
    np.testing.assert_allclose(rays[2, 6, 1] / rays[2, 6, 2], 3 * 0.01, rtol=1e-12)


def test_rays_for_chosen_pixels_broadcast_and_use_the_camera_axes() -> None:
    cam = Camera(4, 4, 0.02, boresight_body=(1.0, 0.0, 0.0), row_axis_body=(0.0, 1.0, 0.0),
                 col_axis_body=(0.0, 0.0, 1.0))
    rays = pixel_rays_body(cam, np.array([1.5, 2.5])[:, None], np.array([1.5, 2.5, 3.5])[None, :])
    assert rays.shape == (2, 3, 3)
    np.testing.assert_allclose(rays[0, 0], [1, 0, 0], atol=1e-15)
    assert rays[1, 0, 1] > 0 and abs(rays[1, 0, 2]) < 1e-15
    full = pixel_rays_body(cam)
    np.testing.assert_allclose(pixel_rays_body(cam, 3, 0), full[3, 0])


def test_camera_rejects_bad_axes_and_sizes() -> None:
    with pytest.raises(GeometryError, match="orthonormal"):
        Camera(4, 4, 1e-3, row_axis_body=(1.0, 1.0, 0.0))
    with pytest.raises(GeometryError, match="rows"):
        Camera(0, 4, 1e-3)
    with pytest.raises(GeometryError, match="ifov_rad"):
        Camera(4, 4, -1e-3)
    with pytest.raises(GeometryError, match="both"):
        pixel_rays_body(Camera(4, 4, 1e-3), rows=[1, 2])


@pytest.mark.parametrize("lat0, lon0", [(0.0, 0.0), (43.24, 76.95), (-17.9, 122.3), (71.0, -156.8)])
def test_nadir_centre_pixel_sees_the_sub_satellite_point(lat0: float, lon0: float) -> None:
    cam = Camera(101, 101, IFOV)
    lat, lon = geolocate(cam, geodetic_to_itrs_m(lat0, lon0, ALT_M), _ned_dcm(lat0, lon0))
    assert lat.shape == (101, 101)
    assert geodesic_distance_m(lat[50, 50], lon[50, 50], lat0, lon0) < 1.0
    # rows go north, columns east (the body axes of the NED attitude)
    assert lat[60, 50] > lat[50, 50] > lat[40, 50]
    assert lon[50, 60] > lon[50, 50] > lon[50, 40]


def test_one_milliradian_of_pointing_moves_the_footprint_about_500_m() -> None:
    lat0, lon0 = 43.24, 76.95
    r_sat = geodetic_to_itrs_m(lat0, lon0, ALT_M)
    dcm = _ned_dcm(lat0, lon0)
    cam = Camera(101, 101, IFOV)
    lat_a, lon_a = geolocate(cam, r_sat, dcm, rows=50, cols=50)
    for axis in ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)):
        tilt = quat_to_dcm(quat_from_axis_angle(np.array(axis), 1e-3))
        lat_b, lon_b = geolocate(cam, r_sat, dcm @ tilt, rows=50, cols=50)
        moved = geodesic_distance_m(lat_a, lon_a, lat_b, lon_b)
        assert 495.0 < moved < 505.0, moved


def test_ground_sample_distance_is_altitude_times_ifov_and_matches_the_footprint() -> None:
    cam = Camera(11, 11, IFOV)
    assert ground_sample_distance_m(cam, ALT_M) == pytest.approx(ALT_M * IFOV)
    np.testing.assert_allclose(ground_sample_distance_m(cam, np.array([400e3, 600e3])), [160.0, 240.0])
    lat, lon = geolocate(cam, geodetic_to_itrs_m(10.0, 20.0, ALT_M), _ned_dcm(10.0, 20.0))
    along = geodesic_distance_m(lat[5, 5], lon[5, 5], lat[6, 5], lon[6, 5])
    across = geodesic_distance_m(lat[5, 5], lon[5, 5], lat[5, 6], lon[5, 6])
    assert along == pytest.approx(200.0, rel=2e-3) and across == pytest.approx(200.0, rel=2e-3)
    with pytest.raises(GeometryError, match="altitude_m"):
        ground_sample_distance_m(cam, 0.0)


def test_rays_that_miss_the_earth_give_nan() -> None:
    lat0, lon0 = 30.0, -60.0
    r_sat = geodetic_to_itrs_m(lat0, lon0, ALT_M)
    up = _ned_dcm(lat0, lon0) @ np.diag([1.0, -1.0, -1.0])  # rotated 180° about X: boresight to the zenith
    lat, lon = geolocate(Camera(9, 9, 0.01), r_sat, up)
    assert np.all(np.isnan(lat)) and np.all(np.isnan(lon))
    # a wide camera at nadir: the limb is 68° off nadir from 500 km, the corner rays are 76° off
    lat, lon = geolocate(Camera(3, 41, 0.2), r_sat, _ned_dcm(lat0, lon0))
    assert np.isnan(lat[1, 0]) and np.isnan(lon[1, 40])
    assert np.isfinite(lat[1, 20]) and np.isfinite(lat[1, 25])


def test_geolocate_rejects_a_bad_attitude() -> None:
    cam = Camera(3, 3, 1e-3)
    with pytest.raises(GeometryError, match="rotation"):
        geolocate(cam, geodetic_to_itrs_m(0, 0, ALT_M), np.eye(3) * 2)
    with pytest.raises(GeometryError, match="r_sat_itrs_m"):
        geolocate(cam, [1.0, 2.0], np.eye(3))


def test_geodesic_distance_matches_textbook_degree_lengths() -> None:
    # length of one degree on WGS84: meridian at 0°, 45°, 90° and the equator
    assert geodesic_distance_m(-0.5, 0.0, 0.5, 0.0) == pytest.approx(110574.0, abs=2.0)
    assert geodesic_distance_m(44.5, 10.0, 45.5, 10.0) == pytest.approx(111132.0, abs=2.0)
    assert geodesic_distance_m(89.0, 0.0, 90.0, 0.0) == pytest.approx(111694.0, abs=2.0)
    assert geodesic_distance_m(0.0, 179.5, 0.0, -179.5) == pytest.approx(111319.5, abs=1.0)
    d = geodesic_distance_m(np.array([10.0, 10.0]), np.array([20.0, 20.0]), 10.0, np.array([20.0, 21.0]))
    assert d.shape == (2,) and d[0] == 0.0 and d[1] > 100e3
    assert math.isnan(geodesic_distance_m(float("nan"), 0.0, 0.0, 0.0))


@pytest.mark.parametrize("lat0", [0.0, 45.0, 70.0, -60.0])
@pytest.mark.parametrize("heading", [0.0, 30.0, 90.0, 217.0])
def test_local_grid_spacing_is_the_pixel_size(lat0: float, heading: float) -> None:
    rows, cols, px = 257, 301, 200.0
    lat, lon = local_grid(lat0, 179.9, rows, cols, px, heading_deg=heading)
    assert lat.shape == (rows, cols)
    assert np.abs(lon).max() <= 180.0
    assert geodesic_distance_m(lat[128, 150], lon[128, 150], lat0, 179.9) < 1e-3
    along = geodesic_distance_m(lat[1:], lon[1:], lat[:-1], lon[:-1])
    across = geodesic_distance_m(lat[:, 1:], lon[:, 1:], lat[:, :-1], lon[:, :-1])
    for d in (along, across):
        np.testing.assert_allclose(d, px, rtol=1e-3)
    # independent check on a sample: straight-line chords between ITRS points (200 m chord = arc to 1e-9)
    idx = (slice(None, None, 37), slice(None, None, 41))
    chord = _chord_m(lat[:-1][idx], lon[:-1][idx], lat[1:][idx], lon[1:][idx])
    np.testing.assert_allclose(chord, px, rtol=1e-3)
    # diagonal neighbours are √2 pixels apart: the grid is square, not sheared
    diag = geodesic_distance_m(lat[1:, 1:], lon[1:, 1:], lat[:-1, :-1], lon[:-1, :-1])
    np.testing.assert_allclose(diag, px * math.sqrt(2), rtol=1e-3)


def test_local_grid_heading_zero_is_north_up() -> None:
    lat, lon = local_grid(-17.9, 122.3, 64, 64, 200.0)
    assert lat[0, 32] > lat[63, 32]
    assert lon[32, 63] > lon[32, 0]
    lat90, lon90 = local_grid(-17.9, 122.3, 64, 64, 200.0, heading_deg=90.0)
    # up is east: row 0 is the east edge, columns grow south
    assert lon90[0, 32] > lon90[63, 32] and lat90[32, 0] > lat90[32, 63]
    with pytest.raises(GeometryError, match="center_lat_deg"):
        local_grid(90.0, 0.0, 4, 4, 200.0)


@pytest.mark.parametrize(("tilt_rad", "bound_m"), [(0.0, 0.5), (0.5, 8.0)])
def test_the_coarse_grid_footprint_agrees_with_the_exact_one(tilt_rad: float, bound_m: float) -> None:
    """geolocate_grid (exact every 16 px, bilinear between) stays within metres of geolocate everywhere."""
    from spacecraft.adcs.environment import geodetic_to_itrs_m, geodetic_up_itrs
    from spacecraft.adcs.quaternion import quat_from_axis_angle, quat_to_dcm
    from spacecraft.payload.geometry import geolocate_grid

    cam = Camera(256, 200, 4e-4)
    up = geodetic_up_itrs(43.25, 76.95)
    z = -up
    x = np.cross(np.array([0.0, 0.0, 1.0]), z)
    x /= np.linalg.norm(x)
    dcm = np.column_stack([x, np.cross(z, x), z]) @ quat_to_dcm(quat_from_axis_angle(np.array([1.0, 0.3, 0.0]),
                                                                                      tilt_rad))
    r = geodetic_to_itrs_m(43.25, 76.95, 500e3)
    exact = geolocate(cam, r, dcm)
    coarse = geolocate_grid(cam, r, dcm)
    assert coarse[0].shape == (256, 200)
    err = geodesic_distance_m(exact[0], exact[1], coarse[0], coarse[1])
    assert np.max(err) <= bound_m
    np.testing.assert_array_equal(coarse[0][::16, ::16], exact[0][::16, ::16])  # exact on the grid nodes
