"""The whole stack both ways: real S-NPP downlink, encoder->decoder round trips, faults, uplink, fuzz."""

from __future__ import annotations

import hashlib
from dataclasses import replace
import random
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from protocol.aosframe import AosFrameConfig
from protocol.cltu import CltuConfig
from protocol.pus import PusTc
from protocol.reedsolomon import Basis, RSConfig
from protocol.spacepacket import SpacePacket
from protocol.stack import (
    CodeblockUncorrectable,
    DownlinkConfig,
    DownlinkDecoder,
    DownlinkEncoder,
    PacketCrcError,
    PacketGap,
    TcFrameReceived,
    TcFrameRejected,
    TcPacketReceived,
    UplinkConfig,
    UplinkDecoder,
    UplinkEncoder,
    decode_cadus,
    decode_cltus,
)
from protocol.tcframe import FrameType, SetVr, Unlock
from protocol.timecode import CdsConfig, CdsSubMs, CdsTime
from protocol.tmframe import TmFrameConfig
from protocol.vchannel import FrameGap, VcPacket

SNPP_PACKETS = [(802, 9875, 3006), (803, 9859, 180)] + [
    (803, s, n) for s, n in zip(range(9861, 9871), (4090, 5098, 5058, 5026, 5122, 5090, 5106, 5130, 5074, 5118))]
SNPP_MD5 = "5e11051d86c46ddc3500904c99bbe978"


@pytest.fixture(scope="module")
def snpp(real_dir: Path) -> bytes:
    data = (real_dir / "snpp_synchronized_cadus.dat").read_bytes()
    assert len(data) == 65 * 1024
    return data


def _summary(packets: list[VcPacket]) -> list[tuple[int, int, int]]:
    out = []
    for p in packets:
        pkt = p.packet()
        out.append((pkt.apid, pkt.sequence_count, len(p.data)))
    return out


def test_snpp_real_downlink_decodes_to_published_truth(snpp: bytes) -> None:
    result = decode_cadus(snpp, DownlinkConfig.snpp())
    c = result.counters
    assert (c.cadus, c.rs_corrected, c.rs_uncorrectable, c.frames, c.frame_gaps, c.frames_missing) == (
        65, 0, 0, 65, 1, 1)
    assert c.frames_by_vc == {16: 65}
    assert _summary(result.packets) == SNPP_PACKETS
    blob = b"".join(p.data for p in result.packets)
    assert len(blob) == 53098
    assert hashlib.md5(blob).hexdigest() == SNPP_MD5
    gaps = [e for e in result.events if isinstance(e, FrameGap)]
    assert gaps == [FrameGap(16, 9842882, 9842883, 1)]
    assert [e for e in result.events if isinstance(e, PacketGap)] == [PacketGap(16, 803, 9860, 9861, 1)]
    assert c.as_dict()["packets_by_apid"] == {"802": 1, "803": 11}
    # CDS time in the secondary header of the first APID 803 packet (day 16 bit, ms 32 bit, us 16 bit)
    first_803 = next(p for p in result.packets if p.packet().apid == 803)
    assert first_803.data[6:14] == bytes.fromhex("52E8037B574C0103")
    t = CdsTime.decode(first_803.data[6:14], config=CdsConfig(submillisecond=CdsSubMs.MICROSECONDS))
    assert t.to_datetime() == datetime(2016, 2, 10, 16, 13, 34, 924259, tzinfo=timezone.utc)


def test_snpp_same_result_however_the_stream_is_chunked(snpp: bytes) -> None:
    reference = decode_cadus(snpp).events
    rng = random.Random(5)
    for _ in range(3):
        dec = DownlinkDecoder(DownlinkConfig.snpp())
        pos = 0
        events = []
        while pos < len(snpp):
            n = rng.choice([1, 7, 333, 1024, 5000])
            dec.feed(snpp[pos:pos + n])
            events.extend(dec.events())
            pos += n
        dec.close()
        events.extend(dec.events())
        assert events == reference


