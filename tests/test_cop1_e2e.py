"""COP-1 end to end (CCSDS 232.1-B-2): the real spacecraft, ``ttc channel`` and station processes, with
20 % of frames lost both ways and a BER of 1e-5. Every command sent AD runs on board exactly once, in
the order sent (the spacecraft's own flight log is compared with what was sent), and the station's
history and COP-1 status say so; the CLI drives the directives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from groundstation.loopback import LoopbackPass, PassConfig
from protocol.mission import MISSION

pytestmark = pytest.mark.slow
TTC = [sys.executable, "-m", "groundstation.cli"]
N_COMMANDS = 40


def _flight_commands(path: Path) -> list[tuple[int, int, str]]:
    out = []
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("k") == "c":
            out.append((entry["apid"], entry["seq"], entry["o"]))
    return out


def test_commands_arrive_exactly_once_in_order_through_a_lossy_link(tmp_path: Path) -> None:
    flight = tmp_path / "flight.jsonl"
    cfg = PassConfig(ber=1e-5, loss=0.2, seed=5, hk_interval_s=2.0, extra_spacecraft=("--flight-log", str(flight)))
    with LoopbackPass(tmp_path, cfg) as p:
        urls = ["--api", p.station.endpoints["api"], "--events", p.station.endpoints["events"]]
        out = subprocess.run([*TTC, "cop1", "set-timer", "0.5", *urls], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        out = subprocess.run([*TTC, "cop1", "initiate-unlock", *urls], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "accepted" in out.stdout, out.stdout + out.stderr
        status = p.until(lambda: (s := p.gs.request("cop1")["status"])["state"] == "S1" and s,
                         "AD service initiated (the Unlock BC frame acknowledged by a CLCW)", timeout_s=60)
        assert status["service"] == "AD"

        sent = [p.gs.request("send", name="PING") for _ in range(N_COMMANDS)]
        assert all(r["service"] == "AD" for r in sent)
        ids = [r["command_id"] for r in sent]
        p.until(lambda: all(p.gs.history(command_id=i, limit=1)[0]["status"] in ("completed", "failed", "lost")
                            for i in ids), "every command's verdict", timeout_s=240)
        history = {i: p.gs.history(command_id=i, limit=1)[0] for i in ids}
        status = p.gs.request("cop1")["status"]
        out = subprocess.run([*TTC, "cop1", *urls], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "S1 active" in out.stdout and "last CLCW" in out.stdout, out.stdout
    assert [h["status"] for h in history.values()] == ["completed"] * N_COMMANDS, history
    apid = MISSION.command("PING").apid
    want = [(apid, r["sequence_count"]) for r in sent]
    ran = [(a, s) for a, s, o in _flight_commands(flight) if o == "completed" and a == apid]
    # the station's own TC[15,128] store acknowledgements share the APID: our PINGs are the ones sent
    assert [r for r in ran if r in set(want)] == want  # each once, in the order sent
    assert len(ran) == len(set(ran))  # and nothing on this APID ran twice
    assert status["ad_retransmissions"] > 0 and status["commands_delivered"] >= N_COMMANDS
    assert status["alerts"] == {} and status["last_clcw"]["lockout"] is False
