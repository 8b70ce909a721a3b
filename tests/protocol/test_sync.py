"""ASM and frame synchronisation (CCSDS 131.0-B-5 §9).

Golden ASM, search properties (offset, bit shift, polarity, bit errors), chunking invariance, the numpy fast
path against the stream synchroniser, real S-NPP CADUs, fuzz.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from protocol.errors import LocalProtocolError, ProtocolError
from protocol.randomiser import randomise_batch
from protocol.reedsolomon import ReedSolomon, RSConfig
from protocol.sync import (
    ASM,
    ASM_LEN,
    NEED_DATA,
    Cadu,
    FrameFound,
    FrameSynchronizer,
    Skipped,
    attach_asm,
    sync_batch,
)

# Filler octets whose bit patterns stay >= 10 bits away from the ASM (either polarity) in every window,
# also in windows that straddle the ASM; so with at most 4 tolerated errors a match can only be the real ASM.
SAFE_FILL = (0x00, 0xFF, 0x55, 0xAA)
MAX_K = 4


def _bits(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8))


def _asm_bits(errors: int, rng: np.random.Generator) -> np.ndarray:
    bits = _bits(ASM)
    if errors:
        bits[rng.choice(32, size=errors, replace=False)] ^= 1
    return bits


def _stream(pieces: list[np.ndarray], *, inverted: bool, fill: int) -> bytes:
    """Pack bit pieces into octets, padding the end with filler bits; flip everything when inverted."""
    bits = np.concatenate(pieces) if pieces else np.zeros(0, np.uint8)
    pad = (-bits.size) % 8
    bits = np.concatenate([bits, _bits(bytes([fill]))[:pad]])
    if inverted:
        bits = 1 - bits
    return np.packbits(bits).tobytes()


def _run(sync: FrameSynchronizer, chunks: list[bytes]) -> list[FrameFound | Skipped]:
    out: list[FrameFound | Skipped] = []
    for chunk in chunks:
        sync.feed(chunk)
        out.extend(sync.events())
    sync.close()
    out.extend(sync.events())
    return out


def _check_tiling(events: list[FrameFound | Skipped], total_bits: int, frame_len: int) -> None:
    """Frames and skipped ranges cover the stream exactly, in order, without overlap."""
    at = 0
    for ev in events:
        if isinstance(ev, Skipped):
            assert ev.offset_bits == at and ev.length_bits > 0
            at += ev.length_bits
        else:
            assert ev.offset_bits == at and len(ev.codeblock) == frame_len
            at += 32 + 8 * frame_len
    assert at == total_bits


# ---------------------------------------------------------------- golden


def test_asm_golden_and_cadu_layout() -> None:
    assert ASM == bytes.fromhex("1ACFFC1D")
    assert attach_asm(b"\x01\x02") == bytes.fromhex("1ACFFC1D0102")
    assert Cadu.build(dict(codeblock=b"\x01\x02")) == attach_asm(b"\x01\x02")
    assert Cadu.parse(attach_asm(b"xyz")).codeblock == b"xyz"
    with pytest.raises(LocalProtocolError):
        attach_asm(b"")


@pytest.mark.parametrize("kwargs", [dict(frame_len=0), dict(frame_len=10, max_bit_errors=16),
                                    dict(frame_len=10, locked_max_bit_errors=-1),
                                    dict(frame_len=10, max_buffer_octets=14)])
def test_synchronizer_rejects_bad_options(kwargs: dict) -> None:
    with pytest.raises(LocalProtocolError):
        FrameSynchronizer(**kwargs)


def test_need_data_and_bounded_buffer() -> None:
    sync = FrameSynchronizer(frame_len=100, max_buffer_octets=1000)
    assert sync.next_event() is NEED_DATA
    sync.feed(bytes(600))
    with pytest.raises(LocalProtocolError, match="buffered octets"):
        sync.feed(bytes(600))
    assert list(sync.events()) == []  # draining searches the zeros and drops them
    sync.feed(bytes(600))
    sync.close()
    assert list(sync.events()) == [Skipped(0, 8 * 1200, "stream ended")]
    with pytest.raises(LocalProtocolError):
        sync.feed(b"\x00")


# ---------------------------------------------------------------- search properties


@settings(max_examples=150, deadline=None)
@given(prefix_octets=st.integers(0, 40), shift=st.integers(0, 7), k=st.integers(0, MAX_K),
       inverted=st.booleans(), fill=st.sampled_from(SAFE_FILL), n_frames=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1), data=st.data())
def test_finds_frames_at_any_offset_shift_polarity_with_up_to_k_errors(
        prefix_octets: int, shift: int, k: int, inverted: bool, fill: int, n_frames: int, seed: int,
        data: st.DataObject) -> None:
    rng = np.random.default_rng(seed)
    frame_len = 37
    errors = [data.draw(st.integers(0, k)) for _ in range(n_frames)]
    blocks = [rng.integers(0, 256, frame_len, dtype=np.uint8).tobytes() for _ in range(n_frames)]
    pieces = [_bits(bytes([fill]) * (prefix_octets + 1))[:8 * prefix_octets + shift]]
    for err, block in zip(errors, blocks):
        pieces += [_asm_bits(err, rng), _bits(block)]
    stream = _stream(pieces + [_bits(bytes([fill]) * 3)], inverted=inverted, fill=fill)
    events = _run(FrameSynchronizer(frame_len=frame_len, max_bit_errors=k), [stream])
    frames = [e for e in events if isinstance(e, FrameFound)]
    assert [f.codeblock for f in frames] == blocks  # re-inverted when the stream was inverted
    assert [f.asm_bit_errors for f in frames] == errors
    assert all(f.inverted == inverted for f in frames)
    start = 8 * prefix_octets + shift
    assert [f.offset_bits for f in frames] == [start + i * (32 + 8 * frame_len) for i in range(n_frames)]
    assert (frames[0].offset, frames[0].bit_shift) == (prefix_octets, shift)
    _check_tiling(events, 8 * len(stream), frame_len)


@settings(max_examples=100, deadline=None)
@given(prefix_octets=st.integers(0, 20), shift=st.integers(0, 7), k=st.integers(0, MAX_K),
       inverted=st.booleans(), fill=st.sampled_from(SAFE_FILL), seed=st.integers(0, 2**32 - 1))
def test_rejects_asm_with_k_plus_1_errors(prefix_octets: int, shift: int, k: int, inverted: bool, fill: int,
                                          seed: int) -> None:
    rng = np.random.default_rng(seed)
    frame_len = 30
    pieces = [_bits(bytes([fill]) * (prefix_octets + 1))[:8 * prefix_octets + shift],
              _asm_bits(k + 1, rng), _bits(bytes([fill]) * (frame_len + 3))]
    stream = _stream(pieces, inverted=inverted, fill=fill)
    events = _run(FrameSynchronizer(frame_len=frame_len, max_bit_errors=k), [stream])
    assert events == [Skipped(0, 8 * len(stream), "stream ended")]


def test_aligned_only_and_normal_polarity_only_options() -> None:
    block = bytes(range(50))
    shifted = _stream([np.zeros(3, np.uint8), _bits(attach_asm(block))], inverted=False, fill=0)
    inverted = bytes(b ^ 0xFF for b in attach_asm(block))
    for stream, opts in ((shifted, dict(search_bit_shifts=False)), (inverted, dict(detect_inverted=False))):
        events = _run(FrameSynchronizer(frame_len=50, **opts), [stream])
        assert not any(isinstance(e, FrameFound) for e in events)
    assert [e.codeblock for e in _run(FrameSynchronizer(frame_len=50), [inverted])
            if isinstance(e, FrameFound)] == [block]


def test_flywheel_tolerates_more_errors_where_the_next_asm_is_expected() -> None:
    rng = np.random.default_rng(5)
    blocks = [bytes([i]) * 40 for i in range(1, 4)]
    asm5 = np.packbits(_asm_bits(5, rng)).tobytes()
    locked_stream = attach_asm(blocks[0]) + asm5 + blocks[1]
    events = _run(FrameSynchronizer(frame_len=40, max_bit_errors=1, locked_max_bit_errors=6), [locked_stream])
    assert [(e.codeblock, e.asm_bit_errors) for e in events] == [(blocks[0], 0), (blocks[1], 5)]
    # the same damaged ASM after a gap (lock lost) is not acquired with max_bit_errors=1
    gap_stream = attach_asm(blocks[0]) + b"\x00\x00\x00" + asm5 + blocks[1] + attach_asm(blocks[2])
    sync = FrameSynchronizer(frame_len=40, max_bit_errors=1, locked_max_bit_errors=6)
    events = _run(sync, [gap_stream])
    assert [type(e).__name__ for e in events] == ["FrameFound", "Skipped", "FrameFound"]
    assert events[1] == Skipped(8 * 44, 8 * (3 + 44), "no ASM found")
    assert events[2].codeblock == blocks[2] and events[2].offset == 44 + 3 + 44
    assert (sync.frames, sync.skipped_bits) == (2, 8 * 47)


def test_truncated_tail_is_reported() -> None:
    stream = b"\x00\x00" + attach_asm(bytes(20)) + attach_asm(bytes(5))
    events = _run(FrameSynchronizer(frame_len=20), [stream])
    assert events == [Skipped(0, 16, "no ASM found"), FrameFound(bytes(20), 2, 0, 0, False),
                      Skipped(8 * 26, 8 * 9, "stream ended inside a frame")]
    events = _run(FrameSynchronizer(frame_len=20), [b"\x07" * 5 + attach_asm(bytes(5))])
    assert events == [Skipped(0, 40, "no ASM found"), Skipped(40, 72, "stream ended inside a frame")]


# ---------------------------------------------------------------- chunking invariance


def _mixed_stream(seed: int) -> tuple[bytes, int]:
    """Frames at odd bit shifts, inverted, with ASM errors, garbage in between: (stream, frame_len)."""
    rng = np.random.default_rng(seed)
    frame_len = 12
    pieces = [_bits(b"\x55\x55")[:13]]
    for i in range(3):
        pieces += [_asm_bits(int(rng.integers(0, 3)), rng), _bits(rng.integers(0, 256, frame_len, np.uint8).tobytes())]
        if i == 1:
            pieces.append(_bits(b"\xaa\xaa\xaa")[:19])
    return _stream(pieces, inverted=bool(seed % 2), fill=0x55), frame_len


@pytest.mark.parametrize("seed", [1, 2])
def test_same_events_split_at_every_index_and_byte_by_byte(seed: int) -> None:
    stream, frame_len = _mixed_stream(seed)
    whole = _run(FrameSynchronizer(frame_len=frame_len, max_bit_errors=2), [stream])
    assert sum(isinstance(e, FrameFound) for e in whole) == 3
    _check_tiling(whole, 8 * len(stream), frame_len)
    one_by_one = [stream[i:i + 1] for i in range(len(stream))]
    assert _run(FrameSynchronizer(frame_len=frame_len, max_bit_errors=2), one_by_one) == whole
    for cut in range(len(stream) + 1):
        chunks = [stream[:cut], stream[cut:]]
        assert _run(FrameSynchronizer(frame_len=frame_len, max_bit_errors=2), chunks) == whole


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(0, 200), max_size=12))
def test_same_events_for_any_chunking(seed: int, cuts: list[int]) -> None:
    stream, frame_len = _mixed_stream(seed)
    bounds = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in zip(bounds, bounds[1:])]
    whole = _run(FrameSynchronizer(frame_len=frame_len, max_bit_errors=2), [stream])
    assert _run(FrameSynchronizer(frame_len=frame_len, max_bit_errors=2), chunks) == whole


# ---------------------------------------------------------------- fast path


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), layout=st.lists(st.sampled_from(["frame", "bad_asm", "gap"]),
                                                      min_size=0, max_size=12),
       tail=st.integers(0, 54), k=st.integers(0, 2))
def test_sync_batch_matches_the_stream_synchronizer_on_aligned_streams(seed: int, layout: list[str], tail: int,
                                                                        k: int) -> None:
    rng = np.random.default_rng(seed)
    frame_len = 50
    parts = [b"\x55" * int(rng.integers(0, 5))]
    for kind in layout:
        if kind == "frame":
            asm = np.packbits(_asm_bits(int(rng.integers(0, k + 1)), rng)).tobytes()
            parts.append(asm + bytes([int(rng.integers(0, 256))]) * frame_len)
        elif kind == "bad_asm":
            asm = np.packbits(_asm_bits(k + 1 + int(rng.integers(0, 3)), rng)).tobytes()
            parts.append(asm + b"\xaa" * frame_len)
        else:
            parts.append(b"\x00" * int(rng.integers(1, 30)))
    parts.append(attach_asm(b"\xff" * frame_len)[:tail])  # maybe a partial CADU
    buf = b"".join(parts)
    batch = sync_batch(buf, frame_len, max_bit_errors=k)
    sync = FrameSynchronizer(frame_len=frame_len, max_bit_errors=k, search_bit_shifts=False, detect_inverted=False)
    events = _run(sync, [buf])
    frames = [e for e in events if isinstance(e, FrameFound)]
    assert len(batch) == len(frames) == layout.count("frame") + (tail == 4 + frame_len)
    assert [bytes(row) for row in batch.frames] == [f.codeblock for f in frames]
    assert batch.offsets.tolist() == [f.offset for f in frames]
    assert batch.asm_bit_errors.tolist() == [f.asm_bit_errors for f in frames]
    # skipped ranges agree up to the remainder (the stream version reports the tail at close())
    stream_skips = [e for e in events if isinstance(e, Skipped) and e.offset_bits < 8 * batch.remainder]
    assert [(s.offset_bits, min(s.offset_bits + s.length_bits, 8 * batch.remainder)) for s in stream_skips] == [
        (s.offset_bits, s.offset_bits + s.length_bits) for s in batch.skipped]
    # what is left over is at most a partial ASM (3 octets) or the partial CADU at the end
    assert len(buf) - batch.remainder <= max(ASM_LEN - 1, tail if ASM_LEN <= tail < ASM_LEN + frame_len else 0)


def test_sync_batch_empty_and_options() -> None:
    out = sync_batch(b"", 10)
    assert out.frames.shape == (0, 10) and out.remainder == 0 and out.skipped == ()
    with pytest.raises(LocalProtocolError):
        sync_batch(b"", 0)
    with pytest.raises(LocalProtocolError):
        sync_batch(b"", 10, max_bit_errors=16)


# ---------------------------------------------------------------- real data: S-NPP CADUs


@pytest.fixture(scope="module")
def snpp_stream(real_dir: Path) -> bytes:
    return (real_dir / "snpp_synchronized_cadus.dat").read_bytes()


def test_snpp_stream_synchronizes_and_decodes(snpp_stream: bytes) -> None:
    batch = sync_batch(snpp_stream, 1020)
    assert len(batch) == 65 and batch.offsets.tolist() == list(range(0, 65 * 1024, 1024))
    assert batch.remainder == len(snpp_stream) and batch.skipped == ()
    events = _run(FrameSynchronizer(frame_len=1020, max_bit_errors=3), [snpp_stream[i:i + 777]
                                                                        for i in range(0, len(snpp_stream), 777)])
    assert [bytes(r) for r in batch.frames] == [e.codeblock for e in events]
    assert all(isinstance(e, FrameFound) and e.asm_bit_errors == 0 and not e.inverted for e in events)
    decoded = ReedSolomon(RSConfig(interleave=4)).decode_batch(randomise_batch(batch.frames))
    assert not decoded.corrected_symbols.any()


def test_snpp_inverted_and_shifted_with_noise(snpp_stream: bytes) -> None:
    rng = np.random.default_rng(11)
    bits = _bits(snpp_stream)
    bits = np.concatenate([rng.integers(0, 2, 5 * 8 + 5, dtype=np.uint8), 1 - bits])
    stream = np.packbits(bits).tobytes()
    events = _run(FrameSynchronizer(frame_len=1020, max_bit_errors=2), [stream])
    frames = [e for e in events if isinstance(e, FrameFound)]
    assert len(frames) == 65 and all(f.inverted and (f.offset, f.bit_shift) == (5 + 1024 * i, 5)
                                     for i, f in enumerate(frames))
    assert b"".join(attach_asm(f.codeblock) for f in frames) == snpp_stream


# ---------------------------------------------------------------- fuzz


@settings(max_examples=150, deadline=None)
@given(blob=st.binary(max_size=600), frame_len=st.integers(1, 64), k=st.integers(0, 6),
       chunk=st.integers(1, 100))
def test_fuzz_random_bytes(blob: bytes, frame_len: int, k: int, chunk: int) -> None:
    chunks = [blob[i:i + chunk] for i in range(0, len(blob), chunk)]
    try:
        events = _run(FrameSynchronizer(frame_len=frame_len, max_bit_errors=k), chunks)
    except ProtocolError:
        return
    _check_tiling(events, 8 * len(blob), frame_len)
    assert _run(FrameSynchronizer(frame_len=frame_len, max_bit_errors=k), [blob]) == events
    batch = sync_batch(blob, frame_len, max_bit_errors=k)
    assert batch.frames.shape[1] == frame_len and 0 <= batch.remainder <= len(blob)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_mutations=st.integers(1, 30))
def test_fuzz_mutated_cadu_streams(seed: int, n_mutations: int) -> None:
    rng = np.random.default_rng(seed)
    frame_len = 40
    stream = bytearray(b"".join(attach_asm(rng.integers(0, 256, frame_len, np.uint8).tobytes()) for _ in range(6)))
    for _ in range(n_mutations):
        op = rng.integers(0, 3)
        at = int(rng.integers(0, len(stream) + 1))
        if op == 0 and stream:
            stream[min(at, len(stream) - 1)] ^= int(rng.integers(1, 256))
        elif op == 1:
            stream[at:at] = rng.integers(0, 256, int(rng.integers(1, 9)), np.uint8).tobytes()
        else:
            del stream[at:at + int(rng.integers(1, 9))]
    data = bytes(stream)
    events = _run(FrameSynchronizer(frame_len=frame_len, max_bit_errors=2), [data])
    _check_tiling(events, 8 * len(data), frame_len)
    one_by_one = [data[i:i + 1] for i in range(len(data))]
    assert _run(FrameSynchronizer(frame_len=frame_len, max_bit_errors=2), one_by_one) == events


# --------------------------------------------------------------------------- soft symbols and bits

def test_soft_symbols_and_bits_through_the_synchroniser_any_shift_polarity_and_chunking() -> None:
    from protocol.stack import DownlinkConfig, DownlinkEncoder, DownlinkDecoder
    from protocol.sync import BitPacker, bits_to_symbols, octets_to_symbols, symbols_to_bits
    from protocol.vchannel import VcPacket

    config = DownlinkConfig.cubesat(scid=0x2A, interleave=1)
    enc = DownlinkEncoder(config, {0: 0})
    packets = [bytes([0x08, 0x10, 0xC0, i, 0x00, 0x09]) + bytes([i]) * 10 for i in range(40)]
    for p in packets:
        enc.submit(0, p)
    cadus = enc.cadus(4)
    rng = np.random.default_rng(5)
    symbols = octets_to_symbols(cadus)
    assert symbols.dtype == np.float32 and set(np.unique(symbols)) == {-1.0, 1.0}
    assert np.packbits(symbols_to_bits(symbols)).tobytes() == cadus
    lead = rng.integers(0, 2, 13).astype(np.uint8)  # 13 bits of noise: the CADUs start off the octet grid
    trail = rng.integers(0, 2, 3).astype(np.uint8)  # and 3 after, so the last CADU ends on a whole octet
    for inverted in (False, True):
        soft = np.concatenate((bits_to_symbols(lead), symbols, bits_to_symbols(trail)))
        soft = soft * rng.uniform(0.2, 3.0, len(soft))
        if inverted:
            soft = -soft  # a BPSK phase ambiguity of 180 degrees
        soft = soft.astype(np.float32)
        got_frames = []
        for chunking in (None, 1000, 7):
            dec = DownlinkDecoder(config)
            step = chunking or len(soft)
            for i in range(0, len(soft), step):
                dec.feed_symbols(soft[i:i + step])
            dec.close()
            got = [ev.data for ev in dec.events() if isinstance(ev, VcPacket)]
            got_frames.append((dec.counters.frames, got))
        assert got_frames[0] == got_frames[1] == got_frames[2]
        assert got_frames[0][0] == 4 and got_frames[0][1] == packets
    packer = BitPacker()
    assert packer.pack(np.array([1, 0, 1])) == b"" and packer.pending_bits == 3
    assert packer.pack(np.array([1, 0, 0, 0, 0, 1, 1])) == bytes([0b10110000]) and packer.pending_bits == 2
    assert packer.flush() == bytes([0b11000000]) and packer.pending_bits == 0 and packer.flush() == b""
    # a stream that ends off the octet grid still gives its last frame (close() zero-fills the last octet)
    dec = DownlinkDecoder(config)
    dec.feed_symbols(np.concatenate((bits_to_symbols(lead[:5]), symbols)))
    dec.close()
    assert dec.counters.frames == 4
    with pytest.raises(LocalProtocolError, match="soft symbols"):
        symbols_to_bits(np.zeros((2, 2)))