def _corrupt_symbols(cadus: bytes, rng: random.Random, *, cadu_len: int, per_codeword: int, depth: int,
                     which: list[int]) -> tuple[bytes, int]:
    """Flip ``per_codeword`` symbols of every codeword in the listed CADUs; return data and symbols changed."""
    buf = bytearray(cadus)
    changed = 0
    for k in which:
        base = k * cadu_len + 4
        for word in range(depth):
            for t in rng.sample(range(255), per_codeword):
                buf[base + t * depth + word] ^= rng.randrange(1, 256)
                changed += 1
    return bytes(buf), changed


def test_snpp_with_injected_symbol_errors_is_corrected_and_counted(snpp: bytes) -> None:
    rng = random.Random(11)
    damaged, changed = _corrupt_symbols(snpp, rng, cadu_len=1024, per_codeword=16, depth=4, which=[0, 10, 64])
    result = decode_cadus(damaged)
    assert result.counters.rs_corrected == changed == 3 * 4 * 16
    assert result.counters.rs_uncorrectable == 0
    assert hashlib.md5(b"".join(p.data for p in result.packets)).hexdigest() == SNPP_MD5


def test_snpp_uncorrectable_codeblock_becomes_a_frame_gap_and_lost_packets(snpp: bytes) -> None:
    rng = random.Random(3)
    damaged, _ = _corrupt_symbols(snpp, rng, cadu_len=1024, per_codeword=30, depth=4, which=[20])
    result = decode_cadus(damaged)
    c = result.counters
    assert c.rs_uncorrectable == 1 and c.cadus == 65 and c.frames == 64
    assert [e.offset for e in result.events if isinstance(e, CodeblockUncorrectable)] == [20 * 1024]
    assert c.frame_gaps == 2 and c.frames_missing == 2
    # the packet that frame 20 carried part of is lost and shows up as a sequence gap
    got = _summary(result.packets)
    assert len(got) == len(SNPP_PACKETS) - 1 and set(got) < set(SNPP_PACKETS)
    assert c.packet_gaps == 2 and c.packets_missing == 2


def test_snpp_shifted_inverted_and_noisy_stream(snpp: bytes) -> None:
    # prepend noise, shift the whole stream by 3 bits and invert it: the synchroniser must still lock
    rng = np.random.default_rng(4)
    noise = rng.integers(0, 256, 37, dtype=np.uint8).tobytes()
    bits = np.unpackbits(np.frombuffer(noise + snpp, np.uint8))
    bits = np.concatenate([np.array([1, 0, 1], np.uint8), bits, np.zeros(5, np.uint8)]) ^ 1
    stream = np.packbits(bits).tobytes()
    result = decode_cadus(stream)
    assert hashlib.md5(b"".join(p.data for p in result.packets)).hexdigest() == SNPP_MD5
    assert result.counters.cadus == 65


def _cubesat_packets(rng: random.Random, n: int) -> list[tuple[int, bytes]]:
    out = []
    seq = {1: 0, 2: 0, 3: 0}
    for _ in range(n):
        vcid = rng.choice([1, 2, 3])
        apid = 100 + vcid
        pkt = SpacePacket(apid=apid, sequence_count=seq[vcid], data=rng.randbytes(rng.randrange(1, 2500)))
        seq[vcid] += 1
        out.append((vcid, pkt.encode()))
    return out


