"""The imager's downlinked image product: quantised bands with their scaling and footprint, as one large message.

A captured scene is kept on board and played back as one *image product*, cut into IMAGE_PART packets
(PUS-C service 13, large packet transfer, ECSS-E-ST-70-41C §6.13: first part TM[13,1], intermediate
TM[13,2], last TM[13,3]; the large message transaction ID is the image ID). The ground joins the parts in
part-number order and decodes the product; the trailing CRC-32 proves the reassembly bit-exact.

Layout (big-endian, declared once below as :data:`ProductHeader` and :data:`BandHeader`):

* header: ``"TTCI"``, version 1, image ID (u16), rows and columns (u16), number of bands (u8), capture
  time (TAI seconds of the mission epoch, f64), ground pixel size (m, f32), sun zenith (deg, f32), and
  the latitude/longitude of the four corner pixel centres (top-left, top-right, bottom-left,
  bottom-right) as i32 in 1e-7 degrees (1 cm);
* per band: its code (:data:`BAND_CODES`), then ``offset`` and ``scale`` (f32): the physical value of a
  sample ``s`` is ``offset + scale * s``; 0 is reserved for a pixel not to be trusted (dead or saturated);
* the samples: band-sequential planes, u8, row-major;
* CRC-32 (ISO-HDLC, as zlib) of everything before it.

Eight bits per sample keep a 512 x 512 five-band product at 1.3 MB (~1300 parts): reflectance in steps
of ~0.006 and brightness temperature in steps of ~1 K, enough to see and to draw; the onboard analysis
runs on the full-resolution scene before quantisation.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import construct as c
import numpy as np

from .errors import ChecksumError, LocalProtocolError, RemoteProtocolError, TruncatedError

__all__ = ["BAND_CODES", "BandHeader", "CatalogueEntry", "ImageProduct", "ProductHeader", "decode_catalogue",
           "decode_product", "encode_catalogue", "encode_product", "join_parts", "quantise"]

LAYER = "image product"
#: Band code on the wire -> band name (spacecraft.payload.scenefile.BANDS).
BAND_CODES: dict[int, str] = {1: "red", 2: "nir", 3: "swir", 4: "mwir", 5: "tir"}
_CODE_OF = {v: k for k, v in BAND_CODES.items()}
INVALID_SAMPLE = 0
MAX_PIXELS = 4096 * 4096

ProductHeader = c.Struct(
    "magic" / c.Const(b"TTCI"),
    "version" / c.Const(1, c.Int8ub),
    "image_id" / c.Int16ub,
    "rows" / c.Int16ub,
    "cols" / c.Int16ub,
    "band_count" / c.Int8ub,
    "capture_tai_s" / c.Float64b,
    "pixel_size_m" / c.Float32b,
    "sun_zenith_deg" / c.Float32b,
    "corners_e7" / c.Array(8, c.Int32sb),  # lat, lon of TL, TR, BL, BR in 1e-7 degrees
)
BandHeader = c.Struct("code" / c.Int8ub, "offset" / c.Float32b, "scale" / c.Float32b)
#: One stored image in an IMAGE_CATALOGUE report's tail (IMAGE_LIST).
CatalogueEntry = c.Struct("image_id" / c.Int16ub, "octets" / c.Int32ub, "detections" / c.Int8ub,
                          "capture_tai_s" / c.Float64b)
_HEADER_LEN = ProductHeader.sizeof()
_BAND_LEN = BandHeader.sizeof()


@dataclass(frozen=True)
class ImageProduct:
    """A decoded product: ``samples[name]`` u8 (rows, cols), physical = offset + scale * sample."""

    image_id: int
    rows: int
    cols: int
    capture_tai_s: float
    pixel_size_m: float
    sun_zenith_deg: float
    corners_deg: tuple[tuple[float, float], ...]  # (lat, lon) of TL, TR, BL, BR
    samples: dict[str, np.ndarray]
    scaling: dict[str, tuple[float, float]]  # name -> (offset, scale)

    def physical(self, name: str) -> np.ndarray:
        """One band in physical units (NaN where the sample is reserved as invalid)."""
        offset, scale = self.scaling[name]
        s = self.samples[name]
        out = offset + scale * s.astype(np.float32)
        out[s == INVALID_SAMPLE] = np.nan
        return out

    def lat_lon_deg(self, row: float, col: float) -> tuple[float, float]:
        """Latitude/longitude at a (fractional) pixel, bilinear between the corner pixel centres."""
        (la0, lo0), (la1, lo1), (la2, lo2), (la3, lo3) = self.corners_deg
        u = col / max(self.cols - 1, 1)
        v = row / max(self.rows - 1, 1)
        lat = (1 - v) * ((1 - u) * la0 + u * la1) + v * ((1 - u) * la2 + u * la3)
        lon = (1 - v) * ((1 - u) * lo0 + u * lo1) + v * ((1 - u) * lo2 + u * lo3)
        return float(lat), float(lon)


def quantise(values: np.ndarray, lo: float, hi: float, *, valid: np.ndarray | None = None
             ) -> tuple[np.ndarray, float, float]:
    """Physical values -> u8 samples 1..255 over ``lo..hi`` (0 where invalid or not finite), offset, scale."""
    if not hi > lo:
        raise LocalProtocolError(LAYER, "band range", (lo, hi), "lo < hi")
    scale = (hi - lo) / 254.0
    offset = lo - scale  # sample 1 is lo, 255 is hi
    finite = np.isfinite(values)
    s = np.clip(np.rint((np.where(finite, values, lo) - offset) / scale), 1, 255).astype(np.uint8)
    bad = ~finite if valid is None else (~finite | ~valid)
    s[bad] = INVALID_SAMPLE
    return s, float(np.float32(offset)), float(np.float32(scale))


def encode_product(*, image_id: int, capture_tai_s: float, pixel_size_m: float, sun_zenith_deg: float,
                   corners_deg: tuple[tuple[float, float], ...], bands: dict[str, tuple[np.ndarray, float, float]]
                   ) -> bytes:
    """The product's octets from u8 sample planes ``bands[name] = (samples, offset, scale)``."""
    if not bands:
        raise LocalProtocolError(LAYER, "bands", 0, f"1..{len(BAND_CODES)} of {sorted(_CODE_OF)}")
    shapes = {np.shape(s) for s, _, _ in bands.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise LocalProtocolError(LAYER, "band shapes", sorted(shapes), "one (rows, cols) shape for every band")
    rows, cols = next(iter(shapes))
    if not (1 <= rows <= 0xFFFF and 1 <= cols <= 0xFFFF and rows * cols <= MAX_PIXELS):
        raise LocalProtocolError(LAYER, "rows x cols", (rows, cols), f"1..65535 each, at most {MAX_PIXELS} pixels")
    if len(corners_deg) != 4:
        raise LocalProtocolError(LAYER, "corners_deg", len(corners_deg), "4 (lat, lon) pairs: TL, TR, BL, BR")
    corners = []
    for lat, lon in corners_deg:
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise LocalProtocolError(LAYER, "corner", (lat, lon), "lat -90..90, lon -180..180 degrees")
        corners += [int(round(lat * 1e7)), int(round(lon * 1e7))]
    try:
        out = bytearray(ProductHeader.build(dict(
            image_id=image_id, rows=rows, cols=cols, band_count=len(bands), capture_tai_s=capture_tai_s,
            pixel_size_m=pixel_size_m, sun_zenith_deg=sun_zenith_deg, corners_e7=corners)))
    except (c.ConstructError, ValueError, OverflowError) as e:
        raise LocalProtocolError(LAYER, "header", image_id, "image_id 0..65535 and finite numbers",
                                 detail=str(e)) from e
    planes = []
    for name, (samples, offset, scale) in bands.items():
        if name not in _CODE_OF:
            raise LocalProtocolError(LAYER, "band", name, f"one of {sorted(_CODE_OF)}")
        arr = np.asarray(samples)
        if arr.dtype != np.uint8:
            raise LocalProtocolError(LAYER, f"band {name} dtype", str(arr.dtype), "uint8 samples (see quantise)")
        out += BandHeader.build(dict(code=_CODE_OF[name], offset=offset, scale=scale))
        planes.append(np.ascontiguousarray(arr).tobytes())
    for p in planes:
        out += p
    out += zlib.crc32(out).to_bytes(4, "big")
    return bytes(out)


def decode_product(data: bytes) -> ImageProduct:
    """Decode and check a whole product (RemoteProtocolError naming field and offset when malformed)."""
    data = bytes(data)
    if len(data) < _HEADER_LEN + 4:
        raise TruncatedError(LAYER, "product", len(data), f"at least {_HEADER_LEN + 4} octets", offset=0)
    received = int.from_bytes(data[-4:], "big")
    computed = zlib.crc32(data[:-4])
    if received != computed:
        raise ChecksumError(LAYER, "CRC-32", received, computed, offset=len(data) - 4)
    try:
        h = ProductHeader.parse(data)
    except c.ConstructError as e:
        raise RemoteProtocolError(LAYER, "header", data[:8], "magic 'TTCI', version 1", offset=0,
                                  detail=str(e)) from e
    rows, cols, n = h.rows, h.cols, h.band_count
    if not (rows and cols and rows * cols <= MAX_PIXELS):
        raise RemoteProtocolError(LAYER, "rows x cols", (rows, cols), f"1.., at most {MAX_PIXELS} pixels", offset=5)
    if not 1 <= n <= len(BAND_CODES):
        raise RemoteProtocolError(LAYER, "band_count", n, f"1..{len(BAND_CODES)}", offset=9)
    expected = _HEADER_LEN + n * (_BAND_LEN + rows * cols) + 4
    if len(data) != expected:
        raise RemoteProtocolError(LAYER, "product length", len(data),
                                  f"{expected} octets for {n} bands of {rows} x {cols}", offset=0)
    samples: dict[str, np.ndarray] = {}
    scaling: dict[str, tuple[float, float]] = {}
    pos = _HEADER_LEN
    names = []
    for _ in range(n):
        b = BandHeader.parse(data[pos:pos + _BAND_LEN])
        name = BAND_CODES.get(b.code)
        if name is None or name in scaling:
            raise RemoteProtocolError(LAYER, "band code", b.code, f"one of {sorted(BAND_CODES)}, each once",
                                      offset=pos)
        scaling[name] = (float(b.offset), float(b.scale))
        names.append(name)
        pos += _BAND_LEN
    buf = np.frombuffer(data, dtype=np.uint8, count=n * rows * cols, offset=pos)
    for i, name in enumerate(names):
        samples[name] = buf[i * rows * cols:(i + 1) * rows * cols].reshape(rows, cols)
    e7 = list(h.corners_e7)
    corners = tuple((e7[2 * i] / 1e7, e7[2 * i + 1] / 1e7) for i in range(4))
    return ImageProduct(image_id=h.image_id, rows=rows, cols=cols, capture_tai_s=float(h.capture_tai_s),
                        pixel_size_m=float(h.pixel_size_m), sun_zenith_deg=float(h.sun_zenith_deg),
                        corners_deg=corners, samples=samples, scaling=scaling)


def join_parts(parts: dict[int, bytes], *, last: int | None) -> bytes:
    """The product from its parts by part number (0..last); RemoteProtocolError naming the first missing one."""
    if last is None:
        raise RemoteProtocolError(LAYER, "last part", None, "a TM[13,3] last part received", offset=0)
    missing = [i for i in range(last + 1) if i not in parts]
    if missing:
        raise RemoteProtocolError(LAYER, "part", missing[0], f"every part 0..{last} ({len(missing)} missing)",
                                  offset=0)
    return b"".join(parts[i] for i in range(last + 1))


def encode_catalogue(entries: list[dict]) -> bytes:
    """The tail of an IMAGE_CATALOGUE report: one CatalogueEntry per stored image."""
    try:
        return b"".join(CatalogueEntry.build(e) for e in entries)
    except (c.ConstructError, ValueError, OverflowError, KeyError) as e:
        raise LocalProtocolError(LAYER, "catalogue entry", e, "image_id u16, octets u32, detections u8, "
                                 "capture_tai_s f64") from e


def decode_catalogue(tail: bytes) -> list[dict]:
    """CatalogueEntry records of an IMAGE_CATALOGUE tail."""
    size = CatalogueEntry.sizeof()
    if len(tail) % size:
        raise RemoteProtocolError(LAYER, "catalogue length", len(tail), f"a multiple of {size} octets",
                                  offset=len(tail) - len(tail) % size)
    out = []
    for i in range(0, len(tail), size):
        e = CatalogueEntry.parse(tail[i:i + size])
        out.append({"image_id": e.image_id, "octets": e.octets, "detections": e.detections,
                    "capture_tai_s": e.capture_tai_s})
    return out
