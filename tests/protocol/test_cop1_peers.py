"""COP-1 against what two peer implementations test: the bytes of dariol83/ccsds's CLCW and TC frame tests
(ClcwBuilderTest, ClcwTest, TcTransferFrameTest, TcSenderVirtualChannelTest: Unlock and Set V(R)) and the
FOP-1 scenarios of Yamcs's Cop1TcPacketHandlerTest, replayed on our FOP-1 with Yamcs's own CLCW words.

The vectors and scenario outcomes are facts taken from those test suites; the code here is ours."""

from __future__ import annotations

import pytest

from protocol.clcw import Clcw, CopInEffect
from protocol.cop1 import (
    AlertReason,
    Alerted,
    DirectiveResponse,
    Farm1,
    FduResponse,
    FopDirective,
    FopState,
    FrameKind,
    Suspended,
    Transmit,
)
from protocol.errors import LocalProtocolError, RemoteProtocolError
from protocol.tcframe import FrameType, SetVr, TcFrame, Unlock, decode_control_command
from tests.protocol.test_cop1_fop import Rig

D = FopDirective
S1, S2, S3, S4, S5, S6 = (FopState.ACTIVE, FopState.RETRANSMIT_WITHOUT_WAIT, FopState.RETRANSMIT_WITH_WAIT,
                          FopState.INITIALISING_WITHOUT_BC, FopState.INITIALISING_WITH_BC, FopState.INITIAL)


# ------------------------------------------------------------------ dariol83/ccsds bytes
def test_clcw_bytes_match_dariol83_clcw_builder() -> None:
    """ClcwBuilderTest.testClcwEncoding: COP-1 in effect, No RF Available, Lockout, FARM-B counter 3,
    report value 137 on VC 0 is 01 00 A6 89 (232.0-B-4 §4.2.1)."""
    clcw = Clcw(vcid=0, report_value=137, no_rf_available=True, lockout=True, farm_b_counter=3)
    assert clcw.encode() == bytes.fromhex("0100A689")
    back = Clcw.decode(bytes.fromhex("0100A689"))
    assert back == clcw and back.cop_in_effect is CopInEffect.COP1
    assert (back.report_value, back.farm_b_counter, back.status_field) == (137, 3, 0)
    assert (back.no_rf_available, back.no_bit_lock, back.lockout, back.wait, back.retransmit) == (
        True, False, True, False, False)


def test_dariol83_non_standard_clcw_is_refused_naming_the_field() -> None:
    """dariol83's ClcwTest decodes 00 02 A6 89 (COP in effect 0, reserved spare 2) as a 'non-standard'
    CLCW. 232.0-B-4 §4.2.1.5 sets those spare bits to 0 and COP-1 is the only COP we run, so we refuse it,
    typed, naming the field, its offset and value: the station counts it as ``ocf_invalid``."""
    with pytest.raises(RemoteProtocolError) as e:
        Clcw.decode(bytes.fromhex("0002A689"))
    assert e.value.field == "COP in effect" and e.value.offset == 0 and e.value.value == 0


def test_tc_frame_from_dariol83_decodes_and_farm1_accepts_it() -> None:
    """TcTransferFrameTest: 20 7B 00 17 17 | C1 | 00..0F | 0D EF is SCID 123, VC 0, frame 23, bypass flag
    set (a BD frame), segment header 'no segmentation' (sequence flags 11, MAP 1), a valid FECF. FARM-1
    accepts it whatever V(R) is (Table 6-1 E6: BD bypasses), counts it in FARM-B and leaves V(R) alone."""
    raw = bytes.fromhex("207B001717C1000102030405060708090A0B0C0D0E0F0DEF")
    frame = TcFrame.decode(raw, segment_header=True)
    assert (frame.scid, frame.vcid, frame.sequence_number, frame.frame_type) == (123, 0, 23, FrameType.BD)
    assert frame.segment is not None and (frame.segment.sequence_flags, frame.segment.map_id) == (3, 1)
    assert frame.data == bytes(range(16))
    assert frame.encode() == raw  # and we build the same octets back, FECF included
    farm = Farm1(0, window=64)
    farm.v_r = 200
    assert farm.frame(frame).accepted
    assert (farm.clcw().report_value, farm.clcw().farm_b_counter) == (200, 1)


