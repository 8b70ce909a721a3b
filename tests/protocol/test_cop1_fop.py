"""FOP-1 (CCSDS 232.1-B-2 §5): every reachable entry of the state table (Table 5-1), the actions' effects,
and FOP-1 with FARM-1 over random loss, duplication and reordering (hypothesis)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.clcw import Clcw
from protocol.cop1 import (
    FOP_TABLE,
    AlertReason,
    Alerted,
    DirectiveResponse,
    Farm1,
    FduResponse,
    Fop1,
    FopDirective,
    FopEvent,
    FopState,
    FrameKind,
    Suspended,
    Transmit,
)
from protocol.errors import LocalProtocolError, ProtocolError
from protocol.tcframe import FrameType, SetVr, TcFrame, Unlock, decode_control_command

S1, S2, S3, S4, S5, S6 = (FopState.ACTIVE, FopState.RETRANSMIT_WITHOUT_WAIT, FopState.RETRANSMIT_WITH_WAIT,
                          FopState.INITIALISING_WITHOUT_BC, FopState.INITIALISING_WITH_BC, FopState.INITIAL)
SCID, VC, T1 = 0x1AB, 0, 1.0
D = FopDirective


def fdu(k: int, kind: FrameType = FrameType.AD) -> TcFrame:
    return TcFrame(scid=SCID, vcid=VC, data=bytes([k % 256, 0xAD]), frame_type=kind)


class Rig:
    """A FOP-1 with a clock and a lower layer that accepts whatever it is handed (unless told to hold)."""

    def __init__(self, **options: object) -> None:
        self.fop = Fop1(SCID, VC, t1_s=T1, **options)  # type: ignore[arg-type]
        self.now = 0.0
        self.sent: list[Transmit] = []
        self.outputs: list[object] = []
        self.hold = False  # True: do not answer the lower layer's E41/E43/E45
        self.k = 0

    def pump(self) -> None:
        outs = self.fop.take_outputs()
        while outs:
            self.outputs += outs
            for o in outs:
                if isinstance(o, Transmit):
                    self.sent.append(o)
                    if not self.hold:
                        self.fop.lower_layer(o.kind, True, self.now)
            outs = self.fop.take_outputs()

    def directive(self, d: FopDirective, value: object = None):
        t = self.fop.directive(d, self.now, value=value, directive_id=getattr(d, "name", d))  # type: ignore[arg-type]
        self.pump()
        return t

    def send(self, n: int = 1) -> None:
        for _ in range(n):
            self.fop.request_ad(fdu(self.k), self.k, self.now)
            self.k += 1
            self.pump()

    def clcw(self, n_r: int, **flags: bool):
        t = self.fop.clcw(Clcw(vcid=VC, report_value=n_r % 256, **flags), self.now)
        self.pump()
        return t

    def expire(self):
        self.now += T1 + 0.5
        t = self.fop.tick(self.now)
        self.pump()
        return t


def rig_in(state: FopState, *, outstanding: int = 2) -> Rig:
    """A FOP-1 brought into ``state`` by directives, requests and CLCWs only; S1-S3 with ``outstanding``
    AD frames unacknowledged (S4-S6 have none: initialising purges the Sent_Queue)."""
    r = Rig(transmission_limit=5)
    if state is S6:
        return r
    if state is S4:
        r.directive(D.INITIATE_AD_WITH_CLCW_CHECK)
    elif state is S5:
        r.directive(D.INITIATE_AD_WITH_UNLOCK)
    else:
        r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK)
        r.send(outstanding)
        if state is S2:
            assert r.clcw(r.fop.nn_r, retransmit=True).event is FopEvent.E10
        elif state is S3:
            assert r.clcw(r.fop.nn_r, retransmit=True, wait=True).event is FopEvent.E11
    assert r.fop.state is state
    return r


def _set_limit_to_count(r: Rig) -> None:
    r.directive(D.SET_TRANSMISSION_LIMIT, r.fop.transmission_count)


def _count_above_one(r: Rig) -> None:
    """E12/E103 need Transmission_Count >= Transmission_Limit > 1: one timer retransmission in S1."""
    if r.fop.transmission_count < 2:
        assert r.expire().event is FopEvent.E16
    _set_limit_to_count(r)


def _occupy_wait_queue(r: Rig) -> None:
    r.hold = True  # AD_Out stays Not_Ready after the next frame: the FDU after it waits
    r.send(1)
    if not r.fop.wait_queue_free:
        return
    r.send(1)


def _bc_out_busy(r: Rig) -> None:
    """BC_Out Not_Ready: an Initiate AD with Unlock whose BC frame the lower layer has not answered."""
    r.hold = True
    r.directive(D.INITIATE_AD_WITH_UNLOCK)
    r.hold = False


STIMULI: dict[FopEvent, Callable[[Rig], object]] = {
    FopEvent.E1: lambda r: r.clcw(r.fop.v_s),
    FopEvent.E2: lambda r: r.clcw(r.fop.v_s),
    FopEvent.E3: lambda r: r.clcw(r.fop.v_s, wait=True),
    FopEvent.E4: lambda r: r.clcw(r.fop.v_s, retransmit=True),
    FopEvent.E5: lambda r: r.clcw(r.fop.nn_r),
    FopEvent.E6: lambda r: r.clcw(r.fop.nn_r + 1),
    FopEvent.E7: lambda r: r.clcw(r.fop.nn_r, wait=True),
    FopEvent.E101: lambda r: (r.directive(D.SET_TRANSMISSION_LIMIT, 1), r.clcw(r.fop.nn_r + 1, retransmit=True))[1],
    FopEvent.E102: lambda r: (r.directive(D.SET_TRANSMISSION_LIMIT, 1), r.clcw(r.fop.nn_r, retransmit=True))[1],
    FopEvent.E8: lambda r: r.clcw(r.fop.nn_r + 1, retransmit=True),
    FopEvent.E9: lambda r: r.clcw(r.fop.nn_r + 1, retransmit=True, wait=True),
    FopEvent.E10: lambda r: (r.directive(D.SET_TRANSMISSION_LIMIT, 200), r.clcw(r.fop.nn_r, retransmit=True))[1],
    FopEvent.E11: lambda r: (r.directive(D.SET_TRANSMISSION_LIMIT, 200),
                             r.clcw(r.fop.nn_r, retransmit=True, wait=True))[1],
    FopEvent.E12: lambda r: (_count_above_one(r), r.clcw(r.fop.nn_r, retransmit=True))[1],
    FopEvent.E103: lambda r: (_count_above_one(r), r.clcw(r.fop.nn_r, retransmit=True, wait=True))[1],
    FopEvent.E13: lambda r: r.clcw(r.fop.v_s + 7),
    FopEvent.E14: lambda r: r.clcw(r.fop.v_s, lockout=True),
    FopEvent.E16: lambda r: (r.directive(D.SET_TRANSMISSION_LIMIT, 200), r.expire())[1],
    FopEvent.E104: lambda r: (r.directive(D.SET_TRANSMISSION_LIMIT, 200), r.directive(D.SET_TIMEOUT_TYPE, 1),
                              r.expire())[2],
    FopEvent.E17: lambda r: (_set_limit_to_count(r), r.expire())[1],
    FopEvent.E18: lambda r: (_set_limit_to_count(r), r.directive(D.SET_TIMEOUT_TYPE, 1), r.expire())[2],
    FopEvent.E19: lambda r: r.fop.request_ad(fdu(99), 99, r.now),
    FopEvent.E20: lambda r: (_occupy_wait_queue(r), r.fop.request_ad(fdu(98), 98, r.now))[1],
    FopEvent.E21: lambda r: r.fop.request_bd(fdu(97, FrameType.BD), 97, r.now),
    FopEvent.E22: lambda r: (setattr(r, "hold", True), r.fop.request_bd(fdu(96, FrameType.BD), 96, r.now), r.pump(),
                             r.fop.request_bd(fdu(95, FrameType.BD), 95, r.now))[3],
    FopEvent.E23: lambda r: r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK),
    FopEvent.E24: lambda r: r.directive(D.INITIATE_AD_WITH_CLCW_CHECK),
    FopEvent.E25: lambda r: r.directive(D.INITIATE_AD_WITH_UNLOCK),
    FopEvent.E26: lambda r: r.directive(D.INITIATE_AD_WITH_UNLOCK),
    FopEvent.E27: lambda r: r.directive(D.INITIATE_AD_WITH_SET_VR, 42),
    FopEvent.E28: lambda r: r.directive(D.INITIATE_AD_WITH_SET_VR, 42),
    FopEvent.E29: lambda r: r.directive(D.TERMINATE_AD),
    FopEvent.E30: lambda r: r.directive(D.RESUME_AD),
    FopEvent.E35: lambda r: r.directive(D.SET_VS, 17),
    FopEvent.E36: lambda r: r.directive(D.SET_SLIDING_WINDOW, 7),
    FopEvent.E37: lambda r: r.directive(D.SET_T1_INITIAL, 3.5),
    FopEvent.E38: lambda r: r.directive(D.SET_TRANSMISSION_LIMIT, 9),
    FopEvent.E39: lambda r: r.directive(D.SET_TIMEOUT_TYPE, 1),
    FopEvent.E40: lambda r: r.directive("not a directive"),  # type: ignore[arg-type]
    FopEvent.E41: lambda r: r.fop.lower_layer(FrameKind.AD, True, r.now),
    FopEvent.E42: lambda r: r.fop.lower_layer(FrameKind.AD, False, r.now),
    FopEvent.E43: lambda r: r.fop.lower_layer(FrameKind.BC, True, r.now),
    FopEvent.E44: lambda r: r.fop.lower_layer(FrameKind.BC, False, r.now),
    FopEvent.E45: lambda r: r.fop.lower_layer(FrameKind.BD, True, r.now),
    FopEvent.E46: lambda r: r.fop.lower_layer(FrameKind.BD, False, r.now),
}

# Entries a FOP cannot reach by legal inputs (their conditions contradict the state), each with the reason
UNREACHABLE: dict[tuple[FopEvent, FopState], str] = {}
for _s in (S2, S3):
    UNREACHABLE[(FopEvent.E1, _s)] = "S2/S3 always hold unacknowledged frames: N(R) = V(S) = NN(R) is impossible"
for _s in (S4, S5, S6):
    for _e in (FopEvent.E2, FopEvent.E5, FopEvent.E6, FopEvent.E7, FopEvent.E101, FopEvent.E102, FopEvent.E8,
               FopEvent.E9,
               FopEvent.E10, FopEvent.E11, FopEvent.E12, FopEvent.E103):
        UNREACHABLE[(_e, _s)] = "needs frames outstanding; initialising and S6 have none (NN(R) = V(S))"
for _s in (S1, S2, S3, S4, S5):
    UNREACHABLE[(FopEvent.E26, _s)] = "BC_Out is Not_Ready only while a BC frame is with the lower layer (S5/S6 here)"
    UNREACHABLE[(FopEvent.E28, _s)] = UNREACHABLE[(FopEvent.E26, _s)]
del UNREACHABLE[(FopEvent.E26, S5)], UNREACHABLE[(FopEvent.E28, S5)]
for _e in (FopEvent.E31, FopEvent.E32, FopEvent.E33, FopEvent.E34):
    for _s in (S1, S2, S3, S4, S5, S6):
        UNREACHABLE[(_e, _s)] = "a Suspend_State other than 0 exists only in S6 after a Suspend (tested apart)"
for _e in (FopEvent.E16, FopEvent.E104, FopEvent.E17, FopEvent.E18):
    UNREACHABLE[(_e, S6)] = "no timer runs in S6"
for _s in (S4, S5, S6):
    UNREACHABLE[(FopEvent.E20, _s)] = "S4-S6 reject every AD request (E19): their Wait_Queue is never filled"
UNREACHABLE[(FopEvent.E13, S5)] = "E13 in S5 is Ignore: tested through E13 from S4 (same inputs) below"

ENTRIES = [(e, s) for e in FopEvent for s in (S1, S2, S3, S4, S5, S6) if (e, s) not in UNREACHABLE]


def _prepare(event: FopEvent, state: FopState) -> Rig:
    outstanding = 0 if event is FopEvent.E1 else 2
    if state is S3 and event in (FopEvent.E12, FopEvent.E103):  # S3 ignores T1: the count rises before it
        r = rig_in(S1)
        assert r.expire().event is FopEvent.E16 and r.fop.transmission_count == 2
        assert r.clcw(r.fop.nn_r, retransmit=True, wait=True).event is FopEvent.E11
        return r
    r = rig_in(state, outstanding=outstanding)
    if event in (FopEvent.E26, FopEvent.E28):
        if state is S6:
            _bc_out_busy(r)
            r.directive(D.TERMINATE_AD)
        else:  # S5 with its BC frame still with the lower layer
            r = Rig(transmission_limit=5)
            _bc_out_busy(r)
    return r


@pytest.mark.parametrize(("event", "state"), ENTRIES, ids=[f"table5-1_{e.name}_{s.value}" for e, s in ENTRIES])
def test_fop1_state_table_entry(event: FopEvent, state: FopState) -> None:
    """Each reachable entry of 232.1-B-2 Table 5-1: the inputs make that event in that state, and FOP-1 does
    the entry's actions and ends in its next state."""
    r = _prepare(event, state)
    assert r.fop.state is state
    t = STIMULI[event](r)
    r.pump()
    assert t is not None and t.event is event, (t.event if t else None)
    actions, after = FOP_TABLE[event][state]
    assert t.state_before is state and t.actions == actions
    assert r.fop.state is (after or state)
    alerts = [o for o in r.outputs if isinstance(o, Alerted)]
    if any(a.name.startswith("ALERT") for a in actions):
        assert alerts and r.fop.state is S6 and r.fop.outstanding == 0 and r.fop.wait_queue_free


