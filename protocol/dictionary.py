"""The mission dictionary's schema: the building blocks of one spacecraft's contract.

A mission is declared with these blocks (in Python, see :mod:`protocol.mission`
for the reference satellite, or in a TOML file read by
:mod:`protocol.missionfile`) and becomes one :class:`MissionDictionary`: the
one contract both ends import. The spacecraft builds its telemetry and parses
its commands with it, the station validates commands, decodes parameters and
checks limits with it, and ``ttc decode`` reads recordings with it. Each
declaration turns into a construct layout (the single source of truth for its
octets); the JSON export (:meth:`MissionDictionary.to_json`, ``ttc db
export``) is documented in ``docs/dictionary.md`` so other tools can read it.

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
  SID) or another report whose source data is a fixed list of parameters,
  optionally followed by octets of the mission's own (``tail``: the data of an
  image part).
* :class:`EventDefinition` -- event ID, severity (= the TM[5,x] subtype), text
  and the layout of its auxiliary data.
* :class:`OnboardParameter` -- a parameter reachable through service 20.
* :class:`LinkSettings` -- what both ends of the link must agree on: the
  downlink (:class:`DownlinkSettings`: frame kind and length, OCF/FECF, RS
  interleave and basis, randomiser, and the :class:`VirtualChannel`
  allocation: every APID travels on exactly one VC, so its sequence count is
  continuous as CCSDS 133.0-B-2 §4.1.3.4.2 intends) and the uplink
  (:class:`UplinkSettings`: TC VC, MAP, FECF, frame length, CLTU randomiser).
* :class:`TimeSettings` -- the time code of every TM (CUC widths, epoch, scale).

Everything is validated when the dictionary is built: a :class:`DictionaryError`
names the declaration, the field, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import hashlib
import json
import math
import numbers
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import construct as c
import numpy as np

from .aosframe import AosFrameConfig
from .errors import LocalProtocolError, RemoteProtocolError, construct_errors
from .pus import AckFlags, BodyField, BodyOptions, MessageType, PusTc, PusTm, body_fields, decode_body
from .spacepacket import PacketType
from .reedsolomon import Basis, RSConfig
from .stack import DownlinkConfig, UplinkConfig
from .cltu import CltuConfig
from .timecode import CCSDS_EPOCH, CucConfig, TimeScale
from .tmframe import TmFrameConfig

__all__ = [
    "TYPES", "Argument", "Fixed", "Command", "Polynomial", "States", "Limits", "AlarmLevel", "Parameter",
    "TelemetryPacket", "Severity", "EventDefinition", "OnboardParameter", "MissionDictionary",
    "UnknownName", "ParameterSample", "DecodedTm", "DictionaryError", "VirtualChannel", "DownlinkSettings",
    "UplinkSettings", "LinkSettings", "TimeSettings",
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


class DictionaryError(LocalProtocolError):
    """A declaration the dictionary cannot hold: names the declaration and field, the value and what is allowed."""

    def __init__(self, field: str, value: Any, allowed: str, *, detail: str = "") -> None:
        super().__init__(LAYER, field, value, allowed, detail=detail)


def _check_type(type_name: str, where: str) -> None:
    if type_name not in TYPES:
        raise DictionaryError(f"{where} type", type_name, ", ".join(TYPES))


def _f32_outward(value: float, towards: float) -> float:
    """The single-precision value nearest ``value`` on the side of ``towards`` (or ``value`` itself)."""
    if not math.isfinite(value):
        return value
    v32 = struct.unpack(">f", struct.pack(">f", value))[0]
    if (v32 - value) * (towards - value) >= 0:
        return v32
    return float(np.nextafter(np.float32(v32), np.float32(towards)))


def _check_name(name: str, kind: str) -> None:
    """A command, argument, parameter or event name is upper case: the dictionary looks them up upper-cased.

    :meth:`MissionDictionary.command`, :meth:`Command.argument`,
    :meth:`Command.validate`, :meth:`MissionDictionary.parameter` and
    :meth:`MissionDictionary.event_named` take names case-insensitively by
    upper-casing them, so a name declared in lower case could never be found.
    """
    if not isinstance(name, str) or not name or name != name.upper():
        shown = f" such as {name.upper()!r}" if isinstance(name, str) and name else ""
        raise DictionaryError(f"{kind} name", name, f"an upper-case name{shown}",
                              detail=f"{kind}s are looked up case-insensitively, by their upper-case name")


def _first_duplicate(names: list[str]) -> str | None:
    """The first name that occurs twice, if any."""
    seen: set[str] = set()
    for n in names:
        if n in seen:
            return n
        seen.add(n)
    return None


def _check_int(value: Any, where: str, lo: int, hi: int, allowed: str) -> None:
    """``value`` is an integer in lo..hi, else a DictionaryError naming ``where`` with ``allowed``."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise DictionaryError(where, value, allowed)


def _int_range(type_name: str) -> str:
    """The integers an integer wire type carries, as the allowed range of a message (exact, also for 64 bits)."""
    lo, hi = _type_range(type_name)
    return f"{int(lo)}..{int(hi)} ({type_name})"


def _check_coefficients(poly: Polynomial, where: str) -> None:
    """Every coefficient of ``poly`` is a finite number."""
    if not all(math.isfinite(k) for k in poly.coefficients):
        raise DictionaryError(where, list(poly.coefficients), "finite coefficients",
                              detail="an infinite or NaN coefficient gives no engineering value")


