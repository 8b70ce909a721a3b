"""Seeded synthetic scenes with exact truth: land, water, clouds, fires, ships, floods, decoys and sensor effects.

:func:`synthesize` turns a :class:`SceneConfig` and a seed into a :class:`~spacecraft.payload.scenefile.Scene`
(the bands of :data:`~spacecraft.payload.scenefile.BANDS`, in their units) and a :class:`Truth` saying
exactly what was put where. Same config and seed, same scene, bit for bit.

How the picture is made, and why:

* Physics in radiance, output in the bands' units. Thermal bands are monochromatic at 3.9 and 11 µm:
  every surface, fire, hull and cloud contributes spectral radiance (Planck's law, its radiation
  constants derived from the exact SI values of h, c and k), pixels mix radiance by area (a fire of
  area A in a pixel of area P gives ``L = p·B(λ,T_fire) + (1 − p)·L_background`` with ``p = A/P``),
  and only the finished radiance is turned back into brightness temperature. Mixing temperatures
  instead would turn the +85 K a 100 m², 1000 K fire gives a 200 m pixel at 3.9 µm into +1.75 K.
* Daytime MWIR is emission plus reflected sunlight: ``L₃.₉ = (1 − ρ)·B(3.9 µm, T) + ρ·E☉·cos θs / π``,
  with the solar irradiance at 3.9 µm from a 5772 K sun (IAU 2015 nominal radius and temperature) at
  1 au, ≈ 10.0 W m⁻² µm⁻¹. That is why desert, glint and sunlit cloud edges look warm at 3.9 µm and
  not at 11 µm — the decoys a fire detector must survive.
* Reflective bands are top-of-canopy reflectance (no atmosphere). Fires add SWIR emission by day as
  apparent reflectance ``π·L/(E☉·cos θs)`` with E☉(1.61 µm) = 245.59 W m⁻² µm⁻¹ (Sentinel-2A band 11,
  Thuillier 2003 spectrum). Past :data:`NIGHT_SUN_ZENITH_DEG` the reflective bands carry no signal
  (reflectance is undefined without the sun) and nothing is reflected at 3.9 µm.
* Surfaces (:data:`VEGETATION`, :data:`BARE_SOIL`, :data:`DESERT`, :data:`WATER`, :data:`FLOOD_WATER`):
  typical library spectra (dry savanna vegetation in the fire season red 0.045 / NIR 0.27 / SWIR 0.19 --
  green canopy reaches NIR 0.36-0.5, but then it seldom burns --, quartz sand 0.30 / 0.35 /
  0.45, clear water 0.03 / 0.02 / 0.01); 3.9 µm reflectance 1 − emissivity (water 0.02, vegetation 0.05,
  sand 0.30); skin temperature ``T_night + rise·cos θs`` so that at θs = 35° vegetation is ~300 K,
  desert ~320 K (hot spots ~330 K) and water ~291 K, and water is the warmest surface at night.
* Texture: Gaussian random fields (white noise smoothed by ``scipy.ndimage.gaussian_filter`` on a
  coarse grid and interpolated up, so a 30-pixel correlation length costs no more than a 3-pixel one).
  Coasts, deserts and cloud decks are thresholds of such fields at the quantile that gives the
  configured fraction, so their edges are sharp and the fractions exact.
* Clouds: opacity ramps from 0 to 1 across a few pixels at the deck's edge (the truth mask is opacity
  ≥ 0.5); cloud tops 268 K at the edge to 223 K in the thickest core; reflectance 0.45–0.80 (red/NIR),
  0.6× that in the SWIR (droplet absorption), 0.06–0.12 at 3.9 µm.
* Targets: fires (random ones in clear vegetation, log-uniform area, uniform temperature), ships
  (hull reflectance 0.12–0.30, rectangles length/width 5–8 on clear open water, 1–3 K warmer than
  the sea), one flood blob of vegetated land touching the reference water (``reference_water`` is
  the pre-flood map; the scene shows the flood, sediment-laden: red 0.07, NIR 0.05).
* Decoys, by day only (each needs sunlight), recorded with the pixels they change: sun glint
  (specular patches on open water with lognormal sparkle, +0.15–0.45 reflectance in every band and
  at 3.9 µm; the glint geometry itself — sun and view angles — is not modelled, the patches are put
  where it is assumed to hold), hot desert edges (desert heated 8–12 K·cos θs right against
  vegetation, the boundary one pixel sharp), and sunlit cloud edges over vegetation (3.9 µm cloud
  reflectance raised by 0.25–0.40: tens of kelvin warmer at 3.9 µm than at 11 µm).
* Sensor, applied in this order: smear (a line kernel ``body rate × exposure / IFOV`` pixels long,
  convolved with radiance and reflectance), noise (NEdT in kelvin on mwir/tir, absolute reflectance
  noise), saturation (clipped at the configured level and still valid: a saturated pixel reads the top
  of its range, a lower bound of the truth, as a real sensor's saturated counts do, and the biggest
  fires are exactly the pixels that saturate), dead pixels (all bands at a fixed level — reflectance
  0, 150 K — and marked invalid).
* Randomness: every component (water, clouds, fires, noise, ...) draws from its own generator,
  ``numpy.random.default_rng([seed, component])``, so adding a fire leaves the background, the
  clouds and the noise of the same seed untouched — which is what makes paired with/without tests
  possible.
* Truth positions use the continuous pixel coordinate of :mod:`.geometry`: pixel (i, j) is centred at
  (i, j) and covers [i − ½, i + ½) × [j − ½, j + ½); a fire is a square of its true area on that grid,
  so its per-pixel fractions add up to exactly its area.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage, signal

from spacecraft.adcs.environment import WGS84_A_M, WGS84_E2
from spacecraft.payload.geometry import local_grid
from spacecraft.payload.scenefile import BANDS, Scene

from .errors import PayloadError

__all__ = [
    "BARE_SOIL",
    "C1_W_M2_SR",
    "C2_M_K",
    "DEAD_BT_K",
    "DEAD_REFLECTANCE",
    "DESERT",
    "FLOOD_WATER",
    "Fire",
    "NIGHT_SUN_ZENITH_DEG",
    "SOLAR_IRRADIANCE_MWIR_W_M2_UM",
    "SOLAR_IRRADIANCE_SWIR_W_M2_UM",
    "SceneConfig",
    "SceneConfigError",
    "Ship",
    "SurfaceClass",
    "Truth",
    "TruthDecoy",
    "TruthTarget",
    "VEGETATION",
    "WATER",
    "WAVELENGTH_UM",
    "brightness_temperature_k",
    "mix_fire_bt_k",
    "planck_radiance_w_m2_sr_um",
    "synthesize",
]

# the defining constants of the SI (2019), exact: the radiation constants follow from them
_PLANCK_J_S = 6.62607015e-34
_LIGHT_M_S = 299792458.0
_BOLTZMANN_J_K = 1.380649e-23
#: First radiation constant for spectral radiance, c1L = 2hc² ≈ 1.191042972e-16 W m² sr⁻¹.
C1_W_M2_SR = 2.0 * _PLANCK_J_S * _LIGHT_M_S ** 2
#: Second radiation constant, c2 = hc/k ≈ 1.438776877e-2 m K.
C2_M_K = _PLANCK_J_S * _LIGHT_M_S / _BOLTZMANN_J_K
#: Centre wavelength of each band, µm (thermal bands are treated as monochromatic there).
WAVELENGTH_UM: dict[str, float] = {"red": 0.64, "nir": 0.86, "swir": 1.6, "mwir": 3.9, "tir": 11.0}
#: Sun zenith angle beyond which a scene is night: no reflected sunlight in any band.
NIGHT_SUN_ZENITH_DEG = 85.0

_SUN_TEMPERATURE_K = 5772.0  # IAU 2015 Resolution B3, nominal effective temperature
_SUN_RADIUS_M = 6.957e8  # IAU 2015 Resolution B3, nominal solar radius
_AU_M = 1.495978707e11  # IAU 2012 Resolution B2
#: Sentinel-2A band 11 (1.61 µm) exo-atmospheric solar irradiance, W m⁻² µm⁻¹ (Thuillier 2003 spectrum).
SOLAR_IRRADIANCE_SWIR_W_M2_UM = 245.59

#: Dead pixels read these values (in every band's range, as a real dead element reads its offset).
DEAD_REFLECTANCE = 0.0
DEAD_BT_K = BANDS["tir"][1]

# stream numbers for numpy.random.default_rng([seed, stream]); never renumber (scenes would change)
_STREAM = {"water": 1, "desert": 2, "soil": 3, "temperature": 4, "sea": 5, "cloud": 6, "flood": 7,
           "glint": 8, "hot_edge": 9, "cloud_edge": 10, "ships": 11, "fires": 12, "noise": 13, "dead": 14,
           "texture": 15}


def planck_radiance_w_m2_sr_um(wavelength_um: Any, temperature_k: Any) -> Any:
    """Blackbody spectral radiance B(λ, T), W m⁻² sr⁻¹ µm⁻¹ (scalars or arrays that broadcast)."""
    lam_m = np.asarray(wavelength_um, dtype=float) * 1e-6
    t = np.asarray(temperature_k, dtype=float)
    return C1_W_M2_SR / (lam_m ** 5 * np.expm1(C2_M_K / (lam_m * t))) * 1e-6


def brightness_temperature_k(wavelength_um: Any, radiance_w_m2_sr_um: Any) -> Any:
    """Temperature of the blackbody with spectral radiance L at λ (inverse of Planck's law; L > 0), kelvin."""
    lam_m = np.asarray(wavelength_um, dtype=float) * 1e-6
    rad = np.asarray(radiance_w_m2_sr_um, dtype=float) * 1e6
    return C2_M_K / (lam_m * np.log1p(C1_W_M2_SR / (lam_m ** 5 * rad)))


def mix_fire_bt_k(background_bt_k: Any, fire_temperature_k: Any, fraction: Any, wavelength_um: float) -> Any:
    """Brightness temperature of a pixel whose ``fraction`` (fire area / pixel area) burns at the fire temperature."""
    p = np.asarray(fraction, dtype=float)
    rad = p * planck_radiance_w_m2_sr_um(wavelength_um, fire_temperature_k) \
        + (1.0 - p) * planck_radiance_w_m2_sr_um(wavelength_um, background_bt_k)
    return brightness_temperature_k(wavelength_um, rad)


SOLAR_IRRADIANCE_MWIR_W_M2_UM = float(
    math.pi * (_SUN_RADIUS_M / _AU_M) ** 2 * planck_radiance_w_m2_sr_um(WAVELENGTH_UM["mwir"], _SUN_TEMPERATURE_K))


@dataclass(frozen=True)
class SurfaceClass:
    """A surface's reflectance (red, NIR, SWIR, 3.9 µm) and skin temperature ``night_k + day_rise_k·cos θs``."""

    red: float
    nir: float
    swir: float
    mwir_reflectance: float
    night_k: float
    day_rise_k: float

    def skin_k(self, mu0: float) -> float:
        """Skin temperature for a sun at cos(zenith) ``mu0`` (0 at night)."""
        return self.night_k + self.day_rise_k * mu0


VEGETATION = SurfaceClass(red=0.045, nir=0.27, swir=0.19, mwir_reflectance=0.05, night_k=288.0, day_rise_k=15.0)
BARE_SOIL = SurfaceClass(red=0.16, nir=0.26, swir=0.32, mwir_reflectance=0.12, night_k=287.0, day_rise_k=28.0)
DESERT = SurfaceClass(red=0.30, nir=0.35, swir=0.45, mwir_reflectance=0.30, night_k=286.0, day_rise_k=42.0)
WATER = SurfaceClass(red=0.03, nir=0.02, swir=0.01, mwir_reflectance=0.02, night_k=289.5, day_rise_k=2.0)
#: Sediment-laden flood water: brighter in red than clear water, still dark in NIR/SWIR.
FLOOD_WATER = SurfaceClass(red=0.07, nir=0.05, swir=0.025, mwir_reflectance=0.03, night_k=291.0, day_rise_k=4.0)
#: Burnt ground under a fire (char and ash), mixed in by the burning fraction.
_CHAR = SurfaceClass(red=0.04, nir=0.06, swir=0.08, mwir_reflectance=0.05, night_k=0.0, day_rise_k=0.0)
_HULL_MWIR_REFLECTANCE = 0.08
_CLOUD_EDGE_K = 268.0
_CLOUD_CORE_K = 223.0


class SceneConfigError(PayloadError):
    """A scene request that cannot be synthesised: names the field, its value and what is allowed."""


def _check_position(kind: str, row: float | None, col: float | None, lat: float | None, lon: float | None) -> None:
    by_pixel = row is not None and col is not None
    by_place = lat is not None and lon is not None
    stray = any(v is not None for v in (row, col)) and not by_pixel or \
        any(v is not None for v in (lat, lon)) and not by_place
    if by_pixel == by_place or stray:
        raise SceneConfigError(f"{kind} position", f"row={row} col={col} lat_deg={lat} lon_deg={lon}",
                               "either row and col (pixel coordinates) or lat_deg and lon_deg, not both")


@dataclass(frozen=True, kw_only=True)
class Fire:
    """An explicit fire: area and temperature, at a pixel position (row, col) or at a geodetic lat/lon."""

    area_m2: float
    temperature_k: float
    row: float | None = None
    col: float | None = None
    lat_deg: float | None = None
    lon_deg: float | None = None

    def __post_init__(self) -> None:
        _check_position("Fire", self.row, self.col, self.lat_deg, self.lon_deg)
        if not (math.isfinite(self.area_m2) and self.area_m2 > 0):
            raise SceneConfigError("Fire.area_m2", self.area_m2, "a positive area in m²")
        if not (400.0 <= self.temperature_k <= 2500.0):
            raise SceneConfigError("Fire.temperature_k", self.temperature_k, "400..2500 K")


@dataclass(frozen=True, kw_only=True)
class Ship:
    """An explicit ship: hull length (and width, default length/6), bow azimuth, at a pixel or a lat/lon."""

    length_m: float
    width_m: float | None = None
    heading_deg: float = 0.0
    row: float | None = None
    col: float | None = None
    lat_deg: float | None = None
    lon_deg: float | None = None

    def __post_init__(self) -> None:
        _check_position("Ship", self.row, self.col, self.lat_deg, self.lon_deg)
        if not (math.isfinite(self.length_m) and self.length_m > 0):
            raise SceneConfigError("Ship.length_m", self.length_m, "a positive length in metres")
        if self.width_m is not None and not (math.isfinite(self.width_m) and 0 < self.width_m <= self.length_m):
            raise SceneConfigError("Ship.width_m", self.width_m, f"a positive width up to length_m ({self.length_m})")
        if not math.isfinite(self.heading_deg):
            raise SceneConfigError("Ship.heading_deg", self.heading_deg, "a finite azimuth in degrees")


@dataclass(frozen=True, kw_only=True)
class SceneConfig:
    """Everything :func:`synthesize` can vary. Defaults: a 512×512, 200 m daytime scene of a savanna coast."""

    rows: int = 512
    cols: int = 512
    pixel_size_m: float = 200.0
    center_lat_deg: float = -17.9  # the Kimberley coast near Broome: savanna, sea, desert inland, fire season
    center_lon_deg: float = 122.3
    heading_deg: float = 0.0  # azimuth of the image's up direction (geometry.local_grid)
    sun_zenith_deg: float = 35.0
    image_id: int = 0
    time_utc: str | None = None
    # land cover (fractions of the scene)
    water_fraction: float = 0.2
    desert_fraction: float = 0.15
    cloud_fraction: float = 0.15
    # fires: fire_count random ones in clear vegetation, plus the explicit ``fires``
    fire_count: int = 5
    fire_area_m2: tuple[float, float] = (10.0, 1.0e4)  # drawn log-uniform
    fire_temperature_k: tuple[float, float] = (600.0, 1200.0)  # drawn uniform
    fires: tuple[Fire, ...] = ()
    # ships: ship_count random ones on clear open water, plus the explicit ``ships``
    ship_count: int = 4
    ship_length_px: tuple[float, float] = (3.0, 30.0)
    ships: tuple[Ship, ...] = ()
    sea_state: float = 0.004  # standard deviation of the sea's red reflectance texture (NIR 0.7×, SWIR 0.3×)
    # flood: land next to the reference water shown flooded
    flood: bool = True
    flood_radius_px: float = 25.0
    # decoys (daytime only: each needs sunlight)
    decoys: bool = True
    glint_count: int = 2
    hot_edge_count: int = 3
    cloud_edge_count: int = 3
    # sensor
    nedt_mwir_k: float = 0.3
    nedt_tir_k: float = 0.2
    reflectance_noise: float = 0.002
    dead_pixel_fraction: float = 1e-4
    mwir_saturation_k: float = 500.0
    tir_saturation_k: float = 400.0
    reflectance_saturation: float = 1.5
    body_rate_rad_s: float = 0.0
    exposure_s: float = 0.002
    ifov_rad: float = 4.0e-4  # 200 m from 500 km
    smear_direction_deg: float = 0.0  # 0: along increasing row, 90: along increasing column

    def __post_init__(self) -> None:
        object.__setattr__(self, "fires", tuple(self.fires))
        object.__setattr__(self, "ships", tuple(self.ships))
        for name in ("rows", "cols"):
            _int_in(name, getattr(self, name), 16, 8192)
        _num_in("pixel_size_m", self.pixel_size_m, 0.1, 100_000.0)
        _num_in("center_lat_deg", self.center_lat_deg, -89.0, 89.0)
        _num_in("center_lon_deg", self.center_lon_deg, -180.0, 180.0)
        _num_in("heading_deg", self.heading_deg, -360.0, 360.0)
        _num_in("sun_zenith_deg", self.sun_zenith_deg, 0.0, 180.0)
        _int_in("image_id", self.image_id, 0, 0xFFFF)
        if self.time_utc is not None and not isinstance(self.time_utc, str):
            raise SceneConfigError("time_utc", self.time_utc, "None or an ISO 8601 UTC string")
        for name in ("water_fraction", "desert_fraction", "cloud_fraction"):
            _num_in(name, getattr(self, name), 0.0, 0.95)
        if self.water_fraction + self.desert_fraction > 0.95:
            raise SceneConfigError("water_fraction + desert_fraction", self.water_fraction + self.desert_fraction,
                                   "at most 0.95 (leave some vegetated land)")
        for name in ("fire_count", "ship_count", "glint_count", "hot_edge_count", "cloud_edge_count"):
            _int_in(name, getattr(self, name), 0, 10_000)
        _range_in("fire_area_m2", self.fire_area_m2, 1e-3, 1e9)
        _range_in("fire_temperature_k", self.fire_temperature_k, 400.0, 2500.0)
        _range_in("ship_length_px", self.ship_length_px, 1.0, 200.0)
        for name, kind in (("fires", Fire), ("ships", Ship)):
            for item in getattr(self, name):
                if not isinstance(item, kind):
                    raise SceneConfigError(name, type(item).__name__, f"{kind.__name__} instances")
        _num_in("sea_state", self.sea_state, 0.0, 0.05)
        if not isinstance(self.flood, bool) or not isinstance(self.decoys, bool):
            raise SceneConfigError("flood/decoys", (self.flood, self.decoys), "True or False")
        _num_in("flood_radius_px", self.flood_radius_px, 1.0, 4096.0)
        for name in ("nedt_mwir_k", "nedt_tir_k"):
            _num_in(name, getattr(self, name), 0.0, 5.0)
        _num_in("reflectance_noise", self.reflectance_noise, 0.0, 0.05)
        _num_in("dead_pixel_fraction", self.dead_pixel_fraction, 0.0, 0.1)
        _num_in("mwir_saturation_k", self.mwir_saturation_k, 330.0, BANDS["mwir"][2])
        _num_in("tir_saturation_k", self.tir_saturation_k, 320.0, BANDS["tir"][2])
        _num_in("reflectance_saturation", self.reflectance_saturation, 1.0, BANDS["red"][2])
        _num_in("body_rate_rad_s", self.body_rate_rad_s, 0.0, 1.0)
        _num_in("exposure_s", self.exposure_s, 0.0, 10.0)
        _num_in("ifov_rad", self.ifov_rad, 1e-7, 0.1)
        _num_in("smear_direction_deg", self.smear_direction_deg, -360.0, 360.0)
        if self.smear_px > min(self.rows, self.cols) / 4:
            raise SceneConfigError("body_rate_rad_s × exposure_s / ifov_rad", f"{self.smear_px:.4g} px",
                                   f"at most a quarter of the scene ({min(self.rows, self.cols) / 4:g} px)")

    @property
    def smear_px(self) -> float:
        """Motion smear during the exposure: body rate × exposure / IFOV, pixels."""
        return self.body_rate_rad_s * self.exposure_s / self.ifov_rad

    @property
    def is_night(self) -> bool:
        """True when the sun is too low for any reflected light (sun zenith > :data:`NIGHT_SUN_ZENITH_DEG`)."""
        return self.sun_zenith_deg > NIGHT_SUN_ZENITH_DEG


def _int_in(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise SceneConfigError(name, value, f"an integer {lo}..{hi}")


def _num_in(name: str, value: Any, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(value) or not lo <= value <= hi:
        raise SceneConfigError(name, value, f"a number {lo:g}..{hi:g}")


def _range_in(name: str, value: Any, lo: float, hi: float) -> None:
    if not (isinstance(value, Sequence) and len(value) == 2):
        raise SceneConfigError(name, value, f"a (low, high) pair within {lo:g}..{hi:g}")
    _num_in(f"{name}[0]", value[0], lo, hi)
    _num_in(f"{name}[1]", value[1], lo, hi)
    if value[0] > value[1]:
        raise SceneConfigError(name, value, "low <= high")


# ---------------------------------------------------------------------------------------------- truth


@dataclass(frozen=True)
class TruthTarget:
    """One real target: kind 'FIRE', 'SHIP' or 'FLOOD', its centroid (pixel and geodetic) and what it is."""

    kind: str
    row: float
    col: float
    lat_deg: float
    lon_deg: float
    area_m2: float
    temperature_k: float | None = None  # fires
    length_m: float | None = None  # ships
    heading_deg: float | None = None  # ships: bow azimuth, clockwise from north
    pixels: tuple[tuple[int, int], ...] = ()  # every pixel the target covers (inside the scene)
    cloud_covered: bool = False  # most of it under cloud (opacity >= 0.5): no sensor could see it

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict of every field (pixels as [row, col] pairs)."""
        return {"kind": self.kind, "row": float(self.row), "col": float(self.col),
                "lat_deg": float(self.lat_deg), "lon_deg": float(self.lon_deg), "area_m2": float(self.area_m2),
                "temperature_k": _opt(self.temperature_k), "length_m": _opt(self.length_m),
                "heading_deg": _opt(self.heading_deg), "pixels": [[int(r), int(c)] for r, c in self.pixels],
                "cloud_covered": bool(self.cloud_covered)}


@dataclass(frozen=True)
class TruthDecoy:
    """Something that looks like a target and is not: 'GLINT', 'HOT_DESERT_EDGE' or 'CLOUD_EDGE'."""

    kind: str
    row: float
    col: float
    lat_deg: float
    lon_deg: float
    pixels: tuple[tuple[int, int], ...] = ()  # the pixels it changes; a detection there is a false alarm

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict of every field (pixels as [row, col] pairs)."""
        return {"kind": self.kind, "row": float(self.row), "col": float(self.col), "lat_deg": float(self.lat_deg),
                "lon_deg": float(self.lon_deg), "pixels": [[int(r), int(c)] for r, c in self.pixels]}


def _opt(x: float | None) -> float | None:
    return None if x is None else float(x)


@dataclass(frozen=True)
class Truth:
    """What :func:`synthesize` put in a scene: masks (rows, cols), targets, decoys and the sensor effects applied."""

    image_id: int
    cloud_fraction: float  # mean of cloud_mask
    cloud_mask: np.ndarray  # cloud opacity >= 0.5
    water_mask: np.ndarray  # surface water as imaged (reference water and flood)
    flood_mask: np.ndarray  # flooded land: water now, land in the scene's reference_water
    targets: tuple[TruthTarget, ...]
    decoys: tuple[TruthDecoy, ...]
    smear_px: float
    noise: Mapping[str, float]  # nedt_mwir_k, nedt_tir_k, reflectance, dead/saturated pixel counts
    seed: int = 0

    def targets_of(self, kind: str) -> list[TruthTarget]:
        """The targets of one kind ('FIRE', 'SHIP', 'FLOOD')."""
        return [t for t in self.targets if t.kind == kind]

    def to_json(self) -> dict[str, Any]:
        """JSON-able summary: everything but the masks, which are summarised by their pixel counts."""
        return {"image_id": int(self.image_id), "seed": int(self.seed), "shape": list(self.cloud_mask.shape),
                "cloud_fraction": float(self.cloud_fraction),
                "cloud_pixel_count": int(self.cloud_mask.sum()), "water_pixel_count": int(self.water_mask.sum()),
                "flood_pixel_count": int(self.flood_mask.sum()), "smear_px": float(self.smear_px),
                "noise": {k: (int(v) if isinstance(v, (int, np.integer)) else float(v)) for k, v in self.noise.items()},
                "targets": [t.to_json() for t in self.targets], "decoys": [d.to_json() for d in self.decoys]}


# ---------------------------------------------------------------------------------------------- fields


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAM[stream]])


def _gaussian_field(rng: np.random.Generator, shape: tuple[int, int], scale_px: float) -> np.ndarray:
    """Zero-mean, unit-variance random field with correlation length ~``scale_px`` pixels."""
    # smooth on a grid `step` times coarser and interpolate up: the filter's cost no longer grows with scale
    step = max(1, int(scale_px // 3))
    coarse = rng.standard_normal((shape[0] // step + 3, shape[1] // step + 3))
    coarse = ndimage.gaussian_filter(coarse, scale_px / step, mode="wrap")
    if step > 1:
        coarse = _upsample(coarse, step, shape)
    else:
        coarse = coarse[:shape[0], :shape[1]]
    coarse -= coarse.mean()
    sd = coarse.std()
    return coarse / sd if sd > 0 else coarse


def _upsample(coarse: np.ndarray, step: int, shape: tuple[int, int]) -> np.ndarray:
    """Separable linear interpolation of a coarse grid (spacing ``step``) onto ``shape``."""
    out = coarse
    for axis, n in enumerate(shape):
        x = np.arange(n) / step + 1.0
        i = np.floor(x).astype(int)
        w = x - i
        lo, hi = np.take(out, i, axis=axis), np.take(out, i + 1, axis=axis)
        w = w[:, None] if axis == 0 else w[None, :]
        out = lo * (1.0 - w) + hi * w
    return out


def _threshold_at_fraction(values: np.ndarray, fraction: float) -> float:
    """Level above which ``fraction`` of ``values`` lie."""
    if fraction <= 0:
        return math.inf
    k = min(values.size - 1, max(0, int(round((1.0 - fraction) * values.size))))
    return float(np.partition(values.ravel(), k)[k])


def _disc(radius: float) -> np.ndarray:
    r = int(math.ceil(radius))
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    return x * x + y * y <= radius * radius


def _margin_mask(shape: tuple[int, int], margin: int) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    m[margin:shape[0] - margin, margin:shape[1] - margin] = True
    return m


def _pick_spaced(rng: np.random.Generator, candidates: np.ndarray, count: int,
                 spacing_px: float) -> list[tuple[int, int]]:
    """Up to ``count`` random True pixels of ``candidates``, at least ``spacing_px`` apart."""
    rows, cols = np.nonzero(candidates)
    order = rng.permutation(rows.size)
    chosen: list[tuple[int, int]] = []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if all((r - r2) ** 2 + (c - c2) ** 2 >= spacing_px ** 2 for r2, c2 in chosen):
            chosen.append((r, c))
            if len(chosen) == count:
                break
    return chosen


def _window(shape: tuple[int, int], r: float, c: float, radius: float) -> tuple[slice, slice, np.ndarray]:
    """Slices of a square window around (r, c) clipped to the scene, and the distance of its pixels from (r, c)."""
    r0, r1 = max(0, int(math.floor(r - radius))), min(shape[0], int(math.ceil(r + radius)) + 1)
    c0, c1 = max(0, int(math.floor(c - radius))), min(shape[1], int(math.ceil(c + radius)) + 1)
    rr, cc = np.mgrid[r0:r1, c0:c1]
    return slice(r0, r1), slice(c0, c1), np.hypot(rr - r, cc - c)


def _pixels_of(mask: np.ndarray, r0: int = 0, c0: int = 0) -> tuple[tuple[int, int], ...]:
    rr, cc = np.nonzero(mask)
    return tuple((int(r) + r0, int(c) + c0) for r, c in zip(rr, cc))


# ---------------------------------------------------------------------------------------------- geodesy on the grid


def _wrap180(x: Any) -> Any:
    return (np.asarray(x) + 180.0) % 360.0 - 180.0


def _interp_latlon(lat: np.ndarray, lon: np.ndarray, r: float, c: float) -> tuple[float, float]:
    """Bilinear lat/lon at a fractional pixel position (extrapolated linearly within half a pixel of the edge)."""
    i = min(max(int(math.floor(r)), 0), lat.shape[0] - 2)
    j = min(max(int(math.floor(c)), 0), lat.shape[1] - 2)
    wr, wc = r - i, c - j
    la = lat[i:i + 2, j:j + 2]
    # longitudes relative to one corner, so a grid across the antimeridian interpolates the short way
    lo = _wrap180(lon[i:i + 2, j:j + 2] - lon[i, j])
    w = np.array([[(1 - wr) * (1 - wc), (1 - wr) * wc], [wr * (1 - wc), wr * wc]])
    return float(np.sum(w * la)), float(_wrap180(lon[i, j] + np.sum(w * lo)))


def _ground_jacobian(lat: np.ndarray, lon: np.ndarray, r: float, c: float) -> np.ndarray:
    """(2, 2) metres on the ground (north, east) per pixel step (row, col) near (r, c)."""
    rows, cols = lat.shape
    i = min(max(int(round(r)), 1), rows - 2)
    j = min(max(int(round(c)), 1), cols - 2)
    phi = math.radians(lat[i, j])
    s2 = WGS84_E2 * math.sin(phi) ** 2
    m_per_deg_n = math.radians(1.0) * WGS84_A_M * (1 - WGS84_E2) / (1 - s2) ** 1.5
    m_per_deg_e = math.radians(1.0) * WGS84_A_M / math.sqrt(1 - s2) * math.cos(phi)
    dlat_dr = (lat[i + 1, j] - lat[i - 1, j]) / 2
    dlat_dc = (lat[i, j + 1] - lat[i, j - 1]) / 2
    dlon_dr = float(_wrap180(lon[i + 1, j] - lon[i - 1, j])) / 2
    dlon_dc = float(_wrap180(lon[i, j + 1] - lon[i, j - 1])) / 2
    jac = np.array([[dlat_dr * m_per_deg_n, dlat_dc * m_per_deg_n], [dlon_dr * m_per_deg_e, dlon_dc * m_per_deg_e]])
    if abs(np.linalg.det(jac)) < 1e-12:
        raise SceneConfigError("lat_deg/lon_deg", f"a degenerate grid near pixel ({i}, {j})",
                               "a grid whose neighbouring pixels are distinct places")
    return jac


def _locate(lat: np.ndarray, lon: np.ndarray, lat_t: float, lon_t: float, what: str) -> tuple[float, float]:
    """Fractional (row, col) of a geodetic position in the scene's grid; SceneConfigError if outside."""
    coslat = math.cos(math.radians(lat_t))
    d2 = (lat - lat_t) ** 2 + (_wrap180(lon - lon_t) * coslat) ** 2
    i, j = np.unravel_index(int(np.argmin(d2)), lat.shape)
    r, c = float(i), float(j)
    for _ in range(3):
        la, lo = _interp_latlon(lat, lon, r, c)
        jac = _ground_jacobian(lat, lon, r, c)
        phi = math.radians(la)
        s2 = WGS84_E2 * math.sin(phi) ** 2
        dn = math.radians(lat_t - la) * WGS84_A_M * (1 - WGS84_E2) / (1 - s2) ** 1.5
        de = math.radians(float(_wrap180(lon_t - lo))) * WGS84_A_M / math.sqrt(1 - s2) * math.cos(phi)
        dr, dc = np.linalg.solve(jac, [dn, de])
        r, c = r + float(dr), c + float(dc)
    rows, cols = lat.shape
    if not (-0.5 <= r <= rows - 0.5 and -0.5 <= c <= cols - 0.5):
        raise SceneConfigError(f"{what} lat_deg/lon_deg", (lat_t, lon_t),
                               f"a position inside the scene (it falls at pixel ({r:.1f}, {c:.1f}) of {rows}×{cols})")
    return r, c


# ---------------------------------------------------------------------------------------------- synthesis


@dataclass
class _Canvas:
    """Working arrays (float64, (rows, cols)) of one scene under construction."""

    shape: tuple[int, int]
    mu0: float  # cos(sun zenith), 0 at night
    red: np.ndarray
    nir: np.ndarray
    swir: np.ndarray
    skin_k: np.ndarray
    rho39: np.ndarray
    l39: np.ndarray | None = None
    l11: np.ndarray | None = None
    occupied: np.ndarray | None = None  # pixels a random target must keep away from
    decoys: list[TruthDecoy] = field(default_factory=list)
    targets: list[TruthTarget] = field(default_factory=list)

    def reflected39(self, rho: Any) -> Any:
        """Sunlight reflected at 3.9 µm by reflectance ``rho``, W m⁻² sr⁻¹ µm⁻¹."""
        return rho * SOLAR_IRRADIANCE_MWIR_W_M2_UM * self.mu0 / math.pi


def synthesize(config: SceneConfig, *, seed: int, lat_deg: np.ndarray | None = None,
               lon_deg: np.ndarray | None = None) -> tuple[Scene, Truth]:
    """A scene and its exact truth from a config and a seed (deterministic: numpy default_rng streams).

    ``lat_deg``/``lon_deg`` (rows, cols), given together, replace the standalone
    :func:`~spacecraft.payload.geometry.local_grid` — how the imager passes the footprint it computed
    with :func:`~spacecraft.payload.geometry.geolocate`.
    """
    if not isinstance(config, SceneConfig):
        raise SceneConfigError("config", type(config).__name__, "a SceneConfig")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SceneConfigError("seed", seed, "a non-negative integer")
    seed = int(seed)
    shape = (config.rows, config.cols)
    lat, lon = _grid(config, lat_deg, lon_deg)
    mu0 = 0.0 if config.is_night else math.cos(math.radians(config.sun_zenith_deg))

    water, desert, soil = _land_cover(config, seed)
    opacity, cloud_top_k = _cloud_deck(config, seed)
    cloud_mask = opacity >= 0.5
    clear = ndimage.maximum_filter(opacity, size=7) <= 0.0
    flood = _flood(config, seed, water, desert, clear)
    canvas = _surface(config, seed, mu0, water, desert, soil, flood)
    canvas.occupied = np.zeros(shape, dtype=bool)
    cloud_props = _cloud_properties(cloud_top_k, opacity)
    if config.decoys and not config.is_night:
        _add_glint(config, seed, canvas, lat, lon, water & ~flood, clear)
        _add_hot_edges(config, seed, canvas, lat, lon, desert, water | flood | desert, clear)
        _add_cloud_edges(config, seed, canvas, lat, lon, opacity, cloud_mask, water | flood | desert, cloud_props)
    canvas.occupied = ndimage.binary_dilation(canvas.occupied, structure=_disc(6)) if canvas.occupied.any() \
        else canvas.occupied

    canvas.l39 = (1.0 - canvas.rho39) * planck_radiance_w_m2_sr_um(WAVELENGTH_UM["mwir"], canvas.skin_k) \
        + canvas.reflected39(canvas.rho39)
    canvas.l11 = planck_radiance_w_m2_sr_um(WAVELENGTH_UM["tir"], canvas.skin_k)

    _add_ships(config, seed, canvas, lat, lon, water & ~flood, clear)
    _add_fires(config, seed, canvas, lat, lon, ~water & ~desert & ~flood, clear)
    if flood.any():
        _flood_targets(config, canvas, lat, lon, flood)
    _composite_clouds(canvas, opacity, cloud_props)

    if config.is_night:
        for band in (canvas.red, canvas.nir, canvas.swir):
            band[...] = 0.0
    smear_px = config.smear_px
    if smear_px > 0.0:
        kernel = _line_kernel(smear_px, config.smear_direction_deg)
        for name in ("red", "nir", "swir", "l39", "l11"):
            setattr(canvas, name, _convolve(getattr(canvas, name), kernel))

    bands, valid, noise = _sensor(config, seed, canvas)
    targets = tuple(_with_cloud_flag(t, opacity) for t in canvas.targets)
    scene = Scene(bands=bands, lat_deg=lat, lon_deg=lon, pixel_size_m=float(config.pixel_size_m),
                  sun_zenith_deg=float(config.sun_zenith_deg), image_id=int(config.image_id),
                  time_utc=config.time_utc, reference_water=water.copy(), valid=valid,
                  meta={"generator": "spacecraft.payload.scene"})
    truth = Truth(image_id=int(config.image_id), cloud_fraction=float(cloud_mask.mean()), cloud_mask=cloud_mask,
                  water_mask=water | flood, flood_mask=flood, targets=targets, decoys=tuple(canvas.decoys),
                  smear_px=float(smear_px), noise=noise, seed=seed)
    return scene, truth


def _grid(config: SceneConfig, lat_deg: Any, lon_deg: Any) -> tuple[np.ndarray, np.ndarray]:
    shape = (config.rows, config.cols)
    if lat_deg is None and lon_deg is None:
        return local_grid(config.center_lat_deg, config.center_lon_deg, config.rows, config.cols,
                          config.pixel_size_m, heading_deg=config.heading_deg)
    if lat_deg is None or lon_deg is None:
        raise SceneConfigError("lat_deg/lon_deg", "only one given", "both (a per-pixel grid) or neither")
    lat = np.array(lat_deg, dtype=float)
    lon = np.array(lon_deg, dtype=float)
    for name, arr, limit in (("lat_deg", lat, 90.0), ("lon_deg", lon, 180.0)):
        if arr.shape != shape:
            raise SceneConfigError(name, f"shape {arr.shape}", f"the config's (rows, cols) {shape}")
        if not np.all(np.isfinite(arr)) or np.abs(arr).max() > limit:
            raise SceneConfigError(name, "values off the Earth or out of range",
                                   f"finite degrees within ±{limit:g} for every pixel (point the camera at the Earth)")
    return lat, lon


def _land_cover(config: SceneConfig, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference water, desert (both bool) and the bare-soil fraction of vegetated land."""
    shape = (config.rows, config.cols)
    big = max(shape) / 10.0
    rng = _rng(seed, "water")
    w = _gaussian_field(rng, shape, big) + 0.3 * _gaussian_field(rng, shape, big / 5.0)
    water = w >= _threshold_at_fraction(w, config.water_fraction)
    desert = np.zeros(shape, dtype=bool)
    if config.desert_fraction > 0:
        rng = _rng(seed, "desert")
        d = _gaussian_field(rng, shape, big * 1.2) + 0.25 * _gaussian_field(rng, shape, big / 6.0)
        land = ~water
        level = _threshold_at_fraction(d[land], config.desert_fraction / max(1e-9, 1.0 - water.mean()))
        desert = land & (d >= level)
    soil = np.clip(0.15 + 0.12 * _gaussian_field(_rng(seed, "soil"), shape, 5.0), 0.0, 0.8)
    return water, desert, soil


def _cloud_deck(config: SceneConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Cloud opacity (0..1, >= 0.5 exactly on the configured fraction of pixels) and cloud-top temperature, K."""
    shape = (config.rows, config.cols)
    if config.cloud_fraction <= 0:
        return np.zeros(shape), np.full(shape, _CLOUD_EDGE_K)
    rng = _rng(seed, "cloud")
    g = _gaussian_field(rng, shape, max(shape) / 14.0) + 0.35 * _gaussian_field(rng, shape, 6.0) \
        + 0.12 * _gaussian_field(rng, shape, 1.5)
    level = _threshold_at_fraction(g, config.cloud_fraction)
    # opacity 0.5 exactly at the level: the truth mask is the thresholded field, whatever the ramp
    opacity = np.clip(0.5 + (g - level) / 0.4, 0.0, 1.0)
    opacity[g < level] = np.minimum(opacity[g < level], 0.4999)
    opacity[g >= level] = np.maximum(opacity[g >= level], 0.5)
    thickness = np.clip((g - level) / 1.5, 0.0, 1.0)
    top_k = _CLOUD_EDGE_K - (_CLOUD_EDGE_K - _CLOUD_CORE_K) * thickness \
        + 1.5 * _gaussian_field(rng, shape, 3.0)
    return opacity, np.clip(top_k, 218.0, 272.0)


def _cloud_properties(top_k: np.ndarray, opacity: np.ndarray) -> dict[str, np.ndarray]:
    thickness = (_CLOUD_EDGE_K - np.minimum(top_k, _CLOUD_EDGE_K)) / (_CLOUD_EDGE_K - _CLOUD_CORE_K)
    red = 0.45 + 0.35 * thickness
    return {"red": red, "nir": red * 1.04, "swir": red * 0.6, "rho39": 0.06 + 0.06 * thickness, "top_k": top_k,
            "opacity": opacity}


def _flood(config: SceneConfig, seed: int, water: np.ndarray, desert: np.ndarray, clear: np.ndarray) -> np.ndarray:
    """Land shown flooded: a blob of clear vegetated land next to the reference water (anywhere, if there is none)."""
    shape = water.shape
    flood = np.zeros(shape, dtype=bool)
    if not config.flood:
        return flood
    rng = _rng(seed, "flood")
    land = ~water & ~desert
    margin = _margin_mask(shape, 4)
    shore = land & clear & margin
    if water.any():
        shore &= ndimage.binary_dilation(water, iterations=2)
    if not shore.any():
        shore = land & clear & margin
    # a flood the sensor can see: keep the blob clear of cloud when the scene leaves room for that
    away = ndimage.distance_transform_edt(clear) >= 1.5 * config.flood_radius_px
    if (shore & away).any():
        shore &= away
    if not shore.any():
        raise SceneConfigError("flood", True, "clear vegetated land to flood (lower cloud_fraction or desert_fraction, "
                                              "or set flood=False)")
    (r, c), = _pick_spaced(rng, shore, 1, 0.0)
    rs, cs, dist = _window(shape, r, c, config.flood_radius_px * 1.5)
    wobble = _gaussian_field(rng, (rs.stop - rs.start, cs.stop - cs.start), max(2.0, config.flood_radius_px / 4))
    blob = (dist / config.flood_radius_px + 0.3 * wobble < 1.0) & land[rs, cs]
    labels, _ = ndimage.label(blob, structure=np.ones((3, 3)))
    keep = labels[r - rs.start, c - cs.start]
    flood[rs, cs] = labels == keep if keep else False
    if not flood.any():
        flood[r, c] = True
    return flood


def _surface(config: SceneConfig, seed: int, mu0: float, water: np.ndarray, desert: np.ndarray, soil: np.ndarray,
             flood: np.ndarray) -> _Canvas:
    """Reflectance, skin temperature and 3.9 µm reflectance of the ground before targets and clouds."""
    shape = water.shape
    veg, bare, des = VEGETATION, BARE_SOIL, DESERT
    tex = _rng(seed, "texture")
    warmth = _rng(seed, "temperature")
    t_land = _gaussian_field(warmth, shape, 8.0)
    t_desert = _gaussian_field(warmth, shape, 25.0)
    fine = 1.0 + 0.04 * _gaussian_field(tex, shape, 1.5)
    dune = 1.0 + 0.08 * _gaussian_field(tex, shape, 20.0)

    def mix(a: float, b: float) -> np.ndarray:
        return (1.0 - soil) * a + soil * b

    red = np.where(desert, des.red * dune, mix(veg.red, bare.red) * fine)
    nir = np.where(desert, des.nir * dune, mix(veg.nir, bare.nir) * fine)
    swir = np.where(desert, des.swir * dune, mix(veg.swir, bare.swir) * fine)
    rho39 = np.where(desert, des.mwir_reflectance, mix(veg.mwir_reflectance, bare.mwir_reflectance))
    skin = np.where(desert, des.skin_k(mu0) + 3.0 * t_desert,
                    mix(veg.skin_k(mu0), bare.skin_k(mu0)) + (1.0 + 1.5 * mu0) * t_land)

    sea = _gaussian_field(_rng(seed, "sea"), shape, 0.8) * config.sea_state
    for arr, base, k in ((red, WATER.red, 1.0), (nir, WATER.nir, 0.7), (swir, WATER.swir, 0.3)):
        arr[water] = np.maximum(0.002, base + k * sea[water])
    rho39[water] = WATER.mwir_reflectance
    skin[water] = WATER.skin_k(mu0) + 0.3 * t_desert[water]
    for arr, base in ((red, FLOOD_WATER.red), (nir, FLOOD_WATER.nir), (swir, FLOOD_WATER.swir)):
        arr[flood] = base * fine[flood]
    rho39[flood] = FLOOD_WATER.mwir_reflectance
    skin[flood] = FLOOD_WATER.skin_k(mu0) + 0.5 * t_land[flood]
    return _Canvas(shape=shape, mu0=mu0, red=red, nir=nir, swir=swir, skin_k=skin, rho39=rho39)


def _record_decoy(canvas: _Canvas, kind: str, lat: np.ndarray, lon: np.ndarray, r: int, c: int,
                  pixels: tuple[tuple[int, int], ...]) -> None:
    canvas.decoys.append(TruthDecoy(kind, float(r), float(c), float(lat[r, c]), float(lon[r, c]), pixels))
    for pr, pc in pixels:
        canvas.occupied[pr, pc] = True


def _add_glint(config: SceneConfig, seed: int, canvas: _Canvas, lat: np.ndarray, lon: np.ndarray,
               open_water: np.ndarray, clear: np.ndarray) -> None:
    """Sun glint: specular patches on water, bright in every reflective band and warm at 3.9 µm only."""
    if config.glint_count == 0 or not open_water.any():
        return
    rng = _rng(seed, "glint")
    offshore = ndimage.distance_transform_edt(open_water) >= 4
    centres = _pick_spaced(rng, offshore & clear & _margin_mask(canvas.shape, 8), config.glint_count, 40.0)
    for r, c in centres:
        peak = rng.uniform(0.15, 0.45)
        sigma = rng.uniform(3.0, 7.0)
        rs, cs, dist = _window(canvas.shape, r, c, 3.0 * sigma)
        # sparkle: wave facets glint or not, pixel by pixel (lognormal, mean 1)
        sparkle = np.exp(0.5 * rng.standard_normal(dist.shape) - 0.125)
        g = peak * np.exp(-0.5 * (dist / sigma) ** 2) * sparkle * open_water[rs, cs]
        for band in (canvas.red, canvas.nir, canvas.swir):
            band[rs, cs] += g
        canvas.rho39[rs, cs] += g
        _record_decoy(canvas, "GLINT", lat, lon, r, c, _pixels_of(g > 0.02, rs.start, cs.start))


def _add_hot_edges(config: SceneConfig, seed: int, canvas: _Canvas, lat: np.ndarray, lon: np.ndarray,
                   desert: np.ndarray, not_vegetation: np.ndarray, clear: np.ndarray) -> None:
    """Hot bare desert right against cooler vegetation: a sharp warm edge in both thermal bands."""
    if config.hot_edge_count == 0 or not desert.any() or canvas.mu0 <= 0:
        return
    rng = _rng(seed, "hot_edge")
    edge = desert & ndimage.binary_dilation(~not_vegetation, structure=np.ones((3, 3)))
    centres = _pick_spaced(rng, edge & clear & _margin_mask(canvas.shape, 12), config.hot_edge_count, 40.0)
    for r, c in centres:
        rise = rng.uniform(8.0, 12.0) * canvas.mu0
        rs, cs, dist = _window(canvas.shape, r, c, 10.0)
        heat = rise * np.exp(-0.5 * (dist / 4.0) ** 2) * desert[rs, cs] * (dist <= 10.0)
        canvas.skin_k[rs, cs] += heat
        _record_decoy(canvas, "HOT_DESERT_EDGE", lat, lon, r, c, _pixels_of(heat > 0.5, rs.start, cs.start))


def _add_cloud_edges(config: SceneConfig, seed: int, canvas: _Canvas, lat: np.ndarray, lon: np.ndarray,
                     opacity: np.ndarray, cloud_mask: np.ndarray, not_vegetation: np.ndarray,
                     props: dict[str, np.ndarray]) -> None:
    """Sunlit cloud sides over vegetation: brighter, and far warmer at 3.9 µm than at 11 µm."""
    if config.cloud_edge_count == 0 or not cloud_mask.any():
        return
    rng = _rng(seed, "cloud_edge")
    edge = cloud_mask & ~ndimage.binary_erosion(cloud_mask) & ~not_vegetation
    centres = _pick_spaced(rng, edge & _margin_mask(canvas.shape, 10), config.cloud_edge_count, 40.0)
    for r, c in centres:
        boost = rng.uniform(0.25, 0.40)
        rs, cs, dist = _window(canvas.shape, r, c, 8.0)
        bump = np.exp(-0.5 * (dist / 3.0) ** 2) * (dist <= 8.0)
        props["rho39"][rs, cs] += boost * bump
        for name in ("red", "nir", "swir"):
            props[name][rs, cs] += 0.1 * bump
        seen = (bump > 0.05) & (opacity[rs, cs] > 0.02)
        _record_decoy(canvas, "CLOUD_EDGE", lat, lon, r, c, _pixels_of(seen, rs.start, cs.start))


def _ship_coverage(shape: tuple[int, int], jac: np.ndarray, r: float, c: float, length_m: float, width_m: float,
                   heading_deg: float) -> tuple[slice, slice, np.ndarray]:
    """Fraction of each pixel a ship's hull covers (10×10 samples per pixel), in a window around it."""
    h = math.radians(heading_deg)
    u = np.array([math.cos(h), math.sin(h)])  # bow, (north, east)
    v = np.array([-math.sin(h), math.cos(h)])
    inv = np.linalg.inv(jac)
    corners = np.array([inv @ (su * length_m / 2 * u + sv * width_m / 2 * v) for su in (-1, 1) for sv in (-1, 1)])
    extent = float(np.abs(corners).max()) + 1.0
    rs, cs, _ = _window(shape, r, c, extent)
    n = 10
    sub = (np.arange(n) + 0.5) / n - 0.5
    pr = (np.arange(rs.start, rs.stop)[:, None] + sub[None, :]).ravel() - r
    pc = (np.arange(cs.start, cs.stop)[:, None] + sub[None, :]).ravel() - c
    north = jac[0, 0] * pr[:, None] + jac[0, 1] * pc[None, :]
    east = jac[1, 0] * pr[:, None] + jac[1, 1] * pc[None, :]
    inside = (np.abs(north * u[0] + east * u[1]) <= length_m / 2) & (np.abs(north * v[0] + east * v[1]) <= width_m / 2)
    cover = inside.reshape(rs.stop - rs.start, n, cs.stop - cs.start, n).mean(axis=(1, 3))
    return rs, cs, cover


def _paint_ship(canvas: _Canvas, rs: slice, cs: slice, cover: np.ndarray, hull: tuple[float, float, float],
                hull_k: np.ndarray) -> None:
    for band, value in zip((canvas.red, canvas.nir, canvas.swir), hull):
        band[rs, cs] = (1.0 - cover) * band[rs, cs] + cover * value
    l39_hull = (1.0 - _HULL_MWIR_REFLECTANCE) * planck_radiance_w_m2_sr_um(WAVELENGTH_UM["mwir"], hull_k) \
        + canvas.reflected39(_HULL_MWIR_REFLECTANCE)
    canvas.l39[rs, cs] = (1.0 - cover) * canvas.l39[rs, cs] + cover * l39_hull
    canvas.l11[rs, cs] = (1.0 - cover) * canvas.l11[rs, cs] \
        + cover * planck_radiance_w_m2_sr_um(WAVELENGTH_UM["tir"], hull_k)


def _add_ships(config: SceneConfig, seed: int, canvas: _Canvas, lat: np.ndarray, lon: np.ndarray,
               open_water: np.ndarray, clear: np.ndarray) -> None:
    """Ships: bright hulls (elongated rectangles, any heading), random ones entirely on clear open water."""
    rng = _rng(seed, "ships")
    plans: list[tuple[float, float, float, float, float]] = []  # row, col, length_m, width_m, heading_deg
    for ship in config.ships:
        if ship.row is not None:
            r, c = float(ship.row), float(ship.col)  # type: ignore[arg-type]
            if not (-0.5 <= r <= config.rows - 0.5 and -0.5 <= c <= config.cols - 0.5):
                raise SceneConfigError("Ship row/col", (r, c), f"inside the scene (-0.5..{config.rows - 0.5}, "
                                                               f"-0.5..{config.cols - 0.5})")
        else:
            r, c = _locate(lat, lon, float(ship.lat_deg), float(ship.lon_deg), "Ship")  # type: ignore[arg-type]
        plans.append((r, c, ship.length_m, ship.width_m or ship.length_m / 6.0, ship.heading_deg % 360.0))
    eligible = open_water & clear & ~canvas.occupied & _margin_mask(canvas.shape, 3)
    for r, c, *_ in plans:
        rs, cs, _d = _window(canvas.shape, r, c, 3.0)
        eligible[rs, cs] = False
    cand_r, cand_c = np.nonzero(eligible)
    for _ in range(config.ship_count):
        plan = None
        for _attempt in range(200 if cand_r.size else 0):
            k = int(rng.integers(cand_r.size))
            r, c = cand_r[k] + rng.uniform(-0.5, 0.5), cand_c[k] + rng.uniform(-0.5, 0.5)
            length = rng.uniform(*config.ship_length_px) * config.pixel_size_m
            width = length / rng.uniform(5.0, 8.0)
            heading = rng.uniform(0.0, 360.0)
            rs, cs, cover = _ship_coverage(canvas.shape, _ground_jacobian(lat, lon, r, c), r, c, length, width, heading)
            on = cover > 0
            # the whole hull on eligible water, so a ship never touches land, cloud, a decoy or another ship
            if on.any() and np.all(eligible[rs, cs][on]):
                eligible[rs, cs] &= ~ndimage.binary_dilation(on, iterations=3)
                plan = (r, c, length, width, heading)
                break
        if plan is None:
            raise SceneConfigError("ship_count", config.ship_count,
                                   f"at most {len(plans) - len(config.ships)} here: no room left on clear open water "
                                   "(lower ship_count or ship_length_px, or raise water_fraction)")
        plans.append(plan)
    for r, c, length, width, heading in plans:
        rs, cs, cover = _ship_coverage(canvas.shape, _ground_jacobian(lat, lon, r, c), r, c, length, width, heading)
        red = rng.uniform(0.12, 0.30)
        hull = (red, red * rng.uniform(0.95, 1.15), red * rng.uniform(0.7, 0.9))
        hull_k = canvas.skin_k[rs, cs] + 1.0 + 2.0 * canvas.mu0
        _paint_ship(canvas, rs, cs, cover, hull, hull_k)
        canvas.occupied[rs, cs] |= cover > 0
        la, lo = _interp_latlon(lat, lon, r, c)
        canvas.targets.append(TruthTarget("SHIP", r, c, la, lo, area_m2=length * width, length_m=length,
                                          heading_deg=heading, pixels=_pixels_of(cover > 0, rs.start, cs.start)))


def _fire_fractions(shape: tuple[int, int], r: float, c: float, side_px: float) -> tuple[slice, slice, np.ndarray]:
    """Fraction of each pixel's area a square fire of ``side_px`` centred at (r, c) covers (exact)."""
    half = side_px / 2.0
    r0, r1 = max(0, int(math.floor(r - half + 0.5))), min(shape[0], int(math.floor(r + half + 0.5)) + 1)
    c0, c1 = max(0, int(math.floor(c - half + 0.5))), min(shape[1], int(math.floor(c + half + 0.5)) + 1)
    ir = np.arange(r0, r1, dtype=float)
    ic = np.arange(c0, c1, dtype=float)
    fr = np.clip(np.minimum(r + half, ir + 0.5) - np.maximum(r - half, ir - 0.5), 0.0, None)
    fc = np.clip(np.minimum(c + half, ic + 0.5) - np.maximum(c - half, ic - 0.5), 0.0, None)
    return slice(r0, r1), slice(c0, c1), fr[:, None] * fc[None, :]


def _add_fires(config: SceneConfig, seed: int, canvas: _Canvas, lat: np.ndarray, lon: np.ndarray,
               vegetation: np.ndarray, clear: np.ndarray) -> None:
    """Sub-pixel fires mixed in radiance; random ones in clear vegetation, explicit ones where asked."""
    rng = _rng(seed, "fires")
    plans: list[tuple[float, float, float, float]] = []
    for fire in config.fires:
        if fire.row is not None:
            r, c = float(fire.row), float(fire.col)  # type: ignore[arg-type]
            if not (-0.5 <= r <= config.rows - 0.5 and -0.5 <= c <= config.cols - 0.5):
                raise SceneConfigError("Fire row/col", (r, c), f"inside the scene (-0.5..{config.rows - 0.5}, "
                                                               f"-0.5..{config.cols - 0.5})")
        else:
            r, c = _locate(lat, lon, float(fire.lat_deg), float(fire.lon_deg), "Fire")  # type: ignore[arg-type]
        plans.append((r, c, fire.area_m2, fire.temperature_k))
    eligible = vegetation & clear & ~canvas.occupied & _margin_mask(canvas.shape, 3)
    for r, c, _, _ in plans:
        rs, cs, _d = _window(canvas.shape, r, c, 4.0)
        eligible[rs, cs] = False
    lo_a, hi_a = math.log(config.fire_area_m2[0]), math.log(config.fire_area_m2[1])
    for n in range(config.fire_count):
        cand = np.flatnonzero(eligible)
        if cand.size == 0:
            raise SceneConfigError("fire_count", config.fire_count,
                                   f"at most {n} here: no clear vegetated land left "
                                   "(lower fire_count or cloud_fraction)")
        k = int(cand[rng.integers(cand.size)])
        r = k // canvas.shape[1] + rng.uniform(-0.5, 0.5)
        c = k % canvas.shape[1] + rng.uniform(-0.5, 0.5)
        area = math.exp(rng.uniform(lo_a, hi_a))
        temp = rng.uniform(*config.fire_temperature_k)
        rs, cs, _d = _window(canvas.shape, r, c, 4.0 + math.sqrt(area) / config.pixel_size_m)
        eligible[rs, cs] = False
        plans.append((r, c, area, temp))

    pixel_area = config.pixel_size_m ** 2
    burning = np.zeros(canvas.shape)  # Σ fire area / pixel area
    emitted = {band: np.zeros(canvas.shape) for band in ("mwir", "tir", "swir")}  # Σ p·B(λ, T_fire)
    for r, c, area, temp in plans:
        rs, cs, p = _fire_fractions(canvas.shape, r, c, math.sqrt(area / pixel_area))
        burning[rs, cs] += p
        for band in emitted:
            emitted[band][rs, cs] += p * planck_radiance_w_m2_sr_um(WAVELENGTH_UM[band], temp)
        la, lo = _interp_latlon(lat, lon, r, c)
        canvas.targets.append(TruthTarget("FIRE", r, c, la, lo, area_m2=area, temperature_k=temp,
                                          pixels=_pixels_of(p > 0, rs.start, cs.start)))
    hit = burning > 0
    if not hit.any():
        return
    # fires filling more than a pixel between them: keep the mix a proper average
    scale = np.where(burning > 1.0, 1.0 / np.maximum(burning, 1e-300), 1.0)[hit]
    p = burning[hit] * scale
    canvas.l39[hit] = (1.0 - p) * canvas.l39[hit] + emitted["mwir"][hit] * scale
    canvas.l11[hit] = (1.0 - p) * canvas.l11[hit] + emitted["tir"][hit] * scale
    for band, char in ((canvas.red, _CHAR.red), (canvas.nir, _CHAR.nir), (canvas.swir, _CHAR.swir)):
        band[hit] = (1.0 - p) * band[hit] + p * char
    if canvas.mu0 > 0:
        # SWIR emission as apparent reflectance: what a reflectance product shows for the fire's own light
        canvas.swir[hit] += math.pi * emitted["swir"][hit] * scale / (SOLAR_IRRADIANCE_SWIR_W_M2_UM * canvas.mu0)


def _flood_targets(config: SceneConfig, canvas: _Canvas, lat: np.ndarray, lon: np.ndarray, flood: np.ndarray) -> None:
    labels, n = ndimage.label(flood, structure=np.ones((3, 3)))
    for k in range(1, n + 1):
        part = labels == k
        rr, cc = np.nonzero(part)
        r, c = float(rr.mean()), float(cc.mean())
        la, lo = _interp_latlon(lat, lon, r, c)
        canvas.targets.append(TruthTarget("FLOOD", r, c, la, lo, area_m2=float(rr.size) * config.pixel_size_m ** 2,
                                          pixels=tuple((int(a), int(b)) for a, b in zip(rr, cc))))


def _composite_clouds(canvas: _Canvas, opacity: np.ndarray, props: dict[str, np.ndarray]) -> None:
    """Clouds over everything, mixed by opacity in reflectance and in radiance."""
    cloudy = opacity > 0
    if not cloudy.any():
        return
    a = opacity[cloudy]
    for name in ("red", "nir", "swir"):
        band = getattr(canvas, name)
        band[cloudy] = (1.0 - a) * band[cloudy] + a * props[name][cloudy]
    rho, top = props["rho39"][cloudy], props["top_k"][cloudy]
    l39 = (1.0 - rho) * planck_radiance_w_m2_sr_um(WAVELENGTH_UM["mwir"], top) + canvas.reflected39(rho)
    canvas.l39[cloudy] = (1.0 - a) * canvas.l39[cloudy] + a * l39
    canvas.l11[cloudy] = (1.0 - a) * canvas.l11[cloudy] + a * planck_radiance_w_m2_sr_um(WAVELENGTH_UM["tir"], top)


def _with_cloud_flag(target: TruthTarget, opacity: np.ndarray) -> TruthTarget:
    if not target.pixels:
        return target
    rr, cc = np.array(target.pixels).T
    covered = bool(np.mean(opacity[rr, cc] >= 0.5) > 0.5)
    if not covered:
        return target
    return TruthTarget(target.kind, target.row, target.col, target.lat_deg, target.lon_deg, target.area_m2,
                       target.temperature_k, target.length_m, target.heading_deg, target.pixels, cloud_covered=True)


def _line_kernel(length_px: float, direction_deg: float) -> np.ndarray:
    """Normalised kernel of a uniform motion ``length_px`` long along ``direction_deg`` (0 = +row, 90 = +col)."""
    a = math.radians(direction_deg)
    n = max(3, int(math.ceil(length_px * 8.0)) + 1)
    t = np.linspace(-length_px / 2.0, length_px / 2.0, n)
    half = int(math.ceil(length_px / 2.0)) + 1
    pr, pc = t * math.cos(a) + half, t * math.sin(a) + half
    kernel = np.zeros((2 * half + 2, 2 * half + 2))
    i, j = np.floor(pr).astype(int), np.floor(pc).astype(int)
    wr, wc = pr - i, pc - j
    # bilinear splat of points spread evenly along the path
    np.add.at(kernel, (i, j), (1 - wr) * (1 - wc))
    np.add.at(kernel, (i + 1, j), wr * (1 - wc))
    np.add.at(kernel, (i, j + 1), (1 - wr) * wc)
    np.add.at(kernel, (i + 1, j + 1), wr * wc)
    kernel = kernel[:2 * half + 1, :2 * half + 1]
    return kernel / kernel.sum()


def _convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    if kernel.size <= 81:
        return ndimage.convolve(image, kernel, mode="nearest")
    pad = kernel.shape[0] // 2
    return signal.fftconvolve(np.pad(image, pad, mode="edge"), kernel, mode="valid")


def _sensor(config: SceneConfig, seed: int,
            canvas: _Canvas) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    """Radiance to brightness temperature, then noise, saturation, dead pixels: bands, valid mask, noise record."""
    shape = canvas.shape
    rng = _rng(seed, "noise")
    mwir = brightness_temperature_k(WAVELENGTH_UM["mwir"], np.maximum(canvas.l39, 1e-30))
    tir = brightness_temperature_k(WAVELENGTH_UM["tir"], np.maximum(canvas.l11, 1e-30))
    if config.nedt_mwir_k > 0:
        mwir += config.nedt_mwir_k * rng.standard_normal(shape)
    if config.nedt_tir_k > 0:
        tir += config.nedt_tir_k * rng.standard_normal(shape)
    refl = {"red": canvas.red, "nir": canvas.nir, "swir": canvas.swir}
    if config.reflectance_noise > 0:
        for name in refl:
            refl[name] = refl[name] + config.reflectance_noise * rng.standard_normal(shape)
    saturated = (mwir >= config.mwir_saturation_k) | (tir >= config.tir_saturation_k)
    bands: dict[str, np.ndarray] = {}
    for name, arr in refl.items():
        saturated |= arr >= config.reflectance_saturation
        bands[name] = np.clip(arr, BANDS[name][1], config.reflectance_saturation)
    bands["mwir"] = np.clip(mwir, BANDS["mwir"][1], config.mwir_saturation_k)
    bands["tir"] = np.clip(tir, BANDS["tir"][1], config.tir_saturation_k)
    dead = np.zeros(shape, dtype=bool)
    n_dead = int(round(config.dead_pixel_fraction * dead.size))
    if n_dead:
        dead.flat[_rng(seed, "dead").choice(dead.size, size=n_dead, replace=False)] = True
        for name in ("red", "nir", "swir"):
            bands[name][dead] = DEAD_REFLECTANCE
        for name in ("mwir", "tir"):
            bands[name][dead] = DEAD_BT_K
    out = {name: bands[name].astype(np.float32) for name in ("red", "nir", "swir", "mwir", "tir")}
    noise = {"nedt_mwir_k": float(config.nedt_mwir_k), "nedt_tir_k": float(config.nedt_tir_k),
             "reflectance": float(config.reflectance_noise), "dead_pixel_count": int(dead.sum()),
             "saturated_pixel_count": int((saturated & ~dead).sum())}
    return out, ~dead, noise
