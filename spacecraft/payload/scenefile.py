"""Scenes: the imager's multi-band pictures with their geolocation, and the ``.npz`` file they travel in.

A :class:`Scene` is what the onboard analysis is given and all it is given: named bands in physical
units, the ground pixel size, per-pixel latitude/longitude on the WGS84 ellipsoid, and the sun's zenith
angle (day/night and glint tests need it). A scene from anyone's imager, written in this format, is
analysed exactly like one this project synthesised (docs/scene-format.md is the format's reference).

Bands (any subset; each analysis step says which it needs):

=========  =====================  ======
name       what                   unit
=========  =====================  ======
``red``    0.64 µm reflectance    ``1``
``nir``    0.86 µm reflectance    ``1``
``swir``   1.6 µm reflectance     ``1``
``mwir``   3.9 µm brightness T    ``K``
``tir``    11 µm brightness T     ``K``
=========  =====================  ======

Optional layers: ``reference_water`` (bool, the onboard land/water map the flood test compares with)
and ``valid`` (bool, False where a pixel is dead or otherwise must not be trusted; a saturated pixel
stays valid, reading the top of its range).
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["BANDS", "FORMAT", "FORMAT_VERSION", "Scene", "SceneError", "load_scene", "save_scene"]

#: Band name -> (unit, lowest physical value, highest physical value) a file may hold.
BANDS: dict[str, tuple[str, float, float]] = {
    "red": ("1", -0.05, 1.6),
    "nir": ("1", -0.05, 1.6),
    "swir": ("1", -0.05, 1.6),
    "mwir": ("K", 150.0, 1500.0),
    "tir": ("K", 150.0, 400.0),
}
FORMAT = "ttc-scene"
FORMAT_VERSION = 1
#: Largest scene a file may hold (pixels per band): 64 Mpx, so a hostile file cannot take the machine.
MAX_PIXELS = 64 * 1024 * 1024


class SceneError(ValueError):
    """A scene (or scene file) that cannot be analysed: names the field, the value and what is allowed."""

    def __init__(self, field_name: str, value: Any, allowed: str, *, path: str | None = None) -> None:
        self.field = field_name
        self.value = value
        self.allowed = allowed
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{field_name} is {value}, allowed {allowed}")


@dataclass(frozen=True)
class Scene:
    """One capture: ``bands[name]`` of shape (rows, cols) in :data:`BANDS` units, geolocated per pixel.

    ``lat_deg``/``lon_deg`` (rows, cols) are geodetic WGS84 coordinates of each pixel centre;
    ``pixel_size_m`` the ground sample distance at nadir; ``sun_zenith_deg`` at the scene centre
    (> 85 is night for the fire tests). ``image_id`` names the capture on board (u16).
    """

    bands: Mapping[str, np.ndarray]
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    pixel_size_m: float
    sun_zenith_deg: float
    image_id: int = 0
    time_utc: str | None = None
    reference_water: np.ndarray | None = None
    valid: np.ndarray | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_scene(self)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of every band."""
        return tuple(self.lat_deg.shape)  # type: ignore[return-value]

    def band(self, name: str) -> np.ndarray:
        """One band, or a SceneError naming the bands this scene has."""
        try:
            return self.bands[name]
        except KeyError:
            raise SceneError("band", repr(name), f"one of the scene's bands {sorted(self.bands)}") from None


def check_scene(scene: Scene) -> None:
    """Raise SceneError for anything the analysis could not trust (shapes, units' ranges, geolocation)."""
    lat, lon = scene.lat_deg, scene.lon_deg
    if not isinstance(lat, np.ndarray) or lat.ndim != 2 or lat.size == 0:
        raise SceneError("lat_deg", _shape_of(lat), "a non-empty 2-D array (rows, cols)")
    shape = lat.shape
    if lat.size > MAX_PIXELS:
        raise SceneError("lat_deg", f"{lat.size} pixels", f"at most {MAX_PIXELS} pixels")
    if not isinstance(lon, np.ndarray) or lon.shape != shape:
        raise SceneError("lon_deg", _shape_of(lon), f"an array of the shape of lat_deg {shape}")
    if not np.all(np.isfinite(lat)) or np.abs(lat).max() > 90:
        raise SceneError("lat_deg", f"{np.nanmin(lat)}..{np.nanmax(lat)}", "finite values in -90..90")
    if not np.all(np.isfinite(lon)) or np.abs(lon).max() > 180:
        raise SceneError("lon_deg", f"{np.nanmin(lon)}..{np.nanmax(lon)}", "finite values in -180..180")
    if not scene.bands:
        raise SceneError("bands", "none", f"at least one of {sorted(BANDS)}")
    for name, arr in scene.bands.items():
        if name not in BANDS:
            raise SceneError("band", repr(name), f"one of {sorted(BANDS)}")
        if not isinstance(arr, np.ndarray) or arr.shape != shape:
            raise SceneError(f"band {name}", _shape_of(arr), f"an array of the shape of lat_deg {shape}")
        if not np.issubdtype(arr.dtype, np.floating):
            raise SceneError(f"band {name}", f"dtype {arr.dtype}", "floating point in physical units")
        unit, lo, hi = BANDS[name]
        finite = arr[np.isfinite(arr)]
        if finite.size and (finite.min() < lo or finite.max() > hi):
            raise SceneError(f"band {name}", f"{finite.min():.4g}..{finite.max():.4g} {unit}",
                             f"{lo}..{hi} {unit} (is it in the right unit?)")
    for name in ("reference_water", "valid"):
        arr = getattr(scene, name)
        if arr is not None and (not isinstance(arr, np.ndarray) or arr.shape != shape or arr.dtype != bool):
            raise SceneError(name, f"{_shape_of(arr)} {getattr(arr, 'dtype', type(arr).__name__)}",
                             f"a bool array of the shape of lat_deg {shape}")
    if not (isinstance(scene.pixel_size_m, (int, float)) and 0.1 <= scene.pixel_size_m <= 100_000):
        raise SceneError("pixel_size_m", scene.pixel_size_m, "0.1..100000 m")
    if not (isinstance(scene.sun_zenith_deg, (int, float)) and 0 <= scene.sun_zenith_deg <= 180):
        raise SceneError("sun_zenith_deg", scene.sun_zenith_deg, "0..180 degrees")
    if isinstance(scene.image_id, bool) or not isinstance(scene.image_id, int) or not 0 <= scene.image_id <= 0xFFFF:
        raise SceneError("image_id", scene.image_id, "an integer 0..65535")


