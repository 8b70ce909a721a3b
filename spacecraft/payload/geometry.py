"""Camera model and geolocation: which point of the WGS84 ellipsoid each detector pixel sees (sans-IO, numpy).

Conventions (every function here uses them):

* Detector: ``rows`` × ``cols`` pixels, pixel ``(row, col)`` centred at integer indices, principal point
  at the detector centre ``((rows - 1) / 2, (cols - 1) / 2)`` (on a pixel centre for odd sizes, on a
  pixel corner for even ones). Fractional indices address points inside a pixel.
* Camera axes in the body frame: the boresight (default body +Z) is where the centre of the detector
  looks; moving to a larger row index tilts the line of sight towards ``row_axis_body`` (default +X),
  to a larger column index towards ``col_axis_body`` (default +Y). With the defaults (row, col,
  boresight) = (+X, +Y, +Z) is right-handed, so a nadir-pointing body with +X along track sees row
  index grow along track.
* Pinhole optics: the ray of pixel (row, col) is ``normalize((row - cy)·ifov·row_axis + (col - cx)·ifov·
  col_axis + boresight)``; ``ifov_rad`` is the angle one pixel subtends at the principal point.
* Attitude enters as a rotation matrix ``dcm_body_to_itrs`` with ``v_itrs = dcm @ v_body`` (the
  :func:`spacecraft.adcs.quaternion.quat_to_dcm` convention, composed with GCRS→ITRS by the caller).
* Ground grids (:func:`local_grid`) are geodetic WGS84 latitude/longitude in degrees, longitude
  wrapped to [-180, 180).

Choices:

* Intersections and geodetic conversion are the ADCS's own (:mod:`spacecraft.adcs.environment`), so
  the imager and the pointing agree on the Earth they aim at.
* :func:`local_grid` lays a standalone scene out as an azimuthal-equidistant grid: each pixel is the
  endpoint of the geodesic from the centre with the pixel's distance and azimuth (Vincenty's direct
  formula, 1975, sub-millimetre on the ellipsoid). Radial spacing is exact and tangential spacing
  is off by (d/R)²/6 — 2e-5 at 70 km from the centre — where a flat east/north offset through the
  centre's radii of curvature would be off by ~1 % at the corners of a 100 km scene at 60° latitude.
* :func:`geodesic_distance_m` is Lambert's formula for the ellipsoid (first order in the flattening:
  ~1e-5 relative, ~10 m over thousands of km), not the haversine, whose sphere is off by up to
  0.5 % against WGS84 — more than the 0.1 % the grid tests check.
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from spacecraft.adcs.environment import WGS84_A_M, WGS84_F, itrs_to_geodetic, ray_ellipsoid_intersection_m

from .errors import PayloadError

__all__ = [
    "Camera",
    "GeometryError",
    "geodesic_distance_m",
    "geolocate",
    "geolocate_grid",
    "ground_sample_distance_m",
    "local_grid",
    "pixel_rays_body",
]

#: How far from orthonormal a camera's axes or an attitude matrix may be (rounding, not a real error).
_ORTHONORMAL_TOL = 1e-6
_WGS84_B_M = WGS84_A_M * (1.0 - WGS84_F)


class GeometryError(PayloadError):
    """A camera, attitude or grid request that cannot be honoured: names the field, its value and what is allowed."""


@dataclass(frozen=True)
class Camera:
    """A frame (push-frame) pinhole camera: detector size, per-pixel IFOV and its axes in the body frame."""

    rows: int
    cols: int
    ifov_rad: float
    _: KW_ONLY
    boresight_body: tuple[float, float, float] = (0.0, 0.0, 1.0)
    row_axis_body: tuple[float, float, float] = (1.0, 0.0, 0.0)
    col_axis_body: tuple[float, float, float] = (0.0, 1.0, 0.0)

    def __post_init__(self) -> None:
        for name in ("rows", "cols"):
            n = getattr(self, name)
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise GeometryError(name, n, "a positive integer")
        if not (isinstance(self.ifov_rad, (int, float)) and math.isfinite(self.ifov_rad) and self.ifov_rad > 0):
            raise GeometryError("ifov_rad", self.ifov_rad, "a positive finite angle in radians")
        axes = self.axes_body
        if axes.shape != (3, 3) or not np.all(np.isfinite(axes)):
            raise GeometryError("camera axes", axes.tolist(), "three 3-vectors")
        if np.abs(axes.T @ axes - np.eye(3)).max() > _ORTHONORMAL_TOL:
            raise GeometryError("camera axes", axes.T.tolist(),
                                "orthonormal row_axis_body, col_axis_body and boresight_body "
                                "(unit, mutually perpendicular)")

    @property
    def axes_body(self) -> np.ndarray:
        """(3, 3) matrix whose columns are the row axis, column axis and boresight in the body frame."""
        return np.array([self.row_axis_body, self.col_axis_body, self.boresight_body], dtype=float).T

    @property
    def principal_point(self) -> tuple[float, float]:
        """(row, col) index the boresight passes through: the detector centre."""
        return ((self.rows - 1) / 2.0, (self.cols - 1) / 2.0)


def _pixel_indices(camera: Camera, rows: Any, cols: Any) -> tuple[np.ndarray, np.ndarray]:
    if rows is None and cols is None:
        return np.meshgrid(np.arange(camera.rows, dtype=float), np.arange(camera.cols, dtype=float), indexing="ij")
    if rows is None or cols is None:
        raise GeometryError("rows/cols", "only one given", "both (pixel indices that broadcast together) or neither")
    r, c = np.broadcast_arrays(np.asarray(rows, dtype=float), np.asarray(cols, dtype=float))
    return r, c


def pixel_rays_body(camera: Camera, rows: Any = None, cols: Any = None) -> np.ndarray:
    """Unit line-of-sight vectors in the body frame, shape (rows, cols, 3) for the whole detector.

    ``rows``/``cols`` (optional, together) are pixel indices of any shapes that broadcast together
    (fractional allowed); the result then has the broadcast shape + (3,). For a sub-grid pass
    ``rows[:, None]`` and ``cols[None, :]``.
    """
    r, c = _pixel_indices(camera, rows, cols)
    cy, cx = camera.principal_point
    focal = np.stack([(r - cy) * camera.ifov_rad, (c - cx) * camera.ifov_rad, np.ones_like(r)], axis=-1)
    rays = focal @ camera.axes_body.T
    return rays / np.linalg.norm(rays, axis=-1, keepdims=True)


def _check_rotation(name: str, m: Any) -> np.ndarray:
    arr = np.asarray(m, dtype=float)
    if arr.shape != (3, 3) or not np.all(np.isfinite(arr)):
        raise GeometryError(name, f"shape {arr.shape}", "a finite (3, 3) rotation matrix")
    if np.abs(arr.T @ arr - np.eye(3)).max() > _ORTHONORMAL_TOL or np.linalg.det(arr) < 0:
        raise GeometryError(name, arr.tolist(), "a proper rotation (orthonormal, determinant +1)")
    return arr


def geolocate(camera: Camera, r_sat_itrs_m: Any, dcm_body_to_itrs: Any, *, rows: Any = None, cols: Any = None,
              alt_m: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Geodetic (lat_deg, lon_deg) where each pixel's ray meets the WGS84 ellipsoid (+ ``alt_m``); NaN off the Earth.

    ``r_sat_itrs_m`` is the camera position (3,) in ITRS metres, ``dcm_body_to_itrs`` the attitude
    (``v_itrs = dcm @ v_body``). Shapes as :func:`pixel_rays_body`: (rows, cols) for the whole detector.
    """
    origin = np.asarray(r_sat_itrs_m, dtype=float)
    if origin.shape != (3,) or not np.all(np.isfinite(origin)):
        raise GeometryError("r_sat_itrs_m", f"shape {origin.shape}", "a finite ITRS position (3,) in metres")
    dcm = _check_rotation("dcm_body_to_itrs", dcm_body_to_itrs)
    rays_itrs = pixel_rays_body(camera, rows, cols) @ dcm.T
    with np.errstate(invalid="ignore"):
        hit = ray_ellipsoid_intersection_m(origin, rays_itrs, alt_m=alt_m)
        lat_deg, lon_deg, _ = itrs_to_geodetic(hit)
    return lat_deg, lon_deg


