"""Space packets (133.0-B-2): golden bytes, round trips, stream splitting, fuzz, spacepackets peer."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from spacepackets.ccsds.spacepacket import PacketType as PeerType
from spacepackets.ccsds.spacepacket import SequenceFlags as PeerFlags
from spacepackets.ccsds.spacepacket import SpacePacket as PeerPacket
from spacepackets.ccsds.spacepacket import SpacePacketHeader as PeerHeader

from protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError, TruncatedError
from protocol.spacepacket import (
    MAX_PACKET_LEN,
    PacketSplitter,
    PacketType,
    PrimaryHeader,
    SequenceCounter,
    SequenceFlags,
    Skipped,
    SpacePacket,
    Truncated,
    decode_header,
    sequence_gap,
    sequence_gaps,
    split_packets,
)

packets = st.builds(
    SpacePacket,
    apid=st.integers(0, 0x7FF),
    sequence_count=st.integers(0, 0x3FFF),
    data=st.binary(min_size=1, max_size=300),
    packet_type=st.sampled_from(PacketType),
    sec_header_flag=st.booleans(),
    sequence_flags=st.sampled_from(SequenceFlags),
)


def test_golden_header_bytes() -> None:
    # TC, sec hdr, APID 0x034, unsegmented, count 0, 7 data octets (from the PUS-C ping in crc16.json)
    pkt = SpacePacket(apid=0x034, sequence_count=0, data=bytes(7), packet_type=PacketType.TC,
                      sec_header_flag=True)
    assert pkt.header_bytes() == bytes.fromhex("1834C0000006")
    # TM, no sec hdr, APID 0x7FF (idle), first segment, count 0x3FFF, 1 data octet
    idle = SpacePacket(apid=0x7FF, sequence_count=0x3FFF, data=b"\x00", sequence_flags=SequenceFlags.FIRST)
    assert idle.header_bytes() == bytes.fromhex("07FF7FFF0000")
    assert idle.is_idle


@given(packets)
def test_round_trip(pkt: SpacePacket) -> None:
    raw = pkt.encode()
    assert len(raw) == len(pkt)
    assert SpacePacket.decode(raw) == pkt


@given(packets)
def test_fast_header_matches_construct_declaration(pkt: SpacePacket) -> None:
    raw = pkt.encode()
    ref = PrimaryHeader.parse(raw[:6])
    ours = decode_header(raw)
    assert (ours.apid, ours.sequence_count, ours.packet_type, ours.sec_header_flag,
            ours.sequence_flags, ours.data_length) == (
        ref.apid, ref.sequence_count, ref.packet_type, ref.sec_header_flag, ref.sequence_flags, ref.data_length)
    assert PrimaryHeader.build(ref) == raw[:6]


def test_maximum_and_minimum_lengths() -> None:
    big = SpacePacket(apid=1, sequence_count=0, data=bytes(65536))
    assert len(big.encode()) == MAX_PACKET_LEN == 65542
    assert SpacePacket.decode(big.encode()) == big
    with pytest.raises(LocalProtocolError, match="1..65536"):
        SpacePacket(apid=1, sequence_count=0, data=bytes(65537))
    with pytest.raises(LocalProtocolError, match="packet data field length"):
        SpacePacket(apid=1, sequence_count=0, data=b"")
    assert len(SpacePacket.idle(7).encode()) == 7
    with pytest.raises(LocalProtocolError):
        SpacePacket.idle(6)


def test_encode_errors_name_the_field_and_range() -> None:
    with pytest.raises(LocalProtocolError) as e:
        SpacePacket(apid=0x900, sequence_count=0, data=b"x")
    assert "apid" in str(e.value) and "0x7FF" in str(e.value) and "2304" in str(e.value)
    with pytest.raises(LocalProtocolError, match="sequence_count"):
        SpacePacket(apid=1, sequence_count=1 << 14, data=b"x")


def test_decode_errors_carry_offset_and_value() -> None:
    raw = SpacePacket(apid=5, sequence_count=1, data=b"abcd").encode()
    with pytest.raises(TruncatedError) as e:
        SpacePacket.decode(raw[:-1], offset=100)
    assert e.value.offset == 100 and "packet data field" in str(e.value)
    bad = bytes([raw[0] | 0x20]) + raw[1:]
    with pytest.raises(RemoteProtocolError) as e2:
        SpacePacket.decode(bad)
    assert e2.value.field == "packet version number" and e2.value.value == 1 and e2.value.offset == 0
    with pytest.raises(RemoteProtocolError, match="trailing"):
        SpacePacket.decode(raw + b"\x00")


def test_sequence_counter_is_per_apid_and_wraps() -> None:
    counter = SequenceCounter({7: 0x3FFE})
    assert [counter.next(7) for _ in range(3)] == [0x3FFE, 0x3FFF, 0]
    assert counter.next(8) == 0 and counter.next(8) == 1
    assert counter.state() == {7: 1, 8: 2}
    assert sequence_gap(0x3FFF, 0) == 0
    assert sequence_gap(10, 13) == 2


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 0x3FFF)), max_size=40),
       st.dictionaries(st.integers(0, 3), st.integers(0, 0x3FFF), max_size=4), st.integers(0, 40))
def test_sequence_gaps_of_a_batch_equal_the_check_one_by_one(
        pkts: list[tuple[int, int]], before: dict[int, int], cut: int) -> None:
    """The batch check (any split of the batch) finds the gaps the per-packet check finds, at the same places."""
    last = dict(before)
    want, first, per_apid = [], {}, {}
    for i, (apid, count) in enumerate(pkts):
        if apid in last and sequence_gap(last[apid], count):
            want.append((i, (last[apid] + 1) % 0x4000, sequence_gap(last[apid], count)))
        elif apid not in last:
            first[apid] = count
        last[apid] = count
        per_apid[apid] = per_apid.get(apid, 0) + 1
    got_last = dict(before)
    got, got_first, got_per_apid = [], {}, {}
    for lo, hi in ((0, cut), (cut, len(pkts))):
        part = pkts[lo:hi]
        gaps = sequence_gaps(np.array([a for a, _ in part], dtype=np.uint16),
                             np.array([c for _, c in part], dtype=np.uint16), got_last)
        got += [(lo + i, e, m) for i, e, m in zip(gaps.index.tolist(), gaps.expected.tolist(), gaps.missing.tolist())]
        got_first.update({a: c for a, c in gaps.first.items() if a not in got_first})
        for a, k in gaps.per_apid.items():
            got_per_apid[a] = got_per_apid.get(a, 0) + k
    assert got == want
    assert got_last == last and got_first == first
    assert list(got_per_apid.items()) == list(per_apid.items())  # counts, and APIDs in first-seen order


def test_sequence_gaps_refuses_misaligned_columns() -> None:
    with pytest.raises(LocalProtocolError, match="apids/counts"):
        sequence_gaps(np.zeros(3, dtype=np.int64), np.zeros(2, dtype=np.int64), {})


@settings(max_examples=60, deadline=None)
@given(st.lists(packets, min_size=1, max_size=8), st.binary(max_size=20), st.data())
def test_splitter_independent_of_chunking(pkts: list[SpacePacket], junk: bytes, data: st.DataObject) -> None:
    stream = junk + b"".join(p.encode() for p in pkts) + junk[:3]
    whole = split_packets(stream)
    one_by_one = split_packets([bytes([b]) for b in stream])
    cut = data.draw(st.integers(0, len(stream)))
    two = split_packets([stream[:cut], stream[cut:]])
    assert whole == one_by_one == two
    # every input octet is accounted for exactly once, in order
    pos = 0
    for ev in whole:
        start = ev.offset if isinstance(ev, (Skipped, Truncated)) else pos
        assert start == pos
        pos += len(ev) if isinstance(ev, SpacePacket) else ev.length
    assert pos == len(stream)


def test_splitter_every_split_index_on_a_fixed_stream() -> None:
    pkts = [SpacePacket(apid=a, sequence_count=a, data=bytes(range(a + 1))) for a in (1, 2, 40)]
    stream = b"\xe0\xff" + b"".join(p.encode() for p in pkts) + pkts[2].encode()[:9]
    expected = split_packets(stream)
    assert [type(e).__name__ for e in expected] == ["Skipped", "SpacePacket", "SpacePacket", "SpacePacket",
                                                     "Truncated"]
    assert expected[0] == Skipped(0, 2, "version 7 != 0")
    assert expected[-1] == Truncated(len(stream) - 9, 9, 47)
    for i in range(len(stream) + 1):
        assert split_packets([stream[:i], stream[i:]]) == expected


def test_splitter_apid_filter_resyncs_after_garbage() -> None:
    good = SpacePacket(apid=100, sequence_count=3, data=b"hello").encode()
    events = split_packets(b"\x01\x02\x03" + good, apids={100})
    assert events[0] == Skipped(0, 3, "APID 258 not expected")
    assert events[1] == SpacePacket.decode(good)


def test_splitter_short_tail_is_reported_as_skipped() -> None:
    events = split_packets(b"\x00\x01\x02")
    assert events == [Skipped(0, 3, "stream ended inside a header")]


def test_splitter_counts() -> None:
    sp = PacketSplitter()
    pkt = SpacePacket(apid=1, sequence_count=0, data=b"z").encode()
    sp.feed(b"\xff" + pkt)
    list(sp.events())
    assert sp.packets == 1 and sp.skipped_octets == 1
    sp.close()
    assert list(sp.events()) == []
    with pytest.raises(LocalProtocolError):
        sp.feed(b"x")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_decoders_raise_only_protocol_errors(data: bytes) -> None:
    try:
        SpacePacket.decode(data)
    except ProtocolError:
        pass
    events = split_packets(data)
    covered = sum(len(e) if isinstance(e, SpacePacket) else e.length for e in events)
    assert covered == len(data)


def test_fuzz_mutated_packets() -> None:
    rng = random.Random(1234)
    base = b"".join(SpacePacket(apid=rng.randrange(0x7FF), sequence_count=i, data=rng.randbytes(rng.randrange(1, 60))
                                ).encode() for i in range(20))
    for _ in range(300):
        buf = bytearray(base)
        for _ in range(rng.randrange(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        buf = buf[:rng.randrange(len(buf) + 1)]
        events = split_packets(bytes(buf))
        assert sum(len(e) if isinstance(e, SpacePacket) else e.length for e in events) == len(buf)
        try:
            SpacePacket.decode_from(bytes(buf), 0)
        except ProtocolError:
            pass


# --- peer: spacepackets ------------------------------------------------------------------

@given(packets)
def test_peer_spacepackets_decodes_ours(pkt: SpacePacket) -> None:
    raw = pkt.encode()
    peer = PeerHeader.unpack(raw)
    assert peer.apid == pkt.apid
    assert peer.seq_count == pkt.sequence_count
    assert int(peer.packet_type) == int(pkt.packet_type)
    assert peer.sec_header_flag == pkt.sec_header_flag
    assert int(peer.seq_flags) == int(pkt.sequence_flags)
    assert peer.data_len == len(pkt.data) - 1
    assert peer.packet_len == len(raw)


@given(packets)
def test_ours_decodes_spacepackets(pkt: SpacePacket) -> None:
    header = PeerHeader(
        packet_type=PeerType(int(pkt.packet_type)),
        apid=pkt.apid,
        seq_count=pkt.sequence_count,
        data_len=len(pkt.data) - 1,
        sec_header_flag=pkt.sec_header_flag,
        seq_flags=PeerFlags(int(pkt.sequence_flags)),
    )
    # the peer insists on a separate secondary header when the flag is set: give it the first octet
    sec, user = (pkt.data[:1], pkt.data[1:]) if pkt.sec_header_flag else (None, pkt.data)
    raw = bytes(PeerPacket(header, sec_header=sec, user_data=user).pack())
    assert raw == pkt.encode()
    assert SpacePacket.decode(raw) == pkt


def test_bad_enum_and_bool_values_are_protocol_errors() -> None:
    with pytest.raises(LocalProtocolError, match="UNSEGMENTED \\(3\\)"):
        SpacePacket(apid=1, sequence_count=0, data=b"x", sequence_flags=7)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="apid is True"):
        SpacePacket(apid=True, sequence_count=0, data=b"x")
