"""The mission dictionary: the commands, telemetry and events of *this* spacecraft.

The one contract both ends import: the spacecraft builds its telemetry and
parses its commands with it, the station validates commands, decodes
parameters and checks limits with it, and ``ttc decode`` reads recordings
with it. Each declaration turns into a construct layout (the single source
of truth for its octets); the JSON export (:meth:`MissionDictionary.to_json`,
``ttc db export``) is documented in ``docs/dictionary.md`` so other tools can
read it.

Building blocks:

* :class:`Argument` / :class:`Fixed` -- the fields of a command's application
  data: typed, with unit, valid range, enumeration labels and default
  (arguments) or a constant the operator never types (fixed fields, such as
  a PUS function ID or the N of a one-entry list).
* :class:`Command` -- name, APID, PUS service/subtype, fields.
* :class:`Parameter` -- a telemetry parameter: type, unit, calibration
  raw -> engineering (:class:`Polynomial` or :class:`States`), soft and hard
  :class:`Limits`.
* :class:`TelemetryPacket` -- a housekeeping structure (TM[3,25] with its
  SID) or another report whose source data is a fixed list of parameters.
* :class:`EventDefinition` -- event ID, severity (= the TM[5,x] subtype), text.
* :class:`OnboardParameter` -- a parameter reachable through service 20.

:data:`MISSION` is the dictionary of the ttc reference satellite, a 6U
Earth-observation nanosatellite.
"""

from __future__ import annotations

import difflib
import enum
import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import construct as c

from .errors import LocalProtocolError, RemoteProtocolError, construct_errors
from .pus import AckFlags, BodyOptions, PusTc, PusTm, decode_body

__all__ = [
    "TYPES", "Argument", "Fixed", "Command", "Polynomial", "States", "Limits", "AlarmLevel", "Parameter",
    "TelemetryPacket", "Severity", "EventDefinition", "OnboardParameter", "MissionDictionary", "MISSION",
    "UnknownName", "ParameterSample", "DecodedTm",
]

LAYER = "mission dictionary"

#: Wire types by name (big endian), as used in declarations and in the JSON export.
TYPES: dict[str, c.Construct] = {
    "u8": c.Int8ub, "u16": c.Int16ub, "u32": c.Int32ub, "u64": c.Int64ub,
    "i8": c.Int8sb, "i16": c.Int16sb, "i32": c.Int32sb, "i64": c.Int64sb,
    "f32": c.Float32b, "f64": c.Float64b,
}


def _type_range(type_name: str) -> tuple[float, float]:
    if type_name.startswith("f"):
        return (-math.inf, math.inf)
    bits = int(type_name[1:])
    if type_name[0] == "u":
        return (0, (1 << bits) - 1)
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def _check_type(type_name: str, where: str) -> None:
    if type_name not in TYPES:
        raise LocalProtocolError(LAYER, f"{where} type", type_name, ", ".join(TYPES))


class UnknownName(LocalProtocolError, KeyError):
    """A command, parameter or event name that the dictionary does not hold (with suggestions)."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        names = list(known)
        self.suggestions = difflib.get_close_matches(name.upper(), names, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(self.suggestions)}?" if self.suggestions else "see `ttc db list`"
        allowed = ", ".join(names) if len(names) <= 8 else f"one of the {len(names)} {kind}s of the dictionary"
        super().__init__(LAYER, kind, name, allowed or "none", detail=hint)

    def __str__(self) -> str:
        return self.args[0] if self.args else ""


# ------------------------------------------------------------------ command fields

@dataclass(frozen=True, slots=True)
class Argument:
    """An operator-supplied command argument: type, unit, valid range, enumeration labels, default."""

    name: str
    type: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    enum: Mapping[str, int] | None = None
    default: int | float | str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        _check_type(self.type, f"argument {self.name}")
        if self.enum is not None:
            object.__setattr__(self, "enum", dict(self.enum))

    @property
    def allowed(self) -> str:
        """The allowed values, as an operator reads them."""
        if self.enum:
            return " | ".join(f"{k} ({v})" for k, v in self.enum.items())
        lo, hi = self.bounds
        unit = f" {self.unit}" if self.unit else ""
        return f"{lo:g}..{hi:g}{unit}"

    @property
    def bounds(self) -> tuple[float, float]:
        """Valid range: the declared one, else the wire type's."""
        tlo, thi = _type_range(self.type)
        return (tlo if self.min is None else self.min, thi if self.max is None else self.max)

    def raw(self, value: Any, *, command: str) -> int | float:
        """The wire value for an operator value (a number, a numeric string or an enumeration label)."""
        where = f"{command}.{self.name}"
        if self.enum is not None:
            if isinstance(value, str) and value.upper() in self.enum:
                return self.enum[value.upper()]
            if isinstance(value, (int, str)) and str(value).lstrip("-").isdigit() and int(value) in self.enum.values():
                return int(value)
            raise LocalProtocolError(LAYER, f"argument {where}", value, self.allowed)
        number: float
        try:
            number = float(value) if self.type.startswith("f") else int(str(value), 0)
        except (TypeError, ValueError) as e:
            kind = "a number" if self.type.startswith("f") else "an integer"
            raise LocalProtocolError(LAYER, f"argument {where}", value, f"{kind} in {self.allowed}") from e
        lo, hi = self.bounds
        if not lo <= number <= hi:
            raise LocalProtocolError(LAYER, f"argument {where}", value, self.allowed)
        if self.type == "f32":  # the value the wire will carry, so what is validated is what is sent
            number = TYPES["f32"].parse(TYPES["f32"].build(number))
        return number

    def label(self, raw: int | float) -> str | int | float:
        """The enumeration label of a wire value, or the value itself."""
        if self.enum:
            for k, v in self.enum.items():
                if v == raw:
                    return k
        return raw


