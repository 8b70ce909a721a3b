"""On-board storage: every telemetry packet until the ground has it, and the state that survives a reboot.

:class:`PacketStore` is the mass memory, store-and-forward with ground acknowledgement (the ground side is
groundstation/playback.py, the messages protocol/pus/storage.py, service 15). A packet moves through:

* **queued** -- written to the append-only log (``packets.log``) *before* anything else happens, waiting
  in its VC's transmission queue;
* **transmitted** -- the frame carrying its last octet has gone out: its record number goes to
  ``transmitted.log``, but the packet stays in the store, for the frame may never have reached the
  ground;
* **released** -- the ground acknowledged it (TC[15,128], cumulative per APID by sequence count), or the
  store overwrote it when full: its record number goes to ``released.log`` and its octets are free.

A TC[15,129] puts transmitted packets of an APID's count range on the replay VC (most urgent original VC
first); a count the store no longer holds is answered as unavailable (TM[15,131]) and the ground reports it
lost. TM[15,130] tells the ground, per APID, the oldest count held and the count after the newest
transmitted, so a gap at the tail (the last packets before an outage) is found without a later packet.

On start the store replays the log: released records are skipped, transmitted ones wait for their
acknowledgement, the rest are queued again, so a process killed with SIGKILL downlinks what it had not
sent and keeps what the ground has not confirmed. Records carry a CRC-16 so a torn last write is recognised
and ignored. Record numbers only grow, so compaction (rewriting the log with the live records only, through
a rename) never makes an entry of the other logs point at the wrong packet; it runs when the released
octets exceed both 4 MiB and the live ones, so its cost per stored octet stays constant however large the
backlog. Retransmission requests are not persisted (the ground repeats them).

Writes go through ``os.write`` on unbuffered descriptors: once a write returns, the octets are in the
kernel and survive the process. ``fsync`` happens at compaction and clean shutdown (power loss is not
simulated).

Capacity is bounded (``capacity_octets``): when a new packet does not fit, the oldest packets of the
lowest-priority VC are overwritten (and counted) first, never one in frames under way.

Sequence counts compare modulo 16384 inside each APID's window (the oldest count held to the newest), so at
most 8191 packets of one APID should wait for acknowledgement at once (at 5 s housekeeping: 11 hours).

:class:`StateFile` holds the small state (reboot count, on-board parameters,
packet sequence counters) as JSON written atomically (temp file + rename).
"""

from __future__ import annotations

import json
import logging
import os
import struct
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocol.crc import crc16
from protocol.pus.storage import count_runs
from protocol.spacepacket import SEQ_COUNT_MODULO

__all__ = ["PacketStore", "RecordHeader", "StateFile", "StoredPacket", "StoreTotals"]

log = logging.getLogger("spacecraft.storage")

#: One log record: record number (u32), VCID (u8), packet length (u16), then the packet and a
#: CRC-16 (protocol.crc.crc16) over header + packet.
RecordHeader = struct.Struct(">IBH")
_CRC = struct.Struct(">H")
_NUMBER = struct.Struct(">I")
COMPACT_MIN_OCTETS = 4 << 20  # rewrite the log once this many released octets (and more than are live) are in it
_M = SEQ_COUNT_MODULO


@dataclass(slots=True, eq=False)
class StoredPacket:
    """A packet in the store: record number, virtual channel, octets, APID and count, and where it stands."""

    record: int
    vcid: int
    data: bytes
    apid: int = 0
    seq: int = 0
    transmitted: bool = False  # its last octet went out in a frame at least once
    queued: bool = False  # waiting in a transmission queue (its VC's, or the replay VC's)
    in_mux: bool = False  # handed to the VC multiplexer: frames carrying it are under way
    released: bool = False  # acknowledged by the ground, or overwritten: no longer in the store

    def __post_init__(self) -> None:
        if len(self.data) >= 4:
            self.apid = int.from_bytes(self.data[0:2], "big") & 0x7FF
            self.seq = int.from_bytes(self.data[2:4], "big") & 0x3FFF


@dataclass(frozen=True, slots=True)
class StoreTotals:
    """One APID's place in the store: oldest count held, the count after the newest transmitted, held."""

    apid: int
    first_stored: int
    next_unsent: int
    stored: int


