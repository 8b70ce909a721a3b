"""Fast paths derived from construct declarations.

construct is the single source of truth for every layout, but parsing one
header with construct costs ~10 microseconds. :class:`BitLayout` reads a
``construct.BitStruct`` declaration once and derives from it the shift and
mask of every field, so headers can be unpacked with integer operations --
one header at a time (``unpack``) or a whole numpy array of headers at once
(``columns``) -- without the layout being written twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import construct as c
import numpy as np

__all__ = ["BitField", "BitLayout", "numpy_dtype"]


@dataclass(frozen=True, slots=True)
class BitField:
    """One field of a bit layout: ``(word >> shift) & mask``."""

    name: str
    shift: int
    width: int
    const: int | None = None

    @property
    def mask(self) -> int:
        """Mask of ``width`` low bits."""
        return (1 << self.width) - 1


def _bit_width(sub: c.Construct) -> tuple[int, int | None]:
    """Width in bits of a field inside a BitStruct, and its constant value if any."""
    if isinstance(sub, c.Renamed):
        return _bit_width(sub.subcon)
    if isinstance(sub, c.Const):
        width, _ = _bit_width(sub.subcon)
        return width, int(sub.value)
    if isinstance(sub, c.BitsInteger):
        return int(sub.length), None
    if isinstance(sub, type(c.Flag)):
        return 1, None
    if isinstance(sub, (c.Enum, c.FlagsEnum, c.Adapter)):
        return _bit_width(sub.subcon)
    if isinstance(sub, c.Padded):
        return int(sub.length), 0
    raise TypeError(f"cannot derive a bit layout from {sub!r}")


class BitLayout:
    """Shifts and masks of every named field of a construct ``BitStruct``."""

    def __init__(self, bitstruct: c.Construct) -> None:
        struct = bitstruct.subcon if isinstance(bitstruct, (c.Transformed, c.Restreamed)) else bitstruct
        if not isinstance(struct, c.Struct):
            raise TypeError(f"expected a BitStruct, got {bitstruct!r}")
        widths: list[tuple[str | None, int, int | None]] = []
        for sub in struct.subcons:
            width, const = _bit_width(sub)
            widths.append((sub.name, width, const))
        self.total_bits = sum(w for _, w, _ in widths)
        if self.total_bits % 8:
            raise TypeError(f"bit layout of {self.total_bits} bits is not whole octets")
        self.size = self.total_bits // 8
        fields: list[BitField] = []
        left = self.total_bits
        for name, width, const in widths:
            left -= width
            if name is not None:
                fields.append(BitField(name, left, width, const))
        self.fields: tuple[BitField, ...] = tuple(fields)
        self.names: tuple[str, ...] = tuple(f.name for f in fields)
        self._spec = tuple((f.shift, f.mask) for f in fields)

    def field(self, name: str) -> BitField:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def unpack(self, buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[int, ...]:
        """Field values (in declaration order) of the header at ``buf[pos]``."""
        word = int.from_bytes(buf[pos:pos + self.size], "big")
        return tuple((word >> s) & m for s, m in self._spec)

    def pack(self, **values: int) -> bytes:
        """Header octets from field values (constants filled in, missing fields 0)."""
        word = 0
        for f in self.fields:
            v = f.const if f.const is not None else int(values.get(f.name, 0))
            word |= (v & f.mask) << f.shift
        return word.to_bytes(self.size, "big")

    def columns(self, headers: np.ndarray) -> dict[str, np.ndarray]:
        """Fields of many headers at once; ``headers`` is a uint8 array of shape (N, size)."""
        headers = np.asarray(headers, dtype=np.uint8)
        if headers.ndim != 2 or headers.shape[1] != self.size:
            raise ValueError(f"headers must have shape (N, {self.size}), got {headers.shape}")
        if self.size <= 8:
            padded = np.zeros((headers.shape[0], 8), dtype=np.uint8)
            padded[:, 8 - self.size:] = headers
            words = padded.view(">u8").ravel().astype(np.uint64)
            out: dict[str, Any] = {}
            for f in self.fields:
                col = (words >> np.uint64(f.shift)) & np.uint64(f.mask)
                out[f.name] = col.astype(_smallest_uint(f.width))
            return out
        raise ValueError("layouts wider than 64 bits are not supported by columns()")


def _smallest_uint(width: int) -> type:
    if width <= 8:
        return np.uint8
    if width <= 16:
        return np.uint16
    if width <= 32:
        return np.uint32
    return np.uint64


_FORMAT_DTYPES = {"B": "u1", "b": "i1", "H": "u2", "h": "i2", "L": "u4", "l": "i4", "I": "u4", "i": "i4",
                  "Q": "u8", "q": "i8", "f": "f4", "d": "f8", "e": "f2"}


def numpy_dtype(struct: c.Construct) -> np.dtype:
    """A numpy structured dtype with the same octet layout as a construct Struct of byte-aligned fields.

    Supports FormatField integers and floats (Int16ub, Float32b, ...), Bytes(n)
    as fixed-size byte strings, and BitStructs / nested Structs as opaque
    octet groups (``V{n}``) to be split further with :class:`BitLayout`.
    """
    if isinstance(struct, c.Renamed):
        struct = struct.subcon
    if not isinstance(struct, c.Struct):
        raise TypeError(f"expected a Struct, got {struct!r}")
    names: list[str] = []
    formats: list[Any] = []
    for i, sub in enumerate(struct.subcons):
        inner = sub.subcon if isinstance(sub, c.Renamed) else sub
        while isinstance(inner, (c.Const, c.Enum)) and not isinstance(inner, c.FormatField):
            inner = inner.subcon
        names.append(sub.name or f"_pad{i}")
        if isinstance(inner, c.FormatField):
            order = ">" if inner.fmtstr[0] in ">!" else "<" if inner.fmtstr[0] == "<" else "="
            formats.append(order + _FORMAT_DTYPES[inner.fmtstr[-1]])
        elif isinstance(inner, c.BytesInteger):
            formats.append(f"V{inner.sizeof()}")
        elif isinstance(inner, (c.Bytes, c.Transformed, c.Restreamed, c.Struct, c.Padded, c.Array)):
            formats.append(f"V{inner.sizeof()}")
        else:
            raise TypeError(f"no numpy dtype for field {sub.name!r}: {inner!r}")
    return np.dtype({"names": names, "formats": formats})
