"""The demo's processes with a GNU Radio flowgraph as the link: commands up, telemetry down, through
gr-zeromq message blocks, soft symbols with noise and gr-satellites' CCSDS deframer (real processes)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from groundstation.loopback import LoopbackPass, PassConfig

pytestmark = pytest.mark.slow


def test_commanding_and_telemetry_through_a_gnuradio_flowgraph(gnuradio, tmp_path: Path) -> None:  # noqa: ANN001
    with LoopbackPass(tmp_path, PassConfig(link="gnuradio", ebn0_db=6.5, hk_interval_s=0.5)) as p:
        gs = p.gs
        assert p.channel is not None and p.channel.name == "gnuradio"
        p.until(lambda: gs.parameters(names=["BATTERY_VOLTAGE"], limit=1), "housekeeping through GNU Radio")
        cid = gs.send("PING")
        stages = gs.wait(cid, "completed", timeout_s=20)
        assert [s["stage"] for s in stages][-1] == "completed"
        cid = gs.send("SET_HK_INTERVAL", {"SID": "THERMAL", "INTERVAL": 1})
        assert gs.wait(cid, "completed", timeout_s=20)[-1]["stage"] == "completed"
        counters = p.until(lambda: (c := gs.counters())["station"]["radio_rs_corrected"] > 0 and c,
                           "RS corrections reported by gr-satellites")
        assert counters["links"]["down"]["carries"] == "frames"
        assert counters["links"]["down"]["url"].startswith("gr+zmq://")
        assert counters["station"]["radio_frames"] == counters["downlink"]["frames"] > 0
        assert counters["downlink"]["cadus"] == 0  # the station decoded none itself: the radio did
    assert p.exit_codes.get("gnuradio") == 0, (tmp_path / "gnuradio.log").read_text()[-2000:]
    db = sqlite3.connect(tmp_path / "station.db")
    rows = db.execute("SELECT carries, meta FROM cadus").fetchall()
    assert rows and {c for c, _ in rows} == {"frames"}
    metas = [json.loads(m) for _, m in rows if m]
    assert metas and all("rs_errors" in m for m in metas) and any(m["rs_errors"] > 0 for m in metas)
    # the station's recording holds what it took (frames); ttc decode reads it as frames
    out = subprocess.run([sys.executable, "-m", "groundstation.cli", "decode", str(tmp_path / "downlink.ttcrec"),
                          "--json"], capture_output=True, text=True, timeout=120, check=True)
    s = json.loads(out.stdout)
    assert s["setup"]["layer"] == "frame" and s["frames"] == s["recording_records"] > 0 and s["crc_errors"] == 0
    assert s["packets"] >= db.execute("SELECT COUNT(*) FROM packets WHERE playback = 0").fetchone()[0] > 0