@pytest.mark.parametrize("config", [
    DownlinkConfig.cubesat(scid=0x2A, interleave=1),
    DownlinkConfig.cubesat(scid=0x2A, interleave=5),
    DownlinkConfig(frame=AosFrameConfig(frame_len=1115, scid=77, has_fecf=True), rs=None),
    DownlinkConfig(frame=TmFrameConfig(frame_len=223 * 2 - 10, scid=5, has_ocf=True),
                   rs=RSConfig(interleave=2, basis=Basis.CONVENTIONAL, virtual_fill=5), randomise=False),
], ids=["tm-rs1", "tm-rs5", "aos-uncoded-fecf", "tm-rs2-shortened-conventional"])
def test_encoder_decoder_round_trip(config: DownlinkConfig) -> None:
    rng = random.Random(21)
    enc = DownlinkEncoder(config, {1: 0, 2: 1, 3: 2})
    sent = _cubesat_packets(rng, 40)
    for vcid, pkt in sent:
        enc.submit(vcid, pkt)
    stream = enc.cadus(0)
    while enc.mux.pending_octets():
        stream += enc.next_cadu(ocf_raw=0x01000000)
    stream += enc.cadus(3)  # idle frames at the end
    assert len(stream) % config.cadu_len == 0
    result = decode_cadus(stream, config)
    by_vc = {v: [p for vv, p in sent if vv == v] for v in (1, 2, 3)}
    for v in (1, 2, 3):
        assert [p.data for p in result.packets if p.vcid == v] == by_vc[v]
    c = result.counters
    assert c.packets == 40 and c.frame_gaps == 0 and c.packet_gaps == 0 and c.rs_uncorrectable == 0
    assert c.idle_frames >= 3 and c.cadus == len(stream) // config.cadu_len


def test_random_bit_errors_on_the_link_are_corrected() -> None:
    config = DownlinkConfig.cubesat(scid=0x2A, interleave=4)
    rng = random.Random(8)
    enc = DownlinkEncoder(config, {1: 0, 2: 1, 3: 2})
    sent = _cubesat_packets(rng, 30)
    for vcid, pkt in sent:
        enc.submit(vcid, pkt)
    stream = bytearray()
    while enc.mux.pending_octets():
        stream += enc.next_cadu()
    # bit error rate 1e-4, ASM included (the synchroniser tolerates 2 wrong ASM bits)
    bits = np.unpackbits(np.frombuffer(bytes(stream), np.uint8))
    flips = np.random.default_rng(2).random(bits.size) < 1e-4
    noisy = np.packbits(bits ^ flips).tobytes()
    result = decode_cadus(noisy, config)
    assert sorted(p.data for p in result.packets) == sorted(p for _, p in sent)
    assert result.counters.rs_corrected > 0
    assert result.counters.rs_corrected <= int(flips.sum())


def test_fecf_errors_are_counted_on_an_uncoded_link() -> None:
    config = DownlinkConfig(frame=TmFrameConfig(frame_len=300, scid=9, has_fecf=True), rs=None)
    enc = DownlinkEncoder(config, {0: 0})
    for i in range(10):
        enc.submit(0, SpacePacket(apid=1, sequence_count=i, data=bytes(200)).encode())
    stream = bytearray(enc.cadus(9))
    stream[2 * config.cadu_len + 50] ^= 0x10  # one bit in frame 2's data
    result = decode_cadus(bytes(stream), config)
    assert result.counters.crc_errors == 1 and result.counters.frame_errors == 1
    # frame 2 carries octets 584..875 of the packet stream: parts of packets 2, 3 and 4 (206 octets each)
    assert result.counters.packet_gaps == 1 and result.counters.packets_missing == 3
    assert result.counters.packets == 7


def test_packet_pec_checked_when_configured() -> None:
    config = DownlinkConfig(frame=TmFrameConfig(frame_len=200, scid=9, has_fecf=True), rs=None, packet_pec=True)
    enc = DownlinkEncoder(config, {0: 0})
    good = PusTc(apid=10, service=17, subtype=1, sequence_count=0).encode()
    bad = bytearray(PusTc(apid=10, service=17, subtype=1, sequence_count=1).encode())
    bad[-1] ^= 1
    enc.submit(0, good)
    enc.submit(0, bytes(bad))
    result = decode_cadus(enc.cadus(2), config)
    assert [p.data for p in result.packets] == [good]
    errs = [e for e in result.events if isinstance(e, PacketCrcError)]
    assert len(errs) == 1 and errs[0].sequence_count == 1 and result.counters.crc_errors == 1


def test_config_rejects_inconsistent_lengths() -> None:
    from protocol.errors import LocalProtocolError
    with pytest.raises(LocalProtocolError, match="frame_len"):
        DownlinkConfig(frame=TmFrameConfig(frame_len=1115, scid=1), rs=RSConfig(interleave=4))


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=5000), st.integers(1, 700))
def test_fuzz_downlink_decoder_never_raises(data: bytes, chunk: int) -> None:
    dec = DownlinkDecoder(DownlinkConfig.snpp())
    for i in range(0, len(data), chunk):
        dec.feed(data[i:i + chunk])
        list(dec.events())
    dec.close()
    list(dec.events())


