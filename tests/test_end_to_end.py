"""Spacecraft, channel and station as real processes over loopback sockets: the loop an operator works in.

Everything here starts the real programs (``python -m spacecraft``,
``python -m protocol.links.channel``, ``python -m groundstation.station``) and
talks to them over real ZeroMQ sockets on 127.0.0.1; processes are waited for
through their READY lines and the station's live stream, never with sleeps.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from groundstation.client import CommandFailed
from groundstation.demo import run_demo
from groundstation.loopback import Child, LoopbackPass, PassConfig
from protocol.links import open_receiver, open_sender
from protocol.randomiser import tm_randomise
from protocol.stack import DownlinkConfig
from protocol.mission import MISSION
from protocol.tmframe import HEADER_BITS as TM_HEADER_BITS

pytestmark = pytest.mark.slow
TTC = [sys.executable, "-m", "groundstation.cli"]


def _archive(path: Path, sql: str) -> list[tuple]:
    """Rows from the station's archive, read with a separate connection (what was committed)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return con.execute(sql).fetchall()


def test_scripted_pass_and_offline_decode_agree_with_the_archive(tmp_path: Path) -> None:
    lines: list[str] = []
    outcome = run_demo(tmp_path, PassConfig(ber=1e-5, seed=3), echo=lines.append)
    steps = outcome["steps"]
    assert outcome["exit_codes"] == {"station": 0, "spacecraft": 0, "channel": 0}, lines
    # the ping went AD through COP-1 (initiated first): FARM-1's CLCW acknowledged it, and it completed
    assert steps["cop1_initiated"]["state"] == "S1"
    ping_stages = [(s["stage"], s["of"]) for s in steps["ping"]]
    assert ("completed", "tc") in ping_stages and ("delivered", "cop1") in ping_stages
    assert steps["cop1"]["commands_failed"] == 0 and steps["cop1"]["alerts"] == {}
    # the time-tagged ping ran on board at its release time (not when it was sent, 4 s earlier)
    tt = steps["time_tagged"]
    assert [s["stage"] for s in tt["stages"] if s.get("of") == "tc"][-1] == "completed"
    assert tt["release"] - 0.5 <= tt["completed_s"] <= tt["release"] + 3.0
    assert steps["alarm"]["eng"] == pytest.approx(40.0) and steps["alarm"]["level"] == 1
    assert steps["failure"]["reason"] == "WRONG_MODE"
    d = outcome["counters"]["downlink"]
    assert d["rs_uncorrectable"] == 0 and d["crc_errors"] == 0 and d["packet_gaps"] == 0

    # the heater set point reached the archive as set (40.00 degC), from housekeeping
    values = _archive(tmp_path / "station.db", "select eng from parameters where name = 'HEATER_SETPOINT'")
    assert pytest.approx(40.0) in [v for (v,) in values]

    # ttc decode of the station's recording gives the same packets and parameter values as the live archive
    out = subprocess.run([*TTC, "decode", str(tmp_path / "downlink.ttcrec"), "--json", "--packets",
                          str(tmp_path / "p.jsonl"), "--parameters", str(tmp_path / "v.jsonl"), "--format", "jsonl"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    db = tmp_path / "station.db"
    # the counters above were read mid-pass; the archive holds what the station had when it stopped
    archived = _archive(db, "select count(*) from cadus")[0][0]  # idle CADUs are recorded, not archived
    assert summary["cadus"] >= d["cadus"] and summary["idle_frames"] > 0
    assert archived == summary["cadus"] - summary["idle_frames"]
    assert summary["rs_corrected"] >= d["rs_corrected"]
    assert summary["packets_by_apid"] == {str(a): n for a, n in _archive(db, "select apid, count(*) from packets "
                                                                            "group by apid")}
    offline_packets = [json.loads(x)["data_hex"] for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    live_packets = [bytes(data).hex() for (data,) in _archive(tmp_path / "station.db",
                                                              "select data from packets order by id")]
    assert offline_packets == live_packets and len(live_packets) > 20
    offline_values = [(v["parameter"], v["raw"]) for v in map(json.loads,
                                                             (tmp_path / "v.jsonl").read_text().splitlines())]
    live_values = _archive(tmp_path / "station.db", "select name, raw from parameters order by id")
    assert offline_values == [tuple(v) for v in live_values]


def test_out_of_range_argument_is_refused_by_the_cli_and_nothing_is_sent(tmp_path: Path) -> None:
    with LoopbackPass(tmp_path, PassConfig(ber=0.0)) as p:
        before = p.gs.counters()["uplink"]
        urls = ["--api", p.station.endpoints["api"], "--events", p.station.endpoints["events"]]
        out = subprocess.run([*TTC, "send", "SET_HK_INTERVAL", "SID=POWER", "INTERVAL=99999", *urls],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 2
        assert "SET_HK_INTERVAL.INTERVAL" in out.stderr + out.stdout and "99999" in out.stderr + out.stdout
        assert "1..3600 s" in out.stderr + out.stdout
        out = subprocess.run([*TTC, "send", "PIGN", *urls], capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and "did you mean PING" in out.stderr + out.stdout
        after = p.gs.counters()["uplink"]
        assert after["commands_sent"] == before["commands_sent"] and after["cltus_sent"] == before["cltus_sent"]
        assert _archive(p.archive, "select count(*) from commands") == [(0,)]


def test_bit_errors_are_corrected_and_counted(tmp_path: Path) -> None:
    with LoopbackPass(tmp_path, PassConfig(ber=1e-4, seed=11)) as p:
        counters = p.until(lambda: (c := p.gs.counters()["downlink"])["rs_corrected"] > 20 and c, "RS corrections")
        assert counters["rs_uncorrectable"] == 0 and counters["packet_gaps"] == 0
        p.until(lambda: p.gs.parameters(names=["UPTIME"]), "housekeeping through the noisy channel")


class _Relay(threading.Thread):
    """A test-side channel: relays CADUs and destroys one codeblock of the first frame that carries packets."""

    def __init__(self, sc_down: str) -> None:
        super().__init__(daemon=True)
        self.rx = open_receiver(sc_down)
        self.tx = open_sender("zmq://127.0.0.1:0")
        self.url = "zmq://" + self.tx.address.removeprefix("tcp://")  # type: ignore[attr-defined]
        self.stop = threading.Event()
        self.destroyed: int | None = None  # VC frame count of the frame destroyed
        self.relayed = 0

    def run(self) -> None:
        vcid_at = TM_HEADER_BITS.names.index("vcid")
        count_at = TM_HEADER_BITS.names.index("vc_frame_count")
        try:
            while not self.stop.is_set():
                frame = self.rx.recv(0.1)
                if frame is None:
                    continue
                cadu = bytearray(frame.data)
                header = TM_HEADER_BITS.unpack(tm_randomise(bytes(cadu[4:10])))
                # destroy the 3rd housekeeping frame of VC 0 (the station is listening by then)
                if self.destroyed is None and header[vcid_at] == 0 and self.relayed > 50:
                    rng = np.random.default_rng(0)
                    for t in rng.choice(255, size=40, replace=False):  # 40 symbols of codeword 0: beyond 16
                        cadu[4 + int(t) * 4] ^= 0xFF
                    self.destroyed = header[count_at]
                self.tx.send(bytes(cadu))
                self.relayed += 1
        finally:
            self.rx.close()
            self.tx.close()


def test_uncorrectable_frame_is_counted_and_its_loss_is_a_sequence_gap(tmp_path: Path) -> None:
    sc = Child("spacecraft", [sys.executable, "-m", "spacecraft", "--down", "zmq://127.0.0.1:0",
                              "--hk-interval", "0.2", "--seed", "2"], log_path=tmp_path / "sc.log")
    relay = _Relay(sc.endpoints["down"])
    relay.start()
    station = Child("station", [sys.executable, "-m", "groundstation.station", "--down", relay.url,
                                "--archive", str(tmp_path / "gs.db"), "--api", "tcp://127.0.0.1:0",
                                "--events", "tcp://127.0.0.1:0"], log_path=tmp_path / "gs.log")
    try:
        from groundstation.client import StationClient

        with StationClient(station.endpoints["api"], station.endpoints["events"]) as gs:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                c = gs.counters()["downlink"]
                if c["rs_uncorrectable"] and c["packet_gaps"]:
                    break
                gs.next_message(timeout_s=0.2)
            assert relay.destroyed is not None
            assert c["rs_uncorrectable"] == 1 and c["frame_gaps"] == 1 and c["frames_missing"] == 1
            assert c["packet_gaps"] >= 1 and c["packets_missing"] >= 1
            kinds = {e["name"] for e in gs.events(kind="link")}
            assert {"CODEBLOCK_UNCORRECTABLE", "PACKET_GAP", "FRAME_GAP"} <= kinds
    finally:
        relay.stop.set()
        assert station.stop() == 0
        assert sc.stop() == 0
        relay.join(5)


def test_station_sigkill_and_spacecraft_restart(tmp_path: Path) -> None:
    with LoopbackPass(tmp_path, PassConfig(ber=0.0, hk_interval_s=0.3)) as p:
        p.until(lambda: len(p.gs.parameters(names=["UPTIME"])) >= 3, "housekeeping")
        # the station dies without warning mid-stream
        p.station.kill()
        archived = _archive(p.archive, "select id, data from packets order by id")
        assert len(archived) >= 3
        p.start_station()
        p.until(lambda: p.gs.packets(after_id=archived[-1][0], limit=5), "packets after the restart")
        # everything archived before the kill is still there, unchanged
        assert _archive(p.archive, f"select id, data from packets where id <= {archived[-1][0]} order by id") \
            == archived
        # the spacecraft dies and comes back on its state directory: the station resynchronises
        reboots = p.until(lambda: p.gs.parameters(names=["REBOOT_COUNT"], limit=1, newest=True), "REBOOT_COUNT")
        last_id = _archive(p.archive, "select max(id) from packets")[0][0]
        p.spacecraft.kill()
        p.start_spacecraft()
        # packets queued before the kill may come down first (from the store, old count): wait for the new one
        fresh = p.until(lambda: [r for r in p.gs.parameters(names=["REBOOT_COUNT"], limit=20, newest=True)
                                 if r["packet_id"] > last_id and r["raw"] == reboots[-1]["raw"] + 1],
                        "housekeeping from the restarted spacecraft, one more reboot counted")
        assert fresh and all(r["raw"] <= reboots[-1]["raw"] + 1 for r in
                             p.gs.parameters(names=["REBOOT_COUNT"], limit=20, newest=True))
        try:
            stages = p.gs.wait(p.gs.send("PING"), "completed", timeout_s=5)
        except CommandFailed as e:  # pragma: no cover - reported with its stages
            raise AssertionError(e.stages) from e
        assert stages[-1]["stage"] == "completed"
        counters = p.gs.counters()
        assert counters["station"]["internal_errors"] == 0
    assert p.exit_codes == {"station": 0, "spacecraft": 0, "channel": 0}


def test_dictionary_and_link_config_agree() -> None:
    # both ends build their chains from the same declarations
    assert DownlinkConfig.cubesat(scid=MISSION.scid, interleave=4).frame.scid == MISSION.scid
