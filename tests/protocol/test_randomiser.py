"""TM/TC pseudo-randomisers (131.0-B-5 §10.4, 231.0-B-4 §6)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from protocol.randomiser import TC_SEQUENCE, TM_SEQUENCE, randomise_batch, tc_randomise, tm_randomise


def test_tm_sequence_golden_first_16_octets() -> None:
    assert TM_SEQUENCE[:16] == bytes.fromhex("FF480EC09A0D70BC8E2C93ADA7B746CE")


def test_tc_sequence_first_octets() -> None:
    # 231.0-B-4 §6: h(x) = x^8+x^6+x^4+x^3+x^2+x+1 from all ones.
    assert TC_SEQUENCE[:8] == bytes.fromhex("FF399E5A68E906F5")


def test_generator_bits_repeat_after_255_bits() -> None:
    # check the LFSR itself, not the way the module tiles its output: run it for 3 periods
    from protocol.randomiser import _sequence

    for taps, seq in (((0, 3, 5, 7), TM_SEQUENCE), ((0, 1, 2, 3, 4, 6), TC_SEQUENCE)):
        assert _sequence(taps) == seq
        bits = np.unpackbits(np.frombuffer(seq, np.uint8))
        assert np.array_equal(bits[255:510], bits[:255]) and np.array_equal(bits[510:765], bits[:255])
        assert not any(np.array_equal(bits[k:k + 255], bits[:255]) for k in range(1, 255))


def test_sequences_have_period_255_octets() -> None:
    assert tm_randomise(bytes(510)) == TM_SEQUENCE * 2
    assert tc_randomise(bytes(510)) == TC_SEQUENCE * 2
    for seq in (TM_SEQUENCE, TC_SEQUENCE):
        assert len(seq) == 255
        # maximal-length LFSR: 128 ones and 127 zeros per 255 bits
        bits = np.unpackbits(np.frombuffer(seq, np.uint8))
        assert int(bits[:255].sum()) == 128


@given(st.binary(max_size=3000))
def test_self_inverse(data: bytes) -> None:
    assert tm_randomise(tm_randomise(data)) == data
    assert tc_randomise(tc_randomise(data)) == data


def test_long_block_repeats_sequence() -> None:
    out = tm_randomise(bytes(1020))
    assert out == (TM_SEQUENCE * 5)[:1020]


def test_batch_matches_single() -> None:
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 256, size=(5, 1020), dtype=np.uint8)
    out = randomise_batch(blocks)
    for row_in, row_out in zip(blocks, out):
        assert row_out.tobytes() == tm_randomise(row_in.tobytes())
