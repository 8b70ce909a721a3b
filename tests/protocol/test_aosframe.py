"""AOS transfer frames (CCSDS 732.0-B-4): golden vectors, FHEC, round trips, real S-NPP frames, fuzz."""

from __future__ import annotations

import binascii
import random
from pathlib import Path

import construct
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.aosframe import (FHP_IDLE, FHP_NO_PACKET_START, HEADER_BITS, AosFrame, AosFrameConfig,
                               AosPrimaryHeader, fhec_parity)
from protocol.errors import ChecksumError, LocalProtocolError, ProtocolError, RemoteProtocolError, TruncatedError
from protocol.randomiser import tm_randomise

SNPP = Path(__file__).resolve().parents[1] / "data" / "real" / "snpp_synchronized_cadus.dat"


def snpp_frames() -> list[bytes]:
    """The 65 S-NPP AOS frames: derandomised codeblocks minus the 128 trailing RS check octets."""
    if not SNPP.exists():
        pytest.skip(f"real S-NPP capture {SNPP} is absent (tests/data/real/SOURCES.txt)")
    raw = SNPP.read_bytes()
    assert len(raw) == 65 * 1024
    frames = []
    for i in range(65):
        cadu = raw[i * 1024:(i + 1) * 1024]
        assert cadu[:4] == bytes.fromhex("1ACFFC1D")
        frames.append(tm_randomise(cadu[4:])[:892])
    return frames


def test_golden_primary_header() -> None:
    # version 01, SCID 157 = 1001 1101, VCID 16 = 010000, VC count 0x9630BC, replay 1, usage 0, spare 00,
    # cycle 0000. By hand (§4.1.2): 01 10011101 010000 -> 0110 0111 0101 0000 = 67 50;
    # count 96 30 BC; signalling 1 0 00 0000 = 80. M_PDU header: 00000 + FHP 0x342 = 03 42.
    cfg = AosFrameConfig(frame_len=20, scid=157)
    frame = AosFrame(scid=157, vcid=16, vc_frame_count=0x9630BC, first_header_pointer=0x342, data=bytes(range(12)),
                     replay=True)
    raw = frame.encode(cfg)
    assert raw == bytes.fromhex("67509630BC80" "0342") + bytes(range(12))
    assert AosFrame.decode(raw, cfg) == frame


def test_golden_all_options() -> None:
    # SCID 0xFF, VCID 0x3F is the idle VC; use VCID 0x3E: 01 11111111 111110 -> 0111 1111 1111 1110 = 7F FE
    # usage flag 1, cycle 0xA: 0 1 00 1010 = 4A; insert zone 2 octets; OCF; FECF.
    cfg = AosFrameConfig(frame_len=24, scid=0xFF, has_fhec=True, insert_zone_len=2, has_ocf=True, has_fecf=True)
    frame = AosFrame(scid=0xFF, vcid=0x3E, vc_frame_count=1, first_header_pointer=FHP_NO_PACKET_START,
                     data=b"\x11" * 6, vc_count_cycle=0xA, insert_zone=b"\xC0\xDE", ocf=0xDEADBEEF)
    raw = frame.encode(cfg)
    fhec = fhec_parity(0x7FFE4A)
    body = bytes.fromhex("7FFE0000014A") + fhec.to_bytes(2, "big") + b"\xC0\xDE" + bytes.fromhex("07FF") \
        + b"\x11" * 6 + bytes.fromhex("DEADBEEF")
    assert raw == body + binascii.crc_hqx(body, 0xFFFF).to_bytes(2, "big")
    assert AosFrame.decode(raw, cfg) == frame


# --- FHEC: an independent check of the RS(10,6) code definition -------------------------------
def _gf16_mul(a: int, b: int) -> int:
    """Carry-less multiply modulo x^4 + x + 1 (no tables, independent of the module)."""
    r = 0
    for i in range(4):
        if b >> i & 1:
            r ^= a << i
    for bit in (7, 6, 5, 4):
        if r >> bit & 1:
            r ^= 0b10011 << (bit - 4)
    return r


def _alpha(power: int) -> int:
    x = 1
    for _ in range(power):
        x = _gf16_mul(x, 2)
    return x