def _monotonic(poly: Polynomial, lo: float, hi: float) -> bool:
    """Whether ``poly`` is strictly monotonic on the real interval [lo, hi], decided exactly, not by sampling.

    A polynomial is strictly monotonic on an interval when its derivative
    keeps one sign there (it may touch zero at isolated points, as x**3 does
    at 0). The real roots of the derivative inside (lo, hi) cut the interval
    into pieces on each of which the derivative has one sign; that sign is
    read at the middle of each piece. The real parts of all roots are used as
    cuts (a complex root only adds a harmless cut), and a piece whose
    derivative is zero within rounding (the two halves of a double root, as
    numpy finds it) decides nothing.
    """
    coeffs = [float(k) for k in poly.coefficients]
    while coeffs and coeffs[-1] == 0:
        coeffs.pop()  # a zero highest coefficient adds no degree
    if len(coeffs) <= 1 or not all(math.isfinite(k) for k in coeffs):
        return False  # a constant is not monotonic; a non-finite one has no values
    if len(coeffs) == 2:
        return True  # linear with c1 != 0
    lo, hi = float(lo), float(hi)
    derivative = np.polynomial.polynomial.polyder(np.array(coeffs))  # c0 first, as numpy.polynomial wants
    magnitude = np.abs(derivative)
    cuts = sorted({float(r.real) for r in np.polynomial.polynomial.polyroots(derivative) if lo < r.real < hi})
    bounds = [lo, *cuts, hi]
    signs: set[bool] = set()
    with np.errstate(over="ignore", invalid="ignore"):
        for a, b in zip(bounds, bounds[1:]):
            middle = a + (b - a) / 2
            slope = float(np.polynomial.polynomial.polyval(middle, derivative))
            if math.isnan(slope):
                return False  # overflows: monotonicity cannot be shown
            rounding = float(np.polynomial.polynomial.polyval(abs(middle), magnitude)) * 8 * len(coeffs) * 2.0 ** -52
            if math.isfinite(rounding) and abs(slope) <= rounding:
                continue  # zero within rounding: a piece between two halves of a root
            signs.add(slope > 0)
    return len(signs) == 1


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
    """An operator-supplied command argument: type, unit, valid range, enumeration labels, default, calibration.

    With a ``calibration`` (raw -> engineering, linear) the operator gives the
    engineering value (``VALUE=15`` degC) and the wire carries the raw one;
    ``min``/``max``/``default`` and ``unit`` are then engineering, and
    ``raw:N`` gives the raw value explicitly. Without one, value = raw.
    """

    name: str
    type: str | None = None  # None only inside a command's ``pus`` binding: the PUS body gives the type
    unit: str = ""
    min: float | None = None
    max: float | None = None
    enum: Mapping[str, int] | None = None
    default: int | float | str | None = None
    description: str = ""
    calibration: Polynomial | None = None

    def __post_init__(self) -> None:
        _check_name(self.name, "argument")
        if self.calibration is not None:
            _check_coefficients(self.calibration, f"argument {self.name} calibration")
        if self.type is None:
            return  # typed by the PUS body field it is bound to (Command checks it then)
        _check_type(self.type, f"argument {self.name}")
        tlo, thi = _type_range(self.type)
        if self.enum is not None:
            object.__setattr__(self, "enum", dict(self.enum))
            for label, code in self.enum.items():
                if not tlo <= code <= thi:
                    raise DictionaryError(f"argument {self.name} enum {label}", code, f"{tlo:g}..{thi:g} ({self.type})")
        cal = self.calibration
        if cal is not None:
            if self.enum is not None:
                raise DictionaryError(f"argument {self.name} calibration", list(cal.coefficients),
                                      "no calibration on an enumerated argument")
            if len(cal.coefficients) != 2 or cal.coefficients[1] == 0:
                raise DictionaryError(f"argument {self.name} calibration", list(cal.coefficients),
                                      "a linear polynomial [c0, c1] with c1 != 0 (the wire value is computed back "
                                      "from the engineering one)")
        lo, hi = self.bounds
        elo, ehi = self.engineering_range
        if lo > hi or lo < elo or hi > ehi:
            raise DictionaryError(f"argument {self.name} range", f"{lo:g}..{hi:g}",
                                  f"a range inside {elo:g}..{ehi:g}{' ' + self.unit if self.unit else ''} "
                                  f"(what {self.type} carries{' after calibration' if cal else ''})")
        if self.default is not None:
            try:
                self.raw(self.default, command="default of")
            except LocalProtocolError as e:
                raise DictionaryError(f"argument {self.name} default", self.default, self.allowed) from e

    @property
    def allowed(self) -> str:
        """The allowed values, as an operator reads them."""
        if self.enum:
            return " | ".join(f"{k} ({v})" for k, v in self.enum.items())
        lo, hi = self.bounds
        unit = f" {self.unit}" if self.unit else ""
        raw = ""
        if self.calibration is not None:
            rlo, rhi = self.raw_bounds
            raw = f" (raw:{rlo:g}..raw:{rhi:g})"
        return f"{lo:g}..{hi:g}{unit}{raw}"

    @property
    def engineering_range(self) -> tuple[float, float]:
        """What the wire type carries, in engineering units."""
        tlo, thi = _type_range(self.type or "f64")
        if self.calibration is None or math.isinf(tlo):
            return (tlo, thi)
        a, b = self.calibration(tlo), self.calibration(thi)
        return (min(a, b), max(a, b))

    @property
    def bounds(self) -> tuple[float, float]:
        """Valid range of the value the operator gives: the declared one, else what the type carries."""
        elo, ehi = self.engineering_range
        return (elo if self.min is None else self.min, ehi if self.max is None else self.max)

    @property
    def raw_bounds(self) -> tuple[float, float]:
        """Valid range of the wire value."""
        lo, hi = self.bounds
        if self.calibration is None:
            a, b = lo, hi
        else:
            a, b = self.calibration.inverse(lo), self.calibration.inverse(hi)
            a, b = min(a, b), max(a, b)
        if self.type is not None and not self.type.startswith("f"):
            if self.calibration is not None:
                a, b = math.ceil(a - 1e-9), math.floor(b + 1e-9)
        elif self.type == "f32":
            # outward to the nearest single-precision values, so a value in range still is after the wire's
            # rounding (1e-12 travels as 9.9999998e-13)
            a, b = _f32_outward(a, -math.inf), _f32_outward(b, math.inf)
        return (a, b)

    def engineering(self, raw: int | float) -> int | float:
        """The engineering value of a wire value."""
        return raw if self.calibration is None else self.calibration(raw)

    def raw(self, value: Any, *, command: str) -> int | float:
        """The wire value for an operator value (a number, a numeric string, an enumeration label, or raw:N)."""
        where = f"{command}.{self.name}"
        wire = self.type or "f64"
        if self.enum is not None:
            if isinstance(value, str) and value.upper() in self.enum:
                return self.enum[value.upper()]
            text = str(value)[4:] if isinstance(value, str) and value.lower().startswith("raw:") else value
            if isinstance(text, (int, str)) and str(text).lstrip("-").isdigit() and int(text) in self.enum.values():
                return int(text)
            raise LocalProtocolError(LAYER, f"argument {where}", value, self.allowed)
        explicit_raw = isinstance(value, str) and value.strip().lower().startswith("raw:")
        text = value.strip()[4:] if explicit_raw else value
        number: float
        try:
            if wire.startswith("f") or (self.calibration is not None and not explicit_raw):
                number = float(text)
            else:
                number = int(str(text), 0)
        except (TypeError, ValueError) as e:
            kind = "a number" if wire.startswith("f") or self.calibration else "an integer"
            raise LocalProtocolError(LAYER, f"argument {where}", value, f"{kind} in {self.allowed}") from e
        if not math.isfinite(number):
            raise LocalProtocolError(LAYER, f"argument {where}", value, f"a finite number in {self.allowed}")
        if explicit_raw or self.calibration is None:
            lo, hi = self.raw_bounds
            if not lo <= number <= hi:
                raise LocalProtocolError(LAYER, f"argument {where}", value, self.allowed)
        else:
            lo, hi = self.bounds
            if not lo <= number <= hi:
                raise LocalProtocolError(LAYER, f"argument {where}", value, self.allowed)
            number = self.calibration.inverse(number)
            if not wire.startswith("f"):
                number = int(round(number))
                rlo, rhi = self.raw_bounds
                number = int(min(rhi, max(rlo, number)))
        if wire == "f32":  # the value the wire will carry, so what is validated is what is sent
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
        lo, hi = _type_range(self.type)
        if math.isinf(lo):  # a float field: an integer its mantissa holds exactly
            bits = 24 if self.type == "f32" else 53
            _check_int(self.value, f"fixed field {self.name} value", -(1 << bits), 1 << bits,
                       f"an integer {self.type} holds exactly (-2**{bits}..2**{bits})")
        else:
            _check_int(self.value, f"fixed field {self.name} value", int(lo), int(hi), _int_range(self.type))


