"""CCSDS rate-1/2 K=7 convolutional code and the segmented soft-decision Viterbi decoder (131.0-B-5 §3)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.convolutional import (
    CONSTRAINT_LENGTH,
    G1,
    G2,
    Convention,
    ConvolutionalEncoder,
    ViterbiDecoder,
    best_symbol_phase,
    convolutional_encode,
    viterbi_decode,
)
from protocol.errors import LocalProtocolError, ProtocolError

ALL = list(Convention)
# satellites/hier/ccsds_viterbi.py (gr-satellites 4.4): GNU Radio polys per code name, newest bit in the LSB
GR_SATELLITES_POLYS = {
    "CCSDS": (79, -109),
    "NASA-DSN": (-109, 79),
    "CCSDS uninverted": (79, 109),
    "NASA-DSN uninverted": (109, 79),
}


def _bpsk(symbols: np.ndarray) -> np.ndarray:
    return symbols.astype(np.float32) * 2 - 1


def _awgn(symbols: np.ndarray, ebn0_db: float, rng: np.random.Generator, *, rate: float = 0.5) -> np.ndarray:
    """BPSK soft symbols (amplitude 1, > 0 means 1) with white noise for ``ebn0_db`` at code ``rate``."""
    sigma = np.sqrt(1 / (2 * rate * 10 ** (ebn0_db / 10)))
    return _bpsk(symbols) + rng.normal(0, sigma, symbols.size).astype(np.float32)


def _parity(x: int) -> int:
    return x.bit_count() & 1


def reference_viterbi(soft: np.ndarray, polys: tuple[int, int]) -> np.ndarray:
    """Plain float64 Viterbi decoder of (streams, 2N) soft symbols: one segment, full traceback, unknown start.

    Written independently of the module, from GNU Radio's description of the code: the register is
    ``(state << 1) | bit`` (newest bit in the LSB), output j is the parity of ``register & |polys[j]|``,
    inverted when ``polys[j] < 0``. Slow (a Python step per bit), vectorised over the 64 states only.
    """
    soft = np.atleast_2d(np.asarray(soft, dtype=np.float64))
    streams, n = soft.shape[0], soft.shape[1] // 2
    y = soft.reshape(streams, n, 2)
    states = np.arange(64)
    preds = np.stack([states >> 1, (states >> 1) | 32], axis=1)  # new state s: input bit s & 1
    expect = np.zeros((64, 2, 2))
    for new in range(64):
        for p in range(2):
            register = (int(preds[new, p]) << 1) | (new & 1)
            for j, g in enumerate(polys):
                expect[new, p, j] = 2 * (_parity(register & abs(g)) ^ (g < 0)) - 1
    metric = np.zeros((streams, 64))
    survivors = np.empty((n, streams, 64), dtype=np.uint8)
    for t in range(n):
        cand = metric[:, preds] + np.einsum("sj,npj->snp", y[:, t], expect)
        survivors[t] = np.argmax(cand, axis=2)
        metric = cand.max(axis=2)
        metric -= metric.max(axis=1, keepdims=True)
    state = np.argmax(metric, axis=1)
    out = np.empty((streams, n), dtype=np.uint8)
    rows = np.arange(streams)
    for t in range(n - 1, -1, -1):
        out[:, t] = state & 1
        state = preds[state, survivors[t, rows, state]]
    return out


def _split(data: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    edges = sorted({min(c, data.size) for c in cuts} | {0, data.size})
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def _stream_decode(decoder: ViterbiDecoder, chunks: list[np.ndarray]) -> np.ndarray:
    parts = [decoder.decode(c) for c in chunks]
    parts.append(decoder.flush())
    return np.concatenate(parts)


# --------------------------------------------------------------------------- the code itself

def test_generators_are_the_ccsds_connection_vectors() -> None:
    assert CONSTRAINT_LENGTH == 7
    assert f"{G1:07b}" == "1111001" and f"{G2:07b}" == "1011011"  # §3.3, figure 3-1


def test_conventions_are_gr_satellites_names_and_polys() -> None:
    assert {c.value: c.gnuradio_polys for c in Convention} == GR_SATELLITES_POLYS
    assert Convention("NASA-DSN") is Convention.NASA_DSN
    assert [c.g2_first for c in ALL] == [False, True, False, True]
    assert [c.g2_inverted for c in ALL] == [True, True, False, False]


@pytest.mark.parametrize(("convention", "pattern"), [
    (Convention.CCSDS, [0, 1]),  # G1 = 0, NOT G2 = 1: the documented 0101... of the CCSDS code
    (Convention.NASA_DSN, [1, 0]),
    (Convention.CCSDS_UNINVERTED, [0, 0]),
    (Convention.NASA_DSN_UNINVERTED, [0, 0]),
])
def test_all_zero_input(convention: Convention, pattern: list[int]) -> None:
    out = convolutional_encode(np.zeros(50, dtype=np.uint8), convention=convention)
    assert out.dtype == np.uint8 and out.shape == (100,)
    assert out.tolist() == pattern * 50


@pytest.mark.parametrize("convention", ALL)
def test_impulse_response_is_the_generators(convention: Convention) -> None:
    impulse = np.zeros(12, dtype=np.uint8)
    impulse[0] = 1
    pairs = convolutional_encode(impulse, convention=convention).reshape(-1, 2)
    if convention.g2_first:
        pairs = pairs[:, ::-1]
    g1, g2 = pairs[:, 0], pairs[:, 1] ^ (1 if convention.g2_inverted else 0)
    assert "".join(map(str, g1[:7])) == "1111001"  # delay 0 (the impulse entering) first
    assert "".join(map(str, g2[:7])) == "1011011"
    assert not g1[7:].any() and not g2[7:].any()


def test_code_is_linear_and_transparent() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2, 300, dtype=np.uint8)
    b = rng.integers(0, 2, 300, dtype=np.uint8)
    enc = lambda x: convolutional_encode(x, convention=Convention.CCSDS_UNINVERTED)
    assert np.array_equal(enc(a ^ b), enc(a) ^ enc(b))
    for convention in ALL:  # odd-weight generators: inverted bits give inverted symbols, from register 0x3F
        inverted = convolutional_encode(a ^ 1, convention=convention, state=0x3F)
        assert np.array_equal(inverted, convolutional_encode(a, convention=convention) ^ 1)


def test_encoder_state_is_the_register_newest_bit_last() -> None:
    enc = ConvolutionalEncoder()
    enc.encode(np.array([1], dtype=np.uint8))
    assert enc.state == 0b000001
    enc.encode(np.array([0, 1, 1], dtype=np.uint8))
    assert enc.state == 0b001011
    enc.encode(np.ones(10, dtype=np.uint8))
    assert enc.state == 0b111111
    assert convolutional_encode(np.zeros(0, dtype=np.uint8)).shape == (0,)
    bits_bool = np.array([True, False, True])
    assert np.array_equal(convolutional_encode(bits_bool), convolutional_encode(bits_bool.astype(np.uint8)))


@given(st.binary(max_size=300), st.lists(st.integers(0, 2400), max_size=6),
       st.sampled_from(ALL), st.integers(0, 63))
def test_encoder_streaming_equals_one_shot(raw: bytes, cuts: list[int], convention: Convention, state: int) -> None:
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))
    enc = ConvolutionalEncoder(convention=convention, state=state)
    parts = [enc.encode(c) for c in _split(bits, cuts)]
    whole = convolutional_encode(bits, convention=convention, state=state)
    assert np.array_equal(np.concatenate(parts) if parts else np.zeros(0, np.uint8), whole)


# --------------------------------------------------------------------------- decoding

@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(ALL), st.floats(0.1, 100.0))
def test_encode_decode_identity(raw: bytes, convention: Convention, amplitude: float) -> None:
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))
    soft = _bpsk(convolutional_encode(bits, convention=convention)) * np.float32(amplitude)
    decoded = viterbi_decode(soft, convention=convention)
    assert decoded.dtype == np.uint8 and np.array_equal(decoded, bits)


@pytest.mark.parametrize("convention", ALL)
def test_identity_over_many_segments_and_batches(convention: Convention) -> None:
    rng = np.random.default_rng(2)
    bits = rng.integers(0, 2, 50_000, dtype=np.uint8)
    soft = _bpsk(convolutional_encode(bits, convention=convention))
    assert np.array_equal(viterbi_decode(soft, convention=convention), bits)
    small = ViterbiDecoder(convention=convention, segment_bits=100, warmup_bits=30, traceback_bits=40,
                           batch_segments=7)
    assert np.array_equal(_stream_decode(small, [soft]), bits)


def test_short_streams_need_the_start_state() -> None:
    rng = np.random.default_rng(12)
    for n in range(1, 12):
        for _ in range(20):
            bits = rng.integers(0, 2, n, dtype=np.uint8)
            soft = _bpsk(convolutional_encode(bits))
            assert np.array_equal(viterbi_decode(soft, start_state=0), bits)
            if n >= 6:  # 2n symbols determine the 6 unknown register bits and the n data bits
                assert np.array_equal(viterbi_decode(soft), bits)


def test_known_start_state_and_inverted_stream() -> None:
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2, 1000, dtype=np.uint8)
    soft = _bpsk(convolutional_encode(bits, state=0b101101))
    assert np.array_equal(viterbi_decode(soft, start_state=0b101101), bits)
    assert np.array_equal(viterbi_decode(soft), bits)
    # a BPSK phase ambiguity: every symbol inverted decodes to every bit inverted
    assert np.array_equal(viterbi_decode(-soft), bits ^ 1)


def test_known_start_state_helps_at_the_start_of_a_noisy_frame() -> None:
    rng = np.random.default_rng(4)
    frames, errors_known, errors_unknown = 300, 0, 0
    for _ in range(frames):
        bits = rng.integers(0, 2, 64, dtype=np.uint8)
        soft = _awgn(convolutional_encode(bits), 1.0, rng)
        errors_known += int((viterbi_decode(soft, start_state=0)[:16] != bits[:16]).sum())
        errors_unknown += int((viterbi_decode(soft)[:16] != bits[:16]).sum())
    assert errors_known < errors_unknown


def test_decisions_do_not_depend_on_the_soft_symbol_scale() -> None:
    rng = np.random.default_rng(13)
    bits = rng.integers(0, 2, 6000, dtype=np.uint8)
    soft = _awgn(convolutional_encode(bits), 2.5, rng)
    decoded = viterbi_decode(soft)
    for factor in (2.0**-100, 2.0**-3, 2.0**7, 2.0**100):  # exactly the same quantisation
        assert np.array_equal(viterbi_decode(soft * np.float32(factor)), decoded)


def test_erasures_carry_no_information() -> None:
    rng = np.random.default_rng(5)
    bits = rng.integers(0, 2, 4000, dtype=np.uint8)
    soft = _bpsk(convolutional_encode(bits))
    soft[3::4] = 0.0  # rate 2/3 by puncturing every 4th symbol: still decodable without noise
    assert np.array_equal(viterbi_decode(soft), bits)
    assert viterbi_decode(np.zeros(200, dtype=np.float32)).shape == (100,)  # all erased: no crash


def test_awgn_4db_ber_and_coding_gain() -> None:
    rng = np.random.default_rng(6)
    n = 200_000
    bits = rng.integers(0, 2, n, dtype=np.uint8)
    symbols = convolutional_encode(bits)
    soft = _awgn(symbols, 4.0, rng)
    ber = float((viterbi_decode(soft) != bits).mean())
    channel_ser = float(((soft > 0) != symbols).mean())  # hard decisions on the coded channel symbols
    uncoded = _awgn(bits, 4.0, rng, rate=1.0)  # uncoded BPSK at the same Eb/N0
    uncoded_ber = float(((uncoded > 0) != bits).mean())
    assert ber < 1e-3
    assert 0.009 < uncoded_ber < 0.016  # Q(sqrt(2 Eb/N0)) = 0.0125 at 4 dB
    assert 0.045 < channel_ser < 0.07
    assert ber < uncoded_ber / 20  # the coding gain: more than 13x fewer errors at the same energy per bit


def test_matches_reference_decoder_on_noisy_input() -> None:
    """Equal to a plain float64 Viterbi decoder at 4 dB, except the stream's last bits (see below)."""
    rng = np.random.default_rng(7)
    streams, n = 6, 5000
    for convention in (Convention.CCSDS, Convention.NASA_DSN):
        bits = rng.integers(0, 2, (streams, n), dtype=np.uint8)
        soft = np.stack([_awgn(convolutional_encode(b, convention=convention), 4.0, rng) for b in bits])
        reference = reference_viterbi(soft, GR_SATELLITES_POLYS[convention.value])
        assert (reference != bits).mean() < 1e-3
        for s in range(streams):
            one_shot = viterbi_decode(soft[s], convention=convention)
            segmented = _stream_decode(ViterbiDecoder(convention=convention, segment_bits=256), [soft[s]])
            # documented exception: the last few bits of a stream that just stops hang on a near tie
            assert np.array_equal(one_shot[:-16], reference[s, :-16])
            assert np.array_equal(segmented[:-16], reference[s, :-16])