def geolocate_grid(camera: Camera, r_sat_itrs_m: Any, dcm_body_to_itrs: Any, *, step_px: int = 16,
                   alt_m: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`geolocate` of the whole detector, exact every ``step_px`` pixels (and on the last row and column)
    and bilinear in between: what an on-board computer does with a smooth footprint. Over 16-pixel cells of a
    4e-4 rad camera the footprint's curvature leaves 0.2 m at nadir and 5 m at 30 deg off nadir (3 % of a
    200 m pixel; tests/spacecraft/payload/test_geometry.py), for a tenth of the time."""
    rows = np.unique(np.r_[np.arange(0, camera.rows, step_px), camera.rows - 1]).astype(float)
    cols = np.unique(np.r_[np.arange(0, camera.cols, step_px), camera.cols - 1]).astype(float)
    lat_c, lon_c = geolocate(camera, r_sat_itrs_m, dcm_body_to_itrs, rows=rows[:, None], cols=cols[None, :],
                             alt_m=alt_m)
    if np.any(np.abs(np.diff(lon_c, axis=1)) > 180) or np.any(np.abs(np.diff(lon_c, axis=0)) > 180):
        return geolocate(camera, r_sat_itrs_m, dcm_body_to_itrs, alt_m=alt_m)  # the antimeridian: exactly
    r_all = np.arange(camera.rows, dtype=float)
    c_all = np.arange(camera.cols, dtype=float)
    ri = np.clip(np.searchsorted(rows, r_all, side="right") - 1, 0, len(rows) - 2)
    ci = np.clip(np.searchsorted(cols, c_all, side="right") - 1, 0, len(cols) - 2)
    fr = ((r_all - rows[ri]) / (rows[ri + 1] - rows[ri]))[:, None]
    fc = ((c_all - cols[ci]) / (cols[ci + 1] - cols[ci]))[None, :]

    def interp(grid: np.ndarray) -> np.ndarray:
        a = grid[ri][:, ci]
        b = grid[ri][:, ci + 1]
        c = grid[ri + 1][:, ci]
        d = grid[ri + 1][:, ci + 1]
        return (1 - fr) * ((1 - fc) * a + fc * b) + fr * ((1 - fc) * c + fc * d)

    return interp(lat_c), interp(lon_c)


def ground_sample_distance_m(camera: Camera, altitude_m: Any) -> Any:
    """Ground distance between adjacent pixel centres at nadir from ``altitude_m`` (scalar or array): altitude × IFOV.

    First order in the IFOV, and exact to that order on a curved Earth too: the footprint of a small
    angle θ off nadir is h·θ on a sphere as on a plane (the curvature enters at order θ³).
    """
    alt = np.asarray(altitude_m, dtype=float)
    if np.any(~np.isfinite(alt)) or np.any(alt <= 0):
        raise GeometryError("altitude_m", altitude_m, "positive finite heights in metres")
    gsd = alt * camera.ifov_rad
    return float(gsd) if gsd.ndim == 0 else gsd


def _vincenty_direct(lat1_rad: float, lon1_rad: float, azimuth_rad: np.ndarray,
                     distance_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Endpoints (lat, lon radians) of geodesics from one point (Vincenty 1975, direct problem, WGS84)."""
    a, b, f = WGS84_A_M, _WGS84_B_M, WGS84_F
    tan_u1 = (1.0 - f) * math.tan(lat1_rad)
    cos_u1 = 1.0 / math.sqrt(1.0 + tan_u1 * tan_u1)
    sin_u1 = tan_u1 * cos_u1
    sin_az, cos_az = np.sin(azimuth_rad), np.cos(azimuth_rad)
    sigma1 = np.arctan2(tan_u1, cos_az)
    sin_alpha = cos_u1 * sin_az
    cos2_alpha = 1.0 - sin_alpha * sin_alpha
    u2 = cos2_alpha * (a * a - b * b) / (b * b)
    big_a = 1.0 + u2 / 16384.0 * (4096.0 + u2 * (-768.0 + u2 * (320.0 - 175.0 * u2)))
    big_b = u2 / 1024.0 * (256.0 + u2 * (-128.0 + u2 * (74.0 - 47.0 * u2)))
    sigma0 = distance_m / (b * big_a)
    sigma = sigma0
    for _ in range(12):
        cos_2sm = np.cos(2.0 * sigma1 + sigma)
        sin_s, cos_s = np.sin(sigma), np.cos(sigma)
        d_sigma = big_b * sin_s * (cos_2sm + big_b / 4.0 * (
            cos_s * (-1.0 + 2.0 * cos_2sm * cos_2sm)
            - big_b / 6.0 * cos_2sm * (-3.0 + 4.0 * sin_s * sin_s) * (-3.0 + 4.0 * cos_2sm * cos_2sm)))
        new = sigma0 + d_sigma
        done = np.max(np.abs(new - sigma), initial=0.0) < 1e-14
        sigma = new
        if done:
            break
    cos_2sm = np.cos(2.0 * sigma1 + sigma)
    sin_s, cos_s = np.sin(sigma), np.cos(sigma)
    t = sin_u1 * sin_s - cos_u1 * cos_s * cos_az
    lat2 = np.arctan2(sin_u1 * cos_s + cos_u1 * sin_s * cos_az, (1.0 - f) * np.sqrt(sin_alpha * sin_alpha + t * t))
    lam = np.arctan2(sin_s * sin_az, cos_u1 * cos_s - sin_u1 * sin_s * cos_az)
    c = f / 16.0 * cos2_alpha * (4.0 + f * (4.0 - 3.0 * cos2_alpha))
    lon_diff = lam - (1.0 - c) * f * sin_alpha * (
        sigma + c * sin_s * (cos_2sm + c * cos_s * (-1.0 + 2.0 * cos_2sm * cos_2sm)))
    return lat2, lon1_rad + lon_diff


