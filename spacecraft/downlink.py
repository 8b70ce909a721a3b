"""The downlink scheduler: stored packets -> virtual channels by priority -> CADUs.

The mission dictionary says which virtual channel every APID travels on and
each VC's priority (lower number = more urgent; the multiplexer always sends
the most urgent waiting data first). For the reference satellite: VC 0 real
time (housekeeping, service replies, request verification), VC 1 events, VC 2
playback (image parts).

Packets live in the :class:`spacecraft.storage.PacketStore` until the frame
carrying their last octet has been transmitted (:meth:`Downlink.cadu_sent`);
only about one frame's worth per VC is handed to the multiplexer at a time,
so the store stays the single owner of what is waiting, and a packet that
becomes due on a more urgent VC goes in the next frame (event-first: at most
the frame on the air, plus one frame the multiplexer ages a starved VC by,
is ahead of it). ``fifo=True`` ignores the priorities and sends the oldest
packet first whatever its VC: the baseline an event-first downlink is
measured against (tools/bench/payload_latency.py). Frames are those of
the dictionary's downlink settings (the reference: 892-octet TM frames,
RS(255,223) I=4 dual basis, randomised, ASM: 1024-octet CADUs) with the CLCW
in the OCF.
"""

from __future__ import annotations

from protocol.dictionary import MissionDictionary
from protocol.stack import DownlinkEncoder

from .storage import PacketStore

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
        self._in_mux = {vc: 0 for vc in self.priorities}  # store packets (queue prefix) handed to the mux
        self.cadus = 0
        self.idle_cadus = 0

    @property
    def cadu_len(self) -> int:
        """Octets per CADU."""
        return self.config.cadu_len

    def queue(self, vcid: int, packet: bytes) -> None:
        """Store a packet for downlink on ``vcid`` (on disk before this returns)."""
        self.store.append(vcid, packet, protected=self._in_mux)

    def next_cadu(self, *, ocf_raw: int) -> bytes:
        """The next CADU (most urgent VC first, idle when nothing waits) carrying ``ocf_raw`` in its OCF."""
        self._feed()
        if self.fifo:  # the VC holding the oldest packet goes first
            for vc in self.priorities:
                queue = self.store.pending(vc)
                self.encoder.mux.set_priority(vc, queue[0].record if queue else 1 << 62)
        idle_before = self.encoder.mux.idle_frames
        cadu = self.encoder.next_cadu(ocf_raw=ocf_raw)
        self.cadus += 1
        self.idle_cadus += self.encoder.mux.idle_frames - idle_before
        return cadu

    def cadu_sent(self) -> None:
        """The CADUs taken so far were transmitted: packets whose last octet they carried leave the store."""
        mux = self.encoder.mux
        for vc, n in self._in_mux.items():
            if not n:
                continue
            queue = self.store.pending(vc)
            submitted = [len(queue[i].data) for i in range(n)]
            sent_octets = sum(submitted) - mux.pending_octets(vc)
            done = 0
            for length in submitted:
                if sent_octets < length:
                    break
                sent_octets -= length
                done += 1
            if done:
                self.store.mark_sent(vc, done)
                self._in_mux[vc] -= done

    def _feed(self) -> None:
        mux = self.encoder.mux
        for vc in self.priorities:
            queue = self.store.pending(vc)
            while self._in_mux[vc] < len(queue) and mux.pending_octets(vc) < self._zone_len:
                mux.submit(vc, queue[self._in_mux[vc]].data)
                self._in_mux[vc] += 1
