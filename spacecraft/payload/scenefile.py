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

:func:`load_scene` reads a file from anyone, so it trusts nothing in it: the zip's members are checked (known
names, once each, stored or deflated, not encrypted) and each ``.npy`` header (bool/int/float dtype, at most
:data:`MAX_PIXELS` values, :data:`MAX_META_BYTES` for ``meta``) before any array data is read, so a hostile
header cannot make it allocate, and an object array is refused, never unpickled. Whatever the zip, zlib or
``.npy`` layers raise for a damaged file becomes a :class:`SceneError` naming the entry.
"""

from __future__ import annotations

import json
import math
import os
import stat
import struct
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from .errors import PayloadError

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
#: Largest ``meta`` entry (octets): its JSON object of a few keys needs far less, and a bound keeps a hostile
#: one from taking the machine.
MAX_META_BYTES = 1024 * 1024
#: Ground sample distance (m) and sun zenith angle (degrees) a scene may state (docs/scene-format.md, ``meta``).
PIXEL_SIZE_RANGE_M = (0.1, 100_000.0)
SUN_ZENITH_RANGE_DEG = (0.0, 180.0)
#: Entry dtypes a file may hold (numpy kinds): bool, signed and unsigned integers, floats. Nothing else is
#: read: no objects (so nothing is ever unpickled), strings, structures or complex numbers.
_ENTRY_KINDS = "biuf"
#: What the zip and .npy layers raise for a damaged file: zlib.error for corrupt deflate data,
#: NotImplementedError for a zip feature the reader lacks (a newer zip version), struct.error and EOFError
#: for a record cut short; BadZipFile, OSError and ValueError for the rest.
_DAMAGED = (zipfile.BadZipFile, zlib.error, struct.error, EOFError, NotImplementedError, OSError, ValueError)
#: The zip compression methods numpy.savez and numpy.savez_compressed write.
_COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
#: General-purpose flag bits (APPNOTE 4.4.4) a scene entry may not have: 0 encrypted, 5 patched data,
#: 6 strong encryption.
_REFUSED_FLAGS = 0x0001 | 0x0020 | 0x0040
#: Longest value an error message shows, in characters.
_MAX_SHOWN = 80


class SceneError(PayloadError):
    """A scene (or scene file) that cannot be analysed: names the field, the value and what is allowed."""

    def __init__(self, field_name: str, value: Any, allowed: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(field_name, value, allowed, where=f"{path}: " if path else "")

    @staticmethod
    def _show(value: Any) -> str:
        # a hostile file's value (a 400-digit number, a megabyte string) must not flood a one-line message
        shown = str(value)
        return shown if len(shown) <= _MAX_SHOWN else shown[:_MAX_SHOWN - 3] + "..."


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
    for name, arr, limit in (("lat_deg", lat, 90), ("lon_deg", lon, 180)):
        # a bool or string "coordinate" is no coordinate (and isfinite would not even take a string)
        if arr.dtype.kind not in "iuf":
            raise SceneError(name, f"dtype {arr.dtype}", "real numbers, degrees")
        if not np.all(np.isfinite(arr)) or np.abs(arr).max() > limit:
            raise SceneError(name, f"{np.nanmin(arr)}..{np.nanmax(arr)}", f"finite values in -{limit}..{limit}")
    if not scene.bands:
        raise SceneError("bands", "none", f"at least one of {sorted(BANDS)}")
    for name, arr in scene.bands.items():
        if name not in BANDS:
            raise SceneError("band", repr(name), f"one of {sorted(BANDS)}")
        if not isinstance(arr, np.ndarray) or arr.shape != shape:
            raise SceneError(f"band {name}", _shape_of(arr), f"an array of the shape of lat_deg {shape}")
        if not np.issubdtype(arr.dtype, np.floating):
            raise SceneError(f"band {name}", f"dtype {arr.dtype}", "floating point in physical units")
        _check_band_range(name, arr)
    for name in ("reference_water", "valid"):
        arr = getattr(scene, name)
        if arr is not None and (not isinstance(arr, np.ndarray) or arr.shape != shape or arr.dtype != bool):
            raise SceneError(name, f"{_shape_of(arr)} {getattr(arr, 'dtype', type(arr).__name__)}",
                             f"a bool array of the shape of lat_deg {shape}")
    _check_number("pixel_size_m", scene.pixel_size_m, PIXEL_SIZE_RANGE_M, "m")
    _check_number("sun_zenith_deg", scene.sun_zenith_deg, SUN_ZENITH_RANGE_DEG, "degrees")
    if isinstance(scene.image_id, bool) or not isinstance(scene.image_id, int) or not 0 <= scene.image_id <= 0xFFFF:
        raise SceneError("image_id", repr(scene.image_id), "an integer 0..65535")
    _check_time("time_utc", scene.time_utc)


def _check_band_range(name: str, arr: np.ndarray) -> None:
    """SceneError unless the band's finite values lie in its physical range (non-finite ones are dead pixels)."""
    unit, lo, hi = BANDS[name]
    finite = np.isfinite(arr)
    # min/max over the finite pixels without copying them out
    low = arr.min(where=finite, initial=np.inf)
    high = arr.max(where=finite, initial=-np.inf)
    if low <= high and (low < lo or high > hi):
        raise SceneError(f"band {name}", f"{low:.4g}..{high:.4g} {unit}",
                         f"{lo}..{hi} {unit} (is it in the right unit?)")