@dataclass(frozen=True, slots=True)
class Fixed:
    """A constant field of a command's application data (a function ID, the N of a one-entry list)."""

    name: str
    type: str
    value: int

    def __post_init__(self) -> None:
        _check_type(self.type, f"fixed field {self.name}")


@dataclass(frozen=True)
class Command:
    """A telecommand: APID, PUS service/subtype and the fields of its application data, in wire order."""

    name: str
    apid: int
    service: int
    subtype: int
    fields: tuple[Argument | Fixed, ...] = ()
    description: str = ""
    layout: c.Construct = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        subcons = []
        for f in self.fields:
            sub = TYPES[f.type]
            subcons.append(f.name / (c.Const(f.value, sub) if isinstance(f, Fixed) else sub))
        object.__setattr__(self, "layout", c.Struct(*subcons, c.Terminated))

    @property
    def arguments(self) -> tuple[Argument, ...]:
        """The operator-supplied fields."""
        return tuple(f for f in self.fields if isinstance(f, Argument))

    def argument(self, name: str) -> Argument:
        """The argument called ``name`` (case-insensitive)."""
        for a in self.arguments:
            if a.name == name.upper():
                return a
        raise UnknownName(f"argument of {self.name}", name, [a.name for a in self.arguments])

    def validate(self, values: Mapping[str, Any]) -> dict[str, int | float]:
        """Wire values for every argument (defaults filled in); LocalProtocolError names what is wrong."""
        given = {k.upper(): v for k, v in values.items()}
        for k in given:
            self.argument(k)
        out: dict[str, int | float] = {}
        for a in self.arguments:
            if a.name in given:
                out[a.name] = a.raw(given[a.name], command=self.name)
            elif a.default is not None:
                out[a.name] = a.raw(a.default, command=self.name)
            else:
                raise LocalProtocolError(LAYER, f"argument {self.name}.{a.name}", "missing", a.allowed,
                                         detail="required, no default")
        return out

    def encode_args(self, values: Mapping[str, Any]) -> bytes:
        """The application data for operator values."""
        return self.layout.build(self.validate(values))

    def decode_args(self, app_data: bytes, *, offset: int = 0) -> dict[str, int | float]:
        """Argument wire values from application data; RemoteProtocolError when it does not fit the layout."""
        with construct_errors(f"{LAYER} {self.name}", offset=offset):
            parsed = self.layout.parse(app_data)
        values = {a.name: parsed[a.name] for a in self.arguments}
        for a in self.arguments:
            lo, hi = a.bounds
            ok = values[a.name] in a.enum.values() if a.enum else lo <= values[a.name] <= hi
            if not ok:
                raise RemoteProtocolError(f"{LAYER} {self.name}", f"argument {a.name}", values[a.name], a.allowed,
                                          offset=offset)
        return values

    def to_tc(self, values: Mapping[str, Any], *, sequence_count: int = 0,
              ack_flags: AckFlags = AckFlags.ALL, source_id: int = 0) -> PusTc:
        """The PUS-C TC carrying this command with ``values``."""
        return PusTc(apid=self.apid, service=self.service, subtype=self.subtype,
                     app_data=self.encode_args(values), sequence_count=sequence_count, ack_flags=ack_flags,
                     source_id=source_id)


# ------------------------------------------------------------------ telemetry

@dataclass(frozen=True, slots=True)
class Polynomial:
    """Engineering value = sum(coefficients[i] * raw**i)."""

    coefficients: tuple[float, ...]

    def __call__(self, raw: float) -> float:
        value = 0.0
        for k in reversed(self.coefficients):  # Horner
            value = value * raw + k
        return value

    def inverse(self, value: float) -> float:
        """Raw value for an engineering value (linear calibrations only)."""
        if len(self.coefficients) != 2 or self.coefficients[1] == 0:
            raise LocalProtocolError(LAYER, "calibration", self.coefficients, "a linear polynomial to invert")
        return (value - self.coefficients[0]) / self.coefficients[1]


@dataclass(frozen=True, slots=True)
class States:
    """Engineering value = a state name per raw value."""

    names: Mapping[int, str]

    def __call__(self, raw: float) -> str:
        return self.names.get(int(raw), f"UNKNOWN({int(raw)})")


class AlarmLevel(enum.IntEnum):
    """Outcome of a limit check."""

    NOMINAL = 0
    WARNING = 1  # outside the soft limits
    CRITICAL = 2  # outside the hard limits


@dataclass(frozen=True, slots=True)
class Limits:
    """Soft (warning) and hard (critical) limits on the engineering value; None = unbounded."""

    soft_low: float | None = None
    soft_high: float | None = None
    hard_low: float | None = None
    hard_high: float | None = None

    def check(self, value: float) -> AlarmLevel:
        """The alarm level of an engineering value."""
        if (self.hard_low is not None and value < self.hard_low) or (
                self.hard_high is not None and value > self.hard_high):
            return AlarmLevel.CRITICAL
        if (self.soft_low is not None and value < self.soft_low) or (
                self.soft_high is not None and value > self.soft_high):
            return AlarmLevel.WARNING
        return AlarmLevel.NOMINAL


