"""Virtual channel multiplexer / demultiplexer over TM and AOS frames: round trips, gaps, idle, real S-NPP, fuzz."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.aosframe import AosFrame, AosFrameConfig
from protocol.clcw import Clcw
from protocol.errors import LocalProtocolError, ProtocolError
from protocol.randomiser import tm_randomise
from protocol.spacepacket import SpacePacket
from protocol.tmframe import FHP_IDLE, FHP_NO_PACKET_START, TmFrame, TmFrameConfig
from protocol.vchannel import (NEED_DATA, DataDropped, DecodeError, FrameGap, MasterChannelGap, OcfReceived,
                               VcDemultiplexer, VcMultiplexer, VcPacket, demultiplex)

SNPP = Path(__file__).resolve().parents[1] / "data" / "real" / "snpp_synchronized_cadus.dat"
TM = TmFrameConfig(frame_len=64, scid=0x123, has_ocf=True, has_fecf=True)  # 52-octet data field
AOS = AosFrameConfig(frame_len=64, scid=0x42, has_fecf=True)  # 54-octet packet zone


def packet(apid: int, seq: int, size: int, rng: random.Random | None = None) -> bytes:
    """A space packet of ``size`` octets in all."""
    data = (rng or random.Random(apid * 65536 + seq)).randbytes(size - 6)
    return SpacePacket(apid=apid, sequence_count=seq % 16384, data=data).encode()


def decode_any(config: TmFrameConfig | AosFrameConfig, raw: bytes) -> TmFrame | AosFrame:
    return TmFrame.decode(raw, config) if isinstance(config, TmFrameConfig) else AosFrame.decode(raw, config)


def received(events: list) -> dict[int, list[bytes]]:
    out: dict[int, list[bytes]] = {}
    for e in events:
        if isinstance(e, VcPacket):
            out.setdefault(e.vcid, []).append(e.data)
    return out


def drain(mux: VcMultiplexer, *, extra: int = 0) -> list[bytes]:
    frames = []
    while mux.pending_octets():
        frames.append(mux.next_frame())
    frames.extend(mux.next_frame() for _ in range(extra))
    return frames


# --- golden: what the multiplexer writes --------------------------------------------------------
def test_packets_span_frames_and_pointer_marks_first_start() -> None:
    cfg = TmFrameConfig(frame_len=26, scid=5)  # 20-octet data field
    mux = VcMultiplexer(cfg, {1: 0})
    p1, p2 = packet(10, 0, 30), packet(11, 0, 15)
    mux.submit(1, p1)
    mux.submit(1, p2)
    f = [TmFrame.decode(mux.next_frame(), cfg) for _ in range(3)]
    assert [x.vcid for x in f] == [1, 1, 1]
    assert [x.vc_frame_count for x in f] == [0, 1, 2] and [x.mc_frame_count for x in f] == [0, 1, 2]
    assert f[0].first_header_pointer == 0 and f[0].data == p1[:20]
    assert f[1].first_header_pointer == 10 and f[1].data == p1[20:] + p2[:10]  # p2 starts at octet 10
    # p2's last 5 octets, then a 15-octet idle packet (APID 0x7FF) completes the frame
    assert f[2].first_header_pointer == 5 and f[2].data[:5] == p2[10:]
    idle = SpacePacket.decode(f[2].data[5:])
    assert idle.is_idle and len(idle) == 15


def test_no_packet_start_uses_all_ones() -> None:
    cfg = TmFrameConfig(frame_len=26, scid=5)
    mux = VcMultiplexer(cfg, {1: 0})
    big = packet(10, 0, 70)
    mux.submit(1, big)
    f = [TmFrame.decode(mux.next_frame(), cfg) for _ in range(4)]
    assert [x.first_header_pointer for x in f] == [0, FHP_NO_PACKET_START, FHP_NO_PACKET_START, 10]
    assert b"".join(x.data for x in f)[:70] == big


def test_one_to_six_octets_left_start_an_idle_packet_that_spans() -> None:
    cfg = TmFrameConfig(frame_len=26, scid=5)  # 20-octet data field
    mux = VcMultiplexer(cfg, {1: 0})
    first = packet(10, 0, 18)  # leaves 2 octets: too few for a whole idle packet
    mux.submit(1, first)
    f0 = TmFrame.decode(mux.next_frame(), cfg)
    assert f0.data[:18] == first
    assert f0.data[18:] == SpacePacket.idle(7).encode()[:2]  # an idle packet starts ...
    assert TmFrame.decode(mux.next_frame(), cfg).vcid == 7  # ... nothing else waits: idle frame, no hold-up
    second = packet(10, 1, 20)
    mux.submit(1, second)
    f1 = TmFrame.decode(mux.next_frame(), cfg)
    assert f1.data[:5] == SpacePacket.idle(7).encode()[2:]  # ... and ends in the VC's next frame
    assert f1.first_header_pointer == 5 and f1.data[5:] == second[:15]
    events, demux = demultiplex(cfg, [f0.encode(cfg), f1.encode(cfg), mux.next_frame()])
    assert received(events) == {1: [first, second]}
    assert demux.total.idle_packets == 2 and demux.total.bytes_dropped == 0


def test_idle_frames_when_nothing_waits() -> None:
    tm = VcMultiplexer(TM, {1: 0}, ocf_raw=0x01020304)
    frames = [TmFrame.decode(tm.next_frame(), TM) for _ in range(3)]
    assert [(f.vcid, f.first_header_pointer, f.vc_frame_count) for f in frames] == [(7, FHP_IDLE, i) for i in range(3)]
    assert all(f.data == b"\x55" * TM.data_field_len and f.ocf == 0x01020304 for f in frames)
    assert tm.idle_frames == 3
    aos = VcMultiplexer(AOS, {1: 0}, idle_fill=0xAA)
    a = AosFrame.decode(aos.next_frame(), AOS)
    assert (a.vcid, a.first_header_pointer, a.data) == (63, None, b"\xAA" * AOS.data_field_len)
    events, demux = demultiplex(TM, [tm.next_frame() for _ in range(5)])
    # idle frames carry the OCF too; 0x01020304 is not a CLCW (spare bits set), so it is counted, not decoded
    assert events == [OcfReceived(7, k, 0x01020304, None) for k in range(3, 8)]
    assert demux.total.idle_frames == 5 and demux.per_vc[7].frames == 5 and demux.total.ocf_invalid == 5


def test_ocf_in_every_frame() -> None:
    mux = VcMultiplexer(TM, {1: 0, 2: 0})
    mux.submit(1, packet(1, 0, 200))
    mux.set_ocf(0xCAFE0001)
    f = [TmFrame.decode(mux.next_frame(), TM) for _ in range(3)]
    f.append(TmFrame.decode(mux.next_frame(ocf_raw=0x12345678), TM))
    f.append(TmFrame.decode(mux.next_frame(), TM))
    assert [x.ocf for x in f] == [0xCAFE0001] * 3 + [0x12345678] * 2
    with pytest.raises(LocalProtocolError):
        mux.set_ocf(1 << 32)


@pytest.mark.parametrize("cfg", [TM, AosFrameConfig(frame_len=64, scid=0x42, has_ocf=True, has_fecf=True)],
                         ids=["tm", "aos"])
def test_every_frame_ocf_is_an_event_with_its_clcw(cfg) -> None:
    """232.0-B-4 §4.2.1.11: the demultiplexer hands on each frame's CLCW, decoded, before the frame's
    packets; one batch of frames gives the same events as the frames one by one."""
    clcws = [Clcw(vcid=0, report_value=7), Clcw(vcid=0, report_value=8, retransmit=True),
             Clcw(vcid=0, report_value=8, lockout=True, wait=True, farm_b_counter=3)]
    mux = VcMultiplexer(cfg, {1: 0})
    frames = []
    for k in range(12):
        if k % 3 == 0:
            mux.submit(1, packet(5, k, 30))
        frames.append(mux.next_frame(ocf_raw=clcws[k % 3].to_int() if k < 11 else 0x80000000))
    events, demux = demultiplex(cfg, frames)
    ocfs = [e for e in events if isinstance(e, OcfReceived)]
    assert [e.clcw for e in ocfs] == [clcws[k % 3] for k in range(11)] + [None]  # type 1: a type-2 report
    assert [e.word for e in ocfs[:11]] == [clcws[k % 3].to_int() for k in range(11)]
    assert [e.vc_count for e in ocfs] == [decode_any(cfg, f).vc_frame_count for f in frames]
    assert demux.total.ocf_invalid == 1
    first_packet = next(i for i, e in enumerate(events) if isinstance(e, VcPacket))
    assert isinstance(events[first_packet - 1], OcfReceived)  # a frame's CLCW comes before its packets
    batch = VcDemultiplexer(cfg)
    batch.feed_frames(np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(len(frames), -1))
    assert batch.take_events() == events and batch.total == demux.total


def test_priority_order_and_round_robin() -> None:
    mux = VcMultiplexer(TM, {1: 2, 2: 0, 3: 1, 4: 1})
    for vc in (1, 2, 3, 4):
        for i in range(2):
            mux.submit(vc, packet(vc, i, TM.data_field_len))  # one frame per packet
    order = [TmFrame.decode(mux.next_frame(), TM).vcid for _ in range(8)]
    assert order == [2, 2, 3, 4, 3, 4, 1, 1]


def _saturated_run(mux: VcMultiplexer, frames: int, *, feed: dict[int, int]) -> list[int]:
    """VCIDs of ``frames`` frames while every VC in ``feed`` always has at least ``feed[vc]`` frames waiting."""
    seq = {vc: 0 for vc in feed}
    order = []
    for _ in range(frames):
        for vc, depth in feed.items():
            while mux.pending_octets(vc) < depth * TM.data_field_len:
                mux.submit(vc, packet(vc, seq[vc], TM.data_field_len))
                seq[vc] += 1
        order.append(TmFrame.decode(mux.next_frame(), TM).vcid)
    return order


@pytest.mark.parametrize("max_wait", [1, 4, 16])
def test_no_vc_starves_while_more_urgent_ones_are_saturated(max_wait: int) -> None:
    """The documented guarantee: a VC with data gets a frame at least once every max_wait + 2 (VCs - 1)
    frames, and the most urgent one never waits behind more than one aged frame."""
    mux = VcMultiplexer(TM, {1: 0, 2: 1, 3: 2, 4: 3}, max_wait_frames=max_wait)
    order = _saturated_run(mux, 400, feed={1: 2, 2: 2, 3: 2, 4: 2})
    bound = max_wait + 2 * 3
    for vc in (2, 3, 4):
        served = [i for i, v in enumerate(order) if v == vc]
        assert served and served[0] <= bound, (vc, served[:3])
        assert max(b - a for a, b in zip(served, served[1:], strict=False)) <= bound, vc
    # never two aged frames in a row: VC 1 (always waiting) gets at least every other frame
    assert all(1 in order[i:i + 2] for i in range(len(order) - 1))
    assert mux.aged_frames > 0


def test_strict_priority_when_asked_and_an_urgent_vc_waits_at_most_one_aged_frame() -> None:
    strict = VcMultiplexer(TM, {1: 0, 2: 1}, max_wait_frames=None)
    assert set(_saturated_run(strict, 100, feed={1: 1, 2: 1})) == {1}
    # a bulk VC that has waited long enough, then an alert arrives: the alert waits for one frame at most
    mux = VcMultiplexer(TM, {0: 0, 1: 1, 2: 2}, max_wait_frames=8)
    _saturated_run(mux, 20, feed={1: 2, 2: 2})
    mux.submit(0, packet(0, 0, 20))
    nxt = [TmFrame.decode(mux.next_frame(), TM).vcid for _ in range(2)]
    assert 0 in nxt
    with pytest.raises(LocalProtocolError, match="max_wait_frames"):
        VcMultiplexer(TM, {1: 0}, max_wait_frames=0)


def test_submit_rejects_bad_input() -> None:
    mux = VcMultiplexer(TM, {1: 0}, max_queue_octets=100)
    with pytest.raises(LocalProtocolError, match="vcid"):
        mux.submit(2, packet(1, 0, 10))
    with pytest.raises(LocalProtocolError, match="packet length"):
        mux.submit(1, packet(1, 0, 10) + b"\0")
    with pytest.raises(LocalProtocolError):
        mux.submit(1, b"\xff" * 10)  # version 7
    mux.submit(1, packet(1, 0, 100))
    with pytest.raises(LocalProtocolError, match="queue"):
        mux.submit(1, packet(1, 1, 7))
    with pytest.raises(LocalProtocolError, match="vcid"):
        VcMultiplexer(AOS, {63: 0})
    with pytest.raises(LocalProtocolError, match="vcid"):
        VcMultiplexer(TM, {8: 0})


# --- mux -> demux round trips -------------------------------------------------------------------
CONFIGS = [
    TM,
    TmFrameConfig(frame_len=20, scid=1),  # 14-octet data field: many packets span, many 1..6 octet tails
    TmFrameConfig(frame_len=1115, scid=0x3FF, has_ocf=True, sec_header_len=8),
    AOS,
    AosFrameConfig(frame_len=892, scid=157),
    AosFrameConfig(frame_len=30, scid=3, has_fhec=True, insert_zone_len=2, has_ocf=True),
]


@settings(deadline=None, max_examples=250)
@given(cfg=st.sampled_from(CONFIGS), seed=st.integers(0, 2**32 - 1),
       plan=st.lists(st.tuples(st.integers(0, 3), st.integers(7, 1500), st.integers(0, 3)), min_size=1, max_size=40),
       prios=st.lists(st.integers(0, 3), min_size=4, max_size=4))
def test_mux_demux_round_trip(cfg, seed: int, plan: list[tuple[int, int, int]], prios: list[int]) -> None:
    rng = random.Random(seed)
    vcids = [0, 1, 5, 6]
    mux = VcMultiplexer(cfg, dict(zip(vcids, prios)))
    sent: dict[int, list[bytes]] = {}
    frames = []
    for i, (vc_index, size, frames_now) in enumerate(plan):
        vcid = vcids[vc_index]
        p = packet(rng.randrange(0x7FF), i, size, rng)
        mux.submit(vcid, p)
        sent.setdefault(vcid, []).append(p)
        frames.extend(mux.next_frame() for _ in range(frames_now))
    frames.extend(drain(mux, extra=2))
    demux = VcDemultiplexer(cfg)
    events = []
    for f in frames:
        demux.feed_frame(f)
        while (ev := demux.next_event()) is not NEED_DATA:
            events.append(ev)
    assert received(events) == sent
    assert [e for e in events if not isinstance(e, (VcPacket, OcfReceived))] == []
    assert sum(isinstance(e, OcfReceived) for e in events) == (len(frames) if cfg.has_ocf else 0)
    assert demux.total.packets == len(plan) and demux.total.frames == len(frames)
    assert demux.total.bytes_dropped == 0 and demux.total.gaps == 0 and demux.total.errors == 0


def _touching(cfg, frames: list[bytes], lost: int) -> tuple[int, set[int]]:
    """VCID of frame ``lost`` and the stream indexes of the packets of that VC that touch it."""
    decoded = [decode_any(cfg, f) for f in frames]
    vcid = decoded[lost].vcid
    stream = b""
    lost_range = (0, 0)
    for i, f in enumerate(decoded):
        if f.vcid == vcid and not f.is_idle:
            if i == lost:
                lost_range = (len(stream), len(stream) + len(f.data))
            stream += f.data
    touched: set[int] = set()
    pos = index = 0
    while pos + 6 <= len(stream):
        end = pos + int.from_bytes(stream[pos + 4:pos + 6], "big") + 7
        idle = (int.from_bytes(stream[pos:pos + 2], "big") & 0x7FF) == 0x7FF
        if pos < lost_range[1] and end > lost_range[0] and not idle:
            touched.add(index)
        index += 0 if idle else 1
        pos = end
    return vcid, touched


@settings(deadline=None, max_examples=150)
@given(cfg=st.sampled_from(CONFIGS[:2] + CONFIGS[3:4] + CONFIGS[5:]), seed=st.integers(0, 2**32 - 1),
       sizes=st.lists(st.tuples(st.integers(0, 1), st.integers(7, 300)), min_size=2, max_size=30),
       lost_fraction=st.floats(0, 0.999))
def test_dropped_frame_loses_exactly_the_packets_that_touched_it(cfg, seed, sizes, lost_fraction) -> None:
    rng = random.Random(seed)
    mux = VcMultiplexer(cfg, {2: 0, 3: 0})
    sent: dict[int, list[bytes]] = {2: [], 3: []}
    for i, (vc, size) in enumerate(sizes):
        p = packet(100 + vc, i, size, rng)
        mux.submit(2 + vc, p)
        sent[2 + vc].append(p)
    frames = drain(mux, extra=1)
    data_frames = [i for i, f in enumerate(frames) if not decode_any(cfg, f).is_idle]
    lost = data_frames[int(lost_fraction * len(data_frames))]
    vcid, touched = _touching(cfg, frames, lost)
    events, demux = demultiplex(cfg, frames[:lost] + frames[lost + 1:])
    expected = {vc: [p for j, p in enumerate(ps) if vc != vcid or j not in touched] for vc, ps in sent.items()}
    assert received(events) == {vc: ps for vc, ps in expected.items() if ps}
    vc_before = [decode_any(cfg, f).vcid for f in frames[:lost]]
    vc_after = [decode_any(cfg, f).vcid for f in frames[lost + 1:]]
    gaps = [e for e in events if isinstance(e, FrameGap)]
    if vcid in vc_before and vcid in vc_after:  # a gap shows only between two received frames of that VC
        lost_count = decode_any(cfg, frames[lost]).vc_frame_count
        modulo = 256 if isinstance(cfg, TmFrameConfig) else 1 << 24  # the VC frame count wraps (TM: 8 bits)
        assert gaps == [FrameGap(vcid, lost_count, (lost_count + 1) % modulo, 1)]
    else:
        assert gaps == []
    if isinstance(cfg, TmFrameConfig) and 0 < lost < len(frames) - 1:
        assert [e for e in events if isinstance(e, MasterChannelGap)] == [
            MasterChannelGap(lost % 256, (lost + 1) % 256, 1)]  # the master channel count wraps at 256
    assert demux.total.errors == 0
    assert demux.total.bytes_dropped == sum(e.octets for e in events if isinstance(e, DataDropped))


def test_gap_reports_partial_packet_and_resyncs() -> None:
    cfg = TmFrameConfig(frame_len=26, scid=5)  # 20-octet data field
    mux = VcMultiplexer(cfg, {1: 0})
    pkts = [packet(1, i, 30) for i in range(4)]  # 120 octets: exactly 6 frames
    for p in pkts:
        mux.submit(1, p)
    frames = drain(mux)
    assert len(frames) == 6
    events, demux = demultiplex(cfg, frames[:1] + frames[2:])  # lose frame 1 (octets 20..39)
    assert received(events) == {1: [pkts[2], pkts[3]]}
    assert FrameGap(1, 1, 2, 1) in events
    drops = [e for e in events if isinstance(e, DataDropped)]
    assert [d.octets for d in drops] == [20, 20]  # p0's first 20 octets; then frame 2, all of it p1's tail
    assert demux.per_vc[1].gaps == 1 and demux.per_vc[1].frames_missing == 1 and demux.total.bytes_dropped == 40


def test_tm_counter_wrap_is_not_a_gap() -> None:
    cfg = TmFrameConfig(frame_len=26, scid=5)
    mux = VcMultiplexer(cfg, {1: 0})
    pkts = [packet(1, i, 7 + i % 50) for i in range(300)]
    for p in pkts:
        mux.submit(1, p)
    frames = drain(mux)
    assert len(frames) > 300
    counts = [TmFrame.decode(f, cfg).vc_frame_count for f in frames]
    assert counts[255:258] == [255, 0, 1]
    events, demux = demultiplex(cfg, frames)
    assert received(events) == {1: pkts}
    assert demux.total.gaps == 0
    assert not any(isinstance(e, (FrameGap, MasterChannelGap)) for e in events)


def test_aos_24bit_counter_wrap_is_not_a_gap() -> None:
    cfg = AosFrameConfig(frame_len=20, scid=9)  # 12-octet packet zone
    big = packet(5, 0, 40)
    counts = [(1 << 24) - 2, (1 << 24) - 1, 0, 1]
    fhps = [0, FHP_NO_PACKET_START, FHP_NO_PACKET_START, 4]
    zones = [big[0:12], big[12:24], big[24:36], big[36:40] + SpacePacket.idle(8).encode()]
    frames = [AosFrame(scid=9, vcid=1, vc_frame_count=c, first_header_pointer=h, data=z).encode(cfg)
              for c, h, z in zip(counts, fhps, zones)]
    events, demux = demultiplex(cfg, frames)
    assert events == [VcPacket(1, big)]
    assert demux.total.gaps == 0 and demux.total.idle_packets == 1
    skipped = [frames[0], frames[1], frames[3]]
    events, demux = demultiplex(cfg, skipped)
    assert FrameGap(1, 0, 1, 1) in events and demux.total.packets == 0


# --- demultiplexer robustness ---------------------------------------------------------------------
def tm_frame(vc_count: int, fhp: int, data: bytes, *, cfg: TmFrameConfig, vcid: int = 1) -> bytes:
    return TmFrame(scid=cfg.scid, vcid=vcid, mc_frame_count=vc_count % 256, vc_frame_count=vc_count % 256,
                   first_header_pointer=fhp, data=data).encode(cfg)


def test_pointer_beyond_zone_is_reported_and_resynced() -> None:
    cfg = TmFrameConfig(frame_len=26, scid=5)
    p = packet(1, 0, 30)
    frames = [tm_frame(0, 0, p[:20], cfg=cfg), tm_frame(1, 0x100, p[20:] + bytes(10), cfg=cfg),
              tm_frame(2, 0, packet(1, 1, 20), cfg=cfg)]
    events, demux = demultiplex(cfg, frames)
    errors = [e for e in events if isinstance(e, DecodeError)]
    assert len(errors) == 1 and errors[0].error.field == "first header pointer" and errors[0].error.value == 0x100
    assert errors[0].error.offset == 4
    assert received(events) == {1: [packet(1, 1, 20)]}
    assert demux.total.bytes_dropped == 40 and demux.total.errors == 1


def test_pointer_inconsistent_with_packet_in_progress() -> None:
    cfg = TmFrameConfig(frame_len=26, scid=5)
    p = packet(1, 0, 30)  # needs 10 more octets in frame 1, but FHP says a packet starts at 4
    q = packet(1, 1, 16)
    frames = [tm_frame(0, 0, p[:20], cfg=cfg), tm_frame(1, 4, p[20:24] + q, cfg=cfg),
              tm_frame(2, 0, packet(1, 2, 20), cfg=cfg)]
    events, _ = demultiplex(cfg, frames)
    assert received(events) == {1: [q, packet(1, 2, 20)]}
    assert any(isinstance(e, DecodeError) for e in events)
    # a packet ending before the pointer: 20 + 10 = 30, pointer says 12
    frames = [tm_frame(0, 0, p[:20], cfg=cfg), tm_frame(1, 12, p[20:] + b"\0\0" + packet(1, 3, 8), cfg=cfg)]
    events, _ = demultiplex(cfg, frames)
    assert received(events) == {1: [p, packet(1, 3, 8)]}
    assert sum(isinstance(e, DecodeError) for e in events) == 1


def test_corrupt_packet_header_and_bad_frames_are_events() -> None:
    cfg = TmFrameConfig(frame_len=26, scid=5, has_fecf=True)  # 18-octet data field
    bad_header = b"\xE0" + bytes(17)  # version 7
    good = packet(1, 1, 18)
    frames = [tm_frame(0, 0, bad_header, cfg=cfg), tm_frame(1, 0, good, cfg=cfg)]
    broken = bytearray(tm_frame(2, 0, good, cfg=cfg))
    broken[8] ^= 1  # CRC mismatch
    foreign = TmFrame(scid=6, vcid=1, mc_frame_count=3, vc_frame_count=3, first_header_pointer=0,
                      data=good).encode(cfg)
    events, demux = demultiplex(cfg, frames + [bytes(broken), foreign, b"short"])
    assert received(events) == {1: [good]}
    errs = [e.error for e in events if isinstance(e, DecodeError)]
    assert [type(e).__name__ for e in errs] == ["RemoteProtocolError", "ChecksumError", "RemoteProtocolError",
                                                "TruncatedError"]
    assert errs[2].field == "spacecraft id"
    assert demux.total.errors == 4 and demux.total.frames == 2


def test_idle_packets_are_dropped_but_counted() -> None:
    cfg = TmFrameConfig(frame_len=26, scid=5)
    zone = SpacePacket.idle(10).encode() + packet(1, 0, 10)
    events, demux = demultiplex(cfg, [tm_frame(0, 0, zone, cfg=cfg)])
    assert received(events) == {1: [packet(1, 0, 10)]}
    assert demux.per_vc[1].idle_packets == 1 and demux.per_vc[1].packets == 1
    assert isinstance(events[0], VcPacket) and events[0].packet().apid == 1


def test_vca_frames_are_reported_not_extracted() -> None:
    cfg = TmFrameConfig(frame_len=26, scid=5)
    vca = TmFrame(scid=5, vcid=2, mc_frame_count=0, vc_frame_count=0, first_header_pointer=0, data=bytes(20),
                  sync_flag=True, segment_length_id=0).encode(cfg)
    events, demux = demultiplex(cfg, [vca])
    assert [type(e) for e in events] == [DecodeError] and events[0].vcid == 2
    assert demux.per_vc[2].frames == 1 and demux.per_vc[2].errors == 1


@pytest.mark.parametrize("cfg", [TmFrameConfig(frame_len=1115, scid=1, has_ocf=True, has_fecf=True),
                                 AosFrameConfig(frame_len=892, scid=157)])
def test_large_round_trip(cfg) -> None:
    rng = random.Random(11)
    mux = VcMultiplexer(cfg, {1: 0, 2: 1, 3: 1})
    sent: dict[int, list[bytes]] = {}
    frames = []
    for i in range(400):
        vcid = rng.choice([1, 2, 3])
        p = packet(rng.randrange(0x7FF), i, rng.randrange(7, 8000), rng)
        mux.submit(vcid, p)
        sent.setdefault(vcid, []).append(p)
        if rng.random() < 0.5:
            frames.append(mux.next_frame())
    frames.extend(drain(mux))
    events, demux = demultiplex(cfg, frames)
    assert received(events) == sent
    assert demux.total.packets == 400 and demux.total.errors == 0 and demux.total.bytes_dropped == 0


# --- real data ---------------------------------------------------------------------------------
def test_real_snpp_demultiplex() -> None:
    if not SNPP.exists():
        pytest.skip(f"real S-NPP capture {SNPP} is absent (tests/data/real/SOURCES.txt)")
    raw = SNPP.read_bytes()
    frames = [tm_randomise(raw[i * 1024 + 4:(i + 1) * 1024])[:892] for i in range(65)]
    cfg = AosFrameConfig(frame_len=892, scid=157)
    events, demux = demultiplex(cfg, frames)
    assert demux.total.frames == 65 and set(demux.per_vc) == {16}
    assert [e for e in events if isinstance(e, FrameGap)] == [FrameGap(16, 9842882, 9842883, 1)]
    assert demux.total.errors == 0
    pkts = [e for e in events if isinstance(e, VcPacket)]
    assert all(e.vcid == 16 for e in pkts)
    got = [(e.packet().apid, e.packet().sequence_count, len(e.data)) for e in pkts]
    assert got == [(802, 9875, 3006), (803, 9859, 180), (803, 9861, 4090), (803, 9862, 5098), (803, 9863, 5058),
                   (803, 9864, 5026), (803, 9865, 5122), (803, 9866, 5090), (803, 9867, 5106),
                   (803, 9868, 5130), (803, 9869, 5074), (803, 9870, 5118)]
    assert hashlib.md5(b"".join(e.data for e in pkts)).hexdigest() == "5e11051d86c46ddc3500904c99bbe978"
    assert sum(len(e.data) for e in pkts) == 53098


# --- fuzz --------------------------------------------------------------------------------------
@settings(deadline=None, max_examples=150)
@given(cfg=st.sampled_from(CONFIGS[:2] + CONFIGS[3:4] + CONFIGS[5:]),
       frames=st.lists(st.binary(min_size=0, max_size=80), max_size=20))
def test_fuzz_demux_random_frames(cfg, frames: list[bytes]) -> None:
    demux = VcDemultiplexer(cfg)
    for f in frames:
        demux.feed_frame(f)
        list(demux.events())
    assert demux.total.frames <= len(frames) <= demux.total.frames + demux.total.errors


def test_fuzz_demux_mutated_frames() -> None:
    rng = random.Random(3)
    for cfg in (TmFrameConfig(frame_len=40, scid=5), AosFrameConfig(frame_len=40, scid=5),
                TmFrameConfig(frame_len=40, scid=5, has_fecf=True)):
        mux = VcMultiplexer(cfg, {1: 0, 2: 1})
        for i in range(150):
            mux.submit(1 + i % 2, packet(i % 7, i, rng.randrange(7, 120), rng))
        frames = [bytearray(f) for f in drain(mux, extra=3)]
        demux = VcDemultiplexer(cfg, max_packet_len=200)
        for f in frames:
            for _ in range(rng.randrange(1, 3) if rng.random() < 0.3 else 0):
                f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)
            if rng.random() < 0.05:
                f = f[:rng.randrange(len(f))]
            demux.feed_frame(bytes(f))
            for ev in demux.events():
                if isinstance(ev, VcPacket):
                    assert len(ev.data) <= 200
                elif isinstance(ev, DecodeError):
                    assert isinstance(ev.error, ProtocolError)
        assert demux.total.frames <= len(frames) and demux.total.packets > 30