def _shape_of(x: Any) -> str:
    return f"shape {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__


def save_scene(path: str | os.PathLike[str], scene: Scene, *, truth: Mapping[str, Any] | None = None) -> None:
    """Write a scene as ``.npz`` (and, when given, its truth next to it as ``<stem>.truth.json``)."""
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "bands": {n: BANDS[n][0] for n in scene.bands},
            "pixel_size_m": float(scene.pixel_size_m), "sun_zenith_deg": float(scene.sun_zenith_deg),
            "image_id": int(scene.image_id), "time_utc": scene.time_utc, **dict(scene.meta)}
    arrays: dict[str, np.ndarray] = {f"band_{n}": np.asarray(a, dtype=np.float32) for n, a in scene.bands.items()}
    arrays["lat_deg"] = scene.lat_deg.astype(np.float64)
    arrays["lon_deg"] = scene.lon_deg.astype(np.float64)
    if scene.reference_water is not None:
        arrays["reference_water"] = scene.reference_water
    if scene.valid is not None:
        arrays["valid"] = scene.valid
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    if truth is not None:
        stem = os.fspath(path)
        stem = stem[:-4] if stem.endswith(".npz") else stem
        with open(stem + ".truth.json", "w", encoding="utf-8") as f:
            json.dump(truth, f, indent=1, sort_keys=True)


def load_scene(path: str | os.PathLike[str]) -> Scene:
    """Read and check a scene file; SceneError (with the path) for anything malformed."""
    where = os.fspath(path)
    try:
        npz = np.load(where, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise SceneError("file", type(e).__name__, f"a .npz scene file ({e})", path=where) from e
    with npz:
        try:
            return _from_arrays({k: npz[k] for k in npz.files}, where)
        except SceneError as e:
            if e.path is None:
                raise SceneError(e.field, e.value, e.allowed, path=where) from e
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise SceneError("file", type(e).__name__, f"a readable .npz scene file ({e})", path=where) from e


def _from_arrays(arrays: Mapping[str, np.ndarray], where: str) -> Scene:
    if "meta" not in arrays:
        raise SceneError("meta", "missing", f"a JSON 'meta' entry (format {FORMAT!r})")
    try:
        meta = json.loads(bytes(arrays["meta"].astype(np.uint8)).decode())
    except (ValueError, UnicodeDecodeError) as e:
        raise SceneError("meta", "not JSON", f"UTF-8 JSON ({e})") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise SceneError("meta.format", repr(meta.get("format") if isinstance(meta, dict) else meta), repr(FORMAT))
    if meta.get("version") != FORMAT_VERSION:
        raise SceneError("meta.version", repr(meta.get("version")), str(FORMAT_VERSION))
    units = meta.get("bands")
    if not isinstance(units, dict):
        raise SceneError("meta.bands", repr(units), "a table band name -> unit")
    bands: dict[str, np.ndarray] = {}
    for name, unit in units.items():
        if name not in BANDS:
            raise SceneError("meta.bands", repr(name), f"one of {sorted(BANDS)}")
        if unit != BANDS[name][0]:
            raise SceneError(f"meta.bands.{name}", repr(unit), repr(BANDS[name][0]))
        key = f"band_{name}"
        if key not in arrays:
            raise SceneError(key, "missing", f"an array for every band meta.bands names")
        bands[name] = np.asarray(arrays[key], dtype=np.float32) if np.issubdtype(arrays[key].dtype, np.floating) \
            else arrays[key]
    for key in ("lat_deg", "lon_deg"):
        if key not in arrays:
            raise SceneError(key, "missing", "per-pixel geodetic coordinates (rows, cols)")
    known = {"meta", "lat_deg", "lon_deg", "reference_water", "valid", *(f"band_{n}" for n in BANDS)}
    extra = sorted(set(arrays) - known)
    if extra:
        raise SceneError("entry", repr(extra[0]), f"one of {sorted(known)}")
    for key in ("pixel_size_m", "sun_zenith_deg"):
        if not isinstance(meta.get(key), (int, float)) or isinstance(meta.get(key), bool):
            raise SceneError(f"meta.{key}", repr(meta.get(key)), "a number")
    rest = {k: v for k, v in meta.items() if k not in
            {"format", "version", "bands", "pixel_size_m", "sun_zenith_deg", "image_id", "time_utc"}}
    lat, lon = arrays["lat_deg"], arrays["lon_deg"]
    return Scene(bands=bands,
                 lat_deg=lat.astype(np.float64) if np.issubdtype(lat.dtype, np.number) else lat,
                 lon_deg=lon.astype(np.float64) if np.issubdtype(lon.dtype, np.number) else lon,
                 pixel_size_m=float(meta["pixel_size_m"]), sun_zenith_deg=float(meta["sun_zenith_deg"]),
                 image_id=meta.get("image_id", 0), time_utc=meta.get("time_utc"),
                 reference_water=arrays.get("reference_water"), valid=arrays.get("valid"), meta=rest)
