"""Onboard scene analysis: cloud mask, water mask, active fires, ships and floods as geolocated detections (sans-IO).

:func:`analyse` takes a :class:`~.scenefile.Scene` and an :class:`AnalysisConfig` (every threshold a plain
number with its unit in its name, so each can become a service-20 on-board parameter) and returns an
:class:`AnalysisResult`: the masks, the cloud fraction and a tuple of :class:`Detection`. No clocks, no files.

Choices made here, each with its reason and source:

* Day or night: the sun zenith at the scene centre; above 85° is night (Giglio et al. 2003, RSE 87, §2.2:
  the MODIS fire algorithm's day/night switch). At night the reflective bands carry no signal, so the
  cloud mask is thermal only, the water mask is the scene's ``reference_water`` (or none), and ships and
  floods are not looked for (said in :attr:`AnalysisResult.not_run`).
* Cloud mask: the MODIS fire product's own mask (Giglio et al. 2003 §2.2 "cloud and water masking"): by day
  cloud where ρ0.65 + ρ0.86 > 1.2, or T < 265 K, or (ρ0.65 + ρ0.86 > 0.7 and T < 285 K); at night T < 265 K.
  MODIS uses the 12 µm brightness temperature; we have only 11 µm, which over cloud reads the same or a little
  warmer, so here the thermal tests are if anything less eager. A pixel hotter at 3.9 µm than the absolute
  fire threshold is never cloud (our choice: a fire under bright smoke must stay a fire; no cloud is that hot).
  The cloud fraction is over valid pixels; above ``cloud_threshold`` the scene is reported as one CLOUD
  detection (at the scene centre, confidence 1) and not analysed further.
* Water mask: a normalised difference of red and SWIR, NDWI = (ρred − ρswir)/(ρred + ρswir) > 0.2, with
  ρnir < 0.15. The imager has no green band, so McFeeters' NDWI (green/NIR, 1996) is out; Gao's NDWI
  (NIR/SWIR, 1996) measures vegetation water content and is positive over vegetation. Xu's MNDWI
  (green/SWIR, 2006) works because water is darker at 1.6 µm than in the visible while soil, vegetation and
  built-up surfaces are brighter; red behaves like green there. The NIR ceiling removes snow and cloud,
  which share water's positive index but are bright in the NIR. Cloud and invalid pixels are never water.
* Fires: :mod:`.fire` (the MODIS contextual algorithm, FRP by the MIR radiance method). The glint angle
  comes from the scene's meta when it holds ``view_zenith_deg`` (default 0: nadir) and both
  ``sun_azimuth_deg`` and ``view_azimuth_deg``; without the azimuths the worst case |θs − θv| is taken,
  which for a nadir view is exactly the sun zenith (the azimuth does not matter at nadir). Fire pixels
  that touch (8-connectivity) are one FIRE detection: peak = hottest T4, FRP summed, confidence the best
  pixel's, centroid the mean pixel position.
* Ships: CFAR on the NIR band (open water is darkest there, so hulls have the best contrast). The sea
  statistics are the mean and standard deviation of water pixels in a square background window with a
  guard window cut out of its centre; a pixel is a target above mean + k σ, k = Φ⁻¹(1 − Pfa) for Gaussian
  clutter. Doing that for every pixel costs six box filters per megapixel, so it runs in two stages: a
  pre-screen against statistics of background-window-sized tiles (and their 8 neighbours) at k − 1.5,
  whose connected survivors of plausible size are then tested exactly, pixel by pixel. A target the exact
  test takes but the pre-screen misses would need its ring statistics to differ from its tiles' by 1.5 σ.
  When the scene has ``reference_water``, only pixels on it are tested (a ship moored next to a coast would
  otherwise join, through the coast's pre-screen survivors, a land-sized component that is dropped whole).
  Thin cloud over the sea — opacity too low for the cloud mask, which is the fire product's and lets through
  what is not bright and cold enough — raises the NIR as a hull does and keeps water's NDWI; what tells them
  apart is 11 µm: a cloud top is colder than the sea (tens of kelvin), a sunlit hull is not colder than the
  water around it. So a pixel more than ``ship_cold_tir_max_k`` (1 K, five times a 0.2 K NEdT) colder than the
  mean sea T11 of its pre-screen tiles is no candidate, and a group more than that colder than the sea ring
  around it (background window minus guard window) is dropped. Assumed: by day a hull reads at least as warm
  as the sea at 11 µm (steel decks in sunlight run warmer); fog or stratus at the sea's own temperature is not
  caught by this test.
  Targets group by 8-connectivity; a group is kept when its size and length are in range, when no more
  than a quarter of the pixels around it are land (a bright pixel on land or a coast is not a ship; this is
  also what stops sun glint, whose bright surround fails the water test), when no cloud lies within the cloud
  buffer (bright cloud edges), when it is not colder than its sea (above), and, when the scene has
  ``reference_water``, when it lies mostly on reference water (an island is not a ship). Length and
  orientation come from the second moments of the group weighted by brightness above the sea mean: a
  uniform bar of L pixels has variance (L² − 1)/12 along its axis, so L = √(12 λ₁ + 1). Heading is the
  major axis measured clockwise from north through the local lat/lon grid, in 0..180° (bow and stern look
  alike). Lengths use the scene's ``pixel_size_m``. A pixel whose background ring holds less than
  ``ship_bg_min_fraction`` usable sea (near an image corner, a coast or a cloud) is not tested: no
  statistics, no decision.
* Floods: water now (the water mask) where ``reference_water`` says land; 8-connected groups of at least
  ``flood_min_area_m2`` are FLOOD detections (their pixels make :attr:`AnalysisResult.flood_mask`) with
  peak = the share of the scene's cloud-free, valid reference land they cover. Without a reference map
  there is nothing to compare with: flood detection is skipped and :attr:`AnalysisResult.not_run` says so.
* Confidences: fires as :mod:`.fire`; ships S(z; k/2, 2k) on the brightest pixel's CFAR z-score; floods
  S(median NDWI; threshold − 0.2, threshold + 0.3); with S(x; α, β) = clip((x − α)/(β − α), 0, 1).
* Invalid pixels (``scene.valid`` False, or a non-finite value in a used band) are never detections, never
  background, and not counted in the cloud fraction.
* Geolocation: the scene's per-pixel lat/lon interpolated bilinearly at the float centroid (longitudes are
  unwrapped across ±180° first).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.special import ndtri

from .errors import PayloadError
from .fire import FirePixels, PixelWindows, detect_fire_pixels
from .scenefile import Scene, SceneError

__all__ = ["KINDS", "AnalysisConfig", "AnalysisConfigError", "AnalysisResult", "Detection", "analyse"]

#: Detection kinds, in the order detections are sorted.
KINDS = ("CLOUD", "FIRE", "FLOOD", "SHIP")
#: Mean Earth radius, m: converts lat/lon steps to metres for ship headings only.
_EARTH_RADIUS_M = 6_371_008.8
#: The ship pre-screen runs this many σ below the exact CFAR threshold.
_PRESCREEN_MARGIN_SIGMA = 1.5
#: Pre-screen components larger than this multiple of ship_max_pixels are land or cloud, not ships.
_PRESCREEN_SIZE_FACTOR = 4
#: Most gathered CFAR window elements held at once.
_CHUNK_ELEMENTS = 1 << 21
_EIGHT = np.ones((3, 3), dtype=bool)


class AnalysisConfigError(PayloadError):
    """An analysis parameter out of range: names the field, its value and what is allowed."""

    def __init__(self, field_name: str, value: Any, allowed: str) -> None:
        super().__init__(field_name, value, allowed, where="AnalysisConfig.")

    @staticmethod
    def _show(value: Any) -> str:
        return repr(value)


@dataclass(frozen=True, kw_only=True)
class AnalysisConfig:
    """Every threshold of the onboard analysis, each a plain number (or enable flag) with its unit in its name.

    Defaults and sources: cloud and fire values from Giglio et al. 2003 (RSE 87) §2.2, the base of MODIS
    Collection 6 (Giglio et al. 2016, RSE 178); the rest are this mission's choices (see the module docstring).
    """

    # scene-level
    cloud_threshold: float = 0.6                 #: cloud fraction above which the scene is only reported cloudy
    night_sun_zenith_deg: float = 85.0           #: sun zenith above which the scene is night (Giglio 2003)
    # cloud tests (Giglio 2003 §2.2, 11 µm in place of 12 µm)
    cloud_day_bright_sum: float = 1.2            #: ρred + ρnir above this is cloud
    cloud_day_moderate_sum: float = 0.7          #: ρred + ρnir above this and T11 below cloud_moderate_tir_k is cloud
    cloud_moderate_tir_k: float = 285.0
    cloud_cold_tir_k: float = 265.0              #: T11 below this is cloud, day and night
    # water
    water_ndwi_min: float = 0.2                  #: (ρred − ρswir)/(ρred + ρswir) above this may be water
    water_nir_max: float = 0.15                  #: and ρnir below this
    # fires: potential fire pixels
    fire_enabled: bool = True
    fire_day_t4_min_k: float = 310.0
    fire_day_dt_min_k: float = 10.0
    fire_day_nir_max: float = 0.3
    fire_night_t4_min_k: float = 305.0
    fire_night_dt_min_k: float = 10.0
    # fires: absolute threshold
    fire_day_t4_absolute_k: float = 360.0
    fire_night_t4_absolute_k: float = 320.0
    # fires: background characterisation
    fire_window_min_px: int = 3
    fire_window_max_px: int = 21
    fire_bg_min_fraction: float = 0.25
    fire_bg_min_count: int = 8
    fire_bg_day_t4_k: float = 325.0              #: background fire by day: T4 above this and ΔT above fire_bg_day_dt_k
    fire_bg_day_dt_k: float = 20.0
    fire_bg_night_t4_k: float = 310.0
    fire_bg_night_dt_k: float = 10.0
    # fires: contextual tests
    fire_dt_mad_factor: float = 3.5              #: ΔT > ΔT̄ + 3.5 δΔT
    fire_dt_margin_k: float = 6.0                #: ΔT > ΔT̄ + 6 K
    fire_t4_mad_factor: float = 3.0              #: T4 > T̄4 + 3 δ4
    fire_t11_margin_k: float = 4.0               #: T11 > T̄11 + δ11 − 4 K
    fire_bgfire_t4_mad_min_k: float = 5.0        #: δ4' > 5 K
    # fires: sun glint (day)
    fire_glint_angle_strict_deg: float = 2.0
    fire_glint_angle_bright_deg: float = 8.0
    fire_glint_angle_water_deg: float = 12.0
    fire_glint_red_min: float = 0.1
    fire_glint_nir_min: float = 0.2
    fire_glint_swir_min: float = 0.12
    # fires: desert boundary (day)
    fire_desert_bgfire_fraction_min: float = 0.1
    fire_desert_bgfire_count_min: int = 4
    fire_desert_nir_min: float = 0.15
    fire_desert_bgfire_t4_max_k: float = 345.0
    fire_desert_bgfire_t4_mad_max_k: float = 3.0
    fire_desert_mad_factor: float = 6.0
    # ships
    ship_enabled: bool = True
    ship_pfa: float = 1e-6                       #: per-pixel false-alarm probability of the CFAR test
    ship_guard_window_px: int = 9
    ship_background_window_px: int = 25
    ship_bg_min_fraction: float = 0.5            #: least share of the background ring that must be usable sea
    ship_min_pixels: int = 2
    ship_max_pixels: int = 500
    ship_min_length_px: float = 2.0
    ship_max_length_px: float = 50.0
    ship_land_ring_fraction_max: float = 0.25
    ship_cloud_buffer_px: int = 3
    ship_cold_tir_max_k: float = 1.0             #: a group this much colder at 11 µm than its sea is cloud, not a hull
    # floods
    flood_enabled: bool = True
    flood_min_area_m2: float = 10_000.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("bool", bool):
                if not isinstance(value, bool):
                    raise AnalysisConfigError(f.name, value, "True or False")
            elif f.type in ("int", int):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise AnalysisConfigError(f.name, value, "an integer")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise AnalysisConfigError(f.name, value, "a finite number")
        for name in ("cloud_threshold", "fire_bg_min_fraction", "ship_bg_min_fraction",
                     "ship_land_ring_fraction_max", "fire_desert_bgfire_fraction_min"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise AnalysisConfigError(name, getattr(self, name), "0..1")
        if not 0.0 <= self.night_sun_zenith_deg <= 180.0:
            raise AnalysisConfigError("night_sun_zenith_deg", self.night_sun_zenith_deg, "0..180 degrees")
        for name in ("fire_window_min_px", "fire_window_max_px", "ship_guard_window_px", "ship_background_window_px"):
            v = getattr(self, name)
            if v < 1 or v % 2 == 0 or v > 63:
                raise AnalysisConfigError(name, v, "an odd number of pixels 1..63")
        if not 3 <= self.fire_window_min_px <= self.fire_window_max_px:
            raise AnalysisConfigError("fire_window_min_px", self.fire_window_min_px,
                                      f"3..fire_window_max_px ({self.fire_window_max_px})")
        if self.ship_guard_window_px >= self.ship_background_window_px:
            raise AnalysisConfigError("ship_guard_window_px", self.ship_guard_window_px,
                                      f"less than ship_background_window_px ({self.ship_background_window_px})")
        if not 0.0 < self.ship_pfa < 0.5:
            raise AnalysisConfigError("ship_pfa", self.ship_pfa, "0 < Pfa < 0.5")
        if not 1 <= self.ship_min_pixels <= self.ship_max_pixels:
            raise AnalysisConfigError("ship_min_pixels", self.ship_min_pixels,
                                      f"1..ship_max_pixels ({self.ship_max_pixels})")
        if not 0.0 <= self.ship_min_length_px <= self.ship_max_length_px:
            raise AnalysisConfigError("ship_min_length_px", self.ship_min_length_px,
                                      f"0..ship_max_length_px ({self.ship_max_length_px})")
        for name in ("fire_bg_min_count", "ship_cloud_buffer_px", "flood_min_area_m2", "fire_desert_bgfire_count_min",
                     "ship_cold_tir_max_k"):
            if getattr(self, name) < 0:
                raise AnalysisConfigError(name, getattr(self, name), "0 or more")

    @property
    def ship_k_sigma(self) -> float:
        """The CFAR factor k = Φ⁻¹(1 − Pfa) for Gaussian sea clutter."""
        return float(ndtri(1.0 - self.ship_pfa))


@dataclass(frozen=True)
class Detection:
    """One geolocated detection.

    ``row``/``col`` are the float centroid in pixels; ``bbox`` is (row_start, col_start, row_stop, col_stop),
    stops exclusive. ``peak`` is in the kind's unit (:attr:`peak_unit`): FIRE the hottest T4 in K; SHIP the
    brightest NIR reflectance; FLOOD the share of the scene's observed reference land it covers; CLOUD the
    cloud fraction. ``frp_mw`` is for fires only, ``length_m``/``heading_deg`` (0..180, from north,
    clockwise) for ships only.
    """

    kind: str
    image_id: int
    row: float
    col: float
    lat_deg: float
    lon_deg: float
    area_m2: float
    peak: float
    confidence: float
    pixel_count: int
    bbox: tuple[int, int, int, int]
    frp_mw: float | None = None
    length_m: float | None = None
    heading_deg: float | None = None

    @property
    def peak_unit(self) -> str:
        """The unit of :attr:`peak`: ``'K'`` for fires, ``'1'`` otherwise."""
        return "K" if self.kind == "FIRE" else "1"

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of every field."""
        return {"kind": self.kind, "image_id": self.image_id, "row": self.row, "col": self.col,
                "lat_deg": self.lat_deg, "lon_deg": self.lon_deg, "area_m2": self.area_m2, "peak": self.peak,
                "peak_unit": self.peak_unit, "confidence": self.confidence, "pixel_count": self.pixel_count,
                "bbox": list(self.bbox), "frp_mw": self.frp_mw, "length_m": self.length_m,
                "heading_deg": self.heading_deg}