def pus_body_fields(kind: PacketType, service: int, subtype: int) -> tuple[BodyField, ...] | None:
    """The flat fields protocol.pus declares for TC/TM[service,subtype], or None when it declares no flat body."""
    try:
        key = MessageType((kind, service, subtype))
    except ValueError:
        return None  # a mission-specific service: the dictionary declares the whole body
    return body_fields(key)


def _field_name(body_field: str) -> str:
    return body_field.replace(".", "_").upper()


def _bind(name: str, service: int, subtype: int, flat: tuple[BodyField, ...] | None,
          bindings: Mapping[str, Argument | int], tail: tuple[Argument | Fixed, ...]) -> tuple[Argument | Fixed, ...]:
    """A command's fields from its PUS body: counts are 1, named body fields bound, the open part ``tail``."""
    where = f"command {name} (TC[{service},{subtype}])"
    if flat is None:
        raise DictionaryError(f"{where} pus", f"TC[{service},{subtype}]",
                              "a PUS message protocol.pus declares with a flat body (drop `pus` and declare the "
                              "fields of a mission-specific service)")
    out: list[Argument | Fixed] = []
    used: set[str] = set()
    has_tail = False
    for bf in flat:
        if bf.count:
            out.append(Fixed(_field_name(bf.name), bf.type or "u16", 1))
            continue
        if bf.type is None:
            has_tail = True
            out.extend(tail)
            continue
        bound = bindings.get(bf.name)
        if bound is None:
            raise DictionaryError(f"{where} body field {bf.name}", "not bound",
                                  f"an argument or a fixed value (bind: {', '.join(f.name for f in flat if f.type and not f.count)})")
        used.add(bf.name)
        if isinstance(bound, Argument):
            if bound.type is not None and bound.type != bf.type:
                raise DictionaryError(f"{where} argument {bound.name} type", bound.type,
                                      f"{bf.type} (the type of PUS body field {bf.name})")
            arg = dataclasses.replace(bound, type=bf.type)
            if bf.codes is not None and arg.enum:
                bad = [v for v in arg.enum.values() if v not in {int(m) for m in bf.codes}]
                if bad:
                    raise DictionaryError(f"{where} argument {arg.name} enum", bad[0],
                                          f"a {bf.codes.__name__}")
            out.append(arg)
        elif isinstance(bound, Fixed):
            if bound.type != bf.type:
                raise DictionaryError(f"{where} fixed {bound.name} type", bound.type, f"{bf.type} ({bf.name})")
            out.append(bound)
        elif isinstance(bound, int) and not isinstance(bound, bool):
            out.append(Fixed(_field_name(bf.name), bf.type, bound))
        else:
            raise DictionaryError(f"{where} body field {bf.name}", bound, "an Argument or an integer")
    unknown = sorted(set(bindings) - used)
    if unknown:
        raise DictionaryError(f"{where} pus binding", unknown[0],
                              f"a field of the TC[{service},{subtype}] body: "
                              f"{', '.join(f.name for f in flat if f.type and not f.count) or 'none'}")
    if tail and not has_tail:
        raise DictionaryError(f"{where} fields", tuple(f.name for f in tail),
                              "none: this PUS body has no mission-defined part")
    return tuple(out)


def _check_layout(name: str, service: int, subtype: int, flat: tuple[BodyField, ...],
                  fields: tuple[Argument | Fixed, ...]) -> None:
    """Fields declared in full must lay out the PUS body of their message (one entry per list)."""
    where = f"command {name} (TC[{service},{subtype}])"
    expected = ", ".join(f"{'N ' if f.count else ''}{f.name} {f.type or '...'}" for f in flat)
    i = 0
    for bf in flat:
        if bf.type is None:
            return  # the rest is the mission's
        if i >= len(fields):
            raise DictionaryError(f"{where} fields", len(fields), f"the PUS body's fields: {expected}")
        f = fields[i]
        if f.type is not None and f.type != bf.type:
            raise DictionaryError(f"{where} field {f.name} type", f.type,
                                  f"{bf.type} (PUS body field {bf.name}; the body: {expected})")
        if bf.count and not (isinstance(f, Fixed) and f.value == 1):
            raise DictionaryError(f"{where} field {f.name}", "not a fixed 1",
                                  f"a fixed count of 1 (PUS body field {bf.name}: one entry per command)")
        i += 1
    if i != len(fields):
        raise DictionaryError(f"{where} fields", len(fields), f"{i} fields, the PUS body's: {expected or 'none'}")


