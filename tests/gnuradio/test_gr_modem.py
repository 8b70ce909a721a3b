"""Interoperability of protocol/modem.py with GNU Radio 3.10 and gr-satellites.

* GNU Radio modulates, we demodulate: ``digital.generic_mod`` (BPSK, RRC 0.35, sps 4) and
  ``digital.gmsk_mod`` (BT 0.5, sps 4) write complex64 files; our demodulators return the bits sent.
* We modulate, GNU Radio demodulates: our BPSK through a plain flowgraph (polyphase matched filter +
  ``digital.symbol_sync_cc`` + ``digital.costas_loop_cc``) and through gr-satellites'
  ``bpsk_demodulator``; our GMSK through gr-satellites' ``fsk_demodulator``.

Flowgraph delays and the BPSK 180-degree ambiguity (GNU Radio's Costas loop has it too) are allowed
for by searching for the known bit pattern, in either polarity for BPSK. Each GNU Radio run is a
fraction of a second of signal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from protocol.modem import (
    BpskDemodulator,
    BpskModulator,
    GmskDemodulator,
    GmskModulator,
    IqChannel,
)

RATE_BD = 9600.0

GR_MODULATE = """
import sys
import grcompat  # noqa: F401  (first: gr-satellites / GNU Radio 3.10 compatibility)
from gnuradio import blocks, digital, gr

kind, sps, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
packed = sys.stdin.buffer.read()
tb = gr.top_block()
src = blocks.vector_source_b(list(packed), False)
if kind == "bpsk":
    mod = digital.generic_mod(constellation=digital.constellation_bpsk(), differential=False,
                              samples_per_symbol=sps, pre_diff_code=False, excess_bw=0.35)
else:
    mod = digital.gmsk_mod(samples_per_symbol=sps, bt=0.5)
sink = blocks.file_sink(gr.sizeof_gr_complex, out_path)
tb.connect(src, mod, sink)
tb.run()
sink.close()
"""

GR_DEMODULATE = """
import math
import sys
import grcompat  # noqa: F401
from gnuradio import blocks, digital, gr
from gnuradio.filter import firdes

kind, sps, in_path, out_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
tb = gr.top_block()
src = blocks.file_source(gr.sizeof_gr_complex, in_path, False)
sink = blocks.file_sink(gr.sizeof_float, out_path)
if kind == "plain":
    nfilts = 32
    rrc = firdes.root_raised_cosine(nfilts, nfilts * sps, 1.0, 0.35, 11 * sps * nfilts)
    sync = digital.symbol_sync_cc(digital.TED_SIGNAL_TIMES_SLOPE_ML, sps, 2 * math.pi / 100, 1.0, 1.0,
                                  1.5, 1, digital.constellation_bpsk().base(), digital.IR_PFB_MF, nfilts, rrc)
    costas = digital.costas_loop_cc(2 * math.pi / 100, 2)
    tb.connect(src, sync, costas, blocks.complex_to_real(), sink)
elif kind == "satellites-bpsk":
    from satellites.components.demodulators import bpsk_demodulator
    tb.connect(src, bpsk_demodulator(9600, 9600 * sps, iq=True, f_offset=0), sink)
else:
    from satellites.components.demodulators import fsk_demodulator
    tb.connect(src, fsk_demodulator(9600, 9600 * sps, iq=True, deviation=2400), sink)
tb.run()
sink.close()
"""


def _find(hard: np.ndarray, bits: np.ndarray, *, inverted_ok: bool, max_lag: int = 400) -> tuple[int, int, bool]:
    """(errors, lag, inverted) of the best match of ``bits`` in ``hard`` at lags 0..max_lag."""
    best = (len(bits) + 1, 0, False)
    for lag in range(max_lag):
        seg = hard[lag:lag + len(bits)]
        if len(seg) < len(bits):
            break
        errors = int(np.count_nonzero(seg != bits))
        candidates = [(errors, lag, False)]
        if inverted_ok:
            candidates.append((len(bits) - errors, lag, True))
        best = min([best, *candidates])
    return best


def _gr_modulate(gnuradio, kind: str, bits: np.ndarray, tmp_path: Path, *, sps: int = 4) -> np.ndarray:
    out = tmp_path / f"gr_{kind}.c64"
    gnuradio.run("-c", GR_MODULATE, kind, str(sps), str(out), input=np.packbits(bits).tobytes(), timeout_s=60)
    return np.fromfile(out, dtype=np.complex64)


def _gr_demodulate(gnuradio, kind: str, iq: np.ndarray, tmp_path: Path, *, sps: int) -> np.ndarray:
    src = tmp_path / f"ours_{kind}.c64"
    out = tmp_path / f"gr_{kind}.f32"
    iq.astype(np.complex64).tofile(src)
    gnuradio.run("-c", GR_DEMODULATE, kind, str(sps), str(src), str(out), timeout_s=60)
    return np.fromfile(out, dtype=np.float32)


def _demodulate(demod: BpskDemodulator | GmskDemodulator, iq: np.ndarray) -> np.ndarray:
    return np.concatenate([demod.feed(iq), demod.flush()])


@pytest.fixture
def bits() -> np.ndarray:
    """16 000 random bits (1.7 s at 9600 Bd)."""
    return np.random.default_rng(2024).integers(0, 2, 16_000).astype(np.uint8)


def test_gnuradio_bpsk_modulator_to_our_demodulator(gnuradio, bits: np.ndarray, tmp_path: Path) -> None:
    """digital.generic_mod BPSK (RRC 0.35, sps 4) -> our BpskDemodulator: the bits, exactly."""
    iq = _gr_modulate(gnuradio, "bpsk", bits, tmp_path)
    assert len(iq) == 4 * len(bits)
    hard = (_demodulate(BpskDemodulator(4, rate_bd=RATE_BD), iq) > 0).astype(np.uint8)
    # generic_mod delays the bits by its RRC (~25 symbols here) and its output stops at 4 samples per
    # input bit, so the last bits never leave its filter
    inner = bits[16:-64]
    errors, _, _ = _find(hard, inner, inverted_ok=True)
    assert errors == 0


def test_gnuradio_bpsk_through_our_channel(gnuradio, bits: np.ndarray, tmp_path: Path) -> None:
    """GNU Radio's BPSK, 2 kHz from our carrier, with clock offset and Eb/N0 = 9 dB: BER < 1e-3."""
    iq = _gr_modulate(gnuradio, "bpsk", bits, tmp_path)
    rng = np.random.default_rng(1)
    rx = IqChannel(4 * RATE_BD, sps=4, rng=rng, ebn0_db=9.0, signal_power=float(np.mean(np.abs(iq) ** 2)),
                   offset_hz=1800.0, rate_hz_s=-160.0, phase_rad=2.5, delay_samples=1.7,
                   clock_offset_ppm=30.0).feed(iq)
    hard = (_demodulate(BpskDemodulator(4, rate_bd=RATE_BD), rx) > 0).astype(np.uint8)
    inner = bits[64:-64]
    errors, _, _ = _find(hard, inner, inverted_ok=True)
    assert errors / len(inner) < 1e-3