@dataclass(frozen=True, slots=True)
class Parameter:
    """A telemetry parameter: wire type, unit, calibration raw -> engineering, limits."""

    name: str
    type: str
    unit: str = ""
    calibration: Polynomial | States | None = None
    limits: Limits | None = None
    description: str = ""

    def __post_init__(self) -> None:
        _check_type(self.type, f"parameter {self.name}")

    def engineering(self, raw: int | float) -> int | float | str:
        """The engineering value of a raw value."""
        return raw if self.calibration is None else self.calibration(raw)

    def check(self, raw: int | float) -> AlarmLevel:
        """The alarm level of a raw value."""
        if self.limits is None:
            return AlarmLevel.NOMINAL
        value = self.engineering(raw)
        return self.limits.check(value) if isinstance(value, (int, float)) else AlarmLevel.NOMINAL

    def to_raw(self, value: float) -> int | float:
        """The raw value for an engineering value (linear calibrations and state names)."""
        if isinstance(self.calibration, States):
            for k, v in self.calibration.names.items():
                if v == value:
                    return k
            raise LocalProtocolError(LAYER, f"parameter {self.name}", value, " | ".join(self.calibration.names.values()))
        raw = self.calibration.inverse(value) if isinstance(self.calibration, Polynomial) else value
        return raw if self.type.startswith("f") else int(round(raw))


@dataclass(frozen=True)
class TelemetryPacket:
    """A telemetry report whose source data is a fixed list of parameters (after the SID for TM[3,25])."""

    name: str
    apid: int
    service: int
    subtype: int
    parameters: tuple[Parameter, ...]
    sid: int | None = None
    description: str = ""
    layout: c.Construct = field(init=False, repr=False, compare=False)
    _fast: struct.Struct = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        head = [c.Const(self.sid, c.Int16ub)] if self.sid is not None else []
        body = [p.name / TYPES[p.type] for p in self.parameters]
        object.__setattr__(self, "layout", c.Struct(*head, *body, c.Terminated))
        # The decoding fast path: the same fields as one struct format, derived from the construct types.
        fields = ([c.Int16ub] if self.sid is not None else []) + [TYPES[p.type] for p in self.parameters]
        object.__setattr__(self, "_fast", struct.Struct(">" + "".join(f.fmtstr.lstrip("<>=!") for f in fields)))

    @property
    def key(self) -> tuple[int, int, int, int | None]:
        """(APID, service, subtype, SID): how a received packet finds its declaration."""
        return (self.apid, self.service, self.subtype, self.sid)

    def encode(self, raw: Mapping[str, int | float]) -> bytes:
        """Source data for raw parameter values (SID included)."""
        with construct_errors(f"{LAYER} {self.name}"):
            return self.layout.build(dict(raw))

    def decode(self, source_data: bytes, *, offset: int = 0) -> dict[str, int | float]:
        """Raw parameter values from source data (SID included)."""
        if len(source_data) != self._fast.size:
            raise RemoteProtocolError(f"{LAYER} {self.name}", "source data length", len(source_data),
                                      f"{self._fast.size} octets", offset=offset)
        values = self._fast.unpack(source_data)
        if self.sid is not None:
            if values[0] != self.sid:
                raise RemoteProtocolError(f"{LAYER} {self.name}", "SID", values[0], str(self.sid), offset=offset)
            values = values[1:]
        return {p.name: v for p, v in zip(self.parameters, values)}


class Severity(enum.IntEnum):
    """Event severity = the TM[5,x] subtype that reports it."""

    INFO = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4


@dataclass(frozen=True, slots=True)
class EventDefinition:
    """An on-board event: ID, severity, name and the text an operator reads."""

    event_id: int
    name: str
    severity: Severity
    text: str


@dataclass(frozen=True, slots=True)
class OnboardParameter:
    """A parameter reachable through PUS service 20 (report / set), by its 16-bit ID."""

    parameter_id: int
    parameter: Parameter
    settable: bool = True

    @property
    def octets(self) -> int:
        """Value width on the wire."""
        return TYPES[self.parameter.type].sizeof()


@dataclass(frozen=True, slots=True)
class ParameterSample:
    """One decoded parameter value: raw, engineering, unit and the limit check's verdict."""

    name: str
    raw: int | float
    engineering: int | float | str
    unit: str
    level: AlarmLevel


@dataclass(frozen=True)
class DecodedTm:
    """A PUS-C TM read with the dictionary: header, time, and whatever the dictionary knows of it."""

    tm: PusTm
    name: str | None  # the telemetry packet declaration's name, "EVENT", or None when unknown
    parameters: tuple[ParameterSample, ...] = ()
    event: EventDefinition | None = None
    event_id: int | None = None
    event_data: bytes = b""

    @property
    def tai_s(self) -> float:
        """On-board time of the packet, TAI seconds since the time code's epoch."""
        return float(self.tm.time.tai_s)


# ------------------------------------------------------------------ the dictionary