@dataclass(frozen=True)
class Command:
    """A telecommand: APID, PUS service/subtype and the fields of its application data, in wire order."""

    name: str
    apid: int
    service: int
    subtype: int
    fields: tuple[Argument | Fixed, ...] = ()
    description: str = ""
    pus: Mapping[str, Argument | int] | None = field(default=None, repr=False, compare=False)
    hazardous: bool = False  # `ttc send` asks the operator to confirm it, the station wants the confirmation
    layout: c.Construct = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name, "command")
        where = f"command {self.name}"
        _check_int(self.apid, f"{where} apid", 0, 0x7FE, "0..2046 (11 bits, 0x7FF is idle)")
        _check_int(self.service, f"{where} service", 0, 0xFF, "0..255 (8 bits, PUS-C TC secondary header)")
        _check_int(self.subtype, f"{where} subtype", 0, 0xFF, "0..255 (8 bits, PUS-C TC secondary header)")
        object.__setattr__(self, "fields", tuple(self.fields))
        flat = pus_body_fields(PacketType.TC, self.service, self.subtype)
        if self.pus is not None:
            object.__setattr__(self, "fields", _bind(self.name, self.service, self.subtype, flat, self.pus,
                                                     self.fields))
        elif flat is not None:
            _check_layout(self.name, self.service, self.subtype, flat, self.fields)
        for f in self.fields:
            if f.type is None:
                raise DictionaryError(f"command {self.name} argument {f.name} type", None,
                                      ", ".join(TYPES), detail="only a field bound to a PUS body field may leave "
                                                               "its type to the body")
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
            lo, hi = a.raw_bounds
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
    """Engineering value = sum(coefficients[i] * raw**i).

    The coefficients are kept as floats, whatever numbers they are given as:
    ``Polynomial((0, 1))`` is ``Polynomial((0.0, 1.0))``, so a Python mission
    exports (and fingerprints) as the mission file read back from it, which
    reads every coefficient as a float. Whether they are finite and monotonic
    is the declaration's to check (:class:`Parameter`, :class:`Argument`).
    """

    coefficients: tuple[float, ...]

    def __post_init__(self) -> None:
        coefficients = tuple(self.coefficients)
        for i, k in enumerate(coefficients):
            if isinstance(k, bool) or not isinstance(k, numbers.Real):
                raise DictionaryError(f"calibration coefficient c{i}", k, "a real number")
        object.__setattr__(self, "coefficients", tuple(float(k) for k in coefficients))

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
    INVALID = 3  # no valid value (NaN or infinite): neither nominal nor out of limits, it clears no alarm


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
        _check_name(self.name, "parameter")
        _check_type(self.type, f"parameter {self.name}")
        lo, hi = _type_range(self.type)
        cal = self.calibration
        if isinstance(cal, Polynomial):
            _check_coefficients(cal, f"parameter {self.name} calibration")
        if isinstance(cal, Polynomial) and not self.type.startswith("f") and not _monotonic(cal, lo, hi):
            raise DictionaryError(f"parameter {self.name} calibration", list(cal.coefficients),
                                  f"a polynomial monotonic over the raw range {lo:g}..{hi:g} of {self.type}",
                                  detail="limits and raw values for engineering ones need one raw value per "
                                         "engineering value")
        if self.limits is not None:
            if isinstance(cal, States):
                raise DictionaryError(f"parameter {self.name} limits", "limits on a state parameter",
                                      "limits only on numeric parameters")
            elo, ehi = self.engineering_range
            lim = self.limits
            for key in ("soft_low", "soft_high", "hard_low", "hard_high"):
                value = getattr(lim, key)
                if value is not None and not elo <= value <= ehi:
                    unit = f" {self.unit}" if self.unit else ""
                    raise DictionaryError(f"parameter {self.name} limits.{key}", value,
                                          f"{elo:g}..{ehi:g}{unit} (what {self.type} can carry"
                                          f"{' after calibration' if cal else ''})")
            for low, high in (("soft_low", "soft_high"), ("hard_low", "hard_high"), ("hard_low", "soft_low"),
                              ("soft_high", "hard_high")):
                a, b = getattr(lim, low), getattr(lim, high)
                if a is not None and b is not None and a > b:
                    raise DictionaryError(f"parameter {self.name} limits.{low}", a, f"<= {high} ({b:g})")

    @property
    def engineering_range(self) -> tuple[float, float]:
        """Lowest and highest engineering value the wire type can carry."""
        lo, hi = _type_range(self.type)
        if isinstance(self.calibration, Polynomial) and not self.type.startswith("f"):
            a, b = self.calibration(lo), self.calibration(hi)
            return (min(a, b), max(a, b))
        return (lo, hi)

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
    """A telemetry report whose source data is a fixed list of parameters (after the SID for TM[3,25]).

    ``subtype`` may be a tuple when one layout serves several subtypes (the
    first, intermediate and last parts of a large packet, TM[13,1..3]).
    ``tail`` names octets of any length after the parameters (an image part's
    data): they are not parameters, :meth:`split` hands them back.
    """

    name: str
    apid: int
    service: int
    subtype: int | tuple[int, ...]
    parameters: tuple[Parameter, ...]
    sid: int | None = None
    description: str = ""
    tail: str | None = None
    layout: c.Construct = field(init=False, repr=False, compare=False)
    _fast: struct.Struct = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", tuple(self.parameters))
        where = f"telemetry {self.name}"
        _check_int(self.apid, f"{where} apid", 0, 0x7FE, "0..2046 (11 bits, 0x7FF is idle)")
        _check_int(self.service, f"{where} service", 0, 0xFF, "0..255 (8 bits, PUS-C TM secondary header)")
        if isinstance(self.subtype, (list, tuple)):
            subtypes = tuple(self.subtype)
            if not subtypes:
                raise DictionaryError(f"{where} subtype", subtypes, "a subtype 0..255 or a non-empty list of them")
            for st in subtypes:
                _check_int(st, f"{where} subtype", 0, 0xFF, "0..255 (8 bits, PUS-C TM secondary header)")
            dup = _first_duplicate([str(st) for st in subtypes])
            if dup is not None:
                raise DictionaryError(f"{where} subtype", int(dup), "each subtype once")
            object.__setattr__(self, "subtype", subtypes[0] if len(subtypes) == 1 else subtypes)
        else:
            _check_int(self.subtype, f"{where} subtype", 0, 0xFF, "0..255 (8 bits, PUS-C TM secondary header)")
        names = [p.name for p in self.parameters]
        dup = _first_duplicate(names)
        if dup is not None:
            raise DictionaryError(f"telemetry {self.name} parameter name", dup, "unique names in a packet")
        sid_type = self._check_body()
        if self.sid is not None:
            slo, shi = _type_range(sid_type)
            _check_int(self.sid, f"{where} sid", int(slo), int(shi),
                       f"{_int_range(sid_type)}, the width of the SID field")
        head = [c.Const(self.sid, TYPES[sid_type])] if self.sid is not None else []
        body = [p.name / TYPES[p.type] for p in self.parameters]
        end = [self.tail / c.GreedyBytes] if self.tail else [c.Terminated]
        object.__setattr__(self, "layout", c.Struct(*head, *body, *end))
        # The decoding fast path: the same fields as one struct format, derived from the construct types.
        fields = ([TYPES[sid_type]] if self.sid is not None else []) + [TYPES[p.type] for p in self.parameters]
        object.__setattr__(self, "_fast", struct.Struct(">" + "".join(f.fmtstr.lstrip("<>=!") for f in fields)))

    def _check_body(self) -> str:
        """The packet against the PUS body protocol.pus declares for it; the SID's wire type."""
        where = f"telemetry {self.name} (TM[{self.service},{self.subtypes[0]}])"
        flats = {st: pus_body_fields(PacketType.TM, self.service, st) for st in self.subtypes}
        flat = flats[self.subtypes[0]]
        if any(f != flat for f in flats.values()):
            raise DictionaryError(f"{where} subtypes", self.subtypes, "subtypes whose PUS bodies have one layout")
        if flat is None:
            if self.service == 3 and self.sid is not None:
                raise DictionaryError(f"{where} sid", self.sid, "a SID only on TM[3,25]")
            return "u16"  # a mission-specific report: the dictionary declares the whole body
        prefix = [f for f in flat if f.type is not None and not f.count]
        open_part = any(f.type is None for f in flat)
        if (self.service, self.subtypes[0]) == (3, 25):
            if self.sid is None:
                raise DictionaryError(f"{where} sid", None, "the structure's SID (TM[3,25] starts with it)")
            return prefix[0].type or "u16"
        if self.sid is not None:
            raise DictionaryError(f"{where} sid", self.sid, "a SID only on TM[3,25]")
        named = self.parameters[:len(prefix)]
        for bf, p in zip(prefix, named):
            if p.type != bf.type:
                raise DictionaryError(f"{where} parameter {p.name} type", p.type,
                                      f"{bf.type} (PUS body field {bf.name}, protocol.pus)")
        if len(named) < len(prefix):
            raise DictionaryError(f"{where} parameters", len(self.parameters),
                                  f"at least the PUS body's {', '.join(f'{f.name} {f.type}' for f in prefix)}")
        if not open_part and (len(self.parameters) != len(prefix) or self.tail):
            raise DictionaryError(f"{where} parameters", len(self.parameters),
                                  f"exactly the PUS body's {len(prefix)} fields (it has no mission-defined part)")
        if self.tail and len(self.parameters) != len(prefix):
            raise DictionaryError(f"{where} parameters", len(self.parameters),
                                  f"the PUS body's {len(prefix)} fields before the tail {self.tail}")
        return "u16"

    @property
    def subtypes(self) -> tuple[int, ...]:
        """Every subtype this layout serves."""
        return self.subtype if isinstance(self.subtype, tuple) else (self.subtype,)

    @property
    def key(self) -> tuple[int, int, int, int | None]:
        """(APID, service, subtype, SID): how a received packet finds its declaration (the first subtype)."""
        return (self.apid, self.service, self.subtypes[0], self.sid)

    @property
    def keys(self) -> tuple[tuple[int, int, int, int | None], ...]:
        """The key of every subtype."""
        return tuple((self.apid, self.service, st, self.sid) for st in self.subtypes)

    def encode(self, raw: Mapping[str, int | float], *, tail: bytes = b"") -> bytes:
        """Source data for raw parameter values (SID included), then the ``tail`` octets."""
        values: dict[str, Any] = dict(raw)
        if self.tail:
            values[self.tail] = bytes(tail)
        elif tail:
            raise DictionaryError(f"telemetry {self.name} tail", tail, "no tail: the packet declares none")
        with construct_errors(f"{LAYER} {self.name}"):
            return self.layout.build(values)

    def split(self, source_data: bytes, *, offset: int = 0) -> tuple[dict[str, int | float], bytes]:
        """Raw parameter values and the tail octets of source data."""
        n = self._fast.size
        if not self.tail or len(source_data) < n:
            return self.decode(source_data, offset=offset), b""
        return self.decode(source_data[:n], offset=offset), bytes(source_data[n:])

    def decode(self, source_data: bytes, *, offset: int = 0) -> dict[str, int | float]:
        """Raw parameter values from source data (SID included; any tail octets ignored)."""
        if self.tail and len(source_data) > self._fast.size:
            source_data = source_data[:self._fast.size]
        if len(source_data) != self._fast.size:
            raise RemoteProtocolError(f"{LAYER} {self.name}", "source data length", len(source_data),
                                      f"{self._fast.size} octets{' or more' if self.tail else ''}", offset=offset)
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
    """An on-board event: ID, severity, name, the text an operator reads, and its auxiliary data's layout.

    ``auxiliary`` are the fields after the event ID in TM[5,x] (ECSS-E-ST-70-41C
    §8.5.2.1: "auxiliary data", mission defined), in wire order; they decode
    like parameters (type, unit, calibration) but are not archived as parameters.
    """

    event_id: int
    name: str
    severity: Severity
    text: str
    auxiliary: tuple[Parameter, ...] = ()
    _fast: struct.Struct = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.name, "event")
        if not isinstance(self.severity, Severity):
            try:
                object.__setattr__(self, "severity", Severity[str(self.severity).upper()]
                                   if isinstance(self.severity, str) else Severity(self.severity))
            except (KeyError, ValueError) as e:
                raise DictionaryError(f"event {self.name} severity", self.severity,
                                      " | ".join(s.name for s in Severity)) from e
        if not 0 <= self.event_id <= 0xFFFF:
            raise DictionaryError(f"event {self.name} ID", self.event_id, "0..65535 (16 bit)")
        object.__setattr__(self, "auxiliary", tuple(self.auxiliary))
        names = [p.name for p in self.auxiliary]
        dup = _first_duplicate(names)
        if dup is not None:
            raise DictionaryError(f"event {self.name} auxiliary field", dup, "unique names in an event")
        fmt = ">" + "".join(TYPES[p.type].fmtstr.lstrip("<>=!") for p in self.auxiliary)
        object.__setattr__(self, "_fast", struct.Struct(fmt))

    @property
    def aux_octets(self) -> int:
        """Octets of auxiliary data."""
        return self._fast.size

    def encode_aux(self, *values: int | float | str, **named: int | float | str) -> bytes:
        """Auxiliary data for raw values (or state names): in the declared order, or by field name."""
        if values and named:
            raise DictionaryError(f"event {self.name} auxiliary data", "positional and named values", "one or the other")
        if named:
            missing = [p.name for p in self.auxiliary if p.name not in named]
            if missing:
                raise DictionaryError(f"event {self.name} auxiliary field", missing[0], f"a value for each of "
                                      f"{', '.join(p.name for p in self.auxiliary)}")
            values = tuple(named[p.name] for p in self.auxiliary)
        if len(values) != len(self.auxiliary):
            raise DictionaryError(f"event {self.name} auxiliary data", len(values),
                                  f"{len(self.auxiliary)} values ({', '.join(p.name for p in self.auxiliary) or 'none'})")
        raw = [p.to_raw(v) if isinstance(v, str) else v for p, v in zip(self.auxiliary, values)]
        try:
            return self._fast.pack(*raw)
        except struct.error as e:
            raise DictionaryError(f"event {self.name} auxiliary data", tuple(values),
                                  ", ".join(f"{p.name} {p.type}" for p in self.auxiliary), detail=str(e)) from e

    def decode_aux(self, data: bytes, *, offset: int = 0) -> tuple[ParameterSample, ...]:
        """The auxiliary fields of ``data`` as samples (RemoteProtocolError when the length differs)."""
        if len(data) != self._fast.size:
            raise RemoteProtocolError(f"{LAYER} event {self.name}", "auxiliary data length", len(data),
                                      f"{self._fast.size} octets", offset=offset)
        return tuple(MissionDictionary.sample(p, v) for p, v in zip(self.auxiliary, self._fast.unpack(data)))


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


