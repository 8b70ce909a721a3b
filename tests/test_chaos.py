"""Nothing lost across kills and outages: tools/chaos.py's short seeded run, the real processes on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e_tools import REPO

pytestmark = pytest.mark.slow


def test_kills_and_link_drops_lose_nothing_duplicate_nothing_and_every_verdict_is_true(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(REPO / "tools" / "chaos.py"), "--quick", "--seed", "5",
                          "--workdir", str(tmp_path / "run"), "--json", str(tmp_path / "chaos.json"),
                          "--settle-s", "200"], capture_output=True, text=True, timeout=600, cwd=REPO)
    figures = json.loads((tmp_path / "chaos.json").read_text())
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert figures["kills"] == 8 and len(figures["kills_by_target"]) >= 2
    assert figures["operator_error"] is None
    assert figures["packets_generated"] > 100 and figures["packets_archived"] == figures["packets_generated"]
    assert figures["packets_lost"] == 0 and figures["packets_duplicated"] == 0
    assert figures["commands_sent"] >= 20 and figures["commands_with_wrong_verdict"] == 0
    assert set(figures["verdicts"]) <= {"completed", "failed", "lost", "timed out"}
    assert figures["verdicts"].get("failed", 0) > 0  # REPORT_HK of the ADCS fails on a spacecraft without one
    assert figures["settled"]
    # the station's own log shows gaps it asked for and closed
    station_log = (tmp_path / "run" / "station.log").read_text()
    assert "PACKET_GAP" in station_log or "packet(s) missing" in station_log
