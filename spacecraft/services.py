"""PUS services of the on-board software: dispatch, request verification, and services 3, 5, 9, 11, 20.

:class:`Dispatcher` takes a received TC packet through the PUS-C request
verification stages (ECSS-E-ST-70-41C §6.1):

* acceptance -- the packet decodes (PEC, length, PUS version), its APID is
  one of this spacecraft's applications, its service and subtype are
  implemented there, and its application data is one the mission dictionary
  declares with every argument in range (``mission.command_for`` /
  ``Command.decode_args``); TC[11,4] is checked with its typed body;
* start -- mode checks (e.g. IMAGER_CAPTURE while the imager is off:
  WRONG_MODE), schedule capacity, unknown request IDs;
* progress -- steps of multi-step functions (the imager: exposure, readout);
* completion.

Success reports go out only for the stages the TC's acknowledgement flags
ask for; failure reports are always sent (PUS-C: the flags request success
reports). Failure notices carry a :class:`protocol.pus.FailureCode` and, as
data, the ASCII name of what was wrong (mission choice). An undecodable
packet whose primary header can be read gets TM[1,2] quoting that header.

The service state classes (:class:`Housekeeping`, :class:`EventReporting`,
:class:`TimeReporting`, :class:`Scheduler`, :class:`Parameters`) hold what the
services own; :class:`spacecraft.onboard.OnboardComputer` wires them to the
subsystems and the downlink.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from protocol.errors import ChecksumError, ProtocolError, RemoteProtocolError, TruncatedError
from protocol.dictionary import TYPES, Command, MissionDictionary, States, TelemetryPacket, UnknownName
from protocol.pus import (
    AckFlags,
    BodyOptions,
    FailureCode,
    InsertActivities,
    PusTc,
    RequestId,
    ScheduleRequestId,
    SetParameterValues,
    decode_body,
)
from protocol.spacepacket import PacketType, decode_header

from .payload.unit import PAYLOAD_PARAMETER_DEFAULTS

if TYPE_CHECKING:
    from .onboard import OnboardComputer

__all__ = [
    "PARAMETER_DEFAULTS",
    "Dispatcher",
    "EventReporting",
    "Execution",
    "HkStructure",
    "Housekeeping",
    "Parameters",
    "Refused",
    "ScheduledTc",
    "Scheduler",
    "TcCounters",
    "TimeReporting",
]

SCHEDULE_CAPACITY = 64


class Refused(Exception):
    """A TC failed a verification stage (internal control flow of the dispatcher)."""

    def __init__(self, code: FailureCode, what: str = "") -> None:
        super().__init__(f"{code.name}: {what}")
        self.code = code
        self.data = what.encode("ascii", "replace")[:32]


@dataclass
class TcCounters:
    """What the dispatcher did with the TCs it was given."""

    received: int = 0
    accepted: int = 0
    rejected: int = 0  # failed acceptance
    unreadable: int = 0  # not even a primary header to report against
    start_failed: int = 0
    completed: int = 0
    completion_failed: int = 0


class Execution:
    """The verification reports of one accepted TC as it executes."""

    def __init__(self, obc: OnboardComputer, tc: PusTc) -> None:
        self.obc = obc
        self.tc = tc
        self.started = False
        self.deferred = False

    def start(self) -> None:
        """Report the successful start of execution (once, if requested)."""
        if not self.started:
            self.started = True
            if self.tc.ack_flags & AckFlags.START:
                self.obc.verification(self.tc, 3)

    def progress(self, step_id: int) -> None:
        """Report a successful progress step (if requested)."""
        self.start()
        if self.tc.ack_flags & AckFlags.PROGRESS:
            self.obc.verification(self.tc, 5, step_id=step_id)

    def defer(self) -> None:
        """The execution goes on after the handler returns (started now); :meth:`complete` or :meth:`fail` ends it."""
        self.start()
        self.deferred = True

    def complete(self) -> None:
        """A deferred execution completed: TM[1,7] (if requested)."""
        self.obc.dispatcher.counters.completed += 1
        self.obc.flight_log.command(self.tc.apid, self.tc.sequence_count, "completed")
        if self.tc.ack_flags & AckFlags.COMPLETION:
            self.obc.verification(self.tc, 7)

    def fail(self, failure: Refused) -> None:
        """A deferred execution failed: TM[1,8] with its reason."""
        self.obc.dispatcher.counters.completion_failed += 1
        self.obc.flight_log.command(self.tc.apid, self.tc.sequence_count, "failed", int(failure.code))
        self.obc.verification(self.tc, 8, failure=failure)


Handler = Callable[[PusTc, Command | None, dict[str, Any], Execution], None]


class Dispatcher:
    """Acceptance checks, routing to service handlers, and the verification report of every stage."""

    def __init__(self, obc: OnboardComputer) -> None:
        self.obc = obc
        self.mission = mission = obc.mission
        self.applications = mission.applications
        self.body_options = BodyOptions(parameter_octets=mission.parameter_octets(), time_config=mission.time_config)
        self.counters = TcCounters()
        self.handlers: dict[tuple[int, int, int], Handler] = {}
        self._declared: dict[tuple[int, int, int], list[Command]] = {}
        for cmd in mission.commands.values():
            self._declared.setdefault((cmd.apid, cmd.service, cmd.subtype), []).append(cmd)

    def register(self, apid: int, service: int, subtype: int, handler: Handler) -> None:
        """Route TC[service, subtype] addressed to ``apid`` to ``handler``."""
        self.handlers[(apid, service, subtype)] = handler

    # -- entry points ---------------------------------------------------------------
    def receive(self, packet: bytes) -> None:
        """A TC packet from the uplink: decode it, then verify and execute it."""
        self.counters.received += 1
        try:
            tc = PusTc.decode(packet)
        except ProtocolError as e:
            self._unreadable(packet, e)
            return
        self.execute(tc)

    def execute(self, tc: PusTc) -> None:
        """Verify and execute a decoded TC, reporting each stage."""
        try:
            handler, cmd, args = self._accept(tc)
        except Refused as r:
            self._reject(tc.request_id, tc.apid, r)
            return
        self.counters.accepted += 1
        flight = self.obc.flight_log
        flight.command(tc.apid, tc.sequence_count, "accepted")
        if tc.ack_flags & AckFlags.ACCEPTANCE:
            self.obc.verification(tc, 1)
        ex = Execution(self.obc, tc)
        try:
            handler(tc, cmd, args, ex)
        except Refused as r:
            flight.command(tc.apid, tc.sequence_count, "failed", int(r.code))
            if ex.started:
                self.counters.completion_failed += 1
                self.obc.verification(tc, 8, failure=r)
            else:
                self.counters.start_failed += 1
                self.obc.verification(tc, 4, failure=r)
            return
        if ex.deferred:
            flight.command(tc.apid, tc.sequence_count, "started")
            return  # completes (or fails) later, through ex.complete() / ex.fail()
        ex.start()
        self.counters.completed += 1
        flight.command(tc.apid, tc.sequence_count, "completed")
        if tc.ack_flags & AckFlags.COMPLETION:
            self.obc.verification(tc, 7)

    # -- acceptance -----------------------------------------------------------------
    def _accept(self, tc: PusTc) -> tuple[Handler, Command | None, dict[str, Any]]:
        if tc.apid not in self.applications:
            raise Refused(FailureCode.ILLEGAL_APID, f"APID 0x{tc.apid:03X}")
        key = (tc.apid, tc.service, tc.subtype)
        handler = self.handlers.get(key)
        if handler is None:
            if any(k[:2] == key[:2] for k in self.handlers):
                raise Refused(FailureCode.ILLEGAL_SUBTYPE, f"TC[{tc.service},{tc.subtype}]")
            raise Refused(FailureCode.ILLEGAL_SERVICE, f"service {tc.service}")
        declared = self._declared.get(key)
        if not declared:  # a body the dictionary cannot express (TC[11,4]): the typed PUS body checks it
            try:
                return handler, None, {"body": decode_body(tc, options=self.body_options)}
            except ProtocolError as e:
                raise Refused(FailureCode.ILLEGAL_APP_DATA, e.field) from e
        cmd = self.mission.command_for(tc.apid, tc.service, tc.subtype, tc.app_data)
        if cmd is None:
            raise self._why_not(tc, declared)
        args = cmd.decode_args(tc.app_data)
        if tc.service == 5 and self.mission.event(int(args["EVENT_ID"])) is None:
            raise Refused(FailureCode.ARGUMENT_OUT_OF_RANGE, f"EVENT_ID 0x{int(args['EVENT_ID']):04X}")
        return handler, cmd, args

    def _why_not(self, tc: PusTc, declared: list[Command]) -> Refused:
        """The failure of application data that no declared command accepts."""
        if tc.service == 20:
            ids = self._parameter_ids(tc)
            unknown = [i for i in ids if i not in self.mission.onboard]
            if unknown:
                return Refused(FailureCode.UNKNOWN_PARAMETER, f"parameter 0x{unknown[0]:04X}")
        for cmd in declared:
            try:
                cmd.decode_args(tc.app_data)
            except RemoteProtocolError as e:
                if e.field.startswith("argument "):  # right shape, value out of range
                    return Refused(FailureCode.ARGUMENT_OUT_OF_RANGE, f"{cmd.name}.{e.field[9:]}")
        return Refused(FailureCode.ILLEGAL_APP_DATA, f"{len(tc.app_data)} octets")

    def _parameter_ids(self, tc: PusTc) -> list[int]:
        """Parameter IDs of a TC[20,1] / TC[20,3], read with the typed PUS body (none when it does not decode)."""
        try:
            body = decode_body(tc, options=self.body_options)
        except ProtocolError:
            # an unknown ID has no declared width: the first entry's ID is still where the body puts it
            return [int.from_bytes(tc.app_data[2:4], "big")] if len(tc.app_data) >= 4 else []
        if isinstance(body, SetParameterValues):
            return [v.parameter_id for v in body.values]
        return list(getattr(body, "ids", ()))

    def _reject(self, request_id: RequestId, apid: int, r: Refused) -> None:
        self.counters.rejected += 1
        self.obc.flight_log.command(request_id.apid, request_id.sequence_count, "rejected", int(r.code))
        apps = self.applications
        self.obc.acceptance_failure(request_id, apid if apid in apps or not apps else apps[0], r)

    def _unreadable(self, packet: bytes, e: ProtocolError) -> None:
        try:
            hdr = decode_header(packet)
        except ProtocolError:
            self.counters.unreadable += 1
            return
        if hdr.packet_type != PacketType.TC:
            code = FailureCode.ILLEGAL_PACKET_TYPE
        elif isinstance(e, ChecksumError):
            code = FailureCode.BAD_CHECKSUM
        elif isinstance(e, TruncatedError) or "length" in e.field:
            code = FailureCode.WRONG_PACKET_LENGTH
        else:
            code = FailureCode.ILLEGAL_APP_DATA
        rid = RequestId(apid=hdr.apid, sequence_count=hdr.sequence_count, packet_type=hdr.packet_type,
                        sec_header_flag=hdr.sec_header_flag, sequence_flags=hdr.sequence_flags)
        self._reject(rid, hdr.apid, Refused(code, e.field))


# ================================================================ service 3

@dataclass
class HkStructure:
    """A housekeeping structure: its declaration, whether periodic reports are on, its interval."""

    declaration: TelemetryPacket
    interval_s: float
    enabled: bool = True
    next_due_tai_s: float = 0.0


class Housekeeping:
    """Service 3: the structures of the dictionary, reported periodically."""

    def __init__(self, mission: MissionDictionary, *, interval_s: float, now_tai_s: float) -> None:
        self.structures: dict[int, HkStructure] = {}
        for tm in mission.packets.values():
            if tm.sid is not None:
                self.structures[tm.sid] = HkStructure(tm, interval_s, next_due_tai_s=now_tai_s)

    def next_due_tai_s(self) -> float:
        """When the next periodic report is due (inf if none is enabled)."""
        return min((s.next_due_tai_s for s in self.structures.values() if s.enabled), default=float("inf"))

    def due(self, now_tai_s: float) -> list[int]:
        """SIDs due now; their next report is scheduled one interval later."""
        out = []
        for sid, s in self.structures.items():
            if s.enabled and s.next_due_tai_s <= now_tai_s:
                out.append(sid)
                s.next_due_tai_s += s.interval_s
                if s.next_due_tai_s <= now_tai_s:  # fell behind (clock jump): no burst of old reports
                    s.next_due_tai_s = now_tai_s + s.interval_s
        return out


def encode_hk(declaration: TelemetryPacket, values: dict[str, float | int]) -> bytes:
    """TM[3,25] source data (SID + raw values) from engineering values, clamped to each wire type."""
    raw: dict[str, int | float] = {}
    for p in declaration.parameters:
        given = values[p.name]
        value = given if isinstance(p.calibration, States) and not isinstance(given, str) else p.to_raw(given)
        if not p.type.startswith("f"):
            lo, hi = _int_range(p.type)
            value = min(hi, max(lo, int(value)))
        raw[p.name] = value
    return declaration.encode(raw)


def _int_range(type_name: str) -> tuple[int, int]:
    bits = int(type_name[1:])
    if type_name[0] == "u":
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


# ================================================================ service 5

class EventReporting:
    """Service 5: which event definitions are reported (all, until disabled)."""

    def __init__(self) -> None:
        self.disabled: set[int] = set()
        self.raised: dict[str, int] = {}
        self.suppressed = 0

    def enabled(self, event_id: int) -> bool:
        """Whether reports of ``event_id`` go out."""
        return event_id not in self.disabled


# ================================================================ service 9

@dataclass
class TimeReporting:
    """Service 9: a CUC time report every 2**rate_exponent seconds."""

    rate_exponent: int
    next_due_tai_s: float

    @property
    def period_s(self) -> float:
        """Seconds between reports."""
        return float(2 ** self.rate_exponent)


# ================================================================ service 11

@dataclass(order=True)
class ScheduledTc:
    """A time-tagged TC waiting for its release time."""

    release_tai_s: float
    order: int
    tc: PusTc = field(compare=False)
    release_time: Any = field(compare=False)  # the CucTime as received, for TM[11,13]

    @property
    def request_id(self) -> ScheduleRequestId:
        """Service 11 request ID."""
        return ScheduleRequestId.of(self.tc)


class Scheduler:
    """Service 11: the time-based schedule (bounded), enabled by default."""

    def __init__(self, *, capacity: int = SCHEDULE_CAPACITY) -> None:
        self.capacity = capacity
        self.enabled = True
        self.entries: list[ScheduledTc] = []
        self.released = 0
        self._order = 0

    def next_due_tai_s(self) -> float:
        """Release time of the first entry (inf when empty or disabled)."""
        return self.entries[0].release_tai_s if self.entries and self.enabled else float("inf")

    def insert(self, body: InsertActivities, *, now_tai_s: float) -> None:
        """Insert every activity or none (Refused with the reason)."""
        if len(self.entries) + len(body.activities) > self.capacity:
            raise Refused(FailureCode.SCHEDULE_FULL, f"{self.capacity} entries")
        known = {e.request_id for e in self.entries}
        new = []
        for a in body.activities:
            release = float(a.release_time.tai_s)
            rid = ScheduleRequestId.of(a.request)
            if release <= now_tai_s:
                raise Refused(FailureCode.ILLEGAL_APP_DATA, "release time in the past")
            if rid in known:
                raise Refused(FailureCode.ILLEGAL_APP_DATA, "request ID already scheduled")
            known.add(rid)
            self._order += 1
            new.append(ScheduledTc(release, self._order, a.request, a.release_time))
        self.entries = sorted(self.entries + new)

    def delete(self, rid: ScheduleRequestId) -> None:
        """Delete the entry with ``rid`` (Refused when there is none)."""
        for i, e in enumerate(self.entries):
            if e.request_id == rid:
                del self.entries[i]
                return
        raise Refused(FailureCode.ILLEGAL_APP_DATA, f"no scheduled TC {rid.apid}/{rid.sequence_count}")

    def pop_due(self, now_tai_s: float) -> list[ScheduledTc]:
        """Entries whose release time has come, in time order."""
        if not self.enabled:
            return []
        out = []
        while self.entries and self.entries[0].release_tai_s <= now_tai_s:
            out.append(self.entries.pop(0))
        self.released += len(out)
        return out


# ================================================================ service 20

#: Engineering values of the on-board parameters this software uses, at first boot and whenever the mission
#: dictionary does not declare them (the ADCS gains are spacecraft.adcs.ControlGains' defaults).
PARAMETER_DEFAULTS: dict[str, int | float | str] = {  # engineering values (state names for states)
    "HEATER_SETPOINT": 5.0, "BATTERY_LOW_THRESHOLD": 25,
    "ADCS_ATTITUDE_GAIN": 1.5, "ADCS_RATE_GAIN": 5.0, "ADCS_INTEGRAL_GAIN": 0.3, "ADCS_MAX_SLEW_RATE": 6.0,
    **PAYLOAD_PARAMETER_DEFAULTS,
}


class Parameters:
    """Service 20: on-board parameter values (raw, by the dictionary's types), persisted by the on-board computer."""

    def __init__(self, mission: MissionDictionary, saved: dict[str, Any]) -> None:
        self.mission = mission
        self.raw: dict[int, int | float] = {}
        for pid, op in mission.onboard.items():
            p = op.parameter
            default = p.to_raw(PARAMETER_DEFAULTS[p.name]) if p.name in PARAMETER_DEFAULTS else 0
            value = saved.get(p.name, default)
            self.raw[pid] = value if isinstance(value, (int, float)) else default

    def value_octets(self, pid: int) -> bytes:
        """The wire octets of parameter ``pid``."""
        return TYPES[self.mission.onboard[pid].parameter.type].build(self.raw[pid])

    def engineering(self, name: str) -> float:
        """The engineering value of the parameter called ``name`` (its default when the dictionary has none)."""
        try:
            op = self.mission.onboard_by_name(name)
        except UnknownName:
            return float(PARAMETER_DEFAULTS[name])
        value = op.parameter.engineering(self.raw[op.parameter_id])
        return float(value) if isinstance(value, (int, float)) else 0.0

    def as_saved(self) -> dict[str, int | float]:
        """Raw values by name, for the state file."""
        return {self.mission.onboard[pid].parameter.name: v for pid, v in self.raw.items()}

