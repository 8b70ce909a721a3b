"""The station's command uplink: FOP-1 (CCSDS 232.1-B-2) between the commands and the CLTU sender.

:class:`CommandUplink` owns one :class:`protocol.cop1.Fop1` for the uplink VC
and the queue of AD frames waiting for it (FOP-1 takes one FDU at a time),
turns its Transmit outputs into CLTUs on the sender and its responses into
:class:`Note` records the station archives and publishes: a command "sent"
(its first frame went up), "delivered" (FARM-1 acknowledged all its frames),
"failed" (COP-1 gave up on a frame: the alert says why), and the FOP's alerts,
suspends, directive responses and state changes.

Which service a command uses: AD once the AD service is initiated (FOP-1 not
in S6), BD otherwise or when the operator asks for the bypass. Time is the
station's monotonic clock, passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from protocol.cop1 import (
    Alerted,
    DirectiveResponse,
    FduResponse,
    Fop1,
    FopDirective,
    FopState,
    FrameKind,
    Suspended,
    Transmit,
)
from protocol.clcw import Clcw
from protocol.dictionary import MissionDictionary
from protocol.links import FrameSender
from protocol.sdls import SdlsSender
from protocol.stack import UplinkEncoder
from protocol.tcframe import FrameType, TcFrame

__all__ = ["CommandUplink", "Note", "DIRECTIVES", "DEFAULT_T1_S", "DEFAULT_WINDOW", "DEFAULT_LIMIT"]

DEFAULT_WINDOW = 16  # K: within the spacecraft's FARM positive window (W/2 = 32), so no loss pattern locks it out
DEFAULT_T1_S = 2.0  # longer than an uplink frame + the on-board turn + the next downlink frame at 9.6 kbit/s
DEFAULT_LIMIT = 10  # transmissions of the oldest unacknowledged frame before COP-1 gives up
_TAKES_AD = (FopState.ACTIVE, FopState.RETRANSMIT_WITHOUT_WAIT, FopState.RETRANSMIT_WITH_WAIT)
MAX_QUEUED_FRAMES = 100_000  # AD frames waiting for FOP-1 (a bound: a command beyond it is refused)

#: ``ttc cop1`` directive names -> FOP-1 directives
DIRECTIVES = {
    "initiate": FopDirective.INITIATE_AD_WITHOUT_CLCW_CHECK,
    "initiate-check": FopDirective.INITIATE_AD_WITH_CLCW_CHECK,
    "initiate-unlock": FopDirective.INITIATE_AD_WITH_UNLOCK,
    "initiate-set-vr": FopDirective.INITIATE_AD_WITH_SET_VR,
    "terminate": FopDirective.TERMINATE_AD,
    "resume": FopDirective.RESUME_AD,
    "set-vs": FopDirective.SET_VS,
    "set-window": FopDirective.SET_SLIDING_WINDOW,
    "set-timer": FopDirective.SET_T1_INITIAL,
    "set-limit": FopDirective.SET_TRANSMISSION_LIMIT,
    "set-timeout-type": FopDirective.SET_TIMEOUT_TYPE,
}


@dataclass(frozen=True, slots=True)
class Note:
    """Something the station should record or publish: ``kind`` is sent, delivered, failed (with
    ``command_id``), alert, suspended, directive or state (with ``data``)."""

    kind: str
    command_id: int | None = None
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Command:
    frames: int
    confirmed: int = 0
    sent: bool = False
    service: str = "AD"


@dataclass
class UplinkCounters:
    """Frames handed to the sender, per service, and what COP-1 did."""

    ad_frames: int = 0
    ad_retransmissions: int = 0
    bd_frames: int = 0
    bc_frames: int = 0
    commands_delivered: int = 0
    commands_failed: int = 0
    sdls_protected: int = 0  # frames sent with SDLS (each transmission under a fresh IV)


class CommandUplink:
    """FOP-1 for the mission's uplink VC, the AD queue in front of it, CLTUs out through ``sender``."""

    def __init__(self, mission: MissionDictionary, sender: FrameSender, *, window: int = DEFAULT_WINDOW,
                 t1_s: float = DEFAULT_T1_S, transmission_limit: int = DEFAULT_LIMIT, timeout_type: int = 0,
                 sdls: SdlsSender | None = None) -> None:
        # with SDLS the frames carry its header and MAC: the packets get that much less room per frame
        room = mission.uplink if sdls is None else replace(
            mission.uplink, max_frame_len=mission.uplink.max_frame_len - sdls.sa.overhead)
        self.encoder = UplinkEncoder(room)
        self.sdls = sdls
        self.sender = sender
        cfg = mission.uplink
        self.fop = Fop1(cfg.scid, cfg.vcid, window=window, t1_s=t1_s, transmission_limit=transmission_limit,
                        timeout_type=timeout_type)
        self.counters = UplinkCounters()
        self._queue: deque[tuple[TcFrame, tuple[int, int]]] = deque()  # AD FDUs not yet requested of FOP-1
        self._commands: dict[int, _Command] = {}  # commands with frames COP-1 has not finished with
        self.delivered_mono: dict[int, float] = {}  # command id -> when COP-1 confirmed its last frame
        self._notes: list[Note] = []
        self._directive_responses: list[dict[str, Any]] = []
        self._state = self.fop.state

    # ------------------------------------------------------------------ inputs
    @property
    def ad_active(self) -> bool:
        """True when AD service is initiated (FOP-1 not in S6 Initial): commands then go AD by default."""
        return self.fop.state is not FopState.INITIAL

    def holds(self, command_id: int) -> bool:
        """True while COP-1 still owes this command a verdict (queued, sent or unacknowledged frames)."""
        return command_id in self._commands

    def send(self, command_id: int, packet: bytes, now: float, *, bypass: bool = False) -> tuple[str, int]:
        """Hand one command's packet to COP-1: (the service, "AD" or "BD", and its number of frames)."""
        ad = self.ad_active and not bypass
        frames = self.encoder.frames(packet, frame_type=FrameType.AD if ad else FrameType.BD)
        if ad and len(self._queue) + len(frames) > MAX_QUEUED_FRAMES:
            raise OverflowError(f"{len(self._queue)} AD frames already wait for COP-1 (at most {MAX_QUEUED_FRAMES})")
        self._commands[command_id] = _Command(len(frames), service="AD" if ad else "BD")
        for i, frame in enumerate(frames):
            if ad:
                self._queue.append((frame, (command_id, i)))
            else:
                self.fop.request_bd(frame, (command_id, i), now)
                self._pump(now)
        if not ad:  # the expedited service confirms nothing: COP-1 is done with it once it went up
            self._commands.pop(command_id, None)
        self._feed(now)
        return ("AD" if ad else "BD"), len(frames)

    def send_expedited(self, packet: bytes, now: float) -> int:
        """The station's own BD traffic (store-and-forward TCs): through FOP-1's BD service, and SDLS when on;
        no command verdict. The frames sent."""
        frames = self.encoder.frames(packet)
        for frame in frames:
            self.fop.request_bd(frame, None, now)
            self._pump(now)
        return len(frames)

    def clcw(self, clcw: Clcw, now: float) -> None:
        """A CLCW of the uplink VC, from the downlink's OCF."""
        if self.fop.clcw(clcw, now) is not None:
            self._pump(now)
            self._feed(now)

    def tick(self, now: float) -> None:
        """Time passes (timer T1)."""
        if self.fop.tick(now) is not None:
            self._pump(now)
        self._feed(now)

    def directive(self, name: str, now: float, value: int | float | None = None) -> list[dict[str, Any]]:
        """A ``ttc cop1`` directive: the FOP's responses to it so far (accepted/rejected/confirmed)."""
        self._directive_responses = []
        self.fop.directive(DIRECTIVES[name], now, value=value, directive_id=name)
        self._pump(now)
        self._feed(now)
        out, self._directive_responses = self._directive_responses, []
        return out

    # ------------------------------------------------------------------ outputs
    def take_notes(self) -> list[Note]:
        """What happened since the last call, in order."""
        if self.fop.state is not self._state:
            self._state = self.fop.state
            self._notes.append(Note("state", data=self.status()))
        out, self._notes = self._notes, []
        return out

    def status(self) -> dict[str, Any]:
        """FOP-1's state and variables, the AD queue, what went up."""
        sdls = None if self.sdls is None else {"spi": self.sdls.sa.spi, "key_id": self.sdls.sa.key_id,
                                               "encrypt": self.sdls.sa.encrypt}
        return self.fop.status() | {"ad_queue_frames": len(self._queue), "commands_in_cop1": len(self._commands),
                                    "service": "AD" if self.ad_active else "BD", "sdls": sdls, **vars(self.counters)}

    # ------------------------------------------------------------------ internals
    def _feed(self, now: float) -> None:
        """Request the next AD FDU of FOP-1 whenever its Wait_Queue is free; fail the queue when AD is over."""
        if not self._queue:
            return
        if not self.ad_active:  # an alert or a Terminate ended AD service: what waited will not go
            waiting = dict.fromkeys(cid for _frame, (cid, _i) in self._queue)  # in queue order, once each
            self._queue.clear()
            for cid in waiting:
                self._fail(cid, "COP-1 AD service ended before it was sent")
            return
        # FOP-1 takes AD requests in S1-S3 (Table 5-1 E19): while it initialises (S4/S5) they wait here
        while self._queue and self.fop.wait_queue_free and self.fop.state in _TAKES_AD:
            frame, fdu_id = self._queue.popleft()
            self.fop.request_ad(frame, fdu_id, now)
            self._pump(now)

    def _pump(self, now: float) -> None:
        fop = self.fop
        outs = fop.take_outputs()
        while outs:
            for o in outs:
                if isinstance(o, Transmit):
                    self._transmit(o)
                    fop.lower_layer(o.kind, True, now)  # the sender queues it (ZeroMQ): taken
                elif isinstance(o, FduResponse):
                    self._fdu(o, now)
                elif isinstance(o, DirectiveResponse):
                    d = {"directive": o.directive_id, "event": o.directive.name, "response": o.response,
                         "reason": o.reason}
                    self._directive_responses.append(d)
                    self._notes.append(Note("directive", data=d))
                elif isinstance(o, Alerted):
                    self._notes.append(Note("alert", reason=f"{o.reason.name}: {o.reason.value}",
                                            data={"alert": o.reason.name}))
                elif isinstance(o, Suspended):
                    self._notes.append(Note("suspended", reason=f"AD service suspended in S{o.suspend_state}",
                                            data={"suspend_state": o.suspend_state}))
            outs = fop.take_outputs()

    def _transmit(self, t: Transmit) -> None:
        c = self.counters
        if t.kind is FrameKind.AD:
            c.ad_frames += 1
            c.ad_retransmissions += t.retransmission
        elif t.kind is FrameKind.BD:
            c.bd_frames += 1
        else:
            c.bc_frames += 1
        frame = t.frame
        if self.sdls is not None:
            frame = self.sdls.protect(frame)  # a fresh IV per transmission: a retransmission is no replay
            c.sdls_protected += 1
        self.sender.send(self.encoder.cltu(frame))
        if isinstance(t.fdu_id, tuple) and not t.retransmission:
            cid, index = t.fdu_id
            cmd = self._commands.get(cid)
            if index == 0 and (cmd is None or not cmd.sent):
                if cmd is not None:
                    cmd.sent = True
                self._notes.append(Note("sent", cid, data={"service": t.kind.value,
                                                           "frame_sequence_number": t.frame.sequence_number}))

    def _fdu(self, r: FduResponse, now: float) -> None:
        if not isinstance(r.fdu_id, tuple):
            return
        cid, _index = r.fdu_id
        cmd = self._commands.get(cid)
        if cmd is None:
            return
        if r.response == "confirmed":
            cmd.confirmed += 1
            if cmd.confirmed == cmd.frames:
                del self._commands[cid]
                self.delivered_mono[cid] = now
                if len(self.delivered_mono) > 10_000:  # only recent ones matter (the verdict clock)
                    self.delivered_mono.pop(next(iter(self.delivered_mono)))
                self.counters.commands_delivered += 1
                self._notes.append(Note("delivered", cid))
        elif r.response in ("rejected", "not_confirmed"):
            self._fail(cid, f"COP-1 gave up on it: {r.reason}" if r.response == "not_confirmed"
                       else f"COP-1 refused it: {r.reason}")

    def _fail(self, cid: int, reason: str) -> None:
        if self._commands.pop(cid, None) is None:
            return
        if self._queue:  # its frames still waiting for FOP-1 will not go either
            self._queue = deque(item for item in self._queue if item[1][0] != cid)
        self.counters.commands_failed += 1
        self._notes.append(Note("failed", cid, reason=reason))
