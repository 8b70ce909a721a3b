"""Reed-Solomon (255,223) E=16 of CCSDS 131.0-B-5 §4: golden, property, peer (reedsolo), real S-NPP data, fuzz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import reedsolo
from hypothesis import HealthCheck, given, settings, strategies as st

from protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError, UncorrectableError
from protocol.randomiser import randomise_batch
from protocol.reedsolomon import (
    CONVENTIONAL_TO_DUAL,
    DUAL_TO_CONVENTIONAL,
    MAX_ERRORS,
    UNCORRECTABLE,
    Basis,
    ReedSolomon,
    RSConfig,
    RSDecoded,
    generator_poly,
)

CADU_LEN = 1024
SNPP = RSConfig(interleave=4, basis=Basis.DUAL)

configs = st.builds(
    RSConfig,
    interleave=st.integers(1, 8),
    basis=st.sampled_from(Basis),
    virtual_fill=st.sampled_from([0, 0, 1, 17, 100, 200, 222]),
)


def _peer() -> reedsolo.RSCodec:
    """reedsolo set up for the CCSDS code in the conventional basis."""
    return reedsolo.RSCodec(32, nsize=255, fcr=112, prim=0x187, generator=0xAD, c_exp=8)


def _random_data(rng: np.random.Generator, cfg: RSConfig, n: int = 1) -> np.ndarray:
    return rng.integers(0, 256, size=(n, cfg.data_len), dtype=np.uint8)


def _inject(rng: np.random.Generator, block: np.ndarray, cfg: RSConfig, per_word: list[int]) -> np.ndarray:
    """A copy of one codeblock with per_word[w] symbol errors (non-zero XOR) in codeword w."""
    bad = block.copy()
    for word, count in enumerate(per_word):
        pos = rng.choice(cfg.codeword_len, size=count, replace=False)
        bad[pos * cfg.interleave + word] ^= rng.integers(1, 256, size=count, dtype=np.uint8)
    return bad


# ---------------------------------------------------------------- golden


def test_generator_polynomial_is_palindromic_and_matches_reedsolo() -> None:
    g = generator_poly()
    assert len(g) == 33 and g[0] == g[32] == 1
    # roots (alpha^11)^j, j = 112..143 are symmetric about 127.5, so g(x) is self-reciprocal (§4.3.8)
    assert g == g[::-1]
    reedsolo.init_tables(0x187, 0xAD, 8)
    assert tuple(reedsolo.rs_generator_poly(32, fcr=112, generator=0xAD)) == g


def test_dual_basis_tables_golden_and_inverse() -> None:
    # Annex F: conventional 0x00.. -> dual 00 7B AF D4 99 E2 36 4D ...
    assert CONVENTIONAL_TO_DUAL[:16].tobytes() == bytes.fromhex("007BAFD499E2364DFA81552E6318CCB7")
    # the rows of the transformation matrix are the images of the single bits 0x80 .. 0x01
    assert [int(CONVENTIONAL_TO_DUAL[1 << (7 - i)]) for i in range(8)] == [
        0x8D, 0xEF, 0xEC, 0x86, 0xFA, 0x99, 0xAF, 0x7B]
    everything = np.arange(256, dtype=np.uint8)
    assert (DUAL_TO_CONVENTIONAL[CONVENTIONAL_TO_DUAL] == everything).all()
    assert (CONVENTIONAL_TO_DUAL[DUAL_TO_CONVENTIONAL] == everything).all()
    a, b = np.meshgrid(everything, everything)
    assert (CONVENTIONAL_TO_DUAL[a ^ b] == CONVENTIONAL_TO_DUAL[a] ^ CONVENTIONAL_TO_DUAL[b]).all()  # GF(2)-linear


@pytest.mark.parametrize("basis", list(Basis))
def test_zero_data_gives_zero_codeblock(basis: Basis) -> None:
    cfg = RSConfig(interleave=5, basis=basis)
    assert ReedSolomon(cfg).encode(bytes(cfg.data_len)) == bytes(cfg.codeblock_len)


def test_config_lengths() -> None:
    assert (SNPP.codeblock_len, SNPP.data_len, SNPP.check_len) == (1020, 892, 128)
    cfg = RSConfig(interleave=5, virtual_fill=10)
    assert (cfg.codeblock_len, cfg.data_len, cfg.codeword_len) == (5 * 245, 5 * 213, 245)


@pytest.mark.parametrize("kwargs", [dict(interleave=0), dict(interleave=9), dict(virtual_fill=-1),
                                    dict(virtual_fill=223), dict(basis="polar")])
def test_config_rejects_invalid(kwargs: dict) -> None:
    with pytest.raises(LocalProtocolError):
        RSConfig(**kwargs)


def test_encode_rejects_wrong_lengths_and_decode_wrong_length_is_remote_error() -> None:
    rs = ReedSolomon(SNPP)
    with pytest.raises(LocalProtocolError):
        rs.encode(bytes(891))
    with pytest.raises(LocalProtocolError):
        rs.encode_batch(np.zeros((2, 892), dtype=np.int64))
    with pytest.raises(RemoteProtocolError, match="codeblock length"):
        rs.decode(bytes(1019), offset=4)


# ---------------------------------------------------------------- peer: reedsolo


@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=1, max_size=223))
def test_conventional_codeword_equals_reedsolo(data: bytes) -> None:
    """Ours (I=1, conventional, shortened by 223-len octets) == reedsolo's codeword."""
    cfg = RSConfig(interleave=1, basis=Basis.CONVENTIONAL, virtual_fill=223 - len(data))
    assert ReedSolomon(cfg).encode(data) == bytes(_peer().encode(data))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_errors=st.integers(0, 16))