@settings(deadline=None, max_examples=200)
@given(st.integers(0, (1 << 24) - 1))
def test_fhec_codeword_has_roots_alpha6_to_alpha9(info: int) -> None:
    word = (info << 16) | fhec_parity(info)
    symbols = [(word >> (36 - 4 * i)) & 0xF for i in range(10)]  # highest power first
    for j in range(6, 10):
        root = _alpha(j)
        acc = 0
        for s in symbols:  # Horner
            acc = _gf16_mul(acc, root) ^ s
        assert acc == 0, j


def test_fhec_detects_header_corruption() -> None:
    cfg = AosFrameConfig(frame_len=20, scid=42, has_fhec=True)
    raw = AosFrame(scid=42, vcid=3, vc_frame_count=5, first_header_pointer=0, data=bytes(10)).encode(cfg)
    for bit in list(range(2, 16)) + list(range(40, 48)) + list(range(48, 64)):  # SCID/VCID, signalling, FHEC
        bad = bytearray(raw)
        bad[bit // 8] ^= 0x80 >> (bit % 8)
        with pytest.raises(RemoteProtocolError):  # ChecksumError, or a spare-bit error found first
            AosFrame.decode(bytes(bad), cfg)
    bad = bytearray(raw)
    bad[1] ^= 0x01  # VCID bit: only the FHEC can catch it
    with pytest.raises(ChecksumError) as exc:
        AosFrame.decode(bytes(bad), cfg)
    assert exc.value.offset == 6


@st.composite
def frames_and_configs(draw: st.DrawFn) -> tuple[AosFrame, AosFrameConfig]:
    has_fhec, has_ocf, has_fecf = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    iz = draw(st.sampled_from([0, 1, 4, 17]))
    overhead = 6 + 2 * has_fhec + iz + 4 * has_ocf + 2 * has_fecf + 2
    frame_len = draw(st.integers(overhead + 1, overhead + 300))
    scid = draw(st.integers(0, 255))
    cfg = AosFrameConfig(frame_len=frame_len, scid=scid, has_fhec=has_fhec, insert_zone_len=iz, has_ocf=has_ocf,
                         has_fecf=has_fecf)
    vcid = draw(st.integers(0, 63))
    opaque = vcid == 63
    n = cfg.data_field_len if opaque else cfg.packet_zone_len
    frame = AosFrame(
        scid=scid, vcid=vcid, vc_frame_count=draw(st.integers(0, (1 << 24) - 1)),
        first_header_pointer=None if opaque else draw(st.integers(0, 0x7FF)),
        data=draw(st.binary(min_size=n, max_size=n)), replay=draw(st.booleans()),
        vc_count_cycle=draw(st.none() | st.integers(0, 15)), insert_zone=draw(st.binary(min_size=iz, max_size=iz)),
        ocf=draw(st.integers(0, 0xFFFFFFFF)) if has_ocf else None)
    return frame, cfg


@settings(deadline=None, max_examples=300)
@given(frames_and_configs())
def test_round_trip(fc: tuple[AosFrame, AosFrameConfig]) -> None:
    frame, cfg = fc
    raw = frame.encode(cfg)
    assert len(raw) == cfg.frame_len
    assert AosFrame.decode(raw, cfg) == frame
    assert AosFrame.decode(memoryview(raw), cfg) == frame


@settings(deadline=None, max_examples=200)
@given(st.binary(min_size=6, max_size=6))
def test_fast_path_matches_construct_declaration(header: bytes) -> None:
    if header[0] >> 6 != 1 or header[5] & 0x30:
        with pytest.raises(construct.ConstError):
            AosPrimaryHeader.parse(header)
        return
    parsed = AosPrimaryHeader.parse(header)
    for name, value in zip(HEADER_BITS.names, HEADER_BITS.unpack(header)):
        assert int(parsed[name]) == value, name
    assert AosPrimaryHeader.build(parsed) == header


def test_decode_errors() -> None:
    cfg = AosFrameConfig(frame_len=20, scid=1, has_fecf=True)
    raw = AosFrame(scid=1, vcid=1, vc_frame_count=0, first_header_pointer=0, data=bytes(10)).encode(cfg)
    with pytest.raises(TruncatedError):
        AosFrame.decode(raw[:5], cfg)
    bad = bytearray(raw)
    bad[12] ^= 0xFF
    with pytest.raises(ChecksumError):
        AosFrame.decode(bytes(bad), cfg)
    plain = AosFrameConfig(frame_len=18, scid=1)
    tm_like = bytearray(raw[:18])
    tm_like[0] &= 0x3F  # version 00
    with pytest.raises(RemoteProtocolError, match="version"):
        AosFrame.decode(bytes(tm_like), plain)
    spare = bytearray(raw[:18])
    spare[6] |= 0x80  # M_PDU spare bit
    with pytest.raises(RemoteProtocolError, match="M_PDU") as exc:
        AosFrame.decode(bytes(spare), plain)
    assert exc.value.offset == 6
    cyc = bytearray(raw[:18])
    cyc[5] |= 0x03  # cycle without the usage flag
    with pytest.raises(RemoteProtocolError, match="cycle"):
        AosFrame.decode(bytes(cyc), plain)


def test_encode_rejects_invalid_values() -> None:
    ok = dict(scid=1, vcid=0, vc_frame_count=0, first_header_pointer=0, data=bytes(10))
    for name, value in [("scid", 256), ("vcid", 64), ("vc_frame_count", 1 << 24), ("first_header_pointer", 0x800)]:
        with pytest.raises(LocalProtocolError, match=name):
            AosFrame(**{**ok, name: value})
    with pytest.raises(LocalProtocolError, match="vc_count_cycle"):
        AosFrame(**ok, vc_count_cycle=16)
    with pytest.raises(LocalProtocolError, match="data length"):
        AosFrame(**ok).encode(AosFrameConfig(frame_len=19, scid=1))
    with pytest.raises(LocalProtocolError, match="insert zone"):
        AosFrame(**ok).encode(AosFrameConfig(frame_len=20, scid=1, insert_zone_len=2))


def test_idle_vc_is_opaque() -> None:
    cfg = AosFrameConfig(frame_len=20, scid=1)
    idle = AosFrame(scid=1, vcid=63, vc_frame_count=9, first_header_pointer=None, data=b"\x55" * 14)
    back = AosFrame.decode(idle.encode(cfg), cfg)
    assert back == idle and back.is_idle
    assert AosFrame(scid=1, vcid=2, vc_frame_count=0, first_header_pointer=FHP_IDLE, data=bytes(12)).is_idle


def test_real_snpp_frames() -> None:
    frames = snpp_frames()
    cfg = AosFrameConfig(frame_len=892, scid=157)
    decoded = [AosFrame.decode(f, cfg) for f in frames]
    assert len(decoded) == 65
    assert {(f.scid, f.vcid) for f in decoded} == {(157, 16)}
    counts = [f.vc_frame_count for f in decoded]
    assert counts[0] == 9842876 and counts[-1] == 9842941
    assert [b - a for a, b in zip(counts, counts[1:])].count(2) == 1
    assert 9842882 not in counts
    assert all(len(f.data) == 884 and f.ocf is None and f.insert_zone == b"" for f in decoded)
    assert decoded[1].first_header_pointer == 0x342
    for f, raw in zip(decoded, frames):
        assert f.encode(cfg) == raw


CONFIGS = [
    AosFrameConfig(frame_len=892, scid=157),
    AosFrameConfig(frame_len=60, scid=7, has_fhec=True, insert_zone_len=3, has_ocf=True, has_fecf=True),
]


@settings(deadline=None, max_examples=300)
@given(st.sampled_from(CONFIGS), st.binary(min_size=0, max_size=1000))
def test_fuzz_random_bytes(cfg: AosFrameConfig, raw: bytes) -> None:
    try:
        frame = AosFrame.decode(raw, cfg)
    except ProtocolError:
        return
    assert frame.encode(cfg) == raw


def test_fuzz_mutated_frames() -> None:
    rng = random.Random(2)
    for cfg in CONFIGS:
        for _ in range(400):
            vcid = rng.randrange(64)
            frame = AosFrame(scid=cfg.scid, vcid=vcid, vc_frame_count=rng.randrange(1 << 24),
                             first_header_pointer=None if vcid == 63 else rng.randrange(0x800),
                             data=rng.randbytes(cfg.data_field_len if vcid == 63 else cfg.packet_zone_len),
                             insert_zone=rng.randbytes(cfg.insert_zone_len),
                             ocf=rng.randrange(1 << 32) if cfg.has_ocf else None)
            raw = bytearray(frame.encode(cfg))
            for _ in range(rng.randrange(1, 4)):
                raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
            try:
                back = AosFrame.decode(bytes(raw), cfg)
            except ProtocolError:
                continue
            assert back.encode(cfg) == bytes(raw)
