"""ttc modem tx / rx and ttc decode of a SigMF IQ recording, as an operator runs them (real processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from protocol.mission import MISSION
from protocol.stack import DownlinkEncoder

from .test_decode import hk_packets

TTC = [sys.executable, "-m", "groundstation.cli"]


def _ttc(*args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*TTC, *map(str, args)], capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in out.stderr, out.stderr
    assert (out.returncode == 0) == ok, out.stderr
    return out


def _cadu_file(path: Path, n_packets: int) -> list[bytes]:
    packets, _ = hk_packets(n_packets)
    enc = DownlinkEncoder(MISSION.downlink, {0: 0})
    for p in packets:
        enc.submit(0, p)
    path.write_bytes(enc.cadus(n_packets * 40 // 880 + 3))
    return packets


def test_tx_rx_and_decode_of_an_iq_recording(tmp_path: Path) -> None:
    packets = _cadu_file(tmp_path / "hk.cadu", 120)
    _ttc("modem", "tx", tmp_path / "hk.cadu", "-o", tmp_path / "pass.sigmf-data", "--convolutional", "CCSDS",
         "--differential", "--ebn0-db", "5", "--freq-offset-hz", "400", "--doppler-rate-hz-s", "-60",
         "--clock-ppm", "25", "--center-freq-hz", "437.1e6")
    meta = json.loads((tmp_path / "pass.sigmf-meta").read_text())
    assert meta["global"]["core:datatype"] == "cf32_le" and meta["global"]["core:sample_rate"] == 38400
    assert meta["global"]["ttc:coding"]["convolutional"] == "CCSDS" and meta["captures"][0]["core:frequency"] == 437.1e6
    rx = json.loads(_ttc("modem", "rx", tmp_path / "pass.sigmf-data", "-o", tmp_path / "rx.cadu",
                         "--symbols", tmp_path / "rx.f32", "--json").stdout)
    sent = (tmp_path / "hk.cadu").read_bytes()
    assert rx["cadus"] == len(sent) // 1024 and (tmp_path / "rx.cadu").read_bytes() == sent  # after Viterbi: exact
    assert np.fromfile(tmp_path / "rx.f32", dtype="<f4").size == rx["bits"]
    s = json.loads(_ttc("decode", tmp_path / "pass.sigmf-data", "--json", "--packets", tmp_path / "p.bin",
                        "--format", "raw").stdout)
    assert s["iq_cadus"] == s["cadus"] == len(sent) // 1024 and s["packets"] == 120 and s["packet_gaps"] == 0
    assert (tmp_path / "p.bin").read_bytes() == b"".join(packets)
    assert abs(s["iq_freq_offset_hz"] - (400 - 60 * s["iq_samples"] / 38400)) < 30  # the ramp was followed


def test_gmsk_recording_and_the_options_a_foreign_recording_needs(tmp_path: Path) -> None:
    _cadu_file(tmp_path / "hk.cadu", 60)
    _ttc("modem", "tx", tmp_path / "hk.cadu", "-o", tmp_path / "g.sigmf-data", "--modulation", "gmsk",
         "--sps", "8", "--ebn0-db", "13")
    meta_path = tmp_path / "g.sigmf-meta"
    meta = json.loads(meta_path.read_text())
    for key in [k for k in meta["global"] if k.startswith("ttc:")]:  # a recording that says only its rate
        del meta["global"][key]
    meta["global"].pop("core:sha512", None)
    meta_path.write_text(json.dumps(meta))
    bad = _ttc("decode", tmp_path / "g.sigmf-data", "--json", ok=False)
    assert "sample rate 76800/s is not 4 samples per symbol at 9600 Bd" in bad.stderr
    s = json.loads(_ttc("decode", tmp_path / "g.sigmf-data", "--json", "--modulation", "gmsk", "--sps", "8").stdout)
    assert s["packets"] == 60 and s["rs_uncorrectable"] == 0 and s["rs_corrected"] > 0  # GMSK leaves errors: RS fixes
    not_iq = _ttc("modem", "rx", tmp_path / "hk.cadu", ok=False)
    assert "not a SigMF recording" in not_iq.stderr
