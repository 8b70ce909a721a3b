"""On-board storage: the packet log with its commit index, capacity, and the state file."""

from __future__ import annotations

import os
from pathlib import Path

from protocol.mission import MISSION

VC_PRIORITIES = MISSION.link.downlink.priorities
REPLAY = MISSION.link.downlink.replay_vcid
from spacecraft.storage import PacketStore, StateFile

from .harness import T0, boot, events, hk


def _packet(n: int, size: int = 20, *, apid: int = 0x10, seq: int | None = None) -> bytes:
    """A space packet of ``size`` octets: APID, count ``seq`` (default n), then n repeated."""
    seq = n if seq is None else seq
    head = (0x0800 | apid).to_bytes(2, "big") + (0xC000 | seq).to_bytes(2, "big") + (size - 7).to_bytes(2, "big")
    return head + bytes([n % 256]) * (size - 6)


_APID_OF_VC = {0: 0x10, 1: 0x11, 2: 0x31}


def _store(tmp_path: Path | None, **kw: object) -> PacketStore:
    return PacketStore(tmp_path, vc_priorities=VC_PRIORITIES, replay_vcid=REPLAY, **kw)  # type: ignore[arg-type]


def _transmit(store: PacketStore, vcid: int, n: int) -> list[int]:
    """Take ``n`` packets of ``vcid`` and mark them transmitted, as the downlink does; their counts."""
    out = []
    for _ in range(n):
        rec = store.take(vcid)
        assert rec is not None
        store.transmitted(rec)
        out.append(rec.seq)
    return out


def _fill(store: PacketStore, n: int) -> None:
    """n packets round-robin on VCs 0, 1, 2, each APID counting from 0."""
    counts = {vc: 0 for vc in _APID_OF_VC}
    for i in range(n):
        vc = i % 3
        store.append(vc, _packet(i, apid=_APID_OF_VC[vc], seq=counts[vc]))
        counts[vc] += 1


