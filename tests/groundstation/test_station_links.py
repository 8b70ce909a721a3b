"""The station takes its downlink from any link scheme: KISS from a TNC over TCP, GNU Radio PDUs of frames
that a radio already decoded (with their metadata archived). Real station process, real loopback sockets."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path

from groundstation.client import StationClient
from protocol.kiss import encode_frame, encode_timestamp
from protocol.links import open_sender
from protocol.mission import MISSION
from protocol.stack import DownlinkEncoder

from .fake_spacecraft import FakeSpacecraft, StationProcess


def _hk_frames(n: int) -> tuple[DownlinkEncoder, list[bytes]]:
    sc = FakeSpacecraft()
    sc.sender.close()
    enc = DownlinkEncoder(MISSION.downlink, {0: 0})
    for i in range(n):
        enc.submit(0, sc.hk("POWER", BATTERY_VOLTAGE=7.0 + i / 100))
    frames = [enc.mux.next_frame() for _ in range(max(2, n // 6 + 2))]
    return enc, frames


def test_station_takes_cadus_from_a_kiss_tnc(tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    station = StationProcess(down_url=f"kiss+tcp://127.0.0.1:{port}", archive=tmp_path / "gs.db",
                             log_path=tmp_path / "gs.log")
    try:
        server.settimeout(15)
        conn, _ = server.accept()  # the station connects to the TNC
        enc, frames = _hk_frames(30)
        cadus = enc.code_frames(frames)
        n = len(cadus) // MISSION.downlink.cadu_len
        t0_ms = int(time.time() * 1000)
        conn.sendall(b"".join(encode_timestamp(t0_ms + k) + encode_frame(cadus[k * 1024:(k + 1) * 1024])
                              for k in range(n)))
        gs = StationClient(station.endpoints["api"], station.endpoints["events"])
        c = gs.until(lambda: (c := gs.counters())["downlink"]["packets"] >= 30 and c, "30 packets via KISS",
                     timeout_s=20)
        assert c["downlink"]["cadus"] == n and c["downlink"]["crc_errors"] == 0
        assert c["links"]["down"]["url"] == f"kiss+tcp://127.0.0.1:{port}" and c["links"]["down"]["frames_in"] == n
        volts = gs.parameters(names=["BATTERY_VOLTAGE"], limit=1000)
        assert sorted(round(v["eng"], 2) for v in volts) == [round(7.0 + i / 100, 2) for i in range(30)]
        gs.close()
        conn.close()
    finally:
        station.terminate()
        server.close()
    db = sqlite3.connect(tmp_path / "gs.db")
    erts = [r[0] for r in db.execute("SELECT ert_ns FROM cadus ORDER BY id")]
    assert erts[0] == t0_ms * 1_000_000  # the TNC's timestamp frame is the earth-receive time


def test_station_takes_decoded_frames_with_radio_metadata(tmp_path: Path) -> None:
    tx = open_sender("gr+zmq://127.0.0.1:0")
    station = StationProcess(down_url=tx.url + "?carries=frames", archive=tmp_path / "gs.db",
                             log_path=tmp_path / "gs.log")
    try:
        gs = StationClient(station.endpoints["api"], station.endpoints["events"])
        _, frames = _hk_frames(24)
        idle = DownlinkEncoder(MISSION.downlink, {0: 0}).mux.next_frame()
        # PUB/SUB joins late: idle frames until the station has seen one, then the real ones once
        gs.until(lambda: tx.send(idle, meta={"rs_errors": 0}) or gs.counters()["station"]["radio_frames"] > 0,
                 "an idle frame through gr+zmq", timeout_s=20)
        for i, f in enumerate(frames):
            tx.send(f, meta={"rs_errors": i + 1, "syncword": 1})
        corrected = sum(i + 1 for i in range(len(frames)))
        # the 24 packets may all be in the first frames: wait for every frame's metadata too (a race under load)
        c = gs.until(lambda: (c := gs.counters())["downlink"]["packets"] >= 24
                     and c["station"]["radio_rs_corrected"] >= corrected and c, "24 packets, all frames", timeout_s=20)
        assert c["downlink"]["cadus"] == 0 and c["links"]["down"]["carries"] == "frames"
        assert c["station"]["radio_rs_corrected"] == corrected
        gs.close()
    finally:
        station.terminate()
        tx.close()
    db = sqlite3.connect(tmp_path / "gs.db")
    metas = [json.loads(m) for (m,) in db.execute("SELECT meta FROM cadus WHERE carries = 'frames' AND meta IS NOT NULL")]
    # the frames that carried packets (idle ones are not archived), each with the metadata it came with
    assert metas and metas == [{"rs_errors": i + 1, "syncword": 1} for i in range(len(metas))]


def test_a_pass_through_the_channel_at_the_sample_level(tmp_path: Path) -> None:
    """ttc channel --sample-level between the real spacecraft and station: commands complete, telemetry
    arrives, and the station's RS decoder corrects what the noise did to the demodulated bits."""
    from groundstation.loopback import LoopbackPass, PassConfig

    with LoopbackPass(tmp_path, PassConfig(link="radio", ebn0_db=6.5, ber=0.0, hk_interval_s=0.5)) as p:
        gs = p.gs
        p.until(lambda: gs.parameters(names=["BATTERY_VOLTAGE"], limit=1), "housekeeping through the modem")
        assert gs.wait(gs.send("PING"), "completed", timeout_s=20)[-1]["stage"] == "completed"
        c = p.until(lambda: (c := gs.counters())["downlink"]["rs_corrected"] > 20 and c, "RS corrections")
        assert c["downlink"]["rs_uncorrectable"] == 0 and c["downlink"]["crc_errors"] == 0
    assert p.exit_codes == {"station": 0, "spacecraft": 0, "channel": 0}
    assert "sample level" in (tmp_path / "channel.log").read_text()