def test_reedsolo_and_we_correct_the_same_corrupted_codeword(seed: int, n_errors: int) -> None:
    rng = np.random.default_rng(seed)
    cfg = RSConfig(interleave=1, basis=Basis.CONVENTIONAL)
    data = _random_data(rng, cfg)[0]
    word = np.frombuffer(ReedSolomon(cfg).encode(data.tobytes()), np.uint8)
    bad = _inject(rng, word, cfg, [n_errors]).tobytes()
    ours = ReedSolomon(cfg).decode(bad)
    theirs, _, errata = _peer().decode(bad)
    assert ours.data == bytes(theirs) == data.tobytes()
    assert ours.corrected_symbols == (len(errata),) == (n_errors,)


def test_dual_basis_is_conventional_code_seen_through_the_basis_change() -> None:
    rng = np.random.default_rng(7)
    dual, conv = ReedSolomon(RSConfig(interleave=2)), ReedSolomon(RSConfig(interleave=2, basis=Basis.CONVENTIONAL))
    data = _random_data(rng, dual.config, 3)
    via_conv = CONVENTIONAL_TO_DUAL[conv.encode_batch(DUAL_TO_CONVENTIONAL[data])]
    assert (dual.encode_batch(data) == via_conv).all()


# ---------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(cfg=configs, seed=st.integers(0, 2**32 - 1))
def test_round_trip_all_depths_bases_and_fills(cfg: RSConfig, seed: int) -> None:
    rng = np.random.default_rng(seed)
    rs = ReedSolomon(cfg)
    data = _random_data(rng, cfg, 3)
    blocks = rs.encode_batch(data)
    assert blocks.shape == (3, cfg.codeblock_len)
    assert (blocks[:, :cfg.data_len] == data).all()  # systematic
    assert rs.encode(data[1].tobytes()) == blocks[1].tobytes()  # single == batch
    assert not rs.syndromes_batch(blocks).any()
    out = rs.decode_batch(blocks)
    assert (out.data == data).all() and not out.corrected_symbols.any() and not out.uncorrectable.any()
    single = rs.decode(blocks[2].tobytes())
    assert single.data == data[2].tobytes() and single.corrected_symbols == (0,) * cfg.interleave


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs, seed=st.integers(0, 2**32 - 1), data=st.data())
def test_corrects_up_to_16_errors_in_every_codeword(cfg: RSConfig, seed: int, data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    per_word = data.draw(st.lists(st.integers(0, MAX_ERRORS), min_size=cfg.interleave, max_size=cfg.interleave))
    rs = ReedSolomon(cfg)
    clean = rs.encode_batch(_random_data(rng, cfg))[0]
    bad = _inject(rng, clean, cfg, per_word)
    out = rs.decode(bad.tobytes())
    assert out.data == clean[:cfg.data_len].tobytes()
    assert out.corrected_symbols == tuple(per_word)
    assert not out.uncorrectable
    assert rs.correct(bad.tobytes()) == out.data


@settings(max_examples=40, deadline=None)
@given(cfg=configs, seed=st.integers(0, 2**32 - 1), n_errors=st.integers(MAX_ERRORS + 1, 60))
def test_beyond_16_errors_never_claims_the_original(cfg: RSConfig, seed: int, n_errors: int) -> None:
    """17+ errors: the code cannot restore the original (distance 33). Guaranteed: the decoder either flags the
    codeword or returns a *different* valid codeword within 16 symbols of what it received -- never the original
    data with a success claim. (Miscorrection has probability ~1e-14 per codeword, so in practice it flags.)"""
    rng = np.random.default_rng(seed)
    n_errors = min(n_errors, cfg.codeword_len)
    rs = ReedSolomon(cfg)
    clean = rs.encode_batch(_random_data(rng, cfg))[0]
    bad = _inject(rng, clean, cfg, [n_errors] + [0] * (cfg.interleave - 1))
    out = rs.decode(bad.tobytes())
    assert out.corrected_symbols[1:] == (0,) * (cfg.interleave - 1)
    if out.corrected_symbols[0] == UNCORRECTABLE:
        assert out.data == bad[:cfg.data_len].tobytes()  # left as received
    else:
        assert 1 <= out.corrected_symbols[0] <= MAX_ERRORS
        assert out.data != clean[:cfg.data_len].tobytes()


def test_17_to_40_errors_are_flagged_in_a_seeded_sample() -> None:
    """Precise claim: all 300 seeded codewords with 17..40 random symbol errors are reported uncorrectable,
    with data returned as received; correct() raises UncorrectableError naming the codeword."""
    rng = np.random.default_rng(2024)
    for basis in Basis:
        cfg = RSConfig(interleave=3, basis=basis, virtual_fill=5)
        rs = ReedSolomon(cfg)
        clean = rs.encode_batch(_random_data(rng, cfg, 50))
        bad = np.stack([_inject(rng, blk, cfg, [int(rng.integers(17, 41)), 0, int(rng.integers(17, 41))])
                        for blk in clean])
        out = rs.decode_batch(bad)
        assert (out.corrected_symbols[:, 0] == UNCORRECTABLE).all()
        assert (out.corrected_symbols[:, 1] == 0).all()
        assert (out.corrected_symbols[:, 2] == UNCORRECTABLE).all()
        assert out.uncorrectable.all()
        assert (out.data == bad[:, :cfg.data_len]).all()
        with pytest.raises(UncorrectableError, match="codeword"):
            rs.correct(bad[0].tobytes())


def test_batch_mixes_clean_corrected_and_uncorrectable_blocks() -> None:
    rng = np.random.default_rng(3)
    rs = ReedSolomon(SNPP)
    clean = rs.encode_batch(_random_data(rng, SNPP, 5000))  # more than one internal chunk
    bad = clean.copy()
    bad[10] = _inject(rng, clean[10], SNPP, [1, 2, 3, 16])
    bad[4500] = _inject(rng, clean[4500], SNPP, [0, 30, 0, 5])
    out = rs.decode_batch(bad)
    assert out.uncorrectable.tolist() == [i == 4500 for i in range(5000)]
    assert out.corrected_symbols[10].tolist() == [1, 2, 3, 16]
    assert out.corrected_symbols[4500].tolist() == [0, UNCORRECTABLE, 0, 5]
    assert (np.delete(out.data, 4500, axis=0) == np.delete(clean[:, :892], 4500, axis=0)).all()
    # the correctable codewords of block 4500 are corrected, the uncorrectable one is left as received
    d = out.data[4500]
    assert (d[0::4] == clean[4500, :892:4]).all() and (d[3::4] == clean[4500, 3:892:4]).all()
    assert (d[1::4] == bad[4500, 1:892:4]).all()


# ---------------------------------------------------------------- real data: S-NPP CADUs


@pytest.fixture(scope="module")
def snpp_codeblocks(real_dir: Path) -> np.ndarray:
    raw = np.fromfile(real_dir / "snpp_synchronized_cadus.dat", dtype=np.uint8)
    cadus = raw.reshape(-1, CADU_LEN)
    assert cadus.shape[0] == 65 and (cadus[:, :4] == np.frombuffer(bytes.fromhex("1ACFFC1D"), np.uint8)).all()
    return randomise_batch(cadus[:, 4:])  # derandomise the 1020-octet codeblocks


def test_snpp_all_260_codewords_have_zero_syndromes(snpp_codeblocks: np.ndarray) -> None:
    rs = ReedSolomon(SNPP)
    assert not rs.syndromes_batch(snpp_codeblocks).any()
    assert (rs.encode_batch(np.ascontiguousarray(snpp_codeblocks[:, :892])) == snpp_codeblocks).all()
    out = rs.decode_batch(snpp_codeblocks)
    assert not out.corrected_symbols.any()
    # the one-codeblock path (one gather + reduce) agrees with the many-codeword path (per-index gathers)
    for i in (0, 31, 64):
        assert rs.decode(snpp_codeblocks[i].tobytes()) == RSDecoded(out.data[i].tobytes(), (0, 0, 0, 0))
        assert rs.encode(snpp_codeblocks[i, :892].tobytes()) == snpp_codeblocks[i].tobytes()
    # AOS primary header of every frame: version 01b, SCID 157, VCID 16
    hdr = out.data[:, :2].astype(np.uint16)
    word = (hdr[:, 0] << 8) | hdr[:, 1]
    assert ((word >> 14) == 1).all() and (((word >> 6) & 0xFF) == 157).all() and ((word & 0x3F) == 16).all()


def test_snpp_not_a_codeword_in_the_conventional_basis(snpp_codeblocks: np.ndarray) -> None:
    conv = ReedSolomon(RSConfig(interleave=4, basis=Basis.CONVENTIONAL))
    assert conv.syndromes_batch(snpp_codeblocks).any(axis=2).all()


def test_snpp_injected_errors_are_corrected_to_the_original_bytes(snpp_codeblocks: np.ndarray) -> None:
    rng = np.random.default_rng(65)
    rs = ReedSolomon(SNPP)
    bad = np.stack([_inject(rng, blk, SNPP, rng.integers(0, MAX_ERRORS + 1, size=4).tolist())
                    for blk in snpp_codeblocks])
    out = rs.decode_batch(bad)
    assert not out.uncorrectable.any()
    assert (out.data == snpp_codeblocks[:, :892]).all()
    assert out.corrected_symbols.sum() == int((bad != snpp_codeblocks).sum())


# ---------------------------------------------------------------- fuzz


@settings(max_examples=80, deadline=None)
@given(cfg=configs, blob=st.binary(min_size=0, max_size=2100))
def test_fuzz_random_bytes_only_protocol_errors(cfg: RSConfig, blob: bytes) -> None:
    rs = ReedSolomon(cfg)
    block = (blob * (cfg.codeblock_len // max(1, len(blob)) + 1))[:cfg.codeblock_len] if blob else blob
    for candidate in (blob, block):
        try:
            out = rs.decode(candidate)
        except ProtocolError:
            continue
        assert len(out.data) == cfg.data_len and len(out.corrected_symbols) == cfg.interleave
        assert all(UNCORRECTABLE <= n <= MAX_ERRORS for n in out.corrected_symbols)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), flips=st.lists(st.tuples(st.integers(0, 1019), st.integers(1, 255)),
                                                      max_size=200))
def test_fuzz_mutated_codeblocks_decode_or_flag(seed: int, flips: list[tuple[int, int]]) -> None:
    rng = np.random.default_rng(seed)
    rs = ReedSolomon(SNPP)
    clean = rs.encode_batch(_random_data(rng, SNPP))[0]
    bad = clean.copy()
    for pos, mask in flips:
        bad[pos] ^= mask
    out = rs.decode(bad.tobytes())
    errors = [int((bad[w::4] != clean[w::4]).sum()) for w in range(4)]
    for w, n in enumerate(errors):
        if n <= MAX_ERRORS:
            assert out.corrected_symbols[w] == n
        else:
            # beyond the code's power: flagged, or (rarely) decoded to another codeword -- never to the original,
            # which lies more than 16 symbols away
            got = np.frombuffer(out.data, np.uint8)[w::4]
            assert out.corrected_symbols[w] == UNCORRECTABLE or not np.array_equal(got, clean[:len(out.data)][w::4])
