"""Virtual channel multiplexing and packet extraction, shared by TM (132.0-B-3) and AOS (732.0-B-4) frames.

* :class:`VcMultiplexer` -- sans-IO sending side: packets are queued per
  virtual channel; ``next_frame()`` builds the next fixed-length frame from
  the highest-priority VC with data waiting (packets packed back to back,
  spanning frames, first header pointer set, master and VC frame counters
  incremented modulo 256 (TM) or 2^24 (AOS)), or an idle frame when nothing
  waits.
* :class:`VcDemultiplexer` -- sans-IO receiving side, h11 style:
  ``feed_frame(bytes)`` then ``next_event()`` until :data:`NEED_DATA` (or
  iterate ``events()``). Events: :class:`VcPacket`, :class:`FrameGap`,
  :class:`MasterChannelGap`, :class:`DataDropped`, :class:`DecodeError`,
  and :class:`OcfReceived` for every frame with an OCF (the CLCW, decoded,
  ahead of the frame's packets). Bad frames never raise: they become events
  and counters.

First header pointer values (TM §4.1.2.7.6, AOS M_PDU §4.1.4.2.2): 0x7FF
(all ones) = no packet header starts in this frame, the data field continues
a packet; 0x7FE (all ones minus one) = only idle data (TM "OID" frame).

Choices made here, where the standards leave them to the mission:

* Idle frames: TM OID frames on VC 7 by default (``idle_vcid``), pointer
  0x7FE, data field filled with ``idle_fill``; AOS idle frames on VC 63
  (fixed by 732.0 §4.1.2.3.3), whose data field is idle data with no M_PDU
  header.
* A VC whose queue runs dry mid-frame is completed with an idle packet
  (APID 0x7FF). When only 1..6 octets are left -- too few for a 7-octet idle
  packet -- a 7-octet idle packet is started anyway and its remaining octets
  open that VC's next frame, as the standard allows packets (idle ones
  included) to span frames. The frame is never held back, so latency stays
  one frame; the receiver sees the idle packet complete in the VC's next
  frame and drops it.
* Priorities: lower number = more urgent; VCs of equal priority take turns
  (the one served least recently goes first). Nothing waits forever: a VC
  with data that has waited ``max_wait_frames`` frames (default
  :data:`DEFAULT_MAX_WAIT_FRAMES`) goes next whatever its priority (the
  longest-waiting first), but never two such frames in a row. So the most
  urgent VC waits for at most the frame on the air plus one aged frame, and
  any VC with data gets a frame at least once every ``max_wait_frames`` +
  2·(VCs − 1) frames, however busy the more urgent ones are.
* Receiver resynchronisation: after a gap, a decode error or an inconsistent
  pointer, the partial packet is discarded (reported as :class:`DataDropped`)
  and extraction restarts at the next first header pointer of that VC.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Final

import numpy as np

from .aosframe import MPDU_HEADER_LEN as AOS_MPDU_HEADER_LEN
from .aosframe import AosFrame, AosFrameConfig
from .aosframe import decode_columns as aos_columns
from .aosframe import FHP_IDLE as AOS_FHP_IDLE
from .aosframe import IDLE_VCID as AOS_IDLE_VCID
from .aosframe import VC_COUNT_MODULO as AOS_VC_COUNT_MODULO
from .clcw import Clcw
from .errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from .spacepacket import (
    HEADER_BITS,
    IDLE_APID,
    LENGTH_END,
    LENGTH_OFFSET,
    MAX_PACKET_LEN,
    PRIMARY_HEADER_LEN,
    SpacePacket,
    apid_and_count,
    apids_and_counts,
    decode_header,
    packet_len_at,
)
from .tmframe import FHP_IDLE, FHP_NO_PACKET_START, OCF_LEN, TmFrame, TmFrameConfig
from .tmframe import decode_columns as tm_columns
from .tmframe import IDLE_VCID as TM_IDLE_VCID
from .tmframe import MC_COUNT_MODULO as TM_MC_COUNT_MODULO
from .tmframe import VC_COUNT_MODULO as TM_VC_COUNT_MODULO

__all__ = [
    "VcMultiplexer",
    "VcDemultiplexer",
    "VcPacket",
    "FrameGap",
    "MasterChannelGap",
    "DataDropped",
    "DecodeError",
    "OcfReceived",
    "VcCounters",
    "NEED_DATA",
    "FrameConfig",
    "demultiplex",
]

LAYER = "VC demux"
MUX_LAYER = "VC mux"
MIN_PACKET_LEN = PRIMARY_HEADER_LEN + 1
DEFAULT_MAX_WAIT_FRAMES = 16
DEFAULT_MAX_QUEUE_OCTETS = 1 << 22
_CLCW_CACHE = 1024  # distinct OCF words remembered decoded
VERSION_SHIFT = HEADER_BITS.field("version").shift - 8 * (HEADER_BITS.size - 1)  # within the first octet

FrameConfig = TmFrameConfig | AosFrameConfig


class _NeedData:
    """Sentinel type of :data:`NEED_DATA`."""

    def __repr__(self) -> str:
        return "NEED_DATA"


#: Returned by :meth:`VcDemultiplexer.next_event` when every event of the fed frames has been read.
NEED_DATA: Final = _NeedData()


# --- events --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VcPacket:
    """A complete space packet (idle packets excluded) extracted from virtual channel ``vcid``."""

    vcid: int
    data: bytes

    def packet(self) -> SpacePacket:
        """The packet decoded as a :class:`SpacePacket`."""
        return SpacePacket.decode(self.data)


_SET_VCID = VcPacket.__dict__["vcid"].__set__
_SET_DATA = VcPacket.__dict__["data"].__set__


def _vc_packets(vcids: list[int], datas: list[bytes]) -> list[VcPacket]:
    """``[VcPacket(v, d) for v, d in zip(vcids, datas)]``, built three times faster.

    The generated ``__init__`` of a frozen dataclass sets each field through
    ``object.__setattr__``; here the slots are filled by their descriptors in
    C-level ``map`` loops (equal, hashable, frozen objects all the same).
    """
    out = list(map(object.__new__, repeat(VcPacket, len(datas))))
    deque(map(_SET_VCID, out, vcids), maxlen=0)
    deque(map(_SET_DATA, out, datas), maxlen=0)
    return out


@dataclass(frozen=True, slots=True)
class FrameGap:
    """VC frame counter jumped: ``missing`` frames between ``expected`` and ``received`` were lost."""

    vcid: int
    expected: int
    received: int
    missing: int


@dataclass(frozen=True, slots=True)
class MasterChannelGap:
    """TM master channel frame counter jumped (frames of some VC were lost)."""

    expected: int
    received: int
    missing: int


@dataclass(frozen=True, slots=True)
class DataDropped:
    """``octets`` of packet data on ``vcid`` were discarded (partial packet or unsynchronised data)."""

    vcid: int
    octets: int
    reason: str


@dataclass(frozen=True, slots=True)
class DecodeError:
    """A frame (``vcid`` None when unknown) or the packet data in it was invalid; it was counted, not raised."""

    vcid: int | None
    error: ProtocolError


@dataclass(frozen=True, slots=True)
class OcfReceived:
    """The operational control field of a frame of virtual channel ``vcid`` (TM 132.0-B-3 §4.1.5, AOS
    732.0-B-4 §4.1.5), VC frame count ``vc_count``: the 32-bit ``word`` as received, and ``clcw`` decoded
    when the word is a valid CLCW (232.0-B-4 §4.2.1.11; None for a type-2 report or an invalid word,
    counted in ``VcCounters.ocf_invalid``). Every frame with an OCF gives one, idle frames included:
    that is how FOP-1 hears FARM-1's state when nothing else is sent."""

    vcid: int
    vc_count: int
    word: int
    clcw: Clcw | None


