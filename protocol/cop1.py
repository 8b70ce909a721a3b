"""COP-1, the Communications Operation Procedure-1 (CCSDS 232.1-B-2): FARM-1 on board, FOP-1 on the ground.

Sans-IO, like the rest of :mod:`protocol`: frames, CLCWs, directives and the
time (``now_s``) go in, decisions and actions come out; nothing here reads a
clock, a socket or a file.

* :class:`Farm1` -- the Frame Acceptance and Reporting Mechanism (§6): the
  receiving end of one virtual channel. Each valid TC frame is classified as
  one of the events E1-E8 of the FARM-1 state table (Table 6-1), the table
  says what to do, and :meth:`Farm1.clcw` reports the state in the CLCW that
  every downlink frame carries.

The state table is data (:data:`FARM_TABLE`: (state, event) -> actions, next
state), in the manner of h11's: the code applies it and never decides
anything the table does not say.

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
from dataclasses import dataclass

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
            if isinstance(command, Unlock):
                event = FarmEvent.E7
            else:
                assert isinstance(command, SetVr)
                event, v_star = FarmEvent.E8, command.vr
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
                assert v_star is not None
                self.v_r = v_star
            elif action is A.INCREMENT_FARM_B:
                self.farm_b_counter += 1
        self.state = after
        self.counts[event] += 1
        return FarmVerdict(event, actions, before, after, accepted)


def _int(value: object, lo: int, hi: int, default: int, *, even: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi or (even and value % 2):
        return default
    return value