# ------------------------------------------------------------------ link and time

@dataclass(frozen=True, slots=True)
class VirtualChannel:
    """A downlink virtual channel: its ID, name, priority (0 = most urgent) and the APIDs it alone carries."""

    vcid: int
    name: str
    priority: int
    apids: tuple[int, ...]
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "apids", tuple(int(a) for a in self.apids))
        if not 0 <= self.vcid <= 7:
            raise DictionaryError(f"virtual channel {self.name} VCID", self.vcid, "0..7 (3 bits, TM 132.0 §4.1.2.3)")
        for apid in self.apids:
            if not 0 <= apid <= 0x7FE:
                raise DictionaryError(f"virtual channel {self.name} APID", apid, "0..2046 (0x7FF is idle)")


@dataclass(frozen=True, slots=True)
class DownlinkSettings:
    """The TM link: frame kind and length, OCF (the CLCW), FECF, RS(255,223) coding, randomiser, VCs.

    ``rs_interleave`` 0 means no Reed-Solomon (then ``frame_len`` is free and a
    FECF is usual); with RS the frame fills the codeblock's data space, so
    ``frame_len`` must be ``rs_interleave`` x 223 (131.0-B-5 §4.3).

    ``replay_vcid`` is the VC that carries retransmissions from the on-board store (any APID, with its
    original sequence count, TC[15,129]); it carries no APID of its own. None: the ground acknowledges but
    cannot ask for gaps again.
    """

    frame_kind: str = "TM"
    frame_len: int = 892
    ocf: bool = True
    fecf: bool = False
    rs_interleave: int = 4
    rs_basis: str = "dual"
    randomise: bool = True
    virtual_channels: tuple[VirtualChannel, ...] = ()
    replay_vcid: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "virtual_channels", tuple(self.virtual_channels))
        if self.replay_vcid is not None:
            replay = next((vc for vc in self.virtual_channels if vc.vcid == self.replay_vcid), None)
            if replay is None:
                raise DictionaryError("downlink replay_vcid", self.replay_vcid, "the VCID of a declared virtual channel",
                                      detail=f"declared: {', '.join(str(vc.vcid) for vc in self.virtual_channels)}")
            if replay.apids:
                raise DictionaryError(f"virtual channel {replay.name} APIDs", list(replay.apids),
                                      "none: the replay VC carries the retransmissions of every APID")
        if self.frame_kind not in ("TM", "AOS"):
            raise DictionaryError("downlink frame_kind", self.frame_kind, "TM | AOS")
        if self.rs_basis not in ("dual", "conventional"):
            raise DictionaryError("downlink rs_basis", self.rs_basis, "dual | conventional")
        if not 0 <= self.rs_interleave <= 8:
            raise DictionaryError("downlink rs_interleave", self.rs_interleave, "0 (no RS) or 1..8")
        if self.rs_interleave and self.frame_len != 223 * self.rs_interleave:
            raise DictionaryError("downlink frame_len", self.frame_len,
                                  f"{223 * self.rs_interleave} (RS interleave {self.rs_interleave} x 223 octets)")
        seen: dict[int, str] = {}
        vcids: set[int] = set()
        for vc in self.virtual_channels:
            if vc.vcid in vcids:
                raise DictionaryError(f"virtual channel {vc.name} VCID", vc.vcid, "unique VCIDs")
            vcids.add(vc.vcid)
            for apid in vc.apids:
                if apid in seen:
                    raise DictionaryError(f"virtual channel {vc.name} APID", apid,
                                          f"an APID on one VC only (0x{apid:03X} is on {seen[apid]} already)",
                                          detail="its sequence count would run on two VCs (CCSDS 133.0 §4.1.3.4)")
                seen[apid] = vc.name
        self.config(scid=0)  # the frame layer validates the rest (lengths, options)

    def config(self, *, scid: int) -> DownlinkConfig:
        """The protocol.stack configuration of this link for spacecraft ``scid``."""
        rs = RSConfig(interleave=self.rs_interleave, basis=Basis(self.rs_basis)) if self.rs_interleave else None
        try:
            if self.frame_kind == "AOS":
                frame: TmFrameConfig | AosFrameConfig = AosFrameConfig(
                    frame_len=self.frame_len, scid=scid, has_ocf=self.ocf, has_fecf=self.fecf)
            else:
                frame = TmFrameConfig(frame_len=self.frame_len, scid=scid, has_ocf=self.ocf, has_fecf=self.fecf)
            return DownlinkConfig(frame=frame, rs=rs, randomise=self.randomise)
        except DictionaryError:
            raise
        except LocalProtocolError as e:
            raise DictionaryError(f"downlink {e.field}", e.value, e.allowed, detail=e.detail) from e

    @property
    def priorities(self) -> dict[int, int]:
        """VCID -> priority (0 = most urgent), for the VC multiplexer."""
        return {vc.vcid: vc.priority for vc in self.virtual_channels}

    def vc_of(self, apid: int) -> int:
        """The VC that carries ``apid``."""
        for vc in self.virtual_channels:
            if apid in vc.apids:
                return vc.vcid
        raise DictionaryError("APID", apid, "an APID allocated to a virtual channel",
                              detail=f"allocated: {', '.join(f'0x{a:03X}' for v in self.virtual_channels for a in v.apids)}")

    def channel(self, vcid: int) -> VirtualChannel | None:
        """The virtual channel with ``vcid``, if declared."""
        return next((vc for vc in self.virtual_channels if vc.vcid == vcid), None)