def test_unreachable_entries_are_few_and_explained() -> None:
    assert len(ENTRIES) + len(UNREACHABLE) == len(FopEvent) * 6
    assert all(reason for reason in UNREACHABLE.values())


def test_resume_from_each_suspend_state() -> None:
    """E18 (timeout type 1, limit reached) suspends in S1-S4, remembering it (E31-E34 resume there);
    E104 suspends S4 when the CLCW check times out."""
    for state, resume in ((S1, FopEvent.E31), (S2, FopEvent.E32), (S3, FopEvent.E33), (S4, FopEvent.E34)):
        r = rig_in(state)
        r.directive(D.SET_TIMEOUT_TYPE, 1)
        _set_limit_to_count(r)
        assert r.expire().event is FopEvent.E18 and r.fop.state is S6 and r.fop.suspend_state == state.number
        assert Suspended(state.number) in r.outputs and not any(isinstance(o, Alerted) for o in r.outputs)
        r.directive(D.SET_TRANSMISSION_LIMIT, 50)
        t = r.directive(D.RESUME_AD)
        assert t.event is resume and r.fop.state is state and r.fop.suspend_state == 0
        assert r.fop.timer_deadline_s == r.now + T1  # Resume restarts the timer
        for other in (S1, S2, S3, S4, S5):  # a Resume other than in S6 is refused (Table 5-1 E31-E34)
            if other is not state:
                assert FOP_TABLE[resume][other][0] == (FOP_TABLE[FopEvent.E30][S1][0])


