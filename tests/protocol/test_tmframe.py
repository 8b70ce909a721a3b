"""TM transfer frames (CCSDS 132.0-B-3): golden vectors, round trips, error paths, fuzz."""

from __future__ import annotations

import binascii
import random

import construct
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import ChecksumError, LocalProtocolError, ProtocolError, RemoteProtocolError, TruncatedError
from protocol.tmframe import (FHP_IDLE, FHP_NO_PACKET_START, HEADER_BITS, TmFrame, TmFrameConfig,
                              TmPrimaryHeader)


def test_golden_primary_header() -> None:
    # SCID 0x2AB, VCID 5, OCF flag 1, MC count 0x12, VC count 0x34, sec hdr 0, sync 0, order 0,
    # segment length id 11, FHP 0x123. Bits, by hand from §4.1.2:
    #   00 1010101011 101 1          -> 0010 1010 1011 1011 = 2A BB
    #   0001 0010                     -> 12 ;  0011 0100 -> 34
    #   0 0 0 11 00100100011          -> 0001 1001 0010 0011 = 19 23
    cfg = TmFrameConfig(frame_len=20, scid=0x2AB, has_ocf=True, has_fecf=True)
    frame = TmFrame(scid=0x2AB, vcid=5, mc_frame_count=0x12, vc_frame_count=0x34, first_header_pointer=0x123,
                    data=bytes(range(8)), ocf=0x01020304)
    raw = frame.encode(cfg)
    body = bytes.fromhex("2ABB12341923") + bytes(range(8)) + bytes.fromhex("01020304")
    fecf = binascii.crc_hqx(body, 0xFFFF)  # independent CRC-16-CCITT
    assert raw == body + fecf.to_bytes(2, "big")
    assert len(raw) == 20
    assert TmFrame.decode(raw, cfg) == frame


def test_golden_secondary_header_and_flags() -> None:
    # sec header flag 1, sync flag 1, packet order 1, segment length id 01, FHP 0x7FF:
    #   1 1 1 01 11111111111 -> 1110 1111 1111 1111 = EF FF ; sec header id: 00 000011 = 03
    cfg = TmFrameConfig(frame_len=16, scid=1, sec_header_len=4)
    frame = TmFrame(scid=1, vcid=0, mc_frame_count=0, vc_frame_count=255, first_header_pointer=0x7FF,
                    data=b"\xAA" * 6, sec_header=b"\x10\x20\x30", sync_flag=True, packet_order_flag=True,
                    segment_length_id=1)
    raw = frame.encode(cfg)
    # 00 0000000001 000 0 -> 0000 0000 0001 0000 = 00 10 ; MC 00 ; VC FF
    assert raw == bytes.fromhex("001000FFEFFF" "03102030") + b"\xAA" * 6
    assert TmFrame.decode(raw, cfg) == frame


def test_fhp_constants_follow_the_standard() -> None:
    # 132.0-B-3 §4.1.2.7.6: all ones = no packet starts; all ones minus one = only idle data (OID)
    assert FHP_NO_PACKET_START == 0b11111111111
    assert FHP_IDLE == 0b11111111110
    cfg = TmFrameConfig(frame_len=10, scid=3)
    oid = TmFrame(scid=3, vcid=7, mc_frame_count=0, vc_frame_count=0, first_header_pointer=FHP_IDLE,
                  data=b"\x55" * 4)
    assert oid.is_idle
    assert not TmFrame.decode(oid.encode(cfg), cfg).data.strip(b"\x55")


@st.composite
def frames_and_configs(draw: st.DrawFn) -> tuple[TmFrame, TmFrameConfig]:
    has_ocf = draw(st.booleans())
    has_fecf = draw(st.booleans())
    sec_len = draw(st.sampled_from([0, 1, 2, 5, 64]))
    overhead = 6 + sec_len + 4 * has_ocf + 2 * has_fecf
    frame_len = draw(st.integers(overhead + 1, min(2048, overhead + 300)))
    scid = draw(st.integers(0, 0x3FF))
    cfg = TmFrameConfig(frame_len=frame_len, scid=scid, has_ocf=has_ocf, has_fecf=has_fecf, sec_header_len=sec_len)
    sync = draw(st.booleans())
    frame = TmFrame(
        scid=scid,
        vcid=draw(st.integers(0, 7)),
        mc_frame_count=draw(st.integers(0, 255)),
        vc_frame_count=draw(st.integers(0, 255)),
        first_header_pointer=draw(st.integers(0, 0x7FF)),
        data=draw(st.binary(min_size=cfg.data_field_len, max_size=cfg.data_field_len)),
        ocf=draw(st.integers(0, 0xFFFFFFFF)) if has_ocf else None,
        sec_header=draw(st.binary(min_size=sec_len - 1, max_size=sec_len - 1)) if sec_len else None,
        sync_flag=sync,
        packet_order_flag=draw(st.booleans()) if sync else False,
        segment_length_id=draw(st.integers(0, 3)) if sync else 3,
    )
    return frame, cfg