def test_close_to_reference_decoder_at_low_snr() -> None:
    """At 2 dB the int16, segmented decoder differs from float64 in a few bits; its BER is the same."""
    rng = np.random.default_rng(8)
    bits = rng.integers(0, 2, (4, 6000), dtype=np.uint8)
    soft = np.stack([_awgn(convolutional_encode(b), 2.0, rng) for b in bits])
    reference = reference_viterbi(soft, GR_SATELLITES_POLYS["CCSDS"])
    ours = np.stack([_stream_decode(ViterbiDecoder(segment_bits=512), [s]) for s in soft])
    ref_errors, our_errors = int((reference != bits).sum()), int((ours != bits).sum())
    assert 30 < ref_errors < 300  # BER ~5e-3
    assert (ours != reference).mean() < 1e-3
    assert abs(our_errors - ref_errors) <= 0.1 * ref_errors


# --------------------------------------------------------------------------- streaming

@settings(max_examples=25, deadline=None)
@given(st.integers(0, 3000), st.lists(st.integers(0, 6200), max_size=8), st.sampled_from(ALL),
       st.integers(0, 1), st.integers(0, 2**32 - 1), st.integers(1, 5))
def test_streaming_in_random_chunks_equals_one_shot(n_bits: int, cuts: list[int], convention: Convention,
                                                    phase: int, seed: int, min_batch: int) -> None:
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, n_bits, dtype=np.uint8)
    soft = _awgn(convolutional_encode(bits, convention=convention), 2.0, rng)
    if phase:
        soft = np.concatenate([rng.normal(0, 1, 1).astype(np.float32), soft])
    params = {"convention": convention, "symbol_phase": phase, "segment_bits": 200, "warmup_bits": 24,
              "traceback_bits": 40, "batch_segments": 3}
    whole = _stream_decode(ViterbiDecoder(**params), [soft])
    chunked = _stream_decode(ViterbiDecoder(**params), _split(soft, cuts))
    assert np.array_equal(chunked, whole)
    waiting = _stream_decode(ViterbiDecoder(**params, min_batch_segments=min_batch), _split(soft, cuts))
    assert np.array_equal(waiting, whole)
    assert whole.shape == (n_bits,)
    default = viterbi_decode(soft, convention=convention, symbol_phase=phase)
    assert np.array_equal(_stream_decode(ViterbiDecoder(convention=convention, symbol_phase=phase),
                                         _split(soft, cuts)), default)