def test_sliding_window_limits_what_is_outstanding_and_acks_release_it() -> None:
    """§5.2.8 Look for FDU: a new AD frame goes only while fewer than K are unacknowledged; each CLCW that
    moves N(R) positively confirms the frames below it (Remove Acknowledged Frames, §5.2.9)."""
    r = Rig(window=3)
    r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK)
    for _ in range(3):
        r.send(1)
    r.fop.request_ad(fdu(50), 50, r.now)
    r.pump()
    assert [t.frame.sequence_number for t in r.sent] == [0, 1, 2] and not r.fop.wait_queue_free
    r.clcw(2)  # FARM-1 has 0 and 1
    assert [o.fdu_id for o in r.outputs if isinstance(o, FduResponse) and o.response == "confirmed"] == [0, 1]
    assert [t.frame.sequence_number for t in r.sent] == [0, 1, 2, 3] and r.sent[-1].fdu_id == 50
    assert r.fop.nn_r == 2 and r.fop.outstanding == 2


def test_retransmission_resends_the_same_frames_and_alerts_at_the_limit() -> None:
    """Initiate AD retransmission (§5.2.6) marks every unacknowledged frame; they go again with the same
    N(S); T1 expiring with the limit reached (E17, timeout type 0) alerts and purges, confirming nothing."""
    r = Rig(transmission_limit=3)
    r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK)
    r.send(2)
    for k in (2, 3):
        assert r.expire().event is FopEvent.E16 and r.fop.transmission_count == k
    assert [t.frame.sequence_number for t in r.sent] == [0, 1, 0, 1, 0, 1]
    assert [t.retransmission for t in r.sent] == [False, False, True, True, True, True]
    assert r.expire().event is FopEvent.E17
    assert Alerted(AlertReason.T1) in r.outputs and r.fop.state is S6
    assert [o.fdu_id for o in r.outputs if isinstance(o, FduResponse) and o.response == "not_confirmed"] == [0, 1]
    assert not [o for o in r.outputs if isinstance(o, FduResponse) and o.response == "confirmed"]