class MissionDictionary:
    """All declarations of one mission, indexed for both ends."""

    def __init__(self, *, name: str, scid: int, commands: Iterable[Command], telemetry: Iterable[TelemetryPacket],
                 events: Iterable[EventDefinition], onboard_parameters: Iterable[OnboardParameter] = ()) -> None:
        self.name = name
        self.scid = scid
        self.commands: dict[str, Command] = {}
        for cmd in commands:
            if cmd.name in self.commands:
                raise LocalProtocolError(LAYER, "command name", cmd.name, "unique names")
            self.commands[cmd.name] = cmd
        self.telemetry: dict[tuple[int, int, int, int | None], TelemetryPacket] = {}
        self.parameters: dict[str, tuple[TelemetryPacket | None, Parameter]] = {}
        for tm in telemetry:
            if tm.key in self.telemetry:
                raise LocalProtocolError(LAYER, "telemetry packet key", tm.key, "unique (APID, service, subtype, SID)")
            self.telemetry[tm.key] = tm
            for p in tm.parameters:
                if p.name in self.parameters:
                    raise LocalProtocolError(LAYER, "parameter name", p.name, "unique names")
                self.parameters[p.name] = (tm, p)
        self.events: dict[int, EventDefinition] = {e.event_id: e for e in events}
        self.onboard: dict[int, OnboardParameter] = {}
        for op in onboard_parameters:
            self.onboard[op.parameter_id] = op
            self.parameters.setdefault(op.parameter.name, (None, op.parameter))

    def command(self, name: str) -> Command:
        """The command called ``name`` (case-insensitive); UnknownName suggests close names."""
        cmd = self.commands.get(name.upper())
        if cmd is None:
            raise UnknownName("command", name, self.commands)
        return cmd

    def command_for(self, apid: int, service: int, subtype: int, app_data: bytes) -> Command | None:
        """The command a received TC is, matched on APID, service/subtype and fixed fields."""
        for cmd in self.commands.values():
            if (cmd.apid, cmd.service, cmd.subtype) == (apid, service, subtype):
                try:
                    cmd.decode_args(app_data)
                except RemoteProtocolError:
                    continue
                return cmd
        return None

    def telemetry_for(self, apid: int, service: int, subtype: int, source_data: bytes) -> TelemetryPacket | None:
        """The declaration of a received TM (the SID is read from the source data of TM[3,25])."""
        sid = int.from_bytes(source_data[:2], "big") if (service, subtype) == (3, 25) and len(source_data) >= 2 \
            else None
        return self.telemetry.get((apid, service, subtype, sid))

    def housekeeping(self, sid: int) -> TelemetryPacket:
        """The housekeeping structure with ``sid``."""
        for tm in self.telemetry.values():
            if tm.sid == sid:
                return tm
        raise UnknownName("housekeeping SID", str(sid), [str(t.sid) for t in self.telemetry.values() if t.sid])

    def parameter(self, name: str) -> Parameter:
        """The telemetry or on-board parameter called ``name``."""
        hit = self.parameters.get(name.upper())
        if hit is None:
            raise UnknownName("parameter", name, self.parameters)
        return hit[1]

    def event(self, event_id: int) -> EventDefinition | None:
        """The event definition with ``event_id``, if declared."""
        return self.events.get(event_id)

    def event_named(self, name: str) -> EventDefinition:
        """The event definition called ``name``."""
        for e in self.events.values():
            if e.name == name.upper():
                return e
        raise UnknownName("event", name, [e.name for e in self.events.values()])

    def onboard_by_name(self, name: str) -> OnboardParameter:
        """The service-20 parameter called ``name``."""
        for op in self.onboard.values():
            if op.parameter.name == name.upper():
                return op
        raise UnknownName("on-board parameter", name, [op.parameter.name for op in self.onboard.values()])

    def decode_tm(self, packet: bytes, *, offset: int = 0) -> DecodedTm:
        """Decode a PUS-C TM packet and, where the dictionary declares it, its parameters or event."""
        tm = PusTm.decode(packet, offset=offset)
        decl = self.telemetry_for(tm.apid, tm.service, tm.subtype, tm.source_data)
        if decl is not None:
            raw = decl.decode(tm.source_data, offset=offset)  # in decl.parameters' order (names are unique)
            sample = self.sample
            return DecodedTm(tm, decl.name, tuple([sample(p, v) for p, v in zip(decl.parameters, raw.values())]))
        if tm.service == 5 and 1 <= tm.subtype <= 4:
            body = decode_body(tm)
            return DecodedTm(tm, "EVENT", event=self.event(body.event_id), event_id=body.event_id,
                             event_data=body.auxiliary_data)
        if (tm.service, tm.subtype) == (20, 2):
            body = decode_body(tm, options=BodyOptions(parameter_octets=self.parameter_octets()))
            samples = []
            for v in body.values:
                op = self.onboard.get(v.parameter_id)
                if op is not None:
                    raw_value = TYPES[op.parameter.type].parse(v.value)
                    samples.append(self.sample(op.parameter, raw_value))
            return DecodedTm(tm, "PARAMETER_REPORT", tuple(samples))
        return DecodedTm(tm, None)

    @staticmethod
    def sample(parameter: Parameter, raw: int | float) -> ParameterSample:
        """A parameter value with its engineering value and limit verdict."""
        eng = parameter.engineering(raw)
        limits = parameter.limits
        level = limits.check(eng) if limits is not None and isinstance(eng, (int, float)) else AlarmLevel.NOMINAL
        return ParameterSample(parameter.name, raw, eng, parameter.unit, level)

    def parameter_octets(self) -> dict[int, int]:
        """Value width per service-20 parameter ID (for protocol.pus.BodyOptions)."""
        return {pid: op.octets for pid, op in self.onboard.items()}

    def to_json(self) -> dict[str, Any]:
        """The whole dictionary as plain JSON data (schema in docs/dictionary.md)."""
        return {
            "format": "ttc-mission-dictionary",
            "version": 1,
            "mission": self.name,
            "spacecraft_id": self.scid,
            "types": {k: {"octets": v.sizeof(), "signed": k.startswith("i"), "float": k.startswith("f")}
                      for k, v in TYPES.items()},
            "commands": [_command_json(cmd) for cmd in self.commands.values()],
            "telemetry": [_telemetry_json(tm) for tm in self.telemetry.values()],
            "events": [{"id": e.event_id, "name": e.name, "severity": e.severity.name, "text": e.text}
                       for e in self.events.values()],
            "onboard_parameters": [{"id": op.parameter_id, "settable": op.settable,
                                    **_parameter_json(op.parameter)} for op in self.onboard.values()],
        }