@dataclass(frozen=True)
class AnalysisResult:
    """What :func:`analyse` found in one scene.

    ``skipped`` is None, or why nothing but the cloud report was looked for; ``not_run`` names each detector
    that did not run and why; ``cloud_mask``/``water_mask``/``flood_mask`` are bool (rows, cols) (water and
    flood all False when the scene was skipped, flood all False when flood detection did not run; the flood
    mask holds exactly the pixels of the FLOOD detections); ``detections`` are sorted by kind, then by
    falling confidence.
    """

    image_id: int
    day: bool
    cloud_fraction: float
    cloud_mask: np.ndarray
    water_mask: np.ndarray
    flood_mask: np.ndarray
    skipped: str | None
    detections: tuple[Detection, ...]
    not_run: Mapping[str, str] = field(default_factory=dict)
    counts: Mapping[str, int] = field(init=False)

    def __post_init__(self) -> None:
        counts = {kind: 0 for kind in KINDS}
        for d in self.detections:
            counts[d.kind] += 1
        object.__setattr__(self, "counts", counts)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict of everything but the masks."""
        return {"image_id": self.image_id, "day": self.day, "cloud_fraction": self.cloud_fraction,
                "skipped": self.skipped, "not_run": dict(self.not_run), "counts": dict(self.counts),
                "detections": [d.to_json() for d in self.detections]}


# --------------------------------------------------------------------------------------------------------------
# geolocation


def _bilinear(grid: np.ndarray, row: float, col: float, *, wrap_deg: bool = False) -> float:
    rows, cols = grid.shape
    r0 = min(max(int(math.floor(row)), 0), max(rows - 2, 0))
    c0 = min(max(int(math.floor(col)), 0), max(cols - 2, 0))
    r1, c1 = min(r0 + 1, rows - 1), min(c0 + 1, cols - 1)
    fr = min(max(row - r0, 0.0), 1.0) if r1 > r0 else 0.0
    fc = min(max(col - c0, 0.0), 1.0) if c1 > c0 else 0.0
    corners = np.array([grid[r0, c0], grid[r0, c1], grid[r1, c0], grid[r1, c1]], dtype=np.float64)
    wrapped = wrap_deg and float(corners.max() - corners.min()) > 180.0
    if wrapped:
        # longitudes across the antimeridian: interpolate relative to the first corner
        corners = corners[0] + (corners - corners[0] + 180.0) % 360.0 - 180.0
    value = ((1 - fr) * ((1 - fc) * corners[0] + fc * corners[1]) + fr * ((1 - fc) * corners[2] + fc * corners[3]))
    if wrapped:
        value = (value + 180.0) % 360.0 - 180.0
    return float(value)


def _heading_deg(scene: Scene, row: float, col: float, axis_rc: tuple[float, float]) -> float:
    """Clockwise angle from north (0..180) of an image-plane direction (drow, dcol) at a pixel."""
    lat, lon = scene.lat_deg, scene.lon_deg
    rows, cols = lat.shape
    r = min(max(int(round(row)), 0), rows - 1)
    c = min(max(int(round(col)), 0), cols - 1)
    ra, rb = max(r - 1, 0), min(r + 1, rows - 1)
    ca, cb = max(c - 1, 0), min(c + 1, cols - 1)

    def step(a: tuple[int, int], b: tuple[int, int], n: int) -> tuple[float, float]:
        if n == 0:
            return 0.0, 0.0
        dlat = (lat[b] - lat[a]) / n
        dlon = ((lon[b] - lon[a] + 180.0) % 360.0 - 180.0) / n
        north = math.radians(dlat) * _EARTH_RADIUS_M
        east = math.radians(dlon) * _EARTH_RADIUS_M * math.cos(math.radians(lat[r, c]))
        return float(north), float(east)

    n_row, e_row = step((ra, c), (rb, c), rb - ra)
    n_col, e_col = step((r, ca), (r, cb), cb - ca)
    if n_row == e_row == n_col == e_col == 0.0:
        # no usable grid (a single pixel): assume north up
        n_row, e_row, n_col, e_col = -1.0, 0.0, 0.0, 1.0
    dr, dc = axis_rc
    north = n_row * dr + n_col * dc
    east = e_row * dr + e_col * dc
    heading = math.degrees(math.atan2(east, north)) % 180.0
    # a tiny negative angle modulo 180 rounds to 180.0 itself
    return 0.0 if heading >= 180.0 else heading


def _ramp(x: float, lo: float, hi: float) -> float:
    return float(min(max((x - lo) / (hi - lo), 0.0), 1.0))


class _Frame:
    """The scene and configuration every detector needs, and how a detection is made from pixels."""

    def __init__(self, scene: Scene, config: AnalysisConfig) -> None:
        self.scene = scene
        self.config = config
        self.pixel_area_m2 = float(scene.pixel_size_m) ** 2

    def detection(self, kind: str, rows: np.ndarray, cols: np.ndarray, *, peak: float, confidence: float,
                  centroid: tuple[float, float] | None = None, **extra: Any) -> Detection:
        """A detection of the pixels (rows, cols), geolocated at their centroid (or the one given)."""
        row, col = centroid if centroid is not None else (float(rows.mean()), float(cols.mean()))
        scene = self.scene
        return Detection(kind=kind, image_id=int(scene.image_id), row=row, col=col,
                         lat_deg=_bilinear(scene.lat_deg, row, col),
                         lon_deg=_bilinear(scene.lon_deg, row, col, wrap_deg=True),
                         area_m2=float(rows.size * self.pixel_area_m2), peak=float(peak),
                         confidence=float(min(max(confidence, 0.0), 1.0)), pixel_count=int(rows.size),
                         bbox=(int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1),
                         **extra)


# --------------------------------------------------------------------------------------------------------------
# masks


def _valid_mask(scene: Scene, bands: dict[str, np.ndarray]) -> np.ndarray:
    """Valid pixels; a band holding non-finite values is replaced in ``bands`` by a copy with zeros there."""
    valid = np.ones(scene.shape, dtype=bool) if scene.valid is None else scene.valid.copy()
    dirty = []
    for name, arr in bands.items():
        # one cheap sum tells whether the per-pixel test is needed at all
        if not np.isfinite(arr.sum(dtype=np.float64)):
            valid &= np.isfinite(arr)
            dirty.append(name)
    for name in dirty:
        # so masked arithmetic (value × mask) never meets NaN × 0
        bands[name] = np.where(valid, bands[name], 0).astype(bands[name].dtype)
    return valid


def _cloud_mask(*, tir: np.ndarray, red: np.ndarray | None, nir: np.ndarray | None, mwir: np.ndarray | None,
                valid: np.ndarray, day: bool, config: AnalysisConfig) -> np.ndarray:
    cfg = config
    cloud = tir < cfg.cloud_cold_tir_k
    if day:
        vis = red + nir
        cloud |= vis > cfg.cloud_day_bright_sum
        cloud |= (vis > cfg.cloud_day_moderate_sum) & (tir < cfg.cloud_moderate_tir_k)
    if mwir is not None:
        cloud &= ~(mwir > (cfg.fire_day_t4_absolute_k if day else cfg.fire_night_t4_absolute_k))
    return cloud & valid


def _ndwi(red: np.ndarray, swir: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (red - swir) / (red + swir)


# --------------------------------------------------------------------------------------------------------------
# detectors


def _meta_deg(meta: Mapping[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    """An angle from the scene's meta, or SceneError naming it."""
    value = meta.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise SceneError(f"meta.{name}", repr(value), f"a number of degrees {lo:g}..{hi:g}")
    return float(value)