@settings(deadline=None, max_examples=300)
@given(frames_and_configs())
def test_round_trip(fc: tuple[TmFrame, TmFrameConfig]) -> None:
    frame, cfg = fc
    raw = frame.encode(cfg)
    assert len(raw) == cfg.frame_len
    assert TmFrame.decode(raw, cfg) == frame
    assert TmFrame.decode(bytearray(raw), cfg) == frame
    assert TmFrame.decode(memoryview(raw), cfg) == frame


@settings(deadline=None, max_examples=200)
@given(st.binary(min_size=6, max_size=6))
def test_fast_path_matches_construct_declaration(header: bytes) -> None:
    if header[0] >> 6:
        with pytest.raises(construct.ConstError):
            TmPrimaryHeader.parse(header)
        return
    parsed = TmPrimaryHeader.parse(header)
    fast = dict(zip(HEADER_BITS.names, HEADER_BITS.unpack(header)))
    for name, value in fast.items():
        assert int(parsed[name]) == value, name
    assert TmPrimaryHeader.build(parsed) == header


def _valid() -> tuple[bytes, TmFrameConfig]:
    cfg = TmFrameConfig(frame_len=40, scid=100, has_ocf=True, has_fecf=True)
    frame = TmFrame(scid=100, vcid=1, mc_frame_count=1, vc_frame_count=2, first_header_pointer=0,
                    data=bytes(cfg.data_field_len), ocf=0)
    return frame.encode(cfg), cfg


def test_decode_errors_name_field_and_offset() -> None:
    raw, cfg = _valid()
    with pytest.raises(TruncatedError):
        TmFrame.decode(raw[:-1], cfg)
    with pytest.raises(RemoteProtocolError, match="frame length"):
        TmFrame.decode(raw + b"\0", cfg)
    bad = bytearray(raw)
    bad[10] ^= 1
    with pytest.raises(ChecksumError) as exc:
        TmFrame.decode(bytes(bad), cfg)
    assert exc.value.offset == 38
    nofecf = TmFrameConfig(frame_len=38, scid=100, has_ocf=True)
    ver = bytearray(raw[:38])
    ver[0] |= 0x40
    with pytest.raises(RemoteProtocolError, match="version") as exc:
        TmFrame.decode(bytes(ver), nofecf)
    assert exc.value.offset == 0
    with pytest.raises(RemoteProtocolError, match="OCF flag"):
        TmFrame.decode(raw[:38], TmFrameConfig(frame_len=38, scid=100, has_fecf=False, has_ocf=False))
    seg = bytearray(raw[:38])
    seg[4] &= ~0x18  # sync flag 0 but segment length id 00
    with pytest.raises(RemoteProtocolError, match="segment length id"):
        TmFrame.decode(bytes(seg), nofecf)


def test_encode_rejects_invalid_values() -> None:
    cfg = TmFrameConfig(frame_len=20, scid=1)
    ok = dict(scid=1, vcid=0, mc_frame_count=0, vc_frame_count=0, first_header_pointer=0, data=bytes(14))
    for name, value in [("scid", 0x400), ("vcid", 8), ("mc_frame_count", 256), ("vc_frame_count", -1),
                        ("first_header_pointer", 0x800)]:
        with pytest.raises(LocalProtocolError, match=name):
            TmFrame(**{**ok, name: value})
    with pytest.raises(LocalProtocolError):
        TmFrame(**ok, segment_length_id=0)  # sync flag 0 requires 0b11
    with pytest.raises(LocalProtocolError, match="data field length"):
        TmFrame(**{**ok, "data": bytes(13)}).encode(cfg)
    with pytest.raises(LocalProtocolError, match="ocf"):
        TmFrame(**ok, ocf=1).encode(cfg)
    with pytest.raises(LocalProtocolError, match="frame_len"):
        TmFrameConfig(frame_len=2049, scid=1)
    with pytest.raises(LocalProtocolError, match="sec_header_len"):
        TmFrameConfig(frame_len=100, scid=1, sec_header_len=65)


