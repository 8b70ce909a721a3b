"""The imager on board: a capture through the attitude actually flown, analysed at once, kept as a product.

One :func:`capture` (sans-IO: time, geometry and seed are passed in):

1. **Where it looks.** The camera (:class:`~spacecraft.payload.geometry.Camera`) sees the ground through the
   *true* attitude: every pixel is geolocated on WGS84 with it, and the scene is synthesised on that
   footprint (land cover, fires, ships, floods, clouds, sensor effects; smear from the true body rate
   during the exposure). The spacecraft only *knows* its estimated attitude: the scene handed to the
   analysis carries the lat/lon computed from the estimate. The difference is the geolocation error the
   ground sees (:attr:`Capture.knowledge_error_rad` is the angle between the two attitudes).
2. **What it finds.** :func:`~spacecraft.payload.analysis.analyse` on the scene as the spacecraft knows
   it; detections ordered by urgency (FIRE, FLOOD, SHIP, CLOUD; most confident first), at most
   :attr:`ImagerConfig.max_detections` reported per image (the rest counted).
3. **What goes down.** One compact report per detection (built by the caller from the dictionary's
   DETECTION packet), a 32 x 32 chip of the band that shows it best, and the whole scene as a
   :mod:`protocol.imageproduct` (u8 bands) for the image store and playback.

The world the imager flies over is the scene model's: every capture draws its own land cover and
targets from the seed, plus any fixed targets of the world (:attr:`ImagerConfig.world_fires`) whose
position falls inside the footprint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from protocol.imageproduct import encode_product, quantise
from protocol.timecode import tai_s_to_utc

from .analysis import AnalysisConfig, AnalysisResult, Detection, analyse
from .geometry import Camera, geolocate_grid
from .scene import Fire, SceneConfig, SceneConfigError, Ship, Truth, synthesize
from .scenefile import Scene

__all__ = ["Capture", "Chip", "ImagerConfig", "ImagingGeometry", "capture", "product_octets"]

#: Order detections go down in: the most urgent kinds first.
URGENCY = {"FIRE": 0, "FLOOD": 1, "SHIP": 2, "CLOUD": 3}
#: Band a chip of each kind shows (where the target stands out).
CHIP_BAND = {"FIRE": "mwir", "SHIP": "nir", "FLOOD": "swir", "CLOUD": "red"}
#: Physical range each band is quantised over in the image product.
PRODUCT_RANGE = {"red": (0.0, 1.2), "nir": (0.0, 1.2), "swir": (0.0, 1.2), "mwir": (200.0, 500.0),
                 "tir": (180.0, 340.0)}
#: Night-side bands only: the reflective ones see nothing without the sun.
NIGHT_SUN_ZENITH_DEG = 85.0


@dataclass(frozen=True, kw_only=True)
class ImagerConfig:
    """The imager: detector, optics, what it reports, and the world it flies over."""

    rows: int = 256
    cols: int = 256
    ifov_rad: float = 4.0e-4  # 200 m from 500 km
    chip_px: int = 32
    max_detections: int = 32
    scene: SceneConfig = field(default_factory=lambda: SceneConfig(rows=256, cols=256))
    world_fires: tuple[Fire, ...] = ()
    world_ships: tuple[Ship, ...] = ()

    @property
    def camera(self) -> Camera:
        """The detector and its optics (boresight body +Z, rows along body +X)."""
        return Camera(self.rows, self.cols, self.ifov_rad)


@dataclass(frozen=True)
class ImagingGeometry:
    """Where the camera is and how it is pointed at the instant of a capture.

    ``dcm_true``/``dcm_est`` rotate body vectors into ITRS (true attitude, and the estimate the
    spacecraft believes); ``rate_true_rad_s`` is the true body rate (3,).
    """

    r_itrs_m: np.ndarray
    dcm_true: np.ndarray
    dcm_est: np.ndarray
    rate_true_rad_s: np.ndarray
    sun_itrs_unit: np.ndarray

    @classmethod
    def nadir(cls, lat_deg: float, lon_deg: float, *, altitude_m: float = 500e3, sun_zenith_deg: float = 35.0
              ) -> ImagingGeometry:
        """A perfect nadir view (no pointing error, no rate) over a point: for a spacecraft without ADCS dynamics."""
        from spacecraft.adcs.environment import geodetic_to_itrs_m, geodetic_up_itrs

        up = geodetic_up_itrs(lat_deg, lon_deg)
        r = geodetic_to_itrs_m(lat_deg, lon_deg, altitude_m)
        north = np.array([-math.sin(math.radians(lat_deg)) * math.cos(math.radians(lon_deg)),
                          -math.sin(math.radians(lat_deg)) * math.sin(math.radians(lon_deg)),
                          math.cos(math.radians(lat_deg))])
        z = -up  # boresight down
        x = north - np.dot(north, z) * z
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        dcm = np.column_stack([x, y, z])
        east = np.cross(north, up)
        zen = math.radians(sun_zenith_deg)
        sun = math.cos(zen) * up + math.sin(zen) * east
        return cls(r, dcm, dcm, np.zeros(3), sun / np.linalg.norm(sun))

    @property
    def knowledge_error_rad(self) -> float:
        """Angle between the true and the estimated attitude."""
        m = self.dcm_est.T @ self.dcm_true
        return float(math.acos(max(-1.0, min(1.0, (np.trace(m) - 1.0) / 2.0))))


@dataclass(frozen=True)
class Chip:
    """A small u8 picture of one band around a detection: physical = offset + scale * sample (0: invalid)."""

    detection_number: int
    band: str
    row0: int
    col0: int
    offset: float
    scale: float
    samples: bytes


@dataclass(frozen=True)
class Capture:
    """One capture: the scene as the spacecraft knows it, its truth, the analysis and what goes down."""

    image_id: int
    capture_tai_s: float
    scene: Scene
    truth: Truth
    true_lat_deg: np.ndarray
    true_lon_deg: np.ndarray
    result: AnalysisResult | None
    reported: tuple[Detection, ...]
    withheld: int  # detections beyond max_detections (counted, not reported)
    chips: tuple[Chip, ...]
    product: bytes
    knowledge_error_rad: float
    altitude_m: float


def product_octets(config: ImagerConfig) -> int:
    """Size of one image product: what the store must have free before a capture."""
    from protocol.imageproduct import BandHeader, ProductHeader

    return ProductHeader.sizeof() + 5 * (BandHeader.sizeof() + config.rows * config.cols) + 4


def capture(config: ImagerConfig, geometry: ImagingGeometry, *, image_id: int, capture_tai_s: float, seed: int,
            exposure_s: float, analysis: AnalysisConfig | None) -> Capture:
    """Take, analyse (unless ``analysis`` is None) and package one image."""
    from spacecraft.adcs.environment import itrs_to_geodetic

    cam = config.camera
    lat_t, lon_t = geolocate_grid(cam, geometry.r_itrs_m, geometry.dcm_true)
    lat_e, lon_e = geolocate_grid(cam, geometry.r_itrs_m, geometry.dcm_est)
    if not (np.all(np.isfinite(lat_t)) and np.all(np.isfinite(lat_e))):
        raise SceneConfigError("pointing", "off the Earth", "every pixel's ray on the WGS84 ellipsoid "
                               "(point the imager at the ground: NADIR or TARGET_TRACKING)")
    _, _, alt = itrs_to_geodetic(geometry.r_itrs_m)
    centre = (config.rows // 2, config.cols // 2)
    sun_zenith = _sun_zenith_deg(float(lat_t[centre]), float(lon_t[centre]), geometry.sun_itrs_unit)
    rate = float(np.linalg.norm(geometry.rate_true_rad_s[:2]))  # rates about the boresight do not smear the centre
    smear_cap = min(config.rows, config.cols) / 4 * cam.ifov_rad / max(exposure_s, 1e-9)
    in_view = _in_footprint(lat_t, lon_t)
    sc = replace(config.scene, rows=config.rows, cols=config.cols, pixel_size_m=float(alt) * cam.ifov_rad,
                 sun_zenith_deg=sun_zenith, image_id=image_id, time_utc=tai_s_to_utc(capture_tai_s).isoformat(),
                 body_rate_rad_s=min(rate, smear_cap * 0.99), exposure_s=exposure_s, ifov_rad=cam.ifov_rad,
                 fires=config.scene.fires + tuple(f for f in config.world_fires if in_view(f)),
                 ships=config.scene.ships + tuple(s for s in config.world_ships if in_view(s)))
    seen, truth = _synthesize_world(sc, seed=seed, lat_deg=lat_t, lon_deg=lon_t)
    known = replace(seen, lat_deg=lat_e, lon_deg=lon_e)  # what the spacecraft believes it looked at
    result = analyse(known, config=analysis) if analysis is not None else None
    detections = sorted(result.detections, key=lambda d: (URGENCY.get(d.kind, 9), -d.confidence)) if result else []
    reported = tuple(detections[:config.max_detections])
    chips = tuple(_chip(known, d, n, config.chip_px) for n, d in enumerate(reported))
    corners = tuple((float(lat_e[r, c]), float(lon_e[r, c]))
                    for r, c in ((0, 0), (0, -1), (-1, 0), (-1, -1)))
    bands = {name: quantise(known.bands[name], *PRODUCT_RANGE[name], valid=known.valid) for name in known.bands}
    product = encode_product(image_id=image_id, capture_tai_s=capture_tai_s, pixel_size_m=sc.pixel_size_m,
                             sun_zenith_deg=sun_zenith, corners_deg=corners, bands=bands)
    return Capture(image_id=image_id, capture_tai_s=capture_tai_s, scene=known, truth=truth, true_lat_deg=lat_t,
                   true_lon_deg=lon_t, result=result, reported=reported,
                   withheld=len(detections) - len(reported), chips=chips, product=product,
                   knowledge_error_rad=geometry.knowledge_error_rad, altitude_m=float(alt))


def _synthesize_world(sc: SceneConfig, *, seed: int, lat_deg: np.ndarray, lon_deg: np.ndarray) -> tuple[Scene, Truth]:
    """The scene under the footprint: the world's random targets are "up to" their counts (a footprint with
    too little open water for its ships, or no land to flood, simply has fewer), never a failed capture."""
    for _ in range(16):
        try:
            return synthesize(sc, seed=seed, lat_deg=lat_deg, lon_deg=lon_deg)
        except SceneConfigError as e:
            if e.field == "ship_count" and sc.ship_count:
                sc = replace(sc, ship_count=sc.ship_count // 2)
            elif e.field == "fire_count" and sc.fire_count:
                sc = replace(sc, fire_count=sc.fire_count // 2)
            elif e.field == "flood" and sc.flood:
                sc = replace(sc, flood=False)
            else:
                raise
    return synthesize(sc, seed=seed, lat_deg=lat_deg, lon_deg=lon_deg)


def _sun_zenith_deg(lat_deg: float, lon_deg: float, sun_itrs_unit: np.ndarray) -> float:
    from spacecraft.adcs.environment import geodetic_up_itrs

    up = geodetic_up_itrs(lat_deg, lon_deg)
    return float(np.degrees(np.arccos(np.clip(np.dot(up, sun_itrs_unit), -1.0, 1.0))))


def _in_footprint(lat: np.ndarray, lon: np.ndarray):
    """A test of whether a target's lat/lon lies well inside the footprint (a 5 % margin of its box)."""
    lat_lo, lat_hi = float(lat.min()), float(lat.max())
    lon_lo, lon_hi = float(lon.min()), float(lon.max())
    m_lat, m_lon = 0.05 * (lat_hi - lat_lo), 0.05 * (lon_hi - lon_lo)

    def inside(target: Fire | Ship) -> bool:
        return (target.lat_deg is not None and target.lon_deg is not None
                and lat_lo + m_lat <= target.lat_deg <= lat_hi - m_lat
                and lon_lo + m_lon <= target.lon_deg <= lon_hi - m_lon)

    return inside


def _chip(scene: Scene, det: Detection, number: int, size: int) -> Chip:
    band = CHIP_BAND.get(det.kind, "red")
    if band not in scene.bands:
        band = next(iter(scene.bands))
    img = scene.bands[band]
    rows, cols = img.shape
    r0 = int(min(max(round(det.row) - size // 2, 0), max(rows - size, 0)))
    c0 = int(min(max(round(det.col) - size // 2, 0), max(cols - size, 0)))
    cut = np.full((size, size), np.nan, dtype=np.float32)
    part = img[r0:r0 + size, c0:c0 + size]
    cut[:part.shape[0], :part.shape[1]] = part
    valid = None
    if scene.valid is not None:
        valid = np.zeros((size, size), dtype=bool)
        valid[:part.shape[0], :part.shape[1]] = scene.valid[r0:r0 + size, c0:c0 + size]
    finite = cut[np.isfinite(cut)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if not hi > lo:
        hi = lo + 1e-3
    samples, offset, scale = quantise(cut, lo, hi, valid=valid)
    return Chip(number, band, r0, c0, offset, scale, samples.tobytes())