def _wrap_lon_deg(lon_deg: np.ndarray) -> np.ndarray:
    return (lon_deg + 180.0) % 360.0 - 180.0


def local_grid(center_lat_deg: float, center_lon_deg: float, rows: int, cols: int, pixel_size_m: float, *,
               heading_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Geodetic (lat_deg, lon_deg) of each pixel centre, (rows, cols), for a scene of square ground pixels.

    The grid is centred on (``center_lat_deg``, ``center_lon_deg``) at index ((rows-1)/2, (cols-1)/2).
    ``heading_deg`` is the azimuth (clockwise from north) of the image's up direction, towards row 0:
    row index grows towards ``heading + 180°``, column index towards ``heading + 90°``. The default
    0 is a north-up map (row 0 northmost, columns growing east).
    """
    if not (math.isfinite(center_lat_deg) and abs(center_lat_deg) < 90.0):
        raise GeometryError("center_lat_deg", center_lat_deg, "a latitude strictly inside -90..90 degrees")
    if not math.isfinite(center_lon_deg):
        raise GeometryError("center_lon_deg", center_lon_deg, "a finite longitude in degrees")
    for name, n in (("rows", rows), ("cols", cols)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise GeometryError(name, n, "a positive integer")
    if not (math.isfinite(pixel_size_m) and pixel_size_m > 0):
        raise GeometryError("pixel_size_m", pixel_size_m, "a positive ground distance in metres")
    if not math.isfinite(heading_deg):
        raise GeometryError("heading_deg", heading_deg, "a finite azimuth in degrees")
    h = math.radians(heading_deg)
    dr = (np.arange(rows, dtype=float) - (rows - 1) / 2.0)[:, None] * pixel_size_m
    dc = (np.arange(cols, dtype=float) - (cols - 1) / 2.0)[None, :] * pixel_size_m
    # unit steps on the ground (north, east): down the image = heading + 180°, right = heading + 90°
    north_m = -dr * math.cos(h) - dc * math.sin(h)
    east_m = -dr * math.sin(h) + dc * math.cos(h)
    lat, lon = _vincenty_direct(math.radians(center_lat_deg), math.radians(center_lon_deg),
                                np.arctan2(east_m, north_m), np.hypot(north_m, east_m))
    return np.degrees(lat), _wrap_lon_deg(np.degrees(lon))


def geodesic_distance_m(lat1_deg: Any, lon1_deg: Any, lat2_deg: Any, lon2_deg: Any) -> Any:
    """Distance on the WGS84 ellipsoid between points (degrees; scalars or arrays that broadcast), metres.

    Lambert's formula: the great-circle angle between the points' reduced latitudes, corrected to first
    order in the flattening.
    """
    f = WGS84_F
    lat1, lat2 = np.radians(np.asarray(lat1_deg, dtype=float)), np.radians(np.asarray(lat2_deg, dtype=float))
    dlon = np.radians(np.asarray(lon2_deg, dtype=float) - np.asarray(lon1_deg, dtype=float))
    b1 = np.arctan((1.0 - f) * np.tan(lat1))
    b2 = np.arctan((1.0 - f) * np.tan(lat2))
    # haversine of the central angle: well conditioned for the short lines geolocation errors are
    hav = np.sin((b2 - b1) / 2.0) ** 2 + np.cos(b1) * np.cos(b2) * np.sin(dlon / 2.0) ** 2
    sigma = 2.0 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))
    p, q = (b1 + b2) / 2.0, (b2 - b1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (sigma - np.sin(sigma)) * np.sin(p) ** 2 * np.cos(q) ** 2 / np.cos(sigma / 2.0) ** 2
        y = (sigma + np.sin(sigma)) * np.cos(p) ** 2 * np.sin(q) ** 2 / np.sin(sigma / 2.0) ** 2
    # coincident points (y is 0/0) and antipodes (x is 0/0) have no correction term to speak of
    x = np.where(np.isfinite(x), x, 0.0)
    y = np.where(np.isfinite(y), y, 0.0)
    d = WGS84_A_M * (sigma - f / 2.0 * (x + y))
    d = np.where(sigma == 0, 0.0, d)
    return float(d) if d.ndim == 0 else d
