"""The downlink scheduler: stored packets -> virtual channels by priority -> CADUs.

The mission dictionary says which virtual channel every APID travels on and
each VC's priority (lower number = more urgent; the multiplexer always sends
the most urgent waiting data first). For the reference satellite: VC 0 real
time (housekeeping, service replies, request verification), VC 1 events, VC 2
playback (image parts).

Packets live in the :class:`spacecraft.storage.PacketStore` until the ground
acknowledges them; the frame carrying a packet's last octet going out
(:meth:`Downlink.cadu_sent`) only marks it transmitted. Only about one frame's
worth per VC is handed to the multiplexer at a time, so the store stays the
single owner of what is waiting, and a packet that becomes due on a more
urgent VC goes in the next frame (event-first: at most the frame on the air,
plus one frame the multiplexer ages a starved VC by, is ahead of it). The
replay VC (the dictionary's ``replay_vcid``) carries what the ground asked for
again. ``fifo=True`` ignores the priorities and sends the oldest packet first
whatever its VC: the baseline an event-first downlink is measured against
(tools/bench/payload_latency.py). Frames are those of
the dictionary's downlink settings (the reference: 892-octet TM frames,
RS(255,223) I=4 dual basis, randomised, ASM: 1024-octet CADUs) with the CLCW
in the OCF.
"""

from __future__ import annotations

from collections import deque

from protocol.dictionary import MissionDictionary
from protocol.stack import DownlinkEncoder

from .storage import PacketStore, StoredPacket

__all__ = ["Downlink"]


class Downlink:
    """Feeds the VC multiplexer from the store and acknowledges what left in transmitted frames."""

    def __init__(self, store: PacketStore, *, mission: MissionDictionary, fifo: bool = False) -> None:
        self.config = mission.downlink
        self.priorities = mission.link.downlink.priorities
        self.fifo = fifo
        self.encoder = DownlinkEncoder(self.config, self.priorities, **({"max_wait_frames": None} if fifo else {}))
        self.store = store
        self._zone_len = self.config.frame.data_field_len
        self._in_mux: dict[int, deque[StoredPacket]] = {vc: deque() for vc in self.priorities}  # submitted order
        self.cadus = 0
        self.idle_cadus = 0

    @property
    def cadu_len(self) -> int:
        """Octets per CADU."""
        return self.config.cadu_len

    @property
    def busy(self) -> bool:
        """Whether packets wait for transmission or frames carrying them are under way."""
        return any(self._in_mux.values()) or any(self.store.waiting(vc) for vc in self.priorities)

    def queue(self, vcid: int, packet: bytes) -> None:
        """Store a packet for downlink on ``vcid`` (on disk before this returns)."""
        self.store.append(vcid, packet)

    def next_cadu(self, *, ocf_raw: int) -> bytes:
        """The next CADU (most urgent VC first, idle when nothing waits) carrying ``ocf_raw`` in its OCF."""
        self._feed()
        if self.fifo:  # the VC holding the oldest packet goes first
            for vc in self.priorities:
                queue = self._in_mux[vc]
                oldest = queue[0].record if queue else self.store.oldest_waiting_record(vc)
                self.encoder.mux.set_priority(vc, 1 << 62 if oldest is None else oldest)
        idle_before = self.encoder.mux.idle_frames
        cadu = self.encoder.next_cadu(ocf_raw=ocf_raw)
        self.cadus += 1
        self.idle_cadus += self.encoder.mux.idle_frames - idle_before
        return cadu

    def cadu_sent(self) -> None:
        """The CADUs taken so far were transmitted: packets whose last octet they carried are transmitted."""
        mux = self.encoder.mux
        for vc, queue in self._in_mux.items():
            if not queue:
                continue
            sent_octets = sum(len(r.data) for r in queue) - mux.pending_octets(vc)
            while queue and sent_octets >= len(queue[0].data):
                rec = queue.popleft()
                sent_octets -= len(rec.data)
                self.store.transmitted(rec)

    def _feed(self) -> None:
        mux = self.encoder.mux
        for vc in self.priorities:
            while mux.pending_octets(vc) < self._zone_len:
                rec = self.store.take(vc)
                if rec is None:
                    break
                mux.submit(vc, rec.data)
                self._in_mux[vc].append(rec)
