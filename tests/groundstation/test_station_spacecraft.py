"""The station against the real spacecraft process (`python -m spacecraft`), both started for real over ipc."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from groundstation.client import StationClient
from groundstation.operate import send

from .fake_spacecraft import StationProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[StationProcess, StationClient]]:
    down, up = f"zmq+ipc://{tmp_path}/down", f"zmq+ipc://{tmp_path}/up"
    station = StationProcess(down_url=down, up_url=up, archive=tmp_path / "gs.db", log_path=tmp_path / "gs.log")
    sc_log = open(tmp_path / "sc.log", "wb")  # noqa: SIM115 - closed below
    sc = subprocess.Popen([sys.executable, "-m", "spacecraft", "--down", down, "--up", up, "--hk-interval", "0.5",
                           "--seed", "1"], stdout=subprocess.PIPE, stderr=sc_log)
    gs = StationClient(station.endpoints["api"], station.endpoints["events"])
    try:
        assert sc.stdout is not None and sc.stdout.readline().startswith(b"READY ")
        yield station, gs
    finally:
        gs.close()
        sc.terminate()
        try:
            assert sc.wait(timeout=10) == 0
        finally:
            if sc.poll() is None:
                sc.kill()
            sc_log.close()
            assert station.terminate() == 0, station.log_path.read_text()


def test_housekeeping_commands_and_failures_with_the_real_spacecraft(pair) -> None:  # type: ignore[no-untyped-def]
    station, gs = pair
    rows = gs.until(lambda: gs.parameters(names=["BATTERY_SOC", "UPTIME"]), "housekeeping", timeout_s=10)
    assert {r["name"] for r in rows} <= {"BATTERY_SOC", "UPTIME"} and all(r["obt"] for r in rows)
    urls = ["--api", station.endpoints["api"], "--events", station.endpoints["events"]]
    runner = CliRunner()
    # the uplink is lossy until ZeroMQ has connected: an operator re-sends, so does this test
    for _ in range(10):
        res = runner.invoke(send, ["PING", "--wait", "completed", "--timeout", "2", *urls])
        if res.exit_code == 0:
            break
    assert res.exit_code == 0, res.output
    res = runner.invoke(send, ["IMAGER_CAPTURE", "EXPOSURE=50", "--wait", "completed", "--timeout", "10", *urls])
    assert res.exit_code == 1 and "WRONG_MODE" in res.output, res.output
    res = runner.invoke(send, ["SET_HK_INTERVAL", "SID=OBC", "INTERVAL=2", "--wait", "completed", *urls])
    assert res.exit_code == 0, res.output
    counters = gs.counters()
    assert counters["station"]["verification_unmatched"] == 0 and counters["station"]["tm_undecodable"] == 0
    assert counters["downlink"]["rs_uncorrectable"] == 0 and counters["station"]["internal_errors"] == 0
    assert json.dumps(counters)  # serialisable as the API sends it