def test_bc_frames_match_dariol83_unlock_and_set_vr() -> None:
    """TcSenderVirtualChannelTest.testUnlock / testSetVr: a BC frame has the bypass and control command
    flags set, no segment header, and a data field of 00 (Unlock) or 82 00 2A (Set V(R) = 42)
    (232.0-B-4 §4.1.3.3). Our FOP-1 sends exactly these for Initiate AD with Unlock / with Set V(R)."""
    for directive, value, data, command in ((D.INITIATE_AD_WITH_UNLOCK, None, b"\x00", Unlock()),
                                            (D.INITIATE_AD_WITH_SET_VR, 42, b"\x82\x00\x2a", SetVr(42))):
        r = Rig()
        r.directive(directive, value)
        bc = r.sent[-1].frame
        assert r.sent[-1].kind is FrameKind.BC and bc.frame_type is FrameType.BC
        assert bc.data == data and decode_control_command(bc.data) == command
        raw = bc.encode()
        assert raw[0] & 0x30 == 0x30  # bypass flag, control command flag
        frame_length = ((raw[2] & 0x03) << 8 | raw[3]) + 1
        assert frame_length == len(raw) == 5 + len(data) + 2  # primary header, data field, FECF
        assert TcFrame.decode(raw, segment_header=True).data == data  # BC frames never carry a segment header


# ------------------------------------------------------------------ Yamcs's FOP-1 scenarios
def yamcs_clcw(lockout: bool, wait: bool, retransmit: bool, n_r: int, vcid: int = 0) -> Clcw:
    """The CLCW word Yamcs's test builds: COP-1 in effect (bit 24), VCID << 18, lockout bit 13, wait bit 12,
    retransmit bit 11, N(R) in the low octet. Decoded by our decoder, not built by our encoder."""
    word = (1 << 24) + (vcid << 18) + (lockout << 13) + (wait << 12) + (retransmit << 11) + n_r
    return Clcw.from_int(word)


def feed(r: Rig, *flags_and_nr: object) -> None:
    r.fop.clcw(yamcs_clcw(*flags_and_nr), r.now)  # type: ignore[arg-type]
    r.pump()


def alerts(r: Rig) -> list[AlertReason]:
    return [o.reason for o in r.outputs if isinstance(o, Alerted)]


def ad_sent(r: Rig) -> list[Transmit]:
    return [t for t in r.sent if t.kind is FrameKind.AD]


def test_yamcs_clcw_words_decode_to_the_flags_they_set() -> None:
    for lockout in (False, True):
        for wait in (False, True):
            for retransmit in (False, True):
                c = yamcs_clcw(lockout, wait, retransmit, 200, vcid=5)
                assert (c.lockout, c.wait, c.retransmit, c.report_value, c.vcid) == (
                    lockout, wait, retransmit, 200, 5)


@pytest.mark.parametrize("timeout_type", [0, 1])
def test_yamcs_init_with_vr_bc_timeout(timeout_type: int) -> None:
    """testInitWithVR_BCTimeout_tt0/_tt1: limit 3, the BC frame goes out 3 times, then alert T1 (in S5 both
    timeout types alert: Table 5-1 E17/E18), S6."""
    r = Rig(transmission_limit=3, timeout_type=timeout_type)
    r.directive(D.INITIATE_AD_WITH_SET_VR, 3)
    assert r.fop.state is S5
    for _ in range(3):
        r.expire()
    bcs = [t for t in r.sent if t.kind is FrameKind.BC]
    assert len(bcs) == 3 and all(t.frame.frame_type is FrameType.BC for t in bcs)
    assert alerts(r) == [AlertReason.T1] and r.fop.state is S6


