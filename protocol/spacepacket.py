"""CCSDS Space Packets (CCSDS 133.0-B-2, Space Packet Protocol).

* :data:`PrimaryHeader` -- the 6-octet primary header (§4.1.3), declared once
  with construct; the numpy fast path in :mod:`protocol.packetarray` is derived
  from this declaration.
* :class:`SpacePacket` -- a frozen, typed packet; ``encode()`` / ``decode()``.
* :class:`SequenceCounter` -- per-APID 14-bit source sequence counters
  (§4.1.3.4.2), an object the caller owns and injects.
* :func:`sequence_gaps` -- the per-APID sequence-count check of a batch of
  packets, as columns (the batch decoders of stack and offline share it).
* :class:`PacketSplitter` -- a sans-IO stream decoder (h11 style): feed byte
  chunks of any size, read packets; garbage and a truncated tail are reported
  as :class:`Skipped` / :class:`Truncated` events, never raised.

Options supported: version 1 packets only (version number 000, §4.1.3.2.2);
TM and TC packet types; secondary header flag; all four sequence flags;
idle packets (APID 0x7FF, §4.1.3.3.4.4); packet data field 1..65536 octets,
so packets of 7..65542 octets.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import KW_ONLY, dataclass, field

import construct as c
import numpy as np

from .errors import LocalProtocolError, RemoteProtocolError, TruncatedError, check_enum, check_length, check_range
from .layout import BitLayout

__all__ = [
    "PrimaryHeader",
    "PacketType",
    "SequenceFlags",
    "SpacePacket",
    "SequenceCounter",
    "PacketSplitter",
    "Skipped",
    "Truncated",
    "split_packets",
    "apid_and_count",
    "IDLE_APID",
    "PRIMARY_HEADER_LEN",
    "MAX_PACKET_LEN",
    "MAX_DATA_LEN",
    "SEQ_COUNT_MODULO",
    "packet_len_at",
    "apids_and_counts",
    "SequenceGaps",
    "sequence_gaps",
]

LAYER = "space packet"
PRIMARY_HEADER_LEN = 6
MAX_DATA_LEN = 65536  # packet data field, §4.1.4.1.2
MAX_PACKET_LEN = PRIMARY_HEADER_LEN + MAX_DATA_LEN  # 65542
IDLE_APID = 0x7FF
MAX_APID = 0x7FF
SEQ_COUNT_MODULO = 1 << 14


class PacketType(enum.IntEnum):
    """Packet type bit (§4.1.3.3.2)."""

    TM = 0
    TC = 1


class SequenceFlags(enum.IntEnum):
    """Sequence flags (§4.1.3.4.2.2): where a packet sits in a group of segments."""

    CONTINUATION = 0b00
    FIRST = 0b01
    LAST = 0b10
    UNSEGMENTED = 0b11


# §4.1.3: version(3) type(1) sec-hdr flag(1) APID(11) | seq flags(2) seq count(14) | length(16)
PrimaryHeader = c.BitStruct(
    "version" / c.Const(0, c.BitsInteger(3)),
    "packet_type" / c.BitsInteger(1),
    "sec_header_flag" / c.Flag,
    "apid" / c.BitsInteger(11),
    "sequence_flags" / c.BitsInteger(2),
    "sequence_count" / c.BitsInteger(14),
    "data_length" / c.BitsInteger(16),  # packet data field length minus one, §4.1.3.5.3
)
HEADER_BITS = BitLayout(PrimaryHeader)
_LENGTH_FIELD = HEADER_BITS.field("data_length")
#: Octets [LENGTH_OFFSET, LENGTH_END) of the header hold the packet data length field (derived from PrimaryHeader).
LENGTH_OFFSET = (HEADER_BITS.total_bits - _LENGTH_FIELD.shift - _LENGTH_FIELD.width) // 8
LENGTH_END = LENGTH_OFFSET + _LENGTH_FIELD.width // 8
_VERSION_APID = [HEADER_BITS.names.index("version"), HEADER_BITS.names.index("apid")]


@dataclass(frozen=True, slots=True)
class SpacePacket:
    """One space packet: header fields plus the packet data field (secondary header included)."""

    apid: int
    sequence_count: int
    data: bytes
    _: KW_ONLY
    packet_type: PacketType = PacketType.TM
    sec_header_flag: bool = False
    sequence_flags: SequenceFlags = SequenceFlags.UNSEGMENTED

    def __post_init__(self) -> None:
        check_range(LAYER, "apid", self.apid, 0, MAX_APID)
        check_range(LAYER, "sequence_count", self.sequence_count, 0, SEQ_COUNT_MODULO - 1)
        if not 1 <= len(self.data) <= MAX_DATA_LEN:
            raise LocalProtocolError(LAYER, "packet data field length", len(self.data),
                                     f"1..{MAX_DATA_LEN} octets")
        object.__setattr__(self, "data", bytes(self.data))
        object.__setattr__(self, "packet_type", check_enum(LAYER, "packet_type", PacketType, self.packet_type))
        object.__setattr__(self, "sequence_flags", check_enum(LAYER, "sequence_flags", SequenceFlags, self.sequence_flags))

    @property
    def is_idle(self) -> bool:
        """True for idle packets (APID 0x7FF)."""
        return self.apid == IDLE_APID

    def __len__(self) -> int:
        return PRIMARY_HEADER_LEN + len(self.data)

    def header_bytes(self) -> bytes:
        """The 6-octet primary header."""
        return encode_header(
            apid=self.apid,
            sequence_count=self.sequence_count,
            data_len=len(self.data),
            packet_type=self.packet_type,
            sec_header_flag=self.sec_header_flag,
            sequence_flags=self.sequence_flags,
        )

    def encode(self) -> bytes:
        """The whole packet as bytes."""
        return self.header_bytes() + self.data

    @classmethod
    def decode(cls, buf: bytes | bytearray | memoryview, *, offset: int = 0) -> SpacePacket:
        """Decode exactly one packet occupying all of ``buf``."""
        pkt, end = cls.decode_from(buf, 0, base_offset=offset)
        check_length(LAYER, "packet length", len(buf), end, offset=offset, allowed=f"{end} octets as the header says")
        return pkt

    @classmethod
    def decode_from(cls, buf: bytes | bytearray | memoryview, pos: int = 0, *,
                    base_offset: int = 0) -> tuple[SpacePacket, int]:
        """Decode the packet starting at ``buf[pos]``; return it and the position after it."""
        where = base_offset + pos
        hdr = decode_header(buf, pos, base_offset=base_offset)
        end = pos + PRIMARY_HEADER_LEN + hdr.data_length + 1
        if end > len(buf):
            raise TruncatedError(LAYER, "packet data field", len(buf) - pos,
                                 f"{end - pos} octets (data length field {hdr.data_length})", offset=where)
        return cls(
            apid=hdr.apid,
            sequence_count=hdr.sequence_count,
            data=bytes(buf[pos + PRIMARY_HEADER_LEN:end]),
            packet_type=PacketType(hdr.packet_type),
            sec_header_flag=hdr.sec_header_flag,
            sequence_flags=SequenceFlags(hdr.sequence_flags),
        ), end

    @classmethod
    def idle(cls, total_len: int, *, sequence_count: int = 0, fill: int = 0x00) -> SpacePacket:
        """An idle packet (APID 0x7FF) of exactly ``total_len`` octets (7..65542)."""
        if not PRIMARY_HEADER_LEN + 1 <= total_len <= MAX_PACKET_LEN:
            raise LocalProtocolError(LAYER, "idle packet length", total_len, f"7..{MAX_PACKET_LEN} octets")
        return cls(apid=IDLE_APID, sequence_count=sequence_count,
                   data=bytes([fill]) * (total_len - PRIMARY_HEADER_LEN))


@dataclass(frozen=True, slots=True)
class HeaderFields:
    """Decoded primary header fields (data_length is the raw field: data octets minus one)."""

    packet_type: int
    sec_header_flag: bool
    apid: int
    sequence_flags: int
    sequence_count: int
    data_length: int

    @property
    def packet_len(self) -> int:
        """Total packet length in octets."""
        return PRIMARY_HEADER_LEN + self.data_length + 1


def encode_header(*, apid: int, sequence_count: int, data_len: int,
                  packet_type: int = PacketType.TM, sec_header_flag: bool = False,
                  sequence_flags: int = SequenceFlags.UNSEGMENTED) -> bytes:
    """Build a primary header for a packet data field of ``data_len`` octets."""
    check_range(LAYER, "apid", apid, 0, MAX_APID)
    check_range(LAYER, "sequence_count", sequence_count, 0, SEQ_COUNT_MODULO - 1)
    check_range(LAYER, "packet data field length", data_len, 1, MAX_DATA_LEN)
    return HEADER_BITS.pack(packet_type=int(packet_type), sec_header_flag=int(bool(sec_header_flag)), apid=apid,
                            sequence_flags=int(sequence_flags), sequence_count=sequence_count,
                            data_length=data_len - 1)


def decode_header(buf: bytes | bytearray | memoryview, pos: int = 0, *, base_offset: int = 0) -> HeaderFields:
    """Decode the 6-octet primary header at ``buf[pos]``."""
    where = base_offset + pos
    if len(buf) - pos < PRIMARY_HEADER_LEN:
        raise TruncatedError(LAYER, "primary header", max(0, len(buf) - pos), "6 octets", offset=where)
    version, ptype, shf, apid, flags, count, length = HEADER_BITS.unpack(buf, pos)
    if version != 0:
        raise RemoteProtocolError(LAYER, "packet version number", version, "0 (CCSDS version 1 packet)",
                                  offset=where)
    return HeaderFields(ptype, bool(shf), apid, flags, count, length)


_APID_SHIFT, _APID_MASK = HEADER_BITS.field("apid").shift, HEADER_BITS.field("apid").mask
_COUNT_SHIFT, _COUNT_MASK = HEADER_BITS.field("sequence_count").shift, HEADER_BITS.field("sequence_count").mask


def apid_and_count(buf: bytes | bytearray | memoryview) -> tuple[int, int]:
    """(APID, sequence count) of a packet whose header is known to be valid (the hot path of a decoder
    that checked the version already); shifts and masks from :data:`HeaderBits`, nothing retyped."""
    word = int.from_bytes(buf[:PRIMARY_HEADER_LEN], "big")
    return (word >> _APID_SHIFT) & _APID_MASK, (word >> _COUNT_SHIFT) & _COUNT_MASK


def apids_and_counts(headers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(APIDs, sequence counts), int64 arrays, of N valid primary headers, ``headers`` (N, 6) uint8: the batch form
    of :func:`apid_and_count`, split by :data:`HEADER_BITS` (§4.1.3)."""
    cols = HEADER_BITS.columns(headers)
    return cols["apid"].astype(np.int64), cols["sequence_count"].astype(np.int64)