def _check_number(name: str, value: Any, limits: tuple[float, float], unit: str) -> None:
    """SceneError unless ``value`` is a real number (not a bool) within ``limits``."""
    lo, hi = limits
    # compared before any float(): an integer too large for a float is out of range, not an OverflowError
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise SceneError(name, repr(value), f"a number {lo:g}..{hi:g} {unit}")


def _check_time(name: str, value: Any) -> None:
    """SceneError unless ``value`` is None or an ISO 8601 time."""
    if value is None:
        return
    try:
        if not isinstance(value, str):
            raise TypeError(type(value).__name__)
        datetime.fromisoformat(value)
    except (TypeError, ValueError) as e:
        raise SceneError(name, repr(value), "an ISO 8601 time (e.g. 2024-03-20T06:12:00+00:00) or none") from e


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
        return _from_arrays(_read_entries(where))
    except SceneError as e:
        if e.path is None:
            raise SceneError(e.field, e.value, e.allowed, path=where) from e
        raise


#: Entry names a scene file may hold (each ``<name>.npy`` in the zip).
_ENTRIES = ("meta", "lat_deg", "lon_deg", "reference_water", "valid", *(f"band_{n}" for n in BANDS))
_FILE_ALLOWED = "a .npz scene file (a zip of .npy arrays, docs/scene-format.md)"


def _read_entries(where: str) -> dict[str, np.ndarray]:
    """The arrays of a scene file, each checked (name, dtype, size) from its header before it is read."""
    try:
        mode = os.stat(where).st_mode
    except OSError as e:
        raise SceneError("file", f"not readable ({e.strerror})", _FILE_ALLOWED) from e
    if not stat.S_ISREG(mode):
        # checked first: a FIFO or a device would block or never end
        raise SceneError("file", "a directory" if stat.S_ISDIR(mode) else "not a regular file", _FILE_ALLOWED)
    try:
        with open(where, "rb") as f:
            magic = f.read(4)
            if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
                what = ("empty" if not magic else "a single .npy array, not a .npz" if magic == b"\x93NUM"
                        else f"not a zip archive (it starts {magic!r})")
                raise SceneError("file", what, _FILE_ALLOWED)
            f.seek(0)
            with zipfile.ZipFile(f) as zf:
                infos = _check_members(zf.infolist())
                return {name: _read_entry(zf, name, info) for name, info in infos.items()}
    except SceneError:
        raise
    except _DAMAGED as e:
        raise SceneError("file", f"damaged ({type(e).__name__}: {e})", _FILE_ALLOWED) from e


