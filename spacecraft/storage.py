"""On-board storage: the packets waiting for downlink, and the state that survives a reboot.

:class:`PacketStore` is the mass memory. Every telemetry packet is written
to an append-only log (``packets.log``) *before* it is handed to the downlink;
when the frame carrying its last octet has gone out, its record number is
appended to ``sent.log`` (the commit index). On start the store replays the
log and keeps what was never marked sent, so a restarted process (even one
killed with SIGKILL) downlinks it. Records carry a CRC-16 so a torn last
write is recognised and ignored. Record numbers only grow, so compaction
(rewriting the log with the pending records only, through a rename) never
makes an old entry of ``sent.log`` point at the wrong packet.

Writes go through ``os.write`` on unbuffered descriptors: once a write
returns, the octets are in the kernel and survive the process. ``fsync``
happens at compaction and clean shutdown (power loss is not simulated).

Capacity is bounded (``capacity_octets``): when a new packet does not fit,
the oldest pending packets of the lowest-priority VC are dropped (and
counted) first.

:class:`StateFile` holds the small state (reboot count, on-board parameters,
packet sequence counters) as JSON written atomically (temp file + rename).
"""

from __future__ import annotations

import json
import logging
import os
import struct
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocol.crc import crc16

__all__ = ["PacketStore", "RecordHeader", "StateFile", "StoredPacket"]

log = logging.getLogger("spacecraft.storage")

#: One log record: record number (u32), VCID (u8), packet length (u16), then the packet and a
#: CRC-16 (protocol.crc.crc16) over header + packet.
RecordHeader = struct.Struct(">IBH")
_CRC = struct.Struct(">H")
_SENT = struct.Struct(">I")
COMPACT_AFTER_OCTETS = 4 << 20  # rewrite the log once this many octets of it were sent


@dataclass(frozen=True, slots=True)
class StoredPacket:
    """A packet in the store: its record number, virtual channel and octets."""

    record: int
    vcid: int
    data: bytes


class PacketStore:
    """Packets waiting for downlink, per VC, persisted in ``directory`` (or only in memory when None)."""

    def __init__(self, directory: Path | None, *, vc_priorities: dict[int, int],
                 capacity_octets: int = 16 << 20) -> None:
        self.directory = directory
        self.capacity_octets = capacity_octets
        # lowest priority first: where space is reclaimed from when the store is full
        self._drop_order = sorted(vc_priorities, key=lambda v: -vc_priorities[v])
        self._queues: dict[int, deque[StoredPacket]] = {v: deque() for v in vc_priorities}
        self.used_octets = 0
        self.next_record = 0
        self.dropped = 0  # packets dropped because the store was full
        self.torn_records = 0  # damaged records found in the log at start
        self.restored = 0  # pending packets found at start
        # newest logged packet per (VC, APID) at start, sent or not: (record number, sequence count)
        self.log_heads: dict[tuple[int, int], tuple[int, int]] = {}
        self._sent_since_compaction = 0
        self._log_fd: int | None = None
        self._sent_fd: int | None = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._load()
            self._compact()

    # -- paths --------------------------------------------------------------------
    @property
    def _log_path(self) -> Path:
        return self.directory / "packets.log"  # type: ignore[operator]

    @property
    def _sent_path(self) -> Path:
        return self.directory / "sent.log"  # type: ignore[operator]

    # -- queries ------------------------------------------------------------------
    def pending(self, vcid: int) -> deque[StoredPacket]:
        """The packets of ``vcid`` not yet downlinked, oldest first (do not modify)."""
        return self._queues[vcid]

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def records(self) -> Iterable[StoredPacket]:
        """Every pending packet, VC by VC."""
        for q in self._queues.values():
            yield from q

    # -- changes ------------------------------------------------------------------
    def append(self, vcid: int, packet: bytes, *, protected: Mapping[int, int] | None = None) -> StoredPacket:
        """Store a packet (written to disk before this returns); drops the oldest when full.

        The first ``protected[vcid]`` packets of each VC queue are never dropped: they are
        already in frames being transmitted.
        """
        if len(packet) > self.capacity_octets:
            raise ValueError(f"packet of {len(packet)} octets exceeds the store capacity")
        while self.used_octets + len(packet) > self.capacity_octets:
            if not self._drop_oldest(protected):
                break
        rec = StoredPacket(self.next_record, vcid, bytes(packet))
        self.next_record += 1
        if self._log_fd is not None:
            head = RecordHeader.pack(rec.record, vcid, len(packet)) + rec.data
            os.write(self._log_fd, head + _CRC.pack(crc16(head)))
        self._queues[vcid].append(rec)
        self.used_octets += len(packet)
        return rec

    def mark_sent(self, vcid: int, count: int) -> None:
        """The first ``count`` pending packets of ``vcid`` have been downlinked."""
        q = self._queues[vcid]
        done = [q.popleft() for _ in range(min(count, len(q)))]
        self._forget(done)

    def _drop_oldest(self, protected: Mapping[int, int] | None) -> bool:
        for vcid in self._drop_order:
            q = self._queues[vcid]
            keep = (protected or {}).get(vcid, 0)
            if len(q) > keep:
                rec = q[keep]
                del q[keep]
                self.dropped += 1
                self._forget([rec])
                return True
        return False

    def _forget(self, records: list[StoredPacket]) -> None:
        if not records:
            return
        octets = sum(len(r.data) for r in records)
        self.used_octets -= octets
        if self._sent_fd is not None:
            os.write(self._sent_fd, b"".join(_SENT.pack(r.record) for r in records))
            self._sent_since_compaction += octets
            if self._sent_since_compaction >= COMPACT_AFTER_OCTETS:
                self._compact()

    # -- persistence --------------------------------------------------------------
    def _load(self) -> None:
        sent: set[int] = set()
        if self._sent_path.exists():
            raw = self._sent_path.read_bytes()
            whole = len(raw) - len(raw) % _SENT.size  # a torn last entry is ignored
            sent = {n for (n,) in _SENT.iter_unpack(raw[:whole])}
        if not self._log_path.exists():
            return
        raw = self._log_path.read_bytes()
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
            if len(data) >= 4:
                apid = int.from_bytes(data[0:2], "big") & 0x7FF
                self.log_heads[(vcid, apid)] = (number, int.from_bytes(data[2:4], "big") & 0x3FFF)
            if number not in sent:
                self._queues[vcid].append(StoredPacket(number, vcid, data))
                self.used_octets += length
                self.restored += 1
            pos = end

    def _compact(self) -> None:
        """Rewrite the log with the pending packets only (temp + rename), then start an empty sent log."""
        self.close()
        if self.directory is None:
            return
        tmp = self._log_path.with_suffix(".tmp")
        pending = sorted(self.records(), key=lambda r: r.record)
        with open(tmp, "wb") as f:
            for rec in pending:
                head = RecordHeader.pack(rec.record, rec.vcid, len(rec.data)) + rec.data
                f.write(head + _CRC.pack(crc16(head)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._log_path)
        tmp_sent = self._sent_path.with_suffix(".tmp")
        tmp_sent.write_bytes(b"")
        os.replace(tmp_sent, self._sent_path)
        self._sent_since_compaction = 0
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        self._log_fd = os.open(self._log_path, flags, 0o644)
        self._sent_fd = os.open(self._sent_path, flags, 0o644)

    def close(self) -> None:
        """Flush to disk and close the files."""
        for name in ("_log_fd", "_sent_fd"):
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
