"""The layers chained both ways, with every option in one typed config.

Downlink (CCSDS 131.0-B-5 coding over 132.0-B-3 TM or 732.0-B AOS frames):

    packets -> VC multiplexer -> frames -> RS(255,223) -> randomiser -> ASM -> CADUs     (DownlinkEncoder)
    CADUs -> frame sync -> derandomise -> RS decode -> frames -> VC demux -> packets     (DownlinkDecoder)

Uplink (CCSDS 232.0-B-4 frames in 231.0-B-4 CLTUs):

    packet -> (segments) -> TC frames -> CLTUs                                           (UplinkEncoder)
    CLTU stream -> CLTU decode -> TC frames -> (reassembly) -> packets                   (UplinkDecoder)

Sans-IO like every layer below: the decoders take bytes with ``feed()`` and
hand out events; the encoders hand out bytes. Nothing here raises for bad
received data: it becomes an event and a counter in :class:`DownlinkCounters`
/ :class:`UplinkCounters`.

Presets: :meth:`DownlinkConfig.snpp` is the Suomi-NPP direct-broadcast
link (AOS 892-octet frames, RS I=4 dual basis, randomised) and
:meth:`DownlinkConfig.cubesat` a typical small-satellite TM link (TM frames
with the CLCW in the OCF, RS I=1... I=4, randomised). COP-1 (FOP-1/FARM-1)
sits between the TC frame and packet layers and is not part of this module.
"""

from __future__ import annotations

import binascii
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice, repeat

import numpy as np

from . import cltu as cltu_layer
from .aosframe import AosFrameConfig
from .cltu import Cltu, CltuAborted, CltuConfig, CltuDecoder
from .crc import INIT as CRC_INIT
from .crc import crc16
from .errors import ChecksumError, LocalProtocolError, ProtocolError, RemoteProtocolError
from .randomiser import randomise_batch
from .reedsolomon import UNCORRECTABLE, Basis, ReedSolomon, RSConfig
from .spacepacket import PRIMARY_HEADER_LEN, SEQ_COUNT_MODULO, apid_and_count, apids_and_counts, sequence_gaps
from .sync import ASM, BitPacker, FrameFound, FrameRun, FrameSynchronizer, symbols_to_bits
from .sync import NEED_DATA as SYNC_NEED_DATA
from .sync import Skipped as SyncSkipped
from .tcframe import (
    ControlCommand,
    FrameType,
    SegmentDropped,
    SegmentHeader,
    SegmentReassembler,
    TcFrame,
    max_data_len,
    segment,
)
from .tmframe import TmFrameConfig
from .vchannel import (
    DataDropped,
    DecodeError,
    FrameGap,
    MasterChannelGap,
    OcfReceived,
    VcDemultiplexer,
    VcMultiplexer,
    VcPacket,
)

__all__ = [
    "Continuity",
    "DownlinkConfig",
    "DownlinkEncoder",
    "DownlinkDecoder",
    "DownlinkCounters",
    "DownlinkResult",
    "CodeblockUncorrectable",
    "PacketGap",
    "PacketCrcError",
    "OcfReceived",
    "decode_cadus",
    "UplinkConfig",
    "UplinkEncoder",
    "UplinkDecoder",
    "UplinkCounters",
    "TcFrameReceived",
    "TcFrameRejected",
    "TcPacketReceived",
    "decode_cltus",
]

LAYER = "link stack"
_FRAMES_PER_BATCH = 1024  # feed_frames: frames demultiplexed as one batch (bounds the arrays)
#: Fewer CADUs or frames than this in one feed go the per-unit way: the batch path's numpy set-up costs more
#: than it saves on a handful (the station feeds one CADU at a time as they arrive)
BATCH_MIN_UNITS = 8


# =============================================================================== downlink