@dataclass(frozen=True, slots=True)
class UplinkSettings:
    """The TC link (232.0-B-4 frames in 231.0-B-4 CLTUs): VC, MAP (None: no segment header), FECF, length, randomiser."""

    vcid: int = 0
    map_id: int | None = 0
    fecf: bool = True
    max_frame_len: int = 1024
    randomise: bool = True

    def __post_init__(self) -> None:
        self.config(scid=0)

    def config(self, *, scid: int) -> UplinkConfig:
        """The protocol.stack configuration of this link for spacecraft ``scid``."""
        try:
            return UplinkConfig(scid=scid, vcid=self.vcid, map_id=self.map_id, fecf=self.fecf,
                                max_frame_len=self.max_frame_len, cltu=CltuConfig(randomise=self.randomise))
        except LocalProtocolError as e:
            raise DictionaryError(f"uplink {e.field}", e.value, e.allowed, detail=e.detail) from e


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Both directions of the space link."""

    downlink: DownlinkSettings = field(default_factory=DownlinkSettings)
    uplink: UplinkSettings = field(default_factory=UplinkSettings)


@dataclass(frozen=True, slots=True)
class TimeSettings:
    """The time field of every TM (PUS-C §7.4.3.2): CUC widths, epoch and time scale, implicit (no P-field).

    ``epoch`` is an ISO date-time in ``scale``; 1958-01-01T00:00:00 TAI is the
    CCSDS epoch (301.0-B-4 §3.2.2, P-field code 001), anything else an agency-defined epoch.
    """

    coarse_octets: int = 4
    fine_octets: int = 2
    epoch: str = "1958-01-01T00:00:00"
    scale: str = "TAI"

    def __post_init__(self) -> None:
        self.config()

    def config(self) -> CucConfig:
        """The protocol.timecode configuration."""
        try:
            epoch = datetime.fromisoformat(self.epoch)
        except (TypeError, ValueError) as e:
            raise DictionaryError("time epoch", self.epoch, "an ISO date-time such as 1958-01-01T00:00:00") from e
        try:
            scale = TimeScale[self.scale.upper()]
        except (KeyError, AttributeError) as e:
            raise DictionaryError("time scale", self.scale, " | ".join(s.name for s in TimeScale)) from e
        try:
            return CucConfig(coarse_octets=self.coarse_octets, fine_octets=self.fine_octets, epoch=epoch, scale=scale)
        except LocalProtocolError as e:
            raise DictionaryError(f"time {e.field}", e.value, e.allowed) from e


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
    event_values: tuple[ParameterSample, ...] = ()  # the auxiliary data by its declared layout (when it fits)
    data: bytes = b""  # the tail octets of a packet that declares one (an image part's data)

    @property
    def tai_s(self) -> float:
        """On-board time of the packet, TAI seconds since the time code's epoch."""
        return float(self.tm.time.tai_s)


