"""The station as a real process over real loopback sockets, with a test-side spacecraft built from the stack.

Each test starts ``python -m groundstation.station`` (READY handshake), a
:class:`FakeSpacecraft` thread sending CADUs and answering TCs, and a
:class:`StationClient`. Nothing sleeps to synchronise: waits are on the live
stream or on API answers, with timeouts.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq
from click.testing import CliRunner

from groundstation.client import CommandFailed, RequestRefused, StationClient
from groundstation.cli import main as ttc_main
from groundstation.operate import archive, events, history, monitor, send
from protocol.links.recording import read_recording

from ..e2e_tools import curve_client
from .fake_spacecraft import FakeSpacecraft, StationProcess

pytestmark = pytest.mark.slow


class Link:
    """A running station, its fake spacecraft and a client."""

    def __init__(self, tmp: Path, *, archive_name: str = "station.db", extra: tuple[str, ...] = (),
                 sc: FakeSpacecraft | None = None) -> None:
        self.tmp = tmp
        self.sc = sc or FakeSpacecraft()
        # a restarted station binds the uplink port the spacecraft is already connected to
        self.station = StationProcess(down_url=self.sc.down_url, archive=tmp / archive_name,
                                      log_path=tmp / "station.log", extra=extra,
                                      up_url=self.sc.up_url or "zmq://127.0.0.1:0")
        self.ep = self.station.endpoints
        if self.sc.up_url is None:
            self.sc.start(self.ep["up"])
        self.gs = StationClient(self.ep["api"], self.ep["events"])
        self.until(lambda: self.gs.counters()["downlink"]["cadus"] > 0, what="first CADU at the station")

    @property
    def urls(self) -> list[str]:
        return ["--api", self.ep["api"], "--events", self.ep["events"]]

    def until(self, check: Callable[[], Any], *, timeout_s: float = 10.0, what: str = "condition") -> Any:
        """Re-check after each live-stream message until ``check()`` is truthy; the station log on a timeout."""
        try:
            return self.gs.until(check, what, timeout_s=timeout_s)
        except TimeoutError as e:
            raise AssertionError(f"{e}; station log:\n{self.station.log_path.read_text()}") from e

    def uplink_ready(self) -> None:
        """Send PINGs until the spacecraft hears one (the uplink is lossy until ZeroMQ has connected)."""
        for _ in range(20):
            self.gs.send("PING")
            if self.sc.tc_seen.wait(0.5):
                return
        raise AssertionError("the fake spacecraft never received a CLTU")

    def close(self, *, expect_clean: bool = True) -> None:
        self.gs.close()
        if self.station.proc.poll() is None:
            code = self.station.terminate()
            if expect_clean:
                assert code == 0, self.station.log_path.read_text()
        self.sc.stop()


@pytest.fixture
def link(tmp_path: Path) -> Iterator[Link]:
    lk = Link(tmp_path)
    try:
        yield lk
    finally:
        lk.close()


def test_housekeeping_reaches_the_archive_with_engineering_values(link: Link) -> None:
    link.sc.submit(link.sc.hk("POWER", BATTERY_VOLTAGE=7.25, BATTERY_CURRENT=-1.5, BATTERY_SOC=77,
                              SOLAR_POWER=12.5, IN_ECLIPSE="YES", PAYLOAD_POWERED="ON"))
    rows = link.until(lambda: link.gs.parameters(names=["BATTERY_VOLTAGE", "BATTERY_CURRENT", "BATTERY_SOC",
                                                        "SOLAR_POWER", "IN_ECLIPSE", "PAYLOAD_POWERED"]),
                      what="HK_POWER parameters")
    got = {r["name"]: (r["raw"], r["eng"], r["unit"], r["level"]) for r in rows}
    assert got == {
        "BATTERY_VOLTAGE": (7250, 7.25, "V", 0), "BATTERY_CURRENT": (-1500, -1.5, "A", 0),
        "BATTERY_SOC": (77, 77, "%", 0), "SOLAR_POWER": (1250, 12.5, "W", 0), "IN_ECLIPSE": (1, "YES", "", 0),
        "PAYLOAD_POWERED": (1, "ON", "", 0)}
    packets = link.gs.packets(names="HK_POWER")
    assert len(packets) == 1 and (packets[0]["apid"], packets[0]["service"], packets[0]["subtype"]) == (0x10, 3, 25)
    assert rows[0]["obt"] and rows[0]["ert"] and rows[0]["packet_id"] == packets[0]["id"]
    c = link.gs.counters()
    assert c["downlink"]["packets_by_apid"] == {"16": 1} and c["station"]["parameters"] == 6
    assert c["downlink"]["cadus"] == c["downlink"]["frames"] > 0 and c["downlink"]["rs_uncorrectable"] == 0


def test_out_of_limit_value_raises_an_alarm_and_clears_it(link: Link) -> None:
    alarms = link.gs.subscribe("alarm.", timeout_s=10)
    link.sc.submit(link.sc.hk("THERMAL", BATTERY_TEMP=20))
    link.sc.submit(link.sc.hk("THERMAL", BATTERY_TEMP=40))   # above soft high 35: WARNING
    link.sc.submit(link.sc.hk("THERMAL", BATTERY_TEMP=50))   # above hard high 45: CRITICAL
    link.sc.submit(link.sc.hk("THERMAL", BATTERY_TEMP=21))   # back to nominal
    seen = [next(alarms).data for _ in range(3)]
    assert [(a["parameter"], a["state"], a["level_name"]) for a in seen] == [
        ("BATTERY_TEMP", "raised", "WARNING"), ("BATTERY_TEMP", "raised", "CRITICAL"),
        ("BATTERY_TEMP", "cleared", "NOMINAL")]
    assert seen[1]["eng"] == 50.0 and seen[1]["unit"] == "degC"
    stored = link.gs.alarms(names="BATTERY_TEMP")
    assert [(a["state"], a["level"]) for a in stored] == [("raised", 1), ("raised", 2), ("cleared", 0)]
    evs = link.gs.events(kind="alarm")
    assert [e["severity"] for e in evs] == ["WARNING", "CRITICAL", "INFO"]
    assert link.gs.alarms(active=True) == []
    assert link.gs.counters()["station"]["alarms_raised"] == 2


def test_out_of_range_argument_is_refused_and_nothing_is_sent(link: Link) -> None:
    link.uplink_ready()
    before_sent = link.gs.counters()["uplink"]["commands_sent"]
    before_rx = len(link.sc.received)
    runner = CliRunner()
    res = runner.invoke(send, ["SET_HK_INTERVAL", "SID=POWER", "INTERVAL=0", *link.urls])
    assert res.exit_code == 2
    assert "argument SET_HK_INTERVAL.INTERVAL is 0, allowed 1..3600 s" in res.output and "nothing sent" in res.output
    res = runner.invoke(send, ["PIGN", *link.urls])
    assert res.exit_code == 2 and "did you mean PING?" in res.output
    res = runner.invoke(send, ["ADCS_SET_MODE", "MODE=SPINNING", *link.urls])
    assert res.exit_code == 2 and "DETUMBLE (0)" in res.output
    # the station checks too, whoever calls it
    with pytest.raises(Exception, match="allowed 1..3600 s"):
        link.gs.send("SET_HK_INTERVAL", {"SID": "POWER", "INTERVAL": 99999})
    # a good command after them is the only one the spacecraft hears
    res = runner.invoke(send, ["PING", "--wait", "completed", "--timeout", "10", *link.urls])
    assert res.exit_code == 0, res.output
    c = link.gs.counters()
    assert c["uplink"]["commands_sent"] == before_sent + 1 and c["uplink"]["commands_refused"] == 1
    assert [(tc.service, tc.subtype) for tc in link.sc.received[before_rx:]] == [(17, 1)]


def test_an_invalid_value_is_flagged_never_nominal_and_clears_no_alarm(link: Link) -> None:
    """A NaN used to count as nominal: it cleared a standing CRITICAL alarm and went out as `NaN` (not JSON)."""
    stream = link.gs.subscribe("parameter.ADCS_TARGET_ERROR", "alarm.ADCS_TARGET_ERROR", timeout_s=10)
    for _ in range(20):  # until the subscription has reached the station (a nominal value comes back)
        link.sc.submit(link.sc.hk("ADCS", ADCS_TARGET_ERROR=0.0))
        if (m := link.gs.next_message(timeout_s=0.5)) is not None and m.topic == "parameter.ADCS_TARGET_ERROR":
            break
    link.sc.submit(link.sc.hk("ADCS", ADCS_TARGET_ERROR=0.5))  # above the hard high 0.1: CRITICAL
    link.sc.submit(link.sc.hk("ADCS", ADCS_TARGET_ERROR=float("nan")))
    link.sc.submit(link.sc.hk("ADCS", ADCS_TARGET_ERROR=float("inf")))
    seen = []  # read before anything else waits on the same live-stream socket
    for msg in stream:
        if msg.topic.startswith("parameter.") and msg.data["level"] == 0:
            continue  # the warm-up values
        seen.append(msg)
        if sum(m.topic.startswith("parameter.") for m in seen) == 3:
            break
    values = [m.data for m in seen if m.topic.startswith("parameter.")]
    assert [(v["level"], v["eng"]) for v in values] == [(2, 0.5), (3, None), (3, None)]  # strict JSON, flagged
    assert [m.data["state"] for m in seen if m.topic.startswith("alarm.")] == ["raised"]  # NaN cleared nothing
    rows = [x for x in link.gs.parameters(names="ADCS_TARGET_ERROR") if x["level"]]
    assert [r["level"] for r in rows] == [2, 3, 3] and rows[1]["eng"] is None  # archived flagged, no NaN
    assert link.gs.alarms(active=True) == [{"parameter": "ADCS_TARGET_ERROR", "level": 2, "level_name": "CRITICAL"}]
    res = CliRunner().invoke(monitor, ["--once", "--name", "ADCS_TARGET_ERROR", *link.urls])
    assert res.exit_code == 0 and "INVALID" in res.output, res.output
    link.sc.submit(link.sc.hk("ADCS", ADCS_TARGET_ERROR=0.0))  # a valid nominal value does clear it
    link.until(lambda: link.gs.alarms(active=True) == [], what="the alarm cleared by a valid value")


def test_verification_stages_reach_history_and_set_the_exit_code(link: Link) -> None:
    link.uplink_ready()
    runner = CliRunner()
    res = runner.invoke(send, ["SET_HK_INTERVAL", "SID=THERMAL", "INTERVAL=5", "--wait", "completed", *link.urls])
    assert res.exit_code == 0, res.output
    assert [line.split()[0] for line in res.output.splitlines()[1:4]] == ["accepted", "started", "completed"]
    res = runner.invoke(send, ["IMAGER_CAPTURE", "EXPOSURE=100", "--wait", "completed", "--timeout", "10", *link.urls])
    assert res.exit_code == 1, res.output
    assert "FAILED WRONG_MODE (code 8)" in res.output and "failed at completed: WRONG_MODE" in res.output
    rows = link.gs.history(limit=2)
    assert [(r["name"], r["status"]) for r in rows] == [("SET_HK_INTERVAL", "completed"), ("IMAGER_CAPTURE", "failed")]
    assert [(s["stage"], s["ok"]) for s in rows[1]["stages"]] == [
        ("queued", True), ("sent", True), ("accepted", True), ("started", True), ("completed", False)]
    assert rows[0]["args"] == {"SID": "THERMAL", "INTERVAL": 5}
    tc = link.sc.received[-2]
    assert (tc.apid, tc.service, tc.subtype, tc.sequence_count) == (0x10, 3, 31, rows[0]["seq"])
    with pytest.raises(CommandFailed) as err:
        link.gs.wait(rows[1]["id"], "completed", timeout_s=5)
    assert err.value.failed["reason"] == "WRONG_MODE"
    res = runner.invoke(history, ["--limit", "2", *link.urls])  # one line per command, with its verdict
    assert res.exit_code == 0 and len(res.output.splitlines()) == 2, res.output
    assert "[completed]" in res.output and "[failed at completed: WRONG_MODE]" in res.output
    res = runner.invoke(history, ["--limit", "2", "--stages", *link.urls])
    assert res.exit_code == 0 and "completed:FAILED(WRONG_MODE)" in res.output and "[completed]" in res.output


def test_time_tagged_command_goes_in_tc_11_4_and_completes_at_its_time(link: Link) -> None:
    link.uplink_ready()
    res = CliRunner().invoke(send, ["PING", "--at", "+1.5", "--wait", "completed", "--timeout", "10", *link.urls])
    assert res.exit_code == 0, res.output
    assert "released on board at" in res.output and "(TC[11,4] insert)" in res.output
    wrapper = next(tc for tc in reversed(link.sc.received) if (tc.service, tc.subtype) == (11, 4))
    row = link.gs.history(limit=1)[0]
    assert (row["wrapper_apid"], row["wrapper_seq"]) == (wrapper.apid, wrapper.sequence_count)
    insert_done = next(s for s in row["stages"] if s["of"] == "schedule" and s["stage"] == "completed")
    done = next(s for s in row["stages"] if s["of"] == "tc" and s["stage"] == "completed")
    assert done["time_ns"] - insert_done["time_ns"] > 1.0e9  # it ran at its release time, not on arrival


def test_junk_on_the_api_and_the_downlink_is_counted_not_fatal(link: Link) -> None:
    ctx = zmq.Context.instance()
    dealer = curve_client(ctx.socket(zmq.DEALER))
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(link.ep["api"])
    junk = [b"\x00\xff garbage", b"[]", b'{"op": "selfdestruct"}', b'{"op": "parameters", "limit": "all"}',
            b'{"op": "send", "name": "PING", "args": {"X": [1]}}', b"{" * 100_000]
    codes = []
    for j in junk:
        dealer.send_multipart([b"", j])
        assert dealer.poll(5000), f"no answer to {j[:20]!r}"
        reply = json.loads(dealer.recv_multipart()[-1])
        assert reply["ok"] is False
        codes.append(reply["error"]["code"])
    assert codes == ["bad_json", "bad_request", "unknown_op", "bad_request", "bad_request", "too_large"]
    # a REQ client with a multi-frame envelope also gets its answer
    req = curve_client(ctx.socket(zmq.REQ))
    req.setsockopt(zmq.LINGER, 0)
    req.connect(link.ep["api"])
    req.send(b'{"op": "ping", "id": "r1"}')
    assert req.poll(5000) and json.loads(req.recv())["result"]["station"] == "ttc"
    req.close()
    dealer.close()
    rng = random.Random(5)
    for n in (3, 100, 1115, 5000):
        link.sc.inject_junk(bytes(rng.randrange(256) for _ in range(n)))
    link.sc.submit(link.sc.hk("OBC", REBOOT_COUNT=3))
    link.until(lambda: link.gs.parameters(names="REBOOT_COUNT"), what="HK after junk")
    c = link.gs.counters()
    assert c["station"]["api_errors"] == 6 and c["station"]["api_errors_by_code"]["bad_json"] == 1
    assert c["downlink"]["skipped_bits"] > 0 and c["station"]["internal_errors"] == 0
    assert link.gs.parameters(names="REBOOT_COUNT")[0]["raw"] == 3


def test_a_refusal_is_an_answer_with_the_request_id_and_the_cli_says_it_at_once(link: Link) -> None:
    """Refusals used to come back with id null: the client dropped them and reported an outage after its
    timeout. Now the reply carries the id, the client raises the code at once, the CLI exits 2 with it."""
    dealer = curve_client(zmq.Context.instance().socket(zmq.DEALER))
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(link.ep["api"])
    dealer.send_multipart([b"", b'{"id": 41, "op": "parameters", "limit": "all"}'])
    assert dealer.poll(5000)
    reply = json.loads(dealer.recv_multipart()[-1])
    dealer.close()
    assert reply["id"] == 41 and reply["ok"] is False and reply["error"]["code"] == "bad_request"
    with pytest.raises(RequestRefused) as info:
        StationClient(link.ep["api"], link.ep["events"], timeout_s=30).request("parameters", limit="all")
    assert info.value.code == "bad_request" and "limit" in str(info.value)
    cases = [(["send", "PING", "--at", "2300-01-01T00:00:00Z"], "field at"),
             (["archive", "export", "--from", "9999-12-31T23:59:59Z"], "field from"),
             (["archive", "export", "--table", "cadus"], "--archive")]
    for args, said in cases:
        res = CliRunner().invoke(ttc_main, [*args, *link.urls])
        assert res.exit_code == 2, (args, res.output)
        assert said in res.output and "did not answer" not in res.output, (args, res.output)
        assert res.exception is None or isinstance(res.exception, SystemExit)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


_HOG_SUBSCRIBER = """
import sys, time, zmq
from groundstation.keys import client_credentials
ctx = zmq.Context.instance()
sub = ctx.socket(zmq.SUB)
sub.curve_publickey, sub.curve_secretkey, sub.curve_serverkey = client_credentials()  # $TTC_KEYS
sub.setsockopt(zmq.LINGER, 0); sub.connect(sys.argv[1])
time.sleep(0.3)  # connected
print("sent", flush=True)
sub.setsockopt(zmq.SUBSCRIBE, b"x" * (50 << 20))  # one 50 MB subscription message
time.sleep(2)
"""
_HOG_SENDER = """
import sys, time, zmq
from groundstation.keys import client_credentials
ctx = zmq.Context.instance()
dealer = ctx.socket(zmq.DEALER)
dealer.curve_publickey, dealer.curve_secretkey, dealer.curve_serverkey = client_credentials()  # $TTC_KEYS
dealer.setsockopt(zmq.LINGER, 0); dealer.connect(sys.argv[1])
dealer.send_multipart([b"", b"{" * (20 << 20)])  # a 20 MB request
pub = ctx.socket(zmq.PUB); pub.setsockopt(zmq.LINGER, 0); pub.connect(sys.argv[2])
time.sleep(0.3)
for _ in range(5):
    pub.send(b"\\x00" * (20 << 20)); time.sleep(0.05)  # 20 MB 'frames' to a bounded receiver
