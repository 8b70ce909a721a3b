"""FARM-1 (CCSDS 232.1-B-2 §6): one test per entry of the state table (Table 6-1), the window arithmetic,
the CLCW it reports, and properties over random arrival orders."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.clcw import Clcw
from protocol.cop1 import FARM_TABLE, Farm1, FarmAction, FarmEvent, FarmState, farm_event
from protocol.errors import LocalProtocolError, ProtocolError
from protocol.tcframe import FrameType, SetVr, TcFrame, Unlock

S1, S2, S3 = FarmState.OPEN, FarmState.WAIT, FarmState.LOCKOUT
VC = 0


def ad(n_s: int) -> TcFrame:
    return TcFrame(scid=0x1AB, vcid=VC, data=bytes([n_s]), frame_type=FrameType.AD, sequence_number=n_s)


def bd() -> TcFrame:
    return TcFrame(scid=0x1AB, vcid=VC, data=b"\xBD", frame_type=FrameType.BD)


def farm_in(state: FarmState, *, v_r: int = 10, window: int = 10) -> Farm1:
    """A FARM driven into ``state`` by legal events only (never by setting its fields)."""
    farm = Farm1(VC, window=window, v_r=v_r)
    if state is S2:
        farm.buffer_full()
        assert farm.frame(ad(v_r)).event is FarmEvent.E2  # S1 --E2--> S2
    elif state is S3:
        assert farm.frame(ad((v_r + 128) % 256)).event is FarmEvent.E5  # S1 --E5--> S3
    assert farm.state is state
    return farm


def event_input(farm: Farm1, event: FarmEvent):
    """Produce ``event`` at ``farm`` through its public inputs; the verdict."""
    v_r = farm.v_r
    if event is FarmEvent.E1:
        return farm.frame(ad(v_r))
    if event is FarmEvent.E2:
        farm.buffer_full()
        return farm.frame(ad(v_r))
    if event is FarmEvent.E3:
        return farm.frame(ad((v_r + 2) % 256))
    if event is FarmEvent.E4:
        return farm.frame(ad((v_r - 3) % 256))
    if event is FarmEvent.E5:
        return farm.frame(ad((v_r + 100) % 256))
    if event is FarmEvent.E6:
        return farm.frame(bd())
    if event is FarmEvent.E7:
        return farm.frame(TcFrame.control(0x1AB, VC, Unlock()))
    if event is FarmEvent.E8:
        return farm.frame(TcFrame.control(0x1AB, VC, SetVr(200)))
    if event is FarmEvent.E9:
        return farm.invalid_frame()
    return farm.buffer_released()


# Table 6-1 of 232.1-B-2, row by row and state by state: the flags and V(R) each entry leaves
ROWS = [
    # (event, state, accepted, next state, what the entry changes)
    ("E1", S1, True, S1, {"v_r": 11, "retransmit": False}),
    ("E1", S3, False, S3, {"v_r": 10}),
    ("E2", S1, False, S2, {"retransmit": True, "wait": True, "v_r": 10}),
    ("E2", S2, False, S2, {"retransmit": True, "wait": True, "v_r": 10}),
    ("E2", S3, False, S3, {"lockout": True, "v_r": 10}),
    ("E3", S1, False, S1, {"retransmit": True, "v_r": 10}),
    ("E3", S2, False, S2, {"wait": True, "v_r": 10}),
    ("E3", S3, False, S3, {"lockout": True}),
    ("E4", S1, False, S1, {"retransmit": False, "v_r": 10}),
    ("E4", S2, False, S2, {"wait": True}),
    ("E4", S3, False, S3, {"lockout": True}),
    ("E5", S1, False, S3, {"lockout": True, "v_r": 10}),
    ("E5", S2, False, S3, {"lockout": True, "wait": True}),
    ("E5", S3, False, S3, {"lockout": True}),
    ("E6", S1, True, S1, {"farm_b_counter": 1}),
    ("E6", S2, True, S2, {"farm_b_counter": 1, "wait": True}),
    ("E6", S3, True, S3, {"farm_b_counter": 1, "lockout": True}),
    ("E7", S1, False, S1, {"farm_b_counter": 1, "retransmit": False}),
    ("E7", S2, False, S1, {"farm_b_counter": 1, "retransmit": False, "wait": False}),
    ("E7", S3, False, S1, {"farm_b_counter": 1, "retransmit": False, "wait": False, "lockout": False, "v_r": 10}),
    ("E8", S1, False, S1, {"farm_b_counter": 1, "retransmit": False, "v_r": 200}),
    ("E8", S2, False, S1, {"farm_b_counter": 1, "retransmit": False, "wait": False, "v_r": 200}),
    ("E8", S3, False, S3, {"farm_b_counter": 1, "lockout": True, "v_r": 10}),
    ("E9", S1, False, S1, {"v_r": 10}),
    ("E9", S2, False, S2, {"wait": True}),
    ("E9", S3, False, S3, {"lockout": True}),
    ("E10", S1, False, S1, {"v_r": 10}),
    ("E10", S2, False, S1, {"wait": False}),
    ("E10", S3, False, S3, {"wait": False, "lockout": True}),
]


@pytest.mark.parametrize(("event", "state", "accepted", "after", "fields"), ROWS,
                         ids=[f"table6-1_{e}_{s.value}" for e, s, *_ in ROWS])
def test_farm1_state_table_entry(event: str, state: FarmState, accepted: bool, after: FarmState,
                                 fields: dict[str, object]) -> None:
    """Each entry of 232.1-B-2 Table 6-1: from ``state``, ``event`` accepts (or not) and moves to ``after``."""
    farm = farm_in(state)
    farm_b_before = farm.farm_b_counter
    verdict = event_input(farm, FarmEvent[event])
    assert verdict.event is FarmEvent[event] and verdict.state_before is state
    assert (verdict.accepted, verdict.state, farm.state) == (accepted, after, after)
    assert verdict.actions == FARM_TABLE[(state, FarmEvent[event])][0]
    snap = farm.snapshot()
    for name, want in fields.items():
        got = snap[name] - farm_b_before if name == "farm_b_counter" else snap[name]
        assert got == want, name


def test_every_table_entry_is_tested_and_only_s2_e1_is_missing() -> None:
    """The table has every (state, event) but (S2, E1), which cannot occur (no buffer is free in Wait)."""
    tested = {(FarmEvent[e], s) for e, s, *_ in ROWS}
    assert tested == {(e, s) for s, e in FARM_TABLE}
    assert set(FARM_TABLE) | {(S2, FarmEvent.E1)} == {(s, e) for s in FarmState for e in FarmEvent}


def test_window_arithmetic_modulo_256() -> None:
    """§6.3.3: with W = 10, PW = NW = 5: N(S) = V(R)+1..V(R)+4 is E3, V(R)-5..V(R)-1 is E4, the rest E5."""
    v_r = 254
    events = {n: farm_event((v_r + n) % 256, v_r, 10, buffer_free=True) for n in range(-8, 9)}
    assert events[0] is FarmEvent.E1
    assert [n for n, e in events.items() if e is FarmEvent.E3] == [1, 2, 3, 4]
    assert [n for n, e in events.items() if e is FarmEvent.E4] == [-5, -4, -3, -2, -1]
    assert all(events[n] is FarmEvent.E5 for n in (-8, -7, -6, 5, 6, 7, 8))
    assert farm_event(0, 0, 254, buffer_free=True) is FarmEvent.E1
    assert farm_event(126, 0, 254, buffer_free=True) is FarmEvent.E3
    assert farm_event(127, 0, 254, buffer_free=True) is FarmEvent.E5  # W = 254: the lockout area is 127 and 128
    assert farm_event(128, 0, 254, buffer_free=True) is FarmEvent.E5
    assert farm_event(129, 0, 254, buffer_free=True) is FarmEvent.E4
    assert farm_event(0, 0, 2, buffer_free=False) is FarmEvent.E2
    assert farm_event(1, 0, 2, buffer_free=True) is FarmEvent.E5  # W = 2: PW - 1 = 0 frames ahead are allowed
    assert farm_event(255, 0, 2, buffer_free=True) is FarmEvent.E4


def test_clcw_reports_the_farm() -> None:
    """§4.2 / 232.0-B-4 §4.2.1.11: V(R) as the report value, the three flags, FARM-B counter's two low bits."""
    farm = Farm1(3, window=10, v_r=250)
    for k in range(7):
        farm.frame(TcFrame(scid=1, vcid=3, data=b"x", frame_type=FrameType.AD, sequence_number=(250 + k) % 256))
    for _ in range(5):
        farm.frame(TcFrame(scid=1, vcid=3, data=b"x", frame_type=FrameType.BD))
    farm.frame(TcFrame(scid=1, vcid=3, data=b"x", frame_type=FrameType.AD, sequence_number=3))  # E3
    assert farm.clcw() == Clcw(vcid=3, report_value=1, retransmit=True, farm_b_counter=5 % 4)
    assert farm.clcw().encode() == bytes([0x01, 3 << 2, 0b0000_1010, 1])  # retransmit bit, FARM-B 01
    farm.frame(TcFrame(scid=1, vcid=3, data=b"x", frame_type=FrameType.AD, sequence_number=200))  # E5
    assert farm.clcw().lockout and farm.clcw().to_int() & 0x2000


