"""tools/gnuradio/ccsds_tx.py: CADUs from a ttc gr+zmq link -> GNU Radio's BPSK modulator -> SigMF IQ, which
ttc decode turns back into our packets (the flowgraph's file sink stands where an SDR sink would)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from protocol.links import open_sender
from protocol.mission import MISSION
from protocol.stack import DownlinkEncoder

from ..groundstation.test_decode import hk_packets
from .conftest import GR_TOOLS


def test_cadus_from_our_link_through_gnuradio_modulator_decode_here(gnuradio, tmp_path: Path) -> None:  # noqa: ANN001
    packets, _ = hk_packets(80)
    enc = DownlinkEncoder(MISSION.downlink, {0: 0})
    for p in packets:
        enc.submit(0, p)
    n = len(packets) * 40 // 880 + 3
    cadus = enc.cadus(n)
    tx = open_sender("gr+zmq://127.0.0.1:0")
    out = tmp_path / "gr.sigmf-data"
    proc = subprocess.Popen([gnuradio.python, str(GR_TOOLS / "ccsds_tx.py"), "--zmq", tx.address,
                             "--output", str(out), "--sps", "8", "--differential", "--duration-s", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=gnuradio.env())
    try:
        line = b""
        while not line.startswith(b"READY"):
            line = proc.stdout.readline()
            assert line, proc.stderr.read().decode()[-2000:]
        idle = DownlinkEncoder(MISSION.downlink, {0: 0}).next_cadu()
        deadline = time.monotonic() + 30
        while out.stat().st_size < 8 * 8 * 8 * 1024 * 2:  # PUB/SUB joins late: idle CADUs until samples come out
            assert time.monotonic() < deadline, "the flowgraph wrote no samples"
            tx.send(idle)
            time.sleep(0.02)
        for k in range(n):
            tx.send(cadus[k * 1024:(k + 1) * 1024])
        size = 8 * 8 * 8 * 1024 * (n + 6)  # what the flowgraph writes for these (8 samples x 8 bits per octet)
        while out.stat().st_size < size:  # the modulator's and demodulator's delay: the last real CADU is followed
            assert time.monotonic() < deadline + 30, "the flowgraph stopped writing"
            tx.send(idle)
            time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(20)
        tx.close()
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
    meta = json.loads((tmp_path / "gr.sigmf-meta").read_text())
    assert "GNU Radio" in meta["global"]["core:recorder"]
    s = json.loads(subprocess.run([sys.executable, "-m", "groundstation.cli", "decode", str(out), "--json",
                                   "--packets", str(tmp_path / "p.bin"), "--format", "raw"],
                                  capture_output=True, text=True, timeout=120, check=True).stdout)
    assert s["packets"] == 80 and s["crc_errors"] == 0 and s["rs_corrected"] == 0
    assert (tmp_path / "p.bin").read_bytes() == b"".join(packets)