def _finite(x: float | None) -> float | None:
    return None if x is None or math.isinf(x) else x


def _command_json(cmd: Command) -> dict[str, Any]:
    fields = []
    for f in cmd.fields:
        if isinstance(f, Fixed):
            fields.append({"name": f.name, "type": f.type, "fixed": f.value})
        else:
            lo, hi = f.bounds
            fields.append({"name": f.name, "type": f.type, "unit": f.unit, "min": _finite(lo), "max": _finite(hi),
                           "enum": dict(f.enum) if f.enum else None, "default": f.default,
                           "description": f.description})
    return {"name": cmd.name, "apid": cmd.apid, "service": cmd.service, "subtype": cmd.subtype,
            "description": cmd.description, "fields": fields}


def _parameter_json(p: Parameter) -> dict[str, Any]:
    cal: dict[str, Any] | None = None
    if isinstance(p.calibration, Polynomial):
        cal = {"polynomial": list(p.calibration.coefficients)}
    elif isinstance(p.calibration, States):
        cal = {"states": {str(k): v for k, v in p.calibration.names.items()}}
    lim = None
    if p.limits is not None:
        lim = {"soft_low": p.limits.soft_low, "soft_high": p.limits.soft_high,
               "hard_low": p.limits.hard_low, "hard_high": p.limits.hard_high}
    return {"name": p.name, "type": p.type, "unit": p.unit, "calibration": cal, "limits": lim,
            "description": p.description}


def _telemetry_json(tm: TelemetryPacket) -> dict[str, Any]:
    return {"name": tm.name, "apid": tm.apid, "service": tm.service, "subtype": tm.subtype, "sid": tm.sid,
            "description": tm.description, "parameters": [_parameter_json(p) for p in tm.parameters]}


# ====================================================================== this mission

SCID = 0x2A
APID_OBC = 0x10  # on-board computer: services 1, 3, 5, 9, 11, 17, 20
APID_PLATFORM = 0x20  # platform functions (service 8): power switches, ADCS modes
APID_PAYLOAD = 0x30  # imager

SIDS = {"POWER": 1, "THERMAL": 2, "OBC": 3, "ADCS": 4}
ADCS_MODES = {"DETUMBLE": 0, "SUN_POINTING": 1, "NADIR": 2, "INERTIAL": 3, "TARGET_TRACKING": 4}
ON_OFF = {"OFF": 0, "ON": 1}
#: Service 8 function IDs (TC[8,1] "perform a function", first field of the application data).
FUNCTIONS = {"PAYLOAD_POWER": 0x0001, "ADCS_SET_MODE": 0x0010, "ADCS_SET_TARGET": 0x0011, "ADCS_ADD_TARGET": 0x0012,
             "ADCS_CLEAR_TARGETS": 0x0013, "IMAGER_CAPTURE": 0x0020}
#: Longest imaging plan the ADCS holds (ADCS_ADD_TARGET beyond it fails to start).
ADCS_MAX_TARGETS = 8

_centi = Polynomial((0.0, 0.01))
_milli = Polynomial((0.0, 0.001))
_no_yes = States({0: "NO", 1: "YES"})
_off_on = States({0: "OFF", 1: "ON"})

HEATER_SETPOINT = Parameter("HEATER_SETPOINT", "i16", "degC", _centi, Limits(soft_low=-5, soft_high=30,
                                                                             hard_low=-20, hard_high=45),
                            "battery heater set point")
BATTERY_LOW_THRESHOLD = Parameter("BATTERY_LOW_THRESHOLD", "u8", "%", None, Limits(hard_low=10, hard_high=60),
                                  "state of charge below which the battery-low event is raised")

# ADCS controller gains (service 20). Ranges keep the cascade stable at the 10 Hz control rate: the rate loop's
# discrete pole stays inside the unit circle (rate gain x 0.1 s < 1) and the on-board software also refuses an
# attitude gain above half the rate gain (an outer loop faster than the inner one rings).
ADCS_ATTITUDE_GAIN = Parameter("ADCS_ATTITUDE_GAIN", "f32", "1/s", None, None,
                               "rate command per radian of attitude error (outer loop bandwidth)")
ADCS_RATE_GAIN = Parameter("ADCS_RATE_GAIN", "f32", "1/s", None, None, "rate loop bandwidth")
ADCS_INTEGRAL_GAIN = Parameter("ADCS_INTEGRAL_GAIN", "f32", "1/s2", None, None,
                               "integral of the attitude error (removes steady disturbance torques)")