def test_a_packet_leaves_the_store_when_acknowledged_not_when_transmitted(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _fill(store, 12)  # counts 0..3 on each of APIDs 0x10, 0x11, 0x31
    assert _transmit(store, 0, 3) == [0, 1, 2]
    assert len(store) == 12 and [r.seq for r in store.pending(0)] == [3]  # transmitted, still held
    assert store.acknowledge(0x10, 2) == 2  # the ground archived 0 and 1
    assert len(store) == 10 and store.used_octets == 10 * 20
    assert store.acknowledge(0x10, 2) == 0  # the same acknowledgement again changes nothing
    assert store.acknowledge(0x10, 4) == 1  # count 3 was never transmitted: it stays, queued
    assert [r.seq for r in store.pending(0)] == [3] and len(store) == 9


def test_stale_or_foreign_acknowledgements_change_nothing(tmp_path: Path) -> None:
    store = _store(None)
    for seq in range(16380, 16384 + 4):  # counts wrap: 16380..16383, 0..3
        store.append(0, _packet(seq, seq=seq % 16384))
    _transmit(store, 0, 8)
    assert store.acknowledge(0x10, 100) == 0 and store.acks_ignored == 1  # beyond what was ever sent
    assert store.acknowledge(0x10, 16000) == 0 and store.acks_ignored == 2  # older than what is held
    assert store.acknowledge(0x10, 2) == 6  # across the wrap: 16380..16383, 0, 1
    assert [r.seq for r in store.records()] == [2, 3]


def test_the_store_survives_a_kill_in_every_state(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _fill(store, 12)
    _transmit(store, 0, 3)  # 0x10 counts 0, 1, 2 transmitted
    store.acknowledge(0x10, 1)  # count 0 acknowledged
    _transmit(store, 1, 1)  # 0x11 count 0 transmitted
    # no close(): as if the process had been killed here
    again = _store(tmp_path)
    assert again.restored == 11 and again.used_octets == 11 * 20
    assert [r.seq for r in again.pending(0)] == [3] and [r.seq for r in again.pending(1)] == [1, 2, 3]
    held = {(r.apid, r.seq): r.transmitted for r in again.records()}
    assert held[(0x10, 1)] and held[(0x10, 2)] and held[(0x11, 0)] and not held[(0x31, 0)]
    assert (0x10, 0) not in held
    assert again.acknowledge(0x10, 3) == 2  # what it had transmitted before the kill waits for the ground
    again.append(0, _packet(99, seq=4))
    assert again.pending(0)[-1].record == 12  # record numbers keep growing across compactions


def test_a_store_written_before_acknowledgement_reads_its_sent_log_as_released(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _fill(store, 3)
    store.close()
    (tmp_path / "sent.log").write_bytes((0).to_bytes(4, "big"))  # the old commit index: record 0 had gone
    again = _store(tmp_path)
    assert [r.record for r in again.records()] == [1, 2] and not (tmp_path / "sent.log").exists()


def test_retransmission_goes_on_the_replay_vc_most_urgent_first_and_reports_what_is_gone(tmp_path: Path) -> None:
    store = _store(tmp_path, capacity_octets=10 * 20)
    _fill(store, 9)
    _transmit(store, 0, 3)
    _transmit(store, 1, 3)
    _transmit(store, 2, 3)
    assert store.retransmit(0x31, 0, 3) == [] and store.retransmit(0x10, 1, 5) == [(3, 3)]  # 3..5 never existed
    # playback (VC 2, priority 4) was asked for first, real time (VC 0, priority 1) goes first
    assert [(r.apid, r.seq) for r in store.pending(REPLAY)] == [(0x10, 1), (0x10, 2), (0x31, 0), (0x31, 1), (0x31, 2)]
    assert store.retransmit(0x10, 1, 2) == [] and len(store.pending(REPLAY)) == 5  # already queued: once
    store.append(0, _packet(20, seq=3))
    store.append(0, _packet(21, seq=4))  # full: the oldest playback packet (0x31 count 0) is overwritten
    assert store.dropped == 1
    assert [(r.apid, r.seq) for r in store.pending(REPLAY)] == [(0x10, 1), (0x10, 2), (0x31, 1), (0x31, 2)]
    assert store.retransmit(0x31, 0, 1) == [(0, 1)] and store.unavailable == 4
    rec = store.take(REPLAY)
    assert rec is not None and (rec.apid, rec.seq) == (0x10, 1)
    store.acknowledge(0x10, 3)  # the ground got 1 and 2 another way: 2 is not sent again
    assert [(r.apid, r.seq) for r in store.pending(REPLAY)] == [(0x31, 1), (0x31, 2)]


def test_totals_tell_the_ground_what_is_held_and_what_was_transmitted() -> None:
    store = _store(None)
    _fill(store, 9)
    _transmit(store, 0, 2)
    store.acknowledge(0x10, 1)
    totals = {t.apid: t for t in store.totals({0x10: 3, 0x11: 3, 0x31: 3, 0x20: 7})}
    assert (totals[0x10].first_stored, totals[0x10].next_unsent, totals[0x10].stored) == (1, 2, 2)
    assert (totals[0x11].first_stored, totals[0x11].next_unsent, totals[0x11].stored) == (0, 0, 3)
    assert (totals[0x20].first_stored, totals[0x20].next_unsent, totals[0x20].stored) == (7, 7, 0)


def test_compaction_keeps_the_log_near_what_is_live(tmp_path: Path) -> None:
    store = _store(tmp_path)
    seq = 0
    for _ in range(60):  # 60 x 1000 packets of 200 octets = 12 MB through the store, 20 kB live at the end
        for _ in range(1000):
            store.append(0, _packet(seq, 200, seq=seq % 16384))
            seq += 1
        _transmit(store, 0, 1000)
        store.acknowledge(0x10, (seq - 100) % 16384)
    assert len(store) == 100
    assert (tmp_path / "packets.log").stat().st_size < 2 * (4 << 20)  # bounded by the compaction threshold
    again = _store(tmp_path)
    assert [r.seq for r in again.records()] == [(seq - 100 + i) % 16384 for i in range(100)]


def test_torn_last_record_is_ignored(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for i in range(3):
        store.append(0, _packet(i))
    store.close()
    log = tmp_path / "packets.log"
    log.write_bytes(log.read_bytes()[:-5])  # the last write was cut short
    again = _store(tmp_path)
    assert [r.data for r in again.pending(0)] == [_packet(0), _packet(1)]
    assert again.torn_records == 1


def test_full_store_drops_oldest_playback_first_never_what_is_under_way(tmp_path: Path) -> None:
    store = _store(tmp_path, capacity_octets=100)
    store.append(2, _packet(1, apid=0x31, seq=0))
    store.append(0, _packet(2, seq=0))
    store.append(2, _packet(3, apid=0x31, seq=1))
    store.append(1, _packet(4, apid=0x11, seq=0))
    store.append(1, _packet(5, apid=0x11, seq=1))
    store.append(0, _packet(6, seq=1))  # 120 octets: the oldest VC 2 packet goes
    assert [r.data for r in store.pending(2)] == [_packet(3, apid=0x31, seq=1)] and store.dropped == 1
    assert store.used_octets == 100
    assert store.take(2) is not None  # VC 2's last packet is in a frame: VC 1's oldest goes instead
    store.append(0, _packet(7, seq=2))
    assert [r.data for r in store.pending(1)] == [_packet(5, apid=0x11, seq=1)] and store.dropped == 2


def test_state_file_atomic_and_tolerant(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    s = StateFile(path)
    s.data["reboot_count"] = 3
    s.save()
    assert StateFile(path).data == {"reboot_count": 3}
    path.write_text("{not json")
    assert StateFile(path).data == {}
    assert not any(p.suffix == ".tmp" for p in tmp_path.iterdir())


def test_undownlinked_packets_survive_a_crash_of_the_onboard_software(tmp_path: Path) -> None:
    obc, g = boot(tmp_path, hk_interval_s=10)
    obc.advance(T0 + 30)  # 4 x 3 HK reports waiting, plus the BOOT event and a time report
    waiting = len(obc.store)
    first_frame = g.drain(max_cadus=1)  # one frame goes out: VC 0's packets are transmitted, not released
    assert len(obc.store) == waiting and first_frame
    # crash: no shutdown(); the next boot finds every packet, and sends again only what had not gone out
    obc2, g2 = boot(tmp_path, hk_interval_s=3600)
    assert obc2.store.restored == waiting
    tms = g2.drain()
    boots = [t.decoded.event_data for t in tms if t.decoded.event is not None and t.decoded.event.name == "BOOT"]
    assert boots == [b"\x00\x01", b"\x00\x02"]  # the first boot's event had not gone out: now it does, first
    assert {r["REBOOT_COUNT"] for r in hk(tms, "HK_OBC")} == {2}
    counts: dict[tuple[int, int], list[int]] = {}
    for t in tms:
        counts.setdefault((t.decoded.tm.apid, t.vcid), []).append(t.decoded.tm.sequence_count)
    vc0_before = [t.decoded.tm.sequence_count for t in first_frame if t.vcid == 0]
    assert counts[(0x10, 0)][0] == vc0_before[-1] + 1  # the counts go on where the crashed run left them
    events_ = counts[(0x11, 1)]  # the events APID: both BOOT events, its count continuous across the crash
    assert events_ == list(range(events_[0], events_[0] + len(events_)))


def test_storage_full_raises_event(tmp_path: Path) -> None:
    obc, g = boot(tmp_path, hk_interval_s=1, storage_octets=4096)
    obc.advance(T0 + 120)
    assert obc.store.dropped > 0 and obc.store.used_octets <= 4096
    assert "STORAGE_FULL" in events(g.drain())
    assert os.path.getsize(tmp_path / "packets.log") > 0


def test_the_onboard_software_releases_acknowledged_packets_and_replays_what_the_ground_asks_for() -> None:
    from protocol.pus import (AckFlags, PusTc, StoreAck, StoreAcknowledge, StoreRange, StoreRetransmit,
                              StoreStatusReport, StoreUnavailableReport)

    obc, g = boot(None, hk_interval_s=5)
    obc.advance(T0 + 12)
    first = g.drain()
    status = [t.body for t in first if isinstance(t.body, StoreStatusReport)]
    assert status and all(a.stored > 0 for a in status[0].applications if a.apid == 0x10)
    held = len(obc.store)
    assert held == len(first)  # transmitted, every one still held
    obc10 = sorted(t.decoded.tm.sequence_count for t in first if t.decoded.tm.apid == 0x10)
    store_apid = MISSION.apid_of_service(15)

    def tc(body: object) -> PusTc:
        g.seq += 1
        return PusTc.from_body(body, apid=store_apid, sequence_count=g.seq, ack_flags=AckFlags.NONE)

    # ask for two OBC packets again, and for counts never generated
    g.send(tc(StoreRetransmit((StoreRange(0x10, obc10[1], 2), StoreRange(0x10, 9000, 3)))), 12.5)
    again = g.drain()
    replayed = [(t.decoded.tm.apid, t.decoded.tm.sequence_count) for t in again if t.vcid == REPLAY]
    assert replayed == [(0x10, obc10[1]), (0x10, obc10[2])]
    originals = {(t.decoded.tm.apid, t.decoded.tm.sequence_count): t.decoded.tm.encode() for t in first}
    assert all(t.decoded.tm.encode() == originals[(0x10, t.decoded.tm.sequence_count)]
               for t in again if t.vcid == REPLAY)  # the very octets: the ground archives them once
    (gone,) = [t.body for t in again if isinstance(t.body, StoreUnavailableReport)]
    assert gone.ranges == (StoreRange(0x10, 9000, 3),)
    # the ground acknowledges everything of every APID it received
    heads: dict[int, int] = {}
    for t in first + again:
        heads[t.decoded.tm.apid] = max(heads.get(t.decoded.tm.apid, -1), t.decoded.tm.sequence_count)
    g.send(tc(StoreAcknowledge(tuple(StoreAck(a, s + 1) for a, s in heads.items()))), 13)
    assert len(obc.store) == len(obc.store.pending(0)) + len(obc.store.pending(1))  # what is left is new
    assert obc.store.acknowledged >= held
