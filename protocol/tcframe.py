"""TC Transfer Frames (CCSDS 232.0-B-4, TC Space Data Link Protocol).

* :data:`PrimaryHeader` -- the 5-octet primary header (§4.1.2), declared once
  with construct; the shift/mask fast path is derived from it by
  :class:`protocol.layout.BitLayout`.
* :data:`SegmentHeaderLayout` -- the optional 1-octet segment header
  (§4.1.3.2, MAP service): sequence flags and MAP ID.
* :class:`TcFrame` -- a frozen, typed frame; ``encode()`` / ``decode()``.
  Frame types AD (bypass 0, control 0), BD (bypass 1, control 0) and
  BC (bypass 1, control 1); the combination bypass 0 / control 1 is invalid.
* :class:`Unlock` and :class:`SetVr` -- the two COP-1 control commands
  carried by BC frames (§4.1.3.3, CCSDS 232.1-B-2 §4.1.3).
* :func:`segment` / :class:`SegmentReassembler` -- split a service data unit
  (a packet) larger than one frame over several frames using the segment
  header sequence flags, and put it back together.

Options supported: version 1 frames (version number 00); all three frame
types; the segment header as a per-virtual-channel option (pass
``segment_header=True`` for every VC or a set of VCIDs); the frame error
control field (CRC-16, §4.1.4) on or off. A real mission uses the FECF
(the default here) and, when it multiplexes MAPs or sends packets longer than
a frame, the segment header. Frames are 6..1024 octets (§4.1.2.7).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import construct as c

from .crc import append_crc, check_crc
from .errors import LocalProtocolError, RemoteProtocolError, TruncatedError, check_range
from .layout import BitLayout

__all__ = [
    "PrimaryHeader",
    "SegmentHeaderLayout",
    "FrameType",
    "SequenceFlags",
    "SegmentHeader",
    "TcFrame",
    "Unlock",
    "SetVr",
    "ControlCommand",
    "encode_control_command",
    "decode_control_command",
    "frame_length_octets",
    "max_data_len",
    "segment",
    "SegmentReassembler",
    "SegmentDropped",
    "reassemble",
    "PRIMARY_HEADER_LEN",
    "SEGMENT_HEADER_LEN",
    "FECF_LEN",
    "MAX_FRAME_LEN",
]

LAYER = "TC frame"
PRIMARY_HEADER_LEN = 5
SEGMENT_HEADER_LEN = 1
FECF_LEN = 2
MAX_FRAME_LEN = 1024  # §4.1.2.7.2: frame length field is 10 bits, total octets minus one
MAX_SCID = 0x3FF
MAX_VCID = 0x3F
MAX_MAP_ID = 0x3F
SEQ_NUMBER_MODULO = 256

# §4.1.2: version(2) bypass(1) control command(1) spare(2) SCID(10) |
#         VCID(6) frame length(10) | frame sequence number(8)
PrimaryHeader = c.BitStruct(
    "version" / c.Const(0, c.BitsInteger(2)),
    "bypass_flag" / c.Flag,
    "control_command_flag" / c.Flag,
    "spare" / c.BitsInteger(2),  # reserved, must be 00 (§4.1.2.4)
    "scid" / c.BitsInteger(10),
    "vcid" / c.BitsInteger(6),
    "frame_length" / c.BitsInteger(10),  # total frame octets minus one (§4.1.2.7)
    "frame_sequence_number" / c.BitsInteger(8),
)
HEADER_BITS = BitLayout(PrimaryHeader)

# §4.1.3.2 (segment header of the MAP service): sequence flags(2) MAP ID(6)
SegmentHeaderLayout = c.BitStruct(
    "sequence_flags" / c.BitsInteger(2),
    "map_id" / c.BitsInteger(6),
)
SEGMENT_BITS = BitLayout(SegmentHeaderLayout)


class FrameType(enum.Enum):
    """TC frame type from the bypass and control command flags (§4.1.2.3)."""

    AD = (False, False)  # sequence-controlled data, checked by FARM-1
    BD = (True, False)  # expedited data, bypasses FARM-1 acceptance checks
    BC = (True, True)  # expedited control command (Unlock, Set V(R))

    @property
    def bypass_flag(self) -> bool:
        """The bypass flag this type sets."""
        return self.value[0]

    @property
    def control_command_flag(self) -> bool:
        """The control command flag this type sets."""
        return self.value[1]


class SequenceFlags(enum.IntEnum):
    """Segment header sequence flags (§4.1.3.2.2)."""

    CONTINUING = 0b00
    FIRST = 0b01
    LAST = 0b10
    UNSEGMENTED = 0b11


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    """The 1-octet segment header: where this segment sits, and which MAP it belongs to."""

    map_id: int = 0
    sequence_flags: SequenceFlags = SequenceFlags.UNSEGMENTED

    def __post_init__(self) -> None:
        check_range(LAYER, "MAP ID", self.map_id, 0, MAX_MAP_ID)
        try:
            object.__setattr__(self, "sequence_flags", SequenceFlags(self.sequence_flags))
        except ValueError as e:
            raise LocalProtocolError(LAYER, "sequence flags", self.sequence_flags, "0..3") from e

    def encode(self) -> bytes:
        """The segment header octet."""
        return SEGMENT_BITS.pack(sequence_flags=int(self.sequence_flags), map_id=self.map_id)

    @classmethod
    def decode(cls, octet: int) -> SegmentHeader:
        """Decode a segment header octet (every value is valid)."""
        flags, map_id = SEGMENT_BITS.unpack(bytes([octet]))
        return cls(map_id=map_id, sequence_flags=SequenceFlags(flags))


# ---------------------------------------------------------------- control commands


@dataclass(frozen=True, slots=True)
class Unlock:
    """The Unlock control command (232.1-B-2 §4.1.3.2): one octet 0x00; clears FARM-1 lockout."""


@dataclass(frozen=True, slots=True)
class SetVr:
    """The Set V(R) control command (232.1-B-2 §4.1.3.3): 0x82 0x00 V(R); sets FARM-1's next expected N(S)."""

    vr: int

    def __post_init__(self) -> None:
        check_range(LAYER, "V(R)", self.vr, 0, SEQ_NUMBER_MODULO - 1)