def _fires(frame: _Frame, *, t4: np.ndarray, t11: np.ndarray, red: np.ndarray | None, nir: np.ndarray | None,
           swir: np.ndarray | None, usable: np.ndarray, cloud: np.ndarray, water: np.ndarray,
           day: bool) -> list[Detection]:
    scene = frame.scene
    meta = scene.meta or {}
    theta_s = float(scene.sun_zenith_deg)
    theta_v = _meta_deg(meta, "view_zenith_deg", 0.0, 0.0, 90.0)
    if "sun_azimuth_deg" in meta and "view_azimuth_deg" in meta:
        phi = math.radians(_meta_deg(meta, "sun_azimuth_deg", 0.0, -360.0, 360.0)
                           - _meta_deg(meta, "view_azimuth_deg", 0.0, -360.0, 360.0))
        cos_g = (math.cos(math.radians(theta_v)) * math.cos(math.radians(theta_s))
                 - math.sin(math.radians(theta_v)) * math.sin(math.radians(theta_s)) * math.cos(phi))
        glint_deg = math.degrees(math.acos(min(max(cos_g, -1.0), 1.0)))
    else:
        # unknown azimuths: the worst case (view opposite the sun); for a nadir view θg is the sun zenith
        glint_deg = abs(theta_s - theta_v)
    px = detect_fire_pixels(t4_k=t4, t11_k=t11, red=red, nir=nir, swir=swir, usable=usable, cloud=cloud,
                            water=water, day=day, glint_angle_deg=glint_deg, pixel_area_m2=frame.pixel_area_m2,
                            config=frame.config)
    return _fire_detections(frame, px)