@dataclass(frozen=True, slots=True, kw_only=True)
class DownlinkConfig:
    """Everything both ends must agree on for the downlink, layer by layer.

    ``frame`` is a TM or AOS frame config (its type selects the frame
    layer); ``rs`` None means uncoded (the frame then normally has a FECF);
    with RS the frame length must equal ``rs.data_len``. ``randomise``
    applies the 131.0 pseudo-randomiser after the ASM. ``asm_max_bit_errors``
    is the ASM tolerance of the frame synchroniser while it searches, ``asm_locked_max_bit_errors`` where
    it expects the next ASM once locked (a coded link's decoder leaves error bursts that hit the ASM as
    often as the data; the flywheel takes them, RS then judges the frame); ``search_bit_shifts`` and
    ``detect_inverted`` let it find frames on a non-octet-aligned bit stream
    or with inverted polarity. ``packet_pec`` says every packet ends in a
    CRC-16 (PUS packet error control) to be checked.
    """

    frame: TmFrameConfig | AosFrameConfig
    rs: RSConfig | None = field(default_factory=RSConfig)
    randomise: bool = True
    asm_max_bit_errors: int = 2
    asm_locked_max_bit_errors: int | None = None  # at the position the flywheel expects (None: the same)
    search_bit_shifts: bool = True
    detect_inverted: bool = True
    packet_pec: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.frame, (TmFrameConfig, AosFrameConfig)):
            raise LocalProtocolError(LAYER, "frame", self.frame, "a TmFrameConfig or AosFrameConfig")
        if self.rs is not None and self.frame.frame_len != self.rs.data_len:
            raise LocalProtocolError(LAYER, "frame.frame_len", self.frame.frame_len,
                                     f"{self.rs.data_len} (the data space of RS I={self.rs.interleave}, "
                                     f"virtual fill {self.rs.virtual_fill})")

    @property
    def kind(self) -> str:
        """'TM' or 'AOS'."""
        return "AOS" if isinstance(self.frame, AosFrameConfig) else "TM"

    @property
    def codeblock_len(self) -> int:
        """Octets after each ASM."""
        return self.rs.codeblock_len if self.rs is not None else self.frame.frame_len

    @property
    def cadu_len(self) -> int:
        """Octets per CADU, ASM included."""
        return len(ASM) + self.codeblock_len

    @classmethod
    def snpp(cls) -> DownlinkConfig:
        """Suomi-NPP direct broadcast: AOS, SCID 157, 892-octet frames, RS I=4 dual basis, randomised."""
        return cls(frame=AosFrameConfig(frame_len=892, scid=157), rs=RSConfig(interleave=4, basis=Basis.DUAL))

    @classmethod
    def cubesat(cls, *, scid: int, interleave: int = 1) -> DownlinkConfig:
        """A small-satellite TM link: TM frames with the CLCW in the OCF, RS(255,223) dual basis, randomised."""
        rs = RSConfig(interleave=interleave, basis=Basis.DUAL)
        return cls(frame=TmFrameConfig(frame_len=rs.data_len, scid=scid, has_ocf=True), rs=rs)


@dataclass(frozen=True, slots=True)
class CodeblockUncorrectable:
    """The codeblock after the ASM at stream octet ``offset`` had uncorrectable codewords; its frame was dropped."""

    offset: int
    codewords: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PacketGap:
    """The sequence count of ``apid`` jumped: ``missing`` packets between ``expected`` and ``received``.

    Continuity is checked per APID, as CCSDS 133.0-B-2 §4.1.3.4.2 counts; a
    mission keeps each APID on one virtual channel (the mission dictionary
    checks that), so its packets arrive in order. ``vcid`` is the VC of the
    packet that showed the gap.
    """

    vcid: int
    apid: int
    expected: int
    received: int
    missing: int


@dataclass(frozen=True, slots=True)
class PacketCrcError:
    """A packet of ``apid`` failed its packet error control; it is not delivered as a packet."""

    vcid: int
    apid: int
    sequence_count: int
    data: bytes


DownlinkEvent = (VcPacket | FrameGap | MasterChannelGap | DataDropped | DecodeError | CodeblockUncorrectable
                 | PacketGap | PacketCrcError | SyncSkipped | OcfReceived)


@dataclass(frozen=True)
class Continuity:
    """Where one input's counters start and end, to check the next input of a series against: packet sequence
    counts (CCSDS 133.0-B-2 §4.1.3.4.2.3), frame counts (TM 132.0-B-3 §4.1.2.5-6, AOS 732.0-B-4 §4.1.2.4).

    ``seq``: APID -> (first, last) packet sequence count; ``vc``: VCID -> (first, last) VC frame count, modulo
    ``vc_modulo``.
    """

    seq: dict[int, tuple[int, int]]
    vc: dict[int, tuple[int, int]] = field(default_factory=dict)
    vc_modulo: int = 1