def test_initiate_with_set_vr_sends_the_bc_frame_and_the_clcw_confirms_it() -> None:
    """E27: V(S) = NN(R) = V*(R), a BC frame 82 00 V*(R) (232.1-B-2 §4.1.3.3) is sent and retransmitted on
    T1 (E16 in S5), and the first CLCW with N(R) = V*(R) confirms the directive (E1 in S5)."""
    r = Rig()
    r.directive(D.INITIATE_AD_WITH_SET_VR, 200)
    bc = r.sent[-1]
    assert bc.kind is FrameKind.BC and bc.frame.frame_type is FrameType.BC
    assert bc.frame.data == b"\x82\x00\xc8" and decode_control_command(bc.frame.data) == SetVr(200)
    assert r.expire().event is FopEvent.E16 and r.sent[-1].retransmission and r.sent[-1].frame == bc.frame
    r.clcw(200)
    assert DirectiveResponse("INITIATE_AD_WITH_SET_VR", FopEvent.E27, "confirmed") in r.outputs
    assert r.fop.state is S1 and (r.fop.v_s, r.fop.nn_r) == (200, 200)
    r.send(1)
    assert r.sent[-1].frame.sequence_number == 200
    unlock = Rig()
    unlock.directive(D.INITIATE_AD_WITH_UNLOCK)
    assert unlock.sent[-1].frame.data == b"\x00" and decode_control_command(unlock.sent[-1].frame.data) == Unlock()