# ------------------------------------------------------------------ the dictionary

class MissionDictionary:
    """All declarations of one mission, indexed for both ends and validated as a whole.

    ``event_apid`` is the application that sends the event reports TM[5,x]
    (default: the APID of the commands of service 5). Every APID the
    spacecraft sends on must be allocated to exactly one downlink virtual
    channel in ``link``; the VC of a TM[1,x] is that of the APID of the TC it
    verifies (PUS-C: the application that received the request reports on it).
    """

    def __init__(self, *, name: str, scid: int, commands: Iterable[Command], telemetry: Iterable[TelemetryPacket],
                 events: Iterable[EventDefinition], onboard_parameters: Iterable[OnboardParameter] = (),
                 link: LinkSettings | None = None, time: TimeSettings | None = None,
                 event_apid: int | None = None, apids: Mapping[str, int] | None = None,
                 fingerprint_parameter: str | None = None) -> None:
        self.name = name
        if not isinstance(scid, int) or isinstance(scid, bool) or not 0 <= scid <= 0x3FF:
            raise DictionaryError("spacecraft_id", scid, "0..1023 (10 bits in TM and TC frames)")
        self.scid = scid
        self.link = link or LinkSettings()
        self.time = time or TimeSettings()
        self.apids: dict[str, int] = dict(apids or {})
        self.commands: dict[str, Command] = {}
        for cmd in commands:
            if cmd.name in self.commands:
                raise DictionaryError("command name", cmd.name, "unique names")
            self.commands[cmd.name] = cmd
        self.telemetry: dict[tuple[int, int, int, int | None], TelemetryPacket] = {}
        self.packets: dict[str, TelemetryPacket] = {}
        self.parameters: dict[str, tuple[TelemetryPacket | None, Parameter]] = {}
        for tm in telemetry:
            if tm.name in self.packets:
                raise DictionaryError("telemetry packet name", tm.name, "unique names")
            self.packets[tm.name] = tm
            for key in tm.keys:
                if key in self.telemetry:
                    what = f"SID {tm.sid}" if tm.sid is not None else f"TM[{key[1]},{key[2]}] on APID 0x{key[0]:03X}"
                    raise DictionaryError(f"telemetry {tm.name} key", what,
                                          f"unique (APID, service, subtype, SID): {self.telemetry[key].name} has it")
                self.telemetry[key] = tm
            for p in tm.parameters:
                if p.name in self.parameters:
                    raise DictionaryError(f"telemetry {tm.name} parameter name", p.name,
                                          "unique names across the dictionary")
                self.parameters[p.name] = (tm, p)
        self.events: dict[int, EventDefinition] = {}
        names: set[str] = set()
        for e in events:
            if e.event_id in self.events:
                raise DictionaryError(f"event {e.name} ID", f"0x{e.event_id:04X}",
                                      f"unique event IDs: {self.events[e.event_id].name} has it")
            if e.name in names:
                raise DictionaryError("event name", e.name, "unique names")
            names.add(e.name)
            self.events[e.event_id] = e
        self.onboard: dict[int, OnboardParameter] = {}
        id_type = next((f.type for f in pus_body_fields(PacketType.TM, 20, 2) or ()
                        if f.name == "parameter_id" and f.type), "u16")
        id_lo, id_hi = _type_range(id_type)
        for op in onboard_parameters:
            _check_int(op.parameter_id, f"on-board parameter {op.parameter.name} ID", int(id_lo), int(id_hi),
                       f"{_int_range(id_type)}, the width of the parameter ID of service 20")
            if op.parameter_id in self.onboard:
                raise DictionaryError(f"on-board parameter {op.parameter.name} ID", op.parameter_id,
                                      f"unique IDs: {self.onboard[op.parameter_id].parameter.name} has it")
            self.onboard[op.parameter_id] = op
            known = self.parameters.setdefault(op.parameter.name, (None, op.parameter))[1]
            if known != op.parameter:
                raise DictionaryError(f"on-board parameter {op.parameter.name}", "a second declaration",
                                      "the same declaration as the telemetry parameter of that name")
        if event_apid is None:
            event_apid = next((cmd.apid for cmd in self.commands.values() if cmd.service == 5), None)
        self.event_apid = event_apid
        self.fingerprint_parameter = fingerprint_parameter
        if fingerprint_parameter is not None:
            self._check_fingerprint_parameter(fingerprint_parameter)
        self._check_allocation()
        self._check_service_commands()
        self.downlink = self.link.downlink.config(scid=scid)
        self.uplink = self.link.uplink.config(scid=scid)
        self.time_config = self.time.config()
        self.fingerprint = self._fingerprint()

    def _check_fingerprint_parameter(self, name: str) -> None:
        """The fingerprint parameter is a u32 of a housekeeping report TM[3,25] (the spacecraft reports it there)."""
        hit = self.parameters.get(name)
        packet, parameter = hit if hit is not None else (None, None)
        if parameter is None:
            why = "no parameter of the dictionary has that name"
        elif packet is None:
            why = f"{name} is an on-board parameter only (service 20), in no housekeeping report"
        elif (packet.service, packet.subtypes[0]) != (3, 25):
            why = (f"{name} is in {packet.name}, TM[{packet.service},{packet.subtypes[0]}], "
                   f"not a housekeeping report TM[3,25]")
        elif parameter.type != "u32":
            why = f"{name} is {parameter.type}"
        else:
            return
        raise DictionaryError("fingerprint_parameter", name, "the name of a u32 housekeeping parameter", detail=why)

    def _check_allocation(self) -> None:
        """Every APID the spacecraft sends on has its virtual channel."""
        vcs = self.link.downlink.virtual_channels
        if not vcs:
            raise DictionaryError("downlink virtual_channels", "none", "at least one VC with its APIDs")
        allocated = {a for vc in vcs for a in vc.apids}
        sent = {tm.apid: f"telemetry {tm.name}" for tm in self.telemetry.values()}
        sent.update({cmd.apid: f"command {cmd.name} (its TM[1,x] verification reports)"
                     for cmd in self.commands.values()})
        if self.event_apid is not None and self.events:
            sent[self.event_apid] = "event reports"
        for apid, what in sorted(sent.items()):
            if apid not in allocated:
                raise DictionaryError(f"APID 0x{apid:03X} of {what}", apid,
                                      "an APID allocated to a downlink virtual channel",
                                      detail=f"allocated: {', '.join(f'0x{a:03X}' for a in sorted(allocated))}")

    def _check_service_commands(self) -> None:
        """Commands of services 3 and 20 name structures and parameters the dictionary declares, with their types."""
        sids = {tm.sid for tm in self.packets.values() if tm.sid is not None}
        for cmd in self.commands.values():
            where = f"command {cmd.name} (TC[{cmd.service},{cmd.subtype}])"
            if cmd.service == 3 and cmd.subtype in (5, 6, 27, 31):
                for a in cmd.arguments:
                    bad = [v for v in (a.enum or {}).values() if v not in sids]
                    if a.name.endswith("SID") and bad:
                        raise DictionaryError(f"{where} argument {a.name} enum", bad[0],
                                              f"a declared SID ({', '.join(str(x) for x in sorted(sids)) or 'none'})")
            if cmd.service == 20 and cmd.subtype == 1:
                for a in cmd.arguments:
                    bad = [v for v in (a.enum or {}).values() if v not in self.onboard]
                    if bad:
                        raise DictionaryError(f"{where} argument {a.name} enum", bad[0],
                                              "the ID of a declared on-board parameter")
            if cmd.service == 20 and cmd.subtype == 3:
                fixed = {f.name: f.value for f in cmd.fields if isinstance(f, Fixed)}
                pid = fixed.get("PARAMETER_ID")
                op = self.onboard.get(pid) if pid is not None else None
                if op is None:
                    raise DictionaryError(f"{where} PARAMETER_ID", pid, "the ID of a declared on-board parameter")
                values = cmd.fields[[f.name for f in cmd.fields].index("PARAMETER_ID") + 1:]
                if len(values) != 1 or values[0].type != op.parameter.type:
                    raise DictionaryError(f"{where} value", tuple(f"{f.name} {f.type}" for f in values),
                                          f"one field of {op.parameter.name}'s type {op.parameter.type}")
                if not op.settable:
                    raise DictionaryError(f"{where} PARAMETER_ID", pid,
                                          f"a settable parameter ({op.parameter.name} is read-only)")

    def _fingerprint(self) -> int:
        """32 bits of the SHA-256 of the canonical JSON export: equal dictionaries, equal fingerprints."""
        text = json.dumps(self.to_json(fingerprint=False), sort_keys=True, separators=(",", ":"))
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")

    def vc_of(self, apid: int) -> int:
        """The downlink virtual channel of ``apid``."""
        return self.link.downlink.vc_of(apid)

    def apid_of_service(self, service: int) -> int | None:
        """The APID of the application that takes the commands of ``service`` (the first one declared)."""
        return next((cmd.apid for cmd in self.commands.values() if cmd.service == service), None)

    @property
    def applications(self) -> tuple[int, ...]:
        """The APIDs commands are addressed to, in declaration order."""
        return tuple(dict.fromkeys(cmd.apid for cmd in self.commands.values()))

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
        tm = PusTm.decode(packet, time_config=self.time_config, offset=offset)
        decl = self.telemetry_for(tm.apid, tm.service, tm.subtype, tm.source_data)
        if decl is not None:
            sample = self.sample
            if decl.tail:
                raw, tail = decl.split(tm.source_data, offset=offset)
                return DecodedTm(tm, decl.name, tuple([sample(p, v) for p, v in zip(decl.parameters, raw.values())]),
                                 data=tail)
            raw = decl.decode(tm.source_data, offset=offset)  # in decl.parameters' order (names are unique)
            return DecodedTm(tm, decl.name, tuple([sample(p, v) for p, v in zip(decl.parameters, raw.values())]))
        if tm.service == 5 and 1 <= tm.subtype <= 4:
            body = decode_body(tm)
            definition = self.event(body.event_id)
            values: tuple[ParameterSample, ...] = ()
            if definition is not None and definition.aux_octets == len(body.auxiliary_data):
                values = definition.decode_aux(body.auxiliary_data)
            return DecodedTm(tm, "EVENT", event=definition, event_id=body.event_id,
                             event_data=body.auxiliary_data, event_values=values)
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
        if (isinstance(raw, float) and not math.isfinite(raw)) or (isinstance(eng, float) and not math.isfinite(eng)):
            return ParameterSample(parameter.name, raw, eng, parameter.unit, AlarmLevel.INVALID)
        limits = parameter.limits
        level = limits.check(eng) if limits is not None and isinstance(eng, (int, float)) else AlarmLevel.NOMINAL
        return ParameterSample(parameter.name, raw, eng, parameter.unit, level)

    def parameter_octets(self) -> dict[int, int]:
        """Value width per service-20 parameter ID (for protocol.pus.BodyOptions)."""
        return {pid: op.octets for pid, op in self.onboard.items()}

    def to_json(self, *, fingerprint: bool = True) -> dict[str, Any]:
        """The whole dictionary as plain JSON data (schema in docs/dictionary.md)."""
        down, up = self.link.downlink, self.link.uplink
        out: dict[str, Any] = {
            "format": "ttc-mission-dictionary",
            "version": 2,
            "mission": self.name,
            "spacecraft_id": self.scid,
            "types": {k: {"octets": v.sizeof(), "signed": k.startswith("i"), "float": k.startswith("f")}
                      for k, v in TYPES.items()},
            "apids": dict(self.apids),
            "time": {"code": "CUC", "coarse_octets": self.time.coarse_octets, "fine_octets": self.time.fine_octets,
                     "epoch": self.time.epoch, "scale": self.time.scale.upper()},
            "link": {
                "downlink": {"frame_kind": down.frame_kind, "frame_len": down.frame_len, "ocf": down.ocf,
                             "fecf": down.fecf, "rs_interleave": down.rs_interleave, "rs_basis": down.rs_basis,
                             "randomise": down.randomise, "replay_vcid": down.replay_vcid,
                             "virtual_channels": [{"vcid": vc.vcid, "name": vc.name, "priority": vc.priority,
                                                   "apids": list(vc.apids), "description": vc.description}
                                                  for vc in down.virtual_channels]},
                "uplink": {"vcid": up.vcid, "map_id": up.map_id, "fecf": up.fecf, "max_frame_len": up.max_frame_len,
                           "randomise": up.randomise},
            },
            "event_apid": self.event_apid,
            "fingerprint_parameter": self.fingerprint_parameter,
            "commands": [_command_json(cmd) for cmd in self.commands.values()],
            "telemetry": [_telemetry_json(tm) for tm in self.packets.values()],
            "events": [{"id": e.event_id, "name": e.name, "severity": e.severity.name, "text": e.text,
                        "auxiliary": [_parameter_json(p) for p in e.auxiliary]}
                       for e in self.events.values()],
            "onboard_parameters": [{"id": op.parameter_id, "settable": op.settable,
                                    **_parameter_json(op.parameter)} for op in self.onboard.values()],
        }
        if fingerprint:
            out["fingerprint"] = f"{self.fingerprint:08X}"
        return out


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
                           "description": f.description,
                           "calibration": {"polynomial": list(f.calibration.coefficients)} if f.calibration else None})
    return {"name": cmd.name, "apid": cmd.apid, "service": cmd.service, "subtype": cmd.subtype,
            "description": cmd.description, "hazardous": cmd.hazardous, "fields": fields}


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
    out = {"name": tm.name, "apid": tm.apid, "service": tm.service,
           "subtype": list(tm.subtype) if isinstance(tm.subtype, tuple) else tm.subtype, "sid": tm.sid,
           "description": tm.description, "parameters": [_parameter_json(p) for p in tm.parameters]}
    if tm.tail:
        out["tail"] = tm.tail
    return out