ControlCommand = Unlock | SetVr

_UNLOCK = b"\x00"
_SET_VR_PREFIX = b"\x82\x00"


def encode_control_command(command: ControlCommand) -> bytes:
    """The frame data field octets of a control command."""
    if isinstance(command, Unlock):
        return _UNLOCK
    if isinstance(command, SetVr):
        return _SET_VR_PREFIX + bytes([command.vr])
    raise LocalProtocolError(LAYER, "control command", command, "Unlock() or SetVr(vr)")


def decode_control_command(data: bytes | bytearray | memoryview, *, offset: int = 0) -> ControlCommand:
    """Recognise the control command in a BC frame's data field."""
    raw = bytes(data)
    if raw == _UNLOCK:
        return Unlock()
    if len(raw) == 3 and raw[:2] == _SET_VR_PREFIX:
        return SetVr(raw[2])
    raise RemoteProtocolError(LAYER, "control command", raw, "00 (Unlock) or 82 00 xx (Set V(R))",
                              offset=offset)


# ---------------------------------------------------------------- frames


SegmentHeaderOption = bool | Collection[int]


def _has_segment_header(option: SegmentHeaderOption, vcid: int) -> bool:
    if isinstance(option, bool):
        return option
    return vcid in option


def max_data_len(*, segment_header: bool, fecf: bool = True) -> int:
    """Largest data field (after any segment header) a frame can carry, in octets."""
    return MAX_FRAME_LEN - PRIMARY_HEADER_LEN - SEGMENT_HEADER_LEN * segment_header - FECF_LEN * fecf


