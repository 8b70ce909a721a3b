"""CRC-16-CCITT as used throughout CCSDS and ECSS.

Polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR: the
frame error control field of TM/TC/AOS frames (CCSDS 132.0-B-3 §4.1.6,
232.0-B-4 §4.1.4) and the PUS packet error control (ECSS-E-ST-70-41C
§7.4.3.1 / Annex B). Computed by crcmod's C extension; where that extension
is missing, ``binascii.crc_hqx`` computes the same CRC in C.
"""

from __future__ import annotations

import binascii
import importlib
from collections.abc import Callable

import crcmod

from .errors import ChecksumError

__all__ = ["crc16", "crc16_binascii", "CRC_BACKEND", "CRC_LEN", "append_crc", "check_crc"]

CRC_LEN = 2
POLY = 0x1021
INIT = 0xFFFF

_crcmod_impl = importlib.import_module("crcmod.crcmod")


def crc16_binascii(data: bytes | bytearray | memoryview, init: int = INIT) -> int:
    """CRC-16-CCITT (0x1021, init 0xFFFF) via binascii.crc_hqx."""
    return binascii.crc_hqx(data, init)


if getattr(_crcmod_impl, "_usingExtension", False):
    crc16: Callable[..., int] = crcmod.mkCrcFun(0x10000 | POLY, initCrc=INIT, rev=False, xorOut=0)
    CRC_BACKEND = "crcmod C extension"
else:  # pragma: no cover - only where crcmod was built without its C extension
    crc16 = crc16_binascii
    CRC_BACKEND = "binascii.crc_hqx"


def append_crc(data: bytes | bytearray | memoryview) -> bytes:
    """``data`` followed by its 2-octet CRC (a FECF or a PUS packet error control)."""
    raw = bytes(data)
    return raw + crc16(raw).to_bytes(CRC_LEN, "big")


def check_crc(buf: bytes | bytearray | memoryview, *, layer: str, field: str, start: int = 0,
              end: int | None = None, base_offset: int = 0) -> None:
    """Check the CRC in the last 2 octets of ``buf[start:end]`` over the octets before it; ChecksumError if wrong."""
    stop = len(buf) if end is None else end
    received = (buf[stop - 2] << 8) | buf[stop - 1]
    computed = crc16(bytes(buf[start:stop - CRC_LEN]))
    if received != computed:
        raise ChecksumError(layer, field, received, computed, offset=base_offset + stop - CRC_LEN)