Event = VcPacket | FrameGap | MasterChannelGap | DataDropped | DecodeError | OcfReceived


@dataclass
class VcCounters:
    """Running counts for one virtual channel, or for all of them."""

    frames: int = 0
    idle_frames: int = 0
    gaps: int = 0
    frames_missing: int = 0
    packets: int = 0
    idle_packets: int = 0
    bytes_dropped: int = 0
    errors: int = 0
    ocf_invalid: int = 0  # OCF words that are not a valid CLCW


# --- frame formats: the only place that knows TM from AOS ---------------------------------
@dataclass(frozen=True, slots=True)
class _Parsed:
    scid: int
    vcid: int
    vc_count: int
    mc_count: int | None
    fhp: int | None  # None: data field is not packets (AOS idle VC, TM VCA)
    zone: bytes
    idle: bool
    ocf: int | None = None  # the operational control field's word, when the frames carry one


class _TmFormat:
    vc_modulo = TM_VC_COUNT_MODULO
    mc_modulo = TM_MC_COUNT_MODULO
    default_idle_vcid = TM_IDLE_VCID
    max_vcid = 7
    fhp_offset = 4  # octet of the primary header holding the pointer, for error messages

    def __init__(self, config: TmFrameConfig, *, sec_header: bytes | None) -> None:
        self.config = config
        self.zone_len = config.data_field_len
        self.sec_header = sec_header
        if sec_header is None and config.sec_header_len:
            self.sec_header = bytes(config.sec_header_len - 1)

    def build(self, *, vcid: int, mc_count: int, vc_count: int, fhp: int, zone: bytes, ocf: int | None) -> bytes:
        return TmFrame(scid=self.config.scid, vcid=vcid, mc_frame_count=mc_count, vc_frame_count=vc_count,
                       first_header_pointer=fhp, data=zone, ocf=ocf, sec_header=self.sec_header
                       ).encode(self.config)

    def build_idle(self, *, vcid: int, mc_count: int, vc_count: int, fill: bytes, ocf: int | None) -> bytes:
        return self.build(vcid=vcid, mc_count=mc_count, vc_count=vc_count, fhp=FHP_IDLE,
                          zone=fill[:self.zone_len], ocf=ocf)

    def parse(self, frame: bytes | bytearray | memoryview) -> _Parsed:
        f = TmFrame.decode(frame, self.config)
        if f.sync_flag:
            return _Parsed(f.scid, f.vcid, f.vc_frame_count, f.mc_frame_count, None, f.data, False, f.ocf)
        return _Parsed(f.scid, f.vcid, f.vc_frame_count, f.mc_frame_count, f.first_header_pointer, f.data,
                       f.first_header_pointer == FHP_IDLE, f.ocf)

    def parse_batch(self, frames: np.ndarray, raw: bytes) -> tuple[list[_Parsed | None], int]:
        """What :meth:`parse` gives for each row of ``frames`` (``raw`` its octets), None where it would raise;
        and the packet zone's offset in a frame."""
        cols = tm_columns(frames, self.config)
        frame_len, off, n = frames.shape[1], self.config.data_offset, self.zone_len
        out: list[_Parsed | None] = []
        for i, (ok, scid, vcid, mc, vc, sync, fhp, ocf) in enumerate(zip(*(col.tolist() for col in (
                cols.valid, cols.scid, cols.vcid, cols.mc_frame_count, cols.vc_frame_count, cols.sync_flag,
                cols.first_header_pointer)), _ocf_column(frames, self.config))):
            z = i * frame_len + off
            out.append(_Parsed(scid, vcid, vc, mc, None if sync else fhp, raw[z:z + n], not sync and fhp == FHP_IDLE,
                               ocf) if ok else None)
        return out, off