@dataclass(frozen=True, slots=True)
class TcFrame:
    """One TC transfer frame: header fields, optional segment header and the data after it.

    ``segment`` is None when the frame carries no segment header (BC frames
    never do). The FECF is not a field: it is computed by ``encode(fecf=True)``
    and checked by ``decode(fecf=True)``.
    """

    scid: int
    vcid: int
    data: bytes
    frame_type: FrameType = FrameType.AD
    sequence_number: int = 0
    segment: SegmentHeader | None = None

    def __post_init__(self) -> None:
        check_range(LAYER, "spacecraft ID", self.scid, 0, MAX_SCID)
        check_range(LAYER, "virtual channel ID", self.vcid, 0, MAX_VCID)
        check_range(LAYER, "frame sequence number", self.sequence_number, 0, SEQ_NUMBER_MODULO - 1)
        if not isinstance(self.frame_type, FrameType):
            raise LocalProtocolError(LAYER, "frame type", self.frame_type, "FrameType.AD, .BD or .BC")
        if self.segment is not None and not isinstance(self.segment, SegmentHeader):
            raise LocalProtocolError(LAYER, "segment header", self.segment, "a SegmentHeader or None")
        if self.frame_type is FrameType.BC and self.segment is not None:
            raise LocalProtocolError(LAYER, "segment header", self.segment, "None in a BC frame",
                                     detail="control commands carry no segment header")
        object.__setattr__(self, "data", bytes(self.data))
        limit = max_data_len(segment_header=self.segment is not None, fecf=False)
        if not 1 <= len(self.data) <= limit:
            raise LocalProtocolError(LAYER, "data field length", len(self.data), f"1..{limit} octets")

    @classmethod
    def control(cls, scid: int, vcid: int, command: ControlCommand, *, sequence_number: int = 0) -> TcFrame:
        """A BC frame carrying an Unlock or Set V(R) control command."""
        return cls(scid=scid, vcid=vcid, data=encode_control_command(command), frame_type=FrameType.BC,
                   sequence_number=sequence_number)

    def control_command(self) -> ControlCommand:
        """The control command of a BC frame."""
        if self.frame_type is not FrameType.BC:
            raise LocalProtocolError(LAYER, "frame type", self.frame_type.name, "BC for a control command")
        return decode_control_command(self.data, offset=PRIMARY_HEADER_LEN)

    def encoded_len(self, *, fecf: bool = True) -> int:
        """Total frame length in octets."""
        return (PRIMARY_HEADER_LEN + SEGMENT_HEADER_LEN * (self.segment is not None) + len(self.data)
                + FECF_LEN * fecf)

    def encode(self, *, fecf: bool = True) -> bytes:
        """The whole frame as bytes, with the FECF appended when ``fecf``."""
        total = self.encoded_len(fecf=fecf)
        if total > MAX_FRAME_LEN:
            raise LocalProtocolError(LAYER, "frame length", total, f"6..{MAX_FRAME_LEN} octets",
                                     detail=f"data field {len(self.data)} octets too long with the FECF")
        out = bytearray(HEADER_BITS.pack(
            bypass_flag=int(self.frame_type.bypass_flag),
            control_command_flag=int(self.frame_type.control_command_flag),
            scid=self.scid, vcid=self.vcid, frame_length=total - 1,
            frame_sequence_number=self.sequence_number))
        if self.segment is not None:
            out += self.segment.encode()
        out += self.data
        return append_crc(out) if fecf else bytes(out)

    @classmethod
    def decode(cls, buf: bytes | bytearray | memoryview, *, fecf: bool = True,
               segment_header: SegmentHeaderOption = False, offset: int = 0) -> TcFrame:
        """Decode exactly one frame occupying all of ``buf``.

        ``segment_header`` is True when every VC carries one, or the set of
        VCIDs that do; ``offset`` is added to the byte offsets in errors.
        """
        n = len(buf)
        if n < PRIMARY_HEADER_LEN:
            raise TruncatedError(LAYER, "primary header", n, "5 octets", offset=offset)
        version, bypass, ctrl, spare, scid, vcid, length_raw, seq = HEADER_BITS.unpack(buf)
        if version != 0:
            raise RemoteProtocolError(LAYER, "transfer frame version number", version, "0 (version 1 frame)",
                                      offset=offset)
        if spare != 0:
            raise RemoteProtocolError(LAYER, "reserved spare", spare, "0", offset=offset)
        if not bypass and ctrl:
            raise RemoteProtocolError(LAYER, "bypass/control command flags", "bypass 0, control 1",
                                      "00 (AD), 10 (BD) or 11 (BC)", offset=offset)
        expected = length_raw + 1
        if n < expected:
            raise TruncatedError(LAYER, "frame", n, f"{expected} octets (frame length field {length_raw})",
                                 offset=offset)
        if n > expected:
            raise RemoteProtocolError(LAYER, "frame length field", length_raw, f"{n - 1} (buffer is {n} octets)",
                                      offset=offset + 2, detail=f"{n - expected} trailing octets")
        end = n
        if fecf:
            end -= FECF_LEN
            check_crc(buf, layer=LAYER, field="FECF", base_offset=offset)
        frame_type = FrameType((bool(bypass), bool(ctrl)))
        pos = PRIMARY_HEADER_LEN
        seg = None
        if frame_type is not FrameType.BC and _has_segment_header(segment_header, vcid):
            if end <= pos:
                raise TruncatedError(LAYER, "segment header", 0, "1 octet", offset=offset + pos)
            seg = SegmentHeader.decode(buf[pos])
            pos += SEGMENT_HEADER_LEN
        if end <= pos:
            raise RemoteProtocolError(LAYER, "data field length", 0, "at least 1 octet", offset=offset + pos)
        return cls(scid=scid, vcid=vcid, data=bytes(buf[pos:end]), frame_type=frame_type,
                   sequence_number=seq, segment=seg)


def frame_length_octets(buf: bytes | bytearray | memoryview, *, offset: int = 0) -> int:
    """Total frame length in octets as the frame length field of the header at ``buf[0]`` says."""
    if len(buf) < PRIMARY_HEADER_LEN:
        raise TruncatedError(LAYER, "primary header", len(buf), "5 octets", offset=offset)
    return HEADER_BITS.unpack(buf)[HEADER_BITS.names.index("frame_length")] + 1