print("sent", flush=True)
"""


def test_oversized_messages_cost_the_sender_its_connection_not_the_station_its_memory(link: Link) -> None:
    """A 20 MB subscription took the station to 2.2 GiB and never gave it back; now libzmq drops such a peer
    (MAXMSGSIZE on the live stream, the API and the frame receivers; here two 50 MB subscriptions and a 20 MB
    request) and the station answers as before.
    The hogs are separate processes: libzmq 4.3.5 crashes the process that made a refused 20 MB
    subscription (seen here), which is the hog's problem, not the station's."""
    import subprocess
    import sys

    from protocol.links.zmqlink import DEFAULT_MAX_MSG, ZmqReceiver

    pid = link.station.proc.pid
    before = _rss_mb(pid)
    rx = ZmqReceiver("tcp://127.0.0.1:0", bind=True)
    hogs = [subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
            for code, args in ((_HOG_SUBSCRIBER, [link.ep["events"]]), (_HOG_SUBSCRIBER, [link.ep["events"]]),
                               (_HOG_SENDER, [link.ep["api"], rx.address]))]
    try:
        for hog in hogs:
            line = hog.stdout.readline().strip() if hog.stdout is not None else ""
            assert line == "sent", (hog.args[2:], hog.wait(5))
        for hog in hogs[:2]:  # the subscription sent (the hog may die of it: see above)
            try:
                hog.wait(4)
            except subprocess.TimeoutExpired:
                pass
        t0 = time.monotonic()
        assert link.gs.ping()["station"] == "ttc"
        assert time.monotonic() - t0 < 5
        link.sc.submit(link.sc.hk("OBC", REBOOT_COUNT=9))  # telemetry still flows
        link.until(lambda: [r for r in link.gs.parameters(names="REBOOT_COUNT") if r["raw"] == 9], what="HK after")
        grown = _rss_mb(pid) - before
        assert grown < 60, f"station RSS grew {grown:.0f} MB"
        while (frame := rx.recv(0.2)) is not None:  # nothing oversized was ever delivered
            assert len(frame.data) <= DEFAULT_MAX_MSG
        assert link.station.proc.poll() is None
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
        rx.close()


@pytest.mark.parametrize("keep_idle", [False, True])
def test_idle_cadus_are_decoded_but_archived_only_when_asked(tmp_path: Path, keep_idle: bool) -> None:
    lk = Link(tmp_path, extra=("--archive-idle",) if keep_idle else ())
    try:
        lk.sc.submit(lk.sc.hk("OBC", REBOOT_COUNT=4))
        lk.until(lambda: lk.gs.parameters(names="REBOOT_COUNT"), what="HK")
        lk.until(lambda: lk.gs.counters()["downlink"]["idle_frames"] >= 3, what="idle frames")
        c = lk.gs.counters()
    finally:
        lk.close()
    arc = sqlite3.connect(tmp_path / "station.db")
    archived = arc.execute("select count(*) from cadus").fetchone()[0]
    arc.close()
    d, st = c["downlink"], c["station"]
    if keep_idle:
        assert st["idle_cadus_not_archived"] == 0 and archived >= d["cadus"]
    else:
        assert st["idle_cadus_not_archived"] >= 3 and 1 <= archived <= d["cadus"] - 3
        assert archived + st["idle_cadus_not_archived"] >= d["cadus"]


def test_sigkill_mid_stream_loses_nothing_acknowledged_and_restart_resumes(tmp_path: Path) -> None:
    lk = Link(tmp_path)
    try:
        published: set[int] = set()
        stream = lk.gs.subscribe("parameter.BATTERY_SOC", timeout_s=10)
        for i in range(40):
            lk.sc.submit(lk.sc.hk("POWER", BATTERY_SOC=i + 20))
        for msg in stream:
            published.add(msg.data["packet_id"])
            if len(published) >= 20:
                break
        for i in range(40):  # still streaming while it dies
            lk.sc.submit(lk.sc.hk("POWER", BATTERY_SOC=i + 60))
        os.kill(lk.station.proc.pid, signal.SIGKILL)
        lk.station.kill()
        assert lk.station.proc.returncode == -signal.SIGKILL
        lk.gs.close()
        again = Link(tmp_path, sc=lk.sc)
        try:
            rows = again.gs.parameters(names="BATTERY_SOC", limit=10_000)
            assert published <= {r["packet_id"] for r in rows}  # every value published before the kill is there
            assert [r["raw"] for r in rows][:20] == list(range(20, 40))
            # ...and it resumes: new telemetry is archived after the earlier rows
            again.sc.submit(again.sc.hk("POWER", BATTERY_SOC=99))
            last = again.until(lambda: [r for r in again.gs.parameters(names="BATTERY_SOC", limit=10_000)
                                        if r["raw"] == 99], what="telemetry after restart")
            assert last[0]["id"] > rows[-1]["id"]
            again.uplink_ready()
            # the uplink sequence count continues instead of reusing request IDs of the first run
            seqs = [r["seq"] for r in again.gs.history(limit=100) if r["name"] == "PING"]
            assert len(seqs) == len(set(seqs))
        finally:
            again.close()
    finally:
        if lk.station.proc.poll() is None:
            lk.station.kill()
        lk.sc.stop()


def test_recording_replays_through_the_same_decode_path(tmp_path: Path) -> None:
    rec = tmp_path / "pass.ttcrec"
    lk = Link(tmp_path, extra=("--record", str(rec)))
    try:
        for v in (7.0, 7.5, 8.0):
            lk.sc.submit(lk.sc.hk("POWER", BATTERY_VOLTAGE=v))
        lk.until(lambda: len(lk.gs.parameters(names="BATTERY_VOLTAGE")) == 3, what="3 voltages")
        live = [(r["raw"], r["eng"], r["obt"]) for r in lk.gs.parameters(names="BATTERY_VOLTAGE")]
    finally:
        lk.close()
    replay = StationProcess(down_url=f"file://{rec}", archive=tmp_path / "replay.db", log_path=tmp_path / "r.log")
    try:
        gs = StationClient(replay.endpoints["api"], replay.endpoints["events"])
        try:
            recorded = len(read_recording(rec))
            assert recorded >= 3
            rows: list = []
            for _ in range(100):
                rows = gs.parameters(names="BATTERY_VOLTAGE")
                if len(rows) == 3 and gs.counters()["downlink"]["cadus"] == recorded:
                    break
                gs.next_message(timeout_s=0.1)
            assert [(r["raw"], r["eng"], r["obt"]) for r in rows] == live
            # every recorded CADU went through the decoder, none twice
            assert gs.counters()["downlink"]["cadus"] == recorded
        finally:
            gs.close()
    finally:
        assert replay.terminate() == 0


def test_monitor_events_and_export(link: Link, tmp_path: Path) -> None:
    link.sc.submit(link.sc.hk("POWER", BATTERY_SOC=10, BATTERY_VOLTAGE=7.4))
    link.sc.submit(link.sc.tm(5, 1, (0x0101).to_bytes(2, "big")))  # ECLIPSE_ENTRY
    link.until(lambda: link.gs.events(kind="onboard"), what="event")
    runner = CliRunner()
    res = runner.invoke(monitor, ["--once", *link.urls])
    assert res.exit_code == 0, res.output
    assert "BATTERY_SOC" in res.output and "CRITICAL" in res.output and "7.4" in res.output
    assert "ECLIPSE_ENTRY" in res.output and "entered eclipse" in res.output
    res = runner.invoke(monitor, ["--once", "--name", "BATERY_VOLTAGE", *link.urls])  # a typo
    assert res.exit_code == 2 and "did you mean BATTERY_VOLTAGE" in res.output, res.output
    res = runner.invoke(events, ["--json", *link.urls])
    kinds = [json.loads(line)["kind"] for line in res.output.splitlines()]
    assert res.exit_code == 0 and "onboard" in kinds and "alarm" in kinds
    res = runner.invoke(archive, ["export", "--format", "csv", "--name", "BATTERY_SOC", "--from", "-1h", *link.urls])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("id,name,raw,eng,unit,level") and ",BATTERY_SOC,10,10,%,2," in lines[1]
    res = runner.invoke(archive, ["export", "--format", "jsonl", "--table", "events", *link.urls])
    assert {json.loads(x)["name"] for x in res.output.splitlines()} >= {"ECLIPSE_ENTRY", "BATTERY_SOC"}
    out = tmp_path / "p.parquet"
    res = runner.invoke(archive, ["export", "--format", "parquet", "-o", str(out), *link.urls])
    assert res.exit_code == 0, res.output
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(out)
    assert table.num_rows == 6 and "BATTERY_VOLTAGE" in table.column("name").to_pylist()
    res = runner.invoke(archive, ["export", "--format", "jsonl", "--archive", link.ep["archive"], "--name",
                                  "BATTERY_VOLTAGE"])
    assert res.exit_code == 0 and json.loads(res.output.splitlines()[0])["eng"] == 7.4


def test_ttc_station_and_ttc_send_as_processes(tmp_path: Path) -> None:
    import subprocess
    import sys

    sc = FakeSpacecraft()
    lk = Link(tmp_path, sc=sc)
    try:
        lk.uplink_ready()
        ttc = [sys.executable, "-m", "groundstation.cli"]
        out = subprocess.run([*ttc, "send", "ping", "--wait", "completed", "--timeout", "10", *lk.urls],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert "command" in out.stdout and out.stdout.rstrip().endswith("completed")
        out = subprocess.run([*ttc, "send", "PAYLOAD_POWER", "STATE=MAYBE", *lk.urls], capture_output=True,
                             text=True, timeout=30)
        assert out.returncode == 2 and "allowed OFF (0) | ON (1)" in out.stderr
        env = dict(os.environ, TTC_API=lk.ep["api"], TTC_EVENTS=lk.ep["events"])
        out = subprocess.run([*ttc, "history", "--limit", "1"], capture_output=True, text=True, timeout=30, env=env)
        assert out.returncode == 0 and "PING" in out.stdout and "[completed]" in out.stdout
    finally:
        lk.close()
    # `ttc station` runs the same program; SIGINT stops it cleanly
    station = StationProcess(down_url=sc.down_url, archive=tmp_path / "t.db", log_path=tmp_path / "t.log",
                             program=("-m", "groundstation.cli", "station"))
    try:
        assert set(station.endpoints) >= {"down", "up", "api", "events", "archive"}
        station.proc.send_signal(signal.SIGINT)
        assert station.proc.wait(timeout=10) == 0
    finally:
        station.kill()
        sc.stop()


def _damaged_recording(tmp_path: Path) -> tuple[Path, int]:
    """A live pass's recording with a record of impossible length spliced in and a ten-day jump before its last
    third; the number of good records."""
    import struct

    from protocol.links.recording import MAGIC

    rec = tmp_path / "pass.ttcrec"
    lk = Link(tmp_path, extra=("--record", str(rec)))
    try:
        for v in (7.0, 7.5, 8.0):
            lk.sc.submit(lk.sc.hk("POWER", BATTERY_VOLTAGE=v))
        lk.until(lambda: len(lk.gs.parameters(names="BATTERY_VOLTAGE")) == 3, what="3 voltages")
    finally:
        lk.close()
    frames = read_recording(rec)
    ten_days_ns = 10 * 86400 * 10**9
    out = bytearray(MAGIC)
    for i, f in enumerate(frames):
        if i == len(frames) // 2:
            out += struct.pack(">QI", f.ert_ns, 50 << 20) + b"\xAB" * 64  # a 50 MB "record", 64 octets long
        ert = f.ert_ns + (ten_days_ns if i >= len(frames) * 2 // 3 else 0)
        out += struct.pack(">QI", ert, len(f.data)) + f.data
    bad = tmp_path / "damaged.ttcrec"
    bad.write_bytes(bytes(out))
    return bad, len(frames)


@pytest.mark.parametrize("realtime", [False, True])
def test_a_damaged_recording_with_a_time_jump_replays_whole_and_stops_on_sigterm(tmp_path: Path,
                                                                                 realtime: bool) -> None:
    bad, good = _damaged_recording(tmp_path)
    url = f"file://{bad}" + ("?realtime=1" if realtime else "")
    replay = StationProcess(down_url=url, archive=tmp_path / "replay.db", log_path=tmp_path / "r.log")
    try:
        gs = StationClient(replay.endpoints["api"], replay.endpoints["events"])
        try:
            gs.until(lambda: gs.counters()["downlink"]["cadus"] == good, "every good record replayed",
                     timeout_s=60)
            assert len(gs.parameters(names="BATTERY_VOLTAGE")) == 3
        finally:
            gs.close()
    finally:
        assert replay.terminate() == 0  # neither the damage nor the ten days kept it from stopping
    assert "Traceback" not in (tmp_path / "r.log").read_text()


def test_a_restart_leaves_scheduled_commands_scheduled_and_in_flight_ones_unknown(tmp_path: Path) -> None:
    """In process: the verdict rules on an archive a previous station life left behind."""
    from groundstation.archive import Archive
    from groundstation.station import Station
    from protocol.links.recording import RecordingWriter

    db = tmp_path / "gs.db"
    a = Archive(db)
    now = time.time_ns()
    future = a.add_command(submitted_ns=now, name="PING", args={}, apid=0x10, seq=1, tc=b"",
                           release_at="2300-01-01T00:00:00.000000Z", wrapper_apid=0x10, wrapper_seq=2)
    a.add_stage(future, stage="completed", ok=True, of="schedule", time_ns=now, status="scheduled")
    flying = a.add_command(submitted_ns=now, name="PING", args={}, apid=0x10, seq=3, tc=b"")
    a.add_stage(flying, stage="sent", ok=True, of="station", time_ns=now, status="sent")
    a.close()
    empty = tmp_path / "empty.ttcrec"
    RecordingWriter(empty).close()
    st = Station(down_url=f"file://{empty}", up_url=f"file://{tmp_path / 'up.bin'}", archive_path=db,
                 api_url=f"ipc://{tmp_path / 'api'}", events_url=f"ipc://{tmp_path / 'ev'}", insecure=True)
    try:
        st._check_verdicts()  # no downlink at all: nothing can be called lost
        by_id = {r["id"]: r for r in st.archive.history()}
        assert by_id[future]["status"] == "scheduled"  # released in 2300: nothing to say before then
        assert by_id[flying]["status"] == "unknown"
        assert by_id[flying]["stages"][-1]["reason"] == "the station was down while it was in flight"
    finally:
        st.close()


def test_stale_values_and_the_link_status_reach_the_monitor_and_the_live_stream(link: Link) -> None:
    link.sc.submit(link.sc.hk("POWER", BATTERY_SOC=80, BATTERY_VOLTAGE=7.6))
    link.until(lambda: link.gs.parameters(names="BATTERY_SOC"), what="HK")
    # the live stream's counters message carries the link status every second
    link.until(lambda: link.gs.counters()["link"]["state"] == "AOS", what="AOS")
    msg = next(link.gs.subscribe("counters", timeout_s=5))
    assert msg.data["link"]["state"] == "AOS" and msg.data["link"]["frames_per_s"] > 0
    runner = CliRunner()
    res = runner.invoke(monitor, ["--once", "--stale-factor", "1000", *link.urls])  # fresh by any measure
    assert res.exit_code == 0 and "link AOS" in res.output and "STALE" not in res.output, res.output
    latest = {p["name"]: p for p in link.gs.latest(stale_factor=0.001, expire_factor=1000)["parameters"]}
    assert latest["BATTERY_SOC"]["freshness"] == "STALE"  # older than 0.001 x its interval
    assert latest["BATTERY_SOC"]["age_s"] >= 0
    res = runner.invoke(monitor, ["--once", "--stale-factor", "0.001", "--expire-factor", "0.002", *link.urls])
    assert res.exit_code == 0 and "EXPIRED" in res.output, res.output
    # the downlink stops: LOS after the station's 5 s, and the header says so
    link.sc.stop()
    link.until(lambda: link.gs.counters()["link"]["state"] == "LOS", what="LOS", timeout_s=30)
    res = runner.invoke(monitor, ["--once", *link.urls])
    assert res.exit_code == 0 and "link LOS" in res.output and "last frame" in res.output, res.output
    # an 80-column terminal: nothing runs past the edge
    res = runner.invoke(monitor, ["--once", *link.urls], env={"COLUMNS": "80", "LINES": "24"})
    assert res.exit_code == 0 and "link LOS" in res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80, res.output
    # the live view in 80 x 24: everything fits, the out-of-limit or stale values first, the rest counted
    from rich.console import Console

    from groundstation.operate import _snapshot

    console = Console(width=80, height=24, record=True, color_system=None)
    console.print(_snapshot(link.gs, names=(), events_n=10, height=24))
    screen = console.export_text().splitlines()
    assert len(screen) <= 24 and max(len(line) for line in screen) <= 80, "\n".join(screen)
    assert screen[0].startswith("link LOS") and any("more (--name" in line for line in screen), "\n".join(screen)


def test_events_follow_says_when_the_station_is_unreachable_and_when_it_is_back(tmp_path: Path) -> None:
    import selectors
    import socket
    import subprocess
    import sys

    import os

    from protocol.links.recording import RecordingWriter

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    api, ev = (f"tcp://127.0.0.1:{p}" for p in ports)
    follower = subprocess.Popen([sys.executable, "-m", "groundstation.cli", "events", "--follow", "--follow-timeout",
                                 "60", "--api", api, "--events", ev], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    said: list[str] = []

    pending = [b""]

    def said_line(what: str, timeout_s: float = 30.0) -> None:
        """Read the follower's stderr (raw: a text buffer would hide lines from the selector) until ``what``."""
        assert follower.stderr is not None
        fd = follower.stderr.fileno()
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                *lines, pending[0] = pending[0].split(b"\n")
                for raw in lines:
                    said.append(raw.decode())
                    if what in said[-1]:
                        pending[0] = b"\n".join(lines[lines.index(raw) + 1:] + [pending[0]])
                        return
                if time.monotonic() > deadline:
                    raise AssertionError(f"follower never said {what!r}: {said}")
                if sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    chunk = os.read(fd, 4096)
                    if not chunk:
                        raise AssertionError(f"follower ended before saying {what!r}: {said}")
                    pending[0] += chunk
        finally:
            sel.close()

    empty = tmp_path / "empty.ttcrec"
    RecordingWriter(empty).close()
    try:
        said_line("station unreachable since")  # nobody there: said, not silence
        station = StationProcess(down_url=f"file://{empty}", archive=tmp_path / "gs.db", log_path=tmp_path / "gs.log",
                                 extra=("--api", api, "--events", ev))
        try:
            said_line("station back")  # it recovered by itself
        finally:
            assert station.terminate() == 0
        said_line("station unreachable since")  # and notices the next outage too
        assert follower.poll() is None  # still following
    finally:
        follower.terminate()
        follower.wait(10)
    assert not any("Traceback" in line for line in said)


def test_a_parameter_going_stale_and_expiring_is_said_on_the_live_stream(tmp_path: Path) -> None:
    lk = Link(tmp_path, extra=("--stale-factor", "0.4", "--expire-factor", "1"))  # of 5 s: 2 s and 5 s
    try:
        stream = lk.gs.subscribe("freshness.BATTERY_SOC", timeout_s=20)
        lk.sc.submit(lk.sc.hk("POWER", BATTERY_SOC=80, BATTERY_VOLTAGE=7.6))
        lk.until(lambda: lk.gs.parameters(names="BATTERY_SOC"), what="HK")
        said = [next(stream).data, next(stream).data]
        assert [m["freshness"] for m in said] == ["STALE", "EXPIRED"], said
        assert said[0]["name"] == "BATTERY_SOC" and said[0]["interval_s"] == 5.0 and said[1]["age_s"] >= 5.0
        lk.sc.submit(lk.sc.hk("POWER", BATTERY_SOC=81, BATTERY_VOLTAGE=7.6))  # news: fresh again
        assert next(stream).data["freshness"] == "FRESH"
    finally:
        lk.close()
