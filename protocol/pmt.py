"""GNU Radio's polymorphic types (PMT) in their serialised form, read and written without GNU Radio.

A GNU Radio message port carries PMTs; gr-zeromq's ``pub_msg_sink`` / ``sub_msg_source`` put each one on
the wire as ``pmt::serialize_str`` writes it, and a PDU is the pair ``(metadata dictionary . u8vector)``.
This module is that serialisation (GNU Radio 3.10 ``pmt/serial_tags.h`` and ``serialize.cc``; every tag
below was checked byte for byte against ``pmt.serialize_str`` of Debian's GNU Radio 3.10.5, see
``tests/gnuradio/test_gr_pmt.py``), all big endian:

=====  ============  ================================================================================
tag    type          body
=====  ============  ================================================================================
0x00   #t            --
0x01   #f            --
0x02   symbol        u16 length, the octets (UTF-8 here)
0x03   int32         i32 (``from_long`` of a value that fits)
0x04   double        f64
0x05   complex       f64 real, f64 imaginary
0x06   null (NIL)    -- (the empty list; also ends a dictionary)
0x07   pair          car, cdr
0x08   vector        u32 count, the elements
0x09   dictionary    a pair (key . value), then the rest of the dictionary (0x09 ...) or NIL
0x0a   uniform vec.  u8 item type (u8 s8 u16 s16 u32 s32 u64 s64 f32 f64 c32 c64 = 0..11), u32 count,
                     u8 pad count and that many pad octets (GNU Radio writes 1 and 0x00), the items
0x0b   uint64        u64
0x0c   tuple         u32 count, the elements
0x0d   int64         i64 (``from_long`` of a value beyond 32 bits)
=====  ============  ================================================================================

Python values: bool, str (symbol), int, float, complex, None (NIL), dict (with PMT keys), tuple, list
(vector), :class:`Pair`, bytes (u8vector) and 1-D numpy arrays (the other uniform vectors). GNU Radio
builds dictionaries newest key first; :func:`dumps` writes a dict's items in reverse order so that
``loads(dumps(d))`` keeps the order and a dictionary GNU Radio wrote comes back in GNU Radio's order.

Hand-written rather than a construct declaration: the format is a recursive tag-length-value tree
whose leaves are numpy arrays, and a decoder that bounds depth and checks every count against the
octets left (before allocating) is shorter and faster written directly. Bad input raises
:class:`~protocol.errors.RemoteProtocolError` naming the field, the offset and the allowed range.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import LocalProtocolError, RemoteProtocolError, TruncatedError

__all__ = ["Pair", "dumps", "loads", "encode_pdu", "decode_pdu", "MAX_DEPTH", "UNIFORM_TYPES"]

LAYER = "pmt"
MAX_DEPTH = 64  # nesting deeper than this is refused (a dictionary's chain does not count: it is iterated)

T_TRUE, T_FALSE, T_SYMBOL, T_INT32, T_DOUBLE, T_COMPLEX, T_NULL, T_PAIR = range(8)
T_VECTOR, T_DICT, T_UNIFORM, T_UINT64, T_TUPLE, T_INT64 = range(8, 14)

#: uniform vector item type code -> numpy dtype (big endian on the wire)
UNIFORM_TYPES: tuple[np.dtype, ...] = tuple(np.dtype(t) for t in (
    ">u1", ">i1", ">u2", ">i2", ">u4", ">i4", ">u8", ">i8", ">f4", ">f8", ">c8", ">c16"))
_CODE_OF_KIND = {(t.kind, t.itemsize): code for code, t in enumerate(UNIFORM_TYPES)}

_U16, _U32, _I32, _I64, _U64, _F64 = (struct.Struct(f) for f in (">H", ">I", ">i", ">q", ">Q", ">d"))


@dataclass(frozen=True, slots=True)
class Pair:
    """A PMT pair that is not a PDU-shaped value of its own (``car . cdr``)."""

    car: Any
    cdr: Any


# =============================================================================== writing

def dumps(value: Any) -> bytes:
    """The PMT serialisation of ``value``."""
    out = bytearray()
    _write(out, value, 0)
    return bytes(out)


def _write(out: bytearray, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise LocalProtocolError(LAYER, "nesting depth", depth, f"0..{MAX_DEPTH}")
    if value is True:
        out.append(T_TRUE)
    elif value is False:
        out.append(T_FALSE)
    elif value is None:
        out.append(T_NULL)
    elif isinstance(value, str):
        octets = value.encode()
        if len(octets) > 0xFFFF:
            raise LocalProtocolError(LAYER, "symbol length", len(octets), "0..65535 octets")
        out += bytes([T_SYMBOL]) + _U16.pack(len(octets)) + octets
    elif isinstance(value, (int, np.integer)):
        v = int(value)
        if -(1 << 31) <= v < (1 << 31):
            out += bytes([T_INT32]) + _I32.pack(v)
        elif -(1 << 63) <= v < (1 << 63):
            out += bytes([T_INT64]) + _I64.pack(v)
        elif v < (1 << 64):
            out += bytes([T_UINT64]) + _U64.pack(v)
        else:
            raise LocalProtocolError(LAYER, "integer", v, f"{-(1 << 63)}..{(1 << 64) - 1}")
    elif isinstance(value, (float, np.floating)):
        out += bytes([T_DOUBLE]) + _F64.pack(float(value))
    elif isinstance(value, (complex, np.complexfloating)):
        out += bytes([T_COMPLEX]) + _F64.pack(value.real) + _F64.pack(value.imag)
    elif isinstance(value, Pair):
        out.append(T_PAIR)
        _write(out, value.car, depth + 1)
        _write(out, value.cdr, depth + 1)
    elif isinstance(value, Mapping):
        if not value:
            out.append(T_NULL)  # GNU Radio's make_dict() is NIL
        for key, item in reversed(list(value.items())):
            out += bytes([T_DICT, T_PAIR])
            _write(out, key, depth + 1)
            _write(out, item, depth + 1)
        if value:
            out.append(T_NULL)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        out += bytes([T_UNIFORM, 0]) + _U32.pack(len(data)) + b"\x01\x00" + data
    elif isinstance(value, np.ndarray):
        _write_array(out, value)
    elif isinstance(value, (tuple, list)):
        out += bytes([T_TUPLE if isinstance(value, tuple) else T_VECTOR]) + _U32.pack(len(value))
        for item in value:
            _write(out, item, depth + 1)
    else:
        raise LocalProtocolError(LAYER, "value type", type(value).__name__,
                                 "bool, str, int, float, complex, None, dict, tuple, list, Pair, bytes, ndarray")


def _write_array(out: bytearray, array: np.ndarray) -> None:
    if array.ndim != 1:
        raise LocalProtocolError(LAYER, "uniform vector shape", array.shape, "one dimension")
    code = _CODE_OF_KIND.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise LocalProtocolError(LAYER, "uniform vector dtype", str(array.dtype),
                                 ", ".join(str(t.newbyteorder("=")) for t in UNIFORM_TYPES))
    out += bytes([T_UNIFORM, code]) + _U32.pack(len(array)) + b"\x01\x00"
    out += np.ascontiguousarray(array, dtype=UNIFORM_TYPES[code]).tobytes()


# =============================================================================== reading

def loads(message: bytes | bytearray | memoryview) -> Any:
    """The value a PMT serialisation holds; the whole message must be one PMT."""
    buf = memoryview(message).cast("B")
    value, end = _read(buf, 0, 0)
    if end != len(buf):
        raise RemoteProtocolError(LAYER, "trailing octets", len(buf) - end, "0 (one PMT per message)", offset=end)
    return value


def _need(buf: memoryview, pos: int, count: int, what: str) -> None:
    if count > len(buf) - pos:
        raise TruncatedError(LAYER, what, len(buf) - pos, f"{count} octets", offset=pos)


def _read(buf: memoryview, pos: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise RemoteProtocolError(LAYER, "nesting depth", depth, f"0..{MAX_DEPTH}", offset=pos)
    _need(buf, pos, 1, "tag")
    tag = buf[pos]
    pos += 1
    if tag == T_TRUE:
        return True, pos
    if tag == T_FALSE:
        return False, pos
    if tag == T_NULL:
        return None, pos
    if tag == T_SYMBOL:
        _need(buf, pos, 2, "symbol length")
        (n,) = _U16.unpack_from(buf, pos)
        _need(buf, pos + 2, n, "symbol")
        raw = bytes(buf[pos + 2:pos + 2 + n])
        try:
            return raw.decode(), pos + 2 + n
        except UnicodeDecodeError:
            return raw.decode("latin-1"), pos + 2 + n  # a symbol is octets to GNU Radio; keep them all
    if tag in (T_INT32, T_DOUBLE, T_UINT64, T_INT64):
        fmt = {T_INT32: _I32, T_DOUBLE: _F64, T_UINT64: _U64, T_INT64: _I64}[tag]
        _need(buf, pos, fmt.size, "number")
        return fmt.unpack_from(buf, pos)[0], pos + fmt.size
    if tag == T_COMPLEX:
        _need(buf, pos, 16, "complex")
        return complex(_F64.unpack_from(buf, pos)[0], _F64.unpack_from(buf, pos + 8)[0]), pos + 16
    if tag == T_PAIR:
        car, pos = _read(buf, pos, depth + 1)
        cdr, pos = _read(buf, pos, depth + 1)
        return Pair(car, cdr), pos
    if tag == T_DICT:
        return _read_dict(buf, pos - 1, depth)
    if tag in (T_VECTOR, T_TUPLE):
        _need(buf, pos, 4, "count")
        (n,) = _U32.unpack_from(buf, pos)
        pos += 4
        if n > len(buf) - pos:  # every element takes at least one octet
            raise TruncatedError(LAYER, "vector count", n, f"0..{len(buf) - pos} (octets left)", offset=pos - 4)
        items = []
        for _ in range(n):
            item, pos = _read(buf, pos, depth + 1)
            items.append(item)
        return (tuple(items) if tag == T_TUPLE else items), pos
    if tag == T_UNIFORM:
        return _read_uniform(buf, pos)
    raise RemoteProtocolError(LAYER, "tag", tag, "0x00..0x0d (GNU Radio 3.10 serial tags)", offset=pos - 1)


def _read_dict(buf: memoryview, pos: int, depth: int) -> tuple[dict[Any, Any], int]:
    items: list[tuple[Any, Any]] = []
    while pos < len(buf) and buf[pos] == T_DICT:
        _need(buf, pos + 1, 1, "dictionary entry")
        if buf[pos + 1] != T_PAIR:
            raise RemoteProtocolError(LAYER, "dictionary entry tag", buf[pos + 1], "0x07 (a key . value pair)",
                                      offset=pos + 1)
        key, pos = _read(buf, pos + 2, depth + 1)
        value, pos = _read(buf, pos, depth + 1)
        items.append((_hashable(key, pos), value))
    _need(buf, pos, 1, "dictionary end")
    if buf[pos] != T_NULL:
        raise RemoteProtocolError(LAYER, "dictionary end tag", buf[pos], "0x06 (NIL) or 0x09 (another entry)",
                                  offset=pos)
    return dict(reversed(items)), pos + 1  # GNU Radio writes the newest key first


def _hashable(key: Any, pos: int) -> Any:
    if isinstance(key, (list, dict, np.ndarray)):
        raise RemoteProtocolError(LAYER, "dictionary key type", type(key).__name__,
                                  "a symbol, number, boolean or tuple", offset=pos)
    return key


def _read_uniform(buf: memoryview, pos: int) -> tuple[bytes | np.ndarray, int]:
    _need(buf, pos, 6, "uniform vector header")
    code = buf[pos]
    if code >= len(UNIFORM_TYPES):
        raise RemoteProtocolError(LAYER, "uniform vector type", code, f"0..{len(UNIFORM_TYPES) - 1}", offset=pos)
    (n,) = _U32.unpack_from(buf, pos + 1)
    npad = buf[pos + 5]
    pos += 6
    _need(buf, pos, npad, "uniform vector padding")
    pos += npad
    dtype = UNIFORM_TYPES[code]
    if n > (len(buf) - pos) // dtype.itemsize:
        raise TruncatedError(LAYER, "uniform vector count", n,
                             f"0..{(len(buf) - pos) // dtype.itemsize} (items in the octets left)", offset=pos - 5 - npad)
    size = n * dtype.itemsize
    if code == 0:
        return bytes(buf[pos:pos + size]), pos + size
    return np.frombuffer(buf[pos:pos + size], dtype=dtype).astype(dtype.newbyteorder("=")), pos + size


# =============================================================================== PDUs

def encode_pdu(data: bytes | bytearray | memoryview, meta: Mapping[str, Any] | None = None) -> bytes:
    """A GNU Radio PDU message: the pair (metadata dictionary . u8vector of ``data``)."""
    return dumps(Pair(dict(meta or {}), bytes(data)))


def decode_pdu(message: bytes | bytearray | memoryview) -> tuple[bytes, dict[Any, Any]]:
    """(data, metadata) of a GNU Radio PDU message; a typed error if it is another PMT."""
    value = loads(message)
    if not isinstance(value, Pair):
        raise RemoteProtocolError(LAYER, "PDU", type(value).__name__, "a pair (metadata . u8vector)", offset=0)
    meta, data = value.car, value.cdr
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise RemoteProtocolError(LAYER, "PDU metadata", type(meta).__name__, "a dictionary or NIL", offset=1)
    if not isinstance(data, bytes):
        kind = data.dtype.str if isinstance(data, np.ndarray) else type(data).__name__
        raise RemoteProtocolError(LAYER, "PDU data", kind, "a u8vector", offset=1)
    return data, meta