def test_yamcs_init_with_clcw_check_timeout() -> None:
    """testInitWithCLCWCheck_Timeout_tt1 (suspend, suspended in S4) and _tt0 (alert T1); both end in S6."""
    r = Rig(transmission_limit=3, timeout_type=1)
    r.directive(D.INITIATE_AD_WITH_CLCW_CHECK)
    assert r.fop.state is S4
    r.expire()
    assert Suspended(4) in r.outputs and r.fop.state is S6 and not alerts(r)
    r = Rig(transmission_limit=3, timeout_type=0)
    r.directive(D.INITIATE_AD_WITH_CLCW_CHECK)
    r.expire()
    assert alerts(r) == [AlertReason.T1] and r.fop.state is S6


def test_yamcs_init_with_clcw_check() -> None:
    """testInitWithClwCheck: V(S) 10, the check times out (alert T1, S6); again, and a CLCW N(R) = 10 ends it
    in S1."""
    r = Rig(timeout_type=0)
    r.directive(D.SET_VS, 10)
    r.directive(D.INITIATE_AD_WITH_CLCW_CHECK)
    r.expire()
    assert alerts(r) == [AlertReason.T1] and r.fop.state is S6
    r.directive(D.INITIATE_AD_WITH_CLCW_CHECK)
    assert r.fop.state is S4
    feed(r, False, False, False, 10)
    assert r.fop.state is S1


def test_yamcs_lockout_and_unlock() -> None:
    r = Rig()
    r.directive(D.SET_VS, 10)
    r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK)
    feed(r, True, False, False, 10)
    assert alerts(r) == [AlertReason.LOCKOUT] and r.fop.state is S6
    r.directive(D.INITIATE_AD_WITH_UNLOCK)
    assert r.fop.state is S5
    feed(r, False, False, False, 10)
    assert r.fop.state is S1


def test_yamcs_wait_without_retransmit() -> None:
    """testWaitWithoutRetransmit: Wait set with Retransmit clear is an invalid CLCW: alert CLCW, with or
    without a frame outstanding."""
    r = Rig()
    r.directive(D.SET_VS, 10)
    r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK)
    feed(r, False, True, False, 10)
    assert alerts(r) == [AlertReason.CLCW] and r.fop.state is S6
    r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK)
    r.send(1)
    feed(r, False, True, False, 10)
    assert alerts(r) == [AlertReason.CLCW, AlertReason.CLCW] and r.fop.state is S6


def test_yamcs_transmission_limit_1() -> None:
    r = Rig(transmission_limit=1)
    r.directive(D.SET_VS, 10)
    r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK)
    r.send(1)
    assert ad_sent(r)[-1].frame.sequence_number == 10
    feed(r, False, False, True, 10)
    assert alerts(r) == [AlertReason.LIMIT] and r.fop.state is S6


def test_yamcs_init_with_vr_then_ad_timeout() -> None:
    """testInitWithVR_ADTimeout: Set V(R) 3 confirmed by N(R) 3; an AD frame numbered 3 goes out and is
    retransmitted twice on T1 (limit 3), then alert T1, S6."""
    r = Rig(transmission_limit=3, timeout_type=0)
    r.directive(D.INITIATE_AD_WITH_SET_VR, 3)
    assert r.sent[-1].kind is FrameKind.BC
    feed(r, False, False, False, 3)
    assert r.fop.state is S1
    r.send(1)
    for _ in range(3):
        r.expire()
    assert [t.frame.sequence_number for t in ad_sent(r)] == [3, 3, 3]
    assert [t.retransmission for t in ad_sent(r)] == [False, True, True]
    assert alerts(r) == [AlertReason.T1] and r.fop.state is S6