def test_bad_control_command_is_e9_and_wrong_vc_is_refused() -> None:
    farm = Farm1(VC)
    verdict = farm.frame(TcFrame(scid=1, vcid=VC, data=b"\x82\x01\x05", frame_type=FrameType.BC))
    assert verdict.event is FarmEvent.E9 and not verdict.accepted and farm.counts[FarmEvent.E9] == 1
    with pytest.raises(LocalProtocolError, match="VCID"):
        farm.frame(TcFrame(scid=1, vcid=5, data=b"x", frame_type=FrameType.BD))
    for window in (0, 1, 3, 256, True):
        with pytest.raises(LocalProtocolError, match="window"):
            Farm1(VC, window=window)  # type: ignore[arg-type]


def test_snapshot_restore_round_trip_and_bad_values_fall_back() -> None:
    farm = farm_in(S3, v_r=77, window=20)
    farm.frame(bd())
    again = Farm1.restore(VC, farm.snapshot())
    assert again.snapshot() == farm.snapshot()
    junk = Farm1.restore(VC, {"v_r": 999, "state": "S9", "window": 7, "farm_b_counter": -1, "wait": "yes"})
    assert junk.snapshot() == Farm1(VC).snapshot()
    waiting = Farm1.restore(VC, farm_in(S2).snapshot())  # a restart empties the buffer: Wait ends
    assert waiting.state is S1 and not waiting.wait


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.sampled_from([2, 10, 64, 254]),
       st.lists(st.tuples(st.integers(-6, 6), st.sampled_from(["ad", "ad", "ad", "bd", "unlock", "full", "free"])),
                max_size=80))
