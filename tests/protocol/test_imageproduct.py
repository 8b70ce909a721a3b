"""The downlinked image product: round trip, its CRC, and nothing but ProtocolError from bad octets."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import ChecksumError, LocalProtocolError, ProtocolError, RemoteProtocolError, TruncatedError
from protocol.imageproduct import ProductHeader, decode_product, encode_product, join_parts, quantise

CORNERS = ((43.30, 76.80), (43.30, 77.00), (43.10, 76.80), (43.10, 77.00))


def _product(rows: int = 6, cols: int = 5) -> tuple[bytes, dict]:
    rng = np.random.default_rng(1)
    tir = rng.uniform(280, 320, (rows, cols))
    tir[0, 0] = np.nan
    red = rng.uniform(0, 0.5, (rows, cols))
    bands = {"tir": quantise(tir, 200.0, 400.0), "red": quantise(red, 0.0, 1.0)}
    data = encode_product(image_id=7, capture_tai_s=2.1e9, pixel_size_m=200.0, sun_zenith_deg=35.0,
                          corners_deg=CORNERS, bands=bands)
    return data, {"tir": tir, "red": red, "bands": bands}


def test_round_trip_with_physical_values_and_corners() -> None:
    data, src = _product()
    p = decode_product(data)
    assert (p.image_id, p.rows, p.cols, p.pixel_size_m, p.capture_tai_s) == (7, 6, 5, 200.0, 2.1e9)
    assert p.corners_deg == CORNERS
    assert list(p.samples) == ["tir", "red"]
    np.testing.assert_array_equal(p.samples["tir"], src["bands"]["tir"][0])
    tir = p.physical("tir")
    assert np.isnan(tir[0, 0])  # the NaN became the reserved invalid sample
    step = 200.0 / 254
    assert np.nanmax(np.abs(tir - src["tir"])) <= step / 2 + 1e-3
    assert p.lat_lon_deg(0, 0) == pytest.approx(CORNERS[0])
    assert p.lat_lon_deg(5, 4) == pytest.approx(CORNERS[3])
    assert p.lat_lon_deg(2.5, 2) == pytest.approx((43.20, 76.90))
    # header layout: the documented size, and the CRC-32 is zlib's over everything before it
    assert len(data) == ProductHeader.sizeof() + 2 * (9 + 30) + 4
    assert int.from_bytes(data[-4:], "big") == zlib.crc32(data[:-4])


def test_damage_is_named() -> None:
    data, _ = _product()
    bad = bytearray(data)
    bad[60] ^= 1
    with pytest.raises(ChecksumError, match="CRC-32"):
        decode_product(bytes(bad))
    with pytest.raises(TruncatedError):
        decode_product(data[:10])
    short = data[:-9]
    with pytest.raises(RemoteProtocolError, match="product length"):
        decode_product(short + zlib.crc32(short).to_bytes(4, "big"))


def test_bad_requests_are_local_errors() -> None:
    _, src = _product()
    with pytest.raises(LocalProtocolError, match="band"):
        encode_product(image_id=1, capture_tai_s=0, pixel_size_m=1, sun_zenith_deg=0, corners_deg=CORNERS,
                       bands={"green": src["bands"]["red"]})
    with pytest.raises(LocalProtocolError, match="corner"):
        encode_product(image_id=1, capture_tai_s=0, pixel_size_m=1, sun_zenith_deg=0,
                       corners_deg=((95, 0),) * 4, bands=src["bands"])
    with pytest.raises(LocalProtocolError, match="header"):
        encode_product(image_id=70000, capture_tai_s=0, pixel_size_m=1, sun_zenith_deg=0, corners_deg=CORNERS,
                       bands=src["bands"])


def test_join_parts_names_the_first_missing_part() -> None:
    assert join_parts({1: b"b", 0: b"a", 2: b"c"}, last=2) == b"abc"
    with pytest.raises(RemoteProtocolError, match="part at byte 0 is 1, allowed every part 0..2"):
        join_parts({0: b"a", 2: b"c"}, last=2)
    with pytest.raises(RemoteProtocolError, match="last part"):
        join_parts({0: b"a"}, last=None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 400))
def test_fuzzed_products_raise_only_protocol_errors(junk: bytes, cut: int) -> None:
    data, _ = _product()
    for candidate in (junk, data[:cut] + junk, junk[:-4] + zlib.crc32(junk[:-4]).to_bytes(4, "big")):
        try:
            decode_product(candidate)
        except ProtocolError:
            pass
