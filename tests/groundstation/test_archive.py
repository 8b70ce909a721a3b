"""The station archive (SQLite WAL), limit tracking and API request validation, without processes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundstation.api import ApiError, parse_request, parse_time_ns, reply_error, reply_ok
from groundstation.archive import Archive, ParameterRow, iso_ns
from groundstation.limits import AlarmTracker
from protocol.mission import MISSION, AlarmLevel

T0 = 1_900_000_000_000_000_000  # 2030-03-17, UTC ns


def _fill(a: Archive) -> None:
    pid = a.add_packet(b"\x08\x10", ert_ns=T0, vcid=0, apid=0x10, seq=5, service=3, subtype=25, obt_tai_s=1.5,
                       obt="2030-03-17T00:00:00Z", name="HK_POWER")
    a.add_parameters([ParameterRow("BATTERY_SOC", 12, 12, "%", 2), ParameterRow("BATTERY_VOLTAGE", 7500, 7.5, "V", 0),
                      ParameterRow("IN_ECLIPSE", 1, "YES", "", 0)], packet_id=pid, ert_ns=T0, obt_tai_s=1.5,
                     obt="2030-03-17T00:00:00Z")
    a.add_cadu(b"\x1a\xcf\xfc\x1d" + bytes(10), ert_ns=T0)
    a.add_event(ert_ns=T0 + 1, kind="onboard", name="BOOT", severity="INFO", text="started", event_id=1)
    a.add_alarm(ert_ns=T0, parameter="BATTERY_SOC", state="raised", level=2, eng=12, unit="%", obt=None,
                packet_id=pid)


def test_wal_mode_and_everything_committed_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    a = Archive(path)
    assert a.journal_mode == "wal"
    _fill(a)
    a.commit()
    # another connection (another process, say) sees committed rows while the writer stays open
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM parameters").fetchone()[0] == 3
    a.add_event(ert_ns=T0 + 2, kind="link", name="PACKET_GAP", severity="MEDIUM", text="uncommitted")
    assert other.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1  # not yet committed: invisible
    other.close()
    a.close()  # close commits
    b = Archive(path)
    assert b.count("events") == 2 and b.count("cadus") == 1 and b.count("packets") == 1
    rows = b.rows("parameters", names=["BATTERY_SOC", "IN_ECLIPSE"])
    assert [(r["name"], r["eng"], r["level"]) for r in rows] == [("BATTERY_SOC", 12, 2), ("IN_ECLIPSE", "YES", 0)]
    assert rows[0]["ert"] == iso_ns(T0) == "2030-03-17T17:46:40.000000Z"
    assert b.active_alarms() == {"BATTERY_SOC": 2}
    b.close()


def test_time_range_paging_and_latest(tmp_path: Path) -> None:
    a = Archive(tmp_path / "a.db")
    for i in range(25):
        pid = a.add_packet(b"x", ert_ns=T0 + i * 10**9, vcid=0, apid=0x10, seq=i)
        a.add_parameters([ParameterRow("BATTERY_SOC", i, i, "%", 0)], packet_id=pid, ert_ns=T0 + i * 10**9,
                         obt_tai_s=None, obt=None)
    a.commit()
    got = a.rows("parameters", names=["BATTERY_SOC"], from_ns=T0 + 5 * 10**9, to_ns=T0 + 10 * 10**9)
    assert [r["raw"] for r in got] == [5, 6, 7, 8, 9]
    assert [r["raw"] for r in a.iter_rows("parameters", page=4)] == list(range(25))
    assert [r["raw"] for r in a.rows("parameters", limit=3, newest=True)] == [22, 23, 24]
    assert [(r["name"], r["raw"]) for r in a.latest_parameters()] == [("BATTERY_SOC", 24)]
    with pytest.raises(ValueError, match="allowed"):
        a.rows("state")
    a.close()


def test_command_history_and_request_id_matching(tmp_path: Path) -> None:
    a = Archive(tmp_path / "a.db")
    c1 = a.add_command(submitted_ns=T0, name="PING", args={}, apid=0x10, seq=7, tc=b"tc")
    c2 = a.add_command(submitted_ns=T0 + 1, name="PING", args={}, apid=0x10, seq=8, tc=b"tc2", release_at="x",
                       wrapper_apid=0x10, wrapper_seq=9)
    a.add_stage(c1, stage="sent", ok=True, of="station", time_ns=T0, status="sent")
    a.add_stage(c1, stage="completed", ok=False, of="tc", time_ns=T0 + 5, code=8, reason="WRONG_MODE",
                status="failed")
    a.commit()
    assert a.command_for_request(0x10, 7) == (c1, "tc")
    assert a.command_for_request(0x10, 9) == (c2, "schedule")
    assert a.command_for_request(0x10, 8) == (c2, "tc")
    assert a.command_for_request(0x20, 7) is None
    h = a.history(command_id=c1)
    assert h[0]["status"] == "failed" and [s["stage"] for s in h[0]["stages"]] == ["sent", "completed"]
    assert h[0]["stages"][1] | {"time_ns": 0, "time": ""} == {
        "stage": "completed", "ok": False, "of": "tc", "code": 8, "reason": "WRONG_MODE", "time_ns": 0, "time": "",
        "obt": None}
    a.close()


def test_alarm_tracker_raises_changes_and_clears() -> None:
    soc = MISSION.parameter("BATTERY_SOC")
    tracker = AlarmTracker()
    seq = [MISSION.sample(soc, v) for v in (50, 40, 20, 10, 10, 60)]
    changes = [tracker.check(s) for s in seq]
    assert [(c.state, c.level) if c else None for c in changes] == [
        None, None, ("raised", AlarmLevel.WARNING), ("raised", AlarmLevel.CRITICAL), None,
        ("cleared", AlarmLevel.NOMINAL)]
    assert changes[-1].previous == AlarmLevel.CRITICAL and tracker.active == {}
    # a station restarted with a standing alarm does not raise it again
    again = AlarmTracker({"BATTERY_SOC": 2})
    assert again.check(MISSION.sample(soc, 10)) is None


@pytest.mark.parametrize(("raw", "code"), [
    (b"\xff\xfe", "bad_json"), (b"not json", "bad_json"), (b"[1, 2]", "bad_request"), (b'{"op": "drop"}', "unknown_op"),
    (b"{}", "unknown_op"), (b'{"op": "send"}', "bad_request"), (b'{"op": "send", "name": 5}', "bad_request"),
    (b'{"op": "parameters", "limit": -1}', "bad_request"), (b'{"op": "parameters", "from": "yesterday"}', "bad_request"),
    (b'{"op": "ping", "extra": 1}', "bad_request"), (b'{"op": "send", "name": "PING", "args": [1]}', "bad_request"),
    (b'{"id": {"a": 1}, "op": "ping"}', "bad_request"), (b"{" * 70_000, "too_large"),
])
def test_junk_requests_are_refused_with_a_code(raw: bytes, code: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_request(raw)
    assert err.value.code == code and err.value.message


def test_good_requests_and_times() -> None:
    req = parse_request(b'{"id": 3, "op": "parameters", "names": "battery_soc", "from": "2030-03-17T17:46:40Z", '
                        b'"to": 1900000001.5, "limit": 10}')
    assert req.id == 3 and req.op == "parameters"
    assert req.params == {"names": ["BATTERY_SOC"], "from": T0, "to": T0 + 1_500_000_000, "limit": 10}
    assert parse_time_ns("2030-03-17T17:46:40") == T0  # naive = UTC
    assert json.loads(reply_ok(1, {"b": b"\x01"})) == {"id": 1, "ok": True, "result": {"b": "01"}}
    assert json.loads(reply_error(None, "x", "y")) == {"id": None, "ok": False, "error": {"code": "x", "message": "y"}}


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "op", "name", "args", "names", "from", "to", "limit", "at", "kind", "x"]) | st.text(
            max_size=5), inner, max_size=5), max_leaves=12).map(lambda v: json.dumps(v).encode())))
def test_fuzzed_requests_only_raise_api_errors(raw: bytes) -> None:
    try:
        parse_request(raw)
    except ApiError as e:
        assert e.code in ("bad_json", "bad_request", "unknown_op", "too_large")


def test_withdraw_decoded_leaves_raw_packets_and_takes_back_values_events_and_alarms(tmp_path: Path) -> None:
    a = Archive(tmp_path / "a.db")
    _fill(a)  # packet 1: HK_POWER with 3 values, a raised alarm
    keep = a.add_packet(b"\x08\x10", ert_ns=T0, vcid=0, apid=0x10, seq=6, service=1, subtype=7, name="TM_1_7")
    det = a.add_packet(b"\x08\x32", ert_ns=T0, vcid=3, apid=0x32, seq=0, service=140, subtype=1, name="DETECTION")
    a.add_event(ert_ns=T0, kind="detection", name="FIRE", severity="HIGH", text="x", packet_id=det)
    a.add_event(ert_ns=T0, kind="onboard", name="ECLIPSE_ENTRY", severity="INFO", text="x", packet_id=1)
    a.add_event(ert_ns=T0, kind="link", name="PACKET_GAP", severity="MEDIUM", text="kept", packet_id=det)
    undone = a.withdraw_decoded(1)
    assert undone["parameters"] == 3 and undone["events"] == 2 and undone["packets"] == 2
    assert undone["alarms"] == {"BATTERY_SOC": (2, 1)}
    assert a.count("packets") == 3 and a.count("parameters") == 0
    names = {r["id"]: r["name"] for r in a.rows("packets")}
    assert names == {1: None, keep: "TM_1_7", det: None}  # service 1 keeps its standard decoding
    assert [e["name"] for e in a.rows("events")] == ["BOOT", "PACKET_GAP"]  # link and packet-less events stay
    a.close()


def test_raw_cadus_expire_by_age_and_by_size_oldest_first_in_bounded_batches(tmp_path: Path) -> None:
    a = Archive(tmp_path / "a.db")
    for i in range(100):
        a.add_cadu(bytes([i]) * 16, ert_ns=T0 + i * 1_000_000_000)
    pid = a.add_packet(b"\x08\x10", ert_ns=T0, vcid=0, apid=0x10, seq=5)
    a.commit()
    assert a.expire_cadus(before_ns=T0 + 30_000_000_000) == 30  # the first 30 s
    assert a.expire_cadus(before_ns=T0 + 30_000_000_000) == 0  # nothing more is that old
    assert a.expire_cadus(keep_rows=50) == 20  # and no more than 50 rows
    assert [a.expire_cadus(keep_rows=10, batch=15) for _ in range(4)] == [15, 15, 10, 0]
    a.commit()
    left = [r["data"] for r in a.rows("cadus", limit=1000)]
    assert left == [(bytes([i]) * 16).hex() for i in range(90, 100)]  # the newest ten, in order
    assert [r["id"] for r in a.rows("packets")] == [pid]  # packets are not raw CADUs: kept
    assert a.expire_cadus() == 0  # no policy: nothing goes
    a.close()