ADCS_MAX_SLEW_RATE = Parameter("ADCS_MAX_SLEW_RATE", "f32", "deg/s", None, None, "slew rate cap")
_ADCS_GAINS = {  # name: (parameter ID, parameter, min, max)
    "ADCS_ATTITUDE_GAIN": (0x0201, ADCS_ATTITUDE_GAIN, 0.125, 5.0),
    "ADCS_RATE_GAIN": (0x0202, ADCS_RATE_GAIN, 0.25, 9.5),
    "ADCS_INTEGRAL_GAIN": (0x0203, ADCS_INTEGRAL_GAIN, 0.0, 2.0),
    "ADCS_MAX_SLEW_RATE": (0x0204, ADCS_MAX_SLEW_RATE, 0.5, 10.0),
}


def _target_fields() -> tuple[Argument | Fixed, ...]:
    """TARGET_ID, WGS84 latitude/longitude/height and minimum elevation of one ground target."""
    return (
        Argument("TARGET_ID", "u16", "", 1, 0xFFFF, description="operator's number of the target, reported in "
                                                                   "HK_ADCS and the target events"),
        Argument("LAT", "f32", "deg", -90, 90, description="WGS84 geodetic latitude"),
        Argument("LON", "f32", "deg", -180, 180, description="WGS84 longitude, east positive"),
        Argument("ALT", "f32", "m", -500, 9000, default=0, description="height above the WGS84 ellipsoid"),
        Argument("MIN_ELEVATION", "f32", "deg", 0, 80, default=10,
                 description="the target is imaged while it is above this elevation"),
    )


def _gain_command(name: str) -> Command:
    pid, parameter, lo, hi = _ADCS_GAINS[name]
    return Command(f"SET_{name}", APID_OBC, 20, 3,
                   (Fixed("N", "u16", 1), Fixed("PARAMETER_ID", "u16", pid),
                    Argument("VALUE", "f32", parameter.unit, lo, hi, description=parameter.description)),
                   f"set the ADCS controller's {parameter.description}, TC[20,3]")