def test_an_initiate_whose_clcw_check_times_out_is_not_confirmed() -> None:
    r = Rig()
    r.directive(D.INITIATE_AD_WITH_CLCW_CHECK)
    assert r.expire().event is FopEvent.E16 and r.fop.state is S6
    assert DirectiveResponse("INITIATE_AD_WITH_CLCW_CHECK", FopEvent.E24, "not_confirmed",
                             f"COP-1 alert T1: {AlertReason.T1.value}") in r.outputs


def test_directive_values_are_checked() -> None:
    r = Rig()
    for d, bad in ((D.SET_SLIDING_WINDOW, 0), (D.SET_SLIDING_WINDOW, 256), (D.SET_T1_INITIAL, 0),
                   (D.SET_TRANSMISSION_LIMIT, 0), (D.SET_TIMEOUT_TYPE, 2), (D.SET_VS, 256),
                   (D.INITIATE_AD_WITH_SET_VR, -1), (D.SET_SLIDING_WINDOW, True)):
        with pytest.raises(LocalProtocolError):
            r.fop.directive(d, 0.0, value=bad)
    with pytest.raises(LocalProtocolError, match="FDU"):
        r.fop.request_ad(fdu(1, FrameType.BD), 1, 0.0)
    with pytest.raises(LocalProtocolError, match="SCID/VCID"):
        r.fop.request_ad(TcFrame(scid=SCID, vcid=3, data=b"x"), 1, 0.0)


