"""Mission dictionaries flown end to end: spacecraft, channel and station as real processes on loopback.

* The second mission (docs/examples/example-3u.toml: its own SCID, APIDs, 446-octet frames with RS I=2, events
  on VC 0, uplink on TC VC 1 without segment header, 2000 epoch, its own housekeeping and events) flies a pass:
  the station verifies the spacecraft's dictionary, archives the example's housekeeping with the example's
  calibrations, commands complete or fail with a verdict, and ``ttc --mission ... decode`` reads the recording.
* A station flying another dictionary than the spacecraft says so (DICTIONARY_MISMATCH), archives raw packets
  only and refuses commands.
* One APID travels on one VC, so a clean pass decodes without a sequence gap, from CADUs and from packets.

Every wait is on a condition: the station's live stream or API (``until``), a socket receive with a timeout,
or, for a file the spacecraft writes (no handshake to wait on), its content re-read; never sleep-then-assert.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from groundstation.client import CommandFailed, RequestRefused
from groundstation.loopback import Child, LoopbackPass, PassConfig
from protocol.dictionary import MissionDictionary
from protocol.links import open_receiver
from protocol.links.missions import load_mission
from protocol.links.recording import RecordingReader
from protocol.mission import MISSION
from protocol.stack import DownlinkDecoder
from protocol.vchannel import VcPacket

from .e2e_tools import REPO, TTC, ttc_stdout
from .e2e_tools import archive_rows as _archive

pytestmark = pytest.mark.slow

EXAMPLE = REPO / "docs" / "examples" / "example-3u.toml"
HK = ("HK_EPS", "HK_SYSTEM")


@pytest.fixture(autouse=True, scope="module")
def _clean_environment() -> Iterator[None]:
    """Children and the CLI see only the dictionaries and endpoints the test gives them."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("TTC_MISSION", "TTC_API", "TTC_EVENTS"):
            mp.delenv(name, raising=False)
        yield


def _flyable_example(folder: Path) -> Path:
    """docs/examples/example-3u.toml as written (it declares no service 9: the spacecraft sends no time reports)."""
    return EXAMPLE


