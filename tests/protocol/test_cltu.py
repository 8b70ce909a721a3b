"""CLTU and BCH(63,56) (CCSDS 231.0-B-4): golden vector, error correction, stream decoder, fuzz.

What the BCH tests assert, precisely:
* every single-bit error in any of the 63 code bits of a code block is
  corrected (the information octets come back exact, 1 bit counted), and a
  flipped filler bit (bit 64, outside the code) is ignored (0 counted);
* every double-bit error within the 63 code bits is detected: the block is
  reported uncorrectable, never miscorrected (minimum distance 4, since
  g(x) = (x + 1)(x^6 + x + 1));
* a triple error can be miscorrected (shown by one example), which is the
  documented limit of the code and why TC frames carry an FECF;
* in error-detecting mode any error in the 63 code bits is rejected.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import cltu
from protocol.cltu import (
    FILL_OCTET,
    INFO_LEN,
    START_SEQUENCE,
    TAIL_SEQUENCE,
    Cltu,
    CltuAborted,
    CltuConfig,
    CltuDecoder,
    CodeBlock,
    Skipped,
    bch_decode_block,
    bch_encode_block,
    decode_stream,
    trim_fill,
)
from protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError, TruncatedError, UncorrectableError
from protocol.randomiser import tc_randomise
from protocol.tcframe import FrameType, TcFrame

VECTOR = json.loads((Path(__file__).resolve().parents[1] / "data" / "vectors" / "cltu_bch.json").read_text())
GOLDEN_CLTU = bytes.fromhex(VECTOR["cltu_hex"])
GOLDEN_FRAME = bytes.fromhex(VECTOR["tc_frame_hex"])
RANDOMISED = CltuConfig(randomise=True)
DETECTING = CltuConfig(correct=False)


def reference_parity_octet(info: bytes) -> int:
    """Bit-serial LFSR division by g(x) = x^7 + x^6 + x^2 + 1, complemented, filler 0 (independent of the tables)."""
    reg = 0
    for byte in info:
        for k in range(7, -1, -1):
            feedback = ((byte >> k) & 1) ^ ((reg >> 6) & 1)
            reg = (reg << 1) & 0x7F
            if feedback:
                reg ^= 0b1000101  # x^6 + x^2 + 1
    return ((~reg) & 0x7F) << 1


def flip(data: bytes, *bits: int) -> bytes:
    """``data`` with the given bits flipped (bit 0 = most significant bit of octet 0)."""
    out = bytearray(data)
    for b in bits:
        out[b // 8] ^= 0x80 >> (b % 8)
    return bytes(out)


# ---------------------------------------------------------------- golden vector


def test_golden_decode_gives_exactly_the_frame() -> None:
    result = cltu.decode(GOLDEN_CLTU)
    assert result.data == GOLDEN_FRAME  # 42 = 6 x 7: no fill octets
    assert result.corrected_bits == 0
    assert result.code_blocks == 6
    assert result.length == len(GOLDEN_CLTU)
    assert trim_fill(result.data) == GOLDEN_FRAME
    frame = TcFrame.decode(trim_fill(result.data), fecf=False)
    assert (frame.scid, frame.vcid, frame.frame_type, frame.sequence_number) == (98, 1, FrameType.BD, 0)


def test_golden_encode_gives_exactly_the_cltu() -> None:
    assert cltu.encode(GOLDEN_FRAME) == GOLDEN_CLTU
    assert cltu.encode(TcFrame.decode(GOLDEN_FRAME, fecf=False).encode(fecf=False)) == GOLDEN_CLTU


def test_golden_blocks_agree_with_reference_division_and_declaration() -> None:
    assert GOLDEN_CLTU[:2] == START_SEQUENCE and GOLDEN_CLTU[-8:] == TAIL_SEQUENCE
    for i in range(6):
        block = GOLDEN_CLTU[2 + 8 * i:10 + 8 * i]
        parsed = CodeBlock.parse(block)  # filler bit is Const(0) in the declaration
        assert parsed.information == GOLDEN_FRAME[7 * i:7 * i + 7]
        assert block[7] == reference_parity_octet(block[:7])
        assert bch_encode_block(block[:7]) == block


def test_golden_stream() -> None:
    events = decode_stream(b"\x55\xAA" * 3 + GOLDEN_CLTU + b"\x55" * 5)
    assert events == [Skipped(0, 6), Cltu(6, len(GOLDEN_CLTU), GOLDEN_FRAME, 0, 6), Skipped(6 + 58, 5)]


# ---------------------------------------------------------------- encoding


@settings(deadline=None, max_examples=300)
@given(st.binary(min_size=7, max_size=7))
def test_parity_matches_reference(info: bytes) -> None:
    assert bch_encode_block(info)[7] == reference_parity_octet(info)


@settings(deadline=None, max_examples=200)
@given(st.binary(min_size=1, max_size=1024), st.booleans())
def test_round_trip(frame: bytes, randomise: bool) -> None:
    config = CltuConfig(randomise=randomise)
    raw = cltu.encode(frame, config=config)
    fill = -len(frame) % INFO_LEN
    blocks = (len(frame) + fill) // INFO_LEN
    assert len(raw) == 2 + 8 * blocks + 8
    info = b"".join(raw[2 + 8 * i:9 + 8 * i] for i in range(blocks))
    expected_info = frame + bytes([FILL_OCTET]) * fill
    assert info == (tc_randomise(expected_info) if randomise else expected_info)
    result = cltu.decode(raw, config=config)
    assert result == Cltu(0, len(raw), expected_info, 0, blocks)
    assert decode_stream(raw, config=config) == [result]


@settings(deadline=None, max_examples=100)
@given(st.binary(min_size=1, max_size=1017), st.integers(0, 0x3FF), st.integers(0, 63), st.booleans())
def test_tc_frame_through_cltu(data: bytes, scid: int, vcid: int, randomise: bool) -> None:
    config = CltuConfig(randomise=randomise)
    frame = TcFrame(scid=scid, vcid=vcid, data=data[:1017])
    raw = frame.encode()
    got = cltu.decode(cltu.encode(raw, config=config), config=config)
    assert TcFrame.decode(trim_fill(got.data)) == frame


def test_randomiser_changes_the_bits_on_the_air() -> None:
    plain = cltu.encode(bytes(70))
    rand = cltu.encode(bytes(70), config=RANDOMISED)
    assert plain != rand
    with pytest.raises(UncorrectableError):  # BCH protects the randomised bits as sent: a double error is caught
        cltu.decode(flip(rand, 16, 17), config=RANDOMISED)
    assert cltu.decode(rand, config=RANDOMISED).data == bytes(70)
    assert cltu.decode(rand).data == tc_randomise(bytes(70))  # decoded without derandomising


def test_encoder_rejects_bad_input() -> None:
    with pytest.raises(LocalProtocolError):
        cltu.encode(b"")
    with pytest.raises(LocalProtocolError):
        cltu.encode(bytes(7 * 147 + 1))
    assert cltu.encode(bytes(7 * 147 + 1), config=CltuConfig(max_code_blocks=148))
    with pytest.raises(LocalProtocolError):
        bch_encode_block(b"123456")
    for bad in (dict(randomise=1), dict(correct=None), dict(max_code_blocks=0), dict(max_code_blocks=True)):
        with pytest.raises(LocalProtocolError):
            CltuConfig(**bad)


# ---------------------------------------------------------------- BCH error correction


def some_blocks() -> list[bytes]:
    rng = random.Random(231)
    golden = [GOLDEN_CLTU[2 + 8 * i:10 + 8 * i] for i in range(6)]
    extra = [bch_encode_block(bytes(7)), bch_encode_block(b"\xFF" * 7)]
    extra += [bch_encode_block(rng.randbytes(7)) for _ in range(4)]
    return golden + extra


@pytest.mark.parametrize("block", some_blocks(), ids=lambda b: b.hex())
def test_every_single_bit_error_is_corrected(block: bytes) -> None:
    for bit in range(64):
        info, corrected = bch_decode_block(flip(block, bit))
        assert info == block[:7], bit
        assert corrected == (0 if bit == 63 else 1), bit  # bit 63 is the filler, outside the code


@pytest.mark.parametrize("block", some_blocks()[:4], ids=lambda b: b.hex())
def test_every_double_bit_error_is_detected(block: bytes) -> None:
    for a, b in itertools.combinations(range(63), 2):
        with pytest.raises(UncorrectableError):
            bch_decode_block(flip(block, a, b))
    # a code bit plus the filler bit is a single error in the code
    for a in range(63):
        assert bch_decode_block(flip(block, a, 63)) == (block[:7], 1)


def test_a_triple_error_can_be_miscorrected() -> None:
    block = bch_encode_block(b"ABCDEFG")
    miscorrected = 0
    for bits in itertools.combinations(range(0, 63, 5), 3):
        try:
            info, corrected = bch_decode_block(flip(block, *bits))
        except UncorrectableError:
            continue
        assert info != block[:7] and corrected == 1  # decoded to a different, valid codeword
        miscorrected += 1
    assert miscorrected > 0


def test_error_detecting_mode_rejects_any_error() -> None:
    block = bch_encode_block(b"1234567")
    assert bch_decode_block(block, correct=False) == (b"1234567", 0)
    for bit in range(63):
        with pytest.raises(UncorrectableError):
            bch_decode_block(flip(block, bit), correct=False)
    raw = cltu.encode(b"hello world")
    with pytest.raises(UncorrectableError):
        cltu.decode(flip(raw, 16 + 3), config=DETECTING)


@settings(deadline=None, max_examples=300)
@given(st.binary(min_size=1, max_size=300), st.data(), st.booleans())
def test_single_errors_in_every_block_are_corrected(frame: bytes, data: st.DataObject, randomise: bool) -> None:
    config = CltuConfig(randomise=randomise)
    raw = cltu.encode(frame, config=config)
    blocks = (len(raw) - 10) // 8
    bits = [16 + 64 * i + data.draw(st.integers(0, 63)) for i in range(blocks)]
    hit = data.draw(st.lists(st.sampled_from(bits), unique=True, min_size=1))
    result = cltu.decode(flip(raw, *hit), config=config)
    assert result.data[:len(frame)] == frame
    assert result.corrected_bits == sum(1 for b in hit if (b - 16) % 64 != 63)
    events = decode_stream(b"\x00" + flip(raw, *hit), config=config)
    assert events == [Skipped(0, 1), Cltu(1, result.length, result.data, result.corrected_bits, blocks)]


# ---------------------------------------------------------------- one-shot decode errors


def test_uncorrectable_block_names_index_and_offset() -> None:
    raw = cltu.encode(bytes(range(40)))
    bad = flip(raw, 16 + 64 * 3 + 5, 16 + 64 * 3 + 40)
    with pytest.raises(UncorrectableError) as e:
        cltu.decode(bad, offset=1000)
    assert e.value.field == "code block 3"
    assert e.value.offset == 1000 + 2 + 8 * 3
    assert "code block 3 at byte 1026" in str(e.value)


def test_decode_requires_start_blocks_and_tail() -> None:
    raw = cltu.encode(b"0123456789")
    with pytest.raises(RemoteProtocolError, match="start sequence"):
        cltu.decode(b"\xEB\x91" + raw[2:])
    with pytest.raises(TruncatedError, match="start sequence"):
        cltu.decode(b"\xEB")
    with pytest.raises(TruncatedError, match="tail"):
        cltu.decode(raw[:-8])
    with pytest.raises(TruncatedError):
        cltu.decode(raw[:-1])
    with pytest.raises(TruncatedError):
        cltu.decode(raw + b"\x55")
    with pytest.raises(TruncatedError):
        cltu.decode(START_SEQUENCE + TAIL_SEQUENCE)  # no code block at all
    with pytest.raises(UncorrectableError, match="tail sequence before the end"):
        cltu.decode(raw[:10] + TAIL_SEQUENCE + raw[10:])
    with pytest.raises(RemoteProtocolError, match="code blocks"):
        cltu.decode(cltu.encode(bytes(30)), config=CltuConfig(max_code_blocks=4))


def test_tail_with_one_bit_error_still_ends_the_cltu() -> None:
    raw = cltu.encode(b"abcdefghijklmn")
    for bit in range(64):
        damaged = raw[:-8] + flip(TAIL_SEQUENCE, bit)
        assert cltu.decode(damaged).data == b"abcdefghijklmn"
        assert decode_stream(damaged) == [Cltu(0, len(raw), b"abcdefghijklmn", 0, 2)]
        with pytest.raises(UncorrectableError):  # the damaged tail is no code block either
            bch_decode_block(flip(TAIL_SEQUENCE, bit))


def test_trim_fill() -> None:
    frame = TcFrame(scid=1, vcid=2, data=b"abc").encode()  # 10 octets
    data = cltu.decode(cltu.encode(frame)).data
    assert data == frame + bytes([FILL_OCTET]) * 4
    assert trim_fill(data) == frame
    with pytest.raises(TruncatedError):
        trim_fill(data[:5])
    with pytest.raises(TruncatedError):
        trim_fill(frame[:9])
    with pytest.raises(RemoteProtocolError, match="fill length"):
        trim_fill(frame + bytes(7))
    with pytest.raises(TruncatedError):
        trim_fill(b"\x00\x01")


# ---------------------------------------------------------------- stream decoder


def build_stream() -> tuple[bytes, list]:
    """Several CLTUs with idle octets, garbage, an aborted CLTU and a truncated one."""
    f1 = TcFrame(scid=98, vcid=1, data=b"first frame").encode()
    f2 = TcFrame(scid=98, vcid=1, data=b"second frame, longer than one block").encode()
    f3 = TcFrame(scid=98, vcid=2, data=b"third").encode()
    c1, c2, c3 = (cltu.encode(f) for f in (f1, f2, f3))
    c2_bad = flip(c2, 16 + 64 * 2 + 1, 16 + 64 * 2 + 9)  # double error in code block 2
    c3_err = flip(c3, 16 + 64 * 1 + 30)  # one corrected error
    idle = b"\x55" * 9
    parts = [idle, c1, b"\xEB\xEB", c2_bad, b"zz\xEB", c3_err, idle, c1[:30]]
    stream = b"".join(parts)
    pos = [sum(len(p) for p in parts[:i]) for i in range(len(parts))]
    fill = lambda f: f + bytes([FILL_OCTET]) * (-len(f) % 7)  # noqa: E731
    after_bad = pos[3] + 2 + 8 * 3  # search resumes after the rejected block
    expected = [
        Skipped(0, 9),
        Cltu(pos[1], len(c1), fill(f1), 0, len(fill(f1)) // 7),
        Skipped(pos[2], 2),
        CltuAborted(pos[3], 2 + 24, fill(f2)[:14], 0, 2, pos[3] + 2 + 16, "uncorrectable code block "
                    + c2_bad[18:26].hex(" ").upper()),
        Skipped(after_bad, pos[5] - after_bad),
        Cltu(pos[5], len(c3), fill(f3), 1, len(fill(f3)) // 7),
        Skipped(pos[6], 9),
        CltuAborted(pos[7], 30, fill(f1)[:21], 0, 3, pos[7] + 26, "stream ended inside the CLTU"),
    ]
    assert START_SEQUENCE not in c2_bad[26:]  # so the expected skip is right
    return stream, expected


def feed_chunks(chunks: list[bytes], config: CltuConfig = CltuConfig()) -> list:
    dec = CltuDecoder(config)
    out: list = []
    for chunk in chunks:
        dec.feed(chunk)
        out.extend(dec.events())
    dec.close()
    out.extend(dec.events())
    return out


def test_stream_events() -> None:
    stream, expected = build_stream()
    assert decode_stream(stream) == expected
    aborted = expected[3]
    err = aborted.error()
    assert isinstance(err, UncorrectableError) and err.offset == aborted.block_offset
    assert isinstance(expected[-1].error(), TruncatedError)


def test_stream_one_octet_at_a_time() -> None:
    stream, expected = build_stream()
    assert feed_chunks([stream[i:i + 1] for i in range(len(stream))]) == expected


def test_stream_split_at_every_index() -> None:
    stream, expected = build_stream()
    for i in range(len(stream) + 1):
        assert feed_chunks([stream[:i], stream[i:]]) == expected, i


@settings(deadline=None, max_examples=200)
@given(st.lists(st.integers(1, 40), max_size=60))
def test_stream_any_chunking(sizes: list[int]) -> None:
    stream, expected = build_stream()
    chunks, pos = [], 0
    for n in sizes:
        chunks.append(stream[pos:pos + n])
        pos += n
    chunks.append(stream[pos:])
    assert feed_chunks(chunks) == expected


def test_stream_randomised_counters_and_bound() -> None:
    frames = [bytes([i]) * (10 + 20 * i) for i in range(4)]
    stream = b"".join(b"\x55\x55" + cltu.encode(f, config=RANDOMISED) for f in frames)
    dec = CltuDecoder(RANDOMISED)
    dec.feed(stream)
    events = list(dec.events())
    cltus = [e for e in events if isinstance(e, Cltu)]
    assert [e.data[:len(f)] for e, f in zip(cltus, frames, strict=True)] == frames
    assert dec.cltus == 4 and dec.skipped_octets == 8
    # a CLTU longer than max_code_blocks is aborted at the first block past the limit
    small = CltuConfig(max_code_blocks=3)
    raw = cltu.encode(bytes(range(35)))  # 5 blocks
    events = decode_stream(raw, config=small)
    assert events[0] == CltuAborted(0, 2 + 32, bytes(range(21)), 0, 3, 2 + 24, "more than 3 code blocks")
    assert all(isinstance(e, Skipped) for e in events[1:])
    assert feed_chunks([raw[i:i + 1] for i in range(len(raw))], small) == events
    assert decode_stream(cltu.encode(bytes(range(21))), config=small)[0].data == bytes(range(21))


def test_stream_tail_right_after_start_and_closed_decoder() -> None:
    assert decode_stream(START_SEQUENCE + TAIL_SEQUENCE) == [
        CltuAborted(0, 10, b"", 0, 0, 2, "tail sequence right after the start sequence")]
    assert decode_stream(b"") == []
    assert decode_stream(b"\xEB") == [Skipped(0, 1)]
    assert decode_stream(b"\xEB\x90") == [CltuAborted(0, 2, b"", 0, 0, 2, "stream ended inside the CLTU")]
    dec = CltuDecoder()
    dec.close()
    with pytest.raises(LocalProtocolError):
        dec.feed(b"x")


# ---------------------------------------------------------------- fuzz


def _check_events(events: list, total: int) -> None:
    """Events tile the stream: each octet is in exactly one Skipped run or CLTU, in order."""
    pos = 0
    for ev in events:
        assert isinstance(ev, (Cltu, CltuAborted, Skipped))
        assert ev.offset >= pos
        if isinstance(ev, Skipped):
            assert ev.offset == pos and ev.length > 0
            pos = ev.offset + ev.length
        else:
            assert ev.length >= 2
            pos = ev.offset + ev.length
    assert pos == total


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.booleans())
def test_fuzz_random_bytes(raw: bytes, correct: bool) -> None:
    config = CltuConfig(correct=correct, max_code_blocks=20)
    try:
        cltu.decode(raw, config=config)
    except ProtocolError:
        pass
    try:
        trim_fill(raw)
    except ProtocolError:
        pass
    events = decode_stream(raw, config=config)
    _check_events(events, len(raw))
    assert feed_chunks([raw[i:i + 1] for i in range(len(raw))], config) == events


@settings(deadline=None, max_examples=300)
@given(st.binary(min_size=1, max_size=200), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                                      max_size=6), st.integers(-10, 10), st.booleans())
def test_fuzz_mutated_cltus(frame: bytes, edits: list[tuple[int, int]], cut: int, randomise: bool) -> None:
    config = CltuConfig(randomise=randomise)
    raw = bytearray(cltu.encode(frame, config=config) * 2)
    for pos, val in edits:
        raw[pos % len(raw)] = val
    raw = raw[:cut] if cut < 0 else raw + b"\xEB" * cut
    try:
        result = cltu.decode(bytes(raw), config=config)
    except ProtocolError:
        pass
    else:
        assert len(result.data) == 7 * result.code_blocks
    events = decode_stream(bytes(raw), config=config)
    _check_events(events, len(raw))
    for e in events:
        if isinstance(e, CltuAborted):
            assert isinstance(e.error(), RemoteProtocolError)
    assert feed_chunks([bytes(raw[i:i + 3]) for i in range(0, len(raw), 3)], config) == events


@settings(deadline=None, max_examples=1000)
@given(st.binary(min_size=8, max_size=8), st.booleans())
def test_fuzz_code_blocks(block: bytes, correct: bool) -> None:
    try:
        info, corrected = bch_decode_block(block, correct=correct)
    except UncorrectableError:
        return
    # an accepted block is within one code bit of the codeword it decodes to (filler bit aside)
    diff = int.from_bytes(bch_encode_block(info), "big") ^ int.from_bytes(block, "big")
    diff &= ~1
    assert corrected == (diff != 0) and diff & (diff - 1) == 0
    assert correct or corrected == 0
