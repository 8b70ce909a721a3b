"""Bulk decoding of space-packet files into numpy columns (CCSDS 133.0-B-2 §4.1).

The ground segment often holds millions of packets in one file (a Level-0
file, a pass dump). Decoding them one by one as objects is too slow, so this
module decodes them *as columns*:

* :func:`decode_fixed` -- a file of packets that all have the same length
  (one APID, a fixed layout): a zero-copy numpy view of the whole file, the
  primary header fields split by shifts and masks derived from
  :data:`protocol.spacepacket.PrimaryHeader`, and the packet data field
  decoded through a numpy dtype derived from the caller's construct ``Struct``.
* :func:`index_packets` -- a file of variable-length, mixed-APID packets: one
  pass over the length fields finds every packet start, then every header is
  decoded at once; :meth:`PacketIndex.fields` decodes the data fields of one
  APID with its construct layout, again as numpy columns.

The construct declarations stay the single source of truth: no layout is
written twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import construct as c
import numpy as np

from .errors import RemoteProtocolError, TruncatedError
from .layout import StructColumns
from .spacepacket import HEADER_BITS, LENGTH_END, LENGTH_OFFSET, PRIMARY_HEADER_LEN, packet_len_at

__all__ = ["PacketColumns", "PacketIndex", "decode_fixed", "index_packets"]

LAYER = "space packet file"


@dataclass(frozen=True)
class PacketColumns:
    """Header fields and data-field fields of N packets, each a numpy array of length N."""

    header: dict[str, np.ndarray]
    fields: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.header.values()))) if self.header else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.fields[name] if name in self.fields else self.header[name]


def _body_columns(rows: np.ndarray, body: c.Construct | None, data_len: int, *,
                  records: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Decode the packet data fields ``rows`` (N, data_len) through ``body``'s derived dtype."""
    if body is None:
        return {}
    columns = StructColumns(body)
    if columns.size > data_len:
        raise RemoteProtocolError(LAYER, "packet data field length", data_len,
                                  f">= {columns.size} octets for the given layout", offset=PRIMARY_HEADER_LEN)
    return columns.decode(rows, records=records, offset=PRIMARY_HEADER_LEN)


def _check_versions(header: dict[str, np.ndarray], offsets: np.ndarray) -> None:
    bad = np.flatnonzero(header["version"] != 0)
    if bad.size:
        i = int(bad[0])
        raise RemoteProtocolError(LAYER, "packet version number", int(header["version"][i]),
                                  "0 (CCSDS version 1 packet)", offset=int(offsets[i]),
                                  detail=f"packet #{i}")


def decode_fixed(buf: bytes | bytearray | memoryview | np.ndarray, body: c.Construct | None = None
                 ) -> PacketColumns:
    """Decode a file of equal-length packets into columns; ``body`` lays out the packet data field."""
    raw = np.frombuffer(buf, dtype=np.uint8) if not isinstance(buf, np.ndarray) else buf.view(np.uint8)
    if raw.size < PRIMARY_HEADER_LEN:
        raise TruncatedError(LAYER, "primary header", int(raw.size), "6 octets", offset=0)
    packet_len = packet_len_at(raw[:PRIMARY_HEADER_LEN].tobytes())
    n, tail = divmod(raw.size, packet_len)
    if tail:
        raise TruncatedError(LAYER, "file length", int(raw.size), f"a multiple of {packet_len} octets "
                             "(the first packet's length)", offset=n * packet_len)
    rows = raw.reshape(n, packet_len)
    header = HEADER_BITS.columns(rows[:, :PRIMARY_HEADER_LEN])
    offsets = np.arange(n, dtype=np.int64) * packet_len
    _check_versions(header, offsets)
    lengths = header["data_length"]
    bad = np.flatnonzero(lengths != lengths[0])
    if bad.size:
        i = int(bad[0])
        raise RemoteProtocolError(LAYER, "packet data length", int(lengths[i]) + 1,
                                  f"{packet_len - PRIMARY_HEADER_LEN} (fixed-length file)",
                                  offset=int(offsets[i]) + 4, detail=f"packet #{i}")
    return PacketColumns(header, _body_columns(rows[:, PRIMARY_HEADER_LEN:], body, packet_len - 6, records=raw))