# ------------------------------------------------------------------ FOP-1 and FARM-1 over a bad channel
def _fly(seed: int, n: int, up_loss: float, down_loss: float, dup: float, reorder: float, *,
         limit: int = 100, steps: int = 4000) -> tuple[list[int], list[object], list[object], Fop1]:
    """FOP-1 -> lossy, duplicating, reordering uplink -> FARM-1; CLCWs back over a lossy downlink."""
    rng = random.Random(seed)
    fop = Fop1(SCID, VC, window=8, t1_s=0.5, transmission_limit=limit)
    farm = Farm1(VC, window=64)
    executed: list[int] = []
    outputs: list[object] = []
    in_flight: list[TcFrame] = []
    now = 0.0
    todo = list(range(n))
    fop.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK, now)

    def pump() -> None:
        outs = fop.take_outputs()
        while outs:
            outputs.extend(outs)
            for o in outs:
                if isinstance(o, Transmit):
                    if rng.random() >= up_loss:
                        in_flight.append(o.frame)
                        if rng.random() < dup:
                            in_flight.append(o.frame)
                    fop.lower_layer(o.kind, True, now)
            outs = fop.take_outputs()

    for _ in range(steps):
        now += 0.05
        if todo and fop.wait_queue_free and fop.state is S1 or (todo and fop.wait_queue_free and fop.state is S2):
            k = todo.pop(0)
            fop.request_ad(TcFrame(scid=SCID, vcid=VC, data=k.to_bytes(2, "big"), frame_type=FrameType.AD), k, now)
        pump()
        if len(in_flight) > 1 and rng.random() < reorder:
            i, j = rng.randrange(len(in_flight)), rng.randrange(len(in_flight))
            in_flight[i], in_flight[j] = in_flight[j], in_flight[i]
        if in_flight:
            frame = in_flight.pop(0)
            if farm.frame(frame).accepted:
                executed.append(int.from_bytes(frame.data, "big"))
        if rng.random() >= down_loss:
            fop.clcw(farm.clcw(), now)
        fop.tick(now)
        pump()
        if not todo and fop.outstanding == 0 and fop.wait_queue_free:
            break
    return executed, outputs, todo, fop


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 1 << 30), st.floats(0, 0.5), st.floats(0, 0.5), st.floats(0, 0.3), st.floats(0, 0.5),
       st.sampled_from([1, 2, 100]))
def test_farm_never_runs_a_frame_twice_or_out_of_order_and_fop_confirms_only_what_ran(
        seed: int, up_loss: float, down_loss: float, dup: float, reorder: float, limit: int) -> None:
    """Over random loss both ways, duplication and reordering: what FARM-1 accepts is a prefix of what was
    requested, in order, each once; FOP-1 positively confirms only frames FARM-1 accepted; and whatever
    FOP-1 did not confirm it reported as not confirmed (after an alert) or still holds."""
    executed, outputs, _todo, fop = _fly(seed, 30, up_loss, down_loss, dup, reorder, limit=limit, steps=1500)
    assert executed == list(range(len(executed)))
    confirmed = [o.fdu_id for o in outputs if isinstance(o, FduResponse) and o.response == "confirmed"]
    assert confirmed == list(range(len(confirmed))) and set(confirmed) <= set(executed)
    accepted = [o.fdu_id for o in outputs if isinstance(o, FduResponse) and o.response == "accepted"]
    ended = confirmed + [o.fdu_id for o in outputs if isinstance(o, FduResponse)
                         and o.response in ("not_confirmed", "rejected")]
    held = [s.fdu_id for s in fop.sent]
    assert sorted(ended + held) == sorted(set(accepted) | {o.fdu_id for o in outputs if isinstance(o, FduResponse)
                                                           and o.response == "rejected"})


def test_twenty_percent_loss_both_ways_delivers_everything_once_in_order() -> None:
    executed, outputs, todo, fop = _fly(7, 300, 0.2, 0.2, 0.05, 0.1)
    assert executed == list(range(300)) and not todo and fop.state is S1
    assert not [o for o in outputs if isinstance(o, Alerted)]
    assert fop.retransmissions > 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["clcw", "tick", "ad", "bd", "ll", "dir"]), st.integers(0, 0xFFFFFFFF),
                          st.integers(-3, 300)), max_size=40))
def test_fuzzed_inputs_raise_only_protocol_errors(steps: list[tuple[str, int, int]]) -> None:
    fop = Fop1(SCID, VC)
    now = 0.0
    for kind, word, value in steps:
        now += 0.3
        try:
            if kind == "clcw":
                fop.clcw(Clcw.from_int(word), now)
            elif kind == "tick":
                fop.tick(now + value)
            elif kind == "ad":
                fop.request_ad(fdu(value), value, now)
            elif kind == "bd":
                fop.request_bd(fdu(value, FrameType.BD), value, now)
            elif kind == "ll":
                fop.lower_layer(list(FrameKind)[word % 3], bool(word & 4), now)
            else:
                fop.directive(list(FopDirective)[word % len(FopDirective)], now, value=value)
        except ProtocolError:
            pass
        fop.take_outputs()
        assert fop.outstanding <= fop.window and (fop.state is not S6 or fop.outstanding == 0)
