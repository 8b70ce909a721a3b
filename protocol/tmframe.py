"""TM Transfer Frames (CCSDS 132.0-B-3, TM Space Data Link Protocol).

* :data:`TmPrimaryHeader` -- the 6-octet primary header (§4.1.2), declared once
  with construct; the fast path (:data:`HEADER_BITS`) is derived from it.
* :data:`TmSecondaryHeaderId` -- the secondary header identification octet
  (§4.1.3.2).
* :class:`TmFrameConfig` -- the managed parameters of one physical channel
  (frame length, spacecraft ID, which optional fields are present).
* :class:`TmFrame` -- a frozen, typed frame; ``encode(config)`` /
  ``decode(buf, config)``.

Options supported:

* fixed frame length per physical channel (e.g. 1115 octets, or 223*I minus
  nothing for a Reed-Solomon codeblock of interleave depth I);
* transfer frame secondary header of fixed length (§4.1.3), passed through as
  opaque octets (version 00 only);
* operational control field (§4.1.5), kept as a raw 32-bit word -- normally a
  CLCW, parsed by :mod:`protocol.clcw`;
* frame error control field (§4.1.6), CRC-16-CCITT (:func:`protocol.crc.crc16`);
* synchronization flag 0 (packets, first header pointer meaningful) and 1
  (VCA_SDU, pointer undefined).

A real mission typically picks: 1115-octet frames (or 223*I when RS coded),
no secondary header, OCF present carrying the CLCW (needed for COP-1), FECF
present when no Reed-Solomon code is used (with RS the FECF is usually
omitted), synchronization flag 0 with packets.

The decoder checks structure (version, flags consistent with the managed
parameters, length, CRC). It does not check what the first header pointer
points to: that is the job of the packet extraction in
:mod:`protocol.vchannel`, which reports a bad pointer as an event.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

import construct as c
import numpy as np

from .crc import append_crc, check_crc, crc16
from .errors import LocalProtocolError, RemoteProtocolError, check_length, check_range
from .layout import BitLayout

__all__ = [
    "TmPrimaryHeader",
    "TmSecondaryHeaderId",
    "TmFrameConfig",
    "TmFrame",
    "TmFrameColumns",
    "decode_columns",
    "fecf_valid",
    "HEADER_BITS",
    "PRIMARY_HEADER_LEN",
    "FHP_NO_PACKET_START",
    "FHP_IDLE",
    "IDLE_VCID",
    "MAX_FRAME_LEN",
    "MC_COUNT_MODULO",
    "VC_COUNT_MODULO",
]

LAYER = "TM frame"
PRIMARY_HEADER_LEN = 6
OCF_LEN = 4
FECF_LEN = 2
MAX_FRAME_LEN = 2048  # §4.1.1.2 (maximum transfer frame length)
MAX_SCID = 0x3FF
MAX_VCID = 7
MC_COUNT_MODULO = 256
VC_COUNT_MODULO = 256
MAX_SEC_HEADER_LEN = 64  # identification octet + up to 63 data octets, §4.1.3.2.3
# §4.1.2.7.6: all ones = no packet primary header starts in this frame; all ones minus one =
# only idle data (an "OID" frame). Note the order: 0x7FF is NOT the idle value.
FHP_NO_PACKET_START = 0x7FF
FHP_IDLE = 0x7FE
IDLE_VCID = 7  # common practice for only-idle-data frames; the standard does not fix it
SEGMENT_LENGTH_ID_UNSEGMENTED = 0b11  # §4.1.2.7.5: required when the sync flag is 0

# §4.1.2: version(2) SCID(10) VCID(3) OCF flag(1) | MC count(8) | VC count(8) |
# data field status (16): sec hdr flag, sync flag, packet order flag, segment length id(2), FHP(11)
TmPrimaryHeader = c.BitStruct(
    "version" / c.Const(0, c.BitsInteger(2)),
    "scid" / c.BitsInteger(10),
    "vcid" / c.BitsInteger(3),
    "ocf_flag" / c.Flag,
    "mc_frame_count" / c.BitsInteger(8),
    "vc_frame_count" / c.BitsInteger(8),
    "sec_header_flag" / c.Flag,
    "sync_flag" / c.Flag,
    "packet_order_flag" / c.Flag,
    "segment_length_id" / c.BitsInteger(2),
    "first_header_pointer" / c.BitsInteger(11),
)
HEADER_BITS = BitLayout(TmPrimaryHeader)

# §4.1.3.2: secondary header identification: version(2) = 00, length(6) = total octets minus one
TmSecondaryHeaderId = c.BitStruct(
    "version" / c.Const(0, c.BitsInteger(2)),
    "length" / c.BitsInteger(6),
)
SEC_ID_BITS = BitLayout(TmSecondaryHeaderId)


@dataclass(frozen=True, slots=True)
class TmFrameConfig:
    """Managed parameters of a TM physical/master channel (§5): fixed frame length and options.

    ``sec_header_len`` is the whole secondary header in octets, identification
    octet included: 0 (none) or 1..64.
    """

    frame_len: int
    scid: int
    _: KW_ONLY
    has_ocf: bool = False
    has_fecf: bool = False
    sec_header_len: int = 0

    def __post_init__(self) -> None:
        check_range(LAYER, "scid", self.scid, 0, MAX_SCID)
        check_range(LAYER, "sec_header_len", self.sec_header_len, 0, MAX_SEC_HEADER_LEN)
        overhead = PRIMARY_HEADER_LEN + self.sec_header_len + OCF_LEN * self.has_ocf + FECF_LEN * self.has_fecf
        check_range(LAYER, "frame_len", self.frame_len, overhead + 1, MAX_FRAME_LEN)

    @property
    def data_field_len(self) -> int:
        """Octets of the transfer frame data field."""
        return (self.frame_len - PRIMARY_HEADER_LEN - self.sec_header_len
                - OCF_LEN * self.has_ocf - FECF_LEN * self.has_fecf)

    @property
    def data_offset(self) -> int:
        """Offset of the data field in the frame."""
        return PRIMARY_HEADER_LEN + self.sec_header_len


@dataclass(frozen=True, slots=True)
class TmFrame:
    """One TM transfer frame; ``sec_header`` is the secondary header data field (None when absent)."""

    scid: int
    vcid: int
    mc_frame_count: int
    vc_frame_count: int
    first_header_pointer: int
    data: bytes
    _: KW_ONLY
    ocf: int | None = None
    sec_header: bytes | None = None
    sync_flag: bool = False
    packet_order_flag: bool = False
    segment_length_id: int = SEGMENT_LENGTH_ID_UNSEGMENTED

    def __post_init__(self) -> None:
        check_range(LAYER, "scid", self.scid, 0, MAX_SCID)
        check_range(LAYER, "vcid", self.vcid, 0, MAX_VCID)
        check_range(LAYER, "mc_frame_count", self.mc_frame_count, 0, MC_COUNT_MODULO - 1)
        check_range(LAYER, "vc_frame_count", self.vc_frame_count, 0, VC_COUNT_MODULO - 1)
        check_range(LAYER, "first_header_pointer", self.first_header_pointer, 0, 0x7FF)
        check_range(LAYER, "segment_length_id", self.segment_length_id, 0, 3)
        if self.ocf is not None:
            check_range(LAYER, "ocf", self.ocf, 0, 0xFFFFFFFF)
        if not self.sync_flag and (self.packet_order_flag or self.segment_length_id != SEGMENT_LENGTH_ID_UNSEGMENTED):
            raise LocalProtocolError(LAYER, "packet order flag / segment length id",
                                     (self.packet_order_flag, self.segment_length_id),
                                     "False / 0b11 when the synchronization flag is 0 (§4.1.2.7.4-5)")
        object.__setattr__(self, "data", bytes(self.data))
        if self.sec_header is not None:
            object.__setattr__(self, "sec_header", bytes(self.sec_header))
            check_range(LAYER, "secondary header data length", len(self.sec_header), 0, MAX_SEC_HEADER_LEN - 1)

    @property
    def is_idle(self) -> bool:
        """True for an OID frame: only idle data (first header pointer 0x7FE)."""
        return not self.sync_flag and self.first_header_pointer == FHP_IDLE

    def encode(self, config: TmFrameConfig) -> bytes:
        """The whole frame as ``config.frame_len`` octets (FECF computed when configured)."""
        if (self.ocf is not None) != config.has_ocf:
            raise LocalProtocolError(LAYER, "ocf", self.ocf, "a 32-bit word" if config.has_ocf else
                                     "None (the channel has no OCF)")
        sec_len = 0 if self.sec_header is None else len(self.sec_header) + 1
        if sec_len != config.sec_header_len:
            raise LocalProtocolError(LAYER, "secondary header length", sec_len,
                                     f"{config.sec_header_len} octets as configured")
        if len(self.data) != config.data_field_len:
            raise LocalProtocolError(LAYER, "data field length", len(self.data),
                                     f"{config.data_field_len} octets for a {config.frame_len}-octet frame")
        out = bytearray(HEADER_BITS.pack(
            scid=self.scid, vcid=self.vcid, ocf_flag=config.has_ocf, mc_frame_count=self.mc_frame_count,
            vc_frame_count=self.vc_frame_count, sec_header_flag=self.sec_header is not None,
            sync_flag=self.sync_flag, packet_order_flag=self.packet_order_flag,
            segment_length_id=self.segment_length_id, first_header_pointer=self.first_header_pointer))
        if self.sec_header is not None:
            out += SEC_ID_BITS.pack(length=sec_len - 1)
            out += self.sec_header
        out += self.data
        if self.ocf is not None:
            out += self.ocf.to_bytes(OCF_LEN, "big")
        return append_crc(out) if config.has_fecf else bytes(out)

    @classmethod
    def decode(cls, buf: bytes | bytearray | memoryview, config: TmFrameConfig) -> TmFrame:
        """Decode one frame of exactly ``config.frame_len`` octets."""
        n = len(buf)
        check_length(LAYER, "frame length", n, config.frame_len, offset=0)
        (version, scid, vcid, ocf_flag, mc_count, vc_count, sec_flag, sync_flag, order_flag, seg_id,
         fhp) = HEADER_BITS.unpack(buf)
        if version != 0:
            raise RemoteProtocolError(LAYER, "transfer frame version number", version, "0 (TM frame)", offset=0)
        if bool(ocf_flag) != config.has_ocf:
            raise RemoteProtocolError(LAYER, "OCF flag", bool(ocf_flag), f"{config.has_ocf} (managed parameter)",
                                      offset=1)
        if bool(sec_flag) != (config.sec_header_len > 0):
            raise RemoteProtocolError(LAYER, "secondary header flag", bool(sec_flag),
                                      f"{config.sec_header_len > 0} (managed parameter)", offset=4)
        if not sync_flag and (order_flag or seg_id != SEGMENT_LENGTH_ID_UNSEGMENTED):
            raise RemoteProtocolError(LAYER, "packet order flag / segment length id", (order_flag, seg_id),
                                      "0 / 0b11 when the synchronization flag is 0", offset=4)
        if config.has_fecf:
            check_crc(buf, layer=LAYER, field="frame error control field")
        sec_header = None
        pos = PRIMARY_HEADER_LEN
        if sec_flag:
            sec_version, sec_len_raw = SEC_ID_BITS.unpack(buf, pos)
            if sec_version != 0:
                raise RemoteProtocolError(LAYER, "secondary header version", sec_version, "0", offset=pos)
            if sec_len_raw + 1 != config.sec_header_len:
                raise RemoteProtocolError(LAYER, "secondary header length", sec_len_raw,
                                          f"{config.sec_header_len - 1} (managed parameter, octets minus one)",
                                          offset=pos)
            sec_header = bytes(buf[pos + 1:pos + config.sec_header_len])
            pos += config.sec_header_len
        data_end = pos + config.data_field_len
        ocf = int.from_bytes(buf[data_end:data_end + OCF_LEN], "big") if config.has_ocf else None
        return cls(scid=scid, vcid=vcid, mc_frame_count=mc_count, vc_frame_count=vc_count,
                   first_header_pointer=fhp, data=bytes(buf[pos:data_end]), ocf=ocf, sec_header=sec_header,
                   sync_flag=bool(sync_flag), packet_order_flag=bool(order_flag), segment_length_id=seg_id)


@dataclass(frozen=True, slots=True)
class TmFrameColumns:
    """The primary header fields of N frames, (N,) arrays; ``valid`` marks the rows :meth:`TmFrame.decode` accepts."""

    valid: np.ndarray
    scid: np.ndarray
    vcid: np.ndarray
    mc_frame_count: np.ndarray
    vc_frame_count: np.ndarray
    sync_flag: np.ndarray
    first_header_pointer: np.ndarray


def fecf_valid(frames: np.ndarray) -> np.ndarray:
    """(N,) bool: the frame error control field (the last 2 octets, §4.1.6) of each row of ``frames`` checks."""
    rows = np.ascontiguousarray(frames, dtype=np.uint8)
    received = (rows[:, -FECF_LEN].astype(np.int64) << 8) | rows[:, -1]
    computed = np.fromiter((crc16(row[:-FECF_LEN].tobytes()) for row in rows), dtype=np.int64, count=len(rows))
    return received == computed


def decode_columns(frames: np.ndarray, config: TmFrameConfig) -> TmFrameColumns:
    """The headers of the rows of ``frames`` ((N, frame_len) uint8) at once, checked as :meth:`TmFrame.decode` checks
    them: version (§4.1.2.2), OCF and secondary header flags against the managed parameters, packet order flag and
    segment length ID with sync flag 0 (§4.1.2.7.4-5), the secondary header ID (§4.1.3.2) and the FECF (§4.1.6)."""
    h = HEADER_BITS.columns(frames[:, :PRIMARY_HEADER_LEN])
    valid = ((h["version"] == 0) & (h["ocf_flag"] == config.has_ocf)
             & (h["sec_header_flag"] == (config.sec_header_len > 0))
             & ((h["sync_flag"] == 1) | ((h["packet_order_flag"] == 0)
                                        & (h["segment_length_id"] == SEGMENT_LENGTH_ID_UNSEGMENTED))))
    if config.sec_header_len:
        sec = SEC_ID_BITS.columns(frames[:, PRIMARY_HEADER_LEN:PRIMARY_HEADER_LEN + SEC_ID_BITS.size])
        valid &= (sec["version"] == 0) & (sec["length"] + 1 == config.sec_header_len)
    if config.has_fecf:
        valid &= fecf_valid(frames)
    return TmFrameColumns(valid, h["scid"], h["vcid"], h["mc_frame_count"], h["vc_frame_count"], h["sync_flag"],
                          h["first_header_pointer"])
