"""On-board storage: the packet log with its commit index, capacity, and the state file."""

from __future__ import annotations

import os
from pathlib import Path

from protocol.mission import MISSION

VC_PRIORITIES = MISSION.link.downlink.priorities
from spacecraft.storage import PacketStore, StateFile

from .harness import T0, boot, events, hk


def _packet(n: int, size: int = 20) -> bytes:
    return bytes([n % 256]) * size


def test_pending_packets_survive_reopen_and_sent_ones_do_not(tmp_path: Path) -> None:
    store = PacketStore(tmp_path, vc_priorities=VC_PRIORITIES)
    for i in range(10):
        store.append(i % 3, _packet(i))
    store.mark_sent(0, 2)
    store.mark_sent(1, 1)
    expected = {vc: [r.data for r in store.pending(vc)] for vc in VC_PRIORITIES}
    # no close(): as if the process had been killed here
    again = PacketStore(tmp_path, vc_priorities=VC_PRIORITIES)
    assert {vc: [r.data for r in again.pending(vc)] for vc in VC_PRIORITIES} == expected
    assert again.restored == 7 and again.used_octets == 7 * 20
    again.append(0, _packet(99))
    assert again.pending(0)[-1].record == 10  # record numbers keep growing across compactions


def test_torn_last_record_is_ignored(tmp_path: Path) -> None:
    store = PacketStore(tmp_path, vc_priorities=VC_PRIORITIES)
    for i in range(3):
        store.append(0, _packet(i))
    store.close()
    log = tmp_path / "packets.log"
    log.write_bytes(log.read_bytes()[:-5])  # the last write was cut short
    again = PacketStore(tmp_path, vc_priorities=VC_PRIORITIES)
    assert [r.data for r in again.pending(0)] == [_packet(0), _packet(1)]
    assert again.torn_records == 1


def test_full_store_drops_oldest_playback_first(tmp_path: Path) -> None:
    store = PacketStore(tmp_path, vc_priorities=VC_PRIORITIES, capacity_octets=100)
    store.append(2, _packet(1))
    store.append(0, _packet(2))
    store.append(2, _packet(3))
    store.append(1, _packet(4))
    store.append(1, _packet(5))
    store.append(0, _packet(6))  # 120 octets: the oldest VC 2 packet goes
    assert [r.data for r in store.pending(2)] == [_packet(3)] and store.dropped == 1
    assert store.used_octets == 100
    store.append(0, _packet(7), protected={2: 1})  # VC 2's head is in a frame: VC 1's oldest goes instead
    assert [r.data for r in store.pending(1)] == [_packet(5)] and store.dropped == 2


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
    first_frame = g.drain(max_cadus=1)  # one frame goes out: VC 0's packets leave the store
    left = len(obc.store)
    assert 0 < left < waiting
    # crash: no shutdown(); the next boot finds exactly what had not gone out
    obc2, g2 = boot(tmp_path, hk_interval_s=3600)
    assert obc2.store.restored == left
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