def _fire_detections(frame: _Frame, px: FirePixels) -> list[Detection]:
    if px.rows.size == 0:
        return []
    r0, c0 = int(px.rows.min()), int(px.cols.min())
    mask = np.zeros((int(px.rows.max()) - r0 + 1, int(px.cols.max()) - c0 + 1), dtype=bool)
    mask[px.rows - r0, px.cols - c0] = True
    labels, _ = ndimage.label(mask, structure=_EIGHT)
    group = labels[px.rows - r0, px.cols - c0]
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    out = []
    for members in np.split(order, bounds):
        out.append(frame.detection("FIRE", px.rows[members], px.cols[members], peak=float(px.t4_k[members].max()),
                                   confidence=float(px.confidence[members].max()),
                                   frp_mw=float(px.frp_w[members].sum() / 1e6)))
    return out


def _tile_thresholds(v: np.ndarray, t11: np.ndarray, sea: np.ndarray, tile: int, k_pre: float, min_count: int,
                     cold_k: float) -> tuple[np.ndarray, np.ndarray]:
    """Per tile (tiles, tiles), from the sea of each tile and its 8 neighbours: the pre-screen threshold
    mean + k_pre σ of ``v``, and the T11 floor (sea mean − ``cold_k``) below which a pixel is cloud, not hull."""
    rows, cols = v.shape
    starts_r, starts_c = np.arange(0, rows, tile), np.arange(0, cols, tile)
    x = v * sea

    def tile_sum(a: np.ndarray) -> np.ndarray:
        s = np.add.reduceat(np.add.reduceat(a, starts_c, axis=1, dtype=np.float64), starts_r, axis=0)
        p = np.pad(s, 1)
        return sum(p[i:i + s.shape[0], j:j + s.shape[1]] for i in range(3) for j in range(3))

    n = tile_sum(sea)
    s1 = tile_sum(x)
    s2 = tile_sum(x * x)
    st = tile_sum(t11 * sea)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1 / n
        std = np.sqrt(np.maximum(s2 / n - mean * mean, 0.0))
        thr = mean + k_pre * std
        floor = st / n - cold_k
    enough = n >= min_count
    return np.where(enough, thr, np.inf), np.where(enough, floor, np.inf)


