"""AOS Transfer Frames (CCSDS 732.0-B-4, AOS Space Data Link Protocol; same layout as 732.0-B-3).

* :data:`AosPrimaryHeader` -- the 6-octet primary header (§4.1.2), declared
  once with construct; the fast path (:data:`HEADER_BITS`) is derived from it.
* :data:`MpduHeader` -- the 2-octet M_PDU header (§4.1.4.2.2): 5 spare bits
  and the 11-bit first header pointer.
* :class:`AosFrameConfig` -- managed parameters of one physical channel.
* :class:`AosFrame` -- a frozen, typed frame; ``encode(config)`` /
  ``decode(buf, config)``.

Options supported:

* frame header error control (§4.1.2.6): the RS(10,6) code over GF(16)
  (field polynomial x^4+x+1, generator roots alpha^6..alpha^9) protecting the
  master channel ID, VCID and signalling field; checked (not corrected) on
  decode, a mismatch raises :class:`~protocol.errors.ChecksumError`;
* insert zone of fixed length (§4.1.3), opaque octets;
* data field as M_PDU (packets, §4.1.4.2) on every VC except the idle VC 63,
  whose data field is only idle data and is kept opaque
  (``first_header_pointer`` None). B_PDU and VCA_PDU are not parsed: encode
  them as opaque data with ``first_header_pointer=None``;
* operational control field (§4.1.5) as a raw 32-bit word (a CLCW, parsed by
  :mod:`protocol.clcw`);
* frame error control field (§4.1.6), CRC-16-CCITT.

A real mission (S-NPP, JPSS, Aqua/Terra direct broadcast) picks: 892- or
1020-octet frames inside RS(255,223) codeblocks, no FHEC, no insert zone, no
OCF on the return link, no FECF (the RS code protects the frame), M_PDU.

The decoder checks structure (version, length, checksums, spare bits of the
M_PDU header) but not what the first header pointer points to: the packet
extraction in :mod:`protocol.vchannel` reports bad pointers as events.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

import construct as c
import numpy as np

from .crc import append_crc, check_crc
from .errors import ChecksumError, LocalProtocolError, RemoteProtocolError, check_length, check_range
from .layout import BitLayout
from .tmframe import fecf_valid

__all__ = [
    "AosPrimaryHeader",
    "MpduHeader",
    "AosFrameConfig",
    "AosFrame",
    "AosFrameColumns",
    "decode_columns",
    "HEADER_BITS",
    "MPDU_BITS",
    "PRIMARY_HEADER_LEN",
    "MPDU_HEADER_LEN",
    "FHP_NO_PACKET_START",
    "FHP_IDLE",
    "IDLE_VCID",
    "VC_COUNT_MODULO",
    "fhec_parity",
]

LAYER = "AOS frame"
PRIMARY_HEADER_LEN = 6
FHEC_LEN = 2
MPDU_HEADER_LEN = 2
OCF_LEN = 4
FECF_LEN = 2
MAX_FRAME_LEN = 2048
MAX_SCID = 0xFF
MAX_VCID = 0x3F
IDLE_VCID = 63  # §4.1.2.3.3: VCID all ones is reserved for idle frames
VC_COUNT_MODULO = 1 << 24
# §4.1.4.2.2: all ones = no packet primary header starts in this M_PDU (S-NPP frames that are
# wholly the continuation of a long packet carry 0x7FF); all ones minus one = only idle data.
FHP_NO_PACKET_START = 0x7FF
FHP_IDLE = 0x7FE

# §4.1.2: version(2)=01 SCID(8) VCID(6) | VC frame count(24) |
# signalling field (8, §4.1.2.5): replay flag, VC frame count usage flag, spare(2), VC frame count cycle(4)
AosPrimaryHeader = c.BitStruct(
    "version" / c.Const(1, c.BitsInteger(2)),
    "scid" / c.BitsInteger(8),
    "vcid" / c.BitsInteger(6),
    "vc_frame_count" / c.BitsInteger(24),
    "replay_flag" / c.Flag,
    "vc_count_usage_flag" / c.Flag,
    "spare" / c.Const(0, c.BitsInteger(2)),
    "vc_count_cycle" / c.BitsInteger(4),
)
HEADER_BITS = BitLayout(AosPrimaryHeader)

# §4.1.4.2.2: M_PDU header: spare(5) = 0, first header pointer(11)
MpduHeader = c.BitStruct(
    "spare" / c.Const(0, c.BitsInteger(5)),
    "first_header_pointer" / c.BitsInteger(11),
)
MPDU_BITS = BitLayout(MpduHeader)


# --- frame header error control: RS(10,6) over GF(16), §4.1.2.6 -------------------------
def _gf16_tables() -> tuple[list[int], list[int]]:
    exp = [0] * 30
    log = [0] * 16
    x = 1
    for i in range(15):
        exp[i] = exp[i + 15] = x
        log[x] = i
        x <<= 1
        if x & 0x10:
            x ^= 0x13  # F(x) = x^4 + x + 1
    return exp, log


_EXP, _LOG = _gf16_tables()


def _gf_mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _generator() -> list[int]:
    """g(x) = (x + a^6)(x + a^7)(x + a^8)(x + a^9), highest power first."""
    g = [1]
    for j in range(6, 10):
        root = _EXP[j]
        nxt = g + [0]
        for i, coef in enumerate(g):
            nxt[i + 1] ^= _gf_mul(coef, root)
        g = nxt
    return g


_GEN = _generator()


def fhec_parity(protected_24bit: int) -> int:
    """The 16-bit FHEC for the 24 protected header bits (master channel ID, VCID, signalling field)."""
    symbols = [(protected_24bit >> (20 - 4 * i)) & 0xF for i in range(6)]
    rem = [0, 0, 0, 0]
    for s in symbols:  # systematic encoding: remainder of m(x) * x^4 / g(x), LFSR form
        feedback = s ^ rem[0]
        rem = [rem[1] ^ _gf_mul(feedback, _GEN[1]), rem[2] ^ _gf_mul(feedback, _GEN[2]),
               rem[3] ^ _gf_mul(feedback, _GEN[3]), _gf_mul(feedback, _GEN[4])]
    return (rem[0] << 12) | (rem[1] << 8) | (rem[2] << 4) | rem[3]


def _protected_bits(header: bytes | bytearray | memoryview) -> int:
    """Octets 0-1 (version, SCID, VCID) and octet 5 (signalling field) as one 24-bit word."""
    return (header[0] << 16) | (header[1] << 8) | header[5]


@dataclass(frozen=True, slots=True)
class AosFrameConfig:
    """Managed parameters of an AOS physical/master channel (§5): fixed frame length and options."""

    frame_len: int
    scid: int
    _: KW_ONLY
    has_fhec: bool = False
    insert_zone_len: int = 0
    has_ocf: bool = False
    has_fecf: bool = False

    def __post_init__(self) -> None:
        check_range(LAYER, "scid", self.scid, 0, MAX_SCID)
        check_range(LAYER, "insert_zone_len", self.insert_zone_len, 0, MAX_FRAME_LEN)
        overhead = self.data_offset + OCF_LEN * self.has_ocf + FECF_LEN * self.has_fecf
        check_range(LAYER, "frame_len", self.frame_len, overhead + MPDU_HEADER_LEN + 1, MAX_FRAME_LEN)

    @property
    def data_offset(self) -> int:
        """Offset of the data field (the M_PDU header) in the frame."""
        return PRIMARY_HEADER_LEN + FHEC_LEN * self.has_fhec + self.insert_zone_len

    @property
    def data_field_len(self) -> int:
        """Octets of the transfer frame data field (M_PDU header included)."""
        return self.frame_len - self.data_offset - OCF_LEN * self.has_ocf - FECF_LEN * self.has_fecf

    @property
    def packet_zone_len(self) -> int:
        """Octets of the M_PDU packet zone."""
        return self.data_field_len - MPDU_HEADER_LEN


@dataclass(frozen=True, slots=True)
class AosFrame:
    """One AOS transfer frame.

    ``data`` is the M_PDU packet zone when ``first_header_pointer`` is an int,
    or the whole data field, opaque, when it is None (idle VC 63, B_PDU, VCA_PDU).
    ``vc_count_cycle`` None means the VC frame count usage flag is 0.
    """

    scid: int
    vcid: int
    vc_frame_count: int
    first_header_pointer: int | None
    data: bytes
    _: KW_ONLY
    replay: bool = False
    vc_count_cycle: int | None = None
    insert_zone: bytes = b""
    ocf: int | None = None

    def __post_init__(self) -> None:
        check_range(LAYER, "scid", self.scid, 0, MAX_SCID)
        check_range(LAYER, "vcid", self.vcid, 0, MAX_VCID)
        check_range(LAYER, "vc_frame_count", self.vc_frame_count, 0, VC_COUNT_MODULO - 1)
        if self.first_header_pointer is not None:
            check_range(LAYER, "first_header_pointer", self.first_header_pointer, 0, 0x7FF)
        if self.vc_count_cycle is not None:
            check_range(LAYER, "vc_count_cycle", self.vc_count_cycle, 0, 15)
        if self.ocf is not None:
            check_range(LAYER, "ocf", self.ocf, 0, 0xFFFFFFFF)
        object.__setattr__(self, "data", bytes(self.data))
        object.__setattr__(self, "insert_zone", bytes(self.insert_zone))

    @property
    def is_idle(self) -> bool:
        """True for an idle frame (VC 63) or an M_PDU holding only idle data (pointer 0x7FE)."""
        return self.vcid == IDLE_VCID or self.first_header_pointer == FHP_IDLE

    def encode(self, config: AosFrameConfig) -> bytes:
        """The whole frame as ``config.frame_len`` octets (FHEC and FECF computed when configured)."""
        if (self.ocf is not None) != config.has_ocf:
            raise LocalProtocolError(LAYER, "ocf", self.ocf, "a 32-bit word" if config.has_ocf else
                                     "None (the channel has no OCF)")
        if len(self.insert_zone) != config.insert_zone_len:
            raise LocalProtocolError(LAYER, "insert zone length", len(self.insert_zone),
                                     f"{config.insert_zone_len} octets as configured")
        want = config.data_field_len if self.first_header_pointer is None else config.packet_zone_len
        if len(self.data) != want:
            raise LocalProtocolError(LAYER, "data length", len(self.data),
                                     f"{want} octets for a {config.frame_len}-octet frame")
        header = HEADER_BITS.pack(
            scid=self.scid, vcid=self.vcid, vc_frame_count=self.vc_frame_count, replay_flag=self.replay,
            vc_count_usage_flag=self.vc_count_cycle is not None, vc_count_cycle=self.vc_count_cycle or 0)
        out = bytearray(header)
        if config.has_fhec:
            out += fhec_parity(_protected_bits(header)).to_bytes(FHEC_LEN, "big")
        out += self.insert_zone
        if self.first_header_pointer is not None:
            out += MPDU_BITS.pack(first_header_pointer=self.first_header_pointer)
        out += self.data
        if self.ocf is not None:
            out += self.ocf.to_bytes(OCF_LEN, "big")
        return append_crc(out) if config.has_fecf else bytes(out)

    @classmethod
    def decode(cls, buf: bytes | bytearray | memoryview, config: AosFrameConfig) -> AosFrame:
        """Decode one frame of exactly ``config.frame_len`` octets."""
        n = len(buf)
        check_length(LAYER, "frame length", n, config.frame_len, offset=0)
        version, scid, vcid, vc_count, replay, usage, spare, cycle = HEADER_BITS.unpack(buf)
        if version != 1:
            raise RemoteProtocolError(LAYER, "transfer frame version number", version, "1 (binary 01, AOS)",
                                      offset=0)
        if config.has_fecf:
            check_crc(buf, layer=LAYER, field="frame error control field")
        pos = PRIMARY_HEADER_LEN
        if config.has_fhec:
            received = int.from_bytes(buf[pos:pos + FHEC_LEN], "big")
            computed = fhec_parity(_protected_bits(buf))
            if received != computed:
                raise ChecksumError(LAYER, "frame header error control", received, computed, offset=pos)
            pos += FHEC_LEN
        if spare:
            raise RemoteProtocolError(LAYER, "signalling field spare bits", spare, "0", offset=5)
        if cycle and not usage:
            raise RemoteProtocolError(LAYER, "VC frame count cycle", cycle,
                                      "0 when the VC frame count usage flag is 0", offset=5)
        insert_zone = bytes(buf[pos:pos + config.insert_zone_len])
        pos += config.insert_zone_len
        data_end = pos + config.data_field_len
        fhp: int | None = None
        if vcid != IDLE_VCID:
            mpdu_spare, fhp = MPDU_BITS.unpack(buf, pos)
            if mpdu_spare:
                raise RemoteProtocolError(LAYER, "M_PDU header spare bits", mpdu_spare, "0", offset=pos)
            pos += MPDU_HEADER_LEN
        ocf = int.from_bytes(buf[data_end:data_end + OCF_LEN], "big") if config.has_ocf else None
        return cls(scid=scid, vcid=vcid, vc_frame_count=vc_count, first_header_pointer=fhp,
                   data=bytes(buf[pos:data_end]), replay=bool(replay),
                   vc_count_cycle=cycle if usage else None, insert_zone=insert_zone, ocf=ocf)


@dataclass(frozen=True, slots=True)
class AosFrameColumns:
    """The header fields of N frames, (N,) arrays; ``valid`` marks the rows :meth:`AosFrame.decode` accepts.

    ``first_header_pointer`` is the M_PDU header's; it is meaningless on the idle VC 63 (no M_PDU there).
    """

    valid: np.ndarray
    scid: np.ndarray
    vcid: np.ndarray
    vc_frame_count: np.ndarray
    first_header_pointer: np.ndarray


def decode_columns(frames: np.ndarray, config: AosFrameConfig) -> AosFrameColumns:
    """The headers of the rows of ``frames`` ((N, frame_len) uint8) at once, checked as :meth:`AosFrame.decode` checks
    them: version (§4.1.2.2), FECF (§4.1.6), signalling field (§4.1.2.5), M_PDU spare bits (§4.1.4.2.2).

    A frame header error control (§4.1.2.6) is not checked here: with ``has_fhec`` no row is marked valid, so
    every frame goes to :meth:`AosFrame.decode`.
    """
    h = HEADER_BITS.columns(frames[:, :PRIMARY_HEADER_LEN])
    m = MPDU_BITS.columns(frames[:, config.data_offset:config.data_offset + MPDU_HEADER_LEN])
    valid = ((h["version"] == 1) & (h["spare"] == 0) & ((h["vc_count_cycle"] == 0) | (h["vc_count_usage_flag"] == 1))
             & ((h["vcid"] == IDLE_VCID) | (m["spare"] == 0)))
    if config.has_fecf:
        valid &= fecf_valid(frames)
    if config.has_fhec:
        valid[:] = False
    return AosFrameColumns(valid, h["scid"], h["vcid"], h["vc_frame_count"], m["first_header_pointer"])