def test_fuzz_mutated_snpp_stream(snpp: bytes) -> None:
    rng = random.Random(99)
    for _ in range(6):
        buf = bytearray(snpp[:20 * 1024])
        for _ in range(rng.randrange(1, 400)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        del buf[rng.randrange(len(buf)):][:rng.randrange(3000)]
        result = decode_cadus(bytes(buf))
        assert result.counters.cadus <= 20
        for p in result.packets:
            assert SpacePacket.decode(p.data).encode() == p.data


# ------------------------------------------------------------------------------ uplink

UPLINK = UplinkConfig(scid=0x2A, vcid=1, map_id=0)


def test_uplink_round_trip_with_segmentation_and_control() -> None:
    enc = UplinkEncoder(UPLINK)
    small = PusTc(apid=10, service=17, subtype=1).encode()
    big = SpacePacket(apid=11, sequence_count=0, data=bytes(range(256)) * 10).encode()
    stream = b"".join(enc.encode(small)) + b"\x55" * 9 + b"".join(enc.encode(big))
    stream += enc.control(Unlock()) + enc.control(SetVr(42))
    packets, counters = decode_cltus(stream, UPLINK)
    assert packets == [small, big]
    assert counters.frames == 1 + 3 + 2 and counters.control_frames == 2
    assert counters.skipped_octets == 9 and counters.packets == 2


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=7, max_size=3000), st.data())
def test_uplink_any_single_bit_error_per_code_block_is_corrected(payload: bytes, data: st.DataObject) -> None:
    packet = SpacePacket(apid=5, sequence_count=1, data=payload).encode()
    cltus = UplinkEncoder(UPLINK).encode(packet)
    damaged = []
    flipped = 0
    for c in cltus:
        buf = bytearray(c)
        blocks = (len(buf) - 10) // 8
        for b in range(blocks):
            if data.draw(st.booleans()):
                bit = data.draw(st.integers(0, 62))
                buf[2 + 8 * b + bit // 8] ^= 0x80 >> (bit % 8)
                flipped += 1
        damaged.append(bytes(buf))
    packets, counters = decode_cltus(b"".join(damaged), UPLINK)
    assert packets == [packet]
    assert counters.bch_corrected_bits == flipped


def test_uplink_rejects_wrong_spacecraft_and_bad_fecf() -> None:
    other = UplinkEncoder(UplinkConfig(scid=0x2B, vcid=1, map_id=0)).encode(b"\x00" * 10)
    no_fecf = UplinkEncoder(UplinkConfig(scid=0x2A, vcid=1, map_id=0, fecf=False,
                                         cltu=CltuConfig(randomise=True))).encode(bytes(range(1, 20)))
    dec = UplinkDecoder(UPLINK)
    dec.feed(b"".join(other + no_fecf))
    dec.close()
    events = list(dec.events())
    rejected = [e for e in events if isinstance(e, TcFrameRejected)]
    assert len(rejected) == 2
    assert "spacecraft ID" in str(rejected[0].error)
    assert dec.counters.wrong_spacecraft == 1 and dec.counters.crc_errors == 1
    assert not [e for e in events if isinstance(e, TcPacketReceived)]


def test_uplink_frames_for_farm_without_packet_delivery() -> None:
    enc = UplinkEncoder(UPLINK)
    dec = UplinkDecoder(UPLINK, deliver_packets=False)
    dec.feed(b"".join(enc.cltu(replace(f, sequence_number=7))
                      for f in enc.frames(b"\x10\x05\xc0\x00\x00\x01ab", frame_type=FrameType.AD)))
    frames = [e for e in dec.events() if isinstance(e, TcFrameReceived)]
    assert len(frames) == 1 and frames[0].frame.sequence_number == 7
    assert frames[0].frame.frame_type is FrameType.AD
    assert [p.data for p in dec.packets_of(frames[0].frame)] == [b"\x10\x05\xc0\x00\x00\x01ab"]


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000), st.integers(1, 500))
def test_fuzz_uplink_decoder_never_raises(data: bytes, chunk: int) -> None:
    dec = UplinkDecoder(UPLINK)
    for i in range(0, len(data), chunk):
        dec.feed(data[i:i + chunk])
        list(dec.events())
    dec.close()
    list(dec.events())
    assert dec.counters.packets == 0  # random octets never make a whole, CRC-checked TC packet