class PacketStore:
    """Packets until the ground acknowledges them, persisted in ``directory`` (or only in memory when None)."""

    def __init__(self, directory: Path | None, *, vc_priorities: dict[int, int],
                 capacity_octets: int = 16 << 20, replay_vcid: int | None = None) -> None:
        self.directory = directory
        self.capacity_octets = capacity_octets
        self.priorities = dict(vc_priorities)
        self.replay_vcid = replay_vcid
        # lowest priority first: where space is reclaimed from when the store is full
        self._drop_order = sorted((v for v in vc_priorities if v != replay_vcid), key=lambda v: -vc_priorities[v])
        self._queues: dict[int, deque[StoredPacket]] = {v: deque() for v in vc_priorities if v != replay_vcid}
        self._replay: dict[int, deque[StoredPacket]] = {}  # original VC priority -> packets asked for again
        self._by_apid: dict[int, deque[StoredPacket]] = {}  # live (and released not yet swept), record order
        self._live_by_apid: dict[int, int] = {}
        self.used_octets = 0
        self.live = 0
        self.next_record = 0
        self.dropped = 0  # packets overwritten because the store was full (since this store was made)
        self.acknowledged = 0  # packets released by a ground acknowledgement
        self.acks_ignored = 0  # acknowledgements outside an APID's window (stale, or for another store)
        self.retransmit_queued = 0  # packets put on the replay VC
        self.unavailable = 0  # requested packets no longer held
        self.torn_records = 0  # damaged records found in the log at start
        self.restored = 0  # live packets found at start
        # newest logged packet per (VC, APID) at start, released or not: (record number, sequence count)
        self.log_heads: dict[tuple[int, int], tuple[int, int]] = {}
        self._released_since_compaction = 0
        self._log_fd: int | None = None
        self._transmitted_fd: int | None = None
        self._released_fd: int | None = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._load()
            self._compact()

    # -- paths --------------------------------------------------------------------
    def _path(self, name: str) -> Path:
        return self.directory / name  # type: ignore[operator]

    # -- queries ------------------------------------------------------------------
    def __len__(self) -> int:
        return self.live

    def records(self) -> Iterator[StoredPacket]:
        """Every packet in the store (queued, transmitted or under way), oldest first."""
        yield from sorted((r for q in self._by_apid.values() for r in q if not r.released), key=lambda r: r.record)

    def pending(self, vcid: int) -> list[StoredPacket]:
        """The packets waiting for transmission on ``vcid`` (the replay VC: in the order they will go)."""
        if vcid == self.replay_vcid:
            return [r for p in sorted(self._replay) for r in self._replay[p] if not r.released and r.queued]
        return [r for r in self._queues[vcid] if not r.released and r.queued]

    def waiting(self, vcid: int) -> bool:
        """Whether something waits for transmission on ``vcid``."""
        return self._peek(vcid) is not None

    def oldest_waiting_record(self, vcid: int) -> int | None:
        """The record number of the next packet ``vcid`` would send (None: nothing waits)."""
        rec = self._peek(vcid)
        return None if rec is None else rec.record

    def totals(self, next_counts: Mapping[int, int]) -> list[StoreTotals]:
        """Per APID (those stored and those of ``next_counts``, the count each APID gives its next packet)."""
        out = []
        for apid in sorted(set(self._by_apid) | set(next_counts)):
            q = self._sweep(apid)
            nxt = next_counts.get(apid, (q[-1].seq + 1) % _M if q else 0)
            first = q[0].seq if q else nxt
            unsent = next((r.seq for r in q if not r.transmitted and not r.released), nxt)
            out.append(StoreTotals(apid, first, unsent, self._live_by_apid.get(apid, 0)))
        return out

    # -- the downlink's side ------------------------------------------------------
    def append(self, vcid: int, packet: bytes) -> StoredPacket:
        """Store a packet (written to disk before this returns) and queue it; overwrites the oldest when full."""
        if vcid not in self._queues:
            raise ValueError(f"VC {vcid} is not a VC packets are stored for ({', '.join(map(str, self._queues))})")
        if len(packet) > self.capacity_octets:
            raise ValueError(f"packet of {len(packet)} octets exceeds the store capacity")
        while self.used_octets + len(packet) > self.capacity_octets:
            if not self._drop_oldest():
                break
        rec = StoredPacket(self.next_record, vcid, bytes(packet), queued=True)
        self.next_record += 1
        if self._log_fd is not None:
            head = RecordHeader.pack(rec.record, vcid, len(packet)) + rec.data
            os.write(self._log_fd, head + _CRC.pack(crc16(head)))
        self._add_live(rec)
        self._queues[vcid].append(rec)
        return rec

    def take(self, vcid: int) -> StoredPacket | None:
        """The next packet to transmit on ``vcid``, handed to the multiplexer (None: nothing waits)."""
        rec = self._peek(vcid, pop=True)
        if rec is not None:
            rec.queued = False
            rec.in_mux = True
        return rec

    def transmitted(self, rec: StoredPacket) -> None:
        """The frame carrying the last octet of ``rec`` went out: it waits for the ground's acknowledgement."""
        rec.in_mux = False
        if rec.released:
            return
        if not rec.transmitted:
            rec.transmitted = True
            if self._transmitted_fd is not None:
                os.write(self._transmitted_fd, _NUMBER.pack(rec.record))

    # -- the ground's side --------------------------------------------------------
    def acknowledge(self, apid: int, next_count: int) -> int:
        """The ground archived every packet of ``apid`` before count ``next_count``: release the transmitted
        ones; how many. An acknowledgement outside the APID's window (older than what is held) changes nothing."""
        q = self._sweep(apid)
        if not q:
            return 0
        first = q[0].seq
        reach = (next_count - first) % _M
        if reach > (q[-1].seq - first) % _M + 1:
            self.acks_ignored += 1
            return 0
        done = []
        for rec in q:
            if (rec.seq - first) % _M >= reach:
                break
            if rec.transmitted and not rec.released:
                done.append(rec)
        self._release(done)
        self.acknowledged += len(done)
        return len(done)

    def retransmit(self, apid: int, first_count: int, packets: int) -> list[tuple[int, int]]:
        """Queue the transmitted packets of ``apid`` in the count range on the replay VC; the (first, packets)
        runs of counts the store does not hold."""
        wanted = {(first_count + i) % _M for i in range(max(0, min(packets, _M)))}
        order = self.priorities.get
        for rec in self._sweep(apid):
            if rec.released or rec.seq not in wanted:
                continue
            wanted.discard(rec.seq)
            if rec.transmitted and not rec.queued and not rec.in_mux and self.replay_vcid is not None:
                rec.queued = True
                self._replay.setdefault(order(rec.vcid, 0), deque()).append(rec)
                self.retransmit_queued += 1
        missing = sorted(wanted, key=lambda s: (s - first_count) % _M)
        self.unavailable += len(missing)
        return count_runs(missing)

    # -- internals ----------------------------------------------------------------
    def _peek(self, vcid: int, *, pop: bool = False) -> StoredPacket | None:
        if vcid == self.replay_vcid:
            queues = [self._replay[p] for p in sorted(self._replay)]
        else:
            queues = [self._queues[vcid]]
        for q in queues:
            while q and (q[0].released or not q[0].queued):
                q.popleft()
            if q:
                return q.popleft() if pop else q[0]
        return None

    def _add_live(self, rec: StoredPacket) -> None:
        self._by_apid.setdefault(rec.apid, deque()).append(rec)
        self._live_by_apid[rec.apid] = self._live_by_apid.get(rec.apid, 0) + 1
        self.used_octets += len(rec.data)
        self.live += 1

    def _sweep(self, apid: int) -> deque[StoredPacket]:
        q = self._by_apid.get(apid)
        if q is None:
            return deque()
        while q and q[0].released:
            q.popleft()
        return q

    def _drop_oldest(self) -> bool:
        for vcid in self._drop_order:
            oldest = (next((r for r in q if not r.released and not r.in_mux), None)
                      for q in self._by_apid.values() if q and q[-1].vcid == vcid)
            victim = min((r for r in oldest if r is not None), key=lambda r: r.record, default=None)
            if victim is not None:
                self.dropped += 1
                self._release([victim])
                return True
        return False

    def _release(self, records: list[StoredPacket]) -> None:
        if not records:
            return
        octets = 0
        touched: set[int] = set()
        for rec in records:
            rec.released = True
            rec.queued = False
            octets += len(rec.data)
            self._live_by_apid[rec.apid] -= 1
            touched.add(rec.apid)
        for apid in touched:  # what was released at the front goes now: the deques hold the live
            self._sweep(apid)
        self.used_octets -= octets
        self.live -= len(records)
        if self._released_fd is not None:
            os.write(self._released_fd, b"".join(_NUMBER.pack(r.record) for r in records))
            self._released_since_compaction += octets
            if self._released_since_compaction >= max(COMPACT_MIN_OCTETS, self.used_octets):
                self._compact()

    # -- persistence --------------------------------------------------------------
    def _numbers(self, name: str) -> set[int]:
        path = self._path(name)
        if not path.exists():
            return set()
        raw = path.read_bytes()
        whole = len(raw) - len(raw) % _NUMBER.size  # a torn last entry is ignored
        return {n for (n,) in _NUMBER.iter_unpack(raw[:whole])}

    def _load(self) -> None:
        # sent.log is the store before acknowledgement: what it lists had left the store
        released = self._numbers("released.log") | self._numbers("sent.log")
        transmitted = self._numbers("transmitted.log")
        log_path = self._path("packets.log")
        if not log_path.exists():
            return
        raw = log_path.read_bytes()
        pos = 0
        while pos + RecordHeader.size <= len(raw):
            number, vcid, length = RecordHeader.unpack_from(raw, pos)
            end = pos + RecordHeader.size + length + _CRC.size
            if end > len(raw) or crc16(raw[pos:end]) != 0 or vcid not in self._queues:
                self.torn_records += 1
                log.warning("packet log: damaged record at octet %d ignored, and everything after it", pos)
                break
            self.next_record = max(self.next_record, number + 1)
            data = raw[pos + RecordHeader.size:end - _CRC.size]
            rec = StoredPacket(number, vcid, data)
            if len(data) >= 4:
                self.log_heads[(vcid, rec.apid)] = (number, rec.seq)
            if number not in released:
                self._add_live(rec)
                if number in transmitted:
                    rec.transmitted = True
                else:
                    rec.queued = True
                    self._queues[vcid].append(rec)
                self.restored += 1
            pos = end

    def _compact(self) -> None:
        """Rewrite the log with the live packets only (temp + rename), then the transmitted list, then start
        an empty released list: a kill between any two steps leaves a consistent store."""
        self.close()
        if self.directory is None:
            return
        live = list(self.records())
        tmp = self._path("packets.tmp")
        with open(tmp, "wb") as f:
            for rec in live:
                head = RecordHeader.pack(rec.record, rec.vcid, len(rec.data)) + rec.data
                f.write(head + _CRC.pack(crc16(head)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path("packets.log"))
        for name, numbers in (("transmitted", [r.record for r in live if r.transmitted]), ("released", [])):
            tmp = self._path(f"{name}.tmp")
            tmp.write_bytes(b"".join(_NUMBER.pack(n) for n in numbers))
            os.replace(tmp, self._path(f"{name}.log"))
        self._path("sent.log").unlink(missing_ok=True)
        self._released_since_compaction = 0
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        self._log_fd = os.open(self._path("packets.log"), flags, 0o644)
        self._transmitted_fd = os.open(self._path("transmitted.log"), flags, 0o644)
        self._released_fd = os.open(self._path("released.log"), flags, 0o644)

    def close(self) -> None:
        """Flush to disk and close the files."""
        for name in ("_log_fd", "_transmitted_fd", "_released_fd"):
            fd = getattr(self, name)
            if fd is not None:
                os.fsync(fd)
                os.close(fd)
                setattr(self, name, None)


class StateFile:
    """Small persistent state as JSON (atomic replace); in memory only when ``path`` is None."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, Any] = {}
        if path is not None and path.exists():
            try:
                self.data = json.loads(path.read_text())
            except (OSError, ValueError) as e:
                log.warning("state file %s unreadable (%s): starting from defaults", path, e)
                self.data = {}
            if not isinstance(self.data, dict):
                self.data = {}

    def save(self) -> None:
        """Write the state atomically."""
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(self.data, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
