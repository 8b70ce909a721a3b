"""TC transfer frames (CCSDS 232.0-B-4): golden vector, round trips, control commands, segmentation, fuzz."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.crc import crc16
from protocol.errors import ChecksumError, LocalProtocolError, ProtocolError, RemoteProtocolError, TruncatedError
from protocol.tcframe import (
    MAX_FRAME_LEN,
    FrameType,
    PrimaryHeader,
    SegmentDropped,
    SegmentHeader,
    SegmentReassembler,
    SequenceFlags,
    SetVr,
    TcFrame,
    Unlock,
    decode_control_command,
    frame_length_octets,
    max_data_len,
    reassemble,
    segment,
)

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors" / "cltu_bch.json"
GOLDEN = bytes.fromhex(json.loads(VECTORS.read_text())["tc_frame_hex"])


# ---------------------------------------------------------------- golden vector


def test_golden_frame_header_fields() -> None:
    frame = TcFrame.decode(GOLDEN, fecf=False)
    assert frame.scid == 98
    assert frame.vcid == 1
    assert frame.frame_type is FrameType.BD  # bypass 1, control 0
    assert frame.sequence_number == 0
    assert frame.segment is None
    assert frame.data == GOLDEN[5:]
    assert frame_length_octets(GOLDEN) == len(GOLDEN) == 42
    assert frame.encode(fecf=False) == GOLDEN


def test_golden_frame_agrees_with_construct_declaration() -> None:
    parsed = PrimaryHeader.parse(GOLDEN[:5])
    assert (parsed.bypass_flag, parsed.control_command_flag) == (True, False)
    assert (parsed.scid, parsed.vcid, parsed.frame_length) == (98, 1, 41)


def test_golden_frame_with_fecf_expected_is_rejected_by_crc() -> None:
    # the vector carries no FECF: read as if it did, its last two data octets are not a CRC
    with pytest.raises(ChecksumError) as e:
        TcFrame.decode(GOLDEN, fecf=True)
    assert e.value.offset == 40


# ---------------------------------------------------------------- round trips

frame_types = st.sampled_from(list(FrameType))


@st.composite
def frames(draw: st.DrawFn, *, with_segment: bool | None = None) -> tuple[TcFrame, bool]:
    fecf = draw(st.booleans())
    ftype = draw(frame_types)
    seg_on = draw(st.booleans()) if with_segment is None else with_segment
    seg = None
    if seg_on and ftype is not FrameType.BC:
        seg = SegmentHeader(map_id=draw(st.integers(0, 63)), sequence_flags=draw(st.sampled_from(list(SequenceFlags))))
    limit = max_data_len(segment_header=seg is not None, fecf=fecf)
    data = draw(st.binary(min_size=1, max_size=draw(st.sampled_from([8, 64, limit]))))
    frame = TcFrame(scid=draw(st.integers(0, 0x3FF)), vcid=draw(st.integers(0, 63)), data=data, frame_type=ftype,
                    sequence_number=draw(st.integers(0, 255)), segment=seg)
    return frame, fecf


@settings(deadline=None, max_examples=400)
@given(frames())
def test_frame_round_trip(case: tuple[TcFrame, bool]) -> None:
    frame, fecf = case
    raw = frame.encode(fecf=fecf)
    assert len(raw) == frame.encoded_len(fecf=fecf) <= MAX_FRAME_LEN
    assert frame_length_octets(raw) == len(raw)
    assert TcFrame.decode(raw, fecf=fecf, segment_header=frame.segment is not None) == frame
    hdr = PrimaryHeader.parse(raw[:5])  # the construct declaration reads the same fields
    assert (hdr.scid, hdr.vcid, hdr.frame_sequence_number, hdr.frame_length) == (
        frame.scid, frame.vcid, frame.sequence_number, len(raw) - 1)
    assert (hdr.bypass_flag, hdr.control_command_flag) == frame.frame_type.value
    if fecf:
        assert int.from_bytes(raw[-2:], "big") == crc16(raw[:-2])


@settings(deadline=None, max_examples=100)
@given(frames(with_segment=True), st.integers(0, 63))
def test_segment_header_is_a_per_vc_option(case: tuple[TcFrame, bool], other_vcid: int) -> None:
    frame, fecf = case
    raw = frame.encode(fecf=fecf)
    decoded = TcFrame.decode(raw, fecf=fecf, segment_header={frame.vcid})
    assert decoded == frame
    if other_vcid != frame.vcid and frame.segment is not None:
        plain = TcFrame.decode(raw, fecf=fecf, segment_header={other_vcid})
        assert plain.segment is None
        assert plain.data == frame.segment.encode() + frame.data


def test_bc_frame_never_has_a_segment_header() -> None:
    raw = TcFrame.control(5, 2, Unlock()).encode()
    frame = TcFrame.decode(raw, segment_header=True)
    assert frame.segment is None and frame.data == b"\x00"
    with pytest.raises(LocalProtocolError):
        TcFrame(scid=1, vcid=1, data=b"\x00", frame_type=FrameType.BC, segment=SegmentHeader())


def test_maximum_frame_is_1024_octets() -> None:
    limit = max_data_len(segment_header=True, fecf=True)
    assert limit == 1016
    frame = TcFrame(scid=1, vcid=1, data=bytes(limit), segment=SegmentHeader())
    assert len(frame.encode()) == 1024
    with pytest.raises(LocalProtocolError):
        TcFrame(scid=1, vcid=1, data=bytes(limit + 1), segment=SegmentHeader()).encode()
    # fits without the FECF only
    assert len(TcFrame(scid=1, vcid=1, data=bytes(limit + 2), segment=SegmentHeader()).encode(fecf=False)) == 1024


@pytest.mark.parametrize("kwargs", [
    dict(scid=0x400, vcid=0, data=b"x"),
    dict(scid=-1, vcid=0, data=b"x"),
    dict(scid=0, vcid=64, data=b"x"),
    dict(scid=0, vcid=0, data=b"x", sequence_number=256),
    dict(scid=0, vcid=0, data=b""),
    dict(scid=0, vcid=0, data=bytes(1020)),
    dict(scid=0, vcid=0, data=b"x", frame_type="AD"),
])
def test_encoder_rejects_invalid_fields(kwargs: dict) -> None:
    with pytest.raises(LocalProtocolError):
        TcFrame(**kwargs)


def test_segment_header_rejects_invalid_fields() -> None:
    with pytest.raises(LocalProtocolError):
        SegmentHeader(map_id=64)
    with pytest.raises(LocalProtocolError):
        SegmentHeader(map_id=0, sequence_flags=4)  # type: ignore[arg-type]


# ---------------------------------------------------------------- decoder checks


def _frame() -> bytes:
    return TcFrame(scid=0x123, vcid=7, data=b"hello", sequence_number=9).encode()


def test_decoder_rejects_bad_version() -> None:
    raw = bytearray(_frame())
    raw[0] |= 0x40
    with pytest.raises(RemoteProtocolError, match="version") as e:
        TcFrame.decode(bytes(raw), fecf=False)
    assert e.value.offset == 0


def test_decoder_rejects_nonzero_spare_and_invalid_flag_combination() -> None:
    raw = bytearray(_frame())
    raw[0] |= 0x04
    with pytest.raises(RemoteProtocolError, match="spare"):
        TcFrame.decode(bytes(raw), fecf=False)
    raw = bytearray(_frame())
    raw[0] |= 0x10  # control command flag without bypass
    with pytest.raises(RemoteProtocolError, match="bypass"):
        TcFrame.decode(bytes(raw), fecf=False)


def test_decoder_checks_length_field_against_buffer() -> None:
    raw = _frame()
    with pytest.raises(TruncatedError) as e:
        TcFrame.decode(raw[:-1])
    assert e.value.value == len(raw) - 1
    with pytest.raises(RemoteProtocolError, match="trailing") as e2:
        TcFrame.decode(raw + b"\x00")
    assert e2.value.offset == 2
    with pytest.raises(TruncatedError):
        TcFrame.decode(raw[:4])


def test_decoder_checks_fecf_and_names_offset() -> None:
    raw = bytearray(_frame())
    raw[6] ^= 0x01
    with pytest.raises(ChecksumError) as e:
        TcFrame.decode(bytes(raw), offset=100)
    assert e.value.offset == 100 + len(raw) - 2
    assert e.value.received != e.value.computed


def test_decoder_rejects_empty_data_field() -> None:
    # an 8-octet frame: primary header, segment header, FECF, and no data at all
    hdr = PrimaryHeader.build(dict(bypass_flag=False, control_command_flag=False, spare=0, scid=1, vcid=0,
                                   frame_length=7, frame_sequence_number=0))
    body = hdr + b"\xC0"
    raw = body + crc16(body).to_bytes(2, "big")
    with pytest.raises(RemoteProtocolError, match="data field"):
        TcFrame.decode(raw, segment_header=True)


# ---------------------------------------------------------------- control commands


def test_control_command_octets() -> None:
    assert TcFrame.control(1, 2, Unlock()).data == b"\x00"
    assert TcFrame.control(1, 2, SetVr(0xAB)).data == b"\x82\x00\xAB"


@given(st.integers(0, 255), st.integers(0, 0x3FF), st.integers(0, 63))
@settings(deadline=None, max_examples=100)
def test_control_commands_round_trip(vr: int, scid: int, vcid: int) -> None:
    for cmd in (Unlock(), SetVr(vr)):
        frame = TcFrame.control(scid, vcid, cmd)
        decoded = TcFrame.decode(frame.encode())
        assert decoded.frame_type is FrameType.BC
        assert decoded.control_command() == cmd


@pytest.mark.parametrize("data", [b"\x01", b"\x82\x00", b"\x82\x01\x05", b"\x82\x00\x05\x00", b"\x00\x00"])
def test_unknown_control_commands_are_rejected(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="control command"):
        decode_control_command(data)
    frame = TcFrame(scid=1, vcid=1, data=data, frame_type=FrameType.BC)
    with pytest.raises(RemoteProtocolError):
        TcFrame.decode(frame.encode()).control_command()


def test_set_vr_range_and_ad_frame_has_no_command() -> None:
    with pytest.raises(LocalProtocolError):
        SetVr(256)
    with pytest.raises(LocalProtocolError):
        TcFrame(scid=1, vcid=1, data=b"\x00").control_command()


# ---------------------------------------------------------------- segmentation


@settings(deadline=None, max_examples=200)
@given(st.binary(min_size=1, max_size=3000), st.integers(1, 1016), st.integers(0, 63))
def test_segment_and_reassemble(unit: bytes, max_len: int, map_id: int) -> None:
    segs = segment(unit, map_id=map_id, max_segment_len=max_len)
    assert all(1 <= len(d) <= max_len for _, d in segs)
    assert all(h.map_id == map_id for h, _ in segs)
    flags = [h.sequence_flags for h, _ in segs]
    if len(segs) == 1:
        assert flags == [SequenceFlags.UNSEGMENTED]
    else:
        assert flags == [SequenceFlags.FIRST] + [SequenceFlags.CONTINUING] * (len(segs) - 2) + [SequenceFlags.LAST]
    assert reassemble(segs) == [unit]
    # through real frames on one VC, decoded with the segment header
    r = SegmentReassembler()
    out: list = []
    for i, (h, d) in enumerate(segs):
        raw = TcFrame(scid=1, vcid=3, data=d, sequence_number=i % 256, segment=h).encode()
        out += r.push(TcFrame.decode(raw, segment_header={3}))
    assert out == [unit]
    assert r.pending() == {}


def test_interleaved_maps_reassemble_independently() -> None:
    a = segment(b"A" * 25, map_id=1, max_segment_len=10)
    b = segment(b"B" * 15, map_id=2, max_segment_len=10)
    order = [a[0], b[0], a[1], b[1], a[2]]
    assert reassemble(order) == [b"B" * 15, b"A" * 25]


def test_broken_segment_sequences_are_reported_not_silent() -> None:
    r = SegmentReassembler()
    assert r.push_segment(SegmentHeader(0, SequenceFlags.CONTINUING), b"x") == [
        SegmentDropped(0, 1, "CONTINUING segment without FIRST")]
    assert r.push_segment(SegmentHeader(0, SequenceFlags.FIRST), b"ab") == []
    # an unsegmented unit while one is open: the partial one is dropped, the new one delivered
    assert r.push_segment(SegmentHeader(0, SequenceFlags.UNSEGMENTED), b"u") == [
        SegmentDropped(0, 2, "UNSEGMENTED segment before LAST"), b"u"]
    assert r.push_segment(SegmentHeader(0, SequenceFlags.LAST), b"z") == [
        SegmentDropped(0, 1, "LAST segment without FIRST")]
    with pytest.raises(RemoteProtocolError):
        reassemble([(SegmentHeader(0, SequenceFlags.LAST), b"z")])
    with pytest.raises(TruncatedError):
        reassemble([(SegmentHeader(0, SequenceFlags.FIRST), b"z")])


def test_reassembly_buffer_is_bounded() -> None:
    r = SegmentReassembler(max_unit_len=10)
    assert r.push_segment(SegmentHeader(5, SequenceFlags.FIRST), b"x" * 8) == []
    assert r.push_segment(SegmentHeader(5, SequenceFlags.CONTINUING), b"x" * 8) == [
        SegmentDropped(5, 16, "unit longer than 10 octets")]
    assert r.pending() == {}


def test_segment_rejects_bad_arguments() -> None:
    with pytest.raises(LocalProtocolError):
        segment(b"", map_id=0, max_segment_len=10)
    with pytest.raises(LocalProtocolError):
        segment(b"x", map_id=0, max_segment_len=0)
    with pytest.raises(LocalProtocolError):
        segment(b"x", map_id=64, max_segment_len=10)


# ---------------------------------------------------------------- fuzz


def _decode_all_ways(raw: bytes) -> None:
    for fecf in (True, False):
        for seg in (True, False):
            try:
                frame = TcFrame.decode(raw, fecf=fecf, segment_header=seg)
            except ProtocolError:
                continue
            assert frame.encode(fecf=fecf) == raw  # anything accepted re-encodes to the same bytes
            if frame.frame_type is FrameType.BC:
                try:
                    frame.control_command()
                except ProtocolError:
                    pass


@settings(deadline=None, max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=1100))
def test_fuzz_random_bytes(raw: bytes) -> None:
    _decode_all_ways(raw)


@settings(deadline=None, max_examples=500)
@given(frames(), st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=4),
       st.integers(-3, 3))
def test_fuzz_mutated_frames(case: tuple[TcFrame, bool], edits: list[tuple[int, int]], cut: int) -> None:
    raw = bytearray(case[0].encode(fecf=case[1]))
    for pos, val in edits:
        raw[pos % len(raw)] = val
    if cut < 0:
        raw = raw[:cut]
    else:
        raw += bytes(cut)
    _decode_all_ways(bytes(raw))