@pytest.mark.parametrize("acks", [(4, 5), (5,)], ids=["each-acked", "one-ack-missing"])
def test_yamcs_two_frames(acks: tuple[int, ...]) -> None:
    """test2frames / test2framesAckWithDelay / test2frames_OneAckMissing: frames 3 and 4; N(R) 5 confirms
    both, with or without N(R) 4 first; S1; Terminate AD ends in S6."""
    r = Rig()
    r.directive(D.INITIATE_AD_WITH_SET_VR, 3)
    feed(r, False, False, False, 3)
    r.send(2)
    for n_r in acks:
        feed(r, False, False, False, n_r)
    assert r.fop.state is S1 and [t.frame.sequence_number for t in ad_sent(r)] == [3, 4]
    assert [o.fdu_id for o in r.outputs if isinstance(o, FduResponse) and o.response == "confirmed"] == [0, 1]
    r.directive(D.TERMINATE_AD)
    assert r.fop.state is S6


def test_yamcs_two_frames_retransmit_then_invalid() -> None:
    """test2frames_retx: Retransmit with N(R) 3 resends frames 3 and 4, the same frames, in S2.
    test2frames_retx_invl: then a CLCW without Retransmit and N(R) still 3 is alert SYNCH (E4 in S2)."""
    r = Rig()
    r.directive(D.INITIATE_AD_WITH_SET_VR, 3)
    feed(r, False, False, False, 3)
    r.send(2)
    first = [t.frame for t in ad_sent(r)]
    feed(r, False, False, True, 3)
    assert r.fop.state is S2 and [t.frame for t in ad_sent(r)][2:] == first
    feed(r, False, False, False, 3)
    assert alerts(r) == [AlertReason.SYNCH] and r.fop.state is S6


def test_yamcs_retransmit_limit_reached_by_clcw() -> None:
    """test2frames_retr_timeout: limit 2, V(S) 3; Retransmit resends both frames; a second Retransmit finds
    the limit reached: nothing is sent (E12 is Ignore in S2) and the alert comes when T1 expires (E17), as
    in Yamcs's test, which waits 1 s for it with T1 = 100 ms."""
    r = Rig(transmission_limit=2, timeout_type=0)
    r.directive(D.SET_VS, 3)
    r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK)
    r.send(2)
    feed(r, False, False, True, 3)
    assert len(ad_sent(r)) == 4
    feed(r, False, False, True, 3)
    assert len(ad_sent(r)) == 4 and r.fop.state is S2 and not alerts(r)
    r.expire()
    assert len(ad_sent(r)) == 4 and alerts(r) == [AlertReason.T1] and r.fop.state is S6


def test_yamcs_timer_then_retransmit_limit() -> None:
    """test2frames_timeout_retr: limit 2; a CLCW acknowledging nothing changes nothing; T1 resends both;
    then Retransmit finds the limit reached: nothing sent, and T1's expiry alerts (E12 then E17), S6."""
    r = Rig(transmission_limit=2, timeout_type=0)
    r.directive(D.SET_VS, 3)
    r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK)
    assert r.fop.state is S1
    r.send(2)
    feed(r, False, False, False, 3)
    assert len(ad_sent(r)) == 2 and r.fop.state is S1
    r.expire()
    assert len(ad_sent(r)) == 4
    feed(r, False, False, True, 3)
    assert len(ad_sent(r)) == 4 and r.fop.state is S2
    r.expire()
    assert len(ad_sent(r)) == 4 and alerts(r) == [AlertReason.T1] and r.fop.state is S6


def test_yamcs_three_frames_across_the_wrap() -> None:
    """test3frames_retx: V(S) 255, frames 255, 0, 1; Retransmit with N(R) 0 acknowledges 255 and resends 0
    and 1, in S2."""
    r = Rig(transmission_limit=2)
    r.directive(D.SET_VS, 255)
    r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK)
    r.send(3)
    feed(r, False, False, True, 0)
    assert r.fop.state is S2
    assert [t.frame.sequence_number for t in ad_sent(r)] == [255, 0, 1, 0, 1]