# ---------------------------------------------------------------- segmentation


def segment(data: bytes | bytearray | memoryview, *, map_id: int, max_segment_len: int
            ) -> list[tuple[SegmentHeader, bytes]]:
    """Split one service data unit into segments of at most ``max_segment_len`` octets (§4.1.3.2.2)."""
    raw = bytes(data)
    limit = max_data_len(segment_header=True, fecf=False)
    check_range(LAYER, "max segment length", max_segment_len, 1, limit)
    if not raw:
        raise LocalProtocolError(LAYER, "service data unit length", 0, "at least 1 octet")
    if len(raw) <= max_segment_len:
        return [(SegmentHeader(map_id, SequenceFlags.UNSEGMENTED), raw)]
    pieces = [raw[i:i + max_segment_len] for i in range(0, len(raw), max_segment_len)]
    out = [(SegmentHeader(map_id, SequenceFlags.FIRST), pieces[0])]
    out += [(SegmentHeader(map_id, SequenceFlags.CONTINUING), p) for p in pieces[1:-1]]
    out.append((SegmentHeader(map_id, SequenceFlags.LAST), pieces[-1]))
    return out


@dataclass(frozen=True, slots=True)
class SegmentDropped:
    """A partial unit of MAP ``map_id`` (``length`` octets so far) was dropped, and why."""

    map_id: int
    length: int
    reason: str


class SegmentReassembler:
    """Reassemble service data units from the segments of one virtual channel, per MAP ID.

    ``push(frame)`` returns the events the segment causes: the completed unit
    (``bytes``) and/or a :class:`SegmentDropped` when the sequence is broken
    (continuing/last without a first, a first or unsegmented segment while a
    unit is open, or a unit growing past ``max_unit_len`` octets, which keeps
    the buffer bounded). A broken sequence never loses the segment that
    revealed it: a new first segment opens a fresh unit, an unsegmented one
    is delivered.
    """

    def __init__(self, *, max_unit_len: int = 65542) -> None:
        self.max_unit_len = max_unit_len
        self._open: dict[int, bytearray] = {}

    def push(self, frame: TcFrame) -> list[bytes | SegmentDropped]:
        """Add one frame's segment; return the completed unit and/or drop events it causes."""
        seg = frame.segment
        if seg is None:
            raise LocalProtocolError(LAYER, "segment header", None, "a frame decoded with its segment header")
        return self.push_segment(seg, frame.data)

    def push_segment(self, header: SegmentHeader, data: bytes) -> list[bytes | SegmentDropped]:
        """Add one segment; return the completed unit and/or drop events it causes."""
        flags = header.sequence_flags
        map_id = header.map_id
        partial = self._open.pop(map_id, None)
        out: list[bytes | SegmentDropped] = []
        if partial is not None and flags in (SequenceFlags.FIRST, SequenceFlags.UNSEGMENTED):
            out.append(SegmentDropped(map_id, len(partial), f"{flags.name} segment before LAST"))
            partial = None
        if flags is SequenceFlags.UNSEGMENTED:
            out.append(bytes(data))
            return out
        if flags is SequenceFlags.FIRST:
            partial = bytearray()
        elif partial is None:
            out.append(SegmentDropped(map_id, len(data), f"{flags.name} segment without FIRST"))
            return out
        partial += data
        if len(partial) > self.max_unit_len:
            out.append(SegmentDropped(map_id, len(partial), f"unit longer than {self.max_unit_len} octets"))
        elif flags is SequenceFlags.LAST:
            out.append(bytes(partial))
        else:
            self._open[map_id] = partial
        return out

    def pending(self) -> dict[int, int]:
        """Octets held per MAP ID for units not yet complete."""
        return {k: len(v) for k, v in self._open.items()}


def reassemble(segments: Iterable[tuple[SegmentHeader, bytes]], *, max_unit_len: int = 65542) -> list[bytes]:
    """Reassemble whole units from (segment header, data) pairs; raise on any sequencing error."""
    r = SegmentReassembler(max_unit_len=max_unit_len)
    out: list[bytes] = []
    for i, (header, data) in enumerate(segments):
        for ev in r.push_segment(header, data):
            if isinstance(ev, SegmentDropped):
                raise RemoteProtocolError(LAYER, "segment sequence", ev.reason, "FIRST, CONTINUING..., LAST",
                                          offset=PRIMARY_HEADER_LEN, detail=f"segment {i}, MAP {ev.map_id}")
            out.append(ev)
    for map_id, n in r.pending().items():
        raise TruncatedError(LAYER, "segmented unit", n, "a LAST segment to complete it",
                             offset=PRIMARY_HEADER_LEN, detail=f"MAP {map_id}")
    return out
