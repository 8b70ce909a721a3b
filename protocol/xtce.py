"""XTCE 1.2 export and import of the mission dictionary (OMG XTCE 1.2, ``http://www.omg.org/spec/XTCE/20180204``).

XTCE is the XML format in which ground systems exchange a spacecraft's
telemetry and telecommand definitions: Yamcs and OpenC3 COSMOS load it, and
independent decoders such as ``space_packet_parser`` decode packets with it.
:func:`to_xtce` writes one ``SpaceSystem`` document that validates against
OMG's ``SpaceSystem.xsd``; :func:`from_xtce` reads it back into a
:class:`~protocol.dictionary.MissionDictionary` whose ``to_json()`` equals the
original's. Sans-IO: text in, text out.

What is mapped to what (element and type names are those of the XTCE 1.2 schema):

* ``SpaceSystem`` (``SpaceSystemType``): ``name`` is the mission name with
  the characters XTCE's ``NameType`` forbids (space ``. / : [ ]``) replaced
  by ``_``.
* ``TelemetryMetaData/ParameterTypeSet`` -- one type per parameter, named
  ``<PARAMETER>_Type``: ``IntegerParameterType`` (an uncalibrated integer),
  ``FloatParameterType`` (a float, or an integer with a
  :class:`~protocol.dictionary.Polynomial`: ``DefaultCalibrator/PolynomialCalibrator``,
  one ``Term`` per coefficient, zero terms included so the coefficient list
  comes back unchanged) or ``EnumeratedParameterType`` (a
  :class:`~protocol.dictionary.States`: ``EnumerationList``). The wire type is
  the data encoding: ``IntegerDataEncoding`` with ``sizeInBits`` 8..64 and
  ``encoding`` ``unsigned`` (u8..u64) or ``twosComplement`` (i8..i64),
  ``FloatDataEncoding`` ``IEEE754_1985`` of 32/64 bits (f32/f64), always
  ``mostSignificantByteFirst``. The unit is ``UnitSet/Unit`` (of the
  calibrated value). :class:`~protocol.dictionary.Limits` are
  ``DefaultAlarm/StaticAlarmRanges``: soft limits as ``WarningRange``, hard
  ones as ``CriticalRange``, ``minInclusive``/``maxInclusive`` with the
  default ``rangeForm="outside"`` -- a value equal to a limit is nominal,
  exactly as :meth:`Limits.check` has it.
* ``TelemetryMetaData/ParameterSet``: the CCSDS primary header fields
  (``CCSDS_*``), the PUS-C TM secondary header fields (``PUS_TM_*``; the time
  ``PUS_TM_TIME`` is an ``AbsoluteTimeParameterType``: the CUC coarse+fine
  count as one unsigned integer scaled by 2**-(8 x fine octets) seconds from
  ``ReferenceTime/Epoch`` -- ``TAI`` for the CCSDS 1958 epoch), the standard
  PUS body fields (SID, event ID -- an integer, so that an undeclared ID
  still decodes -- and raw auxiliary data, verification request
  ID, step ID and failure code, service-20 count and ID), the packet error
  control ``PUS_PEC``, every parameter of every packet, every event's
  auxiliary fields (``<EVENT>_<FIELD>``: XTCE parameter names are global) and
  every on-board parameter. Header widths are read from the construct
  declarations of :mod:`protocol.spacepacket` and :mod:`protocol.pus`, not
  retyped.
* ``TelemetryMetaData/ContainerSet``: ``SequenceContainer`` inheritance with
  ``BaseContainer/RestrictionCriteria`` (raw values compared,
  ``useCalibratedValue="false"``): ``CCSDSPacket`` (abstract: the primary
  header) -> ``PUS_TM`` (abstract: TM with a secondary header; the secondary
  header and the time) -> one container per
  :class:`~protocol.dictionary.TelemetryPacket`, restricted on APID, service
  and subtype (several subtypes: a ``BooleanExpression`` with ``ORedConditions``),
  TM[3,25] ones through the abstract ``PUS_TM_3_25`` (which holds the SID)
  and restricted on the SID; entries: the parameters in wire order, the
  ``tail`` (a ``BinaryParameterType`` as long as the packet leaves), then
  ``PUS_PEC``. Standard reports get containers too, marked with ancillary
  data ``ttc.standard`` (the import skips them): TM[1,1..8] (request ID, step,
  failure code, failure data), TM[5,1..4] (``PUS_TM_5_<s>`` holds the event
  ID; one container per declared event, ``PUS_TM_5_<s>_<EVENT>`` described
  by the event's text, with its auxiliary fields and restricted on its ID,
  and ``PUS_TM_5_<s>_OTHER`` for any other ID with the raw auxiliary data),
  TM[9,2] (rate exponent, P-field and time), TM[17,2], and TM[20,2] with one parameter
  (``PUS_TM_20_2`` then one container per on-board parameter, restricted on
  N = 1 and its ID). Variable-length fields are ``BinaryParameterType`` sized
  from the packet data length (``DynamicValue`` + ``LinearAdjustment``). A
  standard container is left out where a dictionary packet uses that service
  and subtype.
* ``CommandMetaData/ArgumentTypeSet``: one type per argument, named
  ``<COMMAND>_<ARGUMENT>_ArgType``: ``IntegerArgumentType`` /
  ``FloatArgumentType`` with ``ValidRangeSet/ValidRange`` from
  :attr:`Argument.bounds` (a bound beyond ``xs:long``, the top of u64, is left
  out), ``EnumeratedArgumentType`` from :attr:`Argument.enum`; units in
  ``UnitSet``.
* ``CommandMetaData/MetaCommandSet``: the abstract ``PUS_TC`` meta-command
  (its ``CommandContainer`` is the primary header and the PUS-C TC secondary
  header: constants and the fields the ground fills in -- sequence count,
  packet data length -- as ``FixedValueEntry``; APID, acknowledgement flags,
  service, subtype and source ID as arguments), then one ``MetaCommand`` per
  :class:`~protocol.dictionary.Command`: ``BaseMetaCommand`` with an
  ``ArgumentAssignmentList`` for APID, service and subtype, its
  ``ArgumentList`` (defaults as ``initialValue``) and a ``CommandContainer``
  extending ``PUS_TC`` with ``ArgumentRefEntry`` and ``FixedValueEntry`` (the
  :class:`~protocol.dictionary.Fixed` fields) in wire order. The TC packet
  error control is not in the container: a ground system's PUS
  post-processor appends it (and sets the length and sequence count), as
  Yamcs's does.
* Descriptions go into ``shortDescription`` when one line of at most 80
  characters (the schema's advice), else into ``LongDescription``.
* What XTCE cannot say is kept as ``AncillaryData`` named ``ttc.*`` and read
  back by the import. On the ``SpaceSystem``: the exact mission name
  (``ttc.mission``), the spacecraft ID (``ttc.spacecraft-id``), the named
  APIDs (``ttc.apids``), the TM time code (``ttc.time``), the link settings --
  frames, coding, virtual channels, uplink (``ttc.link``) --, the event APID
  (``ttc.event-apid``) and the fingerprint parameter
  (``ttc.fingerprint-parameter``), each JSON as in
  :meth:`MissionDictionary.to_json`; each event definition (``ttc.event``:
  ID, name, severity, text and its auxiliary fields) and each on-board
  parameter (``ttc.onboard-parameter``: service-20 ID, parameter, settable).
  On a ``FixedValueEntry``: the wire type (``ttc.type``; XTCE gives a size,
  not the signedness). On an ``EnumeratedArgumentType``: declared bounds
  (``ttc.min``/``ttc.max``), which XTCE enumerations have no place for.

Choices, and why:

* Numbers are written as Python writes them (``repr`` for floats), so every
  coefficient, limit and bound comes back bit-exact and an int stays an int.
* The PEC is a plain 16-bit field with its algorithm in the description, not
  an ``ErrorDetectCorrect``: XTCE 1.2 leaves open what a CRC on a data
  encoding covers (XTCE 1.3 reworks it), and the ground systems check the PEC
  in their packet preprocessors (Yamcs: ``errorDetection: CRC-16-CCIIT``).
* The import rejects what it cannot map instead of guessing. Every error is
  an :class:`XtceError` (a :class:`~protocol.errors.RemoteProtocolError`)
  whose field is the element/attribute path, e.g.
  ``SpaceSystem/TelemetryMetaData/ParameterSet/Parameter[@name='X']/@parameterTypeRef``,
  and whose message says what was expected. Documents are bounded
  (:data:`MAX_DOCUMENT_CHARS`) and entity declarations refused.

Handing the file to other tools:

* Yamcs: save it as ``mdb/ttc.xml`` and load it with the XTCE loader in
  ``yamcs.<instance>.yaml``: ``mdb: [{type: xtce, args: {file: mdb/ttc.xml}}]``;
  on the links use the PUS packet preprocessor (``errorDetection`` type
  ``CRC-16-CCIIT``, CUC time, epoch TAI) and the PUS command postprocessor.
* OpenC3 COSMOS: put it in a target's ``cmd_tlm`` folder as ``ttc.xtce``
  (COSMOS runs XTCE files directly) or convert it with
  ``openc3cli xtce_converter --import ttc.xtce --output DIR``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from .errors import LocalProtocolError, RemoteProtocolError
from .layout import BitLayout
from .mission import (
    TYPES,
    Argument,
    Command,
    DownlinkSettings,
    EventDefinition,
    Fixed,
    Limits,
    LinkSettings,
    MissionDictionary,
    OnboardParameter,
    Parameter,
    Polynomial,
    Severity,
    States,
    TelemetryPacket,
    TimeSettings,
    UplinkSettings,
    VirtualChannel,
)
from .pus import (
    AckFlags,
    Count,
    CucTimeReportLayout,
    EventReportLayout,
    FailureCode,
    FailureNoticeLayout,
    HkReportLayout,
    PacketErrorControl,
    ParameterEntryLayout,
    ProgressFailureLayout,
    ProgressSuccessLayout,
    RequestIdField,
    TcSecondaryHeader,
    TmSecondaryHeader,
)
from .spacepacket import PacketType, PrimaryHeader, SequenceFlags
from .timecode import CCSDS_EPOCH, CucConfig, TimeScale

__all__ = ["XTCE_NS", "SCHEMA_LOCATION", "MAX_DOCUMENT_CHARS", "XtceError", "to_xtce", "from_xtce"]

LAYER = "XTCE"
#: The XTCE 1.2 namespace (OMG, 2018-02-04).
XTCE_NS = "http://www.omg.org/spec/XTCE/20180204"
#: Where OMG publishes the 1.2 schema (the document's xsi:schemaLocation hint).
SCHEMA_LOCATION = "https://www.omg.org/spec/XTCE/20180204/SpaceSystem.xsd"
_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
#: Longest document :func:`from_xtce` reads (the reference mission's export is ~0.2 MB).
MAX_DOCUMENT_CHARS = 32 << 20

# Names of the packet framing, which the import relies on.
ROOT_CONTAINER = "CCSDSPacket"  # also space_packet_parser's default root container name
TM_CONTAINER = "PUS_TM"
HK_CONTAINER = "PUS_TM_3_25"
STANDARD_PREFIX = "PUS_TM_"  # the standard report containers; no dictionary packet may be named so
TC_COMMAND = "PUS_TC"
TM_TIME = "PUS_TM_TIME"
PEC = "PUS_PEC"
SID = "PUS_HK_SID"
EVENT_ID = "PUS_EVENT_ID"
EVENT_DATA = "PUS_EVENT_AUX_DATA"
STEP_ID = "PUS_STEP_ID"
FAILURE_CODE = "PUS_FAILURE_CODE"
FAILURE_DATA = "PUS_FAILURE_DATA"
PROGRESS_FAILURE_DATA = "PUS_PROGRESS_FAILURE_DATA"
PARAMETER_COUNT = "PUS_PARAMETER_COUNT"
PARAMETER_ID = "PUS_PARAMETER_ID"
RATE_EXPONENT = "PUS_TIME_RATE_EXPONENT"
REPORT_P_FIELD = "PUS_TIME_REPORT_P_FIELD"
REPORT_TIME = "PUS_TIME_REPORT_TIME"
STORE_USED = "PUS_STORE_USED_OCTETS"
STORE_CAPACITY = "PUS_STORE_CAPACITY_OCTETS"
STORE_OVERWRITTEN = "PUS_STORE_OVERWRITTEN"
STORE_COUNT = "PUS_STORE_COUNT"
STORE_APPLICATIONS = "PUS_STORE_APPLICATIONS"
STORE_RANGES = "PUS_STORE_RANGES"

_PRIMARY = BitLayout(PrimaryHeader)
_TM_SH = BitLayout(TmSecondaryHeader)
_TC_SH = BitLayout(TcSecondaryHeader)
_REQUEST_ID = BitLayout(RequestIdField)
APID = "CCSDS_APID"
DATA_LENGTH = "CCSDS_DATA_LENGTH"
TM_SERVICE = "PUS_TM_SERVICE"
TM_SUBTYPE = "PUS_TM_SUBTYPE"
TC_SERVICE = "PUS_TC_SERVICE"
TC_SUBTYPE = "PUS_TC_SUBTYPE"

#: TC header fields with a value the ground knows (the others without a construct Const are arguments).
_TC_FIXED = {"packet_type": int(PacketType.TC), "sec_header_flag": 1,
             "sequence_flags": int(SequenceFlags.UNSEGMENTED), "sequence_count": 0, "data_length": 0}
_TC_FILLED = {"sequence_count": "set per APID by the ground segment", "data_length": "set by the ground segment"}
#: TC header argument defaults (those of Command.to_tc).
_TC_DEFAULTS = {"ack_flags": int(AckFlags.ALL), "source_id": 0}

_A_MISSION = "ttc.mission"
_A_SCID = "ttc.spacecraft-id"
_A_APIDS = "ttc.apids"
_A_TIME = "ttc.time"
_A_LINK = "ttc.link"
_A_EVENT_APID = "ttc.event-apid"
_A_FINGERPRINT = "ttc.fingerprint-parameter"
_A_EVENT = "ttc.event"
_A_ONBOARD = "ttc.onboard-parameter"
_A_STANDARD = "ttc.standard"
_A_TYPE = "ttc.type"
_A_MIN = "ttc.min"
_A_MAX = "ttc.max"

_NAME_FORBIDDEN = re.compile(r"[./:\[\] \t\r\n]")  # XTCE NameType: [^./:\[\] ]+, a normalizedString
_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")  # not even escaped
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,30}")  # bounded: Python refuses to convert very long digit strings
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1  # xs:long
_SHORT_DESCRIPTION_MAX = 80


class XtceError(RemoteProtocolError):
    """An XTCE document that is not a mission dictionary; ``path`` names the element or attribute at fault.

    XML is addressed by path, not by byte: ``offset`` is 0 and the message leads with the path.
    """

    def __init__(self, path: str, value: Any, allowed: str, *, detail: str = "") -> None:
        self.path = path
        super().__init__(LAYER, path, value, allowed, offset=0, detail=detail)

    def _where(self) -> str:
        return ""


# ====================================================================== export

def to_xtce(dictionary: MissionDictionary) -> str:
    """The dictionary as an XTCE 1.2 SpaceSystem document (valid against OMG's SpaceSystem.xsd)."""
    return _Export(dictionary).document()


def _bits(type_name: str) -> int:
    return TYPES[type_name].sizeof() * 8


def _octets(layout: Any, name: str) -> int:
    """Width of the field ``name`` of a construct Struct declaration."""
    for sub in layout.subcons:
        if sub.name == name:
            return int(sub.sizeof())
    raise LookupError(f"no field {name} in {layout!r}")  # a declaration changed: a bug here, not bad input


def _num(x: int | float) -> str:
    """A number as XTCE text (xs:long / xs:double) that reads back to the same Python value."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise LocalProtocolError(LAYER, "number", x, "an int or a float")
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "INF" if x > 0 else "-INF"
    return repr(float(x))


def _hex(value: int, bits: int) -> str:
    """A fixed value as the hexBinary of a FixedValueEntry (two's complement when negative)."""
    return (value & ((1 << bits) - 1)).to_bytes((bits + 7) // 8, "big").hex().upper()


def _sub(parent: ET.Element, tag: str, attrib: Mapping[str, str] | None = None, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag, dict(attrib or {}))
    if text is not None:
        el.text = text
    return el


def _text(value: str, where: str) -> str:
    if _XML_ILLEGAL.search(value):
        raise LocalProtocolError(LAYER, where, value, "text without control characters (XML 1.0 cannot carry them)")
    return value


def _describe(el: ET.Element, text: str, where: str, *, short_only: bool = False) -> None:
    """A description: shortDescription when one line of <= 80 characters, else LongDescription (the first child).

    ``short_only``: the element has no LongDescription (an Enumeration), so the text goes into shortDescription.
    """
    if not text:
        return
    _text(text, where)
    if short_only or (len(text) <= _SHORT_DESCRIPTION_MAX and not any(ch in text for ch in "\t\r\n")):
        el.set("shortDescription", text)
    else:
        _sub(el, "LongDescription", text=text)


def _ancillary(el: ET.Element, entries: Iterable[tuple[str, str]]) -> None:
    items = list(entries)
    if not items:
        return
    box = _sub(el, "AncillaryDataSet")
    for name, value in items:
        mime = {"mimeType": "application/json"} if value[:1] in ("{", "[") else {}
        _sub(box, "AncillaryData", {"name": name, **mime}, _text(value, f"ancillary data {name}"))


def _units(el: ET.Element, unit: str, where: str) -> None:
    if unit:
        _sub(_sub(el, "UnitSet"), "Unit", {"form": "calibrated"}, _text(unit, f"{where} unit"))


def _integer_encoding(el: ET.Element, bits: int, *, signed: bool) -> ET.Element:
    return _sub(el, "IntegerDataEncoding", {"sizeInBits": str(bits), "encoding": "twosComplement" if signed
                                            else "unsigned", "byteOrder": "mostSignificantByteFirst"})


def _encoding(el: ET.Element, type_name: str) -> ET.Element:
    """The data encoding of a wire type (big endian)."""
    if type_name.startswith("f"):
        return _sub(el, "FloatDataEncoding", {"sizeInBits": str(_bits(type_name)), "encoding": "IEEE754_1985",
                                              "byteOrder": "mostSignificantByteFirst"})
    return _integer_encoding(el, _bits(type_name), signed=type_name.startswith("i"))


def _range(low: float | None, high: float | None) -> dict[str, str]:
    out = {}
    if low is not None:
        out["minInclusive"] = _num(low)
    if high is not None:
        out["maxInclusive"] = _num(high)
    return out


def _condition(parent: ET.Element, ref: str, value: int) -> None:
    cond = _sub(parent, "Condition")
    _sub(cond, "ParameterInstanceRef", {"parameterRef": ref, "useCalibratedValue": "false"})
    _sub(cond, "ComparisonOperator", text="==")
    _sub(cond, "Value", text=str(value))


#: A restriction: (parameter, operator, raw value) or (parameter, "in", (values...)).
Restriction = tuple[str, str, Any]


class _Export:
    """Builds the SpaceSystem element tree of one dictionary."""

    def __init__(self, dictionary: MissionDictionary) -> None:
        self.d = dictionary
        self.packets = list(dictionary.packets.values())
        self.time = self._time_config()
        self.used = {(tm.service, st) for tm in self.packets for st in tm.subtypes}
        self.aux_names = {(e.event_id, p.name): f"{e.name}_{p.name}" for e in dictionary.events.values()
                          for p in e.auxiliary}
        self.parameters = self._parameters()
        self._check()

    # ---------------------------------------------------------------- checks
    def _parameters(self) -> dict[str, Parameter]:
        """Every XTCE parameter of the dictionary (telemetry, tails excluded; event fields; on-board), by name."""
        out: dict[str, Parameter] = {}
        sources = [(p.name, p) for tm in self.packets for p in tm.parameters]
        sources += [(self.aux_names[(e.event_id, p.name)], p) for e in self.d.events.values() for p in e.auxiliary]
        sources += [(op.parameter.name, op.parameter) for op in self.d.onboard.values()]
        for name, p in sources:
            known = out.setdefault(name, p)
            if known != p:
                raise LocalProtocolError(LAYER, f"parameter {name}", "two different definitions",
                                         "one definition per name (XTCE parameter names are global)")
        return out

    def _time_config(self) -> CucConfig:
        t = self.d.time_config
        if not isinstance(t, CucConfig) or t.p_field:
            raise LocalProtocolError(LAYER, "TM time format", t, "CUC without P-field")
        return t

    def _check(self) -> None:
        reserved = set(self._header_names())
        tails = {tm.tail for tm in self.packets if tm.tail}
        for name in [*self.parameters, *tails]:
            self._name(name, "parameter name")
            if name in reserved:
                raise LocalProtocolError(LAYER, "parameter name", name, "a name not used by the packet headers",
                                         detail=f"reserved: {', '.join(sorted(reserved))}")
        clash = tails & set(self.parameters)
        if clash:
            raise LocalProtocolError(LAYER, "tail name", sorted(clash)[0], "a name no parameter has")
        for tm in self.packets:
            self._name(tm.name, "telemetry packet name")
            if tm.name in (ROOT_CONTAINER, TM_CONTAINER) or tm.name.startswith(STANDARD_PREFIX):
                raise LocalProtocolError(LAYER, "telemetry packet name", tm.name,
                                         f"a name other than {ROOT_CONTAINER}, {TM_CONTAINER} and {STANDARD_PREFIX}*")
            if (tm.sid is not None) != (tm.service == 3 and tm.subtypes == (25,)):
                raise LocalProtocolError(LAYER, f"telemetry packet {tm.name} SID", tm.sid,
                                         "a SID exactly for TM[3,25] (the dictionary reads SIDs only there)")
        for e in self.d.events.values():
            self._name(e.name, "event name")
        base_args = set(self._tc_argument_names())
        arg_types: set[str] = set()
        for cmd in self.d.commands.values():
            self._name(cmd.name, "command name")
            if cmd.name == TC_COMMAND:
                raise LocalProtocolError(LAYER, "command name", cmd.name, f"a name other than {TC_COMMAND}")
            for f in cmd.fields:
                self._name(f.name, f"field name of {cmd.name}")
                if f.name in base_args:
                    raise LocalProtocolError(LAYER, f"field name of {cmd.name}", f.name,
                                             f"a name other than the TC header arguments {', '.join(base_args)}")
                if isinstance(f, Argument):
                    type_name = self._arg_type_name(cmd, f)
                    if type_name in arg_types:
                        raise LocalProtocolError(LAYER, f"argument type name of {cmd.name}.{f.name}", type_name,
                                                 "unique argument type names")
                    arg_types.add(type_name)

    @staticmethod
    def _name(name: str, where: str) -> None:
        if not name or _NAME_FORBIDDEN.search(name):
            raise LocalProtocolError(LAYER, where, name, "an XTCE name: not empty, no space, '.', '/', ':', '[' or ']'")

    @staticmethod
    def _header_names() -> list[str]:
        names = [f"CCSDS_{f.name.upper()}" for f in _PRIMARY.fields]
        names += [f"PUS_TM_{f.name.upper()}" for f in _TM_SH.fields]
        names += [f"PUS_REQUEST_{f.name.upper()}" for f in _REQUEST_ID.fields]
        return names + [TM_TIME, PEC, SID, EVENT_ID, EVENT_DATA, STEP_ID, FAILURE_CODE, FAILURE_DATA,
                        PROGRESS_FAILURE_DATA, PARAMETER_COUNT, PARAMETER_ID, RATE_EXPONENT, REPORT_P_FIELD,
                        REPORT_TIME, STORE_USED, STORE_CAPACITY, STORE_OVERWRITTEN, STORE_COUNT, STORE_APPLICATIONS,
                        STORE_RANGES]

    @staticmethod
    def _tc_argument_names() -> list[str]:
        names = [f"CCSDS_{f.name.upper()}" for f in _PRIMARY.fields if f.const is None and f.name not in _TC_FIXED]
        return names + [f"PUS_TC_{f.name.upper()}" for f in _TC_SH.fields if f.const is None]

    @staticmethod
    def _arg_type_name(cmd: Command, arg: Argument) -> str:
        return f"{cmd.name}_{arg.name}_ArgType"

    # ---------------------------------------------------------------- document
    def document(self) -> str:
        """The XML text."""
        d = self.d
        root = ET.Element("SpaceSystem", {
            "xmlns": XTCE_NS, "xmlns:xsi": _XSI_NS, "xsi:schemaLocation": f"{XTCE_NS} {SCHEMA_LOCATION}",
            "name": _NAME_FORBIDDEN.sub("_", d.name) or "ttc"})
        _describe(root, d.name, "mission name")
        as_json = d.to_json(fingerprint=False)
        entries = [(_A_MISSION, d.name), (_A_SCID, str(d.scid)), (_A_APIDS, json.dumps(as_json["apids"])),
                   (_A_TIME, json.dumps(as_json["time"])), (_A_LINK, json.dumps(as_json["link"]))]
        if d.event_apid is not None:
            entries.append((_A_EVENT_APID, str(d.event_apid)))
        if d.fingerprint_parameter is not None:
            entries.append((_A_FINGERPRINT, d.fingerprint_parameter))
        for e in d.events.values():
            aux = [{"field": p.name, "parameter": self.aux_names[(e.event_id, p.name)]} for p in e.auxiliary]
            entries.append((_A_EVENT, json.dumps({"id": e.event_id, "name": e.name, "severity": e.severity.name,
                                                  "text": e.text, "auxiliary": aux})))
        entries += [(_A_ONBOARD, json.dumps({"id": op.parameter_id, "parameter": op.parameter.name,
                                             "settable": op.settable})) for op in d.onboard.values()]
        _ancillary(root, entries)
        _sub(root, "Header", {"validationStatus": "Working", "version": f"ttc-mission-dictionary {as_json['version']}"})
        self._telemetry(_sub(root, "TelemetryMetaData"))
        self._commands(_sub(root, "CommandMetaData"))
        ET.indent(root, space="  ")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

    # ---------------------------------------------------------------- telemetry
    def _telemetry(self, tm_el: ET.Element) -> None:
        self.types = _sub(tm_el, "ParameterTypeSet")
        self.params = _sub(tm_el, "ParameterSet")
        self.containers = _sub(tm_el, "ContainerSet")
        self._header_parameters()
        for name, p in self.parameters.items():
            self._parameter_type(name, p)
            self._field_parameter(name, p.description)
        time_octets = self.time.coarse_octets + self.time.fine_octets
        for tm in self.packets:
            if tm.tail:
                params = sum(TYPES[p.type].sizeof() for p in tm.parameters)
                self._binary_field(tm.tail, _TM_SH.size + time_octets + params + PacketErrorControl.sizeof(),
                                   f"the octets of {tm.name} after its parameters")
        self._framing_containers()
        for tm in self.packets:
            self._packet_container(tm)
        self._standard_containers()

    def _field_parameter(self, name: str, description: str) -> None:
        _describe(_sub(self.params, "Parameter", {"name": name, "parameterTypeRef": f"{name}_Type"}), description,
                  f"parameter {name} description")

    def _integer_field(self, name: str, bits: int, description: str) -> None:
        """A header or standard-body unsigned integer field: its type and its parameter."""
        t = _sub(self.types, "IntegerParameterType", {"name": f"{name}_Type", "signed": "false",
                                                      "sizeInBits": "64" if bits > 32 else "32"})
        _integer_encoding(t, bits, signed=False)
        self._field_parameter(name, description)

    def _binary_field(self, name: str, fixed_octets: int, description: str) -> None:
        """Octets filling the packet, ``fixed_octets`` of the data field being something else."""
        t = _sub(self.types, "BinaryParameterType", {"name": f"{name}_Type"})
        dyn = _sub(_sub(_sub(t, "BinaryDataEncoding"), "SizeInBits"), "DynamicValue")
        _sub(dyn, "ParameterInstanceRef", {"parameterRef": DATA_LENGTH, "useCalibratedValue": "false"})
        # the data length field is the octets after the primary header minus one (CCSDS 133.0-B-2 4.1.3.5.3)
        _sub(dyn, "LinearAdjustment", {"slope": "8", "intercept": str(8 * (1 - fixed_octets))})
        self._field_parameter(name, description)

    def _enumerated_field(self, name: str, bits: int, labels: Iterable[tuple[int, str, str]], description: str) -> None:
        t = _sub(self.types, "EnumeratedParameterType", {"name": f"{name}_Type"})
        _integer_encoding(t, bits, signed=False)
        lst = _sub(t, "EnumerationList")
        for value, label, text in labels:
            e = _sub(lst, "Enumeration", {"value": str(value), "label": _text(label, f"{name} label")})
            _describe(e, text, f"{name} label {label}", short_only=True)
        self._field_parameter(name, description)

    def _time_field(self, name: str, description: str) -> None:
        """A CUC time field: the coarse and fine count as one integer, scaled to seconds from the epoch."""
        t = self.time
        tai = t.epoch == CCSDS_EPOCH and t.scale is TimeScale.TAI
        time_type = _sub(self.types, "AbsoluteTimeParameterType", {"name": f"{name}_Type"})
        _describe(time_type, f"CUC {t.coarse_octets}+{t.fine_octets} octets, {t.scale.name} since "
                             f"{t.epoch.isoformat()}", f"{name} type")
        enc = _sub(time_type, "Encoding", {"units": "seconds", "scale": _num(2.0 ** (-8 * t.fine_octets)),
                                           "offset": "0"})
        _integer_encoding(enc, 8 * (t.coarse_octets + t.fine_octets), signed=False)
        _sub(_sub(time_type, "ReferenceTime"), "Epoch", text="TAI" if tai else t.epoch.isoformat())
        self._field_parameter(name, description)

    def _header_parameters(self) -> None:
        for f in _PRIMARY.fields:
            self._integer_field(f"CCSDS_{f.name.upper()}", f.width,
                                f"primary header: {f.name.replace('_', ' ')} (CCSDS 133.0-B-2 4.1.3)")
        for f in _TM_SH.fields:
            self._integer_field(f"PUS_TM_{f.name.upper()}", f.width,
                                f"TM secondary header: {f.name.replace('_', ' ')} (ECSS-E-ST-70-41C 7.4.3.2)")
        t = self.time
        self._time_field(TM_TIME, "TM secondary header: on-board time of the packet (CCSDS 301.0-B-4 CUC)")
        self._integer_field(RATE_EXPONENT, 8 * _octets(CucTimeReportLayout, "rate_exponent"),
                            "time report rate exponent (TM[9,2])")
        self._integer_field(REPORT_P_FIELD, 8 * dataclasses.replace(t, p_field=True).p_field_len,
                            "P-field of the reported time (TM[9,2], CCSDS 301.0-B-4 3.2.3)")
        self._time_field(REPORT_TIME, "on-board time (TM[9,2])")
        pec = PacketErrorControl.sizeof()
        self._integer_field(PEC, 8 * pec, "packet error control: CRC-16-CCITT (polynomial 0x1021, initial 0xFFFF) "
                                          "of every octet before it (ECSS-E-ST-70-41C Annex B)")
        self._integer_field(SID, 8 * _octets(HkReportLayout, "sid"), "housekeeping structure ID (TM[3,25])")
        time_octets = t.coarse_octets + t.fine_octets
        event_id = _octets(EventReportLayout, "event_id")
        # an integer, not an enumeration: an ID the dictionary does not declare must still decode (into
        # PUS_TM_5_<s>_OTHER); the declared ones are named by their containers
        self._integer_field(EVENT_ID, 8 * event_id, "event definition ID (TM[5,x])")
        self._binary_field(EVENT_DATA, _TM_SH.size + time_octets + event_id + pec,
                           "event auxiliary data (TM[5,x]) of an event the dictionary does not declare")
        for f in _REQUEST_ID.fields:
            self._integer_field(f"PUS_REQUEST_{f.name.upper()}", f.width,
                                f"request ID of the verified TC: {f.name.replace('_', ' ')} (ECSS-E-ST-70-41C 6.1)")
        step = _octets(ProgressSuccessLayout, "step_id")
        code = _octets(FailureNoticeLayout, "code")
        self._integer_field(STEP_ID, 8 * step, "step ID (TM[1,5], TM[1,6])")
        self._enumerated_field(FAILURE_CODE, 8 * code, [(int(c), c.name, "") for c in FailureCode],
                               "failure code (TM[1,2], [1,4], [1,6], [1,8])")
        head = _TM_SH.size + time_octets + _REQUEST_ID.size
        self._binary_field(FAILURE_DATA, head + code + pec, "failure data (TM[1,2], [1,4], [1,8])")
        self._binary_field(PROGRESS_FAILURE_DATA, head + _octets(ProgressFailureLayout, "step_id") + code + pec,
                           "failure data (TM[1,6])")
        self._integer_field(PARAMETER_COUNT, 8 * Count.sizeof(), "number of parameters (TM[20,2])")
        # service 15 (this mission's store-and-forward, protocol.pus.storage): the totals as fields, the
        # per-APID entries as octets (N x 10 octets in TM[15,130], N x 6 in TM[15,131])
        for name, text in ((STORE_USED, "octets used in the on-board packet store (TM[15,130])"),
                           (STORE_CAPACITY, "capacity of the on-board packet store in octets (TM[15,130])"),
                           (STORE_OVERWRITTEN, "packets overwritten because the store was full (TM[15,130])")):
            self._integer_field(name, 32, text)
        self._integer_field(STORE_COUNT, 8 * Count.sizeof(), "number of entries (TM[15,130], TM[15,131])")
        self._binary_field(STORE_APPLICATIONS, _TM_SH.size + time_octets + 12 + Count.sizeof() + pec,
                           "per APID: APID u16, oldest stored count u16, count after the newest transmitted u16, "
                           "packets stored u32 (TM[15,130])")
        self._binary_field(STORE_RANGES, _TM_SH.size + time_octets + Count.sizeof() + pec,
                           "per range: APID u16, first sequence count u16, packets u16 (TM[15,131])")
        self._integer_field(PARAMETER_ID, 8 * _octets(ParameterEntryLayout, "parameter_id"),
                            "on-board parameter ID (TM[20,2])")

    def _parameter_type(self, name: str, p: Parameter) -> None:
        where = f"parameter {name}"
        type_name = f"{name}_Type"
        cal = p.calibration
        if isinstance(cal, States):
            if p.limits is not None:  # the schema refuses these; XTCE enumeration alarms are per label anyway
                raise LocalProtocolError(LAYER, f"{where} limits", p.limits, "none on a state parameter")
            t = _sub(self.types, "EnumeratedParameterType", {"name": type_name})
            _units(t, p.unit, where)
            _encoding(t, p.type)
            lst = _sub(t, "EnumerationList")
            for value, label in cal.names.items():
                _sub(lst, "Enumeration", {"value": str(int(value)), "label": _text(label, f"{where} state")})
            return
        if cal is not None and not isinstance(cal, Polynomial):
            raise LocalProtocolError(LAYER, f"{where} calibration", cal, "a Polynomial, States or none")
        if cal is not None or p.type.startswith("f"):
            t = _sub(self.types, "FloatParameterType", {"name": type_name,
                                                        "sizeInBits": "64" if cal is not None else str(_bits(p.type))})
        else:
            t = _sub(self.types, "IntegerParameterType", {"name": type_name, "signed": str(p.type[0] == "i").lower(),
                                                          "sizeInBits": str(_bits(p.type))})
        _units(t, p.unit, where)
        enc = _encoding(t, p.type)
        if isinstance(cal, Polynomial):
            poly = _sub(_sub(enc, "DefaultCalibrator"), "PolynomialCalibrator")
            for exponent, coefficient in enumerate(cal.coefficients):
                _sub(poly, "Term", {"coefficient": _num(coefficient), "exponent": str(exponent)})
        if p.limits is not None:
            lim = p.limits
            ranges = _sub(_sub(t, "DefaultAlarm"), "StaticAlarmRanges")
            for tag, low, high in (("WarningRange", lim.soft_low, lim.soft_high),
                                   ("CriticalRange", lim.hard_low, lim.hard_high)):
                bounds = _range(low, high)
                if bounds:
                    _sub(ranges, tag, bounds)

    def _container(self, name: str, entries: Iterable[str], *, base: str | None = None,
                   restrictions: Iterable[Restriction] = (), abstract: bool = False, description: str = "",
                   standard: str = "") -> None:
        el = _sub(self.containers, "SequenceContainer", {"name": name, **({"abstract": "true"} if abstract else {})})
        _describe(el, description, f"container {name} description")
        if standard:
            _ancillary(el, [(_A_STANDARD, standard)])
        lst = _sub(el, "EntryList")
        for entry in entries:
            _sub(lst, "ParameterRefEntry", {"parameterRef": entry})
        if base is None:
            return
        bc = _sub(el, "BaseContainer", {"containerRef": base})
        rules = list(restrictions)
        if not rules:
            return
        criteria = _sub(bc, "RestrictionCriteria")
        if any(op == "in" for _, op, _ in rules):  # one of several values: a boolean expression
            anded = _sub(_sub(criteria, "BooleanExpression"), "ANDedConditions")
            for ref, op, value in rules:
                if op == "==":
                    _condition(anded, ref, value)
                else:
                    ored = _sub(anded, "ORedConditions")
                    for v in value:
                        _condition(ored, ref, v)
            return
        comparisons = [{"parameterRef": ref, "value": str(value), "useCalibratedValue": "false",
                        **({"comparisonOperator": op} if op != "==" else {})} for ref, op, value in rules]
        if len(comparisons) == 1:
            _sub(criteria, "Comparison", comparisons[0])
        else:
            lst = _sub(criteria, "ComparisonList")
            for comparison in comparisons:
                _sub(lst, "Comparison", comparison)

    def _framing_containers(self) -> None:
        self._container(ROOT_CONTAINER, [f"CCSDS_{f.name.upper()}" for f in _PRIMARY.fields], abstract=True,
                        description="CCSDS space packet primary header (CCSDS 133.0-B-2)")
        self._container(TM_CONTAINER, [f"PUS_TM_{f.name.upper()}" for f in _TM_SH.fields] + [TM_TIME],
                        base=ROOT_CONTAINER, abstract=True,
                        restrictions=[("CCSDS_PACKET_TYPE", "==", int(PacketType.TM)),
                                      ("CCSDS_SEC_HEADER_FLAG", "==", 1)],
                        description="PUS-C TM secondary header and time (ECSS-E-ST-70-41C 7.4.3.2)")
        if any(tm.sid is not None for tm in self.packets):
            self._container(HK_CONTAINER, [SID], base=TM_CONTAINER, abstract=True,
                            restrictions=[(TM_SERVICE, "==", 3), (TM_SUBTYPE, "==", 25)],
                            description="TM[3,25] housekeeping parameter report: the structure ID")

    def _packet_container(self, tm: TelemetryPacket) -> None:
        entries = [p.name for p in tm.parameters] + ([tm.tail] if tm.tail else []) + [PEC]
        if tm.sid is not None:
            self._container(tm.name, entries, base=HK_CONTAINER,
                            restrictions=[(APID, "==", tm.apid), (SID, "==", tm.sid)], description=tm.description)
            return
        subtype: Restriction = (TM_SUBTYPE, "==", tm.subtypes[0]) if len(tm.subtypes) == 1 else \
            (TM_SUBTYPE, "in", tm.subtypes)
        self._container(tm.name, entries, base=TM_CONTAINER,
                        restrictions=[(APID, "==", tm.apid), (TM_SERVICE, "==", tm.service), subtype],
                        description=tm.description)

    def _standard(self, service: int, subtype: int, entries: list[str], description: str, *,
                  abstract: bool = False) -> bool:
        if (service, subtype) in self.used:
            return False
        self._container(f"PUS_TM_{service}_{subtype}", entries, base=TM_CONTAINER, abstract=abstract,
                        restrictions=[(TM_SERVICE, "==", service), (TM_SUBTYPE, "==", subtype)],
                        description=description, standard=f"ECSS-E-ST-70-41C TM[{service},{subtype}]")
        return True

    def _standard_containers(self) -> None:
        request = [f"PUS_REQUEST_{f.name.upper()}" for f in _REQUEST_ID.fields]
        for subtype, what in ((1, "acceptance"), (3, "start of execution"), (7, "completion of execution")):
            self._standard(1, subtype, request + [PEC], f"successful {what} verification report")
        for subtype, what in ((2, "acceptance"), (4, "start of execution"), (8, "completion of execution")):
            self._standard(1, subtype, request + [FAILURE_CODE, FAILURE_DATA, PEC],
                           f"failed {what} verification report")
        self._standard(1, 5, request + [STEP_ID, PEC], "successful progress of execution verification report")
        self._standard(1, 6, request + [STEP_ID, FAILURE_CODE, PROGRESS_FAILURE_DATA, PEC],
                       "failed progress of execution verification report")
        for severity in Severity:
            self._event_containers(severity)
        self._standard(9, 2, [RATE_EXPONENT, REPORT_P_FIELD, REPORT_TIME, PEC], "CUC time report")
        self._standard(17, 2, [PEC], "are-you-alive connection test report")
        if self.d.apid_of_service(15) is not None:
            self._standard(15, 130, [STORE_USED, STORE_CAPACITY, STORE_OVERWRITTEN, STORE_COUNT, STORE_APPLICATIONS,
                                     PEC], "packet store status report (this mission's, protocol.pus.storage)")
            self._standard(15, 131, [STORE_COUNT, STORE_RANGES, PEC],
                           "packets asked for again that the store no longer holds (this mission's)")
        if self.d.onboard and self._standard(20, 2, [PARAMETER_COUNT, PARAMETER_ID],
                                             "parameter value report (decoded here when it carries one parameter)",
                                             abstract=True):
            names = [op.parameter.name for op in self.d.onboard.values()]
            for op in self.d.onboard.values():
                name = f"PUS_TM_20_2_{op.parameter.name}"
                if names.count(op.parameter.name) > 1:
                    name += f"_{op.parameter_id:04X}"
                self._container(name, [op.parameter.name, PEC], base="PUS_TM_20_2",
                                restrictions=[(PARAMETER_COUNT, "==", 1), (PARAMETER_ID, "==", op.parameter_id)],
                                description=f"parameter value report of {op.parameter.name}",
                                standard="ECSS-E-ST-70-41C TM[20,2]")

    def _event_containers(self, severity: Severity) -> None:
        s = int(severity)
        if not self._standard(5, s, [EVENT_ID], f"{severity.name.lower()} severity event report", abstract=True):
            return
        base = f"PUS_TM_5_{s}"
        standard = f"ECSS-E-ST-70-41C TM[5,{s}]"
        events = [e for e in self.d.events.values() if e.severity is severity]
        for e in events:
            entries = [self.aux_names[(e.event_id, p.name)] for p in e.auxiliary] + [PEC]
            self._container(f"{base}_{e.name}", entries, base=base, restrictions=[(EVENT_ID, "==", e.event_id)],
                            description=e.text, standard=standard)
        self._container(f"{base}_OTHER", [EVENT_DATA, PEC], base=base,
                        restrictions=[(EVENT_ID, "!=", e.event_id) for e in events],
                        description=f"a {severity.name.lower()} severity event the dictionary does not declare "
                                    "with that severity", standard=standard)

    # ---------------------------------------------------------------- commands
    def _commands(self, cmd_el: ET.Element) -> None:
        self.arg_types = _sub(cmd_el, "ArgumentTypeSet")
        commands = _sub(cmd_el, "MetaCommandSet")
        self._base_command(commands)
        for cmd in self.d.commands.values():
            self._command(commands, cmd)

    def _base_command(self, commands: ET.Element) -> None:
        mc = _sub(commands, "MetaCommand", {"name": TC_COMMAND, "abstract": "true"})
        _describe(mc, "PUS-C telecommand: primary header (CCSDS 133.0-B-2) and TC secondary header "
                      "(ECSS-E-ST-70-41C 7.4.3.1); the ground appends the packet error control", TC_COMMAND)
        args = _sub(mc, "ArgumentList")
        entries = _sub(_sub(mc, "CommandContainer", {"name": TC_COMMAND}), "EntryList")
        for prefix, layout in (("CCSDS", _PRIMARY), ("PUS_TC", _TC_SH)):
            for f in layout.fields:
                name = f"{prefix}_{f.name.upper()}"
                fixed = f.const if f.const is not None else (_TC_FIXED.get(f.name) if prefix == "CCSDS" else None)
                if fixed is not None:
                    e = _sub(entries, "FixedValueEntry", {"name": name, "binaryValue": _hex(fixed, f.width),
                                                          "sizeInBits": str(f.width)})
                    if prefix == "CCSDS" and f.name in _TC_FILLED:
                        _describe(e, _TC_FILLED[f.name], name)
                    continue
                t = _sub(self.arg_types, "IntegerArgumentType", {"name": f"{name}_ArgType", "signed": "false",
                                                                 "sizeInBits": "64" if f.width > 32 else "32"})
                _integer_encoding(t, f.width, signed=False)
                _sub(_sub(t, "ValidRangeSet"), "ValidRange", {"minInclusive": "0", "maxInclusive": str(f.mask)})
                default = _TC_DEFAULTS.get(f.name)
                _sub(args, "Argument", {"name": name, "argumentTypeRef": f"{name}_ArgType",
                                        **({"initialValue": str(default)} if default is not None else {})})
                _sub(entries, "ArgumentRefEntry", {"argumentRef": name})

    def _argument_type(self, cmd: Command, arg: Argument) -> str:
        where = f"argument {cmd.name}.{arg.name}"
        name = self._arg_type_name(cmd, arg)
        if arg.enum is not None:
            t = _sub(self.arg_types, "EnumeratedArgumentType", {"name": name})
            _ancillary(t, [(k, _num(v)) for k, v in ((_A_MIN, arg.min), (_A_MAX, arg.max)) if v is not None])
            _units(t, arg.unit, where)
            _encoding(t, arg.type)
            lst = _sub(t, "EnumerationList")
            for label, value in arg.enum.items():
                _sub(lst, "Enumeration", {"value": str(int(value)), "label": _text(label, f"{where} label")})
            return name
        lo, hi = arg.bounds
        bounds: dict[str, str] = {}
        if arg.calibration is not None:  # engineering value in, the inverse of the calibrator goes on the wire
            t = _sub(self.arg_types, "FloatArgumentType", {"name": name, "sizeInBits": "64"})
            bounds = _range(None if math.isinf(lo) else lo, None if math.isinf(hi) else hi)
            _units(t, arg.unit, where)
            enc = _encoding(t, arg.type)
            poly = _sub(_sub(enc, "DefaultCalibrator"), "PolynomialCalibrator")
            for exponent, coefficient in enumerate(arg.calibration.coefficients):
                _sub(poly, "Term", {"coefficient": _num(coefficient), "exponent": str(exponent)})
            if bounds:  # on the engineering value (validRangeAppliesToCalibrated defaults to true)
                _sub(_sub(t, "ValidRangeSet"), "ValidRange", bounds)
            return name
        if arg.type.startswith("f"):
            t = _sub(self.arg_types, "FloatArgumentType", {"name": name, "sizeInBits": str(_bits(arg.type))})
            bounds = _range(None if math.isinf(lo) else lo, None if math.isinf(hi) else hi)
        else:
            t = _sub(self.arg_types, "IntegerArgumentType", {"name": name, "signed": str(arg.type[0] == "i").lower(),
                                                             "sizeInBits": str(_bits(arg.type))})
            for key, value in (("minInclusive", lo), ("maxInclusive", hi)):
                if value != int(value):
                    raise LocalProtocolError(LAYER, f"{where} bound", value, "an integer (the argument is an integer)")
                if _LONG_MIN <= value <= _LONG_MAX:  # xs:long; only the top of u64 is beyond it
                    bounds[key] = str(int(value))
        _units(t, arg.unit, where)
        _encoding(t, arg.type)
        if bounds:
            _sub(_sub(t, "ValidRangeSet"), "ValidRange", bounds)
        return name

    def _command(self, commands: ET.Element, cmd: Command) -> None:
        mc = _sub(commands, "MetaCommand", {"name": cmd.name})
        _describe(mc, cmd.description, f"command {cmd.name} description")
        assignments = _sub(_sub(mc, "BaseMetaCommand", {"metaCommandRef": TC_COMMAND}), "ArgumentAssignmentList")
        for name, value in ((APID, cmd.apid), (TC_SERVICE, cmd.service), (TC_SUBTYPE, cmd.subtype)):
            _sub(assignments, "ArgumentAssignment", {"argumentName": name, "argumentValue": str(value)})
        if cmd.arguments:
            args = _sub(mc, "ArgumentList")
            for arg in cmd.arguments:
                attrib = {"name": arg.name, "argumentTypeRef": self._argument_type(cmd, arg)}
                if arg.default is not None:
                    attrib["initialValue"] = arg.default if isinstance(arg.default, str) else _num(arg.default)
                _describe(_sub(args, "Argument", attrib), arg.description, f"argument {cmd.name}.{arg.name}")
        container = _sub(mc, "CommandContainer", {"name": cmd.name})
        entries = _sub(container, "EntryList")
        for f in cmd.fields:
            if isinstance(f, Fixed):
                e = _sub(entries, "FixedValueEntry", {"name": f.name, "binaryValue": _hex(f.value, _bits(f.type)),
                                                      "sizeInBits": str(_bits(f.type))})
                _ancillary(e, [(_A_TYPE, f.type)])
            else:
                _sub(entries, "ArgumentRefEntry", {"argumentRef": f.name})
        _sub(container, "BaseContainer", {"containerRef": TC_COMMAND})
        if cmd.hazardous:  # XTCE 1.2 MetaCommand/DefaultSignificance: Yamcs asks operators to confirm these
            _sub(mc, "DefaultSignificance", {"consequenceLevel": "critical",
                                             "reasonForWarning": _text(cmd.description or "hazardous",
                                                                       f"command {cmd.name} description")})


# ====================================================================== import

def from_xtce(text: str | bytes) -> MissionDictionary:
    """The mission dictionary an XTCE 1.2 document (as :func:`to_xtce` writes it) declares; XtceError if it cannot."""
    if not isinstance(text, (str, bytes)):
        raise XtceError("document", type(text).__name__, "XML text (str or bytes)")
    if len(text) > MAX_DOCUMENT_CHARS:
        raise XtceError("document", f"{len(text)} characters", f"at most {MAX_DOCUMENT_CHARS}")
    if ("<!ENTITY" if isinstance(text, str) else b"<!ENTITY") in text:  # type: ignore[operator]
        raise XtceError("document", "an entity declaration", "a document without a DTD (XTCE needs none)")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        line, column = e.position
        raise XtceError("document", str(e), "well-formed XML", detail=f"line {line}, column {column}") from e
    expected = f"{{{XTCE_NS}}}SpaceSystem"
    if root.tag != expected:
        raise XtceError("/", root.tag, f"the root element {expected} (an XTCE 1.2 SpaceSystem)")
    return _Import(root).dictionary()


T = TypeVar("T")
_JSON_KINDS = {int: "integer", str: "string", bool: "boolean", list: "array", dict: "object"}


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


class _Import:
    """Reads one SpaceSystem element tree into dictionary declarations."""

    def __init__(self, root: ET.Element) -> None:
        self.root = root
        self.ns = f"{{{XTCE_NS}}}"
        tm = root.find(self.q("TelemetryMetaData"))
        cm = root.find(self.q("CommandMetaData"))
        self.tm_path = "SpaceSystem/TelemetryMetaData"
        self.cm_path = "SpaceSystem/CommandMetaData"
        self.types = self._index(tm, "ParameterTypeSet", f"{self.tm_path}/ParameterTypeSet")
        self.param_els = self._index(tm, "ParameterSet", f"{self.tm_path}/ParameterSet")
        self.containers = self._index(tm, "ContainerSet", f"{self.tm_path}/ContainerSet")
        self.arg_types = self._index(cm, "ArgumentTypeSet", f"{self.cm_path}/ArgumentTypeSet")
        self.meta_commands = self._index(cm, "MetaCommandSet", f"{self.cm_path}/MetaCommandSet")
        self._parameters: dict[str, Parameter] = {}

    # ---------------------------------------------------------------- helpers
    def q(self, path: str) -> str:
        """An ElementTree path with every step in the XTCE namespace."""
        return "/".join(self.ns + step for step in path.split("/"))

    def _index(self, parent: ET.Element | None, set_name: str, path: str) -> dict[str, ET.Element]:
        """The named children of a *Set element, in document order."""
        out: dict[str, ET.Element] = {}
        box = parent.find(self.q(set_name)) if parent is not None else None
        for el in box if box is not None else ():
            name = self.attr(el, "name", f"{path}/{_local(el.tag)}")
            if name in out:
                raise XtceError(f"{path}/{_local(el.tag)}[@name='{name}']", name, "unique names in the set")
            out[name] = el
        return out

    @staticmethod
    def attr(el: ET.Element, name: str, path: str) -> str:
        value = el.get(name)
        if value is None:
            raise XtceError(f"{path}/@{name}", "missing", f"the attribute {name}")
        return value

    @staticmethod
    def integer(text: str, path: str) -> int:
        if not _INT_TEXT.fullmatch(text.strip()):
            raise XtceError(path, text, "an integer")
        return int(text)

    @staticmethod
    def number(text: str, path: str) -> int | float:
        t = text.strip()
        if _INT_TEXT.fullmatch(t):
            return int(t)
        try:
            return float(t)
        except ValueError as e:
            raise XtceError(path, text, "a number (xs:double)") from e

    def optional_number(self, el: ET.Element, name: str, path: str) -> int | float | None:
        value = el.get(name)
        return None if value is None else self.number(value, f"{path}/@{name}")

    def description(self, el: ET.Element) -> str:
        long = el.find(self.q("LongDescription"))
        if long is not None:
            return long.text or ""
        return el.get("shortDescription", "")

    def ancillary(self, el: ET.Element, name: str) -> list[str]:
        """The texts of the AncillaryData called ``name`` of ``el``."""
        return [a.text or "" for a in el.findall(self.q("AncillaryDataSet/AncillaryData")) if a.get("name") == name]

    def one_ancillary(self, el: ET.Element, name: str, path: str, *, required: bool) -> str | None:
        values = self.ancillary(el, name)
        if len(values) > 1 or (required and not values):
            raise XtceError(f"{path}/AncillaryDataSet/AncillaryData[@name='{name}']", f"{len(values)} entries",
                            "exactly one" if required else "at most one")
        return values[0] if values else None

    def json_entry(self, text: str, path: str, keys: Mapping[str, type]) -> dict[str, Any]:
        """A JSON object with (at least) ``keys`` of the given JSON kinds."""
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise XtceError(path, text, "a JSON object", detail=str(e)) from e
        if not isinstance(obj, dict):
            raise XtceError(path, text, "a JSON object")
        for key, kind in keys.items():
            value = obj.get(key)
            # JSON true/false are Python bools, which are ints too: an integer field must not take them
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                raise XtceError(f"{path}/{key}", value, f"a JSON {_JSON_KINDS.get(kind, 'value')}")
        return obj

    @staticmethod
    def build(path: str, make: Callable[[], T]) -> T:
        """A declaration the document describes; what its constructor refuses is the document's fault."""
        try:
            return make()
        except LocalProtocolError as e:
            raise XtceError(path, e.value, e.allowed, detail=str(e)) from e
        except (TypeError, ValueError) as e:  # JSON with keys the constructor does not take or values of a wrong kind
            raise XtceError(path, "unexpected fields or values", "those of the declaration", detail=str(e)) from e

    # ---------------------------------------------------------------- types
    def wire_type(self, el: ET.Element, path: str) -> tuple[str, ET.Element]:
        """The ttc wire type (u8..i64, f32, f64) of a type element's data encoding, and the encoding."""
        enc = el.find(self.q("IntegerDataEncoding"))
        if enc is not None:
            epath = f"{path}/IntegerDataEncoding"
            bits = self.integer(enc.get("sizeInBits", "8"), f"{epath}/@sizeInBits")
            encoding = enc.get("encoding", "unsigned")
            if encoding not in ("unsigned", "twosComplement"):
                raise XtceError(f"{epath}/@encoding", encoding, "unsigned or twosComplement")
            name = f"{'u' if encoding == 'unsigned' else 'i'}{bits}"
        else:
            enc = el.find(self.q("FloatDataEncoding"))
            if enc is None:
                raise XtceError(path, "no IntegerDataEncoding or FloatDataEncoding", "one of them (the wire type)")
            epath = f"{path}/FloatDataEncoding"
            bits = self.integer(enc.get("sizeInBits", "32"), f"{epath}/@sizeInBits")
            encoding = enc.get("encoding", "IEEE754_1985")
            if encoding not in ("IEEE754_1985", "IEEE754"):
                raise XtceError(f"{epath}/@encoding", encoding, "IEEE754_1985 or IEEE754")
            name = f"f{bits}"
        if name not in TYPES:
            raise XtceError(f"{epath}/@sizeInBits", bits, "32 or 64" if name[0] == "f" else "8, 16, 32 or 64")
        order = enc.get("byteOrder", "mostSignificantByteFirst")
        if order != "mostSignificantByteFirst":
            raise XtceError(f"{epath}/@byteOrder", order, "mostSignificantByteFirst (the wire is big endian)")
        return name, enc

    def unit(self, el: ET.Element, path: str) -> str:
        units = el.findall(self.q("UnitSet/Unit"))
        if len(units) > 1:
            raise XtceError(f"{path}/UnitSet", f"{len(units)} units", "at most one Unit")
        return (units[0].text or "") if units else ""

    def enumeration(self, el: ET.Element, path: str) -> list[tuple[int, str]]:
        lst = el.find(self.q("EnumerationList"))
        if lst is None:
            raise XtceError(f"{path}/EnumerationList", "missing", "the enumeration of the type")
        out = []
        for e in lst.findall(self.q("Enumeration")):
            label = self.attr(e, "label", f"{path}/EnumerationList/Enumeration")
            epath = f"{path}/EnumerationList/Enumeration[@label='{label}']"
            if e.get("maxValue") is not None:
                raise XtceError(f"{epath}/@maxValue", e.get("maxValue"), "no value ranges (one value per label)")
            out.append((self.integer(self.attr(e, "value", epath), f"{epath}/@value"), label))
        return out

    def limits(self, el: ET.Element, path: str) -> Limits | None:
        alarm = el.find(self.q("DefaultAlarm"))
        if alarm is None:
            return None
        ranges = alarm.find(self.q("StaticAlarmRanges"))
        apath = f"{path}/DefaultAlarm/StaticAlarmRanges"
        if ranges is None:
            raise XtceError(apath, "missing", "StaticAlarmRanges (the limits)")
        if ranges.get("rangeForm", "outside") != "outside":
            raise XtceError(f"{apath}/@rangeForm", ranges.get("rangeForm"), "outside (values outside are in alarm)")
        for child in ranges:
            if _local(child.tag) not in ("WarningRange", "CriticalRange"):
                raise XtceError(f"{apath}/{_local(child.tag)}", _local(child.tag),
                                "WarningRange (soft limits) and CriticalRange (hard limits)")
        values: dict[str, int | float | None] = {}
        for tag, level in (("WarningRange", "soft"), ("CriticalRange", "hard")):
            r = ranges.find(self.q(tag))
            rpath = f"{apath}/{tag}"
            if r is not None:
                for bad in ("minExclusive", "maxExclusive"):
                    if r.get(bad) is not None:
                        raise XtceError(f"{rpath}/@{bad}", r.get(bad), "minInclusive/maxInclusive limits")
            values[f"{level}_low"] = self.optional_number(r, "minInclusive", rpath) if r is not None else None
            values[f"{level}_high"] = self.optional_number(r, "maxInclusive", rpath) if r is not None else None
        return Limits(**values)

    def polynomial(self, cal: ET.Element, path: str) -> Polynomial:
        poly = cal.find(self.q("PolynomialCalibrator"))
        if poly is None:
            raise XtceError(path, ", ".join(_local(c.tag) for c in cal) or "empty", "a PolynomialCalibrator")
        terms: dict[int, int | float] = {}
        tpath = f"{path}/PolynomialCalibrator/Term"
        for term in poly.findall(self.q("Term")):
            exponent = self.integer(self.attr(term, "exponent", tpath), f"{tpath}/@exponent")
            if exponent in terms:
                raise XtceError(f"{tpath}[@exponent='{exponent}']", exponent, "one term per exponent")
            terms[exponent] = self.number(self.attr(term, "coefficient", tpath), f"{tpath}/@coefficient")
        if not terms:
            raise XtceError(tpath, "none", "at least one Term")
        return Polynomial(coefficients=tuple(terms.get(i, 0.0) for i in range(max(terms) + 1)))

    def type_of(self, name: str, path: str) -> tuple[ET.Element, ET.Element, str]:
        """The Parameter element called ``name`` (referenced at ``path``), its type element and the type's path."""
        el = self.param_els.get(name)
        if el is None:
            raise XtceError(path, name, f"the name of a parameter in {self.tm_path}/ParameterSet")
        ppath = f"{self.tm_path}/ParameterSet/Parameter[@name='{name}']"
        ref = self.attr(el, "parameterTypeRef", ppath)
        t = self.types.get(ref)
        if t is None:
            raise XtceError(f"{ppath}/@parameterTypeRef", ref, f"the name of a type in {self.tm_path}/ParameterTypeSet")
        return el, t, f"{self.tm_path}/ParameterTypeSet/{_local(t.tag)}[@name='{ref}']"

    def parameter(self, name: str, path: str, *, field: str | None = None) -> Parameter:
        """The Parameter called ``name`` (referenced at ``path``), named ``field`` if given (an event's field)."""
        known = self._parameters.get(name)
        if known is None:
            el, t, tpath = self.type_of(name, path)
            kind = _local(t.tag)
            if kind not in ("IntegerParameterType", "FloatParameterType", "EnumeratedParameterType"):
                raise XtceError(tpath, kind, "IntegerParameterType, FloatParameterType or EnumeratedParameterType")
            wire, enc = self.wire_type(t, tpath)
            calibration: Polynomial | States | None = None
            limits: Limits | None = None
            if kind == "EnumeratedParameterType":
                calibration = States(names=dict(self.enumeration(t, tpath)))
            else:
                cal = enc.find(self.q("DefaultCalibrator"))
                if cal is not None:
                    calibration = self.polynomial(cal, f"{tpath}/{_local(enc.tag)}/DefaultCalibrator")
                limits = self.limits(t, tpath)
            unit, description = self.unit(t, tpath), self.description(el)
            known = self.build(f"{self.tm_path}/ParameterSet/Parameter[@name='{name}']",
                               lambda: Parameter(name=name, type=wire, unit=unit, calibration=calibration,
                                                 limits=limits, description=description))
            self._parameters[name] = known
        if field is None or field == known.name:
            return known
        p = known
        return self.build(path, lambda: dataclasses.replace(p, name=field))

    # ---------------------------------------------------------------- telemetry
    def restrictions(self, name: str) -> dict[str, tuple[int, ...]]:
        """The values a container and the containers it extends fix, by parameter (raw equalities only)."""
        out: dict[str, tuple[int, ...]] = {}
        seen: set[str] = set()
        while name not in seen:
            seen.add(name)
            cpath = f"{self.tm_path}/ContainerSet/SequenceContainer[@name='{name}']"
            base = self.containers[name].find(self.q("BaseContainer"))
            if base is None:
                return out
            criteria = base.find(self.q("RestrictionCriteria"))
            rpath = f"{cpath}/BaseContainer/RestrictionCriteria"
            for comparison in criteria.iter(self.q("Comparison")) if criteria is not None else ():
                ref = self.attr(comparison, "parameterRef", f"{rpath}//Comparison")
                if comparison.get("comparisonOperator", "==") == "==":
                    value = self.attr(comparison, "value", f"{rpath}//Comparison[@parameterRef='{ref}']")
                    out.setdefault(ref, (self.integer(value, f"{rpath}//Comparison[@parameterRef='{ref}']/@value"),))
            expression = criteria.find(self.q("BooleanExpression/ANDedConditions")) if criteria is not None else None
            for cond in expression if expression is not None else ():
                cpath_ = f"{rpath}/BooleanExpression/ANDedConditions"
                if _local(cond.tag) == "Condition":
                    ref, value = self.condition(cond, f"{cpath_}/Condition")
                    out.setdefault(ref, (value,))
                elif _local(cond.tag) == "ORedConditions":
                    pairs = [self.condition(c, f"{cpath_}/ORedConditions/Condition") for c in cond]
                    refs = {ref for ref, _ in pairs}
                    if len(refs) != 1:
                        raise XtceError(f"{cpath_}/ORedConditions", ", ".join(sorted(refs)),
                                        "alternatives of one parameter (the subtypes of a packet)")
                    out.setdefault(refs.pop(), tuple(v for _, v in pairs))
            name = self.attr(base, "containerRef", f"{cpath}/BaseContainer")
            if name not in self.containers:
                raise XtceError(f"{cpath}/BaseContainer/@containerRef", name, "the name of a SequenceContainer")
        raise XtceError(f"{self.tm_path}/ContainerSet/SequenceContainer[@name='{name}']/BaseContainer", name,
                        "a container hierarchy without cycles")

    def condition(self, cond: ET.Element, path: str) -> tuple[str, int]:
        """(parameter, value) of a Condition ``parameter == value``."""
        ref_el = cond.find(self.q("ParameterInstanceRef"))
        op = cond.find(self.q("ComparisonOperator"))
        value = cond.find(self.q("Value"))
        if ref_el is None or op is None or value is None or (op.text or "").strip() != "==":
            raise XtceError(path, "a condition", "ParameterInstanceRef == Value")
        ref = self.attr(ref_el, "parameterRef", f"{path}/ParameterInstanceRef")
        return ref, self.integer(value.text or "", f"{path}[ParameterInstanceRef/@parameterRef='{ref}']/Value")

    def telemetry(self) -> list[TelemetryPacket]:
        out = []
        for name, el in self.containers.items():
            if el.get("abstract") in ("true", "1") or self.ancillary(el, _A_STANDARD):
                continue
            cpath = f"{self.tm_path}/ContainerSet/SequenceContainer[@name='{name}']"
            fixed = self.restrictions(name)
            missing = [p for p in (APID, TM_SERVICE, TM_SUBTYPE) if p not in fixed]
            if missing:
                raise XtceError(f"{cpath}/BaseContainer/RestrictionCriteria", f"no comparison on {', '.join(missing)}",
                                f"{APID}, {TM_SERVICE} and {TM_SUBTYPE} fixed by the container or its bases")
            for key in (APID, TM_SERVICE, SID):
                if len(fixed.get(key, (0,))) != 1:
                    raise XtceError(f"{cpath}/BaseContainer/RestrictionCriteria", f"several values of {key}", "one")
            entries = []
            lst = el.find(self.q("EntryList"))
            for entry in lst if lst is not None else ():
                if _local(entry.tag) != "ParameterRefEntry":
                    raise XtceError(f"{cpath}/EntryList/{_local(entry.tag)}", _local(entry.tag), "ParameterRefEntry")
                entries.append(self.attr(entry, "parameterRef", f"{cpath}/EntryList/ParameterRefEntry"))
            if not entries or entries[-1] != PEC:
                raise XtceError(f"{cpath}/EntryList", entries[-1] if entries else "empty",
                                f"the parameters then {PEC} (the packet error control) last")
            epath = f"{cpath}/EntryList/ParameterRefEntry/@parameterRef"
            refs = entries[:-1]
            tail = None
            if refs and _local(self.type_of(refs[-1], epath)[1].tag) == "BinaryParameterType":
                tail = refs.pop()  # the octets after the parameters
            parameters = tuple(self.parameter(ref, epath) for ref in refs)
            subtypes = fixed[TM_SUBTYPE]
            sid = fixed[SID][0] if SID in fixed else None
            description = self.description(el)
            out.append(self.build(cpath, lambda: TelemetryPacket(
                name=name, apid=fixed[APID][0], service=fixed[TM_SERVICE][0],
                subtype=subtypes[0] if len(subtypes) == 1 else subtypes, parameters=parameters, sid=sid,
                description=description, tail=tail)))
        return out

    def events(self) -> list[EventDefinition]:
        out = []
        path = f"SpaceSystem/AncillaryDataSet/AncillaryData[@name='{_A_EVENT}']"
        for text in self.ancillary(self.root, _A_EVENT):
            obj = self.json_entry(text, path, {"id": int, "name": str, "severity": str, "text": str,
                                               "auxiliary": list})
            if obj["severity"] not in Severity.__members__:
                raise XtceError(f"{path}/severity", obj["severity"], " | ".join(Severity.__members__))
            aux = []
            for item in obj["auxiliary"]:
                entry = self.json_entry(json.dumps(item), f"{path}/auxiliary", {"field": str, "parameter": str})
                aux.append(self.parameter(entry["parameter"], f"{path}/auxiliary/parameter", field=entry["field"]))
            out.append(self.build(path, lambda: EventDefinition(
                event_id=obj["id"], name=obj["name"], severity=Severity[obj["severity"]], text=obj["text"],
                auxiliary=tuple(aux))))
        return out

    def onboard(self) -> list[OnboardParameter]:
        out = []
        path = f"SpaceSystem/AncillaryDataSet/AncillaryData[@name='{_A_ONBOARD}']"
        for text in self.ancillary(self.root, _A_ONBOARD):
            obj = self.json_entry(text, path, {"id": int, "parameter": str, "settable": bool})
            parameter = self.parameter(obj["parameter"], f"{path}/parameter")
            out.append(OnboardParameter(parameter_id=obj["id"], parameter=parameter, settable=obj["settable"]))
        return out

    # ---------------------------------------------------------------- commands
    def argument(self, el: ET.Element, path: str) -> Argument:
        name = self.attr(el, "name", path)
        ref = self.attr(el, "argumentTypeRef", path)
        t = self.arg_types.get(ref)
        if t is None:
            raise XtceError(f"{path}/@argumentTypeRef", ref, f"the name of a type in {self.cm_path}/ArgumentTypeSet")
        kind = _local(t.tag)
        tpath = f"{self.cm_path}/ArgumentTypeSet/{kind}[@name='{ref}']"
        if kind not in ("IntegerArgumentType", "FloatArgumentType", "EnumeratedArgumentType"):
            raise XtceError(tpath, kind, "IntegerArgumentType, FloatArgumentType or EnumeratedArgumentType")
        wire, enc = self.wire_type(t, tpath)
        calibration = None
        cal = enc.find(self.q("DefaultCalibrator"))
        if cal is not None:
            calibration = self.polynomial(cal, f"{tpath}/{_local(enc.tag)}/DefaultCalibrator")
        enum: dict[str, int] | None = None
        low: int | float | None = None
        high: int | float | None = None
        if kind == "EnumeratedArgumentType":
            enum = {label: value for value, label in self.enumeration(t, tpath)}
            bound = {}
            for key in (_A_MIN, _A_MAX):
                text = self.one_ancillary(t, key, tpath, required=False)
                if text is not None:
                    bound[key] = self.number(text, f"{tpath}/AncillaryDataSet/AncillaryData[@name='{key}']")
            low, high = bound.get(_A_MIN), bound.get(_A_MAX)
        else:
            ranges = t.findall(self.q("ValidRangeSet/ValidRange"))
            if len(ranges) > 1:
                raise XtceError(f"{tpath}/ValidRangeSet", f"{len(ranges)} ranges", "at most one ValidRange")
            if ranges:
                rpath = f"{tpath}/ValidRangeSet/ValidRange"
                low = self.optional_number(ranges[0], "minInclusive", rpath)
                high = self.optional_number(ranges[0], "maxInclusive", rpath)
        default: int | float | str | None = el.get("initialValue")
        if isinstance(default, str) and not (enum is not None and default in enum):
            default = self.number(default, f"{path}/@initialValue")
        unit, description = self.unit(t, tpath), self.description(el)
        return self.build(path, lambda: Argument(name=name, type=wire, unit=unit, min=low, max=high, enum=enum,
                                                 default=default, description=description, calibration=calibration))

    def fixed(self, el: ET.Element, path: str) -> Fixed:
        name = self.attr(el, "name", path)
        fpath = f"{path}[@name='{name}']"
        bits = self.integer(self.attr(el, "sizeInBits", fpath), f"{fpath}/@sizeInBits")
        hex_text = self.attr(el, "binaryValue", fpath)
        try:
            value = int.from_bytes(bytes.fromhex(hex_text), "big")
        except ValueError as e:
            raise XtceError(f"{fpath}/@binaryValue", hex_text, "hexBinary") from e
        type_name = self.one_ancillary(el, _A_TYPE, fpath, required=False) or f"u{bits}"
        if type_name not in TYPES or _bits(type_name) != bits:
            raise XtceError(f"{fpath}/AncillaryDataSet/AncillaryData[@name='{_A_TYPE}']", type_name,
                            f"a wire type of {bits} bits ({', '.join(t for t in TYPES if _bits(t) == bits) or 'none'})")
        if value >> bits:
            raise XtceError(f"{fpath}/@binaryValue", hex_text, f"a value of {bits} bits")
        if type_name.startswith("i") and value >> (bits - 1):
            value -= 1 << bits
        return self.build(fpath, lambda: Fixed(name=name, type=type_name, value=value))

    def commands(self) -> list[Command]:
        out = []
        for name, mc in self.meta_commands.items():
            if _local(mc.tag) != "MetaCommand" or mc.get("abstract") in ("true", "1"):
                continue
            mpath = f"{self.cm_path}/MetaCommandSet/MetaCommand[@name='{name}']"
            apath = f"{mpath}/BaseMetaCommand/ArgumentAssignmentList"
            assigned: dict[str, int] = {}
            for a in mc.findall(self.q("BaseMetaCommand/ArgumentAssignmentList/ArgumentAssignment")):
                arg = self.attr(a, "argumentName", f"{apath}/ArgumentAssignment")
                if arg in (APID, TC_SERVICE, TC_SUBTYPE):
                    assigned[arg] = self.integer(self.attr(a, "argumentValue", f"{apath}/ArgumentAssignment"),
                                                 f"{apath}/ArgumentAssignment[@argumentName='{arg}']/@argumentValue")
            missing = [a for a in (APID, TC_SERVICE, TC_SUBTYPE) if a not in assigned]
            if missing:
                raise XtceError(apath, f"no {', '.join(missing)}",
                                f"assignments of {APID}, {TC_SERVICE} and {TC_SUBTYPE}")
            arguments = {self.attr(a, "name", f"{mpath}/ArgumentList/Argument"): a
                         for a in mc.findall(self.q("ArgumentList/Argument"))}
            container = mc.find(self.q("CommandContainer"))
            if container is None:
                raise XtceError(f"{mpath}/CommandContainer", "missing", "the command's CommandContainer")
            fields: list[Argument | Fixed] = []
            placed: set[str] = set()
            epath = f"{mpath}/CommandContainer/EntryList"
            entries = container.find(self.q("EntryList"))
            for entry in entries if entries is not None else ():
                kind = _local(entry.tag)
                if kind == "FixedValueEntry":
                    fields.append(self.fixed(entry, f"{epath}/FixedValueEntry"))
                elif kind == "ArgumentRefEntry":
                    ref = self.attr(entry, "argumentRef", f"{epath}/ArgumentRefEntry")
                    if ref not in arguments:
                        raise XtceError(f"{epath}/ArgumentRefEntry/@argumentRef", ref,
                                        f"an argument of {name}'s ArgumentList ({', '.join(arguments) or 'none'})")
                    placed.add(ref)
                    fields.append(self.argument(arguments[ref], f"{mpath}/ArgumentList/Argument[@name='{ref}']"))
                else:
                    raise XtceError(f"{epath}/{kind}", kind, "ArgumentRefEntry or FixedValueEntry")
            unplaced = [a for a in arguments if a not in placed]
            if unplaced:
                raise XtceError(f"{mpath}/ArgumentList", ", ".join(unplaced),
                                "arguments placed in the CommandContainer")
            description = self.description(mc)
            significance = mc.find(self.q("DefaultSignificance"))
            hazardous = significance is not None and significance.get("consequenceLevel", "normal") != "normal"
            out.append(self.build(mpath, lambda: Command(name=name, apid=assigned[APID], service=assigned[TC_SERVICE],
                                                         subtype=assigned[TC_SUBTYPE], fields=tuple(fields),
                                                         description=description, hazardous=hazardous)))
        return out

    # ---------------------------------------------------------------- settings
    def settings(self) -> dict[str, Any]:
        """The MissionDictionary keywords kept as SpaceSystem ancillary data (absent: the dictionary's default)."""
        root, path = self.root, "SpaceSystem"
        a_path = f"{path}/AncillaryDataSet/AncillaryData"
        out: dict[str, Any] = {}
        text = self.one_ancillary(root, _A_APIDS, path, required=False)
        if text is not None:
            apids = self.json_entry(text, f"{a_path}[@name='{_A_APIDS}']", {})
            for key, value in apids.items():
                if not isinstance(value, int) or isinstance(value, bool):
                    raise XtceError(f"{a_path}[@name='{_A_APIDS}']/{key}", value, "an integer APID")
            out["apids"] = apids
        text = self.one_ancillary(root, _A_TIME, path, required=False)
        if text is not None:
            tpath = f"{a_path}[@name='{_A_TIME}']"
            t = self.json_entry(text, tpath, {"coarse_octets": int, "fine_octets": int, "epoch": str, "scale": str})
            if t.get("code", "CUC") != "CUC":
                raise XtceError(f"{tpath}/code", t.get("code"), "CUC")
            out["time"] = self.build(tpath, lambda: TimeSettings(
                coarse_octets=t["coarse_octets"], fine_octets=t["fine_octets"], epoch=t["epoch"], scale=t["scale"]))
        text = self.one_ancillary(root, _A_LINK, path, required=False)
        if text is not None:
            out["link"] = self.link(text, f"{a_path}[@name='{_A_LINK}']")
        text = self.one_ancillary(root, _A_EVENT_APID, path, required=False)
        if text is not None:
            out["event_apid"] = self.integer(text, f"{a_path}[@name='{_A_EVENT_APID}']")
        text = self.one_ancillary(root, _A_FINGERPRINT, path, required=False)
        if text is not None:
            out["fingerprint_parameter"] = text
        return out

    def link(self, text: str, path: str) -> LinkSettings:
        obj = self.json_entry(text, path, {"downlink": dict, "uplink": dict})
        down = dict(self.json_entry(json.dumps(obj["downlink"]), f"{path}/downlink", {"virtual_channels": list}))
        channels = []
        for vc in down.pop("virtual_channels"):
            v = self.json_entry(json.dumps(vc), f"{path}/downlink/virtual_channels",
                                {"vcid": int, "name": str, "priority": int, "apids": list})
            channels.append(self.build(f"{path}/downlink/virtual_channels", lambda: VirtualChannel(
                vcid=v["vcid"], name=v["name"], priority=v["priority"], apids=tuple(v["apids"]),
                description=v.get("description", ""))))
        downlink = self.build(f"{path}/downlink", lambda: DownlinkSettings(**down, virtual_channels=tuple(channels)))
        uplink = self.build(f"{path}/uplink", lambda: UplinkSettings(**obj["uplink"]))
        return LinkSettings(downlink=downlink, uplink=uplink)

    # ---------------------------------------------------------------- all
    def dictionary(self) -> MissionDictionary:
        a_path = "SpaceSystem/AncillaryDataSet/AncillaryData"
        scid_text = self.one_ancillary(self.root, _A_SCID, "SpaceSystem", required=True) or ""
        scid = self.integer(scid_text, f"{a_path}[@name='{_A_SCID}']")
        name = self.one_ancillary(self.root, _A_MISSION, "SpaceSystem", required=False)
        if name is None:
            name = self.attr(self.root, "name", "SpaceSystem")
        commands, telemetry = self.commands(), self.telemetry()
        events, onboard, settings = self.events(), self.onboard(), self.settings()
        return self.build("SpaceSystem", lambda: MissionDictionary(
            name=name, scid=scid, commands=commands, telemetry=telemetry, events=events, onboard_parameters=onboard,
            **settings))