class _AosFormat:
    vc_modulo = AOS_VC_COUNT_MODULO
    mc_modulo = None
    default_idle_vcid = AOS_IDLE_VCID
    max_vcid = 63

    def __init__(self, config: AosFrameConfig) -> None:
        self.config = config
        self.zone_len = config.packet_zone_len
        self.fhp_offset = config.data_offset
        self.insert_zone = bytes(config.insert_zone_len)

    def build(self, *, vcid: int, mc_count: int, vc_count: int, fhp: int, zone: bytes, ocf: int | None) -> bytes:
        return AosFrame(scid=self.config.scid, vcid=vcid, vc_frame_count=vc_count, first_header_pointer=fhp,
                        data=zone, insert_zone=self.insert_zone, ocf=ocf).encode(self.config)

    def build_idle(self, *, vcid: int, mc_count: int, vc_count: int, fill: bytes, ocf: int | None) -> bytes:
        if vcid == AOS_IDLE_VCID:  # the idle VC carries idle data with no M_PDU header
            return AosFrame(scid=self.config.scid, vcid=vcid, vc_frame_count=vc_count, first_header_pointer=None,
                            data=fill[:self.config.data_field_len], insert_zone=self.insert_zone,
                            ocf=ocf).encode(self.config)
        return self.build(vcid=vcid, mc_count=mc_count, vc_count=vc_count, fhp=AOS_FHP_IDLE,
                          zone=fill[:self.zone_len], ocf=ocf)

    def parse(self, frame: bytes | bytearray | memoryview) -> _Parsed:
        f = AosFrame.decode(frame, self.config)
        return _Parsed(f.scid, f.vcid, f.vc_frame_count, None, f.first_header_pointer, f.data, f.is_idle, f.ocf)

    def parse_batch(self, frames: np.ndarray, raw: bytes) -> tuple[list[_Parsed | None], int]:
        """What :meth:`parse` gives for each row of ``frames`` (``raw`` its octets), None where it would raise;
        and the packet zone's offset in a frame (after the M_PDU header, §4.1.4.2)."""
        cols = aos_columns(frames, self.config)
        frame_len, data_off = frames.shape[1], self.config.data_offset
        off, n = data_off + AOS_MPDU_HEADER_LEN, self.zone_len
        out: list[_Parsed | None] = []
        for i, (ok, scid, vcid, vc, fhp, ocf) in enumerate(zip(*(col.tolist() for col in (
                cols.valid, cols.scid, cols.vcid, cols.vc_frame_count, cols.first_header_pointer)),
                _ocf_column(frames, self.config))):
            if not ok:
                out.append(None)
            elif vcid == AOS_IDLE_VCID:  # no M_PDU: the whole data field is idle data
                z = i * frame_len + data_off
                out.append(_Parsed(scid, vcid, vc, None, None, raw[z:z + self.config.data_field_len], True, ocf))
            else:
                z = i * frame_len + off
                out.append(_Parsed(scid, vcid, vc, None, fhp, raw[z:z + n], fhp == AOS_FHP_IDLE, ocf))
        return out, off


def _ocf_column(frames: np.ndarray, config: FrameConfig) -> Iterable[int | None]:
    """Each row's operational control field (after the data field, TM §4.1.5 / AOS §4.1.5), or None each."""
    if not config.has_ocf:
        return repeat(None, len(frames))
    at = config.data_offset + config.data_field_len
    return np.ascontiguousarray(frames[:, at:at + OCF_LEN]).view(">u4").reshape(-1).tolist()


def _format(config: FrameConfig, *, sec_header: bytes | None = None) -> _TmFormat | _AosFormat:
    if isinstance(config, TmFrameConfig):
        return _TmFormat(config, sec_header=sec_header)
    if isinstance(config, AosFrameConfig):
        if sec_header is not None:
            raise LocalProtocolError(MUX_LAYER, "sec_header", sec_header, "None for AOS frames")
        return _AosFormat(config)
    raise LocalProtocolError(MUX_LAYER, "config", type(config).__name__, "TmFrameConfig or AosFrameConfig")


# --- multiplexer ---------------------------------------------------------------------------
@dataclass
class _TxVc:
    vcid: int
    priority: int
    packets: deque[bytes] = field(default_factory=deque)
    head_sent: int = 0  # octets of packets[0] already placed in earlier frames
    idle_tail: bytes = b""  # rest of an idle packet that must open this VC's next frame
    queued_octets: int = 0
    frame_count: int = 0
    last_served: int = -1
    wait_from: int = 0  # index of the first frame this VC's waiting data could have gone in