MISSION = MissionDictionary(
    name="ttc reference satellite (6U Earth observation)",
    scid=SCID,
    commands=[
        Command("PING", APID_OBC, 17, 1, description="are-you-alive test, TC[17,1]"),
        Command("ENABLE_HK", APID_OBC, 3, 5, (Fixed("N", "u16", 1), Argument("SID", "u16", enum=SIDS)),
                "enable periodic housekeeping of one structure, TC[3,5]"),
        Command("DISABLE_HK", APID_OBC, 3, 6, (Fixed("N", "u16", 1), Argument("SID", "u16", enum=SIDS)),
                "disable periodic housekeeping of one structure, TC[3,6]"),
        Command("SET_HK_INTERVAL", APID_OBC, 3, 31,
                (Fixed("N", "u16", 1), Argument("SID", "u16", enum=SIDS),
                 Argument("INTERVAL", "u32", "s", 1, 3600, description="collection interval (this mission "
                                                                        "counts it in seconds)")),
                "change the collection interval of one housekeeping structure, TC[3,31]"),
        Command("ENABLE_EVENT", APID_OBC, 5, 5, (Fixed("N", "u16", 1), Argument("EVENT_ID", "u16")),
                "enable the report of one event definition, TC[5,5]"),
        Command("DISABLE_EVENT", APID_OBC, 5, 6, (Fixed("N", "u16", 1), Argument("EVENT_ID", "u16")),
                "disable the report of one event definition, TC[5,6]"),
        Command("SET_TIME_REPORT_RATE", APID_OBC, 9, 1,
                (Argument("RATE_EXPONENT", "u8", "", 0, 8, description="a time report every 2**N seconds"),),
                "set the time report rate, TC[9,1]; the next report follows at once"),
        Command("ENABLE_SCHEDULE", APID_OBC, 11, 1, description="enable the time-based schedule, TC[11,1]"),
        Command("DISABLE_SCHEDULE", APID_OBC, 11, 2, description="disable the time-based schedule, TC[11,2]"),
        Command("REPORT_SCHEDULE", APID_OBC, 11, 17, description="summary report of every scheduled command, "
                                                                  "TC[11,17]"),
        Command("DELETE_SCHEDULED_TC", APID_OBC, 11, 5,
                (Fixed("N", "u16", 1), Argument("SOURCE_ID", "u16", default=0),
                 Argument("APID", "u16", "", 0, 0x7FF), Argument("SEQUENCE_COUNT", "u16", "", 0, 0x3FFF)),
                "delete one time-tagged command by its request ID (source ID, APID, sequence count), TC[11,5]"),
        Command("REPORT_HK", APID_OBC, 3, 27, (Fixed("N", "u16", 1), Argument("SID", "u16", enum=SIDS)),
                "generate one housekeeping report of one structure now, TC[3,27]"),
        Command("SET_HEATER_SETPOINT", APID_OBC, 20, 3,
                (Fixed("N", "u16", 1), Fixed("PARAMETER_ID", "u16", 0x0101),
                 Argument("VALUE", "i16", "cdegC", -4000, 6000, description="set point in 0.01 degC")),
                "set the battery heater set point, TC[20,3]"),
        Command("SET_BATTERY_LOW_THRESHOLD", APID_OBC, 20, 3,
                (Fixed("N", "u16", 1), Fixed("PARAMETER_ID", "u16", 0x0102),
                 Argument("VALUE", "u8", "%", 5, 80)),
                "set the battery-low event threshold, TC[20,3]"),
        Command("REPORT_PARAMETER", APID_OBC, 20, 1,
                (Fixed("N", "u16", 1), Argument("PARAMETER_ID", "u16", enum={"HEATER_SETPOINT": 0x0101,
                                                                          "BATTERY_LOW_THRESHOLD": 0x0102,
                                                                          **{k: v[0] for k, v in _ADCS_GAINS.items()}})),
                "report the value of one on-board parameter, TC[20,1]"),
        *(_gain_command(name) for name in _ADCS_GAINS),
        Command("PAYLOAD_POWER", APID_PLATFORM, 8, 1,
                (Fixed("FUNCTION_ID", "u16", FUNCTIONS["PAYLOAD_POWER"]), Argument("STATE", "u8", enum=ON_OFF)),
                "switch the imager on or off, TC[8,1]"),
        Command("ADCS_SET_MODE", APID_PLATFORM, 8, 1,
                (Fixed("FUNCTION_ID", "u16", FUNCTIONS["ADCS_SET_MODE"]), Argument("MODE", "u8", enum=ADCS_MODES)),
                "change the attitude control mode, TC[8,1]; INERTIAL holds the attitude of the moment, "
                "TARGET_TRACKING flies the uploaded target list (fails to start when it is empty)"),
        Command("ADCS_SET_TARGET", APID_PLATFORM, 8, 1,
                (Fixed("FUNCTION_ID", "u16", FUNCTIONS["ADCS_SET_TARGET"]), *_target_fields()),
                "replace the target list with this one target and track it (next pass above MIN_ELEVATION "
                "within 24 h; fails when there is none), TC[8,1]"),
        Command("ADCS_ADD_TARGET", APID_PLATFORM, 8, 1,
                (Fixed("FUNCTION_ID", "u16", FUNCTIONS["ADCS_ADD_TARGET"]), *_target_fields()),
                f"append one target to the imaging plan (at most {ADCS_MAX_TARGETS}; targets are imaged in "
                "list order, each on its next pass after the previous one); replans if tracking, TC[8,1]"),
        Command("ADCS_CLEAR_TARGETS", APID_PLATFORM, 8, 1,
                (Fixed("FUNCTION_ID", "u16", FUNCTIONS["ADCS_CLEAR_TARGETS"]),),
                "empty the target list (target tracking falls back to nadir pointing), TC[8,1]"),
        Command("IMAGER_CAPTURE", APID_PAYLOAD, 8, 1,
                (Fixed("FUNCTION_ID", "u16", FUNCTIONS["IMAGER_CAPTURE"]),
                 Argument("EXPOSURE", "u16", "ms", 1, 2000, default=20)),
                "take one image; fails (wrong mode) while the imager is off, TC[8,1]"),
    ],
    telemetry=[
        TelemetryPacket("HK_POWER", APID_OBC, 3, 25, (
            Parameter("BATTERY_VOLTAGE", "u16", "V", _milli, Limits(6.8, 8.4, 6.4, 8.6), "battery voltage"),
            Parameter("BATTERY_CURRENT", "i16", "A", _milli, Limits(-4, 4, -6, 6), "battery current, + charging"),
            Parameter("BATTERY_SOC", "u8", "%", None, Limits(soft_low=30, hard_low=15), "state of charge"),
            Parameter("SOLAR_POWER", "u16", "W", _centi, None, "solar array input power"),
            Parameter("IN_ECLIPSE", "u8", "", _no_yes),
            Parameter("PAYLOAD_POWERED", "u8", "", _off_on),
        ), sid=SIDS["POWER"], description="power subsystem housekeeping"),
        TelemetryPacket("HK_THERMAL", APID_OBC, 3, 25, (
            Parameter("OBC_TEMP", "i16", "degC", _centi, Limits(-10, 50, -25, 70)),
            Parameter("BATTERY_TEMP", "i16", "degC", _centi, Limits(0, 35, -10, 45)),
            Parameter("PANEL_TEMP", "i16", "degC", _centi, Limits(-60, 90, -90, 120)),
            HEATER_SETPOINT,
            Parameter("HEATER_ON", "u8", "", _off_on),
        ), sid=SIDS["THERMAL"], description="thermal housekeeping"),
        TelemetryPacket("HK_OBC", APID_OBC, 3, 25, (
            Parameter("UPTIME", "u32", "s"),
            Parameter("REBOOT_COUNT", "u16"),
            Parameter("FREE_STORAGE", "u32", "KiB", None, Limits(soft_low=1024, hard_low=128)),
            Parameter("STORED_PACKETS", "u32"),
            Parameter("TC_ACCEPTED", "u16"),
            Parameter("TC_REJECTED", "u16"),
            Parameter("ADCS_MODE", "u8", "", States({v: k for k, v in ADCS_MODES.items()})),
            Parameter("SCHEDULED_TCS", "u16"),
        ), sid=SIDS["OBC"], description="on-board computer housekeeping"),
        # Pointing error limits: 0.01 deg is the settled peak the imager is specified for (issue 4: <= 0.003 deg
        # RMS, <= 0.01 deg peak), so beyond it an image is degraded (warning); 0.1 deg is the settle threshold
        # and ~870 m on the ground from 500 km, so beyond it the target is leaving a narrow field (critical).
        # The same two angles bound the estimator's 1-sigma attitude uncertainty (36 / 360 arcsec).
        TelemetryPacket("HK_ADCS", APID_OBC, 3, 25, (
            Parameter("ADCS_CONTROL_MODE", "u8", "", States({v: k for k, v in ADCS_MODES.items()}),
                      description="mode being flown (TARGET_TRACKING falls back to NADIR when the plan ends)"),
            Parameter("ADCS_TARGET_ID", "u16", "", description="target tracked or pre-pointed at, 0 = none"),
            Parameter("ADCS_IN_WINDOW", "u8", "", _no_yes, description="the target is above its minimum elevation"),
            Parameter("ADCS_TARGET_COUNT", "u8", "", description="targets in the uploaded list"),
            Parameter("ADCS_TARGET_ERROR", "f32", "deg", None, Limits(soft_high=0.01, hard_high=0.1),
                      "estimated boresight-to-target angle while a target window is open, 0 otherwise"),
            Parameter("ADCS_POINTING_ERROR", "f32", "deg", None, None,
                      "estimated angle of the pointed axis to its reference in any pointing mode (slews "
                      "included), 0 in detumble"),
            Parameter("ADCS_Q0", "f32", "", description="estimated attitude quaternion body -> GCRS, scalar"),
            Parameter("ADCS_Q1", "f32", "", description="estimated attitude quaternion, x"),
            Parameter("ADCS_Q2", "f32", "", description="estimated attitude quaternion, y"),
            Parameter("ADCS_Q3", "f32", "", description="estimated attitude quaternion, z"),
            *(Parameter(f"ADCS_RATE_{a}", "f32", "deg/s", None, Limits(-6.5, 6.5, -10, 10),
                        f"estimated body rate about {a} (warning above the 6 deg/s slew cap)") for a in "XYZ"),
            *(Parameter(f"ADCS_WHEEL_SPEED_{i}", "i16", "rpm", None, Limits(-5000, 5000, -5700, 5700),
                        f"reaction wheel {i} speed (30 mNms at ~6000 rpm)") for i in range(1, 5)),
            Parameter("ADCS_WHEEL_MOMENTUM", "f32", "mNms", None, Limits(soft_high=20, hard_high=40),
                      "magnitude of the wheels' total momentum in body axes (dumping keeps it low; 40 mNms "
                      "is well inside the pyramid's envelope but leaves little margin for a slew)"),
            Parameter("ADCS_ATTITUDE_SIGMA", "f32", "arcsec", None, Limits(soft_high=36, hard_high=360),
                      "estimator: 1-sigma attitude uncertainty, sqrt of the trace of the attitude covariance"),
            Parameter("ADCS_GYRO_BIAS_SIGMA", "f32", "deg/h", None, None,
                      "estimator: 1-sigma gyro bias uncertainty, sqrt of the trace of the bias covariance"),
            Parameter("ADCS_STAR_TRACKER", "u8", "", States({0: "OUTAGE", 1: "VALID"})),
        ), sid=SIDS["ADCS"], description="attitude determination and control housekeeping"),
    ],
    events=[
        EventDefinition(0x0001, "BOOT", Severity.INFO, "on-board software started"),
        EventDefinition(0x0010, "ADCS_MODE_CHANGED", Severity.INFO, "attitude control mode changed"),
        EventDefinition(0x0011, "ADCS_WINDOW_OPEN", Severity.INFO, "a target rose above its minimum elevation"),
        EventDefinition(0x0012, "ADCS_WINDOW_CLOSED", Severity.INFO, "a target's imaging window ended"),
        EventDefinition(0x0013, "ADCS_TARGET_ACQUIRED", Severity.INFO,
                        "the boresight settled on the target (error below 0.05 deg)"),
        EventDefinition(0x0014, "ADCS_TARGET_LOST", Severity.MEDIUM,
                        "the boresight left the target during its window (error above 0.5 deg)"),
        EventDefinition(0x0015, "ADCS_TARGET_UNREACHABLE", Severity.LOW,
                        "a target has no pass above its minimum elevation within 24 h"),
        EventDefinition(0x0016, "ADCS_PLAN_COMPLETE", Severity.INFO, "every target of the list was imaged"),
        EventDefinition(0x0017, "ADCS_STAR_TRACKER_OUTAGE", Severity.LOW,
                        "no star-tracker head has a valid solution (sun or Earth in its exclusion cone)"),
        EventDefinition(0x0018, "ADCS_STAR_TRACKER_RECOVERED", Severity.INFO, "a star-tracker solution is back"),
        EventDefinition(0x0019, "ADCS_WHEEL_SATURATION", Severity.LOW, "a reaction wheel reached its torque limit"),
        EventDefinition(0x0100, "BATTERY_LOW", Severity.MEDIUM, "battery state of charge below threshold"),
        EventDefinition(0x0101, "ECLIPSE_ENTRY", Severity.INFO, "entered eclipse"),
        EventDefinition(0x0102, "ECLIPSE_EXIT", Severity.INFO, "left eclipse"),
        EventDefinition(0x0200, "TC_REJECTED", Severity.LOW, "a telecommand was rejected"),
        EventDefinition(0x0201, "UPLINK_REJECTED", Severity.LOW,
                        "uplink frames or octets were rejected (bad CLTU, frame CRC, spacecraft ID or junk)"),
        EventDefinition(0x0300, "PAYLOAD_POWER_CHANGED", Severity.INFO, "imager power switched"),
        EventDefinition(0x0400, "SCHEDULED_TC_RELEASED", Severity.INFO, "a time-tagged command was released"),
        EventDefinition(0x0500, "STORAGE_FULL", Severity.HIGH, "on-board storage full, oldest packets dropped"),
    ],
    onboard_parameters=[
        OnboardParameter(0x0101, HEATER_SETPOINT),
        OnboardParameter(0x0102, BATTERY_LOW_THRESHOLD),
        *(OnboardParameter(pid, parameter) for pid, parameter, _, _ in _ADCS_GAINS.values()),
    ],
)
