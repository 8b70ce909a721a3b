"""Junk on the uplink and malformed TCs: counted, reported where possible, never a crash."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.pus import PusTc

from .harness import T0, boot, of_kind


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=5))
def test_random_uplink_octets_never_crash(chunks: list[bytes]) -> None:
    obc, g = boot(hk_interval_s=3600)
    for i, chunk in enumerate(chunks):
        obc.receive_uplink(chunk, T0 + i)
    obc.advance(T0 + 20)  # the UPLINK_REJECTED check runs every 10 s
    g.drain()
    assert obc.uplink_errors == 0  # the decoder turned everything into counted events
    assert obc.dispatcher.counters.received == obc.uplink.counters.packets


def test_junk_is_counted_and_reported_then_commands_still_work() -> None:
    obc, g = boot(hk_interval_s=3600)
    g.drain()
    obc.receive_uplink(b"\x00\xffjunk" * 50, T0 + 1)
    obc.receive_uplink(b"\xeb\x90" + bytes(range(40)), T0 + 2)  # a start sequence then garbage
    c = obc.uplink.counters
    assert c.skipped_octets > 0 or c.frames_rejected > 0
    obc.advance(T0 + 11)
    tms = g.drain()
    (ev,) = [t for t in tms if t.decoded.event is not None]
    assert ev.decoded.event.name == "UPLINK_REJECTED"
    g.send(g.tc("PING"), 12.0)
    assert of_kind(g.drain(), 17, 2)


@settings(max_examples=300, deadline=None)
@given(apid=st.integers(0, 0x7FF), service=st.integers(0, 255), subtype=st.integers(0, 255),
       app_data=st.binary(max_size=40), ack=st.integers(0, 15))
def test_any_well_framed_tc_gets_an_answer_never_a_crash(apid: int, service: int, subtype: int, app_data: bytes,
                                                       ack: int) -> None:
    obc, g = boot(hk_interval_s=3600)
    g.drain()
    tc = PusTc(apid=apid, service=service, subtype=subtype, app_data=app_data, sequence_count=5, ack_flags=ack)
    g.send(tc, 1.0)
    tms = g.drain()
    c = obc.dispatcher.counters
    assert c.received == 1 and c.accepted + c.rejected == 1
    if c.rejected:
        assert of_kind(tms, 1, 2)  # failures are reported whatever the flags ask


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_tc_packets_never_crash(data: st.DataObject) -> None:
    obc, g = boot(hk_interval_s=3600)
    g.drain()
    packet = bytearray(g.tc("SET_HK_INTERVAL", SID="OBC", INTERVAL=30).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        packet[data.draw(st.integers(0, len(packet) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(packet)))
    g.send(bytes(packet[:cut]), 1.0)
    g.drain()
    c = obc.dispatcher.counters
    assert c.received == 1 and c.accepted + c.rejected + c.unreadable == 1
