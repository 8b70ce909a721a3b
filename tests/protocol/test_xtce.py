"""XTCE 1.2 export/import: valid against OMG's schema, read by space_packet_parser like we read our packets, round trip.

The schema is the copy of OMG's SpaceSystem.xsd that the space_packet_parser wheel ships (see
tests/data/xtce/README.md for why it is not copied here); the packets come from the real on-board software.
"""

from __future__ import annotations

import importlib.resources
import io
import struct
import warnings
import xml.etree.ElementTree as ET
from functools import cache
from typing import Any

import pytest
import space_packet_parser as spp
import xmlschema

from protocol.crc import crc16
from protocol.errors import LocalProtocolError, RemoteProtocolError
from protocol.mission import (
    MISSION,
    Argument,
    Command,
    EventDefinition,
    Fixed,
    Limits,
    MissionDictionary,
    OnboardParameter,
    Parameter,
    Polynomial,
    Severity,
    States,
    TelemetryPacket,
)
from protocol.pus import BodyOptions, PusTc, PusTm, decode_body
from protocol.timecode import CucTime
from protocol.xtce import XTCE_NS, XtceError, from_xtce, to_xtce
from spacecraft.onboard import OnboardComputer, OnboardConfig

BOOT_TAI_S = 2_000_000_000.0
NS = {"x": XTCE_NS}


@cache
def schema() -> xmlschema.XMLSchema:
    """OMG's XTCE 1.2 SpaceSystem.xsd, as bundled (unmodified) in the space_packet_parser wheel."""
    path = importlib.resources.files("space_packet_parser.xtce") / "schemas" / "SpaceSystem.xsd"
    root = ET.parse(str(path)).getroot()
    assert (root.get("targetNamespace"), root.get("version")) == (XTCE_NS, "1.2"), "not the XTCE 1.2 schema"
    return xmlschema.XMLSchema(str(path))


@cache
def export() -> str:
    return to_xtce(MISSION)


@cache
def definition() -> spp.XtcePacketDefinition:
    return spp.XtcePacketDefinition.from_xtce(io.BytesIO(export().encode()))