def _ttc(*args: str | Path) -> dict[str, Any]:
    """Run the ttc CLI, expect success, and return its --json output."""
    return json.loads(ttc_stdout(*args, timeout_s=60))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _utc(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _poll_file(check: Callable[[], Any], what: str, *, timeout_s: float) -> Any:
    """Re-run ``check()`` until truthy: a file a child writes has no handshake to wait on, only its content."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout_s:g} s waiting for {what}")


def _final_counters(log: Path) -> dict[str, Any]:
    """The counters a child logs when it stops (``stopped; counters {json}``)."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if "stopped; counters " in line]
    assert lines, f"{log.name}: no final counters line"
    return json.loads(lines[-1].split("stopped; counters ", 1)[1])


# ======================================================================== the second mission


def test_spacecraft_downlinks_the_example_as_written(tmp_path: Path) -> None:
    sc = Child("spacecraft", [sys.executable, "-m", "spacecraft", "--down", "zmq://127.0.0.1:0", "--mission",
                              str(EXAMPLE), "--hk-interval", "1", "--seed", "1"], log_path=tmp_path / "sc.log")
    rx = open_receiver(sc.endpoints["down"])
    try:
        deadline = time.monotonic() + 3.0
        frame = None
        while frame is None and time.monotonic() < deadline:
            frame = rx.recv(0.1)
        assert frame is not None, "no CADU from the spacecraft flying the example within 3 s"
        assert len(frame.data) == 4 + 2 * 255  # ASM + an RS I=2 codeblock
    finally:
        rx.close()
        sc.kill()  # a spinning loop never returns to see SIGTERM


def test_example_mission_flies_end_to_end(tmp_path: Path) -> None:
    mission_path = _flyable_example(tmp_path)
    mission = load_mission(str(mission_path))
    fingerprint = f"{mission.fingerprint:08X}"
    assert mission.fingerprint != MISSION.fingerprint
    with LoopbackPass(tmp_path / "pass", PassConfig(mission=str(mission_path), hk_interval_s=1, ber=0.0,
                                                    seed=5)) as p:
        gs = p.gs
        ping = p.until(lambda: (r := gs.ping())["dictionary"]["state"] != "unverified" and r,
                       "the station's verdict on the spacecraft's dictionary")
        assert ping["mission"] == "Example 3U technology demonstrator" == mission.name
        assert ping["scid"] == 0x155
        assert ping["dictionary"] == {"station": fingerprint, "spacecraft": fingerprint, "state": "verified"}
        verified = gs.events(names=["DICTIONARY_VERIFIED"], kind="link")
        assert [e["data"] for e in verified] == [{"station": fingerprint, "spacecraft": fingerprint}]
        # PAYLOAD_POWERED is reported OFF before the command below
        p.until(lambda: gs.parameters(names=["PAYLOAD_POWERED"]), "HK_SYSTEM before the command")

        # PING through the example's uplink (TC VC 1, no segment header, plain CLTUs): every stage passes
        stages = gs.wait(gs.send("PING"), "completed", timeout_s=10)
        assert [(s["stage"], s["ok"]) for s in stages if s["of"] == "tc"] == \
            [("accepted", True), ("started", True), ("completed", True)]

        # a function the simulator performs, with its event and the event's decoded auxiliary value
        stages = gs.wait(gs.send("PAYLOAD_POWER", {"STATE": "ON"}), "completed", timeout_s=10)
        assert stages[-1]["stage"] == "completed" and stages[-1]["ok"]
        changed = p.until(lambda: gs.events(names=["PAYLOAD_POWER_CHANGED"]), "the PAYLOAD_POWER_CHANGED event")
        assert len(changed) == 1
        ev = changed[0]
        assert (ev["kind"], ev["event_id"], ev["severity"]) == ("onboard", 0x0A10, "LOW")
        assert ev["data"]["values"] == {"STATE": "ON"} and ev["data"]["auxiliary"] == "01"
        assert "STATE=ON" in ev["text"]

        # declared in the dictionary, not a function the simulator implements: a failure verdict, not silence
        with pytest.raises(CommandFailed) as failed:
            gs.wait(gs.send("CAMERA_POWER", {"STATE": "ON"}), "completed", timeout_s=10)
        verdict = failed.value.failed
        assert verdict["of"] == "tc" and not verdict["ok"] and verdict["stage"] in ("accepted", "started")
        assert verdict["reason"] and verdict["code"] is not None

        # housekeeping keeps coming: PAYLOAD_POWERED turns ON, UPTIME counts
        p.until(lambda: (r := gs.parameters(names=["PAYLOAD_POWERED"], newest=True, limit=1)) and r[-1]["eng"] == "ON",
                "PAYLOAD_POWERED = ON in HK_SYSTEM")
        p.until(lambda: len(gs.parameters(names=["UPTIME"])) >= 3, "three HK_SYSTEM reports")
        counters = gs.counters()
        d, st = counters["downlink"], counters["station"]
        assert d["packet_gaps"] == 0 and d["frame_gaps"] == 0 and d["rs_uncorrectable"] == 0, d
        assert st["tm_undecodable"] == 0 and st["tm_unknown"] == 0 and st["internal_errors"] == 0, st
        assert st["dictionary_mismatches"] == 0 and st["verification_unmatched"] == 0, st
        assert set(d["packets_by_apid"]) <= {str(a) for a in mission.apids.values()}, d["packets_by_apid"]
    assert p.exit_codes == {"station": 0, "spacecraft": 0, "channel": 0}

    # ---- the archive: the example's housekeeping, decoded with the example's layouts and calibrations
    db = p.archive
    # each APID on the example's VC: OBC and PLATFORM housekeeping VC 1, EVENTS VC 0
    vc_of = dict(_archive(db, "select distinct apid, vcid from packets"))
    assert vc_of == {0x40: 1, 0x41: 0, 0x50: 1}, vc_of
    hk_packets = dict(_archive(db, "select name, count(*) from packets where name in (?, ?) group by name", *HK))
    assert hk_packets.keys() == set(HK) and min(hk_packets.values()) >= 3, hk_packets
    values: dict[str, list[tuple[Any, Any]]] = {}
    for name, raw, eng in _archive(db, "select name, raw, eng from parameters order by id"):
        values.setdefault(name, []).append((raw, eng))
    assert set(values) == {prm.name for tm in mission.packets.values() if tm.name in HK for prm in tm.parameters}
    assert {eng for _, eng in values["REBOOT_COUNT"]} == {1}
    uptimes = [eng for _, eng in values["UPTIME"]]
    assert all(b > a for a, b in zip(uptimes, uptimes[1:])), uptimes
    for raw, eng in values["BATTERY_VOLTAGE"]:  # u16, 0.01 V (the reference has 0.001 V)
        assert 6.0 <= eng <= 9.0 and eng == pytest.approx(raw * 0.01)
    assert all(0 <= eng <= 100 and isinstance(raw, int) for raw, eng in values["BATTERY_SOC"])
    for raw, eng in values["OBC_TEMP"]:  # i16, 0.01 degC
        assert -40 <= eng <= 85 and eng == pytest.approx(raw * 0.01)
    assert {raw for raw, _ in values["DICTIONARY_ID"]} == {mission.fingerprint}
    powered = [eng for _, eng in values["PAYLOAD_POWERED"]]
    first_on = powered.index("ON")
    assert first_on > 0 and set(powered[:first_on]) == {"OFF"} and set(powered[first_on:]) == {"ON"}, powered
    # the example's time code counts from 2000-01-01: the on-board times read as today's UTC on the ground
    for obt, ert_ns in _archive(db, "select obt, ert_ns from packets where name = 'HK_SYSTEM'"):
        assert abs(_utc(obt) - ert_ns / 1e9) < 5.0, (obt, ert_ns)

    # ---- ttc --mission decode of the station's recording agrees with the archive
    summary = _ttc("--mission", mission_path, "decode", p.recording, "--json", "--packets", tmp_path / "p.jsonl",
                   "--parameters", tmp_path / "v.jsonl", "--format", "jsonl")
    assert summary["packet_gaps"] == 0 and summary["packets_missing"] == 0, summary
    assert summary["rs_uncorrectable"] == 0 and summary["frame_gaps"] == 0
    setup = summary["setup"]
    assert (setup["scid"], setup["frame_len"], setup["rs_interleave"]) == (0x155, 446, 2), setup
    assert summary["packets_by_apid"] == {str(a): n for a, n in _archive(db, "select apid, count(*) from packets "
                                                                             "group by apid")}
    offline = _jsonl(tmp_path / "p.jsonl")
    offline_hk = {name: sum(1 for r in offline if r["name"] == name) for name in HK}
    assert offline_hk == hk_packets
    offline_values = [(v["parameter"], v["raw"]) for v in _jsonl(tmp_path / "v.jsonl")]
    assert offline_values == [tuple(r) for r in _archive(db, "select name, raw from parameters order by id")]

    # ---- the same recording read with the reference dictionary: no reference parameters out of the example's HK
    reference = _ttc("decode", p.recording, "--json", "--packets", tmp_path / "p-ref.jsonl", "--parameters",
                     tmp_path / "v-ref.jsonl", "--format", "jsonl")
    assert reference["packets"] == summary["packets"]
    assert reference["dictionary_packets"] == 0 and reference["parameter_values"] == 0, reference
    assert {r["name"] for r in _jsonl(tmp_path / "p-ref.jsonl")} == {None}
    assert _jsonl(tmp_path / "v-ref.jsonl") == []


def _boot_events(recording: Path, mission: MissionDictionary) -> list[tuple[int, Any]]:
    """(VC, decoded BOOT report) of every BOOT event in a spacecraft's downlink file so far."""
    if not recording.exists():
        return []
    reader = RecordingReader(recording)
    decoder = DownlinkDecoder(mission.downlink)
    try:
        while (frame := reader.recv()) is not None:
            decoder.feed(frame.data)
    finally:
        reader.close()
    found = []
    for ev in decoder.events():
        if isinstance(ev, VcPacket):
            dec = mission.decode_tm(ev.data)
            if dec.event is not None and dec.event.name == "BOOT":
                found.append((ev.vcid, dec))
    return found


def test_example_boot_event_carries_the_reboot_count(tmp_path: Path) -> None:
    # The BOOT report leaves in the spacecraft's very first CADU (events are VC 0, priority 0 in the example),
    # which a PUB socket drops while its connection to the channel is still being set up: so the spacecraft
    # writes its downlink to a file here, where nothing is lost, and the test decodes it with the dictionary.
    mission_path = _flyable_example(tmp_path)
    mission = load_mission(str(mission_path))
    recording = tmp_path / "spacecraft.ttcrec"
    sc = Child("spacecraft", [sys.executable, "-m", "spacecraft", "--down", f"file://{recording}", "--mission",
                              str(mission_path), "--state-dir", str(tmp_path / "state"), "--hk-interval", "1",
                              "--seed", "3"], log_path=tmp_path / "spacecraft.log")
    try:
        boots = _poll_file(lambda: _boot_events(recording, mission), "the BOOT report in the downlink file",
                           timeout_s=10)
    finally:
        assert sc.stop() == 0
    assert len(boots) == 1
    vcid, dec = boots[0]
    assert vcid == 0 and dec.tm.apid == mission.apids["EVENTS"] == 0x41
    assert dec.event_id == 0x0A00 and dec.tm.subtype == 1  # INFO = TM[5,1]
    assert {v.name: v.engineering for v in dec.event_values} == {"REBOOT_COUNT": 1}
    counters = _final_counters(tmp_path / "spacecraft.log")
    assert counters["events"].get("BOOT") == 1 and counters["event_errors"] == 0, counters


# ======================================================================== a dictionary mismatch


def _reference_with_other_battery_calibration(folder: Path) -> Path:
    """The reference exported as TOML, BATTERY_VOLTAGE's polynomial 0.001 -> 0.002 V, stated fingerprint removed."""
    exported = folder / "reference.toml"
    subprocess.run([*TTC, "db", "export", "--format", "toml", "-o", str(exported)], check=True, timeout=60, cwd=REPO,
                   capture_output=True)
    text = exported.read_text(encoding="utf-8")
    assert load_mission(str(exported)).fingerprint == MISSION.fingerprint  # the export loads back identical
    start = text.index('name = "BATTERY_VOLTAGE"')
    old = "calibration = { polynomial = [0.0, 0.001] }"
    at = text.index(old, start)
    assert at - start < 200  # the calibration line of BATTERY_VOLTAGE's own table
    text = text[:at] + "calibration = { polynomial = [0.0, 0.002] }" + text[at + len(old):]
    text, removed = re.subn(r"(?m)^fingerprint = .*\n", "", text)
    assert removed == 1
    edited = folder / "station.toml"
    edited.write_text(text, encoding="utf-8")
    return edited


@dataclass(frozen=True)
class MismatchPass:
    """What a pass with the spacecraft on the reference and the station on an edited copy showed."""

    workdir: Path
    archive: Path
    station_fp: str
    spacecraft_fp: str
    mismatch_events: list[dict[str, Any]]
    ping: dict[str, Any]
    mismatch_ert_ns: int
    refused: RequestRefused | None
    counters_before: dict[str, Any]
    counters_after: dict[str, Any]
    active_alarms: list[dict[str, Any]]
    exit_codes: dict[str, int]


@pytest.fixture(scope="module")
def mismatch_pass(_clean_environment: None, tmp_path_factory: pytest.TempPathFactory) -> MismatchPass:
    """One pass for the mismatch tests: wait for the verdict and more housekeeping, try a command, stop."""
    folder = tmp_path_factory.mktemp("mismatch")
    station_dict = _reference_with_other_battery_calibration(folder)
    ours = load_mission(str(station_dict))
    assert ours.fingerprint != MISSION.fingerprint
    with LoopbackPass(folder / "pass", PassConfig(station_mission=str(station_dict), hk_interval_s=0.5, ber=0.0,
                                                  seed=9)) as p:
        gs = p.gs
        events = p.until(lambda: gs.events(names=["DICTIONARY_MISMATCH"], kind="link"),
                         "the DICTIONARY_MISMATCH link event")
        ping = gs.ping()
        after = events[0]["ert_ns"]
        # two more rounds of housekeeping arrive (to be archived raw) while the verdict stands
        p.until(lambda: _archive(p.archive, "select count(*) from packets where ert_ns > ? and service = 3",
                                 after)[0][0] >= 8, "housekeeping after the mismatch")
        before = gs.counters()
        refused = None
        try:
            gs.send("PING")
        except RequestRefused as e:
            refused = e
        counters_after = gs.counters()
        active = gs.alarms(active=True)
    return MismatchPass(workdir=p.workdir, archive=p.archive, station_fp=f"{ours.fingerprint:08X}",
                        spacecraft_fp=f"{MISSION.fingerprint:08X}", mismatch_events=events, ping=ping,
                        mismatch_ert_ns=after, refused=refused, counters_before=before,
                        counters_after=counters_after, active_alarms=active, exit_codes=p.exit_codes)


def test_dictionary_mismatch_is_reported_and_nothing_is_decoded_or_sent(mismatch_pass: MismatchPass) -> None:
    m = mismatch_pass
    assert m.exit_codes == {"station": 0, "spacecraft": 0, "channel": 0}
    assert len(m.mismatch_events) == 1
    ev = m.mismatch_events[0]
    assert ev["severity"] == "CRITICAL" and ev["data"] == {"station": m.station_fp, "spacecraft": m.spacecraft_fp}
    assert m.spacecraft_fp in ev["text"] and m.station_fp in ev["text"]
    assert m.ping["dictionary"] == {"station": m.station_fp, "spacecraft": m.spacecraft_fp, "state": "mismatch"}
    assert m.counters_after["dictionary"] == m.ping["dictionary"]

    # send is refused with its code, and nothing goes on the air
    assert m.refused is not None, "send PING was accepted by a station that knows its dictionary is wrong"
    assert m.refused.code == "dictionary_mismatch"
    assert m.spacecraft_fp in m.refused.message and m.station_fp in m.refused.message
    up_before, up_after = m.counters_before["uplink"], m.counters_after["uplink"]
    assert up_after["commands_sent"] == up_before["commands_sent"] == 0
    assert up_after["cltus_sent"] == up_before["cltus_sent"] == 0
    assert up_after["commands_refused"] == up_before["commands_refused"] + 1
    assert m.counters_after["station"]["api_errors_by_code"].get("dictionary_mismatch") == 1
    assert m.counters_after["station"]["dictionary_mismatches"] > 0
    assert _archive(m.archive, "select count(*) from commands") == [(0,)]
    assert _final_counters(m.workdir / "spacecraft.log")["tc"]["received"] == 0

    # nothing decoded with the wrong dictionary after the packet that revealed it (not even that one): raw only
    after = m.mismatch_ert_ns
    assert _archive(m.archive, "select count(*) from parameters where name = 'BATTERY_VOLTAGE' and ert_ns > ?",
                    after) == [(0,)]
    assert _archive(m.archive, "select count(*) from parameters where ert_ns > ?", after) == [(0,)]
    assert _archive(m.archive, "select count(*) from parameters where name = 'DICTIONARY_ID'") == [(0,)]
    raw_only = _archive(m.archive, "select count(*), count(name) from packets where ert_ns > ? and service != 1",
                        after)
    assert raw_only[0][0] >= 8 and raw_only[0][1] == 0, raw_only


def test_dictionary_mismatch_withdraws_what_the_wrong_dictionary_decoded(mismatch_pass: MismatchPass) -> None:
    """The reference sends HK_POWER before HK_OBC (its fingerprint): the first HK_POWER is decoded with the
    station's other battery calibration and raises a CRITICAL alarm; the mismatch takes it, and every value
    decoded before the verdict, back."""
    m = mismatch_pass
    assert m.active_alarms == []
    transitions = _archive(m.archive, "select state from alarms where parameter = 'BATTERY_VOLTAGE' order by id")
    assert transitions == [("raised",), ("withdrawn",)], transitions
    # nothing decoded with the wrong dictionary is left anywhere: no values, events, or packet names
    assert _archive(m.archive, "select count(*) from parameters") == [(0,)]
    assert _archive(m.archive, "select count(*) from events where kind in ('onboard', 'alarm')") == [(0,)]
    assert _archive(m.archive, "select count(*), count(name) from packets where service != 1")[0][1] == 0
    withdrawn = _archive(m.archive, "select severity, data from events where name = 'TELEMETRY_WITHDRAWN'")
    assert len(withdrawn) == 1 and withdrawn[0][0] == "WARNING"
    data = json.loads(withdrawn[0][1])
    assert data["alarms"] == ["BATTERY_VOLTAGE"] and data["parameters"] > 0 and data["packets"] > 0, data
    assert m.counters_after["station"]["alarms_withdrawn"] == 1


# ======================================================================== one APID, one sequence


def test_clean_pass_decodes_without_sequence_gaps_from_cadus_and_from_packets(tmp_path: Path) -> None:
    with LoopbackPass(tmp_path / "pass", PassConfig(hk_interval_s=0.1, ber=0.0, seed=13)) as p:
        gs = p.gs
        p.until(lambda: gs.ping()["dictionary"]["state"] == "verified", "the dictionary verified")
        # commands add service replies and verification on the OBC and platform APIDs, and events on theirs
        for state in ("ON", "OFF", "ON", "OFF"):
            gs.wait(gs.send("PAYLOAD_POWER", {"STATE": state}), "completed", timeout_s=10)
        gs.wait(gs.send("PING"), "completed", timeout_s=10)
        p.until(lambda: len(gs.events(names=["PAYLOAD_POWER_CHANGED"])) == 4, "four PAYLOAD_POWER_CHANGED events")
        live = p.until(lambda: (c := gs.counters()["downlink"])["packets"] >= 160 and c, "160 packets")
        assert live["packet_gaps"] == 0 and live["packets_missing"] == 0, live
    assert p.exit_codes == {"station": 0, "spacecraft": 0, "channel": 0}

    raw = tmp_path / "packets.raw"
    summary = _ttc("decode", p.recording, "--json", "--packets", raw, "--format", "raw")
    assert summary["packets"] >= 160
    assert summary["packet_gaps"] == 0 and summary["packets_missing"] == 0, summary
    assert summary["frame_gaps"] == 0 and summary["rs_uncorrectable"] == 0 and summary["bytes_dropped"] == 0
    by_apid = summary["packets_by_apid"]
    assert {"16", "17", "32"} <= set(by_apid), by_apid  # OBC (VC 0), its events (VC 1), platform (VC 0)
    assert by_apid == {str(a): n for a, n in _archive(p.archive, "select apid, count(*) from packets group by apid")}
    # every APID on exactly one VC in what the station archived
    assert _archive(p.archive, "select apid from packets group by apid having count(distinct vcid) > 1") == []

    packets = _ttc("decode", raw, "--layer", "packet", "--json")
    assert packets["setup"]["layer"] == "packet"
    assert packets["packets"] == summary["packets"] and packets["packets_by_apid"] == by_apid
    assert packets["packet_gaps"] == 0 and packets["packets_missing"] == 0, packets
    assert packets["bytes_dropped"] == 0