def test_streaming_one_symbol_at_a_time() -> None:
    rng = np.random.default_rng(9)
    bits = rng.integers(0, 2, 400, dtype=np.uint8)
    soft = _awgn(convolutional_encode(bits), 3.0, rng)
    params = {"segment_bits": 32, "warmup_bits": 20, "traceback_bits": 30}
    singles = _stream_decode(ViterbiDecoder(**params), [soft[i:i + 1] for i in range(soft.size)])
    assert np.array_equal(singles, _stream_decode(ViterbiDecoder(**params), [soft]))


def test_output_delay_is_a_whole_number_of_segments() -> None:
    rng = np.random.default_rng(10)
    bits = rng.integers(0, 2, 1000, dtype=np.uint8)
    soft = _bpsk(convolutional_encode(bits))
    dec = ViterbiDecoder(segment_bits=100, warmup_bits=16, traceback_bits=30)
    assert dec.delay_bits == 129
    out = []
    for pairs in range(0, 1000, 7):
        got = dec.decode(soft[2 * pairs:2 * pairs + 14])
        out.append(got)
        fed = min(pairs + 7, 1000)
        assert dec.bits_out == max(0, (fed - 30) // 100 * 100)
        assert 0 <= fed - dec.bits_out <= dec.delay_bits
    assert dec.pending_symbols == 2 * (1000 - dec.bits_out)
    out.append(dec.flush())
    assert np.array_equal(np.concatenate(out), bits)
    patient = ViterbiDecoder(segment_bits=100, warmup_bits=16, traceback_bits=30, min_batch_segments=3)
    assert patient.delay_bits == 329
    assert patient.decode(soft[:2 * 329]).size == 0
    assert patient.decode(soft[2 * 329:2 * 330]).size == 300


def test_flush_drops_an_unpaired_symbol_and_ends_the_stream() -> None:
    bits = np.array([1, 0, 1, 1, 0, 0, 1], dtype=np.uint8)
    soft = _bpsk(convolutional_encode(bits))
    dec = ViterbiDecoder()
    assert dec.decode(np.concatenate([soft, np.float32([0.7])])).size == 0
    assert dec.pending_symbols == 15
    assert np.array_equal(dec.flush(), bits)
    with pytest.raises(LocalProtocolError):
        dec.decode(soft)
    with pytest.raises(LocalProtocolError):
        dec.flush()
    assert ViterbiDecoder().flush().shape == (0,)


# --------------------------------------------------------------------------- symbol phase

@pytest.mark.parametrize("convention", ALL)
def test_symbol_phase_option_and_detection(convention: Convention) -> None:
    rng = np.random.default_rng(11)
    bits = rng.integers(0, 2, 3000, dtype=np.uint8)
    soft = _awgn(convolutional_encode(bits, convention=convention), 2.0, rng)
    late = np.concatenate([np.float32([-0.4]), soft])  # the stream starts on the second symbol of a pair
    assert best_symbol_phase(soft, convention=convention) == 0
    assert best_symbol_phase(late, convention=convention) == 1
    assert best_symbol_phase(soft[1:], convention=convention, max_bits=300) == 1
    decoded = viterbi_decode(late, convention=convention, symbol_phase=1)
    assert (decoded != bits).mean() < 0.03  # BER ~5e-3 at 2 dB, in bursts
    wrong = viterbi_decode(late[:-1], convention=convention)
    assert (wrong != bits[:wrong.size]).mean() > 0.2


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize(("bad", "field"), [
    (np.zeros(8, dtype=np.int32), "bits dtype"),
    (np.zeros((2, 4), dtype=np.uint8), "bits shape"),
    (np.array([0, 1, 2], dtype=np.uint8), "bits[2]"),
    ([0, 1, 1], "bits type"),
])
def test_encoder_rejects_bad_bits(bad: object, field: str) -> None:
    with pytest.raises(LocalProtocolError) as exc:
        convolutional_encode(bad)  # type: ignore[arg-type]
    assert exc.value.field == field and exc.value.layer == "convolutional code"


@pytest.mark.parametrize(("bad", "field"), [
    (np.zeros(8, dtype=np.int8), "soft symbols dtype"),
    (np.zeros((4, 2), dtype=np.float32), "soft symbols shape"),
    (np.array([0.5, np.nan, 1.0, -1.0], dtype=np.float32), "soft symbol [1]"),
    (np.array([0.5, -np.inf], dtype=np.float64), "soft symbol [1]"),
    (b"\x00\x01", "soft symbols type"),
    (np.zeros(7, dtype=np.float32), "soft symbol count"),
])
def test_decoder_rejects_bad_soft_symbols(bad: object, field: str) -> None:
    with pytest.raises(LocalProtocolError) as exc:
        viterbi_decode(bad)  # type: ignore[arg-type]
    assert exc.value.field == field
    if field != "soft symbol count":
        with pytest.raises(LocalProtocolError):
            ViterbiDecoder().decode(bad)  # type: ignore[arg-type]


def test_odd_count_is_fine_with_phase_one_and_float64_is_accepted() -> None:
    bits = np.array([1, 1, 0, 1], dtype=np.uint8)
    soft = _bpsk(convolutional_encode(bits)).astype(np.float64)
    # 4 bits: too short to pin down an unknown start state (6 bits of register), so give it
    assert np.array_equal(viterbi_decode(np.concatenate([[0.0], soft]), symbol_phase=1, start_state=0), bits)
    with pytest.raises(LocalProtocolError, match="symbol_phase=1"):
        viterbi_decode(soft, symbol_phase=1)


@pytest.mark.parametrize("kwargs", [
    {"convention": "NASA"},
    {"symbol_phase": 2},
    {"start_state": 64},
    {"start_state": True},
    {"segment_bits": 0},
    {"warmup_bits": -1},
    {"batch_segments": 0},
    {"min_batch_segments": 0},
])
def test_decoder_rejects_bad_options(kwargs: dict) -> None:
    with pytest.raises(LocalProtocolError) as exc:
        ViterbiDecoder(**kwargs)
    assert isinstance(exc.value, ProtocolError) and exc.value.field == next(iter(kwargs))


def test_encoder_rejects_bad_options_and_names_the_conventions() -> None:
    with pytest.raises(LocalProtocolError, match="NASA-DSN uninverted"):
        ConvolutionalEncoder(convention="CCSDS inverted")
    with pytest.raises(LocalProtocolError):
        ConvolutionalEncoder(state=64)
    with pytest.raises(LocalProtocolError):
        best_symbol_phase(np.zeros(10, dtype=np.float32))
