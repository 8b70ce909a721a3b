"""COP-1, the Communications Operation Procedure-1 (CCSDS 232.1-B-2): FARM-1 on board, FOP-1 on the ground.

Sans-IO, like the rest of :mod:`protocol`: frames, CLCWs, directives and the
time (``now_s``) go in, decisions and actions come out; nothing here reads a
clock, a socket or a file.

* :class:`Farm1` -- the Frame Acceptance and Reporting Mechanism (§6): the
  receiving end of one virtual channel. Each valid TC frame is classified as
  one of the events E1-E8 of the FARM-1 state table (Table 6-1), the table
  says what to do, and :meth:`Farm1.clcw` reports the state in the CLCW that
  every downlink frame carries.

* :class:`Fop1` -- the Frame Operation Procedure (§5): the sending end of one
  virtual channel. Requests to transfer FDUs (AD or BD), management
  directives (Initiate/Terminate/Resume AD, Set V(S), window, T1, limit,
  timeout type), CLCWs, the timer and the lower layer's answers are the
  events E1-E46 (and E101-E104 of revision B) of the FOP-1 state table
  (Table 5-1); its outputs are frames to transmit (FOP-1 numbers AD frames
  with V(S)), responses about FDUs and directives, alerts and suspends.

Both state tables are data (:data:`FARM_TABLE`, :data:`FOP_TABLE`: event,
state -> actions, next state), in the manner of h11's: the code applies them
and never decides anything the tables do not say. Where the tables' event
conditions overlap or leave a case open, this follows the reading of Yamcs's
FOP-1 (the one public implementation operators use): E1/E2 in S4/S5 both
complete the initialisation (where the table has them "not applicable"), and
BD_Accept (E45) gives no second Accept Response. Set V(S) with a
Suspend_State other than 0 is the invalid directive (E40). E15 (an invalid
CLCW) is not an event here: a word that is no valid CLCW never reaches
FOP-1 (the demultiplexer counts it, ``ocf_invalid``). Purging the Sent_Queue
leaves NN(R) as it was (Yamcs sets it to V(S); the standard does not).

Choices left to the implementation by 232.1-B-2, made here:

* The FARM sliding window width W (§6.1.8.2) is a managed parameter, even,
  2..254; the positive and negative windows are W/2 each (PW = NW = W/2).
* The "buffer" FARM-1 delivers accepted frames into is the on-board
  software's command input. It is free unless the caller says otherwise with
  :meth:`Farm1.buffer_full`; :meth:`Farm1.buffer_released` is the Buffer
  Release Signal (event E10). A frame delivered while the buffer is full is
  E2 (discarded, Wait flag set), as the standard has it.
* The FARM-B counter (§6.1.6) is kept in full here; the CLCW carries its
  two least significant bits.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import TypeVar

from .clcw import Clcw
from .errors import LocalProtocolError, ProtocolError, check_range
from .tcframe import FrameType, SetVr, TcFrame, Unlock, decode_control_command

__all__ = [
    "FarmState",
    "FarmEvent",
    "FarmAction",
    "FARM_TABLE",
    "FarmVerdict",
    "Farm1",
    "farm_event",
    "FARM_WINDOW",
    "FopState",
    "FopEvent",
    "FopAction",
    "FopDirective",
    "FOP_TABLE",
    "AlertReason",
    "FrameKind",
    "Transmit",
    "FduResponse",
    "DirectiveResponse",
    "Alerted",
    "Suspended",
    "FopTransition",
    "Fop1",
]

LAYER = "FARM-1"
MODULO = 256  # frame sequence numbers N(S), V(R) are 8-bit: all their arithmetic is modulo 256 (§6.2.1 note)
#: The FARM sliding window width W this toolkit's spacecraft uses: PW = 32, so a FOP window K up to 32 never
#: sends a frame into the lockout area however many before it are lost (K <= PW, §5.1.12 / §6.1.8)
FARM_WINDOW = 64


class FarmState(enum.Enum):
    """The states of FARM-1 (§6.3.2)."""

    OPEN = "S1"
    WAIT = "S2"
    LOCKOUT = "S3"


class FarmEvent(enum.Enum):
    """The events of the FARM-1 state table (Table 6-1, §6.3.3)."""

    E1 = "AD frame, N(S) = V(R), buffer free"
    E2 = "AD frame, N(S) = V(R), no buffer free"
    E3 = "AD frame, N(S) > V(R), within the positive window"
    E4 = "AD frame, N(S) < V(R), within the negative window"
    E5 = "AD frame, N(S) in the lockout area"
    E6 = "BD frame"
    E7 = "BC frame: Unlock"
    E8 = "BC frame: Set V(R)"
    E9 = "invalid frame"
    E10 = "buffer release signal"


class FarmAction(enum.Enum):
    """What an entry of the table does (§6.2)."""

    ACCEPT = "accept"  # hand the frame's data on
    DISCARD = "discard"
    RETRANSMIT_ON = "Retransmit_Flag := 1"
    RETRANSMIT_OFF = "Retransmit_Flag := 0"
    WAIT_ON = "Wait_Flag := 1"
    WAIT_OFF = "Wait_Flag := 0"
    LOCKOUT_ON = "Lockout_Flag := 1"
    LOCKOUT_OFF = "Lockout_Flag := 0"
    INCREMENT_VR = "V(R) := V(R) + 1"
    SET_VR = "V(R) := V*(R)"
    INCREMENT_FARM_B = "FARM-B_Counter := FARM-B_Counter + 1"
    IGNORE = "ignore"


S1, S2, S3 = FarmState.OPEN, FarmState.WAIT, FarmState.LOCKOUT
A = FarmAction

#: The FARM-1 state table, Table 6-1 of 232.1-B-2: (state, event) -> (actions in order, next state).
#: (S2, E1) is absent: in Wait no buffer is free, so E1 cannot occur there (a buffer frees only by E10,
#: which leaves Wait).
FARM_TABLE: dict[tuple[FarmState, FarmEvent], tuple[tuple[FarmAction, ...], FarmState]] = {
    (S1, FarmEvent.E1): ((A.ACCEPT, A.RETRANSMIT_OFF, A.INCREMENT_VR), S1),
    (S3, FarmEvent.E1): ((A.DISCARD,), S3),
    (S1, FarmEvent.E2): ((A.DISCARD, A.RETRANSMIT_ON, A.WAIT_ON), S2),
    (S2, FarmEvent.E2): ((A.DISCARD,), S2),
    (S3, FarmEvent.E2): ((A.DISCARD,), S3),
    (S1, FarmEvent.E3): ((A.DISCARD, A.RETRANSMIT_ON), S1),
    (S2, FarmEvent.E3): ((A.DISCARD,), S2),
    (S3, FarmEvent.E3): ((A.DISCARD,), S3),
    (S1, FarmEvent.E4): ((A.DISCARD,), S1),
    (S2, FarmEvent.E4): ((A.DISCARD,), S2),
    (S3, FarmEvent.E4): ((A.DISCARD,), S3),
    (S1, FarmEvent.E5): ((A.DISCARD, A.LOCKOUT_ON), S3),
    (S2, FarmEvent.E5): ((A.DISCARD, A.LOCKOUT_ON), S3),
    (S3, FarmEvent.E5): ((A.DISCARD,), S3),
    (S1, FarmEvent.E6): ((A.ACCEPT, A.INCREMENT_FARM_B), S1),
    (S2, FarmEvent.E6): ((A.ACCEPT, A.INCREMENT_FARM_B), S2),
    (S3, FarmEvent.E6): ((A.ACCEPT, A.INCREMENT_FARM_B), S3),
    (S1, FarmEvent.E7): ((A.INCREMENT_FARM_B, A.RETRANSMIT_OFF), S1),
    (S2, FarmEvent.E7): ((A.INCREMENT_FARM_B, A.RETRANSMIT_OFF, A.WAIT_OFF), S1),
    (S3, FarmEvent.E7): ((A.INCREMENT_FARM_B, A.RETRANSMIT_OFF, A.WAIT_OFF, A.LOCKOUT_OFF), S1),
    (S1, FarmEvent.E8): ((A.INCREMENT_FARM_B, A.RETRANSMIT_OFF, A.SET_VR), S1),
    (S2, FarmEvent.E8): ((A.INCREMENT_FARM_B, A.RETRANSMIT_OFF, A.WAIT_OFF, A.SET_VR), S1),
    (S3, FarmEvent.E8): ((A.INCREMENT_FARM_B,), S3),
    (S1, FarmEvent.E9): ((A.IGNORE,), S1),
    (S2, FarmEvent.E9): ((A.IGNORE,), S2),
    (S3, FarmEvent.E9): ((A.IGNORE,), S3),
    (S1, FarmEvent.E10): ((A.IGNORE,), S1),
    (S2, FarmEvent.E10): ((A.WAIT_OFF,), S1),
    (S3, FarmEvent.E10): ((A.WAIT_OFF,), S3),
}


def farm_event(n_s: int, v_r: int, window: int, *, buffer_free: bool) -> FarmEvent:
    """The event (E1-E5) a valid AD frame with sequence number ``n_s`` is, for V(R) ``v_r`` and FARM
    sliding window width ``window`` (§6.3.3: PW = NW = W/2; the rest of the 256 numbers is the lockout area)."""
    ahead = (n_s - v_r) % MODULO
    half = window // 2
    if ahead == 0:
        return FarmEvent.E1 if buffer_free else FarmEvent.E2
    if ahead <= half - 1:  # V(R) < N(S) <= V(R) + PW - 1
        return FarmEvent.E3
    if MODULO - ahead <= half:  # V(R) - NW <= N(S) < V(R)
        return FarmEvent.E4
    return FarmEvent.E5


@dataclass(frozen=True, slots=True)
class FarmVerdict:
    """What FARM-1 did with one frame: the event it was, the actions taken, and whether its data goes on."""

    event: FarmEvent
    actions: tuple[FarmAction, ...]
    state_before: FarmState
    state: FarmState
    accepted: bool

    @property
    def reason(self) -> str:
        """Why, in words (for a log or a counter)."""
        return f"{self.event.name} ({self.event.value}) in {self.state_before.value} {self.state_before.name}"


class Farm1:
    """FARM-1 for one virtual channel (232.1-B-2 §6).

    Feed each valid TC frame of the VC (after the frame validation checks of
    231.0 and, with SDLS, after security processing) to :meth:`frame`; hand the
    frame's data on only when the verdict says ``accepted``. :meth:`clcw` is
    the report for the OCF of every TM frame.
    """

    def __init__(self, vcid: int, *, window: int = 10, v_r: int = 0) -> None:
        check_range(LAYER, "vcid", vcid, 0, 63)
        if isinstance(window, bool) or not isinstance(window, int) or not 2 <= window <= 254 or window % 2:
            raise LocalProtocolError(LAYER, "FARM sliding window width", window, "an even number 2..254")
        check_range(LAYER, "V(R)", v_r, 0, MODULO - 1)
        self.vcid = vcid
        self.window = window
        self.state = FarmState.OPEN
        self.v_r = v_r
        self.retransmit = False
        self.wait = False
        self.lockout = False
        self.farm_b_counter = 0
        self._buffer_free = True
        self.counts: dict[FarmEvent, int] = {e: 0 for e in FarmEvent}

    # -- inputs --
    def frame(self, frame: TcFrame) -> FarmVerdict:
        """Classify a valid frame of this VC, apply the table; accepted AD/BD frames go on to the user."""
        if frame.vcid != self.vcid:
            raise LocalProtocolError(LAYER, "frame VCID", frame.vcid, f"{self.vcid} (this FARM's VC)")
        v_star: int | None = None
        if frame.frame_type is FrameType.BD:
            event = FarmEvent.E6
        elif frame.frame_type is FrameType.BC:
            try:
                command = decode_control_command(frame.data)
            except ProtocolError:  # neither Unlock nor Set V(R): not a legal frame (§6.3.1), so E9
                return self._apply(FarmEvent.E9)
            if isinstance(command, SetVr):
                event, v_star = FarmEvent.E8, command.vr
            else:  # Unlock, the only other control command
                event = FarmEvent.E7
        else:
            event = farm_event(frame.sequence_number, self.v_r, self.window, buffer_free=self._buffer_free)
        return self._apply(event, v_star)

    def invalid_frame(self) -> FarmVerdict:
        """E9: a frame failed validation (counted; FARM-1 ignores it)."""
        return self._apply(FarmEvent.E9)

    def buffer_full(self) -> None:
        """The user can take no more frames: the next AD frame in sequence is E2 (Wait)."""
        self._buffer_free = False

    def buffer_released(self) -> FarmVerdict:
        """E10, the Buffer Release Signal: the user can take frames again."""
        self._buffer_free = True
        return self._apply(FarmEvent.E10)

    # -- outputs --
    def clcw(self, *, no_rf_available: bool = False, no_bit_lock: bool = False, status_field: int = 0) -> Clcw:
        """The CLCW reporting this FARM (§4.2 of 232.1-B-2 / §4.2.1.11 of 232.0-B-4); the physical-layer
        flags come from the receiver, which FARM-1 does not see."""
        return Clcw(vcid=self.vcid, report_value=self.v_r, lockout=self.lockout, wait=self.wait,
                    retransmit=self.retransmit, farm_b_counter=self.farm_b_counter % 4,
                    no_rf_available=no_rf_available, no_bit_lock=no_bit_lock, status_field=status_field)

    def snapshot(self) -> dict[str, object]:
        """The state as plain values (to persist, or to report)."""
        return {"state": self.state.value, "v_r": self.v_r, "retransmit": self.retransmit, "wait": self.wait,
                "lockout": self.lockout, "farm_b_counter": self.farm_b_counter, "window": self.window}

    @classmethod
    def restore(cls, vcid: int, data: dict[str, object], *, window: int | None = None) -> Farm1:
        """A FARM from :meth:`snapshot` values; anything missing or out of range starts from the defaults
        (raises :class:`LocalProtocolError` only for ``vcid`` and ``window``)."""
        farm = cls(vcid, window=window if window is not None else _int(data.get("window"), 2, 254, 10, even=True))
        farm.v_r = _int(data.get("v_r"), 0, MODULO - 1, 0)
        try:
            farm.state = FarmState(data.get("state"))
        except ValueError:
            farm.state = FarmState.OPEN
        farm.retransmit = data.get("retransmit") is True
        farm.wait = data.get("wait") is True and farm.state is not FarmState.OPEN
        farm.lockout = farm.state is FarmState.LOCKOUT
        farm.farm_b_counter = _int(data.get("farm_b_counter"), 0, 1 << 62, 0)
        if farm.state is FarmState.WAIT:  # a restarted user's buffer is empty: the release comes at once
            farm.buffer_released()
        return farm

    # -- the table --
    def _apply(self, event: FarmEvent, v_star: int | None = None) -> FarmVerdict:
        before = self.state
        entry = FARM_TABLE.get((before, event))
        if entry is None:  # only (S2, E1), which frame() cannot produce
            raise LocalProtocolError(LAYER, "event", event.name, f"an event of state {before.name}")
        actions, after = entry
        accepted = False
        for action in actions:
            if action is A.ACCEPT:
                accepted = True
            elif action is A.RETRANSMIT_ON:
                self.retransmit = True
            elif action is A.RETRANSMIT_OFF:
                self.retransmit = False
            elif action is A.WAIT_ON:
                self.wait = True
            elif action is A.WAIT_OFF:
                self.wait = False
            elif action is A.LOCKOUT_ON:
                self.lockout = True
            elif action is A.LOCKOUT_OFF:
                self.lockout = False
            elif action is A.INCREMENT_VR:
                self.v_r = (self.v_r + 1) % MODULO
            elif action is A.SET_VR:
                self.v_r = _given(v_star, LAYER, "V*(R)")
            elif action is A.INCREMENT_FARM_B:
                self.farm_b_counter += 1
        self.state = after
        self.counts[event] += 1
        return FarmVerdict(event, actions, before, after, accepted)


_T = TypeVar("_T")


def _given(value: _T | None, layer: str, name: str) -> _T:
    """``value``, which the table entry being applied needs: an event without it is a caller's error."""
    if value is None:
        raise LocalProtocolError(layer, name, None, "a value with this event")
    return value