def _prescreen(v: np.ndarray, t11: np.ndarray, sea: np.ndarray, domain: np.ndarray, tile: int, k_pre: float,
               min_count: int, cold_k: float) -> np.ndarray:
    """Pixels of ``domain`` above their tile's pre-screen threshold and not below its T11 floor, one band of tile
    rows at a time (no full-size threshold image)."""
    thr, floor = _tile_thresholds(v, t11, sea, tile, k_pre, min_count, cold_k)
    thr_cols = np.repeat(thr, tile, axis=1)[:, :v.shape[1]].astype(v.dtype)
    floor_cols = np.repeat(floor, tile, axis=1)[:, :v.shape[1]].astype(t11.dtype)
    pre = np.empty(v.shape, dtype=bool)
    for i in range(thr.shape[0]):
        band = slice(i * tile, (i + 1) * tile)
        np.greater(v[band], thr_cols[i], out=pre[band])
        pre[band] &= t11[band] >= floor_cols[i]
    return pre & domain


def _coords(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the True pixels (np.nonzero is several times slower on 2-D arrays)."""
    return np.divmod(np.flatnonzero(mask), mask.shape[1])


def _ships(frame: _Frame, *, nir: np.ndarray, tir: np.ndarray, sea: np.ndarray, usable: np.ndarray,
           cloud: np.ndarray) -> list[Detection]:
    cfg = frame.config
    scene = frame.scene
    k = cfg.ship_k_sigma
    rows_n, cols_n = nir.shape
    tile = cfg.ship_background_window_px
    guard_half, bg_half = cfg.ship_guard_window_px // 2, cfg.ship_background_window_px // 2
    ring_cells = (2 * bg_half + 1) ** 2 - (2 * guard_half + 1) ** 2
    min_ring = max(1, int(math.ceil(cfg.ship_bg_min_fraction * ring_cells)))

    ref = scene.reference_water
    # where a hull may be: on the reference map's water when there is one (a coast would otherwise join the
    # pre-screen survivors of a ship moored next to it into one land-sized component, dropped whole)
    domain = usable if ref is None else usable & ref

    # stage 1: pre-screen against tile statistics
    pre = _prescreen(nir, tir, sea, domain, tile, k - _PRESCREEN_MARGIN_SIGMA, min_ring, cfg.ship_cold_tir_max_k)
    labels, count = ndimage.label(pre, structure=_EIGHT)
    if count == 0:
        return []
    cr, cc = _coords(pre)
    lab = labels[cr, cc]
    sizes = np.bincount(lab, minlength=count + 1)
    keep = (sizes >= cfg.ship_min_pixels) & (sizes <= _PRESCREEN_SIZE_FACTOR * cfg.ship_max_pixels)
    sel = keep[lab]
    cr, cc = cr[sel], cc[sel]
    if cr.size == 0:
        return []

    # stage 2: the exact CFAR at each surviving pixel (background ring = window minus guard, sea only)
    side = 2 * bg_half + 1
    ring = np.ones((side, side), dtype=bool)
    ring[bg_half - guard_half:bg_half + guard_half + 1, bg_half - guard_half:bg_half + guard_half + 1] = False
    ring = ring.reshape(-1)
    mean = np.empty(cr.size)
    std = np.empty(cr.size)
    n_ring = np.empty(cr.size, dtype=np.int64)
    step = max(1, _CHUNK_ELEMENTS // (side * side))
    for start in range(0, cr.size, step):
        part = slice(start, start + step)
        win = PixelWindows(nir.shape, cr[part], cc[part], bg_half)
        m = win.take(sea) & win.inside & ring
        x = win.take(nir).astype(np.float64) * m
        n = m.sum(axis=1)
        s1 = x.sum(axis=1)
        s2 = (x * x).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = s1 / n
            mean[part] = mu
            std[part] = np.sqrt(np.maximum(s2 / n - mu * mu, 0.0))
        n_ring[part] = n
    value = nir[cr, cc].astype(np.float64)
    with np.errstate(invalid="ignore"):
        hit = (n_ring >= min_ring) & (value > mean + k * std)
    cr, cc, value, mean, std = cr[hit], cc[hit], value[hit], mean[hit], std[hit]
    if cr.size == 0:
        return []
    target = np.zeros(nir.shape, dtype=bool)
    target[cr, cc] = True
    labels, count = ndimage.label(target, structure=_EIGHT)
    lab = labels[cr, cc]
    order = np.argsort(lab, kind="stable")
    bounds = np.flatnonzero(np.diff(lab[order])) + 1

    out = []
    pad = max(1, cfg.ship_cloud_buffer_px)
    for members in np.split(order, bounds):
        n = members.size
        if not cfg.ship_min_pixels <= n <= cfg.ship_max_pixels:
            continue
        rr, cc_ = cr[members], cc[members]
        r0, r1 = max(int(rr.min()) - pad, 0), min(int(rr.max()) + pad + 1, rows_n)
        c0, c1 = max(int(cc_.min()) - pad, 0), min(int(cc_.max()) + pad + 1, cols_n)
        comp = labels[r0:r1, c0:c1] == lab[members[0]]
        around = ndimage.binary_dilation(comp, structure=_EIGHT) & ~comp
        land = around & ~sea[r0:r1, c0:c1] & ~target[r0:r1, c0:c1] & usable[r0:r1, c0:c1]
        if land.sum() > cfg.ship_land_ring_fraction_max * around.sum():
            continue
        if cfg.ship_cloud_buffer_px > 0:
            b = cfg.ship_cloud_buffer_px
            near = ndimage.binary_dilation(comp, structure=_EIGHT, iterations=b) if b > 1 else comp | around
            if (near & cloud[r0:r1, c0:c1]).any():
                continue
        if ref is not None and ref[rr, cc_].mean() < 0.5:
            continue
        if _colder_than_sea(tir, sea & usable & ~target, rr, cc_, guard_half, bg_half) > cfg.ship_cold_tir_max_k:
            continue
        weight = np.maximum(value[members] - mean[members], 0.0)
        if weight.sum() <= 0:
            weight = np.ones(n)
        wsum = weight.sum()
        mr, mc = float((weight * rr).sum() / wsum), float((weight * cc_).sum() / wsum)
        dr, dc = rr - mr, cc_ - mc
        cov = np.array([[(weight * dr * dr).sum(), (weight * dr * dc).sum()],
                        [(weight * dr * dc).sum(), (weight * dc * dc).sum()]]) / wsum
        evals, evecs = np.linalg.eigh(cov)
        length_px = math.sqrt(12.0 * max(float(evals[1]), 0.0) + 1.0)
        if not cfg.ship_min_length_px <= length_px <= cfg.ship_max_length_px:
            continue
        axis = (float(evecs[0, 1]), float(evecs[1, 1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(std[members] > 0, (value[members] - mean[members]) / std[members], np.inf)
        out.append(frame.detection("SHIP", rr, cc_, peak=float(value[members].max()),
                                   confidence=_ramp(float(z.max()), k / 2.0, 2.0 * k), centroid=(mr, mc),
                                   length_m=length_px * float(scene.pixel_size_m),
                                   heading_deg=_heading_deg(scene, mr, mc, axis)))
    return out


def _colder_than_sea(tir: np.ndarray, sea: np.ndarray, rows: np.ndarray, cols: np.ndarray, guard_half: int,
                     bg_half: int) -> float:
    """How much colder (K) a group's mean T11 is than the sea around it (the bbox grown by the background
    window minus the bbox grown by the guard window); 0 when no sea is left there to compare with."""
    h, w = tir.shape
    r0, r1 = int(rows.min()), int(rows.max()) + 1
    c0, c1 = int(cols.min()), int(cols.max()) + 1
    wr0, wr1, wc0, wc1 = max(r0 - bg_half, 0), min(r1 + bg_half, h), max(c0 - bg_half, 0), min(c1 + bg_half, w)
    ring = sea[wr0:wr1, wc0:wc1].copy()
    ring[max(r0 - guard_half, 0) - wr0:min(r1 + guard_half, h) - wr0,
         max(c0 - guard_half, 0) - wc0:min(c1 + guard_half, w) - wc0] = False
    if not ring.any():
        return 0.0
    return float(tir[wr0:wr1, wc0:wc1][ring].mean(dtype=np.float64) - tir[rows, cols].mean(dtype=np.float64))


def _floods(frame: _Frame, *, water: np.ndarray, ndwi: np.ndarray, usable: np.ndarray,
            flood_mask: np.ndarray) -> list[Detection]:
    """FLOOD detections; their pixels are set in ``flood_mask`` (all False on entry)."""
    cfg = frame.config
    ref = frame.scene.reference_water
    new = water & ~ref
    labels, count = ndimage.label(new, structure=_EIGHT)
    if count == 0:
        return []
    rows, cols = _coords(new)
    lab = labels[rows, cols]
    sizes = np.bincount(lab, minlength=count + 1)
    min_px = max(1, int(math.ceil(cfg.flood_min_area_m2 / frame.pixel_area_m2 - 1e-9)))
    sel = sizes[lab] >= min_px
    if not sel.any():
        return []
    rows, cols, lab = rows[sel], cols[sel], lab[sel]
    flood_mask[rows, cols] = True
    land_px = max(int((usable & ~ref).sum()), 1)
    out = []
    order = np.argsort(lab, kind="stable")
    for members in np.split(order, np.flatnonzero(np.diff(lab[order])) + 1):
        rr, cc = rows[members], cols[members]
        median = float(np.median(ndwi[rr, cc]))
        out.append(frame.detection("FLOOD", rr, cc, peak=rr.size / land_px,
                                   confidence=_ramp(median, cfg.water_ndwi_min - 0.2, cfg.water_ndwi_min + 0.3)))
    return out


# --------------------------------------------------------------------------------------------------------------


def analyse(scene: Scene, *, config: AnalysisConfig = AnalysisConfig()) -> AnalysisResult:
    """Cloud-screen a scene and find its fires, ships and floods (SceneError naming a missing band)."""
    cfg = config
    day = float(scene.sun_zenith_deg) <= cfg.night_sun_zenith_deg
    needed = ["tir"]
    if day:
        needed += ["red", "nir", "swir"]
    if cfg.fire_enabled:
        needed.append("mwir")
    bands = {name: scene.band(name) for name in needed}
    valid = _valid_mask(scene, bands)
    tir, mwir = bands["tir"], bands.get("mwir")
    red, nir, swir = bands.get("red"), bands.get("nir"), bands.get("swir")
    frame = _Frame(scene, cfg)

    cloud = _cloud_mask(tir=tir, red=red, nir=nir, mwir=mwir, valid=valid, day=day, config=cfg)
    n_valid = int(valid.sum())
    n_cloud = int(cloud.sum())
    fraction = n_cloud / n_valid if n_valid else 0.0
    no_water = np.zeros(scene.shape, dtype=bool)
    if n_valid == 0:
        reason = "no valid pixels"
        return AnalysisResult(int(scene.image_id), day, 0.0, cloud, no_water, no_water.copy(), reason, (),
                              {kind: reason for kind in KINDS[1:]})
    if fraction > cfg.cloud_threshold:
        reason = f"cloud fraction {fraction:.2f} above threshold {cfg.cloud_threshold:g}"
        rows, cols = scene.shape
        cr, cc = _coords(cloud)
        report = frame.detection("CLOUD", cr, cc, peak=fraction, confidence=1.0,
                                 centroid=((rows - 1) / 2.0, (cols - 1) / 2.0))
        return AnalysisResult(int(scene.image_id), day, fraction, cloud, no_water, no_water.copy(), reason, (report,),
                              {kind: reason for kind in KINDS[1:]})

    usable = valid & ~cloud
    not_run: dict[str, str] = {}
    ndwi = None
    if day:
        ndwi = _ndwi(red, swir)
        water = (ndwi > cfg.water_ndwi_min) & (nir < cfg.water_nir_max) & usable
    elif scene.reference_water is not None:
        water = scene.reference_water & usable
    else:
        water = no_water
    fire_water = water | (scene.reference_water & usable) if scene.reference_water is not None else water

    flood = np.zeros(scene.shape, dtype=bool)
    detections: list[Detection] = []
    if not cfg.fire_enabled:
        not_run["FIRE"] = "disabled"
    else:
        detections += _fires(frame, t4=mwir, t11=tir, red=red, nir=nir, swir=swir, usable=usable, cloud=cloud,
                             water=fire_water, day=day)
    if not cfg.ship_enabled:
        not_run["SHIP"] = "disabled"
    elif not day:
        not_run["SHIP"] = "night: the reflective bands carry no signal"
    else:
        detections += _ships(frame, nir=nir, tir=tir, sea=water, usable=usable, cloud=cloud)
    if not cfg.flood_enabled:
        not_run["FLOOD"] = "disabled"
    elif not day:
        not_run["FLOOD"] = "night: the reflective bands carry no signal"
    elif scene.reference_water is None:
        not_run["FLOOD"] = "no reference_water map in the scene"
    else:
        detections += _floods(frame, water=water, ndwi=ndwi, usable=usable, flood_mask=flood)

    detections.sort(key=lambda d: (KINDS.index(d.kind), -d.confidence, d.row, d.col))
    return AnalysisResult(int(scene.image_id), day, fraction, cloud, water, flood, None, tuple(detections), not_run)