def peer_decode(packet: bytes) -> Any:
    """space_packet_parser's reading of one packet, any leftover or missing bit an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return definition().parse_bytes(packet)


def f32(x: float) -> float:
    return struct.unpack(">f", struct.pack(">f", x))[0]


def same_value(ours: int | float | str, theirs: Any) -> bool:
    """Equal engineering values: strings (state names) exactly, numbers as float32 values."""
    if isinstance(ours, str):
        return isinstance(theirs, str) and str(theirs) == ours
    return f32(float(ours)) == f32(float(theirs))


def assert_same_header(packet: bytes, theirs: Any) -> None:
    tm = MISSION.decode_tm(packet).tm
    assert (theirs["CCSDS_APID"], theirs["PUS_TM_SERVICE"], theirs["PUS_TM_SUBTYPE"]) == (tm.apid, tm.service,
                                                                                          tm.subtype)
    assert theirs["CCSDS_SEQUENCE_COUNT"] == tm.sequence_count
    assert theirs["PUS_TM_MESSAGE_TYPE_COUNTER"] == tm.message_type_counter
    assert float(theirs["PUS_TM_TIME"]) == pytest.approx(float(tm.time.tai_s), abs=2 ** -16)
    assert theirs["PUS_PEC"] == crc16(packet[:-2])


@pytest.fixture(scope="module")
def obc() -> OnboardComputer:
    """The on-board software (ADCS simulated, so HK_ADCS carries real values), 30 s after boot."""
    computer = OnboardComputer(OnboardConfig(adcs=True), boot_tai_s=BOOT_TAI_S)
    computer.advance(BOOT_TAI_S + 30.0)
    return computer


def stored(obc: OnboardComputer) -> list[bytes]:
    return [r.data for r in obc.store.records()]


# ---------------------------------------------------------------- the schema

def test_the_export_validates_against_the_xtce_1_2_schema() -> None:
    errors = list(schema().iter_errors(export()))
    assert not errors, "\n".join(f"{e.path}: {e.reason}" for e in errors[:10])
    root = ET.fromstring(export())
    assert root.tag == f"{{{XTCE_NS}}}SpaceSystem"
    name = root.get("name") or ""
    assert name and not any(ch in name for ch in " ./:[]")


def test_space_packet_parser_finds_every_telemetry_reference() -> None:
    # Its structural check resolves containerRef among SequenceContainers only, so the one complaint it may
    # have is the commands' BaseContainer pointing at the CommandContainer of the base meta-command PUS_TC.
    result = spp.validate_xtce(io.BytesIO(export().encode()), raise_on_error=False)
    others = [e for e in result.errors if "'PUS_TC'" not in e.message]
    assert not others, "\n".join(str(e) for e in others[:10])


def test_every_packet_is_a_container_of_its_parameters_then_the_pec() -> None:
    root = ET.fromstring(export())
    for tm in MISSION.packets.values():
        c = root.find(f".//x:ContainerSet/x:SequenceContainer[@name='{tm.name}']", NS)
        assert c is not None, tm.name
        refs = [e.get("parameterRef") for e in c.find("x:EntryList", NS)]
        assert refs[-1] == "PUS_PEC"
        assert refs[:len(tm.parameters)] == [p.name for p in tm.parameters]


# ---------------------------------------------------------------- an independent decoder

def test_space_packet_parser_decodes_housekeeping_as_we_do(obc: OnboardComputer) -> None:
    seen: set[str] = set()
    for sid in sorted(tm.sid for tm in MISSION.packets.values() if tm.sid is not None):
        obc.send_hk(sid)
    for packet in stored(obc):
        ours = MISSION.decode_tm(packet)
        if ours.tm.service != 3:
            continue
        theirs = peer_decode(packet)
        assert_same_header(packet, theirs)
        assert theirs["PUS_HK_SID"] == MISSION.packets[ours.name].sid
        for sample in ours.parameters:
            value = theirs[sample.name]
            assert value.raw_value == sample.raw, sample.name
            assert same_value(sample.engineering, value), (sample.name, sample.engineering, value)
        seen.add(ours.name)
    assert seen == {"HK_POWER", "HK_THERMAL", "HK_OBC", "HK_ADCS"}


def test_every_packet_the_spacecraft_stored_decodes(obc: OnboardComputer) -> None:
    options = BodyOptions(parameter_octets=MISSION.parameter_octets(), time_config=MISSION.time_config)
    kinds = set()
    for packet in stored(obc):
        theirs = peer_decode(packet)
        assert_same_header(packet, theirs)
        tm = MISSION.decode_tm(packet).tm
        kinds.add((tm.service, tm.subtype))
        if (tm.service, tm.subtype) == (9, 2):  # the time report: its own time field, with P-field
            body = decode_body(tm, options=options)
            assert theirs["PUS_TIME_RATE_EXPONENT"] == body.rate_exponent
            assert float(theirs["PUS_TIME_REPORT_TIME"]) == pytest.approx(float(body.time.tai_s), abs=2 ** -16)
        if (tm.service, tm.subtype) == (15, 130):  # the store status: totals as fields, entries as octets
            body = decode_body(tm, options=options)
            assert (theirs["PUS_STORE_USED_OCTETS"], theirs["PUS_STORE_CAPACITY_OCTETS"],
                    theirs["PUS_STORE_COUNT"]) == (body.used_octets, body.capacity_octets, len(body.applications))
            assert len(bytes(theirs["PUS_STORE_APPLICATIONS"])) == 10 * len(body.applications)
    assert {(3, 25), (5, 1), (9, 2), (15, 130)} <= kinds


def test_space_packet_parser_decodes_an_event_with_its_auxiliary_fields(obc: OnboardComputer) -> None:
    packets = [p for p in stored(obc) if MISSION.decode_tm(p).name == "EVENT"]
    assert packets, "the boot event is stored"
    for packet in packets:
        ours = MISSION.decode_tm(packet)
        theirs = peer_decode(packet)
        assert_same_header(packet, theirs)
        assert theirs["PUS_EVENT_ID"] == ours.event_id
        assert ours.event_values, "the boot event has auxiliary data"
        for sample in ours.event_values:
            value = theirs[f"{ours.event.name}_{sample.name}"]
            assert value.raw_value == sample.raw
            assert same_value(sample.engineering, value)


def test_an_undeclared_event_and_image_parts_decode_too() -> None:
    time = CucTime.from_tai_s(BOOT_TAI_S + 0.5, config=MISSION.time_config)
    event = PusTm(apid=MISSION.event_apid, service=5, subtype=2, time=time,
                  source_data=(0x7777).to_bytes(2, "big") + b"aux").encode()
    theirs = peer_decode(event)
    assert (theirs["PUS_EVENT_ID"], bytes(theirs["PUS_EVENT_AUX_DATA"])) == (0x7777, b"aux")
    decl = next(tm for tm in MISSION.packets.values() if tm.tail)
    for subtype in decl.subtypes:
        raw = {p.name: i + subtype for i, p in enumerate(decl.parameters)}
        packet = PusTm(apid=decl.apid, service=decl.service, subtype=subtype, time=time,
                       source_data=decl.encode(raw, tail=bytes(range(100)))).encode()
        theirs = peer_decode(packet)
        assert_same_header(packet, theirs)
        assert {name: theirs[name] for name in raw} == raw
        assert bytes(theirs[decl.tail]) == MISSION.decode_tm(packet).data == bytes(range(100))


def test_space_packet_parser_decodes_verification_and_parameter_reports() -> None:
    obc = OnboardComputer(OnboardConfig(), boot_tai_s=BOOT_TAI_S)  # no ADCS: REPORT_HK of SID 4 fails to start
    obc.dispatcher.receive(MISSION.command("PING").to_tc({}, sequence_count=5).encode())
    obc.dispatcher.receive(MISSION.command("REPORT_PARAMETER").to_tc({"PARAMETER_ID": "HEATER_SETPOINT"},
                                                                     sequence_count=6).encode())
    obc.dispatcher.receive(MISSION.command("REPORT_HK").to_tc({"SID": "ADCS"}, sequence_count=7).encode())
    options = BodyOptions(parameter_octets=MISSION.parameter_octets(), time_config=MISSION.time_config)
    kinds = set()
    for packet in stored(obc):
        ours = MISSION.decode_tm(packet)
        theirs = peer_decode(packet)
        assert_same_header(packet, theirs)
        kinds.add((ours.tm.service, ours.tm.subtype))
        if ours.tm.service == 1:
            rid = decode_body(ours.tm, options=options).request_id
            assert (theirs["PUS_REQUEST_APID"], theirs["PUS_REQUEST_SEQUENCE_COUNT"]) == (rid.apid, rid.sequence_count)
            if ours.tm.subtype == 4:
                failure = decode_body(ours.tm, options=options).failure
                assert str(theirs["PUS_FAILURE_CODE"]) == failure.code.name
                assert bytes(theirs["PUS_FAILURE_DATA"]) == failure.data
        if (ours.tm.service, ours.tm.subtype) == (20, 2):
            (sample,) = ours.parameters
            assert theirs[sample.name].raw_value == sample.raw
            assert same_value(sample.engineering, theirs[sample.name])
    assert {(1, 1), (1, 3), (1, 7), (1, 4), (17, 2), (20, 2)} <= kinds


# ---------------------------------------------------------------- commands

def _encode_with_xtce(root: ET.Element, name: str, values: dict[str, int | float]) -> bytes:
    """A TC's octets as the XTCE meta-command describes them (a minimal XTCE command encoder: integer, float and
    enumerated arguments, fixed values, one level of BaseMetaCommand)."""
    commands = {mc.get("name"): mc for mc in root.find("x:CommandMetaData/x:MetaCommandSet", NS)}
    types = {t.get("name"): t for t in root.find("x:CommandMetaData/x:ArgumentTypeSet", NS)}
    mc = commands[name]
    base = commands[mc.find("x:BaseMetaCommand", NS).get("metaCommandRef")]
    args = {a.get("name"): a for m in (base, mc) for a in m.findall("x:ArgumentList/x:Argument", NS)}
    given = {a.get("argumentName"): int(a.get("argumentValue"))
             for a in mc.findall("x:BaseMetaCommand/x:ArgumentAssignmentList/x:ArgumentAssignment", NS)}
    bits = ""
    for m in (base, mc):
        for entry in m.find("x:CommandContainer/x:EntryList", NS):
            if entry.tag.endswith("FixedValueEntry"):
                size = int(entry.get("sizeInBits"))
                bits += format(int(entry.get("binaryValue"), 16), f"0{size}b")
                continue
            arg = args[entry.get("argumentRef")]
            value = values.get(arg.get("name"), given.get(arg.get("name")))
            if value is None:
                value = arg.get("initialValue")
            t = types[arg.get("argumentTypeRef")]
            enc = t.find("x:IntegerDataEncoding", NS)
            if enc is None:
                enc = t.find("x:FloatDataEncoding", NS)
                size = int(enc.get("sizeInBits"))
                octets = struct.pack(">f" if size == 32 else ">d", float(value))
                bits += "".join(format(b, "08b") for b in octets)
                continue
            size = int(enc.get("sizeInBits"))
            terms = {int(term.get("exponent")): float(term.get("coefficient"))
                     for term in enc.findall("x:DefaultCalibrator/x:PolynomialCalibrator/x:Term", NS)}
            if terms:  # a calibrated argument: the wire carries the inverse of the (linear) calibrator
                value = round((float(value) - terms.get(0, 0.0)) / terms[1])
            if t.tag.endswith("EnumeratedArgumentType") and isinstance(value, str) and not value.lstrip("-").isdigit():
                value = next(int(e.get("value")) for e in t.findall("x:EnumerationList/x:Enumeration", NS)
                             if e.get("label") == value)
            bits += format(int(value) & ((1 << size) - 1), f"0{size}b")
    assert len(bits) % 8 == 0
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def test_every_meta_command_encodes_the_octets_of_the_command() -> None:
    root = ET.fromstring(export())
    for cmd in MISSION.commands.values():
        values = {a.name: (next(iter(a.enum)) if a.enum else a.default if a.default is not None else a.bounds[1])
                  for a in cmd.arguments}
        ours = cmd.to_tc(values, sequence_count=0).encode()
        theirs = _encode_with_xtce(root, cmd.name, values)
        # the ground fills in the length (octets 4-5) and appends the PEC; the rest is the meta-command's
        assert theirs[:4] + theirs[6:] == ours[:4] + ours[6:-2], cmd.name
        assert len(theirs) == len(ours) - 2


# ---------------------------------------------------------------- round trip

def test_import_of_the_export_is_the_same_dictionary() -> None:
    imported = from_xtce(export())
    assert imported.to_json() == MISSION.to_json()
    assert to_xtce(imported) == export()
    assert from_xtce(export().encode()).to_json() == MISSION.to_json()  # bytes too


def _edge_dictionary() -> MissionDictionary:
    """Declarations at the edges of what XTCE can carry: 64-bit types, negative fixed values, zero polynomial
    terms, empty limits, an enumerated argument with bounds, float defaults, several subtypes, a tail."""
    hk = TelemetryPacket("HK_EDGE", 0x10, 3, 25, (
        Parameter("BIG", "u64", "count"),
        Parameter("SIGNED_BIG", "i64", "", None, Limits(hard_low=-(1 << 40))),
        Parameter("CUBIC", "i16", "V", Polynomial((0.5, 0.0, 0.0, 1e-9)), Limits()),
        Parameter("WIDE", "f64", "m", None, Limits(-1.5e300, 2.5e-300)),
        Parameter("STATE", "u8", "", States({0: "A", 255: "B C"}), None,
                  "a description longer than eighty characters, so that it goes into LongDescription\nline 2"),
    ), sid=9, description="edges")
    parts = TelemetryPacket("PARTS", 0x31, 140, (1, 3, 7), (Parameter("PART_ID", "u16"),), tail="DATA")
    commands = [
        Command("EDGE", 0x10, 128, 200, (
            Fixed("NEG", "i16", -2), Fixed("BIG_FIXED", "u64", (1 << 64) - 1),
            Argument("E", "u8", enum={"X": 1, "Y": 7}, min=1, max=7, default="Y"),
            Argument("D", "f64", "s", -0.25, 1e9, default=0.1, description="seconds"),
            Argument("U64", "u64"),
        ), "edge command"),
    ]
    events = [EventDefinition(0x0042, "EDGE_EVENT", Severity.HIGH, "text with <markup> & \"quotes\"",
                              (Parameter("LEVEL", "i8", "dB", Polynomial((0.0, 0.5))),))]
    return MissionDictionary(name="edge: mission/name [test]", scid=0x3FF, commands=commands, telemetry=[hk, parts],
                             events=events, onboard_parameters=[OnboardParameter(7, hk.parameters[2], False)],
                             link=MISSION.link, time=MISSION.time, event_apid=0x11)


def test_edge_declarations_round_trip_and_validate() -> None:
    d = _edge_dictionary()
    text = to_xtce(d)
    errors = list(schema().iter_errors(text))
    assert not errors, "\n".join(f"{e.path}: {e.reason}" for e in errors[:10])
    assert from_xtce(text).to_json() == d.to_json()


def test_names_xtce_cannot_carry_are_refused_on_export() -> None:
    d = MissionDictionary(name="x", scid=1, commands=[Command("BAD NAME", 0x10, 17, 1)], telemetry=[], events=[],
                          link=MISSION.link)
    with pytest.raises(LocalProtocolError, match="BAD NAME.*XTCE name"):
        to_xtce(d)


# ---------------------------------------------------------------- bad input

def _edited(old: str, new: str) -> str:
    text = export()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("text, path, expected", [
    ("this is not XML", "document", "well-formed XML"),
    ("<SpaceSystem name='x'/>", "/", "XTCE 1.2 SpaceSystem"),
    (f"<Other xmlns='{XTCE_NS}'/>", "/", "XTCE 1.2 SpaceSystem"),
    ("<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>", "document", "without a DTD"),
], ids=["not-xml", "no-namespace", "no-space-system", "entities"])
def test_what_is_not_an_xtce_space_system_is_refused(text: str, path: str, expected: str) -> None:
    with pytest.raises(XtceError, match=expected) as info:
        from_xtce(text)
    assert info.value.path == path
    assert isinstance(info.value, RemoteProtocolError)


def test_a_parameter_type_that_does_not_exist_is_named() -> None:
    text = _edited('parameterTypeRef="BATTERY_VOLTAGE_Type"', 'parameterTypeRef="NO_SUCH_Type"')
    with pytest.raises(XtceError) as info:
        from_xtce(text)
    assert info.value.path == ("SpaceSystem/TelemetryMetaData/ParameterSet/Parameter[@name='BATTERY_VOLTAGE']"
                               "/@parameterTypeRef")
    assert "'NO_SUCH_Type'" in str(info.value) and "ParameterTypeSet" in str(info.value)


@pytest.mark.parametrize("old, new, where, expected", [
    ('<ParameterRefEntry parameterRef="BATTERY_SOC" />', '<ParameterRefEntry parameterRef="NOPE" />',
     "EntryList/ParameterRefEntry/@parameterRef", "the name of a parameter"),
    ('<AncillaryData name="ttc.spacecraft-id">42</AncillaryData>', "",
     "AncillaryData[@name='ttc.spacecraft-id']", "exactly one"),
    ('<IntegerDataEncoding sizeInBits="16" encoding="unsigned" byteOrder="mostSignificantByteFirst">\n'
     '          <DefaultCalibrator>',
     '<IntegerDataEncoding sizeInBits="12" encoding="unsigned" byteOrder="mostSignificantByteFirst">\n'
     '          <DefaultCalibrator>', "IntegerDataEncoding/@sizeInBits", "8, 16, 32 or 64"),
    ('<ArgumentRefEntry argumentRef="SID" />', '<ArgumentRefEntry argumentRef="SIDE" />',
     "ArgumentRefEntry/@argumentRef", "an argument of ENABLE_HK"),
    ('<Term coefficient="0.001" exponent="1" />', '<Term coefficient="milli" exponent="1" />',
     "Term/@coefficient", "a number"),
    ('argumentTypeRef="ENABLE_HK_SID_ArgType"', 'argumentTypeRef="ENABLE_HK_SID_Type"', "@argumentTypeRef",
     "ArgumentTypeSet"),
    ('<WarningRange minInclusive="6.8"', '<WarningRange minExclusive="6.8"', "WarningRange/@minExclusive",
     "minInclusive"),
], ids=["entry", "scid", "size", "argument-ref", "coefficient", "argument-type", "exclusive-limit"])
def test_bad_documents_name_the_path_and_what_was_expected(old: str, new: str, where: str, expected: str) -> None:
    with pytest.raises(XtceError, match=expected) as info:
        from_xtce(_edited(old, new))
    assert info.value.path.startswith("SpaceSystem") and info.value.path.endswith(where), info.value.path


def test_a_duplicate_declaration_is_the_documents_fault() -> None:
    text = _edited('<SequenceContainer name="HK_THERMAL"', '<SequenceContainer name="HK_POWER"')
    with pytest.raises(XtceError, match="unique names"):
        from_xtce(text)


def test_every_import_error_is_typed() -> None:
    # cut the document at many places: whatever is left is refused with an XtceError, never another exception
    text = export()
    for cut in range(0, len(text), 997):
        with pytest.raises(XtceError):
            from_xtce(text[:cut])


def test_a_missing_element_or_attribute_is_an_xtce_error_or_harmless() -> None:
    # drop every 23rd element, and the attributes of every 23rd element: an XtceError or a dictionary, nothing else
    count = sum(1 for _ in ET.fromstring(export()).iter())
    for index in range(1, count, 23):
        for what in ("element", "attributes"):
            root = ET.fromstring(export())
            parents = {child: parent for parent in root.iter() for child in parent}
            victim = list(root.iter())[index]
            if what == "element":
                parents[victim].remove(victim)
            else:
                victim.attrib.clear()
            try:
                from_xtce(ET.tostring(root, encoding="unicode"))  # prefixed (ns0:), still XTCE
            except XtceError:
                pass


def test_a_tc_built_from_the_export_is_accepted_on_board() -> None:
    imported = from_xtce(export())
    tc = imported.command("PING").to_tc({}, sequence_count=9)
    assert PusTc.decode(tc.encode()) == MISSION.command("PING").to_tc({}, sequence_count=9)