class VcMultiplexer:
    """Sans-IO builder of fixed-length TM or AOS frames from per-VC packet queues.

    ``priorities`` maps each packet VCID to its priority (lower = sent first).
    ``ocf_raw`` is the 32-bit word (the CLCW) placed in every frame when the
    frame config has an OCF; change it with :meth:`set_ocf` or per frame.
    """

    def __init__(self, config: FrameConfig, priorities: Mapping[int, int], *, idle_vcid: int | None = None,
                 idle_fill: int = 0x55, ocf_raw: int = 0, sec_header: bytes | None = None,
                 max_queue_octets: int = DEFAULT_MAX_QUEUE_OCTETS,
                 max_wait_frames: int | None = DEFAULT_MAX_WAIT_FRAMES) -> None:
        self._fmt = _format(config, sec_header=sec_header)
        self.config = config
        self.idle_vcid = self._fmt.default_idle_vcid if idle_vcid is None else idle_vcid
        self._check_vcid(self.idle_vcid)
        if not priorities:
            raise LocalProtocolError(MUX_LAYER, "priorities", dict(priorities), "at least one packet VC")
        self._vcs: dict[int, _TxVc] = {}
        for vcid, prio in priorities.items():
            self._check_vcid(vcid)
            if isinstance(self._fmt, _AosFormat) and vcid == AOS_IDLE_VCID:
                raise LocalProtocolError(MUX_LAYER, "vcid", vcid, "0..62 (VC 63 is the AOS idle VC)")
            self._vcs[vcid] = _TxVc(vcid, int(prio))
        self._idle_count = 0  # frame count of the idle VC when it carries no packets
        if not 0 <= idle_fill <= 0xFF:
            raise LocalProtocolError(MUX_LAYER, "idle_fill", idle_fill, "0..255")
        self._fill = bytes([idle_fill]) * self.config.frame_len
        self.set_ocf(ocf_raw)
        self.max_queue_octets = max_queue_octets
        if max_wait_frames is not None and (isinstance(max_wait_frames, bool) or not isinstance(max_wait_frames, int)
                                            or max_wait_frames < 1):
            raise LocalProtocolError(MUX_LAYER, "max_wait_frames", max_wait_frames,
                                     "None (strict priority) or an integer >= 1")
        self.max_wait_frames = max_wait_frames
        self.aged_frames = 0  # frames given to a VC out of priority order because it had waited too long
        self._aged_last = False
        self.mc_frame_count = 0
        self.frames = 0
        self.idle_frames = 0
        self._turn = 0

    def _check_vcid(self, vcid: int) -> None:
        if isinstance(vcid, bool) or not isinstance(vcid, int) or not 0 <= vcid <= self._fmt.max_vcid:
            raise LocalProtocolError(MUX_LAYER, "vcid", vcid, f"0..{self._fmt.max_vcid}")

    def set_ocf(self, ocf_raw: int) -> None:
        """Set the 32-bit operational control field word (the CLCW) carried by the following frames."""
        if isinstance(ocf_raw, bool) or not isinstance(ocf_raw, int) or not 0 <= ocf_raw <= 0xFFFFFFFF:
            raise LocalProtocolError(MUX_LAYER, "ocf_raw", ocf_raw, "0..0xFFFFFFFF")
        self.ocf_raw = ocf_raw

    def submit(self, vcid: int, packet: bytes | bytearray | memoryview | SpacePacket) -> None:
        """Queue one whole space packet on ``vcid``."""
        vc = self._vcs.get(vcid)
        if vc is None:
            raise LocalProtocolError(MUX_LAYER, "vcid", vcid, f"one of the configured VCs {sorted(self._vcs)}")
        data = packet.encode() if isinstance(packet, SpacePacket) else bytes(packet)
        try:
            header = decode_header(data)
        except RemoteProtocolError as e:
            raise LocalProtocolError(MUX_LAYER, "packet", data, "a whole space packet", detail=str(e)) from e
        if header.packet_len != len(data):
            raise LocalProtocolError(MUX_LAYER, "packet length", len(data),
                                     f"{header.packet_len} octets as its header says")
        if vc.queued_octets + len(data) > self.max_queue_octets:
            raise LocalProtocolError(MUX_LAYER, f"VC {vcid} queue", vc.queued_octets + len(data),
                                     f"at most {self.max_queue_octets} octets queued (send frames first)")
        if not vc.packets:
            vc.wait_from = self.frames
        vc.packets.append(data)
        vc.queued_octets += len(data)

    def set_priority(self, vcid: int, priority: int) -> None:
        """Change one VC's priority (lower = sent first) from the next frame on."""
        vc = self._vcs.get(vcid)
        if vc is None:
            raise LocalProtocolError(MUX_LAYER, "vcid", vcid, f"one of the configured VCs {sorted(self._vcs)}")
        vc.priority = int(priority)

    def pending_octets(self, vcid: int | None = None) -> int:
        """Octets of packets not yet placed in frames, on ``vcid`` or on all VCs."""
        vcs = self._vcs.values() if vcid is None else [self._vcs[vcid]]
        return sum(vc.queued_octets - vc.head_sent for vc in vcs)

    def vc_frame_count(self, vcid: int) -> int:
        """The VC frame count the next frame of ``vcid`` will carry."""
        if vcid in self._vcs:
            return self._vcs[vcid].frame_count
        if vcid == self.idle_vcid:
            return self._idle_count
        raise LocalProtocolError(MUX_LAYER, "vcid", vcid, f"a configured VC or the idle VC {self.idle_vcid}")

    def next_frame(self, *, ocf_raw: int | None = None) -> bytes:
        """Build the next frame: from the most urgent VC with packets waiting, else an idle frame."""
        if ocf_raw is not None:
            self.set_ocf(ocf_raw)
        ocf = self.ocf_raw if self.config.has_ocf else None
        waiting = [vc for vc in self._vcs.values() if vc.packets]
        mc_count = self.mc_frame_count
        if waiting:
            vc = min(waiting, key=lambda v: (v.priority, v.last_served))
            limit = self.max_wait_frames
            aged = False
            if limit is not None and not self._aged_last:
                starved = [v for v in waiting if self.frames - v.wait_from >= limit and v is not vc]
                if starved:
                    vc = min(starved, key=lambda v: (v.wait_from, v.priority))
                    aged = True
                    self.aged_frames += 1
            self._aged_last = aged
            fhp, zone = self._fill_zone(vc)
            frame = self._fmt.build(vcid=vc.vcid, mc_count=mc_count, vc_count=vc.frame_count, fhp=fhp,
                                    zone=zone, ocf=ocf)
            vc.frame_count = (vc.frame_count + 1) % self._fmt.vc_modulo
            vc.last_served = self._turn
            vc.wait_from = self.frames + 1
            self._turn += 1
        else:
            frame = self._fmt.build_idle(vcid=self.idle_vcid, mc_count=mc_count,
                                         vc_count=self.vc_frame_count(self.idle_vcid), fill=self._fill, ocf=ocf)
            if self.idle_vcid in self._vcs:
                vc = self._vcs[self.idle_vcid]
                vc.frame_count = (vc.frame_count + 1) % self._fmt.vc_modulo
            else:
                self._idle_count = (self._idle_count + 1) % self._fmt.vc_modulo
            self.idle_frames += 1
        if self._fmt.mc_modulo:
            self.mc_frame_count = (mc_count + 1) % self._fmt.mc_modulo
        self.frames += 1
        return frame

    def _fill_zone(self, vc: _TxVc) -> tuple[int, bytes]:
        """Packet zone for ``vc`` and its first header pointer; consumes the VC's queue."""
        size = self._fmt.zone_len
        zone = bytearray()
        fhp: int | None = None
        if vc.idle_tail:
            zone += vc.idle_tail[:size]
            vc.idle_tail = vc.idle_tail[size:]
        elif vc.head_sent:
            head = vc.packets[0]
            take = min(len(head) - vc.head_sent, size)
            zone += head[vc.head_sent:vc.head_sent + take]
            self._advance(vc, take)
        while len(zone) < size:
            space = size - len(zone)
            if fhp is None:
                fhp = len(zone)
            if vc.packets:
                head = vc.packets[0]
                take = min(len(head), space)
                zone += head[:take]
                self._advance(vc, take)
            else:
                # Queue ran dry: an idle packet fills the rest; with under 7 octets left it spans
                # into this VC's next frame (see the module docstring).
                idle = SpacePacket.idle(min(max(space, MIN_PACKET_LEN), MAX_PACKET_LEN)).encode()
                zone += idle[:space]
                vc.idle_tail = idle[space:]
        return (FHP_NO_PACKET_START if fhp is None else fhp), bytes(zone)

    @staticmethod
    def _advance(vc: _TxVc, octets: int) -> None:
        vc.head_sent += octets
        if vc.head_sent == len(vc.packets[0]):
            vc.queued_octets -= vc.head_sent
            vc.packets.popleft()
            vc.head_sent = 0