def packet_len_at(buf: bytes | bytearray | memoryview, pos: int = 0) -> int:
    """Total octets of the packet whose (complete) primary header starts at ``buf[pos]``."""
    return int.from_bytes(buf[pos + LENGTH_OFFSET:pos + LENGTH_END], "big") + PRIMARY_HEADER_LEN + 1


class SequenceCounter:
    """Per-APID 14-bit source sequence counters (§4.1.3.4.2.3); one per packet source, injected."""

    def __init__(self, start: dict[int, int] | None = None) -> None:
        self._next: dict[int, int] = dict(start or {})

    def next(self, apid: int) -> int:
        """Return the count to use for the next packet of ``apid`` and advance it (wraps at 16384)."""
        check_range(LAYER, "apid", apid, 0, MAX_APID)
        value = self._next.get(apid, 0)
        self._next[apid] = (value + 1) % SEQ_COUNT_MODULO
        return value

    def peek(self, apid: int) -> int:
        """The count the next packet of ``apid`` will get."""
        return self._next.get(apid, 0)

    def state(self) -> dict[int, int]:
        """A copy of the counters, for persisting across restarts."""
        return dict(self._next)


def sequence_gap(previous: int, current: int) -> int:
    """Number of packets missing between two consecutive counts of one APID (mod 16384)."""
    return (current - previous - 1) % SEQ_COUNT_MODULO