CONFIGS = [
    TmFrameConfig(frame_len=40, scid=100, has_ocf=True, has_fecf=True),
    TmFrameConfig(frame_len=40, scid=100, sec_header_len=3),
    TmFrameConfig(frame_len=1115, scid=100, has_ocf=True),
]


@settings(deadline=None, max_examples=300)
@given(st.sampled_from(CONFIGS), st.binary(min_size=0, max_size=1200))
def test_fuzz_random_bytes(cfg: TmFrameConfig, raw: bytes) -> None:
    try:
        frame = TmFrame.decode(raw, cfg)
    except ProtocolError:
        return
    assert frame.encode(cfg) == raw  # anything accepted re-encodes exactly


def test_fuzz_mutated_frames() -> None:
    rng = random.Random(1)
    for cfg in CONFIGS:
        for _ in range(400):
            frame = TmFrame(scid=100, vcid=rng.randrange(8), mc_frame_count=rng.randrange(256),
                            vc_frame_count=rng.randrange(256), first_header_pointer=rng.randrange(0x800),
                            data=rng.randbytes(cfg.data_field_len),
                            ocf=rng.randrange(1 << 32) if cfg.has_ocf else None,
                            sec_header=rng.randbytes(cfg.sec_header_len - 1) if cfg.sec_header_len else None)
            raw = bytearray(frame.encode(cfg))
            for _ in range(rng.randrange(1, 4)):
                raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
            if rng.random() < 0.2:
                raw = raw[:rng.randrange(len(raw))]
            try:
                TmFrame.decode(bytes(raw), cfg)
            except ProtocolError:
                pass


# --- interop with the spacepackets peer library ----------------------------------------------------
@settings(deadline=None, max_examples=150)
@given(frames_and_configs())
def test_interop_spacepackets(fc: tuple[TmFrame, TmFrameConfig]) -> None:
    sp = pytest.importorskip("spacepackets.ccsds.tm_frame")
    frame, cfg = fc
    raw = frame.encode(cfg)
    theirs = sp.TmTransferFrame.unpack(raw, cfg.frame_len, cfg.has_fecf)  # ours decode there
    ph = theirs.primary_header
    status = ph.frame_datafield_status
    assert (ph.master_channel_id.transfer_frame_version, ph.master_channel_id.spacecraft_id) == (0, frame.scid)
    assert (ph.vc_id, ph.ocf_flag, ph.master_ch_frame_count, ph.vc_frame_count) == (
        frame.vcid, frame.ocf is not None, frame.mc_frame_count, frame.vc_frame_count)
    assert (status.secondary_header_flag, status.sync_flag, status.packet_order_flag, status.segment_len_id,
            status.first_header_pointer) == (frame.sec_header is not None, frame.sync_flag, frame.packet_order_flag,
                                             frame.segment_length_id, frame.first_header_pointer)
    assert bytes(theirs.data_field) == frame.data
    if frame.ocf is not None:
        assert int.from_bytes(theirs.op_ctrl_field, "big") == frame.ocf
    if frame.sec_header is not None:
        assert bytes(theirs.secondary_header.data_field) == frame.sec_header
    assert theirs.pack() == raw
    # theirs decode here: a frame built from scratch by spacepackets, FECF from its own CRC library
    fastcrc = pytest.importorskip("fastcrc")
    header = sp.TmFramePrimaryHeader(
        sp.MasterChannelId(0, frame.scid), frame.vcid, frame.ocf is not None, frame.mc_frame_count,
        frame.vc_frame_count, sp.TransferFrameDataFieldStatus(frame.sec_header is not None, frame.sync_flag,
                                                              frame.packet_order_flag, frame.segment_length_id,
                                                              frame.first_header_pointer))
    sec = None if frame.sec_header is None else sp.TransferFrameSecondaryHeader(0, len(frame.sec_header),
                                                                                 frame.sec_header)
    ocf = None if frame.ocf is None else frame.ocf.to_bytes(4, "big")
    body_len = cfg.frame_len - 2 * cfg.has_fecf
    body = sp.TmTransferFrame(body_len, header, sec, frame.data, ocf, None).pack()
    if cfg.has_fecf:
        body += fastcrc.crc16.ibm_3740(body).to_bytes(2, "big")
    assert TmFrame.decode(body, cfg) == frame
