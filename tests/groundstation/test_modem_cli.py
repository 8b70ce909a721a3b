"""ttc modem tx / rx and ttc decode of a SigMF IQ recording, as an operator runs them (real processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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
    # written as a KISS file (gr-satellites' layout: a timestamp frame before each), it decodes the same
    _ttc("modem", "rx", tmp_path / "pass.sigmf-data", "-o", tmp_path / "pass.kss")
    k = json.loads(_ttc("decode", tmp_path / "pass.kss", "--json").stdout)
    assert k["kiss_frames"] == len(sent) // 1024 and k["kiss_rejected"] == 0 and k["packets"] == 120
    assert (tmp_path / "pass.kss").read_bytes()[:2] == b"\xc0\x09"


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


TLE = """TTC-1
1 99901U 24001A   24080.50000000  .00002000  00000-0  10000-3 0  9990
2 99901  97.4000 160.0000 0001000  90.0000 270.0000 15.22000000 10007
"""
ALMATY = "43.222,76.851,800"


def test_pass_doppler_applied_on_tx_and_removed_on_rx(tmp_path: Path) -> None:
    """Four minutes before the closest approach over Almaty the 437 MHz carrier is ~8 kHz high: beyond
    what the demodulator searches at 9600 Bd; with the predicted Doppler removed every CADU comes back."""
    _cadu_file(tmp_path / "hk.cadu", 120)
    (tmp_path / "sat.tle").write_text(TLE)
    _ttc("modem", "tx", tmp_path / "hk.cadu", "-o", tmp_path / "p.sigmf-data", "--sps", "8", "--differential",
         "--ebn0-db", "9", "--doppler-tle", tmp_path / "sat.tle", "--site", ALMATY, "--center-freq-hz", "437.1e6",
         "--start-utc", "2024-03-20T16:52:40Z")
    sent = len((tmp_path / "hk.cadu").read_bytes()) // 1024
    out = subprocess.run([*TTC, "modem", "rx", str(tmp_path / "p.sigmf-data"), "--json"], capture_output=True,
                         text=True, timeout=300, check=False)
    assert "Traceback" not in out.stderr
    blind = json.loads(out.stdout.splitlines()[0])
    assert blind["cadus"] < sent // 2  # the uncorrected Doppler is outside the carrier search
    fixed = json.loads(_ttc("modem", "rx", tmp_path / "p.sigmf-data", "-o", tmp_path / "b.cadu", "--json",
                            "--doppler-tle", tmp_path / "sat.tle", "--site", ALMATY).stdout)
    assert fixed["cadus"] == sent and abs(fixed["freq_offset_hz"]) < 50  # only the prediction's residue left
    s = json.loads(_ttc("decode", tmp_path / "b.cadu", "--json").stdout)
    assert s["packets"] == 120 and s["rs_uncorrectable"] == 0
    bad = _ttc("modem", "tx", tmp_path / "hk.cadu", "-o", tmp_path / "x.sigmf-data", "--doppler-tle",
               tmp_path / "sat.tle", ok=False)
    assert "--site" in bad.stderr


def test_doppler_is_minus_f_times_the_range_rate_and_the_range_rate_is_the_range_s_slope() -> None:
    from datetime import datetime, timezone

    import numpy as np
    from skyfield.api import EarthSatellite, load, wgs84

    from groundstation.doppler import C_M_S, Site, doppler_curve_hz, range_rate_m_s, read_tle

    tle, site = read_tle(TLE), Site.parse(ALMATY)
    start = datetime(2024, 3, 20, 16, 52, 0, tzinfo=timezone.utc)
    t, f = doppler_curve_hz(tle, site, start, 480, carrier_hz=437.1e6)
    assert np.allclose(f, -437.1e6 * range_rate_m_s(tle, site, start, t) / C_M_S)
    assert 9_000 < f.max() < 11_000 and -11_000 < f.min() < -9_000  # +-10.4 kHz at 437 MHz, as the issue says
    assert 100 < -np.diff(f).min() < 200  # Hz/s at the closest approach (~160 Hz/s for a high pass)
    ts = load.timescale(builtin=True)  # independently: the slope of the range skyfield computes
    sat = EarthSatellite(tle[1], tle[2], tle[0], ts)
    topo = wgs84.latlon(site.lat_deg, site.lon_deg, elevation_m=site.alt_m)
    dist = (sat - topo).at(ts.from_datetime(start) + t / 86400).distance().m
    assert np.allclose(np.diff(dist), range_rate_m_s(tle, site, start, t[:-1] + 0.5), atol=0.5)
    with pytest.raises(ValueError, match="checksum"):
        read_tle(TLE.replace("10007", "10008"))
    with pytest.raises(ValueError, match="LAT,LON"):
        Site.parse("43.2")