def _check_members(infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """Entry name -> its zip member, refusing unknown, repeated, encrypted or oddly compressed members."""
    out: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename.removesuffix(".npy")
        if name not in _ENTRIES or not info.filename.endswith(".npy"):
            raise SceneError("entry", repr(info.filename), f"one of {[n + '.npy' for n in _ENTRIES]}")
        if name in out:
            raise SceneError("entry", f"{info.filename!r} twice", "each entry once")
        if info.compress_type not in _COMPRESSIONS:
            raise SceneError(name, f"compression method {info.compress_type}", " or ".join(_COMPRESSIONS.values()))
        if info.flag_bits & _REFUSED_FLAGS:
            raise SceneError(name, f"zip flags {info.flag_bits:#06x}", "no encryption or patched data")
        out[name] = info
    return out


def _read_entry(zf: zipfile.ZipFile, name: str, info: zipfile.ZipInfo) -> np.ndarray:
    """One entry's array: its .npy header is checked (dtype, size) before any of its data is read."""
    try:
        with zf.open(info) as f:
            shape, dtype = _read_npy_header(f, name)
            if dtype.hasobject or dtype.kind not in _ENTRY_KINDS:
                raise SceneError(name, f"dtype {dtype}", "bool, integer or float arrays (objects are never unpickled)")
            # numpy takes any int, True and negative ones too (and then fails on them with a TypeError)
            if any(isinstance(n, bool) or n < 0 for n in shape):
                raise SceneError(name, f"shape {shape}", "dimensions that are whole numbers >= 0")
            count = math.prod(shape)
            if name == "meta":
                if dtype != np.uint8 or len(shape) != 1 or count > MAX_META_BYTES:
                    raise SceneError(name, f"dtype {dtype} shape {shape}",
                                     f"UTF-8 JSON as a 1-D uint8 array of at most {MAX_META_BYTES} octets")
            elif count > MAX_PIXELS:
                raise SceneError(name, f"{count} pixels (shape {shape})", f"at most {MAX_PIXELS} pixels")
            # the header read again by numpy's own reader; the size is bounded now
            f.seek(0)
            arr = np.lib.format.read_array(f, allow_pickle=False)
            if f.read(1):
                # numpy writes nothing after the data; reading to the end also checks the member's CRC
                raise SceneError(name, "followed by more data", f"nothing after its {count} values")
            return arr
    except SceneError:
        raise
    except _DAMAGED as e:
        raise SceneError(name, f"damaged ({type(e).__name__}: {e})", "a readable .npy array") from e


def _read_npy_header(f: Any, name: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """(shape, dtype) from an entry's .npy header (at most numpy's 10000 octets of it)."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        read = np.lib.format.read_array_header_1_0
    elif version == (2, 0):
        read = np.lib.format.read_array_header_2_0
    else:
        raise SceneError(name, f".npy format version {version[0]}.{version[1]}", "1.0 or 2.0")
    try:
        with warnings.catch_warnings():
            # literal_eval compiles the header text: a crafted one ('1if 1', '\\d') would print a warning beside
            # the error
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            shape, _, dtype = read(f)
    except (tokenize.TokenError, RecursionError, MemoryError, TypeError, SyntaxError) as e:
        # numpy parses the header text with ast.literal_eval (a 1.0 header also with tokenize): a crafted header of
        # a few kB ('1+1+...', '---...1', an open string) makes the parser give up with these rather than ValueError,
        # a dictionary with a bytes key (b'descr') fails numpy's own sorting of the keys with a TypeError, and a
        # descr such as '08' reaches literal_eval inside numpy.dtype as a SyntaxError (found by the fuzz test)
        raise SceneError(name, f"an unparsable .npy header ({type(e).__name__})", "a header as numpy writes it") from e
    return shape, dtype


def _from_arrays(arrays: Mapping[str, np.ndarray]) -> Scene:
    if "meta" not in arrays:
        raise SceneError("meta", "missing", f"a JSON 'meta' entry (format {FORMAT!r})")
    try:
        meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise SceneError("meta", "not JSON", f"a UTF-8 JSON object ({type(e).__name__}: {e})") from e
    if not isinstance(meta, dict):
        raise SceneError("meta", f"a JSON {type(meta).__name__}", "a JSON object")
    if meta.get("format") != FORMAT:
        raise SceneError("meta.format", repr(meta.get("format")), repr(FORMAT))
    if meta.get("version") != FORMAT_VERSION or isinstance(meta.get("version"), bool):
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
            raise SceneError(key, "missing", "an array for every band meta.bands names")
        arr = arrays[key]
        if np.issubdtype(arr.dtype, np.floating):
            if arr.dtype.itemsize > 4:
                # before the float32 cast, which would turn a value too large for it into inf (a dead pixel)
                _check_band_range(name, arr)
            arr = arr.astype(np.float32, copy=False)
        bands[name] = arr
    for key in arrays:
        if key.startswith("band_") and key.removeprefix("band_") not in units:
            raise SceneError(key, "an array meta.bands does not list", f"only the bands of meta.bands {sorted(units)}")
    for key in ("lat_deg", "lon_deg"):
        if key not in arrays:
            raise SceneError(key, "missing", "per-pixel geodetic coordinates (rows, cols)")
    _check_number("meta.pixel_size_m", meta.get("pixel_size_m"), PIXEL_SIZE_RANGE_M, "m")
    _check_number("meta.sun_zenith_deg", meta.get("sun_zenith_deg"), SUN_ZENITH_RANGE_DEG, "degrees")
    image_id = meta.get("image_id", 0)
    if isinstance(image_id, bool) or not isinstance(image_id, int) or not 0 <= image_id <= 0xFFFF:
        raise SceneError("meta.image_id", repr(image_id), "an integer 0..65535")
    _check_time("meta.time_utc", meta.get("time_utc"))
    rest = {k: v for k, v in meta.items() if k not in
            {"format", "version", "bands", "pixel_size_m", "sun_zenith_deg", "image_id", "time_utc"}}
    lat, lon = arrays["lat_deg"], arrays["lon_deg"]
    return Scene(bands=bands,
                 lat_deg=lat.astype(np.float64) if lat.dtype.kind in "iuf" else lat,
                 lon_deg=lon.astype(np.float64) if lon.dtype.kind in "iuf" else lon,
                 pixel_size_m=float(meta["pixel_size_m"]), sun_zenith_deg=float(meta["sun_zenith_deg"]),
                 image_id=image_id, time_utc=meta.get("time_utc"),
                 reference_water=arrays.get("reference_water"), valid=arrays.get("valid"), meta=rest)
