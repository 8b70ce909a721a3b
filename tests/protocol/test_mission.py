"""The mission dictionary: commands build PUS TCs that the PUS layer reads back, telemetry round trips, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from protocol.mission import (
    MISSION,
    TYPES,
    AlarmLevel,
    Argument,
    Command,
    Fixed,
    Limits,
    Parameter,
    Polynomial,
    TelemetryPacket,
    UnknownName,
)
from protocol.pus import BodyOptions, ModifyHkCollectionInterval, PerformFunction, PusTc, SetParameterValues, decode_body

OPTIONS = BodyOptions(parameter_octets=MISSION.parameter_octets())


def test_every_command_builds_a_tc_the_pus_layer_decodes() -> None:
    for cmd in MISSION.commands.values():
        values = {a.name: (next(iter(a.enum)) if a.enum else a.default if a.default is not None else a.bounds[0])
                  for a in cmd.arguments}
        tc = PusTc.decode(cmd.to_tc(values, sequence_count=5).encode())
        assert (tc.apid, tc.service, tc.subtype) == (cmd.apid, cmd.service, cmd.subtype)
        decode_body(tc, options=OPTIONS)  # the typed PUS body parses the same octets
        assert MISSION.command_for(tc.apid, tc.service, tc.subtype, tc.app_data) is cmd
        assert cmd.decode_args(tc.app_data) == cmd.validate(values)


def test_standard_bodies_carry_the_operator_values() -> None:
    tc = MISSION.command("set_hk_interval").to_tc({"sid": "thermal", "interval": "10"})
    assert decode_body(tc) == ModifyHkCollectionInterval(entries=((2, 10),))
    tc = MISSION.command("PAYLOAD_POWER").to_tc({"STATE": "ON"})
    assert decode_body(tc) == PerformFunction(function_id=1, arguments=b"\x01")
    tc = MISSION.command("SET_HEATER_SETPOINT").to_tc({"VALUE": -2.5})
    body = decode_body(tc, options=OPTIONS)
    assert isinstance(body, SetParameterValues)
    assert body.values[0].parameter_id == 0x0101 and body.values[0].value == (-250).to_bytes(2, "big", signed=True)


def test_bad_arguments_name_argument_value_and_range() -> None:
    cmd = MISSION.command("SET_HK_INTERVAL")
    with pytest.raises(LocalProtocolError) as e:
        cmd.encode_args({"SID": "POWER", "INTERVAL": 7200})
    assert "SET_HK_INTERVAL.INTERVAL" in str(e.value) and "7200" in str(e.value) and "1..3600 s" in str(e.value)
    with pytest.raises(LocalProtocolError, match="POWER \\(1\\) \\| THERMAL \\(2\\) \\| OBC \\(3\\)"):
        cmd.encode_args({"SID": "PWR", "INTERVAL": 5})
    with pytest.raises(LocalProtocolError, match="required"):
        cmd.encode_args({"SID": 1})
    with pytest.raises(UnknownName, match="did you mean INTERVAL"):
        cmd.encode_args({"SID": 1, "INTERVL": 5})
    with pytest.raises(UnknownName, match="did you mean PING"):
        MISSION.command("PNG")
    with pytest.raises(LocalProtocolError, match="an integer"):
        cmd.encode_args({"SID": 1, "INTERVAL": "soon"})


def test_decode_args_rejects_out_of_range_wire_values() -> None:
    cmd = MISSION.command("SET_HK_INTERVAL")
    raw = bytes.fromhex("0001" "0001" "00001C20")  # interval 7200 s
    with pytest.raises(RemoteProtocolError, match="INTERVAL"):
        cmd.decode_args(raw)
    with pytest.raises(RemoteProtocolError):
        cmd.decode_args(raw[:-1])


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_housekeeping_round_trip(data: st.DataObject) -> None:
    for tm in MISSION.packets.values():
        raw = {}
        for p in tm.parameters:
            if p.type.startswith("f"):
                raw[p.name] = data.draw(st.floats(width=32, allow_nan=False))
            else:
                bits = TYPES[p.type].sizeof() * 8
                lo, hi = (0, 2**bits - 1) if p.type[0] == "u" else (-(2**(bits - 1)), 2**(bits - 1) - 1)
                raw[p.name] = data.draw(st.integers(lo, hi))
        tail = data.draw(st.binary(max_size=40)) if tm.tail else b""
        sd = tm.encode(raw, tail=tail)
        for key in tm.keys:
            assert MISSION.telemetry_for(*key[:3], sd) is tm
        assert tm.decode(sd) == raw
        assert tm.split(sd) == (raw, tail)


def test_calibration_and_limits() -> None:
    volts = MISSION.parameter("battery_voltage")
    assert volts.engineering(7400) == pytest.approx(7.4)
    assert volts.check(7400) is AlarmLevel.NOMINAL
    assert volts.check(6700) is AlarmLevel.WARNING
    assert volts.check(6300) is AlarmLevel.CRITICAL
    assert volts.to_raw(7.4) == 7400
    assert MISSION.parameter("HEATER_ON").engineering(1) == "ON"
    assert MISSION.parameter("HEATER_ON").to_raw("OFF") == 0
    assert MISSION.parameter("HEATER_SETPOINT").check(4000) is AlarmLevel.WARNING
    assert Limits(hard_high=1).check(2) is AlarmLevel.CRITICAL
    assert Polynomial((1.0, 2.0, 3.0))(2) == 17.0


def test_json_export_is_complete_and_plain() -> None:
    doc = json.loads(json.dumps(MISSION.to_json()))
    assert doc["format"] == "ttc-mission-dictionary" and doc["version"] == 2
    assert {c["name"] for c in doc["commands"]} == set(MISSION.commands)
    hk = next(t for t in doc["telemetry"] if t["name"] == "HK_POWER")
    volts = next(p for p in hk["parameters"] if p["name"] == "BATTERY_VOLTAGE")
    assert volts["calibration"] == {"polynomial": [0.0, 0.001]} and volts["limits"]["hard_low"] == 6.4
    interval = next(c for c in doc["commands"] if c["name"] == "SET_HK_INTERVAL")
    assert interval["fields"][0] == {"name": "N", "type": "u16", "fixed": 1}
    assert interval["fields"][2]["min"] == 1 and interval["fields"][2]["max"] == 3600
    assert {e["severity"] for e in doc["events"]} <= {"INFO", "LOW", "MEDIUM", "HIGH"}


def test_declarations_are_checked() -> None:
    with pytest.raises(LocalProtocolError, match="type"):
        Argument("X", "u12")
    with pytest.raises(LocalProtocolError, match="PUS body field function_id"):  # TC[8,1] starts with its ID
        Command("T", 1, 8, 1, (Argument("A", "f32", "m", -1.5, 1.5),))
    cmd = Command("T", 1, 128, 1, (Argument("A", "f32", "m", -1.5, 1.5),))  # a mission-specific service
    assert cmd.decode_args(cmd.encode_args({"A": "0.5"})) == {"A": 0.5}
    with pytest.raises(LocalProtocolError, match="-1.5..1.5 m"):
        cmd.encode_args({"A": 2})


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_fuzz_dictionary_decoders(data: bytes) -> None:
    for cmd in MISSION.commands.values():
        try:
            cmd.decode_args(data)
        except ProtocolError:
            pass
    for tm in MISSION.telemetry.values():
        try:
            tm.decode(data)
        except ProtocolError:
            pass


def test_decode_tm_with_the_dictionary() -> None:
    from protocol.pus import HighSeverityEvent, ParameterValue, ParameterValueReport, PusTm
    from protocol.timecode import CucTime

    t = CucTime(coarse_s_raw=2_000_000_000, fine_raw=0x8000)
    hk = MISSION.housekeeping(2)
    raw = {"OBC_TEMP": 2150, "BATTERY_TEMP": 5000, "PANEL_TEMP": -300, "HEATER_SETPOINT": 500, "HEATER_ON": 1}
    pkt = PusTm(apid=hk.apid, service=3, subtype=25, time=t, source_data=hk.encode(raw)).encode()
    d = MISSION.decode_tm(pkt)
    assert d.name == "HK_THERMAL" and d.tai_s == 2_000_000_000.5
    by_name = {s.name: s for s in d.parameters}
    assert by_name["OBC_TEMP"].engineering == pytest.approx(21.5) and by_name["OBC_TEMP"].unit == "degC"
    assert by_name["BATTERY_TEMP"].level is AlarmLevel.CRITICAL  # 50 degC > hard 45
    assert by_name["HEATER_ON"].engineering == "ON"
    ev = PusTm.from_body(HighSeverityEvent(event_id=0x0500, auxiliary_data=b"\x01"), apid=0x10, time=t).encode()
    d = MISSION.decode_tm(ev)
    assert d.event is not None and d.event.name == "STORAGE_FULL" and d.event_data == b"\x01"
    rep = PusTm.from_body(ParameterValueReport(values=(ParameterValue(0x0101, (3000).to_bytes(2, "big")),)),
                          apid=0x10, time=t).encode()
    d = MISSION.decode_tm(rep)
    assert [(s.name, s.raw, s.level) for s in d.parameters] == [("HEATER_SETPOINT", 3000, AlarmLevel.NOMINAL)]
    unknown = PusTm(apid=0x55, service=200, subtype=1, time=t, source_data=b"xyz").encode()
    assert MISSION.decode_tm(unknown).name is None


def test_adcs_declarations() -> None:
    from protocol.mission import ADCS_MODES, FUNCTIONS, SIDS

    # HK_ADCS: the pointing error's limits are the imager's settled peak (soft) and the settle threshold (hard)
    hk = MISSION.housekeeping(SIDS["ADCS"])
    assert hk.name == "HK_ADCS" and (hk.apid, hk.service, hk.subtype) == (0x10, 3, 25)
    error = MISSION.parameter("ADCS_TARGET_ERROR")
    assert (error.type, error.unit) == ("f32", "deg")
    assert [error.check(x) for x in (0.003, 0.05, 0.5)] == [AlarmLevel.NOMINAL, AlarmLevel.WARNING,
                                                              AlarmLevel.CRITICAL]
    assert MISSION.parameter("ADCS_CONTROL_MODE").engineering(ADCS_MODES["TARGET_TRACKING"]) == "TARGET_TRACKING"
    assert {f"ADCS_Q{i}" for i in range(4)} | {f"ADCS_WHEEL_SPEED_{i}" for i in range(1, 5)} <= {
        p.name for p in hk.parameters}
    # service 8: one function ID per function; targets carry WGS84 degrees and metres, checked on both ends
    assert len(set(FUNCTIONS.values())) == len(FUNCTIONS)
    for name, fid in FUNCTIONS.items():
        assert MISSION.command(name).fields[0].value == fid
    cmd = MISSION.command("ADCS_SET_TARGET")
    app = cmd.encode_args({"TARGET_ID": 3, "LAT": 43.24, "LON": 76.95, "ALT": 800})
    assert app[:4] == bytes.fromhex("0011" "0003") and len(app) == 2 + 2 + 4 * 4
    args = cmd.decode_args(app)
    assert args["LAT"] == pytest.approx(43.24, abs=1e-5) and args["MIN_ELEVATION"] == 10.0  # f32, default 10 deg
    assert MISSION.command_for(0x20, 8, 1, app) is cmd
    assert MISSION.command_for(0x20, 8, 1, bytes.fromhex("0012") + app[2:]) is MISSION.command("ADCS_ADD_TARGET")
    with pytest.raises(LocalProtocolError, match="-90..90 deg"):
        cmd.encode_args({"TARGET_ID": 3, "LAT": 91, "LON": 0})
    with pytest.raises(RemoteProtocolError, match="LAT"):  # NaN or out of range on the wire
        cmd.decode_args(app[:4] + bytes.fromhex("7fc00000") + app[8:])
    # service 20: the gains are on-board parameters that can be set and reported
    gains = {"ADCS_ATTITUDE_GAIN": 0x0201, "ADCS_RATE_GAIN": 0x0202, "ADCS_INTEGRAL_GAIN": 0x0203,
             "ADCS_MAX_SLEW_RATE": 0x0204}
    for name, pid in gains.items():
        assert MISSION.onboard[pid].parameter.name == name and MISSION.onboard[pid].octets == 4
        assert MISSION.command("REPORT_PARAMETER").argument("PARAMETER_ID").enum[name] == pid
        tc = MISSION.command(f"SET_{name}").to_tc({"VALUE": 1.0})
        body = decode_body(tc, options=OPTIONS)
        assert isinstance(body, SetParameterValues) and body.values[0].parameter_id == pid
    # events: unique IDs, the ones issue 4 names
    names = {e.name for e in MISSION.events.values()}
    assert {"ADCS_MODE_CHANGED", "ADCS_TARGET_ACQUIRED", "ADCS_TARGET_LOST", "ADCS_WINDOW_OPEN",
            "ADCS_WINDOW_CLOSED"} <= names
    assert len(names) == len(MISSION.events)


def test_f32_arguments_are_the_values_the_wire_carries() -> None:
    cmd = Command("T", 1, 8, 1, (Argument("GAIN", "f32", "/s", 0.0, 1.0),), pus={"function_id": 7})
    wire = cmd.validate({"GAIN": 0.05})["GAIN"]
    assert wire != 0.05 and abs(wire - 0.05) < 1e-8
    assert cmd.decode_args(cmd.encode_args({"GAIN": 0.05})) == {"GAIN": wire}
    assert cmd.encode_args({"GAIN": 0.05})[:2] == b"\x00\x07"  # the function ID the PUS binding fixed


def test_commands_reference_pus_bodies_instead_of_retyping_them() -> None:
    # the reference satellite's standard commands are declared by binding PUS body fields (protocol.pus), and
    # come out as the fields they were before the dictionary referenced the bodies
    before = {c["name"]: c for c in json.loads((Path(__file__).parents[1] / "data" /
                                                "reference_mission_before_issue7.json").read_text())["commands"]}
    for cmd in MISSION.commands.values():
        if cmd.pus is not None and cmd.name in before and cmd.name != "SET_HEATER_SETPOINT":  # now calibrated
            now = [{k: v for k, v in f.items() if k != "calibration"} for f in MISSION.to_json()["commands"][
                list(MISSION.commands).index(cmd.name)]["fields"]]
            then = before[cmd.name]["fields"]
            if cmd.name == "REPORT_PARAMETER":  # issue 8 added the payload's on-board parameters to the IDs
                grown = now[1].pop("enum")
                old_ids = then[1]["enum"]
                assert {k: grown[k] for k in old_ids} == old_ids and set(grown) > set(old_ids)
                then = [then[0], {k: v for k, v in then[1].items() if k != "enum"}, *then[2:]]
            assert now == then, cmd.name
    assert MISSION.command("ENABLE_HK").pus is not None and MISSION.command("PAYLOAD_POWER").pus is not None
    # a body field typed again must agree with the body; an unbound one, a wrong name, a count, all refused
    with pytest.raises(LocalProtocolError, match="u16 .the type of PUS body field id"):
        Command("X", 1, 3, 5, pus={"id": Argument("SID", "u8")})
    with pytest.raises(LocalProtocolError, match="body field id"):
        Command("X", 1, 3, 5, pus={})
    with pytest.raises(LocalProtocolError, match="pus binding"):
        Command("X", 1, 3, 5, pus={"id": Argument("SID"), "sid": 3})
    with pytest.raises(LocalProtocolError, match="fixed count of 1"):
        Command("X", 1, 3, 5, (Fixed("N", "u16", 2), Argument("SID", "u16")))
    with pytest.raises(LocalProtocolError, match="no mission-defined part"):
        Command("X", 1, 3, 5, (Argument("MORE", "u8"),), pus={"id": Argument("SID")})
    # the TM side: a SID typed by the body, image parts laid over TM[13,x]'s transaction ID and part number
    with pytest.raises(LocalProtocolError, match="transaction_id"):
        TelemetryPacket("P", 0x31, 13, (1, 2, 3), (Parameter("ID", "u8"), Parameter("N", "u16")), tail="D")


def test_calibrated_arguments_take_engineering_units_and_raw_on_request() -> None:
    cmd = MISSION.command("SET_HEATER_SETPOINT")
    arg = cmd.argument("VALUE")
    assert arg.unit == "degC" and arg.raw_bounds == (-4000, 6000)
    assert cmd.validate({"VALUE": 15})["VALUE"] == 1500 and cmd.validate({"VALUE": "-2.504"})["VALUE"] == -250
    assert cmd.validate({"VALUE": "raw:1234"})["VALUE"] == 1234
    with pytest.raises(LocalProtocolError, match="-40..60 degC"):
        cmd.validate({"VALUE": 61})
    with pytest.raises(LocalProtocolError, match="raw:-4000..raw:6000"):
        cmd.validate({"VALUE": "raw:7000"})
    with pytest.raises(LocalProtocolError, match="finite"):
        cmd.validate({"VALUE": "nan"})
    assert cmd.decode_args(cmd.encode_args({"VALUE": 15}))["VALUE"] == 1500
    with pytest.raises(LocalProtocolError, match="linear"):
        Argument("V", "i16", calibration=Polynomial((0.0, 0.01, 0.001)))
    with pytest.raises(LocalProtocolError, match="range"):  # -400 degC is beyond what i16 x 0.01 carries
        Argument("V", "i16", "degC", -400, 60, calibration=Polynomial((0.0, 0.01)))
    assert MISSION.command("ADCS_SET_MODE").hazardous and not MISSION.command("PING").hazardous
