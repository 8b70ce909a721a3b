"""gr-satellites' CCSDS deframers recover our frames exactly from our soft symbols.

Our DownlinkEncoder builds CADUs (RS dual and conventional, interleave 1/4/5 or none, randomiser on and
off); they become antipodal soft symbols, optionally with AWGN; tools/gnuradio/ccsds_rx.py runs
gr-satellites 4.4's ``ccsds_rs_deframer`` on them under the system's GNU Radio 3.10 and writes the frames
it found. They must equal the frames we encoded, octet for octet, and our own decoder must find the
same frames in the same noisy symbols. Its KISS output (gr-satellites' kiss_file_sink, timestamps and
all) must decode with ``ttc decode`` to the packets we sent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from protocol.crc import crc16
from protocol.reedsolomon import Basis, RSConfig
from protocol.stack import DownlinkConfig, DownlinkDecoder, DownlinkEncoder
from protocol.sync import octets_to_symbols
from protocol.tmframe import TmFrameConfig
from protocol.vchannel import VcPacket

SCID = 0x2A


def _config(interleave: int | None, basis: Basis, randomise: bool) -> DownlinkConfig:
    if interleave is None:
        return DownlinkConfig(frame=TmFrameConfig(frame_len=256, scid=SCID, has_ocf=True, has_fecf=True),
                              rs=None, randomise=randomise)
    rs = RSConfig(interleave=interleave, basis=basis)
    return DownlinkConfig(frame=TmFrameConfig(frame_len=rs.data_len, scid=SCID, has_ocf=True), rs=rs,
                          randomise=randomise)


def _frames_and_packets(config: DownlinkConfig, n_frames: int) -> tuple[list[bytes], list[bytes], bytes]:
    enc = DownlinkEncoder(config, {0: 0})
    packets = [bytes([0x08, 0x10, 0xC0 | (i >> 8 & 0x3F), i & 0xFF, 0x00, 40]) + bytes([i & 0xFF, 0xC0, 0xDB]) * 13 + b"\x00\x00"
               for i in range(n_frames * config.frame.frame_len // 50)]
    for p in packets:
        enc.submit(0, p)
    frames = [enc.mux.next_frame() for _ in range(n_frames)]
    return frames, packets, enc.code_frames(frames)


def _noisy_symbols(cadus: bytes, ebn0_db: float | None, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lead = rng.choice(np.array([-1.0, 1.0], np.float32), 1003)  # off the octet grid
    sym = np.concatenate((lead, octets_to_symbols(cadus)))
    if ebn0_db is not None:  # uncoded BPSK: Es = Eb = 1, noise variance N0/2 per real dimension
        sym = sym + rng.normal(0, np.sqrt(0.5 / 10 ** (ebn0_db / 10)), len(sym))
    return sym.astype(np.float32)


def _gr_deframe(gnuradio, tmp_path: Path, symbols: np.ndarray, config: DownlinkConfig, *extra: str) -> tuple[list[bytes], str]:  # noqa: ANN001
    sym_path, out = tmp_path / "in.f32", tmp_path / "out.frames"
    sym_path.write_bytes(symbols.tobytes())
    args = ["--input", str(sym_path), "--frames", str(out), "--frame-size", str(config.frame.frame_len),
            "--linger-s", "0.2", *extra]
    if config.rs is None:
        args.append("--no-rs")
    else:
        args += ["--interleave", str(config.rs.interleave), "--basis", config.rs.basis.value]
    if not config.randomise:
        args.append("--no-scrambler")
    proc = gnuradio.script("ccsds_rx.py", *args)
    data = out.read_bytes()
    n = config.frame.frame_len
    return [data[i:i + n] for i in range(0, len(data), n)], proc.stdout.decode()


def _our_frames(config: DownlinkConfig, symbols: np.ndarray) -> list[bytes]:
    frames: list[bytes] = []
    dec = DownlinkDecoder(config)
    dec._batch = False  # frame by frame: _frame sees each frame the synchroniser and RS decoder hand on
    dec._frame = frames.append  # type: ignore[method-assign]  # the frames as the decoder hands them on
    dec.feed_symbols(symbols)
    dec.feed_symbols(np.ones(8, np.float32))  # the packer keeps bits short of an octet: end on a whole one
    dec.close()
    return frames


CASES = [
    pytest.param(4, Basis.DUAL, True, id="rs-dual-I4-scrambled"),
    pytest.param(1, Basis.DUAL, True, id="rs-dual-I1-scrambled"),
    pytest.param(5, Basis.CONVENTIONAL, True, id="rs-conventional-I5-scrambled"),
    pytest.param(4, Basis.CONVENTIONAL, False, id="rs-conventional-I4-plain"),
    pytest.param(None, Basis.DUAL, True, id="uncoded-scrambled"),
]


@pytest.mark.parametrize(("interleave", "basis", "randomise"), CASES)
def test_gr_satellites_recovers_our_frames_exactly(gnuradio, tmp_path: Path, interleave: int | None,  # noqa: ANN001
                                                   basis: Basis, randomise: bool) -> None:
    config = _config(interleave, basis, randomise)
    frames, _, cadus = _frames_and_packets(config, 12)
    symbols = _noisy_symbols(cadus, None, 1)
    got, out = _gr_deframe(gnuradio, tmp_path, symbols, config)
    if config.rs is None:
        # without RS nothing vouches for a sync: gr-satellites (no flywheel, 4 ASM bit errors allowed) also
        # hands on whatever follows a near-ASM inside the data; the frame's own FECF tells them apart
        false = [f for f in got if crc16(f[:-2]) != int.from_bytes(f[-2:], "big")]
        got = [f for f in got if f not in false]
        assert len(false) <= 2
    assert got == frames, out
    assert _our_frames(config, symbols) == frames


def test_with_noise_both_deframers_agree_and_report_corrections(gnuradio, tmp_path: Path) -> None:  # noqa: ANN001
    config = _config(4, Basis.DUAL, True)
    frames, _, cadus = _frames_and_packets(config, 20)
    symbols = _noisy_symbols(cadus, 6.0, 2)  # uncoded BER ~2.4e-3: ~20 bit errors per CADU, RS corrects them
    assert np.count_nonzero((symbols > 0) != (_noisy_symbols(cadus, None, 2) > 0)) > 100  # there is noise
    got, out = _gr_deframe(gnuradio, tmp_path, symbols, config)
    assert got == frames
    assert _our_frames(config, symbols) == frames
    assert "rs_errors" in out and "syncword" in out  # the metadata gr-satellites attaches to each PDU


def test_gr_satellites_kiss_file_decodes_with_ttc_decode(gnuradio, tmp_path: Path) -> None:  # noqa: ANN001
    config = _config(4, Basis.DUAL, True)
    frames, packets, cadus = _frames_and_packets(config, 10)
    sym_path = tmp_path / "in.f32"
    sym_path.write_bytes(_noisy_symbols(cadus, None, 3).tobytes())
    kss = tmp_path / "pass.kss"
    gnuradio.script("ccsds_rx.py", "--input", str(sym_path), "--kiss", str(kss), "--linger-s", "0.2")
    raw = kss.read_bytes()
    assert raw[:2] == b"\xc0\x09"  # gr-satellites' timestamp frame first
    out = subprocess.run([sys.executable, "-m", "groundstation.cli", "decode", str(kss), "--json",
                          "--packets", str(tmp_path / "p.bin"), "--format", "raw"],
                         capture_output=True, text=True, timeout=120, check=True)
    s = json.loads(out.stdout)
    assert s["kiss_frames"] == len(frames) and s["kiss_rejected"] == 0 and s["frames"] == len(frames)
    decoded = (tmp_path / "p.bin").read_bytes()
    whole = [p for p in packets if p in decoded]
    assert len(whole) >= len(packets) - 2 and decoded.startswith(packets[0])  # the last one may be cut by the end


def _coded_symbols(cadus: bytes, *, convention: str | None, differential: bool, ebn0_db: float | None,
                   seed: int, invert: bool = False) -> np.ndarray:
    """Our channel symbols of ``cadus`` (after a random lead): NRZ-M, then the convolutional code, then AWGN."""
    from protocol.convolutional import convolutional_encode
    from protocol.modem import differential_encode

    rng = np.random.default_rng(seed)
    bits = np.concatenate((rng.integers(0, 2, 999, dtype=np.uint8), np.unpackbits(np.frombuffer(cadus, np.uint8))))
    if differential:
        bits = differential_encode(bits)
    rate = 1.0
    if convention is not None:
        bits = convolutional_encode(bits, convention=convention)
        rate = 0.5
    sym = bits.astype(np.float32) * 2 - 1
    if invert:
        sym = -sym  # a BPSK receiver locked 180 degrees off
    if ebn0_db is not None:  # Es/N0 = R Eb/N0; noise N0/2 per real dimension with Es = 1
        sym = sym + rng.normal(0, np.sqrt(0.5 / (rate * 10 ** (ebn0_db / 10))), len(sym))
    return sym.astype(np.float32)


@pytest.mark.parametrize(("convention", "differential"), [
    ("CCSDS", False), ("NASA-DSN", False), ("CCSDS", True), ("NASA-DSN uninverted", True)])
def test_concatenated_deframer_recovers_our_convolutionally_coded_frames(gnuradio, tmp_path: Path,  # noqa: ANN001
                                                                        convention: str, differential: bool) -> None:
    from protocol.convolutional import viterbi_decode

    config = _config(4, Basis.DUAL, True)
    frames, _, cadus = _frames_and_packets(config, 8)
    symbols = _coded_symbols(cadus, convention=convention, differential=differential, ebn0_db=4.0, seed=4,
                             invert=differential)  # NRZ-M makes the polarity irrelevant: prove it
    got, out = _gr_deframe(gnuradio, tmp_path, symbols, config, "--convolutional", convention,
                           *(["--differential"] if differential else []))
    assert got == frames, out
    bits = viterbi_decode(symbols if len(symbols) % 2 == 0 else symbols[:-1], convention=convention)
    if differential:
        from protocol.modem import differential_decode
        bits = differential_decode(bits)
    assert _our_frames(config, bits.astype(np.float32) * 2 - 1) == frames  # and our own Viterbi agrees


def test_differential_precoding_removes_the_phase_ambiguity(gnuradio, tmp_path: Path) -> None:  # noqa: ANN001
    """gr-satellites 4.4 does not search the inverted ASM: with NRZ-M it needs not."""
    config = _config(4, Basis.DUAL, True)
    frames, _, cadus = _frames_and_packets(config, 8)
    symbols = _coded_symbols(cadus, convention=None, differential=True, ebn0_db=7.0, seed=5, invert=True)
    got, out = _gr_deframe(gnuradio, tmp_path, symbols, config, "--differential")
    assert got == frames, out
    plain = _coded_symbols(cadus, convention=None, differential=False, ebn0_db=None, seed=5, invert=True)
    got, _ = _gr_deframe(gnuradio, tmp_path, plain, config)
    assert got == []  # inverted and not precoded: gr-satellites finds nothing (the limitation, measured)
    assert _our_frames(config, plain) == frames  # our synchroniser searches the inverted ASM too


@pytest.mark.parametrize("convolutional", [None, "CCSDS"])
def test_gr_satellites_demodulates_and_deframes_our_iq(gnuradio, tmp_path: Path,  # noqa: ANN001
                                                      convolutional: str | None) -> None:
    """Our BPSK IQ (NRZ-M, RRC, sps 8, 400 Hz off, AWGN; uncoded and convolutionally coded) through
    gr-satellites' BPSK demodulator and its RS or concatenated deframer."""
    from protocol.modem import IqChannel
    from protocol.radio import RadioConfig, RadioTransmitter

    config = _config(4, Basis.DUAL, True)
    frames, _, cadus = _frames_and_packets(config, 10)
    radio = RadioConfig(modulation="bpsk", rate_bd=9600, sps=8, differential=True, convolutional=convolutional)
    tx = RadioTransmitter(radio)
    rng = np.random.default_rng(6)
    iq = np.concatenate((tx.feed(rng.integers(0, 256, 600, dtype=np.uint8).tobytes()), tx.feed(cadus), tx.flush()))
    channel = IqChannel(radio.sample_rate_hz, sps=radio.sps, rng=rng, ebn0_db=radio.esn0_db(9.0 if not convolutional
                                                                                          else 8.0), offset_hz=400.0)
    path = tmp_path / "pass.cf32"
    path.write_bytes(channel.feed(iq).astype(np.complex64).tobytes())
    out = tmp_path / "out.frames"
    proc = gnuradio.script("ccsds_rx.py", "--input", str(path), "--iq", "--baud", "9600", "--sample-rate", "76800",
                           "--differential", "--frames", str(out), "--linger-s", "0.3",
                           *(["--convolutional", convolutional] if convolutional else []))
    data = out.read_bytes()
    got = [data[i:i + 892] for i in range(0, len(data), 892)]
    assert got == frames, proc.stdout.decode()[-500:]


