"""CRC-16-CCITT: golden vectors, backend agreement."""

from __future__ import annotations

import binascii

from hypothesis import given, strategies as st

from protocol import crc
from protocol.crc import crc16, crc16_binascii

GOLDEN = [
    (b"123456789", 0x29B1),
    (bytes.fromhex("0000"), 0x1D0F),
    (bytes.fromhex("000000"), 0xCC9C),
    (bytes.fromhex("ABCDEF01"), 0x04A2),
    (bytes.fromhex("1456F89A0001"), 0x7FD5),
]


def test_golden_vectors_from_the_issue() -> None:
    for data, expected in GOLDEN:
        assert crc16(data) == expected, data.hex()
        assert crc16_binascii(data) == expected, data.hex()


def test_peer_vector_file(crc_vectors: list[dict]) -> None:
    assert len(crc_vectors) >= 7
    for v in crc_vectors:
        data = v["in_ascii"].encode() if "in_ascii" in v else bytes.fromhex(v["in_hex"])
        assert crc16(data) == int(v["crc"], 16), v


def test_crcmod_c_extension_in_use() -> None:
    assert crc.CRC_BACKEND == "crcmod C extension"


@given(st.binary(max_size=2048))
def test_backends_agree(data: bytes) -> None:
    assert crc16(data) == binascii.crc_hqx(data, 0xFFFF)


@given(st.binary(min_size=1, max_size=512))
def test_crc_appended_checks_to_zero(data: bytes) -> None:
    value = crc16(data)
    assert crc16(data + value.to_bytes(2, "big")) == 0


@given(st.binary(min_size=1, max_size=256), st.data())
def test_any_single_bit_flip_changes_crc(data: bytes, draw: st.DataObject) -> None:
    bit = draw.draw(st.integers(0, len(data) * 8 - 1))
    flipped = bytearray(data)
    flipped[bit // 8] ^= 0x80 >> (bit % 8)
    assert crc16(bytes(flipped)) != crc16(data)
