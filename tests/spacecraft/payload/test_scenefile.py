"""The scene file reader (docs/scene-format.md): round trips, and every malformed file refused by name.

Each refusal is checked for the field it names (``SceneError.field``), and for a message that says the
value, what is allowed and which file. Fuzzed files (random octets, a good file with flipped or cut
octets) either load or raise SceneError, never anything else; the CLI turns a refusal into one line.
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import tempfile
import tracemalloc
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, HealthCheck, given, settings, strategies as st

from spacecraft.payload import scenefile
from spacecraft.payload.scenefile import (
    BANDS,
    FORMAT,
    FORMAT_VERSION,
    MAX_PIXELS,
    Scene,
    SceneError,
    load_scene,
    save_scene,
)

REPO = Path(__file__).resolve().parents[3]
ROWS, COLS = 8, 6
LAT_DEG, LON_DEG = np.meshgrid(np.linspace(43.3, 43.1, ROWS), np.linspace(76.8, 77.1, COLS), indexing="ij")
#: A plausible value of each band, in its unit.
TYPICAL = {"red": 0.06, "nir": 0.25, "swir": 0.18, "mwir": 303.0, "tir": 300.0}


def _band(name: str, shape: tuple[int, ...] = (ROWS, COLS), dtype: Any = np.float32) -> np.ndarray:
    return np.full(shape, TYPICAL[name], dtype=dtype)


def _meta(**changes: Any) -> dict[str, Any]:
    """A night tir-only meta; a change of None drops the key."""
    meta: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "bands": {"tir": "K"},
                            "pixel_size_m": 200.0, "sun_zenith_deg": 120.0}
    meta.update(changes)
    return {k: v for k, v in meta.items() if v is not None}


def _json(obj: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(obj).encode(), dtype=np.uint8)


def _entries(**changes: Any) -> dict[str, Any]:
    """The entries of a good night tir-only file; a change of None drops the entry."""
    entries: dict[str, Any] = {"meta": _json(_meta()), "band_tir": _band("tir"), "lat_deg": LAT_DEG, "lon_deg": LON_DEG}
    entries.update(changes)
    return {k: v for k, v in entries.items() if v is not None}


def _write(path: Path, entries: dict[str, Any], *, allow_pickle: bool = False) -> Path:
    """What anyone's writer makes: an uncompressed np.savez."""
    with open(path, "wb") as f:
        np.savez(f, allow_pickle=allow_pickle, **entries)
    return path


def _npy(arr: np.ndarray, *, version: tuple[int, int] | None = None) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=version)
    return buf.getvalue()


