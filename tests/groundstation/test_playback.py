"""The ground's half of store-and-forward, sans IO: gaps, retransmissions, losses, acknowledgements."""

from __future__ import annotations

from groundstation.playback import MAX_RANGES_PER_REQUEST, StoreTracker


def test_a_skip_on_the_vc_opens_a_gap_that_retransmissions_close() -> None:
    t = StoreTracker()
    assert t.realtime(0x10, 5) == ("next", None)
    t.status(0x10, 5, 6)  # the store holds nothing older: the APID is known from here on
    assert t.ack_point(0x10) == 6
    kind, gap = t.realtime(0x10, 9)
    assert kind == "gap" and gap is not None and (gap.first, gap.count) == (6, 3)
    assert t.ack_point(0x10) == 6  # nothing from the gap on is acknowledged
    assert t.requests_due(0.0) == [(0x10, 6, 3)]
    assert t.requests_due(5.0) == []  # asked already; again after retry_s
    assert t.replay(0x10, 7) and not t.replay(0x10, 7)  # once
    assert [(g["first"], g["count"]) for g in t.gaps()] == [(6, 1), (8, 1)]
    assert t.requests_due(10.0) == [(0x10, 6, 1), (0x10, 8, 1)]
    assert t.replay(0x10, 6) and t.ack_point(0x10) == 8
    assert t.realtime(0x10, 8) == ("filled", None)  # late on its own VC: fills too
    assert t.ack_point(0x10) == 10 and t.summary()["open_gaps"] == 0


def test_counts_wrap_modulo_16384() -> None:
    t = StoreTracker()
    t.realtime(0x11, 16382)
    t.status(0x11, 16382, 16383)
    kind, gap = t.realtime(0x11, 1)
    assert kind == "gap" and gap is not None and (gap.first, gap.count) == (16383, 2)
    assert t.realtime(0x11, 16000)[0] == "late"  # behind: a duplicate, no gap
    assert t.ack_point(0x11) == 16383


def test_the_status_report_reveals_the_tail_and_what_came_before_the_first_packet() -> None:
    t = StoreTracker()
    t.realtime(0x11, 40)  # the first packet seen: 30..39 were sent before the station listened
    assert t.ack_point(0x11) is None  # nothing is acknowledged before the store has said what it holds
    opened = t.status(0x11, 30, 45)  # and 41..44 went out but never arrived (the last before an outage)
    assert sorted((g.first, g.count) for g in opened) == [(30, 10), (41, 4)]
    assert t.ack_point(0x11) == 30
    assert t.status(0x20, 7, 9) and t.requests_due(0.0)[-1] == (0x20, 7, 2)  # an APID never seen


def test_what_the_store_no_longer_holds_is_lost_with_its_extent() -> None:
    t = StoreTracker()
    t.realtime(0x10, 0)
    t.status(0x10, 0, 1)
    t.realtime(0x10, 10)
    lost = t.unavailable(0x10, 1, 5)
    assert [(x.first, x.count) for x in lost] == [(1, 5)]
    assert t.ack_point(0x10) == 6 and t.summary()["counts_lost"] == 5
    assert t.unavailable(0x10, 1, 5) == []  # said twice: lost once


def test_acknowledgements_are_sent_when_they_change_and_repeated_now_and_then() -> None:
    t = StoreTracker(ack_interval_s=1.0, ack_refresh_s=30.0)
    t.realtime(0x10, 0)
    t.status(0x10, 0, 1)
    assert t.acks_due(0.0) == [(0x10, 1)]
    assert t.acks_due(0.5) == []  # not more often than ack_interval_s
    assert t.acks_due(2.0) == []  # unchanged
    t.realtime(0x10, 1)
    assert t.acks_due(3.0) == [(0x10, 2)]
    assert t.acks_due(31.0) == [(0x10, 2)]  # repeated: a lost acknowledgement costs at most this long


def test_the_state_survives_a_restart() -> None:
    t = StoreTracker()
    t.realtime(0x10, 0)
    t.status(0x10, 0, 1)
    t.realtime(0x10, 5)
    again = StoreTracker(t.to_json())
    assert again.gaps() == [{"apid": 0x10, "first": 1, "count": 4, "requests": 0}]
    assert again.realtime(0x10, 6) == ("next", None) and again.ack_point(0x10) == 1
    assert again.requests_due(0.0) == [(0x10, 1, 4)]  # asked again at once after a restart


def test_one_request_carries_at_most_one_commands_worth() -> None:
    t = StoreTracker()
    t.realtime(0x10, 0)
    t.status(0x10, 0, 1)
    for seq in range(2, 2 * (MAX_RANGES_PER_REQUEST + 10), 2):  # every other packet lost
        t.realtime(0x10, seq)
    assert len(t.requests_due(0.0)) == MAX_RANGES_PER_REQUEST
    assert len(t.requests_due(0.0)) == 9  # the rest next time