def test_uplink_same_events_however_the_stream_is_chunked() -> None:
    enc = UplinkEncoder(UPLINK)
    stream = b"\x00\xeb" + b"".join(enc.encode(bytes(range(200)) * 7)) + b"\xeb\x90\x01" + enc.control(Unlock())
    stream = stream[:-3]  # cut the last CLTU's tail

    def run(chunks: list[bytes]) -> list[str]:
        # exceptions compare by identity, so events are compared by their repr (which includes the message)
        dec = UplinkDecoder(UPLINK)
        out: list[object] = []
        for ch in chunks:
            dec.feed(ch)
            out.extend(dec.events())
        dec.close()
        out.extend(dec.events())
        return [repr(e) for e in out]

    whole = run([stream])
    assert sum(e.startswith("TcPacketReceived(") for e in whole) == 1
    assert sum(e.startswith("TcFrameRejected(") for e in whole) >= 1
    assert run([bytes([b]) for b in stream]) == whole
    for cut in range(0, len(stream), 97):
        assert run([stream[:cut], stream[cut:]]) == whole


def test_uplink_frames_of_another_vc_are_rejected_not_mixed() -> None:
    mine = UplinkEncoder(UplinkConfig(scid=0x2A, vcid=1, map_id=0, max_frame_len=64))
    other = UplinkEncoder(UplinkConfig(scid=0x2A, vcid=2, map_id=0, max_frame_len=64))
    a = SpacePacket(apid=1, sequence_count=0, data=b"A" * 150).encode()
    b = SpacePacket(apid=2, sequence_count=0, data=b"B" * 150).encode()
    ca, cb = mine.encode(a), other.encode(b)
    interleaved = [x for pair in zip(ca, cb) for x in pair]
    packets, counters = decode_cltus(b"".join(interleaved), UplinkConfig(scid=0x2A, vcid=1, map_id=0))
    assert packets == [a]
    assert counters.wrong_vc == len(cb)


def test_downlink_decoder_takes_recordings_larger_than_the_sync_buffer(snpp: bytes) -> None:
    big = snpp * 140  # 9.3 MB, more than the synchroniser's 8 MiB bound, in one feed
    dec = DownlinkDecoder(DownlinkConfig.snpp())
    dec.feed(big)
    dec.close()
    packets = [e for e in dec.events() if isinstance(e, VcPacket)]
    assert dec.counters.cadus == 65 * 140
    assert len(packets) >= 12 * 140


def test_flywheel_tolerance_takes_an_asm_hit_by_an_error_burst() -> None:
    """A coded link's Viterbi decoder leaves bursts that hit the ASM too: once locked, the expected position
    may carry more ASM errors (asm_locked_max_bit_errors) than a search would accept; RS judges the frame."""
    from dataclasses import replace

    base = DownlinkConfig.cubesat(scid=0x2A, interleave=1)
    enc = DownlinkEncoder(base, {0: 0})
    cadus = bytearray(enc.cadus(3))
    cadus[base.cadu_len] ^= 0b11110000  # 6 wrong bits in the second CADU's ASM
    cadus[base.cadu_len + 1] ^= 0b00000011
    found = {}
    for locked in (None, 8):
        dec = DownlinkDecoder(replace(base, asm_max_bit_errors=2, asm_locked_max_bit_errors=locked))
        dec.feed(bytes(cadus))
        dec.close()
        list(dec.events())
        found[locked] = dec.counters.frames
    assert found == {None: 2, 8: 3}