@dataclass(frozen=True, slots=True)
class Skipped:
    """Stream octets ``[offset, offset+length)`` that did not start a valid packet."""

    offset: int
    length: int
    reason: str


@dataclass(frozen=True, slots=True)
class Truncated:
    """A packet started at ``offset`` but the stream ended after ``length`` of its ``expected`` octets."""

    offset: int
    length: int
    expected: int


@dataclass
class PacketSplitter:
    """Sans-IO splitter of a byte stream into space packets.

    ``feed()`` any chunks, then iterate ``events()``; call ``close()`` at the
    end of the stream to get a :class:`Truncated` event for a partial tail.
    A header is accepted when its version is 0, its APID is in ``apids`` (when
    given) and its length is at most ``max_packet_len``; otherwise one octet
    is skipped and the search goes on. Consecutive skipped octets are reported
    as one :class:`Skipped` event, so the events do not depend on how the
    stream was chunked. The buffer never holds more than one packet.
    """

    apids: frozenset[int] | None = None
    max_packet_len: int = MAX_PACKET_LEN
    _buf: bytearray = field(default_factory=bytearray, repr=False)
    _offset: int = 0  # stream offset of _buf[0]
    _skip_start: int | None = None
    _skip_reason: str = ""
    _closed: bool = False
    packets: int = 0
    skipped_octets: int = 0

    def __post_init__(self) -> None:
        if self.apids is not None:
            self.apids = frozenset(self.apids)

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Append received octets."""
        if self._closed:
            raise LocalProtocolError(LAYER, "splitter state", "closed", "feed() before close()")
        self._buf += chunk

    def close(self) -> None:
        """Mark the end of the stream: a partial packet left over becomes a Truncated event."""
        self._closed = True

    def _reject(self, buf: bytearray, pos: int, length: int) -> str:
        fields = HEADER_BITS.unpack(buf, pos)
        version, apid = fields[_VERSION_APID[0]], fields[_VERSION_APID[1]]
        if version:
            return f"version {version} != 0"
        if self.apids is not None and apid not in self.apids:
            return f"APID {apid} not expected"
        if length > self.max_packet_len:
            return f"length {length} > {self.max_packet_len}"
        return ""

    def _flush_skip(self, end: int) -> Skipped | None:
        if self._skip_start is None:
            return None
        ev = Skipped(self._skip_start, end - self._skip_start, self._skip_reason)
        self.skipped_octets += ev.length
        self._skip_start = None
        return ev

    def events(self) -> Iterator[SpacePacket | Skipped | Truncated]:
        """Yield every event the buffered octets complete."""
        buf = self._buf
        pos = 0
        try:
            while len(buf) - pos >= PRIMARY_HEADER_LEN:
                length = packet_len_at(buf, pos)
                reason = self._reject(buf, pos, length)
                if reason:
                    if self._skip_start is None:
                        self._skip_start = self._offset + pos
                        self._skip_reason = reason
                    pos += 1
                    continue
                if len(buf) - pos < length:
                    break
                skip = self._flush_skip(self._offset + pos)
                if skip:
                    yield skip
                pkt, pos = SpacePacket.decode_from(buf, pos, base_offset=self._offset)
                self.packets += 1
                yield pkt
        finally:
            del buf[:pos]
            self._offset += pos
        if not self._closed:
            return
        end = self._offset + len(buf)
        if len(buf) >= PRIMARY_HEADER_LEN:  # a valid header whose packet never completed
            skip = self._flush_skip(self._offset)
            if skip:
                yield skip
            yield Truncated(self._offset, len(buf), packet_len_at(buf))
        else:
            if buf and self._skip_start is None:
                self._skip_start, self._skip_reason = self._offset, "stream ended inside a header"
            skip = self._flush_skip(end)
            if skip:
                yield skip
        self._offset = end
        buf.clear()


def split_packets(data: bytes | bytearray | memoryview | Iterable[bytes], **options: object
                  ) -> list[SpacePacket | Skipped | Truncated]:
    """Split a whole byte string (or an iterable of chunks) into packet, skip and truncation events."""
    splitter = PacketSplitter(**options)  # type: ignore[arg-type]
    chunks = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
    out: list[SpacePacket | Skipped | Truncated] = []
    for chunk in chunks:
        splitter.feed(chunk)
        out.extend(splitter.events())
    splitter.close()
    out.extend(splitter.events())
    return out


@dataclass(frozen=True, slots=True)
class SequenceGaps:
    """What :func:`sequence_gaps` found in one batch of packets.

    ``index``, ``expected`` and ``missing`` are aligned arrays, in input order: the position of each packet
    that follows a gap in its APID's count, the count that should have come, and how many are missing.
    ``first`` gives the first count of each APID not seen before; ``per_apid`` the packets of each APID in
    the batch, in the order the APIDs first appear.
    """

    index: np.ndarray
    expected: np.ndarray
    missing: np.ndarray
    first: dict[int, int]
    per_apid: dict[int, int]


def sequence_gaps(apids: np.ndarray, counts: np.ndarray, last: dict[int, int]) -> SequenceGaps:
    """Check the source sequence counts (§4.1.3.4.2.3) of a batch of packets, in order, per APID.

    ``last`` maps each APID to the last count seen before this batch and is updated in place; an APID
    without an entry starts without a gap. A count that does not follow its predecessor modulo 2**14
    is a gap of ``(count - previous - 1) mod 2**14`` packets (a repeated count reads as a gap of
    16383, as on the per-packet path).
    """
    a_in = np.asarray(apids, dtype=np.int64)
    c_in = np.asarray(counts, dtype=np.int64)
    n = a_in.size
    if a_in.shape != c_in.shape or a_in.ndim != 1:
        raise LocalProtocolError(LAYER, "apids/counts", f"{a_in.shape}/{c_in.shape}", "two 1-D arrays of one length")
    order = np.argsort(a_in, kind="stable")
    a, cnt = a_in[order], c_in[order]
    starts = np.flatnonzero(np.r_[True, a[1:] != a[:-1]]) if n else np.empty(0, dtype=np.int64)
    ends = np.r_[starts[1:], n]
    prev = np.r_[-1, cnt[:-1]] if n else np.empty(0, dtype=np.int64)
    first: dict[int, int] = {}
    per_apid: dict[int, int] = {}
    for s, e in sorted(zip(starts.tolist(), ends.tolist()), key=lambda se: order[se[0]]):  # first-seen order
        apid = int(a[s])
        before = last.get(apid)
        if before is None:
            first[apid] = int(cnt[s])
        prev[s] = -1 if before is None else before
        last[apid] = int(cnt[e - 1])
        per_apid[apid] = e - s
    missing = np.where(prev >= 0, (cnt - prev - 1) % SEQ_COUNT_MODULO, 0)
    k = np.flatnonzero(missing)
    by_position = np.argsort(order[k], kind="stable")
    k = k[by_position]
    return SequenceGaps(order[k], (prev[k] + 1) % SEQ_COUNT_MODULO, missing[k], first, per_apid)