def test_farm_never_accepts_an_ad_frame_twice_or_out_of_order(v_r0: int, window: int,
                                                              arrivals: list[tuple[int, str]]) -> None:
    """Whatever arrives (duplicates, reordering, losses, BD frames, Unlocks, a full buffer), the AD frames
    accepted carry N(S) = V(R) at the time, so the accepted sequence numbers count up by one without
    repeats, and the CLCW's report value is always the next one expected."""
    farm = Farm1(VC, window=window, v_r=v_r0)
    accepted: list[int] = []
    for delta, kind in arrivals:
        if kind == "ad":
            n_s = (farm.v_r + delta) % 256
            verdict = farm.frame(ad(n_s))
            if verdict.accepted:
                accepted.append(n_s)
        elif kind == "bd":
            assert farm.frame(bd()).accepted
        elif kind == "unlock":
            farm.frame(TcFrame.control(0x1AB, VC, Unlock()))
        elif kind == "full":
            farm.buffer_full()
        else:
            farm.buffer_released()
        assert farm.clcw().report_value == farm.v_r
        assert farm.lockout == (farm.state is S3)
        assert not farm.wait or farm.state is not S1
    assert accepted == [(v_r0 + k) % 256 for k in range(len(accepted))]


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=8), st.integers(0, 255), st.sampled_from(list(FrameType)))
def test_fuzzed_frames_raise_only_protocol_errors(data: bytes, n_s: int, kind: FrameType) -> None:
    farm = Farm1(VC)
    try:
        frame = TcFrame(scid=1, vcid=VC, data=data, frame_type=kind, sequence_number=n_s)
    except ProtocolError:
        return
    verdict = farm.frame(frame)
    assert verdict.accepted == (kind is not FrameType.BC and (kind is FrameType.BD or n_s == 0))
    assert FarmAction.ACCEPT not in verdict.actions or verdict.accepted
