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


def test_sdls_commands_run_and_forged_ones_are_refused_and_reported(tmp_path: Path) -> None:
    """SDLS (355.0-B-2, AES-256-GCM) on the uplink of the real processes: the station's frames (COP-1 AD,
    its own BD traffic) pass; frames injected into the uplink by someone without the key -- in clear, or
    protected under another key -- never run, and the spacecraft reports them (SECURITY_REJECTED)."""
    from groundstation.sdlskeys import KeyFile
    from protocol.links import Carries, open_sender
    from protocol.sdls import SdlsSender
    from protocol.stack import UplinkEncoder

    flight = tmp_path / "flight.jsonl"
    cfg = PassConfig(ber=0.0, seed=8, hk_interval_s=2.0, sdls=True, extra_spacecraft=("--flight-log", str(flight)))
    with LoopbackPass(tmp_path, cfg) as p:
        p.gs.cop1("initiate-unlock")
        p.until(lambda: p.gs.cop1()["status"]["state"] == "S1", "AD service through SDLS", timeout_s=60)
        sent = [p.gs.request("send", name="PING") for _ in range(5)]
        p.until(lambda: all(p.gs.history(command_id=r["command_id"], limit=1)[0]["status"] == "completed"
                            for r in sent), "the protected commands", timeout_s=60)
        assert p.gs.cop1()["status"]["sdls_protected"] >= 6  # the Unlock and the five PINGs at least

        # the attacker: on the uplink too, with a PING of a sequence count the station never uses
        forged_ping = MISSION.command("PING").to_tc({}, sequence_count=9999).encode()
        encoder = UplinkEncoder(MISSION.uplink)
        sa = KeyFile.load(p.sdls_keys).operational()
        wrong_key = SdlsSender(sa, bytes(32), iv=40)  # IVs just ahead of the station's: inside the window
        _, station_links = p._links()  # the attacker connects where the station's uplink does
        attacker = open_sender(station_links["up"], carries=Carries.CLTUS)
        def reported(reason: str) -> list[dict]:
            return [e for e in p.gs.events(names=["SECURITY_REJECTED"], limit=50)
                    if e["data"]["values"]["REASON"] == reason]

        def attack(protected: bool) -> bool:
            for frame in encoder.frames(forged_ping):
                attacker.send(encoder.cltu(wrong_key.protect(frame) if protected else frame))
            return True

        try:  # in clear (no SA has its "SPI"), then under another key; reported at most once a second each
            clear = p.until(lambda: attack(False) and reported("UNKNOWN_SPI"), "UNKNOWN_SPI reported", timeout_s=30)
            forged = p.until(lambda: attack(True) and reported("BAD_MAC"), "BAD_MAC reported", timeout_s=30)
        finally:
            attacker.close()
        more = p.gs.request("send", name="PING")  # and the genuine uplink goes on
        p.until(lambda: p.gs.history(command_id=more["command_id"], limit=1)[0]["status"] == "completed",
                "a protected command after the attack", timeout_s=60)
    ran = [(a, s) for a, s, o in _flight_commands(flight) if o == "accepted"]
    assert (MISSION.command("PING").apid, 9999) not in ran
    assert len(ran) == len(set(ran))
    assert clear[0]["kind"] == "onboard" and clear[0]["data"]["values"]["SPI"] == 0
    assert forged[0]["data"]["values"]["SPI"] == sa.spi and forged[0]["data"]["values"]["FRAMES_REFUSED"] >= 2
