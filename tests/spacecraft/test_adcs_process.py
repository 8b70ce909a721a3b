"""Issue 4's proof on the spacecraft: target tracking commanded from the ground with ``ttc send`` changes the
ADCS mode, and the pointing error shows up in the station's archived housekeeping.

Real processes (channel, ``python -m spacecraft`` with its ADCS simulation, station) on loopback, started by
:class:`groundstation.loopback.LoopbackPass` and waited for through their READY lines; ``ttc send`` runs as a
program. The spacecraft starts at a fixed UTC instant with its clock running 5x, and the target lies 1 deg east
of the ground track under the spacecraft 60 s after that instant, so it is in view from the start.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from groundstation.loopback import LoopbackPass, PassConfig
from spacecraft.adcs import Orbit, Target, find_windows

from .adcs_scenario import point_below

pytestmark = pytest.mark.slow
TTC = [sys.executable, "-m", "groundstation.cli"]
START = datetime(2025, 3, 1, 10, 0, 0, tzinfo=UTC)


def test_ttc_send_target_tracking_changes_the_mode_and_the_pointing_error_is_archived(tmp_path: Path) -> None:
    orbit = Orbit(start_utc=START)
    lat, lon = point_below(orbit, 60.0, cross_track_deg=1.0)
    (window, *_) = find_windows(orbit, Target("t", lat, lon), start_s=-600.0, duration_s=1200.0)
    assert window.start_s < 0.0 and window.end_s > 200.0  # in view for the whole test (< 40 s of wall time)

    config = PassConfig(ber=0.0, speed=5.0, hk_interval_s=2.0, seed=4,
                        extra_spacecraft=("--start-utc", START.strftime("%Y-%m-%dT%H:%M:%S")))
    with LoopbackPass(tmp_path, config) as p:
        urls = ["--api", p.station.endpoints["api"], "--events", p.station.endpoints["events"]]

        def ttc_send(*argv: str) -> str:
            out = subprocess.run([*TTC, "send", *argv, "--wait", "completed", "--timeout", "15", *urls],
                                 check=False, capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stdout + out.stderr
            return out.stdout

        def archived(name: str) -> list[dict]:
            return p.gs.parameters(names=[name], limit=1000)

        # before: detumbling after boot, no target
        p.until(lambda: any(r["eng"] == "DETUMBLE" for r in archived("ADCS_CONTROL_MODE")), "HK_ADCS archived")
        ttc_send("ADCS_ADD_TARGET", "TARGET_ID=42", f"LAT={lat:.6f}", f"LON={lon:.6f}", "ALT=0")
        before = max(r["packet_id"] for r in archived("ADCS_CONTROL_MODE"))
        # hazardous: without a confirmation (stdin gives none) nothing is sent; --yes confirms it
        sent_before = p.gs.counters()["uplink"]["commands_sent"]
        refused = subprocess.run([*TTC, "send", "ADCS_SET_MODE", "MODE=TARGET_TRACKING", *urls], check=False,
                                 capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert refused.returncode == 2 and "hazardous" in refused.stderr and "nothing sent" in refused.stderr
        assert p.gs.counters()["uplink"]["commands_sent"] == sent_before
        assert "completed" in ttc_send("ADCS_SET_MODE", "MODE=TARGET_TRACKING", "--yes")

        def tracking() -> list[dict]:
            return [r for r in archived("ADCS_CONTROL_MODE") if r["packet_id"] > before
                    and r["eng"] == "TARGET_TRACKING"]

        p.until(tracking, "TARGET_TRACKING in the archived HK_ADCS")
        # the slew, then the boresight on the target: the pointing error comes down through the archive
        settled = p.until(lambda: [r for r in archived("ADCS_TARGET_ERROR")
                                   if r["packet_id"] > before and 0 < r["eng"] < 0.01], "a settled pointing error",
                          timeout_s=25)
        errors = [r for r in archived("ADCS_TARGET_ERROR") if r["packet_id"] > before]
        assert max(r["eng"] for r in errors) > 1.0 and settled[0]["unit"] == "deg"  # the slew was archived too
        assert max(r["level"] for r in errors) == 2  # beyond the 0.1 deg hard limit while slewing
        assert settled[-1]["level"] == 0
        tracked = {r["packet_id"] for r in tracking()}
        assert {r["raw"] for r in archived("ADCS_TARGET_ID") if r["packet_id"] in tracked} == {42}
        # the mode is also in HK_OBC, and the events came down
        assert any(r["eng"] == "TARGET_TRACKING" for r in p.gs.parameters(names=["ADCS_MODE"], limit=1000))
        names = [e["name"] for e in p.gs.events(kind="onboard", limit=1000)]
        assert "ADCS_MODE_CHANGED" in names and "ADCS_WINDOW_OPEN" in names
        p.until(lambda: p.gs.events(names=["ADCS_TARGET_ACQUIRED"]), "ADCS_TARGET_ACQUIRED archived")
    assert p.exit_codes == {"station": 0, "spacecraft": 0, "channel": 0}


def test_no_adcs_flag_and_a_bad_tle_file(tmp_path: Path) -> None:
    from groundstation.loopback import Child

    sc = Child("spacecraft", [sys.executable, "-m", "spacecraft", "--no-adcs"], log_path=tmp_path / "sc.log")
    assert sc.stop() == 0
    assert "ADCS off" in (tmp_path / "sc.log").read_text()
    bad = tmp_path / "orbit.tle"
    bad.write_text("1 only one line\n")
    out = subprocess.run([sys.executable, "-m", "spacecraft", "--tle", str(bad)], check=False, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2 and "a TLE has 2" in out.stderr
