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

__all__ = ["BitField", "BitLayout", "StructColumns"]


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
        out: dict[str, np.ndarray] = {}
        words: dict[tuple[int, int], np.ndarray] = {}
        for f in self.fields:
            # octets the field touches, counted from the start of the header
            first = (self.total_bits - f.shift - f.width) // 8
            last = (self.total_bits - f.shift - 1) // 8
            if last - first >= 8:
                raise ValueError(f"field {f.name} spans more than 8 octets")
            word = words.get((first, last))
            if word is None:
                kind = _smallest_uint(8 * (last - first + 1))
                word = headers[:, first].astype(kind)
                for k in range(first + 1, last + 1):
                    word = (word << kind(8)) | headers[:, k]
                words[(first, last)] = word
            kind = word.dtype.type
            low = f.shift - 8 * (self.size - 1 - last)  # bits below the field inside its octets
            col = (word >> kind(low)) & kind(f.mask) if low or f.width < 8 * (last - first + 1) else word
            out[f.name] = col.astype(_smallest_uint(f.width), copy=False)
        return out


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


def _unwrap(sub: c.Construct) -> c.Construct:
    """Strip names, constants and enums down to the construct that says how octets look."""
    while isinstance(sub, (c.Renamed, c.Const, c.Enum)) and not isinstance(sub, c.FormatField):
        sub = sub.subcon
    return sub


def _format_dtype(ff: c.FormatField) -> str:
    order = ">" if ff.fmtstr[0] in ">!" else "<" if ff.fmtstr[0] == "<" else "="
    return order + _FORMAT_DTYPES[ff.fmtstr[-1]]


def _bytes_int(cols: np.ndarray, *, signed: bool, little: bool) -> np.ndarray:
    """Integers of any octet width from a (..., width) uint8 array."""
    width = cols.shape[-1]
    if little:
        cols = cols[..., ::-1]
    value = np.zeros(cols.shape[:-1], dtype=np.int64)
    for k in range(width):
        value = (value << 8) | cols[..., k]
    if signed:
        top = np.int64(1) << (8 * width - 1)
        value = np.where(value & top, value - (top << 1), value)
    return value


class StructColumns:
    """Decodes many copies of a construct ``Struct`` at once into numpy columns.

    The octet layout comes from the declaration: integers and floats of any
    ``FormatField``, ``BytesInteger`` of any width (24-bit samples, say),
    fixed ``Array`` s of either (a column of shape (N, count)), ``Bytes(n)``
    (a column of n-octet strings), and nested ``BitStruct`` s (their fields
    as ``outer.inner`` columns, split by :class:`BitLayout`).
    """

    def __init__(self, struct: c.Construct) -> None:
        struct = _unwrap(struct)
        if not isinstance(struct, c.Struct):
            raise TypeError(f"expected a Struct, got {struct!r}")
        self._plan: list[tuple[str, int, int, Any]] = []
        offset = 0
        for i, sub in enumerate(struct.subcons):
            name = sub.name or f"_pad{i}"
            inner = _unwrap(sub)
            size = inner.sizeof()
            self._plan.append((name, offset, size, self._kind(inner, name)))
            offset += size
        self.size = offset

    @staticmethod
    def _kind(inner: c.Construct, name: str) -> Any:
        if isinstance(inner, c.FormatField):
            return ("dtype", np.dtype(_format_dtype(inner)), None)
        if isinstance(inner, c.BytesInteger):
            return ("int", int(inner.length), (bool(inner.signed), bool(inner.swapped)))
        if isinstance(inner, c.Array):
            elem = _unwrap(inner.subcon)
            count = int(inner.count)
            if isinstance(elem, c.FormatField):
                return ("dtype", np.dtype(_format_dtype(elem)), count)
            if isinstance(elem, c.BytesInteger):
                return ("int", int(elem.length), (bool(elem.signed), bool(elem.swapped)), count)
        if isinstance(inner, (c.Transformed, c.Restreamed)) and isinstance(inner.subcon, c.Struct):
            return ("bits", BitLayout(inner), None)
        if isinstance(inner, (c.Bytes, c.Padded)):
            return ("bytes", None, None)
        raise TypeError(f"no column decoding for field {name!r}: {inner!r}")

    def decode(self, rows: np.ndarray, *, records: np.ndarray | None = None, offset: int = 0
               ) -> dict[str, np.ndarray]:
        """Columns for every named field; ``rows`` is a uint8 array of shape (N, >= size).

        When the N records lie back to back in one contiguous uint8 buffer
        ``records`` (record length = ``records.size // N``) with the struct at
        ``offset`` in each, integer and float fields are returned as zero-copy
        strided views of that buffer instead of copies.
        """
        rows = np.asarray(rows, dtype=np.uint8)
        n = rows.shape[0]
        out: dict[str, np.ndarray] = {}
        direct = self._direct_view(records, n, offset) if records is not None and n else None
        for name, start, size, kind in self._plan:
            if name.startswith("_pad"):
                continue
            part = rows[:, start:start + size]
            if kind[0] == "dtype":
                if direct is not None:
                    out[name] = direct[name]
                    continue
                col = np.ascontiguousarray(part).view(kind[1])
                out[name] = col.reshape(n) if kind[2] is None else col.reshape(n, kind[2])
            elif kind[0] == "int":
                width, (signed, little) = kind[1], kind[2]
                shaped = part.reshape(n, width) if len(kind) == 3 else part.reshape(n, kind[3], width)
                out[name] = _bytes_int(shaped, signed=signed, little=little)
            elif kind[0] == "bits":
                for key, col in kind[1].columns(part).items():
                    out[f"{name}.{key}"] = col
            else:
                out[name] = np.ascontiguousarray(part).view(f"S{size}").reshape(n)
        return out

    def _direct_view(self, records: np.ndarray, n: int, offset: int) -> np.ndarray | None:
        """A structured zero-copy view of the fixed-dtype fields of N back-to-back records."""
        if records.ndim != 1 or records.size % n or not records.flags.c_contiguous:
            return None
        names, formats, offsets = [], [], []
        for name, start, _size, kind in self._plan:
            if kind[0] == "dtype" and not name.startswith("_pad"):
                names.append(name)
                formats.append(kind[1] if kind[2] is None else (kind[1], (kind[2],)))
                offsets.append(offset + start)
        if not names:
            return None
        dtype = np.dtype({"names": names, "formats": formats, "offsets": offsets,
                          "itemsize": records.size // n})
        return records.view(dtype)