def _zip(path: Path, members: list[tuple[str, bytes]], *, compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def _good_members() -> list[tuple[str, bytes]]:
    return [(f"{k}.npy", _npy(v)) for k, v in _entries().items()]


def _refused(path: Path, field: str, *needles: str) -> SceneError:
    """load_scene refuses ``path`` naming ``field``; the message says the file, the value, what is allowed."""
    with pytest.raises(SceneError) as info:
        load_scene(path)
    e = info.value
    msg = str(e)
    assert e.field == field, msg
    assert e.path == os.fspath(path)
    assert msg.startswith(f"{path}: {field} is "), msg
    assert str(e.value)[:40] in msg and e.allowed and msg.endswith(f", allowed {e.allowed}"), msg
    assert "\n" not in msg
    for needle in needles:
        assert needle in msg, (needle, msg)
    return e


def _full_scene(**changes: Any) -> Scene:
    kwargs: dict[str, Any] = dict(
        bands={n: _band(n, dtype=np.float64) + 0.001 * np.arange(ROWS * COLS).reshape(ROWS, COLS) for n in BANDS},
        lat_deg=LAT_DEG, lon_deg=LON_DEG, pixel_size_m=187.5, sun_zenith_deg=33.25, image_id=4242,
        time_utc="2024-03-20T06:12:00+00:00", reference_water=(np.arange(ROWS * COLS) % 3 == 0).reshape(ROWS, COLS),
        valid=(np.arange(ROWS * COLS) % 7 != 0).reshape(ROWS, COLS),
        meta={"sun_azimuth_deg": 141.5, "station": "Almaty", "nested": {"a": [1, 2]}})
    kwargs.update(changes)
    return Scene(**kwargs)


# ------------------------------------------------------------------------------------------- round trip


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    scene = _full_scene()
    truth = {"image_id": 4242, "targets": [{"kind": "FIRE", "row": 3, "col": 2}], "cloud_fraction": 0.125}
    save_scene(tmp_path / "cap.npz", scene, truth=truth)
    back = load_scene(tmp_path / "cap.npz")
    assert set(back.bands) == set(BANDS)
    for name, arr in back.bands.items():
        assert arr.dtype == np.float32 and arr.shape == (ROWS, COLS)
        np.testing.assert_array_equal(arr, scene.bands[name].astype(np.float32))
    assert back.lat_deg.dtype == np.float64 and back.lon_deg.dtype == np.float64
    np.testing.assert_array_equal(back.lat_deg, LAT_DEG)
    np.testing.assert_array_equal(back.lon_deg, LON_DEG)
    assert (back.pixel_size_m, back.sun_zenith_deg, back.image_id, back.time_utc) == (
        187.5, 33.25, 4242, "2024-03-20T06:12:00+00:00")
    assert back.reference_water.dtype == bool and back.valid.dtype == bool
    np.testing.assert_array_equal(back.reference_water, scene.reference_water)
    np.testing.assert_array_equal(back.valid, scene.valid)
    assert dict(back.meta) == {"sun_azimuth_deg": 141.5, "station": "Almaty", "nested": {"a": [1, 2]}}
    assert json.loads((tmp_path / "cap.truth.json").read_text(encoding="utf-8")) == truth
    # and again: what was read is written identically
    save_scene(tmp_path / "again.npz", back)
    again = load_scene(tmp_path / "again.npz")
    for name in BANDS:
        np.testing.assert_array_equal(again.bands[name], back.bands[name])
    assert dict(again.meta) == dict(back.meta) and again.time_utc == back.time_utc


def test_truth_goes_next_to_a_path_without_the_npz_suffix(tmp_path: Path) -> None:
    save_scene(tmp_path / "capture", _full_scene(), truth={"seed": 3})
    assert json.loads((tmp_path / "capture.truth.json").read_text()) == {"seed": 3}
    assert load_scene(tmp_path / "capture").image_id == 4242
    save_scene(tmp_path / "nothing.npz", _full_scene())
    assert not (tmp_path / "nothing.truth.json").exists()


def test_a_minimal_file_from_anyones_writer_loads(tmp_path: Path) -> None:
    # uncompressed, float64 bands, integer coordinates, no optional key or layer
    lat = np.full((ROWS, COLS), 43, dtype=np.int32)
    entries = _entries(band_tir=_band("tir", dtype=np.float64), lat_deg=lat, lon_deg=lat + 34)
    path = _write(tmp_path / "min.npz", entries)
    scene = load_scene(path)
    assert scene.bands["tir"].dtype == np.float32 and scene.lat_deg.dtype == np.float64
    assert (scene.image_id, scene.time_utc, scene.reference_water, scene.valid) == (0, None, None, None)
    assert dict(scene.meta) == {}
    assert scene.shape == (ROWS, COLS) and scene.lon_deg[0, 0] == 77.0


def test_non_finite_band_pixels_load_as_dead_pixels(tmp_path: Path) -> None:
    tir = _band("tir")
    tir[0, 0], tir[1, 1] = np.nan, np.inf
    scene = load_scene(_write(tmp_path / "dead.npz", _entries(band_tir=tir)))
    assert np.isnan(scene.bands["tir"][0, 0]) and np.isinf(scene.bands["tir"][1, 1])


# ------------------------------------------------------------------------------------------- the file itself


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "junk.npz"
    path.write_bytes(b"this is a text file, not a scene\n" * 10)
    _refused(path, "file", "not a zip archive", "b'this'", ".npz")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    _refused(path, "file", "empty")


def test_a_single_npy_is_not_a_scene(tmp_path: Path) -> None:
    path = tmp_path / "one.npz"
    path.write_bytes(_npy(LAT_DEG))
    _refused(path, "file", "single .npy array")


@pytest.mark.parametrize("keep", [0.999, 0.5, 0.1])
def test_truncated_zip(tmp_path: Path, keep: float) -> None:
    data = _write(tmp_path / "good.npz", _entries()).read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: int(len(data) * keep)])
    _refused(path, "file", "damaged")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    _refused(tmp_path / "nowhere.npz", "file", "No such file")
    _refused(tmp_path, "file", "a directory")


def test_an_empty_zip_has_no_meta(tmp_path: Path) -> None:
    _refused(_zip(tmp_path / "e.npz", []), "meta", "missing", "ttc-scene")


# ------------------------------------------------------------------------------------------- zip members


def test_unknown_entry(tmp_path: Path) -> None:
    e = _refused(_write(tmp_path / "x.npz", _entries(extra=np.zeros(3))), "entry", "'extra.npy'", "lat_deg.npy")
    assert "band_tir.npy" in e.allowed


