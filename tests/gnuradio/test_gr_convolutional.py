"""Our convolutional encoder and Viterbi decoder against GNU Radio's gr-fec and gr-satellites' CCSDS decoder.

One GNU Radio run per test handles all four conventions: it encodes the same random bits with
``fec.cc_encoder_make`` and the polynomials gr-satellites 4.4 uses for each convention name, and decodes
our soft symbols with gr-satellites' ``ccsds_viterbi(name)`` (``fec.cc_decoder`` in streaming mode).
Arrays travel as .npy files in tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from protocol.convolutional import Convention, convolutional_encode, viterbi_decode

N_BITS = 8000  # gr-satellites' decoder works in frames of 80 bits and keeps the last one back

GR_CODE = r"""
import sys
import grcompat  # noqa: F401  (first: makes gr-satellites 4.4 load on GNU Radio 3.10)
import numpy as np
from gnuradio import blocks, fec, gr
from satellites.hier.ccsds_viterbi import ccsds_viterbi

work = sys.argv[1]
names = ["CCSDS", "NASA-DSN", "CCSDS uninverted", "NASA-DSN uninverted"]
polys = {"CCSDS": [79, -109], "NASA-DSN": [-109, 79], "CCSDS uninverted": [79, 109],
         "NASA-DSN uninverted": [109, 79]}  # as satellites/hier/ccsds_viterbi.py
bits = np.load(f"{work}/bits.npy")
for i, name in enumerate(names):
    # gr-fec's streaming convolutional encoder with gr-satellites' polynomials for this name
    enc = fec.cc_encoder_make(bits.size, 7, 2, polys[name], 0, fec.CC_STREAMING, False)
    tb = gr.top_block()
    src = blocks.vector_source_b(bits.tolist())
    sink = blocks.vector_sink_b()
    tb.connect(src, fec.extended_encoder(encoder_obj_list=enc, threading=None, puncpat="11"), sink)
    tb.run()
    np.save(f"{work}/gr_symbols_{i}.npy", np.array(sink.data(), dtype=np.uint8))
    # gr-satellites' CCSDS Viterbi decoder (the one its ccsds_concatenated_deframer uses)
    soft = np.load(f"{work}/soft_{i}.npy")
    tb = gr.top_block()
    src = blocks.vector_source_f(soft.astype(np.float32).tolist())
    sink = blocks.vector_sink_b()
    tb.connect(src, ccsds_viterbi(name), sink)
    tb.run()
    np.save(f"{work}/gr_decoded_{i}.npy", np.array(sink.data(), dtype=np.uint8))
print("ok")
"""

ALL = list(Convention)


def _run(gnuradio, work: Path, bits: np.ndarray, softs: list[np.ndarray]) -> tuple[list, list]:
    np.save(work / "bits.npy", bits)
    for i, soft in enumerate(softs):
        np.save(work / f"soft_{i}.npy", soft.astype(np.float32))
    proc = gnuradio.run("-c", GR_CODE, str(work), timeout_s=60.0)
    assert proc.stdout.strip().endswith(b"ok")
    symbols = [np.load(work / f"gr_symbols_{i}.npy") for i in range(len(ALL))]
    decoded = [np.load(work / f"gr_decoded_{i}.npy") for i in range(len(ALL))]
    return symbols, decoded


def test_convention_names_match_the_gr_code() -> None:
    assert [c.value for c in ALL] == ["CCSDS", "NASA-DSN", "CCSDS uninverted", "NASA-DSN uninverted"]
    assert [list(c.gnuradio_polys) for c in ALL] == [[79, -109], [-109, 79], [79, 109], [109, 79]]


def test_encoder_and_decoder_agree_with_gnuradio(gnuradio, tmp_path: Path) -> None:
    rng = np.random.default_rng(2024)
    bits = rng.integers(0, 2, N_BITS, dtype=np.uint8)
    ours = [convolutional_encode(bits, convention=c) for c in ALL]
    softs = [s.astype(np.float32) * 2 - 1 for s in ours]  # our soft convention: > 0 means 1, as gr-satellites
    gr_symbols, gr_decoded = _run(gnuradio, tmp_path, bits, softs)
    for conv, mine, theirs, decoded in zip(ALL, ours, gr_symbols, gr_decoded):
        # (a) GNU Radio's encoder with gr-satellites' polys for this name gives exactly our symbols
        assert theirs.shape == (2 * N_BITS,), conv
        assert np.array_equal(theirs, mine), conv
        # (b) gr-satellites' Viterbi decodes our symbols back to the bits (it holds back its last frame)
        assert N_BITS - 160 <= decoded.size < N_BITS, conv
        assert np.array_equal(decoded, bits[:decoded.size]), conv
        # and our decoder decodes what GNU Radio's encoder produced
        assert np.array_equal(viterbi_decode(theirs.astype(np.float32) * 2 - 1, convention=conv), bits), conv


def test_noisy_symbols_decode_alike_in_both(gnuradio, tmp_path: Path) -> None:
    """At Eb/N0 = 3 dB both decoders correct the channel and make nearly the same decisions.

    gr-satellites' decoder (fec.cc_decoder, CC_STREAMING, 80-bit frames) traces each frame back from the
    best state only K - 1 = 6 bits past the frame's end, so it leaves a few more errors than ours, which
    looks 64 bits ahead.
    """
    rng = np.random.default_rng(77)
    bits = rng.integers(0, 2, N_BITS, dtype=np.uint8)
    sigma = np.sqrt(1 / (2 * 0.5 * 10 ** (3.0 / 10)))
    softs = []
    for conv in ALL:
        clean = convolutional_encode(bits, convention=conv).astype(np.float32) * 2 - 1
        softs.append(clean + rng.normal(0, sigma, clean.size).astype(np.float32))
    _, gr_decoded = _run(gnuradio, tmp_path, bits, softs)
    our_errors = gr_errors = 0
    for conv, soft, theirs in zip(ALL, softs, gr_decoded):
        mine = viterbi_decode(soft, convention=conv)
        n = theirs.size
        channel_errors = int(((soft > 0) != convolutional_encode(bits, convention=conv)).sum())
        assert channel_errors > 0.03 * 2 * N_BITS  # the channel is really noisy (symbol error rate ~8 %)
        assert (mine != bits).mean() < 2e-3, conv
        assert (theirs != bits[:n]).mean() < 6e-3, conv
        assert (mine[:n] != theirs).mean() < 6e-3, conv
        our_errors += int((mine[:n] != bits[:n]).sum())
        gr_errors += int((theirs != bits[:n]).sum())
    assert our_errors <= gr_errors