@dataclass
class DownlinkCounters:
    """Per-layer counts of a downlink decoder (the station's and ``ttc decode``'s summary)."""

    cadus: int = 0
    asm_bit_errors: int = 0
    skipped_bits: int = 0
    rs_corrected: int = 0  # symbols corrected
    rs_uncorrectable: int = 0  # codeblocks dropped for an uncorrectable codeword
    frames: int = 0
    idle_frames: int = 0
    frame_gaps: int = 0
    frames_missing: int = 0
    frame_errors: int = 0
    ocf_invalid: int = 0  # frames whose OCF is not a valid CLCW
    packets: int = 0
    idle_packets: int = 0
    packet_gaps: int = 0
    packets_missing: int = 0
    crc_errors: int = 0
    bytes_dropped: int = 0
    packets_by_apid: dict[int, int] = field(default_factory=dict)
    frames_by_vc: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict; APIDs and VCIDs become decimal strings."""
        out: dict[str, object] = {k: v for k, v in vars(self).items() if not isinstance(v, dict)}
        out["packets_by_apid"] = {str(k): v for k, v in sorted(self.packets_by_apid.items())}
        out["frames_by_vc"] = {str(k): v for k, v in sorted(self.frames_by_vc.items())}
        return out


class DownlinkEncoder:
    """Spacecraft side: queue packets per VC, take CADUs ready to transmit."""

    def __init__(self, config: DownlinkConfig, priorities: Mapping[int, int], **mux_options: object) -> None:
        self.config = config
        self.mux = VcMultiplexer(config.frame, priorities, **mux_options)  # type: ignore[arg-type]
        self._rs = ReedSolomon(config.rs) if config.rs is not None else None

    def submit(self, vcid: int, packet: bytes) -> None:
        """Queue one whole space packet on ``vcid``."""
        self.mux.submit(vcid, packet)

    def next_cadu(self, *, ocf_raw: int | None = None) -> bytes:
        """The next CADU: a frame from the most urgent VC (or an idle frame), coded."""
        return self.code_frames([self.mux.next_frame(ocf_raw=ocf_raw)])

    def cadus(self, count: int, *, ocf_raw: int | None = None) -> bytes:
        """``count`` CADUs back to back (coded as one batch)."""
        return self.code_frames([self.mux.next_frame(ocf_raw=ocf_raw) for _ in range(count)])

    def code_frames(self, frames: Iterable[bytes]) -> bytes:
        """RS-encode, randomise and prefix with the ASM each of ``frames``; the CADUs back to back."""
        rows = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(-1, self.config.frame.frame_len)
        blocks = self._rs.encode_batch(rows) if self._rs is not None else rows
        if self.config.randomise:
            blocks = randomise_batch(blocks)
        out = np.empty((blocks.shape[0], self.config.cadu_len), dtype=np.uint8)
        out[:, :len(ASM)] = np.frombuffer(ASM, np.uint8)
        out[:, len(ASM):] = blocks
        return out.tobytes()


class DownlinkDecoder:
    """Ground side, sans-IO: ``feed()`` received octets, iterate ``events()``; counts in ``counters``."""

    def __init__(self, config: DownlinkConfig) -> None:
        self.config = config
        self.sync = FrameSynchronizer(
            frame_len=config.codeblock_len, max_bit_errors=config.asm_max_bit_errors,
            locked_max_bit_errors=config.asm_locked_max_bit_errors,
            detect_inverted=config.detect_inverted, search_bit_shifts=config.search_bit_shifts)
        self.demux = VcDemultiplexer(config.frame)
        self._rs = ReedSolomon(config.rs) if config.rs is not None else None
        self.counters = DownlinkCounters()
        self._events: deque[DownlinkEvent] = deque()
        self._last_seq: dict[int, int] = {}  # apid -> last sequence count
        self._first_seq: dict[int, int] = {}  # apid -> first sequence count
        self._packer: BitPacker | None = None
        # False: frame by frame, packet by packet, as the layers' own per-unit code goes (the reference the
        # tests compare the batch path with)
        self._batch = True

    def feed_symbols(self, symbols: np.ndarray) -> None:
        """Process soft symbols from a demodulator (float, > 0 is a 1; hard-decided here, any polarity)."""
        self.feed_bits(symbols_to_bits(symbols))

    def feed_bits(self, bits: np.ndarray) -> None:
        """Process received bits, one per element (a slicer's or a Viterbi decoder's output)."""
        if self._packer is None:
            self._packer = BitPacker()
        self.feed(self._packer.pack(bits))

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Process received octets (any chunking, any size); their events queue up for :meth:`events`."""
        view = memoryview(chunk)
        step = max(self.config.cadu_len, self.sync.max_buffer_octets // 4)  # stay inside the sync's bound
        batch = self._batch and len(view) >= BATCH_MIN_UNITS * self.config.cadu_len
        for start in range(0, len(view), step):
            self.sync.feed(view[start:start + step])
            self._drain_sync(batch)

    def close(self) -> None:
        """End of the stream: a partial CADU at the end is reported as skipped."""
        if self._packer is not None and self._packer.pending_bits:
            self.feed(self._packer.flush())  # fed as bits: the last ones, zero-filled to an octet
        self.sync.close()
        self._drain_sync(self._batch)

    def events(self) -> Iterator[DownlinkEvent]:
        """Yield and remove every queued event."""
        while self._events:
            yield self._events.popleft()

    def continuity(self) -> Continuity:
        """The first and last packet sequence counts (per APID) and VC frame counts (per VC) decoded so far."""
        return Continuity({a: (first, self._last_seq[a]) for a, first in self._first_seq.items()},
                          self.demux.frame_counts(), self.demux.vc_modulo)

    def feed_frames(self, frames: Iterable[bytes]) -> None:
        """Process already-synchronised, decoded transfer frames (a file of frames, say)."""
        frames = frames if isinstance(frames, (list, tuple)) else list(frames)
        if not self._batch or len(frames) < BATCH_MIN_UNITS:
            for frame in frames:
                self._frame(frame)
            return
        frame_len = self.config.frame.frame_len
        run: list[bytes] = []
        for frame in frames:
            if len(frame) != frame_len:  # the demultiplexer reports the wrong length
                self._frames(run)
                run = []
                self._frame(frame)
                continue
            run.append(bytes(frame))
            if len(run) == _FRAMES_PER_BATCH:
                self._frames(run)
                run = []
        self._frames(run)

    # -- internals --
    def _drain_sync(self, batch: bool) -> None:
        if not batch:
            self._drain_sync_events()
            return
        order: list[FrameRun | SyncSkipped] = []
        while True:
            run = self.sync.next_run()
            if run is None:
                ev = self.sync.next_event()
                if ev is SYNC_NEED_DATA:
                    break
                run = FrameRun.of(ev) if isinstance(ev, FrameFound) else ev  # type: ignore[arg-type]
            order.append(run)  # type: ignore[arg-type]
        runs = [item for item in order if isinstance(item, FrameRun)]
        if not runs:
            self._skipped(order)  # type: ignore[arg-type]
            return
        offsets = np.concatenate([r.offsets for r in runs]).tolist()
        data, bad = self._decode_blocks(np.concatenate([r.codeblocks for r in runs]))
        c = self.counters
        k = 0
        for item in order:
            if isinstance(item, SyncSkipped):
                self._skipped([item])
                continue
            c.cadus += len(item)
            c.asm_bit_errors += int(item.asm_bit_errors.sum())
            lo, end = k, k + len(item)
            for row in [r for r in bad if k <= r < end]:
                self._frames(data[lo:row])
                c.rs_uncorrectable += 1
                self._events.append(CodeblockUncorrectable(offsets[row], bad[row]))
                lo = row + 1
            self._frames(data[lo:end])
            k = end

    def _skipped(self, skipped: list[SyncSkipped]) -> None:
        """Count and queue stretches the synchroniser skipped."""
        for ev in skipped:
            self.counters.skipped_bits += ev.length_bits
            self._events.append(ev)

    def _drain_sync_events(self) -> None:
        found: list[FrameFound] = []
        order: list[FrameFound | SyncSkipped] = []
        for ev in self.sync.events():
            order.append(ev)
            if isinstance(ev, FrameFound):
                found.append(ev)
        if not order:
            return
        frames = self._decode_codeblocks(found)
        k = 0
        c = self.counters
        for ev in order:
            if isinstance(ev, SyncSkipped):
                self._skipped([ev])
                continue
            c.cadus += 1
            c.asm_bit_errors += ev.asm_bit_errors
            frame = frames[k]
            k += 1
            if isinstance(frame, CodeblockUncorrectable):
                c.rs_uncorrectable += 1
                self._events.append(frame)
            else:
                self._frame(frame)

    def _decode_codeblocks(self, found: list[FrameFound]) -> list[bytes | CodeblockUncorrectable]:
        if not found:
            return []
        blocks = np.frombuffer(b"".join(f.codeblock for f in found), dtype=np.uint8).reshape(len(found), -1)
        data, bad = self._decode_blocks(blocks)
        return [CodeblockUncorrectable(f.offset, bad[i]) if i in bad else data[i].tobytes()
                for i, f in enumerate(found)]

    def _decode_blocks(self, blocks: np.ndarray) -> tuple[np.ndarray, dict[int, tuple[int, ...]]]:
        """Derandomise and RS-decode (N, codeblock_len) codeblocks: the (N, frame_len) frames, and the rows with
        uncorrectable codewords (row -> those codewords)."""
        if self.config.randomise:
            blocks = randomise_batch(blocks)
        if self._rs is None:
            return blocks, {}
        result = self._rs.decode_batch(blocks)
        corrected = result.corrected_symbols
        self.counters.rs_corrected += int(corrected[corrected > 0].sum())
        rows, words = np.nonzero(corrected == UNCORRECTABLE)
        bad: dict[int, tuple[int, ...]] = {}
        for row, word in zip(rows.tolist(), words.tolist()):
            bad[row] = bad.get(row, ()) + (word,)
        return result.data, bad

    def _frames(self, frames: np.ndarray | list[bytes]) -> None:
        """Demultiplex whole frames (the rows of an array, or a list of frame octets) as one batch."""
        if len(frames) == 0:
            return
        if isinstance(frames, list):
            frames = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(len(frames), -1)
        self.demux.feed_frames(frames)
        self._deliver(self.demux.take_events())
        self._frame_counters()

    def _deliver(self, events: list[DownlinkEvent]) -> None:
        """Count and queue the demultiplexer's events, as :meth:`_packet` and :meth:`_count` would one by one;
        the packets' error control and sequence counts checked for all of them at once."""
        at = [i for i, ev in enumerate(events) if ev.__class__ is VcPacket]
        if len(at) < len(events):
            for ev in events:
                if ev.__class__ is not VcPacket:
                    self._count(ev)
        if not at:
            self._events.extend(events)
            return
        datas = [events[i].data for i in at]  # type: ignore[union-attr]
        lengths = np.fromiter(map(len, datas), dtype=np.int64, count=len(datas))
        starts = np.cumsum(lengths) - lengths
        apids, counts = apids_and_counts(np.frombuffer(b"".join(datas), dtype=np.uint8)[
            starts[:, None] + np.arange(PRIMARY_HEADER_LEN)])
        # binascii.crc_hqx is protocol.crc's CRC-16 (0x1021, no reflection, no final XOR), minus a Python call
        crc_bad = (np.flatnonzero(np.fromiter(map(binascii.crc_hqx, datas, repeat(CRC_INIT)), dtype=np.int64,
                                              count=len(datas)))
                   if self.config.packet_pec else np.zeros(0, dtype=np.int64))
        good = np.ones(len(at), dtype=bool)
        good[crc_bad] = False
        gaps = self._sequence(apids[good], counts[good])
        replace: dict[int, list[DownlinkEvent]] = {}
        c = self.counters
        for j in crc_bad.tolist():
            c.crc_errors += 1
            ev = events[at[j]]
            replace[at[j]] = [PacketCrcError(ev.vcid, int(apids[j]), int(counts[j]), ev.data)]  # type: ignore
        good_at = np.flatnonzero(good)
        for j, expected, missing in gaps:
            i = at[int(good_at[j])]
            ev = events[i]
            replace[i] = [PacketGap(ev.vcid, int(apids[good_at[j]]), expected, int(counts[good_at[j]]), missing),
                          ev]  # type: ignore[union-attr]
        if not replace:
            self._events.extend(events)
            return
        pos = 0
        for i in sorted(replace):
            self._events.extend(islice(events, pos, i))
            self._events.extend(replace[i])
            pos = i + 1
        self._events.extend(islice(events, pos, None))

    def _sequence(self, apids: np.ndarray, counts: np.ndarray) -> list[tuple[int, int, int]]:
        """Check and record the sequence counts of packets (in order), per APID, as :meth:`_packet` does one
        by one: the (index, expected count, missing) of each that shows a gap."""
        gaps = sequence_gaps(apids, counts, self._last_seq)
        c = self.counters
        self._first_seq.update(gaps.first)
        for apid, k in gaps.per_apid.items():
            c.packets_by_apid[apid] = c.packets_by_apid.get(apid, 0) + k
        c.packets += len(apids)
        c.packet_gaps += len(gaps.index)
        c.packets_missing += int(gaps.missing.sum())
        return list(zip(gaps.index.tolist(), gaps.expected.tolist(), gaps.missing.tolist()))

    def _count(self, ev: DownlinkEvent) -> None:
        """Count one event of the demultiplexer other than a packet."""
        c = self.counters
        if isinstance(ev, FrameGap):
            c.frame_gaps += 1
            c.frames_missing += ev.missing
        elif isinstance(ev, DecodeError):
            c.frame_errors += 1
            if isinstance(ev.error, ChecksumError):
                c.crc_errors += 1
        elif isinstance(ev, DataDropped):
            c.bytes_dropped += ev.octets

    def _frame(self, frame: bytes) -> None:
        demux = self.demux
        demux.feed_frame(frame)
        for ev in demux.events():
            if isinstance(ev, VcPacket):
                self._packet(ev)
                continue
            self._count(ev)
            self._events.append(ev)
        self._frame_counters()

    def _frame_counters(self) -> None:
        """The frame-layer counters, from the demultiplexer's."""
        c = self.counters
        total = self.demux.total
        c.frames, c.idle_frames, c.idle_packets = total.frames, total.idle_frames, total.idle_packets
        c.ocf_invalid = total.ocf_invalid
        c.frames_by_vc = {vcid: cnt.frames for vcid, cnt in self.demux.per_vc.items()}

    def _packet(self, ev: VcPacket) -> None:
        c = self.counters
        apid, count = apid_and_count(ev.data)  # the demultiplexer checked the header's version and length
        if self.config.packet_pec and crc16(ev.data) != 0:
            c.crc_errors += 1
            self._events.append(PacketCrcError(ev.vcid, apid, count, ev.data))
            return
        last = self._last_seq.get(apid)
        if last is not None:
            missing = (count - last - 1) % SEQ_COUNT_MODULO
            if missing:
                c.packet_gaps += 1
                c.packets_missing += missing
                self._events.append(PacketGap(ev.vcid, apid, (last + 1) % SEQ_COUNT_MODULO, count, missing))
        else:
            self._first_seq[apid] = count
        self._last_seq[apid] = count
        c.packets += 1
        c.packets_by_apid[apid] = c.packets_by_apid.get(apid, 0) + 1
        self._events.append(ev)


@dataclass(frozen=True)
class DownlinkResult:
    """Everything :func:`decode_cadus` found: packets in order, all events, the counters."""

    packets: list[VcPacket]
    events: list[DownlinkEvent]
    counters: DownlinkCounters


def decode_cadus(data: bytes | bytearray | memoryview, config: DownlinkConfig | None = None) -> DownlinkResult:
    """Decode a whole recording of CADUs (default: the S-NPP preset) to packets, events and counters."""
    decoder = DownlinkDecoder(config or DownlinkConfig.snpp())
    decoder.feed(data)
    decoder.close()
    events = list(decoder.events())
    return DownlinkResult([e for e in events if isinstance(e, VcPacket)], events, decoder.counters)


# =============================================================================== uplink

@dataclass(frozen=True, slots=True, kw_only=True)
class UplinkConfig:
    """Everything both ends must agree on for the uplink.

    Frames of spacecraft ``scid`` on VC ``vcid``; ``map_id`` None means no
    segment header (then a packet must fit in one frame), otherwise packets
    go to that MAP and are segmented when longer than ``max_frame_len``
    allows. ``fecf`` adds the frame CRC (what missions use). ``cltu`` holds
    the CLTU options; the TC randomiser is on by default here, as 231.0-B-4
    recommends it for missions without another bit-transition guarantee.
    """

    scid: int
    vcid: int = 0
    map_id: int | None = 0
    fecf: bool = True
    max_frame_len: int = 1024
    cltu: CltuConfig = field(default_factory=lambda: CltuConfig(randomise=True))

    def __post_init__(self) -> None:
        # Build a throwaway frame so the TC frame layer validates scid, vcid and map_id.
        TcFrame(scid=self.scid, vcid=self.vcid, data=b"\x00",
                segment=None if self.map_id is None else SegmentHeader(self.map_id))
        if not 8 <= self.max_frame_len <= 1024:
            raise LocalProtocolError(LAYER, "max_frame_len", self.max_frame_len, "8..1024 octets")

    @property
    def max_data_len(self) -> int:
        """Largest data field (packet or segment) per frame."""
        full = max_data_len(segment_header=self.map_id is not None, fecf=self.fecf)
        return full - (1024 - self.max_frame_len)


class UplinkEncoder:
    """Ground side: packets and control commands in, CLTUs out (one frame per CLTU).

    Frame sequence numbers are not this encoder's: an AD frame's N(S) is
    FOP-1's V(S) when it transmits the frame (:mod:`protocol.cop1`), and a BD
    or BC frame's is unused (zero here).
    """

    def __init__(self, config: UplinkConfig) -> None:
        self.config = config

    def frames(self, packet: bytes, *, frame_type: FrameType = FrameType.BD) -> list[TcFrame]:
        """The TC frames carrying ``packet`` (segmented when needed), each with N(S) zero."""
        cfg = self.config
        if cfg.map_id is None:
            if len(packet) > cfg.max_data_len:
                raise LocalProtocolError(LAYER, "packet length", len(packet),
                                         f"1..{cfg.max_data_len} octets without a segment header")
            pieces: list[tuple[SegmentHeader | None, bytes]] = [(None, bytes(packet))]
        else:
            pieces = list(segment(packet, map_id=cfg.map_id, max_segment_len=cfg.max_data_len))
        return [TcFrame(scid=cfg.scid, vcid=cfg.vcid, data=data, frame_type=frame_type, segment=seg)
                for seg, data in pieces]

    def cltu(self, frame: TcFrame) -> bytes:
        """One frame as a CLTU."""
        return cltu_layer.encode(frame.encode(fecf=self.config.fecf), config=self.config.cltu)

    def encode(self, packet: bytes) -> list[bytes]:
        """The CLTUs carrying ``packet`` in BD frames (the expedited service: no FOP-1 needed)."""
        return [self.cltu(f) for f in self.frames(packet)]

    def control(self, command: ControlCommand) -> bytes:
        """A BC frame (Unlock or Set V(R)) as a CLTU."""
        return self.cltu(TcFrame.control(self.config.scid, self.config.vcid, command))


@dataclass(frozen=True, slots=True)
class TcFrameReceived:
    """A TC frame of this spacecraft passed the CLTU, length and FECF checks."""

    frame: TcFrame
    corrected_bits: int


@dataclass(frozen=True, slots=True)
class TcFrameRejected:
    """A CLTU or the frame in it was rejected (counted; COP-1 will see it missing)."""

    offset: int
    error: ProtocolError


@dataclass(frozen=True, slots=True)
class TcPacketReceived:
    """A whole packet reassembled from AD/BD frames of ``vcid`` (and MAP ``map_id``)."""

    vcid: int
    map_id: int | None
    data: bytes


UplinkEvent = TcFrameReceived | TcFrameRejected | TcPacketReceived | SegmentDropped | cltu_layer.Skipped


@dataclass
class UplinkCounters:
    """Per-layer counts of an uplink decoder."""

    cltus: int = 0
    cltus_aborted: int = 0
    bch_corrected_bits: int = 0
    skipped_octets: int = 0
    frames: int = 0
    frames_rejected: int = 0
    crc_errors: int = 0
    wrong_spacecraft: int = 0
    wrong_vc: int = 0
    control_frames: int = 0
    packets: int = 0
    segments_dropped: int = 0


class UplinkDecoder:
    """Spacecraft side, sans-IO: ``feed()`` the received octet stream, iterate ``events()``.

    With ``deliver_packets`` (default) AD and BD frames are passed straight
    to packet reassembly. A spacecraft running FARM-1 sets it False, checks
    each :class:`TcFrameReceived` itself and hands accepted frames to
    :meth:`packets_of`.
    """

    def __init__(self, config: UplinkConfig, *, deliver_packets: bool = True) -> None:
        self.config = config
        self.deliver_packets = deliver_packets
        self.cltus = CltuDecoder(config.cltu)
        self.counters = UplinkCounters()
        self._reassemblers: dict[int, SegmentReassembler] = {}
        self._events: deque[UplinkEvent] = deque()

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Process received octets (any chunking)."""
        self.cltus.feed(chunk)
        self._drain()

    def close(self) -> None:
        """End of the stream."""
        self.cltus.close()
        self._drain()

    def events(self) -> Iterator[UplinkEvent]:
        """Yield and remove every queued event."""
        while self._events:
            yield self._events.popleft()

    def packets_of(self, frame: TcFrame) -> list[TcPacketReceived | SegmentDropped]:
        """Packets completed by an accepted AD/BD frame (none for BC frames)."""
        if frame.frame_type is FrameType.BC:
            return []
        if frame.segment is None:
            units: list[bytes | SegmentDropped] = [frame.data]
        else:
            units = self._reassemblers.setdefault(frame.vcid, SegmentReassembler()).push(frame)
        out: list[TcPacketReceived | SegmentDropped] = []
        for unit in units:
            if isinstance(unit, SegmentDropped):
                self.counters.segments_dropped += 1
                out.append(unit)
            else:
                self.counters.packets += 1
                out.append(TcPacketReceived(frame.vcid, frame.segment.map_id if frame.segment else None, unit))
        return out

    def _drain(self) -> None:
        c = self.counters
        for ev in self.cltus.events():
            if isinstance(ev, cltu_layer.Skipped):
                c.skipped_octets += ev.length
                self._events.append(ev)
            elif isinstance(ev, CltuAborted):
                c.cltus_aborted += 1
                c.frames_rejected += 1
                self._events.append(TcFrameRejected(ev.offset, ev.error()))
            elif isinstance(ev, Cltu):
                c.cltus += 1
                c.bch_corrected_bits += ev.corrected_bits
                self._cltu(ev)

    def _cltu(self, ev: Cltu) -> None:
        c = self.counters
        cfg = self.config
        try:
            raw = cltu_layer.trim_fill(ev.data, offset=ev.offset)
            frame = TcFrame.decode(raw, fecf=cfg.fecf, segment_header=cfg.map_id is not None, offset=ev.offset)
            if frame.scid != cfg.scid:
                c.wrong_spacecraft += 1
                raise RemoteProtocolError(LAYER, "spacecraft ID", frame.scid, f"{cfg.scid} (this spacecraft)",
                                          offset=ev.offset)
            if frame.vcid != cfg.vcid:
                c.wrong_vc += 1
                raise RemoteProtocolError(LAYER, "virtual channel ID", frame.vcid, f"{cfg.vcid} (this uplink)",
                                          offset=ev.offset)
        except ProtocolError as e:
            c.frames_rejected += 1
            if isinstance(e, ChecksumError):
                c.crc_errors += 1
            self._events.append(TcFrameRejected(ev.offset, e))
            return
        c.frames += 1
        if frame.frame_type is FrameType.BC:
            c.control_frames += 1
        self._events.append(TcFrameReceived(frame, ev.corrected_bits))
        if self.deliver_packets:
            self._events.extend(self.packets_of(frame))


def decode_cltus(data: bytes | bytearray | memoryview, config: UplinkConfig) -> tuple[list[bytes], UplinkCounters]:
    """Decode a whole uplink recording to its packets (in order) and the counters."""
    decoder = UplinkDecoder(config)
    decoder.feed(data)
    decoder.close()
    packets = [e.data for e in decoder.events() if isinstance(e, TcPacketReceived)]
    return packets, decoder.counters