def test_frames_from_gr_satellites_kiss_server_reach_our_kiss_link(gnuradio, tmp_path: Path) -> None:  # noqa: ANN001
    """gr-satellites' kiss_server_sink (a KISS TCP server, timestamp frames included) -> kiss+tcp here."""
    import socket
    import time

    from protocol.links import Carries, open_receiver

    config = _config(4, Basis.DUAL, True)
    frames, _, cadus = _frames_and_packets(config, 10)
    path = tmp_path / "in.f32"
    path.write_bytes(_noisy_symbols(cadus, 7.0, 8).tobytes())
    with socket.socket() as s:  # a free port for the flowgraph's server
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rx = open_receiver(f"kiss+tcp://127.0.0.1:{port}?carries=frames")  # connects (and retries) by itself
    proc = subprocess.Popen([gnuradio.python, str(Path(__file__).parents[2] / "tools/gnuradio/ccsds_rx.py"),
                             "--input", str(path), "--kiss-server", str(port), "--rate", "200000",
                             "--lead-symbols", "600000", "--linger-s", "0.5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=gnuradio.env())
    try:
        deadline = time.monotonic() + 20
        while not rx.connected:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read().decode()[-1500:]
            time.sleep(0.05)
        got = []
        while len(got) < len(frames):
            f = rx.recv(10.0)
            assert f is not None, f"{len(got)} frames, then nothing"
            got.append(f)
        assert [f.data for f in got] == frames and all(f.carries is Carries.FRAMES for f in got)
        assert all("kiss_timestamp_ms" in f.meta for f in got)  # gr-satellites stamped each one
        assert rx.counters.rejected == 0
    finally:
        proc.terminate()
        proc.wait(20)
        rx.close()
