"""Every validation rule of the mission dictionary (docs/dictionary.md, step 10), one test each.

Each failing dictionary is a small valid mission (:func:`small_mission`) with
one declaration made wrong. Every test checks the exception type exactly and
that the message names the declaration and field, the bad value and what is
allowed: once built in Python (:class:`DictionaryError`) and once through a
mission document (:class:`MissionFileError`, which also names the file and the
key path).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from protocol.dictionary import (
    Argument,
    Command,
    DictionaryError,
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
from protocol.missionfile import MissionFileError, parse_json

# ------------------------------------------------------------------ a tiny valid mission

APID_OBC = 0x10  # commands, housekeeping and the verification of its commands
APID_EVENTS = 0x11  # event reports
APID_BULK = 0x31  # image parts
APID_SPARE = 0x32  # allocated to the playback VC, nothing sent on it yet

CENTI = Polynomial((0.0, 0.01))


def voltage(*, calibration: Polynomial | States | None = CENTI,
            limits: Limits | None = Limits(6.8, 8.4, 6.4, 8.6)) -> Parameter:
    """The battery voltage: u16 in centivolts, with soft and hard limits in volts."""
    return Parameter("BATTERY_VOLTAGE", "u16", "V", calibration, limits)


def mode(*, limits: Limits | None = None) -> Parameter:
    """A state parameter."""
    return Parameter("MODE", "u8", "", States({0: "SAFE", 1: "NOMINAL"}), limits)


def hk_power(*, name: str = "HK_POWER", apid: int = APID_OBC, sid: int = 1,
             parameters: tuple[Parameter, ...] | None = None, battery: Parameter | None = None) -> TelemetryPacket:
    """TM[3,25] SID 1: voltage, mode and the fingerprint parameter."""
    if parameters is None:
        parameters = (battery or voltage(), mode(), Parameter("DICTIONARY_ID", "u32"))
    return TelemetryPacket(name, apid, 3, 25, parameters, sid)


def image_part(*, apid: int = APID_BULK) -> TelemetryPacket:
    """TM[13,1..3] with its image data as the tail."""
    return TelemetryPacket("IMAGE_PART", apid, 13, (1, 2, 3),
                           (Parameter("IMAGE_ID", "u16"), Parameter("IMAGE_PART_NUMBER", "u16")), tail="IMAGE_DATA")


def heater_value(**changes: Any) -> Argument:
    """A calibrated argument: degC typed by the operator, centi-degC on the wire."""
    spec: dict[str, Any] = dict(name="VALUE", type="i16", unit="degC", min=-40, max=60, calibration=CENTI)
    spec.update(changes)
    return Argument(**spec)


def event_id(**changes: Any) -> Argument:
    """The argument of TC[5,5]."""
    spec: dict[str, Any] = dict(name="EVENT_ID")
    spec.update(changes)
    return Argument(**spec)


PING = Command("PING", APID_OBC, 17, 1, description="are-you-alive test")
ENABLE_EVENT = Command("ENABLE_EVENT", APID_OBC, 5, 5, pus={"id": event_id()})
SET_HEATER = Command("SET_HEATER_SETPOINT", APID_OBC, 20, 3, (heater_value(),), pus={"parameter_id": 0x0101})
BOOT = EventDefinition(0x0001, "BOOT", Severity.INFO, "software started", (Parameter("REBOOT_COUNT", "u16"),))
HEATER_SETPOINT = OnboardParameter(0x0101, Parameter("HEATER_SETPOINT", "i16", "degC", CENTI))


def channels(*, priorities: tuple[int, int, int] = (0, 1, 2)) -> tuple[VirtualChannel, ...]:
    """One VC per kind of traffic, every APID on exactly one."""
    return (VirtualChannel(0, "REALTIME", priorities[0], (APID_OBC,)),
            VirtualChannel(1, "EVENTS", priorities[1], (APID_EVENTS,)),
            VirtualChannel(2, "PLAYBACK", priorities[2], (APID_BULK, APID_SPARE)))


def small_mission(**changes: Any) -> MissionDictionary:
    """A small valid mission; ``changes`` replace its declarations (MissionDictionary's keywords)."""
    declarations: dict[str, Any] = dict(
        name="TINY", scid=0x42, commands=[PING, ENABLE_EVENT, SET_HEATER], telemetry=[hk_power(), image_part()],
        events=[BOOT], onboard_parameters=[HEATER_SETPOINT],
        link=LinkSettings(downlink=DownlinkSettings(virtual_channels=channels()), uplink=UplinkSettings()),
        time=TimeSettings(), event_apid=APID_EVENTS, fingerprint_parameter="DICTIONARY_ID")
    declarations.update(changes)
    return MissionDictionary(**declarations)


# ------------------------------------------------------------------ how a refusal must read

def refused(make: Callable[[], object], *, where: str, shown: str, allowed: str) -> DictionaryError:
    """``make()`` raises exactly DictionaryError: its field names ``where``, it says ``is {shown}``, ``allowed``."""
    with pytest.raises(DictionaryError) as info:
        make()
    err = info.value
    assert type(err) is DictionaryError
    text = str(err)
    assert where in err.field, text
    assert allowed in err.allowed, text
    assert f"{where}" in text and f" is {shown}" in text and f"allowed {allowed}" in text, text
    return err


def document() -> dict[str, Any]:
    """The small mission as a JSON document (without its stated fingerprint: the documents below are edited)."""
    doc = small_mission().to_json()
    del doc["fingerprint"]
    return doc


def line_of(text: str, name: str) -> int:
    """The line of ``"name": "<name>"`` in a JSON text (the names of the small mission are unique)."""
    needle = f'"name": "{name}"'
    assert text.count(needle) == 1, needle
    return text[:text.index(needle)].count("\n") + 1


def file_refused(mutate: Callable[[dict[str, Any]], object], *, path: str, shown: str, allowed: str,
                 field: str = "", declared: str | None = None) -> MissionFileError:
    """The document edited by ``mutate`` raises exactly MissionFileError naming file, key path, value, allowed.

    ``field`` is the schema's name of the field (the DictionaryError's, in the
    message's detail); ``declared`` the name of the declaration whose line the
    message must give.
    """
    doc = document()
    mutate(doc)
    text = json.dumps(doc, indent=2)
    with pytest.raises(MissionFileError) as info:
        parse_json(text, source="tiny.json")
    err = info.value
    assert type(err) is MissionFileError
    message = str(err)
    assert message.startswith("tiny.json"), message
    assert path in err.path, message
    assert f" is {shown}" in message and f"allowed {allowed}" in message, message
    assert field in message, message
    if declared is not None:
        assert err.line == line_of(text, declared), message
        assert f"tiny.json line {err.line}:" in message
    return err


# ------------------------------------------------------------------ the valid mission and its fingerprint

def test_the_small_mission_builds_and_its_fingerprint_follows_every_declaration() -> None:
    base = small_mission()
    assert base.vc_of(APID_EVENTS) == 1 and base.event_apid == APID_EVENTS
    again = small_mission()
    assert again.fingerprint == base.fingerprint and again.to_json() == base.to_json()
    assert base.to_json()["fingerprint"] == f"{base.fingerprint:08X}" and 0 <= base.fingerprint < 1 << 32
    variants = {
        "a calibration coefficient": small_mission(telemetry=[
            hk_power(battery=voltage(calibration=Polynomial((0.0, 0.011)))), image_part()]),
        "a limit": small_mission(telemetry=[
            hk_power(battery=voltage(limits=Limits(6.8, 8.4, 6.4, 8.7))), image_part()]),
        "an APID": small_mission(telemetry=[hk_power(), image_part(apid=APID_SPARE)]),
        "a VC priority": small_mission(link=LinkSettings(downlink=DownlinkSettings(
            virtual_channels=channels(priorities=(0, 2, 1))))),
    }
    prints = {what: m.fingerprint for what, m in variants.items()}
    for what, fingerprint in prints.items():
        assert fingerprint != base.fingerprint, f"changing {what} left the fingerprint {fingerprint:08X}"
    assert len(set(prints.values())) == len(prints)


# ------------------------------------------------------------------ names and IDs

def test_duplicate_command_name() -> None:
    twin = Command("PING", APID_OBC, 17, 1, description="a second PING")
    refused(lambda: small_mission(commands=[PING, ENABLE_EVENT, SET_HEATER, twin]),
            where="command name", shown="'PING'", allowed="unique names")
    file_refused(lambda d: d["commands"].append(dict(d["commands"][0])),
                 path="", shown="'PING'", allowed="unique names", field="command name")


def test_duplicate_telemetry_key() -> None:
    same_key = hk_power(name="HK_OTHER", parameters=(Parameter("OTHER", "u8"),))  # APID 0x10, TM[3,25], SID 1
    refused(lambda: small_mission(telemetry=[hk_power(), image_part(), same_key]),
            where="telemetry HK_OTHER key", shown="'SID 1'",
            allowed="unique (APID, service, subtype, SID): HK_POWER has it")

    def mutate(d: dict[str, Any]) -> None:
        d["telemetry"].append({**d["telemetry"][0], "name": "HK_OTHER",
                               "parameters": [{"name": "OTHER", "type": "u8"}]})
    file_refused(mutate, path="", shown="'SID 1'", allowed="unique (APID, service, subtype, SID): HK_POWER has it",
                 field="telemetry HK_OTHER key")


def test_duplicate_parameter_name_across_packets() -> None:
    second = hk_power(name="HK_OTHER", sid=2, parameters=(Parameter("BATTERY_VOLTAGE", "u8"),))
    refused(lambda: small_mission(telemetry=[hk_power(), image_part(), second]),
            where="telemetry HK_OTHER parameter name", shown="'BATTERY_VOLTAGE'",
            allowed="unique names across the dictionary")

    def mutate(d: dict[str, Any]) -> None:
        d["telemetry"].append({**d["telemetry"][0], "name": "HK_OTHER", "sid": 2,
                               "parameters": [{"name": "BATTERY_VOLTAGE", "type": "u8"}]})
    file_refused(mutate, path="", shown="'BATTERY_VOLTAGE'", allowed="unique names across the dictionary",
                 field="telemetry HK_OTHER parameter name")


def test_duplicate_event_id() -> None:
    clash = EventDefinition(0x0001, "SAFE_MODE", Severity.HIGH, "entered safe mode")
    refused(lambda: small_mission(events=[BOOT, clash]),
            where="event SAFE_MODE ID", shown="'0x0001'", allowed="unique event IDs: BOOT has it")
    file_refused(lambda d: d["events"].append({"id": 1, "name": "SAFE_MODE", "severity": "HIGH"}),
                 path="", shown="'0x0001'", allowed="unique event IDs: BOOT has it", field="event SAFE_MODE ID")


def test_duplicate_event_name() -> None:
    clash = EventDefinition(0x0002, "BOOT", Severity.LOW, "booted again")
    refused(lambda: small_mission(events=[BOOT, clash]), where="event name", shown="'BOOT'", allowed="unique names")
    file_refused(lambda d: d["events"].append({"id": 2, "name": "BOOT", "severity": "LOW"}),
                 path="", shown="'BOOT'", allowed="unique names", field="event name")


def test_duplicate_onboard_parameter_id() -> None:
    clash = OnboardParameter(0x0101, Parameter("BATTERY_LOW_THRESHOLD", "u8", "%"))
    refused(lambda: small_mission(onboard_parameters=[HEATER_SETPOINT, clash]),
            where="on-board parameter BATTERY_LOW_THRESHOLD ID", shown="257 (0x101)",
            allowed="unique IDs: HEATER_SETPOINT has it")
    file_refused(lambda d: d["onboard_parameters"].append({"id": 0x0101, "name": "BATTERY_LOW_THRESHOLD",
                                                           "type": "u8"}),
                 path="", shown="257 (0x101)", allowed="unique IDs: HEATER_SETPOINT has it",
                 field="on-board parameter BATTERY_LOW_THRESHOLD ID")


# ------------------------------------------------------------------ virtual channels

def test_an_apid_on_two_virtual_channels() -> None:
    both = (VirtualChannel(0, "REALTIME", 0, (APID_OBC,)), VirtualChannel(1, "EVENTS", 1, (APID_EVENTS, APID_OBC)))
    err = refused(lambda: DownlinkSettings(virtual_channels=both), where="virtual channel EVENTS APID",
                  shown="16 (0x10)", allowed="an APID on one VC only (0x010 is on REALTIME already)")
    assert "sequence count" in str(err)  # and why
    file_refused(lambda d: d["link"]["downlink"]["virtual_channels"][1]["apids"].append(APID_OBC),
                 path="link.downlink", shown="16 (0x10)", allowed="an APID on one VC only (0x010 is on REALTIME",
                 field="virtual channel EVENTS APID")


@pytest.mark.parametrize("what, change, where, shown, edit", [
    ("telemetry", dict(telemetry=[hk_power(), image_part(apid=0x40)]),
     "APID 0x040 of telemetry IMAGE_PART", "64 (0x40)", lambda d: d["telemetry"][1].update(apid=0x40)),
    ("command verification", dict(commands=[PING, ENABLE_EVENT, SET_HEATER, Command("CAM_PING", 0x41, 17, 1)]),
     "APID 0x041 of command CAM_PING (its TM[1,x] verification reports)", "65 (0x41)",
     lambda d: d["commands"].append({**d["commands"][0], "name": "CAM_PING", "apid": 0x41})),
    ("event_apid", dict(event_apid=0x12), "APID 0x012 of event reports", "18 (0x12)",
     lambda d: d.update(event_apid=0x12)),
])
def test_an_apid_the_spacecraft_sends_on_without_a_virtual_channel(what: str, change: dict[str, Any], where: str,
                                                                  shown: str, edit: Callable[[dict], None]) -> None:
    err = refused(lambda: small_mission(**change), where=where, shown=shown,
                  allowed="an APID allocated to a downlink virtual channel")
    assert "allocated: 0x010, 0x011, 0x031, 0x032" in str(err)  # and the APIDs that have one
    file_refused(edit, path="", shown=shown, allowed="an APID allocated to a downlink virtual channel", field=where)


def test_duplicate_vcid() -> None:
    twins = (VirtualChannel(0, "REALTIME", 0, (APID_OBC,)), VirtualChannel(0, "EVENTS", 1, (APID_EVENTS,)))
    refused(lambda: DownlinkSettings(virtual_channels=twins), where="virtual channel EVENTS VCID", shown="0",
            allowed="unique VCIDs")
    file_refused(lambda d: d["link"]["downlink"]["virtual_channels"][1].update(vcid=0),
                 path="link.downlink", shown="0", allowed="unique VCIDs", field="virtual channel EVENTS VCID")


def test_vcid_over_7() -> None:
    refused(lambda: VirtualChannel(8, "PLAYBACK", 2, (APID_BULK,)), where="virtual channel PLAYBACK VCID",
            shown="8", allowed="0..7")
    file_refused(lambda d: d["link"]["downlink"]["virtual_channels"][2].update(vcid=8),
                 path="link.downlink.virtual_channels[2]", shown="8", allowed="0..7",
                 field="virtual channel PLAYBACK VCID", declared="PLAYBACK")


# ------------------------------------------------------------------ parameters: limits and calibration

def test_a_limit_outside_what_the_type_carries_after_calibration() -> None:
    refused(lambda: voltage(limits=Limits(hard_high=700)), where="parameter BATTERY_VOLTAGE limits.hard_high",
            shown="700 (0x2BC)", allowed="0..655.35 V (what u16 can carry after calibration)")
    file_refused(lambda d: d["telemetry"][0]["parameters"][0]["limits"].update(hard_high=700),
                 path="telemetry[0].parameters[0]", shown="700 (0x2BC)",
                 allowed="0..655.35 V (what u16 can carry after calibration)",
                 field="parameter BATTERY_VOLTAGE limits.hard_high", declared="BATTERY_VOLTAGE")


@pytest.mark.parametrize("limits, key, shown, allowed", [
    (Limits(6.8, 8.9, 6.4, 8.6), "soft_high", "8.9", "<= hard_high (8.6)"),
    (Limits(6.2, 8.4, 6.4, 8.6), "hard_low", "6.4", "<= soft_low (6.2)"),
])
def test_a_soft_limit_outside_the_hard_ones(limits: Limits, key: str, shown: str, allowed: str) -> None:
    refused(lambda: voltage(limits=limits), where=f"parameter BATTERY_VOLTAGE limits.{key}", shown=shown,
            allowed=allowed)
    file_refused(lambda d: d["telemetry"][0]["parameters"][0].update(limits={
        "soft_low": limits.soft_low, "soft_high": limits.soft_high, "hard_low": limits.hard_low,
        "hard_high": limits.hard_high}),
        path="telemetry[0].parameters[0]", shown=shown, allowed=allowed,
        field=f"parameter BATTERY_VOLTAGE limits.{key}", declared="BATTERY_VOLTAGE")


def test_limits_on_a_state_parameter() -> None:
    refused(lambda: mode(limits=Limits(hard_high=1)), where="parameter MODE limits",
            shown="'limits on a state parameter'", allowed="limits only on numeric parameters")
    file_refused(lambda d: d["telemetry"][0]["parameters"][1].update(limits={"hard_high": 1}),
                 path="telemetry[0].parameters[1]", shown="'limits on a state parameter'",
                 allowed="limits only on numeric parameters", field="parameter MODE limits", declared="MODE")


@pytest.mark.parametrize("coefficients", [(0.0, 1.0, -0.001), (5.0,), (5.0, 0.0)],
                         ids=["turns-back-at-raw-500", "constant", "zero-slope"])
def test_a_calibration_polynomial_not_monotonic_over_the_raw_range(coefficients: tuple[float, ...]) -> None:
    allowed = "a polynomial monotonic over the raw range 0..65535 of u16"
    err = refused(lambda: voltage(calibration=Polynomial(coefficients), limits=None),
                  where="parameter BATTERY_VOLTAGE calibration", shown=repr(list(coefficients)), allowed=allowed)
    assert "one raw value per engineering value" in str(err)  # and why
    file_refused(lambda d: d["telemetry"][0]["parameters"][0].update(
        calibration={"polynomial": list(coefficients)}, limits=None),
        path="telemetry[0].parameters[0]", shown=repr(list(coefficients)), allowed=allowed,
        field="parameter BATTERY_VOLTAGE calibration", declared="BATTERY_VOLTAGE")


def test_a_calibration_that_turns_back_between_samples() -> None:
    x0 = 1000.5  # p(raw) = (raw - x0)**3 - 3 (raw - x0): falls from raw 1000 (1.375) to raw 1001 (-1.375)
    wiggle = Polynomial((-x0 ** 3 + 3 * x0, 3 * x0 ** 2 - 3, -3 * x0, 1.0))
    assert wiggle(1000) > wiggle(1001) < wiggle(1002)  # not monotonic on the integer raw values
    with pytest.raises(DictionaryError, match="monotonic"):
        voltage(calibration=wiggle, limits=None)


# ------------------------------------------------------------------ command arguments

def test_an_argument_range_outside_its_type() -> None:
    refused(lambda: heater_value(max=400), where="argument VALUE range", shown="'-40..400'",
            allowed="a range inside -327.68..327.67 degC (what i16 carries after calibration)")
    refused(lambda: Argument("EXPOSURE", "u8", "ms", 1, 300), where="argument EXPOSURE range", shown="'1..300'",
            allowed="a range inside 0..255 ms (what u8 carries)")
    file_refused(lambda d: d["commands"][2]["fields"][2].update(max=400), path="commands[2].fields[2]",
                 shown="'-40..400'", allowed="a range inside -327.68..327.67 degC (what i16 carries after calibration)",
                 field="argument VALUE range", declared="SET_HEATER_SETPOINT")


def test_an_enumeration_value_outside_its_type() -> None:
    refused(lambda: Argument("STATE", "u8", enum={"OFF": 0, "ON": 256}), where="argument STATE enum ON",
            shown="256 (0x100)", allowed="0..255 (u8)")
    file_refused(lambda d: d["commands"][1]["fields"][1].update(enum={"BOOT": 1, "FAR": 70000}),
                 path="commands[1].fields[1]", shown="70000 (0x11170)", allowed="0..65535 (u16)",
                 field="argument EVENT_ID enum FAR", declared="ENABLE_EVENT")


@pytest.mark.parametrize("make, edit, shown, allowed", [
    (lambda: heater_value(default=61), lambda f: f.update(default=61), "61 (0x3D)",
     "-40..60 degC (raw:-4000..raw:6000)"),
    (lambda: event_id(type="u16", enum={"BOOT": 1}, default="SHUTDOWN"),
     lambda f: f.update(enum={"BOOT": 1}, default="SHUTDOWN"), "'SHUTDOWN'", "BOOT (1)"),
], ids=["number-outside-range", "label-not-in-enum"])
def test_an_argument_default_outside_its_range(make: Callable[[], Argument], edit: Callable[[dict], None],
                                               shown: str, allowed: str) -> None:
    name = "VALUE" if "raw:" in allowed else "EVENT_ID"
    refused(make, where=f"argument {name} default", shown=shown, allowed=allowed)
    index, command = (2, "SET_HEATER_SETPOINT") if name == "VALUE" else (1, "ENABLE_EVENT")
    file_refused(lambda d: edit(d["commands"][index]["fields"][-1]), path=f"commands[{index}].fields",
                 shown=shown, allowed=allowed, field=f"argument {name} default", declared=command)


# ------------------------------------------------------------------ link and time

def test_a_frame_length_that_is_not_223_times_the_interleave() -> None:
    refused(lambda: DownlinkSettings(frame_len=900, rs_interleave=4, virtual_channels=channels()),
            where="downlink frame_len", shown="900 (0x384)", allowed="892 (RS interleave 4 x 223 octets)")
    file_refused(lambda d: d["link"]["downlink"].update(frame_len=900), path="link.downlink", shown="900 (0x384)",
                 allowed="892 (RS interleave 4 x 223 octets)", field="downlink frame_len")


def test_rs_interleave_9() -> None:
    refused(lambda: DownlinkSettings(frame_len=9 * 223, rs_interleave=9), where="downlink rs_interleave",
            shown="9", allowed="0 (no RS) or 1..8")
    file_refused(lambda d: d["link"]["downlink"].update(frame_len=9 * 223, rs_interleave=9), path="link.downlink",
                 shown="9", allowed="0 (no RS) or 1..8", field="downlink rs_interleave")


def test_an_unknown_frame_kind() -> None:
    refused(lambda: DownlinkSettings(frame_kind="USLP"), where="downlink frame_kind", shown="'USLP'",
            allowed="TM | AOS")
    file_refused(lambda d: d["link"]["downlink"].update(frame_kind="USLP"), path="link.downlink", shown="'USLP'",
                 allowed="TM | AOS", field="downlink frame_kind")


@pytest.mark.parametrize("key, bad, shown, allowed", [
    ("epoch", "2000-01-01T25:00:00", "'2000-01-01T25:00:00'", "an ISO date-time such as 1958-01-01T00:00:00"),
    ("scale", "GPS", "'GPS'", "TAI | UTC"),
])
def test_a_bad_time_epoch_or_scale(key: str, bad: str, shown: str, allowed: str) -> None:
    refused(lambda: TimeSettings(**{key: bad}), where=f"time {key}", shown=shown, allowed=allowed)
    file_refused(lambda d: d["time"].update({key: bad}), path="time", shown=shown, allowed=allowed,
                 field=f"time {key}")


def test_a_spacecraft_id_over_1023() -> None:
    refused(lambda: small_mission(scid=1024), where="spacecraft_id", shown="1024 (0x400)",
            allowed="0..1023 (10 bits in TM and TC frames)")
    file_refused(lambda d: d.update(spacecraft_id=1024), path="", shown="1024 (0x400)",
                 allowed="0..1023 (10 bits in TM and TC frames)", field="spacecraft_id")


# ------------------------------------------------------------------ the fingerprint parameter and events

@pytest.mark.parametrize("change, name", [
    ({}, "NO_SUCH_PARAMETER"),
    ({}, "BATTERY_VOLTAGE"),  # housekeeping, but u16
    ({"onboard_parameters": [HEATER_SETPOINT, OnboardParameter(0x0102, Parameter("CONFIG_ID", "u32"))]},
     "CONFIG_ID"),  # u32, but on board only (service 20), in no housekeeping packet
], ids=["unknown", "u16", "onboard-only"])
def test_a_fingerprint_parameter_that_is_not_a_u32_housekeeping_parameter(change: dict[str, Any], name: str) -> None:
    refused(lambda: small_mission(fingerprint_parameter=name, **change), where="fingerprint_parameter",
            shown=repr(name), allowed="the name of a u32 housekeeping parameter")
    if not change:
        file_refused(lambda d: d.update(fingerprint_parameter=name), path="", shown=repr(name),
                     allowed="the name of a u32 housekeeping parameter", field="fingerprint_parameter")


def test_a_fingerprint_parameter_in_a_report_that_is_not_housekeeping() -> None:
    report = TelemetryPacket("STATUS", APID_OBC, 130, 1, (Parameter("STATUS_ID", "u32"),))  # a mission service
    refused(lambda: small_mission(telemetry=[hk_power(), image_part(), report], fingerprint_parameter="STATUS_ID"),
            where="fingerprint_parameter", shown="'STATUS_ID'", allowed="the name of a u32 housekeeping parameter")


def test_duplicate_event_auxiliary_field_names() -> None:
    refused(lambda: EventDefinition(0x0001, "BOOT", Severity.INFO, "booted",
                                    (Parameter("REBOOT_COUNT", "u16"), Parameter("REBOOT_COUNT", "u8"))),
            where="event BOOT auxiliary field", shown="'REBOOT_COUNT'", allowed="unique names in an event")
    file_refused(lambda d: d["events"][0]["auxiliary"].append({"name": "REBOOT_COUNT", "type": "u8"}),
                 path="events[0]", shown="'REBOOT_COUNT'", allowed="unique names in an event",
                 field="event BOOT auxiliary field", declared="BOOT")


# ------------------------------------------------------------------ gaps: declarations accepted that should not be

def test_a_lower_case_command_name_is_refused_or_found() -> None:
    try:
        mission = small_mission(commands=[Command("ping", APID_OBC, 17, 1), ENABLE_EVENT, SET_HEATER])
    except DictionaryError:
        return  # refusing it is one fix
    assert mission.command("ping").name.upper() == "PING"  # finding it is the other


@pytest.mark.parametrize("make", [
    pytest.param(lambda: hk_power(sid=70000), id="sid-70000-on-u16"),
    pytest.param(lambda: hk_power(sid=-1), id="sid-negative"),
    pytest.param(lambda: Command("X", APID_OBC, 300, 1), id="service-300"),
    pytest.param(lambda: Command("X", APID_OBC, 130, 1, (Fixed("MAGIC", "u16", 70000),)), id="fixed-70000-on-u16"),
    pytest.param(lambda: small_mission(onboard_parameters=[HEATER_SETPOINT,
                                                       OnboardParameter(70000, Parameter("BIG", "u8"))]),
                 id="onboard-id-70000"),
    pytest.param(lambda: voltage(calibration=Polynomial((0.0, float("inf"))), limits=None),
                 id="infinite-coefficient"),
    pytest.param(lambda: TelemetryPacket("EMPTY", APID_OBC, 3, (), (Parameter("A", "u8"),), 9),
                 id="no-subtype"),
])
def test_every_declared_number_fits_its_wire_field(make: Callable[[], object]) -> None:
    with pytest.raises(DictionaryError):
        make()


@pytest.mark.parametrize("make, where, shown, allowed", [
    (lambda: hk_power(sid=70000), "telemetry HK_POWER sid", "70000 (0x11170)", "0..65535 (u16)"),
    (lambda: hk_power(sid=-1), "telemetry HK_POWER sid", "-1", "0..65535 (u16)"),
    (lambda: Command("X", APID_OBC, 300, 1), "command X service", "300 (0x12C)", "0..255"),
    (lambda: Command("X", APID_OBC, 17, 256), "command X subtype", "256 (0x100)", "0..255"),
    (lambda: Command("X", 0x7FF, 17, 1), "command X apid", "2047 (0x7FF)", "0..2046"),
    (lambda: Command("X", APID_OBC, 130, 1, (Fixed("MAGIC", "u16", 70000),)), "fixed field MAGIC value",
     "70000 (0x11170)", "0..65535 (u16)"),
    (lambda: small_mission(onboard_parameters=[HEATER_SETPOINT, OnboardParameter(70000, Parameter("BIG", "u8"))]),
     "on-board parameter BIG ID", "70000 (0x11170)", "0..65535 (u16)"),
    (lambda: voltage(calibration=Polynomial((0.0, float("inf"))), limits=None),
     "parameter BATTERY_VOLTAGE calibration", "[0.0, inf]", "finite coefficients"),
    (lambda: heater_value(calibration=Polynomial((float("nan"), 0.01))), "argument VALUE calibration", "[nan, 0.01]",
     "finite coefficients"),
    (lambda: TelemetryPacket("EMPTY", APID_OBC, 3, (), (Parameter("A", "u8"),), 9), "telemetry EMPTY subtype", "()",
     "a subtype 0..255 or a non-empty list of them"),
    (lambda: TelemetryPacket("PART", APID_BULK, 13, (1, 300), (Parameter("A", "u16"),)), "telemetry PART subtype",
     "300 (0x12C)", "0..255"),
    (lambda: TelemetryPacket("HK", APID_OBC, 256, 25, (Parameter("A", "u8"),), 9), "telemetry HK service",
     "256 (0x100)", "0..255"),
], ids=["sid-70000", "sid-negative", "service-300", "subtype-256", "apid-idle", "fixed-70000", "onboard-id-70000",
        "infinite-coefficient", "nan-argument-coefficient", "no-subtype", "subtype-300", "tm-service-256"])
def test_a_declared_number_outside_its_wire_field_is_named(make: Callable[[], object], where: str, shown: str,
                                                           allowed: str) -> None:
    refused(make, where=where, shown=shown, allowed=allowed)


def test_a_lower_case_name_is_refused_with_the_name_it_should_have() -> None:
    err = refused(lambda: Command("ping", APID_OBC, 17, 1), where="command name", shown="'ping'",
                  allowed="an upper-case name such as 'PING'")
    assert "case-insensitively" in str(err)  # and why
    refused(lambda: Argument("value", "u8"), where="argument name", shown="'value'",
            allowed="an upper-case name such as 'VALUE'")
    refused(lambda: Parameter("battery_voltage", "u16"), where="parameter name", shown="'battery_voltage'",
            allowed="an upper-case name such as 'BATTERY_VOLTAGE'")
    refused(lambda: EventDefinition(0x0900, "boot", Severity.INFO, "started"), where="event name", shown="'boot'",
            allowed="an upper-case name such as 'BOOT'")


def test_the_fingerprint_parameter_refusal_says_why() -> None:
    report = TelemetryPacket("STATUS", APID_OBC, 130, 1, (Parameter("STATUS_ID", "u32"),))
    with pytest.raises(DictionaryError) as info:
        small_mission(telemetry=[hk_power(), image_part(), report], fingerprint_parameter="STATUS_ID")
    assert "STATUS_ID is in STATUS, TM[130,1], not a housekeeping report TM[3,25]" in str(info.value)


@pytest.mark.parametrize("coefficients", [
    (-1000.0 ** 3, 3 * 1000.0 ** 2, -3 * 1000.0, 1.0),  # (raw - 1000)**3: the slope touches 0 at raw 1000 only
    (0.0, 1.0, -1 / 140000),  # turns back at raw 70000, outside u16
    (0.0, 0.01, 0.0, 0.0),  # zero highest coefficients: linear
], ids=["double-root-of-the-slope", "vertex-outside-the-raw-range", "trailing-zeros"])
def test_a_calibration_monotonic_over_the_raw_range_is_accepted(coefficients: tuple[float, ...]) -> None:
    assert voltage(calibration=Polynomial(coefficients), limits=None).calibration == Polynomial(coefficients)


def test_integer_coefficients_are_floats_so_the_fingerprint_does_not_depend_on_how_they_were_written() -> None:
    assert Polynomial((0, 1)).coefficients == (0.0, 1.0)
    assert all(type(k) is float for k in Polynomial((0, 1)).coefficients)
    as_ints = small_mission(telemetry=[hk_power(battery=voltage(calibration=Polynomial((0, 1)), limits=None)),
                                       image_part()])
    as_floats = small_mission(telemetry=[hk_power(battery=voltage(calibration=Polynomial((0.0, 1.0)), limits=None)),
                                         image_part()])
    assert as_ints.to_json() == as_floats.to_json() and as_ints.fingerprint == as_floats.fingerprint