@dataclass(frozen=True)
class PacketIndex:
    """Where every packet of a variable-length file starts, its header fields, and any bad tail."""

    data: np.ndarray  # the whole file, uint8
    offsets: np.ndarray  # int64, start of each packet
    lengths: np.ndarray  # int64, total octets of each packet
    header: dict[str, np.ndarray]
    truncated_offset: int | None  # start of an incomplete last packet, if any

    def __len__(self) -> int:
        return int(self.offsets.size)

    def apids(self) -> dict[int, int]:
        """Packet count per APID."""
        values, counts = np.unique(self.header["apid"], return_counts=True)
        return {int(v): int(k) for v, k in zip(values, counts)}

    def select(self, apid: int) -> np.ndarray:
        """Indices of the packets of one APID, in file order."""
        return np.flatnonzero(self.header["apid"] == apid)

    def packet(self, i: int) -> bytes:
        """The octets of packet ``i``."""
        start = int(self.offsets[i])
        return self.data[start:start + int(self.lengths[i])].tobytes()

    def fields(self, apid: int, body: c.Construct) -> PacketColumns:
        """Columns of every packet of ``apid``; all must be long enough for ``body``."""
        idx = self.select(apid)
        size = StructColumns(body).size
        short = idx[self.lengths[idx] - PRIMARY_HEADER_LEN < size]
        if short.size:
            i = int(short[0])
            raise RemoteProtocolError(LAYER, "packet data field length",
                                      int(self.lengths[i]) - PRIMARY_HEADER_LEN,
                                      f">= {size} octets for APID {apid}'s layout",
                                      offset=int(self.offsets[i]), detail=f"packet #{i}")
        gather = self.offsets[idx, None] + PRIMARY_HEADER_LEN + np.arange(size)
        rows = self.data[gather] if idx.size else np.zeros((0, size), np.uint8)
        header = {k: v[idx] for k, v in self.header.items()}
        return PacketColumns(header, _body_columns(rows, body, size))


def _walk(buf: bytes | memoryview) -> tuple[list[int], int]:
    """Follow the packet length fields from offset 0; return packet starts and the end position."""
    # The hot loop of the bulk decoder: the 16-bit length field at its derived offset, read inline.
    if LENGTH_END - LENGTH_OFFSET != 2:
        raise TypeError("the packet length field is expected to be 16 bits wide")
    hi, lo, extra = LENGTH_OFFSET, LENGTH_OFFSET + 1, PRIMARY_HEADER_LEN + 1
    starts: list[int] = []
    append = starts.append
    pos = 0
    end = len(buf) - PRIMARY_HEADER_LEN
    while pos <= end:
        append(pos)
        pos += ((buf[pos + hi] << 8) | buf[pos + lo]) + extra
    return starts, pos


def index_packets(buf: bytes | bytearray | memoryview | np.ndarray) -> PacketIndex:
    """Index a file of back-to-back variable-length packets (any APIDs); a short last packet is reported."""
    raw = np.frombuffer(buf, dtype=np.uint8) if not isinstance(buf, np.ndarray) else buf.view(np.uint8)
    mv = raw.tobytes() if isinstance(buf, np.ndarray) else buf
    starts, end = _walk(mv)
    offsets = np.array(starts, dtype=np.int64)
    truncated: int | None = None
    if end != raw.size:
        # The last start either runs past the end, or fewer than 6 octets remain after it.
        if offsets.size and end > raw.size:
            truncated = int(offsets[-1])
            offsets = offsets[:-1]
        else:
            truncated = int(end)
    heads = raw[offsets[:, None] + np.arange(PRIMARY_HEADER_LEN)] if offsets.size else \
        np.zeros((0, PRIMARY_HEADER_LEN), np.uint8)
    header = HEADER_BITS.columns(heads)
    _check_versions(header, offsets)
    lengths = header["data_length"].astype(np.int64) + 7
    return PacketIndex(raw, offsets, lengths, header, truncated)