def _int(value: object, lo: int, hi: int, default: int, *, even: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi or (even and value % 2):
        return default
    return value


# =============================================================================== FOP-1

class FopState(enum.Enum):
    """The states of FOP-1 (§5.1.2)."""

    ACTIVE = "S1"
    RETRANSMIT_WITHOUT_WAIT = "S2"
    RETRANSMIT_WITH_WAIT = "S3"
    INITIALISING_WITHOUT_BC = "S4"
    INITIALISING_WITH_BC = "S5"
    INITIAL = "S6"

    @property
    def number(self) -> int:
        """1..6, as the Suspend_State remembers it."""
        return int(self.value[1])


class FopEvent(enum.Enum):
    """The events of the FOP-1 state table (Table 5-1, §5.3), with the revision-B additions E101-E104."""

    # a valid CLCW arrives (FOP-1 in S6 ignores every one)
    E1 = "CLCW: no lockout, N(R) = V(S), no retransmit, no wait, N(R) = NN(R)"
    E2 = "CLCW: no lockout, N(R) = V(S), no retransmit, no wait, N(R) != NN(R)"
    E3 = "CLCW: no lockout, N(R) = V(S), no retransmit, wait"
    E4 = "CLCW: no lockout, N(R) = V(S), retransmit"
    E5 = "CLCW: no lockout, NN(R) <= N(R) < V(S), no retransmit, no wait, N(R) = NN(R)"
    E6 = "CLCW: no lockout, NN(R) < N(R) < V(S), no retransmit, no wait"
    E7 = "CLCW: no lockout, NN(R) <= N(R) < V(S), no retransmit, wait"
    E101 = "CLCW: no lockout, NN(R) < N(R) < V(S), retransmit, Transmission_Limit = 1"
    E102 = "CLCW: no lockout, N(R) = NN(R) < V(S), retransmit, Transmission_Limit = 1"
    E8 = "CLCW: no lockout, NN(R) < N(R) < V(S), retransmit, Transmission_Limit > 1, no wait"
    E9 = "CLCW: no lockout, NN(R) < N(R) < V(S), retransmit, Transmission_Limit > 1, wait"
    E10 = "CLCW: no lockout, N(R) = NN(R) < V(S), retransmit, Transmission_Count < Transmission_Limit, no wait"
    E11 = "CLCW: no lockout, N(R) = NN(R) < V(S), retransmit, Transmission_Count < Transmission_Limit, wait"
    E12 = "CLCW: no lockout, N(R) = NN(R) < V(S), retransmit, Transmission_Count >= Transmission_Limit > 1, no wait"
    E103 = "CLCW: no lockout, N(R) = NN(R) < V(S), retransmit, Transmission_Count >= Transmission_Limit > 1, wait"
    E13 = "CLCW: no lockout, N(R) outside [NN(R), V(S)]"
    E14 = "CLCW: lockout"
    # timer T1 expires
    E16 = "timer expired, Transmission_Count < Transmission_Limit, Timeout_Type 0"
    E104 = "timer expired, Transmission_Count < Transmission_Limit, Timeout_Type 1"
    E17 = "timer expired, Transmission_Count >= Transmission_Limit, Timeout_Type 0"
    E18 = "timer expired, Transmission_Count >= Transmission_Limit, Timeout_Type 1"
    # requests from the higher procedures
    E19 = "request to transfer an FDU (AD), Wait_Queue empty"
    E20 = "request to transfer an FDU (AD), Wait_Queue not empty"
    E21 = "request to transfer an FDU (BD), BD_Out ready"
    E22 = "request to transfer an FDU (BD), BD_Out not ready"
    # directives from management
    E23 = "Initiate AD Service without CLCW check"
    E24 = "Initiate AD Service with CLCW check"
    E25 = "Initiate AD Service with Unlock, BC_Out ready"
    E26 = "Initiate AD Service with Unlock, BC_Out not ready"
    E27 = "Initiate AD Service with Set V(R), BC_Out ready"
    E28 = "Initiate AD Service with Set V(R), BC_Out not ready"
    E29 = "Terminate AD Service"
    E30 = "Resume AD Service, Suspend_State 0"
    E31 = "Resume AD Service, Suspend_State 1"
    E32 = "Resume AD Service, Suspend_State 2"
    E33 = "Resume AD Service, Suspend_State 3"
    E34 = "Resume AD Service, Suspend_State 4"
    E35 = "Set V(S)"
    E36 = "Set FOP_Sliding_Window_Width"
    E37 = "Set T1_Initial"
    E38 = "Set Transmission_Limit"
    E39 = "Set Timeout_Type"
    E40 = "invalid directive"
    # responses of the lower layer
    E41 = "AD frame accepted by the lower layer"
    E42 = "AD frame rejected by the lower layer"
    E43 = "BC frame accepted by the lower layer"
    E44 = "BC frame rejected by the lower layer"
    E45 = "BD frame accepted by the lower layer"
    E46 = "BD frame rejected by the lower layer"


class FopDirective(enum.Enum):
    """Management directives to FOP-1 (§5.1.4 and the directive events E23-E39 of Table 5-1)."""

    INITIATE_AD_WITHOUT_CLCW_CHECK = "Initiate AD Service (without CLCW check)"
    INITIATE_AD_WITH_CLCW_CHECK = "Initiate AD Service (with CLCW check)"
    INITIATE_AD_WITH_UNLOCK = "Initiate AD Service (with Unlock)"
    INITIATE_AD_WITH_SET_VR = "Initiate AD Service (with Set V(R))"
    TERMINATE_AD = "Terminate AD Service"
    RESUME_AD = "Resume AD Service"
    SET_VS = "Set V(S)"
    SET_SLIDING_WINDOW = "Set FOP_Sliding_Window_Width"
    SET_T1_INITIAL = "Set T1_Initial"
    SET_TRANSMISSION_LIMIT = "Set Transmission_Limit"
    SET_TIMEOUT_TYPE = "Set Timeout_Type"


class AlertReason(enum.Enum):
    """Why FOP-1 gave up (the Alert action, §5.2): its codes and their meaning."""

    LIMIT = "retransmission requested with the transmission limit at 1"
    T1 = "timer T1 expired with the transmission limit reached"
    LOCKOUT = "FARM-1 reported lockout"
    SYNCH = "FARM-1's flags out of step with FOP-1"
    NNR = "CLCW report value N(R) outside [NN(R), V(S)]"
    CLCW = "CLCW with the Wait flag where FOP-1 cannot wait"
    LLIF = "the lower layer refused a frame"
    TERM = "Terminate AD Service"


class FopAction(enum.Enum):
    """What an entry of the FOP-1 table does (§5.2, the actions; in the order listed)."""

    ACCEPT_DIRECTIVE = "Accept Response to Directive"
    REJECT_DIRECTIVE = "Reject Response to Directive"
    CONFIRM_DIRECTIVE = "Positive Confirm Response to Directive"
    INITIALISE = "Initialise"
    START_TIMER = "Start timer"
    CANCEL_TIMER = "Cancel timer"
    ADD_TO_WAIT_QUEUE = "Add FDU to Wait_Queue"
    REJECT_FDU = "Reject Response to Request to transfer FDU"
    ACCEPT_FDU = "Accept Response to Request to transfer FDU"
    TRANSMIT_BD = "Transmit Type-BD Frame"
    TRANSMIT_BC_UNLOCK = "Transmit Type-BC Frame (Unlock)"
    TRANSMIT_BC_SET_VR = "Transmit Type-BC Frame (Set V(R)); V(S) := NN(R) := V*(R)"
    RELEASE_BC = "Release copy of Type-BC Frame"
    REMOVE_ACKNOWLEDGED = "Remove Acknowledged Frames from Sent_Queue"
    INITIATE_AD_RETRANSMISSION = "Initiate AD retransmission"
    INITIATE_BC_RETRANSMISSION = "Initiate BC retransmission"
    LOOK_FOR_FDU = "Look for FDU"
    LOOK_FOR_DIRECTIVE = "Look for Directive"
    ALERT_LIMIT = "Alert (LIMIT)"
    ALERT_T1 = "Alert (T1)"
    ALERT_LOCKOUT = "Alert (LOCKOUT)"
    ALERT_SYNCH = "Alert (SYNCH)"
    ALERT_NNR = "Alert (NN(R))"
    ALERT_CLCW = "Alert (CLCW)"
    ALERT_LLIF = "Alert (LLIF)"
    ALERT_TERM = "Alert (TERM)"
    SUSPEND = "Suspend"
    RESUME = "Resume"
    SET_VS = "V(S) := NN(R) := V*(S)"
    SET_PARAMETER = "set the managed parameter"
    AD_OUT_READY = "AD_Out_Flag := Ready"
    BC_OUT_READY = "BC_Out_Flag := Ready"
    BD_OUT_READY = "BD_Out_Flag := Ready"
    IGNORE = "ignore"


F = FopAction
A1, A2, A3, A4, A5, A6 = (FopState.ACTIVE, FopState.RETRANSMIT_WITHOUT_WAIT, FopState.RETRANSMIT_WITH_WAIT,
                          FopState.INITIALISING_WITHOUT_BC, FopState.INITIALISING_WITH_BC, FopState.INITIAL)
_ALL = (A1, A2, A3, A4, A5, A6)
_ALERTS = {AlertReason.LIMIT: F.ALERT_LIMIT, AlertReason.T1: F.ALERT_T1, AlertReason.LOCKOUT: F.ALERT_LOCKOUT,
           AlertReason.SYNCH: F.ALERT_SYNCH, AlertReason.NNR: F.ALERT_NNR, AlertReason.CLCW: F.ALERT_CLCW,
           AlertReason.LLIF: F.ALERT_LLIF, AlertReason.TERM: F.ALERT_TERM}
_REASON_OF = {action: reason for reason, action in _ALERTS.items()}

FopEntry = tuple[tuple[FopAction, ...], "FopState | None"]  # None: the state does not change


def _row(entries: dict[FopState, FopEntry], default: FopEntry = ((F.IGNORE,), None)) -> dict[FopState, FopEntry]:
    return {state: entries.get(state, default) for state in _ALL}


_IGNORE: FopEntry = ((F.IGNORE,), None)
_REJECT: FopEntry = ((F.REJECT_DIRECTIVE,), None)
_ACK_AND_GO_ON: FopEntry = ((F.REMOVE_ACKNOWLEDGED, F.CANCEL_TIMER, F.LOOK_FOR_FDU), A1)
_INIT_DONE: FopEntry = ((F.CANCEL_TIMER, F.CONFIRM_DIRECTIVE), A1)
_INIT_BC_DONE: FopEntry = ((F.RELEASE_BC, F.CANCEL_TIMER, F.CONFIRM_DIRECTIVE), A1)
_RETRANSMIT: FopEntry = ((F.INITIATE_AD_RETRANSMISSION, F.LOOK_FOR_FDU), None)
_SET: FopEntry = ((F.ACCEPT_DIRECTIVE, F.SET_PARAMETER, F.CONFIRM_DIRECTIVE), None)


def _alert(reason: AlertReason) -> FopEntry:
    return ((_ALERTS[reason],), A6)


def _resume(to: FopState) -> dict[FopState, FopEntry]:
    return _row({A6: ((F.ACCEPT_DIRECTIVE, F.RESUME, F.CONFIRM_DIRECTIVE), to)}, _REJECT)


#: The FOP-1 state table, Table 5-1 of 232.1-B-2 (event rows, state columns S1..S6): (actions, next state,
#: None = unchanged). An Alert action also ends in S6 (Initial); "ignore" does nothing.
FOP_TABLE: dict[FopEvent, dict[FopState, FopEntry]] = {
    FopEvent.E1: _row({A2: _alert(AlertReason.SYNCH), A3: _alert(AlertReason.SYNCH), A4: _INIT_DONE,
                       A5: _INIT_BC_DONE}),
    FopEvent.E2: _row({A1: _ACK_AND_GO_ON, A2: _ACK_AND_GO_ON, A3: _ACK_AND_GO_ON, A4: _INIT_DONE,
                       A5: _INIT_BC_DONE}),
    FopEvent.E3: _row({s: _alert(AlertReason.CLCW) for s in (A1, A2, A3, A4, A5)}),
    FopEvent.E4: _row({s: _alert(AlertReason.SYNCH) for s in (A1, A2, A3, A4)}),
    FopEvent.E5: _row({A2: _alert(AlertReason.SYNCH), A3: _alert(AlertReason.SYNCH)}),
    FopEvent.E6: _row({s: ((F.REMOVE_ACKNOWLEDGED, F.LOOK_FOR_FDU), A1) for s in (A1, A2, A3)}),
    FopEvent.E7: _row({s: _alert(AlertReason.CLCW) for s in (A1, A2, A3)}),
    FopEvent.E101: _row({s: ((F.REMOVE_ACKNOWLEDGED, F.ALERT_LIMIT), A6) for s in (A1, A2, A3)}),
    FopEvent.E102: _row({s: _alert(AlertReason.LIMIT) for s in (A1, A2, A3)}),
    FopEvent.E8: _row({s: ((F.REMOVE_ACKNOWLEDGED, F.INITIATE_AD_RETRANSMISSION, F.LOOK_FOR_FDU), A2)
                       for s in (A1, A2, A3)}),
    FopEvent.E9: _row({s: ((F.REMOVE_ACKNOWLEDGED,), A3) for s in (A1, A2, A3)}),
    FopEvent.E10: _row({A1: (_RETRANSMIT[0], A2), A3: (_RETRANSMIT[0], A2)}),
    FopEvent.E11: _row({A1: ((), A3), A2: ((), A3)}),
    FopEvent.E12: _row({A1: ((), A2), A3: ((), A2)}),
    FopEvent.E103: _row({A1: ((), A3), A2: ((), A3)}),
    FopEvent.E13: _row({s: _alert(AlertReason.NNR) for s in (A1, A2, A3, A4)}),
    FopEvent.E14: _row({s: _alert(AlertReason.LOCKOUT) for s in (A1, A2, A3, A4)}),
    FopEvent.E16: _row({A1: _RETRANSMIT, A2: _RETRANSMIT, A4: _alert(AlertReason.T1),
                        A5: ((F.INITIATE_BC_RETRANSMISSION, F.LOOK_FOR_DIRECTIVE), None)}),
    FopEvent.E104: _row({A1: _RETRANSMIT, A2: _RETRANSMIT, A4: ((F.SUSPEND,), A6),
                         A5: ((F.INITIATE_BC_RETRANSMISSION, F.LOOK_FOR_DIRECTIVE), None)}),
    FopEvent.E17: _row({s: _alert(AlertReason.T1) for s in (A1, A2, A3, A4, A5)}),
    FopEvent.E18: _row({A1: ((F.SUSPEND,), A6), A2: ((F.SUSPEND,), A6), A3: ((F.SUSPEND,), A6),
                        A4: ((F.SUSPEND,), A6), A5: _alert(AlertReason.T1)}),
    FopEvent.E19: _row({A1: ((F.ADD_TO_WAIT_QUEUE, F.LOOK_FOR_FDU), None),
                        A2: ((F.ADD_TO_WAIT_QUEUE, F.LOOK_FOR_FDU), None),
                        A3: ((F.ADD_TO_WAIT_QUEUE,), None), A4: ((F.REJECT_FDU,), None),
                        A5: ((F.REJECT_FDU,), None), A6: ((F.REJECT_FDU,), None)}),
    FopEvent.E20: _row({}, ((F.REJECT_FDU,), None)),
    FopEvent.E21: _row({}, ((F.ACCEPT_FDU, F.TRANSMIT_BD), None)),
    FopEvent.E22: _row({}, ((F.REJECT_FDU,), None)),
    FopEvent.E23: _row({A6: ((F.ACCEPT_DIRECTIVE, F.INITIALISE, F.CONFIRM_DIRECTIVE), A1)}, _REJECT),
    FopEvent.E24: _row({A6: ((F.ACCEPT_DIRECTIVE, F.INITIALISE, F.START_TIMER), A4)}, _REJECT),
    FopEvent.E25: _row({A6: ((F.ACCEPT_DIRECTIVE, F.INITIALISE, F.TRANSMIT_BC_UNLOCK), A5)}, _REJECT),
    FopEvent.E26: _row({}, _REJECT),
    FopEvent.E27: _row({A6: ((F.ACCEPT_DIRECTIVE, F.INITIALISE, F.TRANSMIT_BC_SET_VR), A5)}, _REJECT),
    FopEvent.E28: _row({}, _REJECT),
    FopEvent.E29: _row({s: ((F.ACCEPT_DIRECTIVE, F.ALERT_TERM, F.CONFIRM_DIRECTIVE), A6) for s in (A1, A2, A3, A4, A5)}
                       | {A6: ((F.ACCEPT_DIRECTIVE, F.CONFIRM_DIRECTIVE), None)}),
    FopEvent.E30: _row({}, _REJECT),
    FopEvent.E31: _resume(A1),
    FopEvent.E32: _resume(A2),
    FopEvent.E33: _resume(A3),
    FopEvent.E34: _resume(A4),
    FopEvent.E35: _row({A6: ((F.ACCEPT_DIRECTIVE, F.SET_VS, F.CONFIRM_DIRECTIVE), None)}, _REJECT),
    FopEvent.E36: _row({}, _SET),
    FopEvent.E37: _row({}, _SET),
    FopEvent.E38: _row({}, _SET),
    FopEvent.E39: _row({}, _SET),
    FopEvent.E40: _row({}, _REJECT),
    FopEvent.E41: _row({A1: ((F.AD_OUT_READY, F.LOOK_FOR_FDU), None), A2: ((F.AD_OUT_READY, F.LOOK_FOR_FDU), None)},
                       ((F.AD_OUT_READY,), None)),
    FopEvent.E42: _row({}, _alert(AlertReason.LLIF)),
    FopEvent.E43: _row({A5: ((F.BC_OUT_READY, F.LOOK_FOR_DIRECTIVE), None)}, ((F.BC_OUT_READY,), None)),
    FopEvent.E44: _row({}, _alert(AlertReason.LLIF)),
    FopEvent.E45: _row({}, ((F.BD_OUT_READY,), None)),
    FopEvent.E46: _row({}, _alert(AlertReason.LLIF)),
}
# In S6 every CLCW and every timer event is ignored, and Alert in S6 (E42/E44/E46 there) only reports
for _ev in list(FopEvent)[:21]:
    FOP_TABLE[_ev][A6] = _IGNORE


# -- what FOP-1 hands out --------------------------------------------------------------------------------
class FrameKind(enum.Enum):
    """The service a frame belongs to."""

    AD = "AD"
    BD = "BD"
    BC = "BC"


@dataclass(frozen=True, slots=True)
class Transmit:
    """Send ``frame`` now (a new one, or a retransmission), then report with :meth:`Fop1.lower_layer`."""

    frame: TcFrame
    kind: FrameKind
    retransmission: bool
    fdu_id: object = None


@dataclass(frozen=True, slots=True)
class FduResponse:
    """About one FDU (a request to transfer one frame's data): ``accepted`` (taken: it goes on the air now),
    ``rejected`` (never sent: the reason says why), ``confirmed`` (an AD frame FARM-1 acknowledged) or
    ``not_confirmed`` (an AD frame purged unacknowledged: COP-1 gave up on it). A BD FDU is only accepted
    or rejected: the expedited service confirms nothing."""

    fdu_id: object
    response: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DirectiveResponse:
    """About one directive: ``accepted``, ``rejected``, ``confirmed`` (done) or ``not_confirmed`` (it failed,
    e.g. an Initiate AD whose CLCW check timed out)."""

    directive_id: object
    directive: FopEvent
    response: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Alerted:
    """FOP-1 gave up (Alert, §5.2): AD service ended, both queues purged."""

    reason: AlertReason


@dataclass(frozen=True, slots=True)
class Suspended:
    """FOP-1 suspended AD service in ``state`` (Timeout_Type 1); Resume AD Service continues it there."""

    suspend_state: int


FopOutput = Transmit | FduResponse | DirectiveResponse | Alerted | Suspended


@dataclass
class _Sent:
    frame: TcFrame
    fdu_id: object
    to_be_retransmitted: bool = False


@dataclass(frozen=True, slots=True)
class FopTransition:
    """One event handled: which, the actions the table listed, the states before and after."""

    event: FopEvent
    actions: tuple[FopAction, ...]
    state_before: FopState
    state: FopState


class Fop1:
    """FOP-1 for one virtual channel (232.1-B-2 §5), sans-IO: inputs are the methods, outputs queue up for
    :meth:`take_outputs` (frames to transmit, responses, alerts); time is ``now_s``, passed in.

    ``transmission_limit``, ``t1_s``, ``window`` (K) and ``timeout_type`` are the managed parameters of
    §5.1.10-5.1.13 (their directives change them). The Wait_Queue holds one FDU, as the standard has it:
    a caller with more to send queues them itself and requests the next once the one before is accepted
    (:attr:`wait_queue_free`). After each :class:`Transmit`, report the lower layer's answer with
    :meth:`lower_layer` before expecting the next frame of that service.
    """

    def __init__(self, scid: int, vcid: int, *, window: int = 16, t1_s: float = 2.0, transmission_limit: int = 5,
                 timeout_type: int = 0) -> None:
        check_range(LAYER_FOP, "vcid", vcid, 0, 63)
        self.scid, self.vcid = scid, vcid
        self.window = _checked_window(window)
        self.t1_s = _checked_t1(t1_s)
        self.transmission_limit = _checked_limit(transmission_limit)
        self.timeout_type = _checked_timeout_type(timeout_type)
        self.state = FopState.INITIAL
        self.v_s = 0
        self.nn_r = 0
        self.transmission_count = 1
        self.suspend_state = 0
        self.ad_out_ready = self.bc_out_ready = self.bd_out_ready = True
        self.sent: list[_Sent] = []  # AD frames sent and not yet acknowledged, oldest first
        self.bc: _Sent | None = None  # the BC frame of an Initiate AD, until FARM-1's CLCW confirms it
        self.wait_queue: tuple[TcFrame, object] | None = None
        self.timer_deadline_s: float | None = None
        self.last_clcw: Clcw | None = None
        self.counts: dict[FopEvent, int] = {e: 0 for e in FopEvent}
        self.retransmissions = 0
        self.alerts: dict[AlertReason, int] = {r: 0 for r in AlertReason}
        self._outputs: list[FopOutput] = []
        self._pending_directive: tuple[object, FopEvent] | None = None  # an Initiate AD waiting for its CLCW
        self._now = 0.0

    # ------------------------------------------------------------------ inputs
    def request_ad(self, fdu: TcFrame, fdu_id: object, now_s: float) -> FopTransition:
        """A request to transfer an FDU with the sequence-controlled service (E19/E20)."""
        self._check_fdu(fdu, FrameType.AD)
        if self.wait_queue is None:
            return self._handle(FopEvent.E19, now_s, fdu=(fdu, fdu_id))
        return self._handle(FopEvent.E20, now_s, fdu=(fdu, fdu_id))

    def request_bd(self, fdu: TcFrame, fdu_id: object, now_s: float) -> FopTransition:
        """A request to transfer an FDU with the expedited service (E21/E22)."""
        self._check_fdu(fdu, FrameType.BD)
        return self._handle(FopEvent.E21 if self.bd_out_ready else FopEvent.E22, now_s, fdu=(fdu, fdu_id))

    def directive(self, directive: FopDirective, now_s: float, *, value: int | float | None = None,
                  directive_id: object = None) -> FopTransition:
        """A management directive (E23-E40); ``value`` for Set V(R)/V(S), the window, T1, the limit, the type."""
        event, checked = _directive_event(self, directive, value)
        return self._handle(event, now_s, directive_id=directive_id, value=checked)

    def clcw(self, clcw: Clcw, now_s: float) -> FopTransition | None:
        """A valid CLCW of this VC from the downlink (E1-E14); None when it is not for this VC."""
        if clcw.vcid != self.vcid:
            return None
        self.last_clcw = clcw
        return self._handle(_clcw_event(self, clcw), now_s, n_r=clcw.report_value)

    def tick(self, now_s: float) -> FopTransition | None:
        """Time passes: timer T1 expiring is E16/E104/E17/E18. None when it has not expired."""
        if self.timer_deadline_s is None or now_s < self.timer_deadline_s:
            return None
        self.timer_deadline_s = None
        below = self.transmission_count < self.transmission_limit
        event = ((FopEvent.E16 if self.timeout_type == 0 else FopEvent.E104) if below
                 else (FopEvent.E17 if self.timeout_type == 0 else FopEvent.E18))
        return self._handle(event, now_s)

    def lower_layer(self, kind: FrameKind, accepted: bool, now_s: float) -> FopTransition:
        """The lower layer's answer to the last :class:`Transmit` of ``kind`` (E41-E46)."""
        event = {(FrameKind.AD, True): FopEvent.E41, (FrameKind.AD, False): FopEvent.E42,
                 (FrameKind.BC, True): FopEvent.E43, (FrameKind.BC, False): FopEvent.E44,
                 (FrameKind.BD, True): FopEvent.E45, (FrameKind.BD, False): FopEvent.E46}[(kind, bool(accepted))]
        return self._handle(event, now_s)

    # ------------------------------------------------------------------ outputs
    def take_outputs(self) -> list[FopOutput]:
        """Everything FOP-1 produced since the last call, in order."""
        out, self._outputs = self._outputs, []
        return out

    @property
    def wait_queue_free(self) -> bool:
        """True when a request to transfer an AD FDU would be taken (E19 rather than E20)."""
        return self.wait_queue is None

    @property
    def outstanding(self) -> int:
        """AD frames sent and not yet acknowledged."""
        return len(self.sent)

    def status(self) -> dict[str, object]:
        """The state and variables as plain values (``ttc cop1 status``, the live stream)."""
        return {"state": self.state.value, "state_name": self.state.name.lower(), "v_s": self.v_s, "nn_r": self.nn_r,
                "window": self.window, "t1_s": self.t1_s, "transmission_limit": self.transmission_limit,
                "transmission_count": self.transmission_count, "timeout_type": self.timeout_type,
                "suspend_state": self.suspend_state, "sent_queue": [s.frame.sequence_number for s in self.sent],
                "wait_queue": 0 if self.wait_queue is None else 1, "bc_pending": self.bc is not None,
                "retransmissions": self.retransmissions,
                "alerts": {r.name: n for r, n in self.alerts.items() if n},
                "last_clcw": None if self.last_clcw is None else self.last_clcw.as_dict()}

    # ------------------------------------------------------------------ the table
    def _handle(self, event: FopEvent, now_s: float, *, fdu: tuple[TcFrame, object] | None = None,
                directive_id: object = None, value: object = None, n_r: int | None = None) -> FopTransition:
        self._now = float(now_s)
        before = self.state
        actions, after = FOP_TABLE[event][before]
        self.counts[event] += 1
        for action in actions:
            self._do(action, event, fdu=fdu, directive_id=directive_id, value=value, n_r=n_r)
        if after is not None:
            self.state = after
        if event in _INITIATES and self.state in (A4, A5):
            self._pending_directive = (directive_id, event)
        return FopTransition(event, actions, before, self.state)

    def _do(self, action: FopAction, event: FopEvent, *, fdu: tuple[TcFrame, object] | None, directive_id: object,
            value: object, n_r: int | None) -> None:
        out = self._outputs
        if action in _FDU_ACTIONS:
            fdu = _given(fdu, LAYER_FOP, "FDU")
        if action is F.IGNORE:
            return
        if action is F.ACCEPT_DIRECTIVE:
            out.append(DirectiveResponse(directive_id, event, "accepted"))
        elif action is F.REJECT_DIRECTIVE:
            out.append(DirectiveResponse(directive_id, event, "rejected", _rejection(self, event)))
        elif action is F.CONFIRM_DIRECTIVE:
            if event in (FopEvent.E1, FopEvent.E2):  # the CLCW confirms the Initiate AD waiting in S4/S5
                pending, self._pending_directive = self._pending_directive, None
                if pending is not None:
                    out.append(DirectiveResponse(pending[0], pending[1], "confirmed"))
            else:
                out.append(DirectiveResponse(directive_id, event, "confirmed"))
        elif action is F.INITIALISE:
            self._purge_sent("initialised")
            self._purge_wait("initialised")
            self.transmission_count = 1
            self.suspend_state = 0
        elif action is F.START_TIMER:
            self.timer_deadline_s = self._now + self.t1_s
        elif action is F.CANCEL_TIMER:
            self.timer_deadline_s = None
        elif action is F.ADD_TO_WAIT_QUEUE:
            self.wait_queue = fdu
        elif action is F.REJECT_FDU:
            out.append(FduResponse(fdu[1], "rejected", _fdu_rejection(self, event)))
        elif action is F.ACCEPT_FDU:
            out.append(FduResponse(fdu[1], "accepted"))
        elif action is F.TRANSMIT_BD:
            self.bd_out_ready = False
            out.append(Transmit(fdu[0], FrameKind.BD, False, fdu[1]))
        elif action in (F.TRANSMIT_BC_UNLOCK, F.TRANSMIT_BC_SET_VR):
            if action is F.TRANSMIT_BC_SET_VR:
                self.v_s = self.nn_r = _given(value, LAYER_FOP, "V*(R)")
                frame = TcFrame.control(self.scid, self.vcid, SetVr(self.v_s))
            else:
                frame = TcFrame.control(self.scid, self.vcid, Unlock())
            self.bc = _Sent(frame, None)
            self.transmission_count = 1
            self._send_bc(self.bc, retransmission=False)
        elif action is F.RELEASE_BC:
            self.bc = None
        elif action is F.REMOVE_ACKNOWLEDGED:
            self._remove_acknowledged(_given(n_r, LAYER_FOP, "N(R)"))
        elif action is F.INITIATE_AD_RETRANSMISSION:
            self.transmission_count += 1
            self.timer_deadline_s = self._now + self.t1_s
            for s in self.sent:
                s.to_be_retransmitted = True
        elif action is F.INITIATE_BC_RETRANSMISSION:
            self.transmission_count += 1
            self.timer_deadline_s = self._now + self.t1_s
            if self.bc is not None:
                self.bc.to_be_retransmitted = True
        elif action is F.LOOK_FOR_FDU:
            self._look_for_fdu()
        elif action is F.LOOK_FOR_DIRECTIVE:
            if self.bc_out_ready and self.bc is not None and self.bc.to_be_retransmitted:
                self.bc.to_be_retransmitted = False
                self._send_bc(self.bc, retransmission=True)
        elif action in _REASON_OF:
            self._alert(_REASON_OF[action])
        elif action is F.SUSPEND:
            self.timer_deadline_s = None
            self.suspend_state = self.state.number
            out.append(Suspended(self.suspend_state))
        elif action is F.RESUME:
            self.timer_deadline_s = self._now + self.t1_s
            self.suspend_state = 0
        elif action is F.SET_VS:
            self.v_s = self.nn_r = _given(value, LAYER_FOP, "V*(S)")
        elif action is F.SET_PARAMETER:
            if event is FopEvent.E36:
                self.window = value  # type: ignore[assignment]
            elif event is FopEvent.E37:
                self.t1_s = value  # type: ignore[assignment]
            elif event is FopEvent.E38:
                self.transmission_limit = value  # type: ignore[assignment]
            else:
                self.timeout_type = value  # type: ignore[assignment]
        elif action is F.AD_OUT_READY:
            self.ad_out_ready = True
        elif action is F.BC_OUT_READY:
            self.bc_out_ready = True
        elif action is F.BD_OUT_READY:
            self.bd_out_ready = True

    # ------------------------------------------------------------------ the actions of §5.2
    def _look_for_fdu(self) -> None:
        if not self.ad_out_ready:
            return
        for s in self.sent:
            if s.to_be_retransmitted:
                s.to_be_retransmitted = False
                self.ad_out_ready = False
                self.retransmissions += 1
                self._outputs.append(Transmit(s.frame, FrameKind.AD, True, s.fdu_id))
                return
        if self.wait_queue is not None and len(self.sent) < self.window:
            fdu, fdu_id = self.wait_queue
            self.wait_queue = None
            self._outputs.append(FduResponse(fdu_id, "accepted"))
            frame = replace(fdu, sequence_number=self.v_s)
            self.v_s = (self.v_s + 1) % MODULO
            if not self.sent:
                self.transmission_count = 1
            self.sent.append(_Sent(frame, fdu_id))
            self.timer_deadline_s = self._now + self.t1_s
            self.ad_out_ready = False
            self._outputs.append(Transmit(frame, FrameKind.AD, False, fdu_id))

    def _send_bc(self, bc: _Sent, *, retransmission: bool) -> None:
        self.bc_out_ready = False
        self.timer_deadline_s = self._now + self.t1_s
        if retransmission:
            self.retransmissions += 1
        self._outputs.append(Transmit(bc.frame, FrameKind.BC, retransmission))

    def _remove_acknowledged(self, n_r: int) -> None:
        while self.sent and self.nn_r != n_r:
            done = self.sent.pop(0)
            self._outputs.append(FduResponse(done.fdu_id, "confirmed"))
            self.nn_r = (self.nn_r + 1) % MODULO
        self.nn_r = n_r
        self.transmission_count = 1

    def _purge_sent(self, reason: str) -> None:
        for s in self.sent:
            self._outputs.append(FduResponse(s.fdu_id, "not_confirmed", reason))
        self.sent.clear()  # NN(R) stays: FARM-1 may hold some of them (Set V(S) or Set V(R) resynchronises)
        self.bc = None

    def _purge_wait(self, reason: str) -> None:
        if self.wait_queue is not None:
            self._outputs.append(FduResponse(self.wait_queue[1], "rejected", reason))
            self.wait_queue = None

    def _alert(self, reason: AlertReason) -> None:
        self.timer_deadline_s = None
        text = f"COP-1 alert {reason.name}: {reason.value}"
        self._purge_sent(text)
        self._purge_wait(text)
        self.alerts[reason] += 1
        pending, self._pending_directive = self._pending_directive, None
        if pending is not None:
            self._outputs.append(DirectiveResponse(pending[0], pending[1], "not_confirmed", text))
        self._outputs.append(Alerted(reason))

    def _check_fdu(self, fdu: TcFrame, kind: FrameType) -> None:
        if not isinstance(fdu, TcFrame) or fdu.frame_type is not kind:
            raise LocalProtocolError(LAYER_FOP, "FDU", fdu, f"a TcFrame of type {kind.name}")
        if fdu.vcid != self.vcid or fdu.scid != self.scid:
            raise LocalProtocolError(LAYER_FOP, "FDU SCID/VCID", (fdu.scid, fdu.vcid), f"({self.scid}, {self.vcid})")


LAYER_FOP = "FOP-1"
_FDU_ACTIONS = frozenset({F.ADD_TO_WAIT_QUEUE, F.REJECT_FDU, F.ACCEPT_FDU, F.TRANSMIT_BD})
_INITIATES = (FopEvent.E24, FopEvent.E25, FopEvent.E27)
def _in_order(lo: int, x: int, hi: int) -> bool:
    """lo <= x <= hi, modulo 256, on the arc from lo to hi."""
    return (x - lo) % MODULO <= (hi - lo) % MODULO


def _clcw_event(fop: Fop1, clcw: Clcw) -> FopEvent:
    """Which of E1-E14 (and E101/E103) a CLCW is, for this FOP's V(S), NN(R) and counts (Table 5-1)."""
    n_r, v_s, nn_r = clcw.report_value, fop.v_s, fop.nn_r
    if clcw.lockout:
        return FopEvent.E14
    if n_r == v_s:
        if clcw.retransmit:
            return FopEvent.E4
        if clcw.wait:
            return FopEvent.E3
        return FopEvent.E1 if n_r == nn_r else FopEvent.E2
    if not _in_order(nn_r, n_r, v_s):
        return FopEvent.E13
    if not clcw.retransmit:
        if clcw.wait:
            return FopEvent.E7
        return FopEvent.E5 if n_r == nn_r else FopEvent.E6
    if fop.transmission_limit == 1:
        return FopEvent.E102 if n_r == nn_r else FopEvent.E101
    if n_r != nn_r:
        return FopEvent.E9 if clcw.wait else FopEvent.E8
    if fop.transmission_count < fop.transmission_limit:
        return FopEvent.E11 if clcw.wait else FopEvent.E10
    return FopEvent.E103 if clcw.wait else FopEvent.E12


def _directive_event(fop: Fop1, directive: FopDirective, value: object) -> tuple[FopEvent, object]:
    """The table event of a directive (with the value it carries, checked)."""
    d = FopDirective
    if not isinstance(directive, FopDirective):
        return FopEvent.E40, None
    if directive is d.INITIATE_AD_WITHOUT_CLCW_CHECK:
        return FopEvent.E23, None
    if directive is d.INITIATE_AD_WITH_CLCW_CHECK:
        return FopEvent.E24, None
    if directive is d.INITIATE_AD_WITH_UNLOCK:
        return (FopEvent.E25 if fop.bc_out_ready else FopEvent.E26), None
    if directive is d.INITIATE_AD_WITH_SET_VR:
        return (FopEvent.E27 if fop.bc_out_ready else FopEvent.E28), _checked_seq(value, "V*(R)")
    if directive is d.TERMINATE_AD:
        return FopEvent.E29, None
    if directive is d.RESUME_AD:
        return (FopEvent.E30, FopEvent.E31, FopEvent.E32, FopEvent.E33, FopEvent.E34)[fop.suspend_state], None
    if directive is d.SET_VS:
        return (FopEvent.E35 if fop.suspend_state == 0 else FopEvent.E40), _checked_seq(value, "V*(S)")
    if directive is d.SET_SLIDING_WINDOW:
        return FopEvent.E36, _checked_window(value)
    if directive is d.SET_T1_INITIAL:
        return FopEvent.E37, _checked_t1(value)
    if directive is d.SET_TRANSMISSION_LIMIT:
        return FopEvent.E38, _checked_limit(value)
    return FopEvent.E39, _checked_timeout_type(value)


def _rejection(fop: Fop1, event: FopEvent) -> str:
    if event in (FopEvent.E26, FopEvent.E28):
        return "BC_Out is not ready (a BC frame is still with the lower layer)"
    if event is FopEvent.E30:
        return "AD service is not suspended"
    if event is FopEvent.E40:
        return f"invalid directive (Set V(S) needs Suspend_State 0; it is {fop.suspend_state})"
    return f"not allowed in {fop.state.value} {fop.state.name} (allowed in S6 INITIAL)"


def _fdu_rejection(fop: Fop1, event: FopEvent) -> str:
    if event is FopEvent.E20:
        return "the Wait_Queue is full (one FDU at a time)"
    if event is FopEvent.E22:
        return "BD_Out is not ready"
    return "AD service is not initiated (FOP-1 in S6 INITIAL)"


def _checked_seq(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MODULO:
        raise LocalProtocolError(LAYER_FOP, name, value, "0..255")
    return value


def _checked_window(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 255:
        raise LocalProtocolError(LAYER_FOP, "FOP_Sliding_Window_Width K", value, "1..255")
    return value


def _checked_t1(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.001 <= value <= 86400:
        raise LocalProtocolError(LAYER_FOP, "T1_Initial", value, "0.001..86400 s")
    return float(value)


def _checked_limit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 255:
        raise LocalProtocolError(LAYER_FOP, "Transmission_Limit", value, "1..255")
    return value


def _checked_timeout_type(value: object) -> int:
    if value not in (0, 1) or isinstance(value, bool):
        raise LocalProtocolError(LAYER_FOP, "Timeout_Type", value, "0 (alert) or 1 (suspend)")
    return int(value)  # type: ignore[arg-type]