def test_gnuradio_gmsk_modulator_to_our_demodulator(gnuradio, bits: np.ndarray, tmp_path: Path) -> None:
    """digital.gmsk_mod (BT 0.5, sps 4) -> our GmskDemodulator: the bits, exactly and the same way up."""
    iq = _gr_modulate(gnuradio, "gmsk", bits, tmp_path)
    assert len(iq) == 4 * len(bits)
    hard = (_demodulate(GmskDemodulator(4, rate_bd=RATE_BD), iq) > 0).astype(np.uint8)
    inner = bits[16:-64]
    errors, _, inverted = _find(hard, inner, inverted_ok=False)
    assert errors == 0 and not inverted


def test_our_bpsk_to_gnuradio_costas_flowgraph(gnuradio, bits: np.ndarray, tmp_path: Path) -> None:
    """Our BPSK (sps 4, 150 Hz off, 12 dB) -> symbol_sync + Costas loop + slicer: our bits (after lock)."""
    mod = BpskModulator(4)
    iq = np.concatenate([mod.feed(bits), mod.flush()])
    rx = IqChannel(4 * RATE_BD, sps=4, rng=np.random.default_rng(3), ebn0_db=12.0, offset_hz=150.0,
                   phase_rad=1.0, delay_samples=0.3).feed(iq)
    soft = _gr_demodulate(gnuradio, "plain", rx, tmp_path, sps=4)
    hard = (soft > 0).astype(np.uint8)
    inner = bits[500:-100]  # the loops' pull-in and the flowgraph's delay
    errors, _, _ = _find(hard, inner, inverted_ok=True, max_lag=1000)
    assert errors <= 2


def test_our_bpsk_to_gr_satellites_bpsk_demodulator(gnuradio, bits: np.ndarray, tmp_path: Path) -> None:
    """Our BPSK (sps 8, 300 Hz off, 12 dB) -> gr-satellites bpsk_demodulator: our bits."""
    mod = BpskModulator(8)
    iq = np.concatenate([mod.feed(bits), mod.flush()])
    rx = IqChannel(8 * RATE_BD, sps=8, rng=np.random.default_rng(4), ebn0_db=12.0, offset_hz=300.0,
                   phase_rad=0.5).feed(iq)
    soft = _gr_demodulate(gnuradio, "satellites-bpsk", rx, tmp_path, sps=8)
    hard = (soft > 0).astype(np.uint8)
    inner = bits[500:-100]
    errors, _, _ = _find(hard, inner, inverted_ok=True, max_lag=1000)
    assert errors <= 2


def test_our_gmsk_to_gr_satellites_fsk_demodulator(gnuradio, bits: np.ndarray, tmp_path: Path) -> None:
    """Our GMSK (sps 4, 150 Hz off, 14 dB) -> gr-satellites fsk_demodulator (2400 Hz deviation): BER < 1e-2."""
    mod = GmskModulator(4)
    iq = np.concatenate([mod.feed(bits), mod.flush()])
    rx = IqChannel(4 * RATE_BD, sps=4, rng=np.random.default_rng(5), ebn0_db=14.0, offset_hz=150.0).feed(iq)
    soft = _gr_demodulate(gnuradio, "satellites-fsk", rx, tmp_path, sps=4)
    hard = (soft > 0).astype(np.uint8)
    inner = bits[500:-100]
    errors, _, inverted = _find(hard, inner, inverted_ok=False, max_lag=1000)
    assert not inverted
    assert errors / len(inner) < 1e-2