def test_yamcs_wait() -> None:
    """test2frames_wait: Retransmit with Wait holds everything (S3), also when it acknowledges frame 3; then
    Retransmit without Wait resends frame 4 only (S2)."""
    r = Rig()
    r.directive(D.INITIATE_AD_WITH_SET_VR, 3)
    feed(r, False, False, False, 3)
    r.send(2)
    feed(r, False, True, True, 3)
    assert r.fop.state is S3 and len(ad_sent(r)) == 2
    feed(r, False, True, True, 4)
    assert r.fop.state is S3 and len(ad_sent(r)) == 2
    feed(r, False, False, True, 4)
    assert r.fop.state is S2 and [t.frame.sequence_number for t in ad_sent(r)] == [3, 4, 4]


@pytest.mark.parametrize("flags_nr, reason", [((False, False, True, 4), AlertReason.SYNCH),
                                              ((False, False, False, 5), AlertReason.NNR)],
                         ids=["retransmit-with-all-acked", "n_r-beyond-v_s"])
def test_yamcs_invalid_clcw(flags_nr: tuple, reason: AlertReason) -> None:
    """testInvl_retx (Retransmit set although N(R) = V(S): SYNCH) and testBrokenSync (N(R) 5 beyond V(S) 4:
    NNR)."""
    r = Rig()
    r.directive(D.SET_VS, 3)
    r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK)
    r.send(1)
    feed(r, *flags_nr)
    assert alerts(r) == [reason] and r.fop.state is S6


def test_yamcs_suspend_resume() -> None:
    """testSuspendResume: Resume when not suspended is rejected; with Timeout_Type 1 and limit 3, T1 resends
    the frame twice then suspends (S6, suspended in S1); Resume and N(R) 4 bring it back to S1."""
    r = Rig(transmission_limit=3, timeout_type=1)
    r.directive(D.SET_VS, 3)
    r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK)
    r.directive(D.RESUME_AD)
    assert [o.response for o in r.outputs if isinstance(o, DirectiveResponse)
            and o.directive_id == "RESUME_AD"] == ["rejected"]
    r.send(1)
    for _ in range(3):
        r.expire()
    assert len(ad_sent(r)) == 3 and Suspended(1) in r.outputs and r.fop.state is S6
    r.directive(D.RESUME_AD)
    feed(r, False, False, False, 4)
    assert r.fop.state is S1 and not alerts(r)


def test_yamcs_bd_frame() -> None:
    r = Rig()
    r.fop.request_bd(TcFrame(scid=r.fop.scid, vcid=0, data=b"\x00" * 200, frame_type=FrameType.BD), "bd", 0.0)
    r.pump()
    assert r.sent[-1].kind is FrameKind.BD and r.sent[-1].frame.encode()[0] & 0x30 == 0x20  # bypass, data


def test_yamcs_invalid_requests() -> None:
    """testInvalidReq: in S1, Set V(S) and every Initiate AD are rejected (Table 5-1 E35 and E23-E27 outside
    S6); a window of 1000, a timeout type of 5 and V*(R) -10 are refused; the state stays S1."""
    r = Rig()
    r.directive(D.SET_VS, 3)
    r.directive(D.INITIATE_AD_WITHOUT_CLCW_CHECK)
    assert r.fop.state is S1
    before = len(r.outputs)
    for d, value in ((D.SET_VS, 3), (D.INITIATE_AD_WITH_UNLOCK, None), (D.INITIATE_AD_WITHOUT_CLCW_CHECK, None),
                     (D.INITIATE_AD_WITH_SET_VR, 8)):
        r.directive(d, value)
    responses = [o.response for o in r.outputs[before:] if isinstance(o, DirectiveResponse)]
    assert responses == ["rejected"] * 4
    for d, value in ((D.SET_SLIDING_WINDOW, 1000), (D.SET_TIMEOUT_TYPE, 5), (D.INITIATE_AD_WITH_SET_VR, -10)):
        with pytest.raises(LocalProtocolError):
            r.fop.directive(d, r.now, value=value)
    r.directive(D.SET_SLIDING_WINDOW, 1)
    assert r.fop.state is S1 and r.fop.window == 1