def test_an_entry_that_is_not_npy(tmp_path: Path) -> None:
    # np.load would hand back raw bytes for a member without .npy
    path = _zip(tmp_path / "raw.npz", [("meta", json.dumps(_meta()).encode()), *_good_members()[1:]])
    _refused(path, "entry", "'meta'")


def test_an_entry_twice(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = _zip(tmp_path / "dup.npz", [*_good_members(), ("band_tir.npy", _npy(_band("tir") + 1))])
    _refused(path, "entry", "'band_tir.npy' twice", "each entry once")


def test_an_unsupported_compression(tmp_path: Path) -> None:
    _refused(_zip(tmp_path / "xz.npz", _good_members(), compression=zipfile.ZIP_LZMA), "meta",
             "compression method 14", "stored or deflated")


def test_an_encrypted_entry(tmp_path: Path) -> None:
    data = bytearray(_zip(tmp_path / "plain.npz", _good_members()).read_bytes())
    for magic, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers: flag bit 0
        at = data.find(magic)
        data[at + flag_at] |= 0x01
    path = tmp_path / "locked.npz"
    path.write_bytes(bytes(data))
    _refused(path, "meta", "zip flags 0x0001", "no encryption")


def test_corrupt_deflate_data(tmp_path: Path) -> None:
    members = [("band_tir.npy", _npy(_band("tir") + np.arange(ROWS * COLS).reshape(ROWS, COLS) / 7))]
    data = bytearray(_zip(tmp_path / "d.npz", members, compression=zipfile.ZIP_DEFLATED).read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("band_tir.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start:start + 16] = b"\xff" * 16  # a reserved deflate block type: zlib.error inside
    path = tmp_path / "bad-deflate.npz"
    path.write_bytes(bytes(data))
    _refused(path, "band_tir", "damaged")


def test_a_flipped_data_octet_fails_the_crc(tmp_path: Path) -> None:
    data = bytearray(_write(tmp_path / "ok.npz", _entries()).read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("band_tir.npy")
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size - 3] ^= 0x40
    path = tmp_path / "flip.npz"
    path.write_bytes(bytes(data))
    _refused(path, "band_tir", "damaged", "CRC")


def test_data_after_the_array(tmp_path: Path) -> None:
    members = [(n, d + b"tail" if n == "lat_deg.npy" else d) for n, d in _good_members()]
    _refused(_zip(tmp_path / "tail.npz", members), "lat_deg", "followed by more data")


def test_an_array_cut_short(tmp_path: Path) -> None:
    members = [(n, d[:-8] if n == "lon_deg.npy" else d) for n, d in _good_members()]
    _refused(_zip(tmp_path / "short.npz", members), "lon_deg", "damaged")


def test_a_newer_npy_format_version(tmp_path: Path) -> None:
    members = [(n, _npy(LAT_DEG, version=(3, 0)) if n == "lat_deg.npy" else d) for n, d in _good_members()]
    _refused(_zip(tmp_path / "v3.npz", members), "lat_deg", ".npy format version 3.0", "1.0 or 2.0")


def test_an_npy_with_a_bad_magic(tmp_path: Path) -> None:
    members = [(n, b"\x00" * len(d) if n == "band_tir.npy" else d) for n, d in _good_members()]
    _refused(_zip(tmp_path / "magic.npz", members), "band_tir", "damaged")


def _raw_npy(header: str, data: bytes) -> bytes:
    """A version 1.0 .npy with this header text, as anyone's (or a hostile) writer might make it."""
    text = header.encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


def _lat_header(descr: str = "<f8", fortran: str = "False", shape: str = f"({ROWS}, {COLS})") -> str:
    return f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"


@pytest.mark.parametrize(("header", "needles"), [
    (_lat_header(shape=f"(-{ROWS}, {COLS})"), ("shape (-8, 6)", "whole numbers >= 0")),
    (_lat_header(shape=f"(True, {COLS})"), ("shape (True, 6)",)),  # numpy itself would raise TypeError
    (_lat_header(shape=f"({ROWS}.0, {COLS})"), ("damaged",)),
    (_lat_header(shape="(" + "9" * 400 + ",)"), ("999999", "at most 67108864 pixels")),
    (_lat_header(shape="(" + "9" * 5000 + ",)"), ("damaged",)),  # beyond Python's int-from-text limit
    (_lat_header(fortran="1"), ("damaged", "fortran_order")),
    (_lat_header(descr="<f7"), ("damaged",)),
    (_lat_header(descr="<M8[s]"), ("dtype datetime64[s]",)),
    (_lat_header(descr="|V8"), ("dtype |V8",)),
    (_lat_header(descr="<f16"), ("damaged", "EOF")),  # twice the data the entry holds
    ("{'descr': '<f8', 'shape': (8, 6)}", ("damaged",)),
    ("[1, 2, 3]", ("damaged",)),
    ("1" + "+1" * 3000, ("unparsable .npy header",)),  # RecursionError in ast.literal_eval
    ("-" * 9000 + "1", ("unparsable .npy header",)),  # MemoryError from the parser, on 9 kB
    ("{'descr': '''", ("unparsable .npy header", "TokenError")),
    ("{'descr': '<f8', 'fortran_order': 1if 1, 'shape': (8, 6)}", ("damaged",)),  # compiling it warns
    ("{'descr': '\\d', 'fortran_order': False, 'shape': (8, 6)}", ("damaged",)),  # so does this
], ids=["negative", "bool", "float", "huge-int", "huger-int", "fortran-int", "descr", "datetime", "void", "short",
        "no-fortran", "not-a-dict", "deep-sum", "deep-minus", "open-string",
        "syntax-warning", "escape-warning"])
def test_odd_npy_headers(tmp_path: Path, header: str, needles: tuple[str, ...]) -> None:
    members = [(n, _raw_npy(header, LAT_DEG.tobytes()) if n == "lat_deg.npy" else d) for n, d in _good_members()]
    path = _zip(tmp_path / "h.npz", members)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _refused(path, "lat_deg", *needles)
    assert [str(w.message) for w in caught] == []  # a warning would print beside the CLI's one line


def test_fortran_order_and_big_endian_entries_load(tmp_path: Path) -> None:
    members = [(n, d) for n, d in _good_members() if n not in ("lat_deg.npy", "lon_deg.npy")]
    members += [("lat_deg.npy", _raw_npy(_lat_header(fortran="True"), LAT_DEG.tobytes(order="F"))),
                ("lon_deg.npy", _raw_npy(_lat_header(descr=">f8"), LON_DEG.astype(">f8").tobytes()))]
    scene = load_scene(_zip(tmp_path / "fb.npz", members))
    np.testing.assert_array_equal(scene.lat_deg, LAT_DEG)
    np.testing.assert_array_equal(scene.lon_deg, LON_DEG)


# ------------------------------------------------------------------------------------------- pickles


def _touch(path: str) -> str:
    Path(path).touch()
    return path


class Booby:
    """Unpickling one creates a file: proof that something was unpickled."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _touch, (self.marker,)


@pytest.mark.parametrize("entry", ["band_tir", "lat_deg", "valid", "meta"])
def test_an_object_array_is_refused_never_unpickled(tmp_path: Path, entry: str) -> None:
    marker = tmp_path / "unpickled"
    trap = np.empty((ROWS, COLS) if entry != "meta" else (3,), dtype=object)
    trap.fill(Booby(str(marker)))
    path = _write(tmp_path / "pickle.npz", _entries(**{entry: trap}), allow_pickle=True)
    assert not marker.exists()
    _refused(path, entry, "dtype object", "never unpickled")
    assert not marker.exists()


@pytest.mark.parametrize("trap", [np.array([("a", 1.0)], dtype=[("s", "U1"), ("x", "f8")]),
                                  np.full((ROWS, COLS), 1 + 2j), np.full((ROWS, COLS), "43.2")],
                         ids=["structured", "complex", "string"])
def test_other_dtypes_are_refused(tmp_path: Path, trap: np.ndarray) -> None:
    _refused(_write(tmp_path / "odd.npz", _entries(lat_deg=trap)), "lat_deg", f"dtype {trap.dtype}",
             "bool, integer or float")


# ------------------------------------------------------------------------------------------- size


def test_a_huge_declared_entry_is_refused_before_it_is_read(tmp_path: Path) -> None:
    # a header claiming 10^10 float64 (80 GB) and no data at all: the header alone must refuse it
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000)})
    others = [(n, d) for n, d in _good_members() if n != "lat_deg.npy"]
    path = _zip(tmp_path / "huge.npz", [("lat_deg.npy", header.getvalue()), *others])
    tracemalloc.start()
    try:
        e = _refused(path, "lat_deg", "10000000000 pixels", f"at most {MAX_PIXELS} pixels")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 1024 * 1024, peak
    assert "(100000, 100000)" in str(e)


def test_more_than_max_pixels_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "ok.npz", _entries())
    monkeypatch.setattr(scenefile, "MAX_PIXELS", ROWS * COLS)
    assert load_scene(path).shape == (ROWS, COLS)  # exactly the limit is allowed
    monkeypatch.setattr(scenefile, "MAX_PIXELS", ROWS * COLS - 1)
    _refused(path, "band_tir", f"{ROWS * COLS} pixels", f"at most {ROWS * COLS - 1} pixels")
    with pytest.raises(SceneError) as info:
        Scene(bands={"tir": _band("tir")}, lat_deg=LAT_DEG, lon_deg=LON_DEG, pixel_size_m=200.0, sun_zenith_deg=120.0)
    assert info.value.field == "lat_deg" and "pixels" in str(info.value)


def test_a_huge_meta_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scenefile, "MAX_META_BYTES", 64)
    _refused(_write(tmp_path / "m.npz", _entries(meta=_json(_meta(note="x" * 64)))), "meta", "at most 64 octets")


# ------------------------------------------------------------------------------------------- meta


@pytest.mark.parametrize(("meta", "needles"), [
    (np.frombuffer(b"{not json", np.uint8), ("not JSON", "JSON object")),
    (np.frombuffer(b'{"format": "\xff\xfe"}', np.uint8), ("not JSON", "UTF-8", "UnicodeDecodeError")),
    (np.frombuffer(b"[" * 100_000 + b"]" * 100_000, np.uint8), ("not JSON", "RecursionError")),
    (np.frombuffer(b"", np.uint8), ("not JSON",)),
    (_json([1, 2]), ("a JSON list", "a JSON object")),
    (_json("ttc-scene"), ("a JSON str",)),
    (_json(_meta()).astype(np.float64), ("dtype float64", "1-D uint8")),
    (_json(_meta()).reshape(1, -1), ("shape (1,", "1-D uint8")),
], ids=["syntax", "not-utf8", "deep", "empty", "list", "string", "float", "2-d"])
def test_meta_not_a_json_object(tmp_path: Path, meta: np.ndarray, needles: tuple[str, ...]) -> None:
    _refused(_write(tmp_path / "m.npz", _entries(meta=meta)), "meta", *needles)


def test_meta_missing(tmp_path: Path) -> None:
    _refused(_write(tmp_path / "m.npz", _entries(meta=None)), "meta", "missing")


@pytest.mark.parametrize(("changes", "field", "needles"), [
    ({"format": "ttc-scenes"}, "meta.format", ("'ttc-scenes'", "'ttc-scene'")),
    ({"format": None}, "meta.format", ("None",)),
    ({"version": 2}, "meta.version", ("2", "allowed 1")),
    ({"version": "1"}, "meta.version", ("'1'",)),
    ({"version": True}, "meta.version", ("True",)),
    ({"version": None}, "meta.version", ("None",)),
    ({"bands": ["tir"]}, "meta.bands", ("['tir']", "band name -> unit")),
    ({"bands": {"tir": "K", "blue": "1"}}, "meta.bands", ("'blue'", "'mwir'")),
    ({"bands": {"tir": "degC"}}, "meta.bands.tir", ("'degC'", "'K'")),
    ({"bands": {"tir": None}}, "meta.bands.tir", ("None", "'K'")),
    ({"pixel_size_m": None}, "meta.pixel_size_m", ("None", "0.1..100000 m")),
    ({"pixel_size_m": "200"}, "meta.pixel_size_m", ("'200'",)),
    ({"pixel_size_m": True}, "meta.pixel_size_m", ("True",)),
    ({"pixel_size_m": 0.05}, "meta.pixel_size_m", ("0.05",)),
    ({"pixel_size_m": 1e6}, "meta.pixel_size_m", ("1000000.0",)),
    ({"pixel_size_m": float("nan")}, "meta.pixel_size_m", ("nan",)),
    ({"pixel_size_m": 10 ** 400}, "meta.pixel_size_m", ("1000000",)),  # too large for a float
    ({"sun_zenith_deg": None}, "meta.sun_zenith_deg", ("None", "0..180 degrees")),
    ({"sun_zenith_deg": -1}, "meta.sun_zenith_deg", ("-1",)),
    ({"sun_zenith_deg": 180.5}, "meta.sun_zenith_deg", ("180.5",)),
    ({"sun_zenith_deg": "35"}, "meta.sun_zenith_deg", ("'35'",)),
    ({"sun_zenith_deg": False}, "meta.sun_zenith_deg", ("False",)),
    ({"sun_zenith_deg": [35]}, "meta.sun_zenith_deg", ("[35]",)),
    ({"image_id": 65536}, "meta.image_id", ("65536", "0..65535")),
    ({"image_id": -1}, "meta.image_id", ("-1",)),
    ({"image_id": 7.0}, "meta.image_id", ("7.0", "an integer")),
    ({"image_id": "7"}, "meta.image_id", ("'7'",)),
    ({"image_id": True}, "meta.image_id", ("True",)),
    ({"time_utc": 1710915120}, "meta.time_utc", ("1710915120", "ISO 8601")),
    ({"time_utc": "yesterday"}, "meta.time_utc", ("'yesterday'",)),
])
def test_bad_meta_values(tmp_path: Path, changes: dict[str, Any], field: str, needles: tuple[str, ...]) -> None:
    e = _refused(_write(tmp_path / "m.npz", _entries(meta=_json(_meta(**changes)))), field, *needles)
    assert len(str(e)) < 400  # a 400-digit number is shown cut short


def test_no_bands_at_all(tmp_path: Path) -> None:
    _refused(_write(tmp_path / "m.npz", _entries(meta=_json(_meta(bands={})), band_tir=None)), "bands", "none",
             "at least one of")


def test_good_meta_edges_load(tmp_path: Path) -> None:
    for changes in ({"pixel_size_m": 0.1, "sun_zenith_deg": 0, "image_id": 65535},
                    {"pixel_size_m": 100_000, "sun_zenith_deg": 180, "image_id": 0,
                     "time_utc": "2024-03-20T06:12:00Z"}):
        scene = load_scene(_write(tmp_path / "m.npz", _entries(meta=_json(_meta(**changes)))))
        assert scene.pixel_size_m == changes["pixel_size_m"] and isinstance(scene.pixel_size_m, float)


# ------------------------------------------------------------------------------------------- bands


def test_a_listed_band_without_its_array(tmp_path: Path) -> None:
    meta = _meta(bands={"tir": "K", "mwir": "K"})
    _refused(_write(tmp_path / "b.npz", _entries(meta=_json(meta))), "band_mwir", "missing", "meta.bands")


def test_a_band_array_not_listed(tmp_path: Path) -> None:
    _refused(_write(tmp_path / "b.npz", _entries(band_red=_band("red"))), "band_red", "does not list", "['tir']")


def test_an_unknown_band_array(tmp_path: Path) -> None:
    _refused(_write(tmp_path / "b.npz", _entries(band_blue=_band("red"))), "entry", "'band_blue.npy'")


@pytest.mark.parametrize(("tir", "needles"), [
    (_band("tir", (ROWS - 1, COLS)), (f"shape ({ROWS - 1}, {COLS})", f"shape of lat_deg ({ROWS}, {COLS})")),
    (_band("tir", (COLS, ROWS)), (f"shape ({COLS}, {ROWS})",)),
    (_band("tir", (ROWS * COLS,)), (f"shape ({ROWS * COLS},)",)),
    (_band("tir", (ROWS, COLS, 1)), (f"shape ({ROWS}, {COLS}, 1)",)),
    (np.full((ROWS, COLS), 300, np.int16), ("dtype int16", "floating point")),
    (np.ones((ROWS, COLS), bool), ("dtype bool", "floating point")),
    (_band("tir") - 273.15, ("26.85..26.85 K", "150.0..400.0 K", "right unit")),  # in °C
    (np.full((ROWS, COLS), 1e39), ("1e+39", "right unit")),  # float64 beyond float32: not an inf
    (np.full((ROWS, COLS), -1e39), ("-1e+39",)),
], ids=["rows", "transposed", "1-d", "3-d", "int16", "bool", "celsius", "huge", "huge-negative"])
def test_bad_tir_band(tmp_path: Path, tir: np.ndarray, needles: tuple[str, ...]) -> None:
    _refused(_write(tmp_path / "b.npz", _entries(band_tir=tir)), "band tir", *needles)


def test_reflectance_in_percent(tmp_path: Path) -> None:
    meta = _meta(bands={"tir": "K", "red": "1"}, sun_zenith_deg=30.0)
    red = np.linspace(2.0, 60.0, ROWS * COLS).reshape(ROWS, COLS)
    _refused(_write(tmp_path / "b.npz", _entries(meta=_json(meta), band_red=red)), "band red",
             "2..60 1", "-0.05..1.6 1", "right unit")


def test_each_band_range_edges(tmp_path: Path) -> None:
    for name, (unit, lo, hi) in BANDS.items():
        meta = _json(_meta(bands={name: unit}))
        ok = np.linspace(lo, hi, ROWS * COLS, dtype=np.float32).reshape(ROWS, COLS)
        entries = {**_entries(meta=meta, band_tir=None), f"band_{name}": ok}
        assert load_scene(_write(tmp_path / "ok.npz", entries)).bands[name].max() == np.float32(hi)
        for at, value in ((-1, hi + abs(hi) * 0.01), (0, lo - abs(lo) * 0.01 - 0.01)):
            bad = ok.copy()
            bad.flat[at] = value
            _refused(_write(tmp_path / "bad.npz", {**entries, f"band_{name}": bad}), f"band {name}",
                     f"{lo}..{hi} {unit}")


# ------------------------------------------------------------------------------------------- geolocation and layers


def _with(arr: np.ndarray, at: tuple[int, int], value: float) -> np.ndarray:
    out = arr.copy()
    out[at] = value
    return out


@pytest.mark.parametrize(("changes", "field", "needles"), [
    ({"lat_deg": _with(LAT_DEG, (2, 3), np.nan)}, "lat_deg", ("finite values in -90..90",)),
    ({"lat_deg": _with(LAT_DEG, (2, 3), 95.0)}, "lat_deg", ("95.0", "-90..90")),
    ({"lat_deg": _with(LAT_DEG, (2, 3), -np.inf)}, "lat_deg", ("-inf",)),
    ({"lon_deg": _with(LON_DEG, (0, 0), np.inf)}, "lon_deg", ("inf", "-180..180")),
    ({"lon_deg": _with(LON_DEG, (0, 0), 200.0)}, "lon_deg", ("200.0",)),
    ({"lon_deg": LON_DEG[:-1]}, "lon_deg", (f"shape ({ROWS - 1}, {COLS})", "shape of lat_deg")),
    ({"lat_deg": LAT_DEG.ravel()}, "lat_deg", (f"shape ({ROWS * COLS},)", "2-D")),
    ({"lat_deg": np.zeros((0, COLS))}, "lat_deg", (f"shape (0, {COLS})", "non-empty")),
    ({"lat_deg": LAT_DEG > 43.2}, "lat_deg", ("dtype bool", "real numbers")),
    ({"lat_deg": None}, "lat_deg", ("missing",)),
    ({"lon_deg": None}, "lon_deg", ("missing",)),
    ({"reference_water": np.ones((ROWS, COLS), np.uint8)}, "reference_water", ("uint8", "a bool array")),
    ({"reference_water": np.ones((ROWS, COLS + 1), bool)}, "reference_water", (f"shape ({ROWS}, {COLS + 1})",)),
    ({"valid": np.ones((ROWS, COLS))}, "valid", ("float64", "a bool array")),
    ({"valid": np.ones((ROWS,), bool)}, "valid", (f"shape ({ROWS},)",)),
], ids=["lat-nan", "lat-95", "lat-inf", "lon-inf", "lon-200", "lat-lon-shape", "lat-1d", "lat-empty", "lat-bool",
        "no-lat", "no-lon", "water-uint8", "water-shape", "valid-float", "valid-1d"])
def test_bad_geolocation_and_layers(tmp_path: Path, changes: dict[str, Any], field: str,
                                    needles: tuple[str, ...]) -> None:
    _refused(_write(tmp_path / "g.npz", _entries(**changes)), field, *needles)


# ------------------------------------------------------------------------------------------- fuzz


def _only_scene_errors(path: str) -> None:
    try:
        scene = load_scene(path)
    except SceneError as e:
        assert e.field and e.path == path and str(e).startswith(f"{path}: ")
    else:
        assert isinstance(scene, Scene) and scene.bands


@pytest.fixture(scope="module")
def fuzz_dir():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


@pytest.fixture(scope="module")
def good_files(fuzz_dir: Path) -> list[bytes]:
    """One small good file stored and one compressed, with every kind of entry."""
    shape = (4, 3)
    lat, lon = np.meshgrid(np.linspace(10, 10.1, shape[0]), np.linspace(20, 20.1, shape[1]), indexing="ij")
    scene = Scene(bands={"tir": _band("tir", shape), "red": _band("red", shape)}, lat_deg=lat, lon_deg=lon,
                  pixel_size_m=30.0, sun_zenith_deg=40.0, image_id=9, time_utc="2024-01-01T00:00:00+00:00",
                  reference_water=np.zeros(shape, bool), valid=np.ones(shape, bool), meta={"x": 1})
    save_scene(fuzz_dir / "compressed.npz", scene)
    with np.load(fuzz_dir / "compressed.npz") as npz:
        _write(fuzz_dir / "stored.npz", dict(npz))
    return [(fuzz_dir / n).read_bytes() for n in ("compressed.npz", "stored.npz")]


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.one_of(st.binary(max_size=600), st.binary(max_size=600).map(lambda b: b"PK\x03\x04" + b),
                 st.binary(max_size=600).map(lambda b: b"PK\x05\x06" + b)))
def test_fuzz_random_octets(fuzz_dir: Path, data: bytes) -> None:
    path = fuzz_dir / "random.npz"
    path.write_bytes(data)
    _only_scene_errors(str(path))


@FUZZ
@given(st.data())
def test_fuzz_damaged_good_files(fuzz_dir: Path, good_files: list[bytes], data: st.DataObject) -> None:
    blob = bytearray(data.draw(st.sampled_from(good_files), label="file"))
    flip = st.tuples(st.integers(0, len(blob) - 1), st.integers(1, 255))
    flips = data.draw(st.lists(flip, max_size=6), label="flips")
    for at, xor in flips:
        blob[at] ^= xor
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(blob))), label="cut")
    path = fuzz_dir / "damaged.npz"
    path.write_bytes(bytes(blob[:cut]))
    _only_scene_errors(str(path))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 80), st.text("()[]{}0123456789-+.,:' TrueFalsNoe<>|fiubOV", max_size=6)),
                min_size=1, max_size=4))
@example(edits=[(16, "b")])  # {b'descr': ...}: numpy's sort of the keys raised TypeError (found by this fuzzer)
@example(edits=[(12, "0")])  # descr '08': numpy.dtype's literal_eval raised SyntaxError (found by this fuzzer)
def test_fuzz_npy_header_text(fuzz_dir: Path, edits: list[tuple[int, str]]) -> None:
    header = _lat_header()
    for at, text in edits:
        header = header[:at] + text + header[at + len(text):]
    members = [(n, _raw_npy(header, LAT_DEG.tobytes()) if n == "lat_deg.npy" else d) for n, d in _good_members()]
    _only_scene_errors(str(_zip(fuzz_dir / "header.npz", members)))


def test_fuzz_every_single_octet_of_the_zip_structure(fuzz_dir: Path, good_files: list[bytes]) -> None:
    # every octet of the stored file's zip and .npy headers (not the array data) set to 0xFF in turn
    blob = good_files[1]
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        data_spans = [(i.header_offset + 30 + len(i.filename) + len(i.extra) + 128,
                       i.header_offset + 30 + len(i.filename) + len(i.extra) + i.file_size) for i in zf.infolist()]
    path = str(fuzz_dir / "octet.npz")
    for at in range(len(blob)):
        if any(lo <= at < hi for lo, hi in data_spans):
            continue
        damaged = bytearray(blob)
        damaged[at] = 0xFF if damaged[at] != 0xFF else 0x00
        Path(path).write_bytes(bytes(damaged))
        _only_scene_errors(path)


# ------------------------------------------------------------------------------------------- the CLI


def _analyse(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spacecraft.payload", "analyse", str(path), *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=60)


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Name -> (a bad file, what its one-line error must say)."""
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x00\x01junk" * 50)
    trap = np.empty((ROWS, COLS), dtype=object)
    return {
        "junk": (junk, "file is not a zip archive"),
        "celsius": (_write(tmp_path / "celsius.npz", _entries(band_tir=_band("tir") - 273.15)), "band tir is 26.85"),
        "unit": (_write(tmp_path / "unit.npz", _entries(meta=_json(_meta(bands={"tir": "degC"})))), "meta.bands.tir"),
        "pickle": (_write(tmp_path / "pickle.npz", _entries(band_tir=trap), allow_pickle=True),
                   "band_tir is dtype object"),
        "missing": (tmp_path / "missing.npz", "No such file"),
        "directory": (tmp_path, "is a directory"),
    }


def test_cli_refuses_bad_files_in_one_line(tmp_path: Path) -> None:
    cases = _bad_files(tmp_path)
    # started together: each is a fresh interpreter importing numpy
    procs = {name: subprocess.Popen([sys.executable, "-m", "spacecraft.payload", "analyse", str(path)], cwd=REPO,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, (path, _) in cases.items()}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        path, says = cases[name]
        assert proc.returncode != 0, (name, out, err)
        assert "Traceback" not in err and "Traceback" not in out, (name, err)
        errors = [line for line in err.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1 and says in errors[0] and str(path) in errors[0], (name, err)
        if name != "directory":  # click itself refuses a directory, with its usage line first
            assert err.strip() == errors[0], (name, err)
        assert out == "", (name, out)


def test_cli_analyses_a_good_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "night.npz", _entries(meta=_json(_meta(image_id=12, bands={"tir": "K", "mwir": "K"})),
                                                   band_mwir=_band("mwir")))
    done = _analyse(path, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["image_id"] == 12 and result["day"] is False and math.isfinite(result["cloud_fraction"])