# --- demultiplexer -------------------------------------------------------------------------
@dataclass
class _RxVc:
    last_count: int | None = None
    synced: bool = False
    buf: bytearray = field(default_factory=bytearray)
    need: int = PRIMARY_HEADER_LEN
    have_header: bool = False

    def clear(self) -> None:
        self.buf = bytearray()
        self.need = PRIMARY_HEADER_LEN
        self.have_header = False


@dataclass(frozen=True, slots=True)
class _Whole:
    """The packets lying whole in one frame's zone from its first header pointer on, and where they end."""

    packets: list[VcPacket]  # idle packets left out
    idle_packets: int
    stop: int  # zone offset of the first octet not in one of them
    cut_len: int  # length of the packet starting at stop and running into the next frame (0: none, or unknown)


def _whole_packets(flat: np.ndarray, bases: np.ndarray, starts: np.ndarray, zone_len: int, max_packet_len: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Walk the packet length fields (CCSDS 133.0-B-2 §4.1.3.5.3) of K zones at once.

    Zone k is ``flat[bases[k]:bases[k] + zone_len]``; its packets are chained
    from ``starts[k]``. The walk of a zone stops at the first header that is
    cut by the zone's end, has a version other than 0, gives a packet longer
    than ``max_packet_len`` or one running past the zone's end -- there the
    per-octet path takes over, as it would have found the same packets.
    Returns, for each packet found (ordered by zone, then offset), its zone
    index k, its offset and its length in the zone; and, (K,) each, the
    offset where each zone's walk stopped and the length of the packet whose
    valid header is there when it is cut by the zone's end (else 0).
    """
    stop = starts.astype(np.int64)
    cut = np.zeros(len(starts), dtype=np.int64)
    zone = np.arange(len(starts), dtype=np.int64)
    pos = stop.copy()
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    while zone.size:
        keep = pos + PRIMARY_HEADER_LEN <= zone_len
        zone, pos = zone[keep], pos[keep]
        at = bases[zone] + pos
        length = np.full(zone.size, PRIMARY_HEADER_LEN + 1, dtype=np.int64)  # the field is data octets minus one
        for k in range(LENGTH_OFFSET, LENGTH_END):
            length += flat[at + k].astype(np.int64) << (8 * (LENGTH_END - 1 - k))
        valid = ((flat[at] >> VERSION_SHIFT) == 0) & (length <= max_packet_len)
        keep = valid & (pos + length <= zone_len)
        cut[zone[valid & ~keep]] = length[valid & ~keep]
        zone, pos, length = zone[keep], pos[keep], length[keep]
        found.append((zone, pos, length))
        pos = pos + length
        stop[zone] = pos
    zones, offsets, lengths = (np.concatenate(parts) for parts in zip(*found)) if found else (stop[:0],) * 3
    order = np.lexsort((offsets, zones))
    return zones[order], offsets[order], lengths[order], stop, cut


class VcDemultiplexer:
    """Sans-IO extraction of space packets from TM or AOS frames, per virtual channel.

    Feed whole frames with :meth:`feed_frame`, read events with
    :meth:`next_event` (until :data:`NEED_DATA`) or :meth:`events`. Counters
    are in ``total`` and ``per_vc[vcid]`` (:class:`VcCounters`).
    Frames of another spacecraft are reported and ignored. A packet longer
    than ``max_packet_len`` is treated as a corrupt header (bounded buffer).
    """

    def __init__(self, config: FrameConfig, *, max_packet_len: int = MAX_PACKET_LEN) -> None:
        self._fmt = _format(config)
        self.config = config
        if not MIN_PACKET_LEN <= max_packet_len <= MAX_PACKET_LEN:
            raise LocalProtocolError(LAYER, "max_packet_len", max_packet_len, f"7..{MAX_PACKET_LEN}")
        self.max_packet_len = max_packet_len
        self.total = VcCounters()
        self.per_vc: dict[int, VcCounters] = {}
        self._rx: dict[int, _RxVc] = {}
        self._events: deque[Event] = deque()
        self._last_mc: int | None = None
        self._first_vc_count: dict[int, int] = {}
        self._clcws: dict[int, Clcw | None] = {}  # OCF word -> its CLCW (they change rarely: decode each once)

    # -- public API --
    def feed_frame(self, frame: bytes | bytearray | memoryview) -> None:
        """Process one whole frame; its events are queued for :meth:`next_event`."""
        try:
            parsed = self._fmt.parse(frame)
        except ProtocolError as e:
            self.total.errors += 1
            self._events.append(DecodeError(None, e))
            return
        self._accept(parsed, None)

    def feed_frames(self, frames: np.ndarray) -> None:
        """Process the rows of ``frames``, a (N, frame_len) uint8 array of whole frames.

        The events and counters are those of :meth:`feed_frame` on each row in
        turn. The headers are checked for all rows at once, and the packets
        lying whole in a frame after its first header pointer are cut out by
        :func:`_whole_packets`; a row the batch check refuses goes to
        :meth:`feed_frame`, and whatever does not continue cleanly (the
        continuation before the pointer, a packet running into the next
        frame, a bad header) to the per-octet code.
        """
        frames = np.ascontiguousarray(frames, dtype=np.uint8)
        raw = frames.tobytes()
        parsed, zone_offset = self._fmt.parse_batch(frames, raw)
        n = self._fmt.zone_len
        walk = [i for i, p in enumerate(parsed) if p is not None and p.scid == self.config.scid and not p.idle
                and p.fhp is not None and p.fhp < n]
        if not walk:
            wholes: dict[int, _Whole] = {}
        else:
            rows = np.asarray(walk, dtype=np.int64)
            starts = np.asarray([parsed[i].fhp for i in walk], dtype=np.int64)  # type: ignore[union-attr]
            wholes = self._cut_whole(frames.reshape(-1), rows * frames.shape[1] + zone_offset, rows, starts, raw,
                                     [parsed[i].vcid for i in walk])  # type: ignore[union-attr]
        frame_len = frames.shape[1]
        for i, p in enumerate(parsed):
            if p is None:
                self.feed_frame(raw[i * frame_len:(i + 1) * frame_len])
            else:
                self._accept(p, wholes.get(i))

    def take_events(self) -> list[Event]:
        """Remove and return every queued event at once (what :meth:`events` yields one by one)."""
        out = list(self._events)
        self._events.clear()
        return out

    # -- frames --
    def _accept(self, parsed: _Parsed, whole: _Whole | None) -> None:
        """Count a decoded frame and extract its packets; ``whole``: its whole packets, already cut out."""
        if parsed.scid != self.config.scid:
            self.total.errors += 1
            self._events.append(DecodeError(parsed.vcid, RemoteProtocolError(
                LAYER, "spacecraft id", parsed.scid, f"{self.config.scid} (this master channel)", offset=0)))
            return
        self._master_channel(parsed.mc_count)
        vcid = parsed.vcid
        cnt = self.per_vc.get(vcid)
        if cnt is None:
            cnt = self.per_vc[vcid] = VcCounters()
            self._rx[vcid] = _RxVc()
        st = self._rx[vcid]
        cnt.frames += 1
        self.total.frames += 1
        self._vc_count(vcid, st, cnt, parsed.vc_count)
        if parsed.ocf is not None:
            self._ocf(vcid, cnt, parsed.vc_count, parsed.ocf)
        if parsed.idle:
            cnt.idle_frames += 1
            self.total.idle_frames += 1
            return
        if parsed.fhp is None:
            self._error(vcid, cnt, RemoteProtocolError(
                LAYER, "data field", "not packets", "packets (TM sync flag 0 / AOS M_PDU)", offset=0,
                detail="VCA_SDU / B_PDU data fields are not extracted"))
            return
        self._packets(vcid, st, cnt, parsed.zone, parsed.fhp, whole)

    def _cut_whole(self, flat: np.ndarray, bases: np.ndarray, rows: np.ndarray, starts: np.ndarray, raw: bytes,
                   vcids: list[int]) -> dict[int, _Whole]:
        """The whole packets of the zones at ``flat[bases[k]:]`` (frame ``rows[k]``) from ``starts[k]`` on."""
        zone, pos, length, stop, cut = _whole_packets(flat, bases, starts, self._fmt.zone_len, self.max_packet_len)
        at = bases[zone] + pos
        apids, _ = apids_and_counts(flat[at[:, None] + np.arange(PRIMARY_HEADER_LEN)]) if at.size else (at, at)
        real = apids != IDLE_APID
        keep = np.flatnonzero(real)
        datas = [raw[a:b] for a, b in zip(at[keep].tolist(), (at[keep] + length[keep]).tolist())]
        packets = _vc_packets(np.asarray(vcids)[zone[keep]].tolist(), datas)
        first = np.searchsorted(zone[keep], np.arange(len(rows) + 1)).tolist()
        idle = np.bincount(zone[~real], minlength=len(rows)).tolist()
        return {r: _Whole(packets[first[k]:first[k + 1]], idle[k], s, c)
                for k, (r, s, c) in enumerate(zip(rows.tolist(), stop.tolist(), cut.tolist()))}

    @property
    def vc_modulo(self) -> int:
        """The modulo of the VC frame count: 256 (TM), 2**24 (AOS)."""
        return self._fmt.vc_modulo

    def frame_counts(self) -> dict[int, tuple[int, int]]:
        """VCID -> the first and the last VC frame count seen on it."""
        return {vcid: (first, self._rx[vcid].last_count) for vcid, first in self._first_vc_count.items()}

    def next_event(self) -> Event | _NeedData:
        """The next event, or NEED_DATA when all fed frames are processed."""
        return self._events.popleft() if self._events else NEED_DATA

    def events(self) -> Iterator[Event]:
        """Yield and remove every queued event."""
        while self._events:
            yield self._events.popleft()

    def _ocf(self, vcid: int, cnt: VcCounters, vc_count: int, word: int) -> None:
        clcws = self._clcws
        if word in clcws:
            clcw = clcws[word]
        else:
            if len(clcws) >= _CLCW_CACHE:
                clcws.clear()
            try:
                clcw = Clcw.from_int(word)
            except ProtocolError:
                clcw = None
            clcws[word] = clcw
        if clcw is None:
            cnt.ocf_invalid += 1
            self.total.ocf_invalid += 1
        self._events.append(OcfReceived(vcid, vc_count, word, clcw))

    # -- counters / gaps --
    def _master_channel(self, mc_count: int | None) -> None:
        if mc_count is None:
            return
        modulo = self._fmt.mc_modulo or 1
        if self._last_mc is not None:
            expected = (self._last_mc + 1) % modulo
            if mc_count != expected:
                self._events.append(MasterChannelGap(expected, mc_count, (mc_count - expected) % modulo))
        self._last_mc = mc_count

    def _vc_count(self, vcid: int, st: _RxVc, cnt: VcCounters, count: int) -> None:
        modulo = self._fmt.vc_modulo
        if st.last_count is not None:
            expected = (st.last_count + 1) % modulo
            if count != expected:
                missing = (count - expected) % modulo
                cnt.gaps += 1
                self.total.gaps += 1
                cnt.frames_missing += missing
                self.total.frames_missing += missing
                self._events.append(FrameGap(vcid, expected, count, missing))
                if st.buf:
                    self._drop(vcid, cnt, len(st.buf), "partial packet broken by a frame gap")
                st.clear()
                st.synced = False
        else:
            self._first_vc_count[vcid] = count
        st.last_count = count

    def _drop(self, vcid: int, cnt: VcCounters, octets: int, reason: str) -> None:
        if octets <= 0:
            return
        cnt.bytes_dropped += octets
        self.total.bytes_dropped += octets
        self._events.append(DataDropped(vcid, octets, reason))

    def _error(self, vcid: int, cnt: VcCounters, error: ProtocolError) -> None:
        cnt.errors += 1
        self.total.errors += 1
        self._events.append(DecodeError(vcid, error))

    def _pointer_error(self, vcid: int, cnt: VcCounters, fhp: int, allowed: str, detail: str) -> None:
        self._error(vcid, cnt, RemoteProtocolError(LAYER, "first header pointer", fhp, allowed,
                                                   offset=self._fmt.fhp_offset, detail=detail))

    # -- packet extraction --
    def _packets(self, vcid: int, st: _RxVc, cnt: VcCounters, zone: bytes, fhp: int, whole: _Whole | None) -> None:
        n = len(zone)
        if fhp != FHP_NO_PACKET_START and fhp >= n:
            self._pointer_error(vcid, cnt, fhp, f"0..{n - 1} or 0x7FF (no packet start) or 0x7FE (idle)",
                                "points beyond the packet zone")
            self._drop(vcid, cnt, len(st.buf) + n, "first header pointer beyond the packet zone")
            st.clear()
            st.synced = False
            return
        cont_end = n if fhp == FHP_NO_PACKET_START else fhp
        if cont_end:
            if not st.synced:
                self._drop(vcid, cnt, cont_end, "continuation of a packet whose start was not received")
            elif not st.buf:
                self._pointer_error(vcid, cnt, fhp, "0",
                                    "the previous frame ended on a packet boundary, so a packet must start at 0")
                self._drop(vcid, cnt, cont_end, "data before the first header pointer belongs to no packet")
            elif st.have_header and fhp != FHP_NO_PACKET_START and st.need - len(st.buf) == cont_end:
                # the common case, what _extend does in it: the packet in progress ends at the pointer
                st.buf += zone[:cont_end]
                self._complete(vcid, st, cnt)
            else:
                pos = self._extend(vcid, st, cnt, zone, 0, cont_end)
                if not st.synced:
                    self._drop(vcid, cnt, cont_end - pos, "rest of the data after a corrupt packet header")
                elif pos < cont_end:
                    self._pointer_error(vcid, cnt, fhp, f"{pos} (where the packet in progress ended)",
                                        "a packet ended before the first header pointer")
                    self._drop(vcid, cnt, cont_end - pos, "data between a packet end and the first header pointer")
                    st.synced = False
                elif fhp != FHP_NO_PACKET_START and st.buf:
                    self._pointer_error(vcid, cnt, fhp, f"{fhp + st.need - len(st.buf)} or 0x7FF",
                                        f"the packet in progress still needs {st.need - len(st.buf)} octets")
                    self._drop(vcid, cnt, len(st.buf), "packet cut short by the first header pointer")
                    st.clear()
        if fhp == FHP_NO_PACKET_START:
            return
        st.clear()
        st.synced = True
        pos = fhp
        if whole is not None:  # the packets lying whole in the zone from fhp on: what the loop below would find
            self._events.extend(whole.packets)
            cnt.packets += len(whole.packets)
            self.total.packets += len(whole.packets)
            cnt.idle_packets += whole.idle_packets
            self.total.idle_packets += whole.idle_packets
            pos = whole.stop
            if whole.cut_len:  # what _extend makes of a valid header whose packet the zone's end cuts
                st.buf += zone[pos:]
                st.have_header = True
                st.need = whole.cut_len
                return
        while pos < n:
            pos = self._extend(vcid, st, cnt, zone, pos, n)
            if not st.synced:
                self._drop(vcid, cnt, n - pos, "rest of the data after a corrupt packet header")
                return

    def _extend(self, vcid: int, st: _RxVc, cnt: VcCounters, zone: bytes, pos: int, end: int) -> int:
        """Add ``zone[pos:end]`` to the packet in progress until it completes; return the new position."""
        while pos < end:
            take = min(st.need - len(st.buf), end - pos)
            st.buf += zone[pos:pos + take]
            pos += take
            if len(st.buf) < st.need:
                return pos
            if not st.have_header:
                b = st.buf
                length = packet_len_at(b)
                version = b[0] >> VERSION_SHIFT
                if version or length > self.max_packet_len:
                    field_name, value, allowed = (
                        ("packet version number", version, "0") if version else
                        ("packet length", length, f"at most {self.max_packet_len} octets"))
                    self._error(vcid, cnt, RemoteProtocolError(
                        "space packet", field_name, value, allowed, offset=max(0, pos - PRIMARY_HEADER_LEN),
                        detail=f"header ending at octet {pos} of the packet zone of VC {vcid}"))
                    self._drop(vcid, cnt, len(st.buf), "corrupt packet header")
                    st.clear()
                    st.synced = False
                    return pos
                st.have_header = True
                st.need = length
                continue
            self._complete(vcid, st, cnt)
            return pos
        return pos

    def _complete(self, vcid: int, st: _RxVc, cnt: VcCounters) -> None:
        """Deliver (or count, when idle) the packet completed in ``st.buf``, whose header was checked."""
        data = bytes(st.buf)
        st.clear()
        if apid_and_count(data)[0] == IDLE_APID:
            cnt.idle_packets += 1
            self.total.idle_packets += 1
        else:
            cnt.packets += 1
            self.total.packets += 1
            self._events.append(VcPacket(vcid, data))


def demultiplex(config: FrameConfig, frames: Iterable[bytes | bytearray | memoryview], **options: int
                ) -> tuple[list[Event], VcDemultiplexer]:
    """Demultiplex whole frames; return every event and the demultiplexer (for its counters)."""
    demux = VcDemultiplexer(config, **options)
    out: list[Event] = []
    for frame in frames:
        demux.feed_frame(frame)
        out.extend(demux.events())
    return out, demux
