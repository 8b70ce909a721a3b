"""Bulk packet decoding into numpy columns: real captures, ccsdspy peer, agreement with the splitter."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import construct as c
import numpy as np
import pytest
from ccsdspy import FixedLength, PacketArray, PacketField
from hypothesis import given, settings, strategies as st

from protocol.crc import crc16
from protocol.errors import ProtocolError, RemoteProtocolError, TruncatedError
from protocol.packetarray import decode_fixed, index_packets
from protocol.spacepacket import SpacePacket, split_packets

CYGNSS = "CYGNSS_F7_L0_2022_086_10_15_V01_F__first101pkts.tlm"
CYGNSS_TRUTH = {  # SOURCES.txt: APID -> (packets, octets, md5 of the APID's packets in file order)
    384: (4, 1040, "96caae63cf94d9b104ae7ee958ec264d"),
    386: (4, 416, "c2e990973136321fa572a706a0fc8987"),
    391: (1, 1680, "fdb6227b165742f67d8a75f2a91b898b"),
    392: (4, 672, "51c67643fca4acc94e095fab278a17fc"),
    393: (40, 5600, "2d6267c80a9b0bc1ecd2ce38b34d2af0"),
    394: (39, 2964, "ad7cbd543e9375fb16bc0cbe873bc121"),
    1313: (9, 2448, "58407349c28bfa6a385da1b8392b9fb0"),
}

# Europa Clipper magnetometer packet data field (ccsdspy regression test layout), 1502 octets.
EuropaBody = c.Struct(
    "sclk_s" / c.Int32ub,
    "sclk_subsec" / c.Int16ub,
    "accountability_id" / c.Int32ub,
    "samples" / c.Array(160 * 3, c.Int24sb),  # per sample: CH3, CH2, CH1
    "hk" / c.Array(16, c.Int24sb),
    "register_80" / c.Int16ub,
    "pec" / c.Int16ub,
)


def test_cygnss_real_file_per_apid_counts_and_md5(real_dir: Path) -> None:
    data = (real_dir / CYGNSS).read_bytes()
    index = index_packets(data)
    assert len(index) == 101 and index.truncated_offset is None
    assert index.apids() == {apid: n for apid, (n, _, _) in CYGNSS_TRUTH.items()}
    assert set(index.header["version"]) == {0}
    assert set(index.header["packet_type"]) == {0}
    assert set(index.header["sec_header_flag"]) == {1}
    assert set(index.header["sequence_flags"]) == {3}
    for apid, (count, octets, md5) in CYGNSS_TRUTH.items():
        blob = b"".join(index.packet(int(i)) for i in index.select(apid))
        assert len(blob) == octets
        assert hashlib.md5(blob).hexdigest() == md5, apid
    # the tolerant stream splitter agrees packet for packet
    events = split_packets(data)
    assert all(isinstance(e, SpacePacket) for e in events)
    assert [e.encode() for e in events] == [index.packet(i) for i in range(len(index))]


def test_europa_clipper_real_file(real_dir: Path) -> None:
    data = (real_dir / "europa_clipper_apid01227.tlm").read_bytes()
    cols = decode_fixed(data, EuropaBody)
    assert len(cols) == 22
    assert set(cols.header["apid"]) == {1227}
    assert np.all(cols["accountability_id"] == 400)
    # FGx_CH1 of sample 134 is the third channel of that sample
    assert np.all(cols["samples"][:, 134 * 3 + 2] == -88)
    for k in range(22):
        packet = data[k * 1508:(k + 1) * 1508]
        assert crc16(packet) == 0, k
        assert crc16(packet[:-2]) == int(cols["pec"][k])


def test_peer_ccsdspy_loads_our_fixed_file() -> None:
    body = c.Struct("t" / c.Int32ub, "temp" / c.Int16sb, "volts" / c.Float32b, "flags" / c.Int8ub,
                    "trio" / c.Array(3, c.Int16ub))
    rng = np.random.default_rng(7)
    values = [dict(t=int(rng.integers(0, 2**32)), temp=int(rng.integers(-2**15, 2**15)),
                   volts=float(np.float32(rng.normal())), flags=int(rng.integers(0, 256)),
                   trio=[int(x) for x in rng.integers(0, 2**16, 3)]) for _ in range(200)]
    blob = b"".join(SpacePacket(apid=0x123, sequence_count=i, data=body.build(v)).encode()
                    for i, v in enumerate(values))
    ours = decode_fixed(blob, body)
    peer = FixedLength([
        PacketField("t", "uint", 32), PacketField("temp", "int", 16), PacketField("volts", "float", 32),
        PacketField("flags", "uint", 8), PacketArray("trio", "uint", 16, array_shape=3),
    ]).load(io.BytesIO(blob), include_primary_header=True)
    assert np.array_equal(peer["CCSDS_APID"], ours.header["apid"])
    assert np.array_equal(peer["CCSDS_SEQUENCE_COUNT"], ours.header["sequence_count"])
    assert np.array_equal(peer["CCSDS_PACKET_LENGTH"], ours.header["data_length"])
    for name in ("t", "temp", "volts", "flags"):
        assert np.array_equal(peer[name], ours[name]), name
    assert np.array_equal(np.stack(peer["trio"]), ours["trio"])
    assert [int(x) for x in ours["t"][:3]] == [v["t"] for v in values[:3]]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 0x7FE), st.binary(min_size=1, max_size=200)), min_size=1, max_size=30),
       st.integers(0, 6))
def test_index_agrees_with_splitter(specs: list[tuple[int, bytes]], cut: int) -> None:
    pkts = [SpacePacket(apid=a, sequence_count=i, data=d) for i, (a, d) in enumerate(specs)]
    blob = b"".join(p.encode() for p in pkts)
    index = index_packets(blob)
    assert [index.packet(i) for i in range(len(index))] == [p.encode() for p in pkts]
    assert np.array_equal(index.header["apid"], [p.apid for p in pkts])
    short = blob[:len(blob) - cut] if cut else blob
    if cut:
        idx2 = index_packets(short)
        assert len(idx2) == len(pkts) - 1
        assert idx2.truncated_offset == len(blob) - len(pkts[-1])


def test_fields_of_one_apid_in_a_mixed_file() -> None:
    body = c.Struct("a" / c.Int16ub, "b" / c.Int8sb)
    pkts = []
    for i in range(50):
        apid = 10 if i % 3 else 11
        pkts.append(SpacePacket(apid=apid, sequence_count=i, data=body.build(dict(a=i * 3, b=-i)) + bytes(i % 5)))
    index = index_packets(b"".join(p.encode() for p in pkts))
    cols = index.fields(10, body)
    expected = [i for i in range(50) if i % 3]
    assert list(cols["a"]) == [i * 3 for i in expected]
    assert list(cols["b"]) == [-i for i in expected]
    assert list(cols.header["sequence_count"]) == expected


def test_bad_files_raise_protocol_errors_with_offsets() -> None:
    good = SpacePacket(apid=1, sequence_count=0, data=bytes(10)).encode()
    with pytest.raises(TruncatedError) as e:
        decode_fixed(good * 3 + good[:5])
    assert e.value.offset == 48
    other = SpacePacket(apid=1, sequence_count=0, data=bytes(11)).encode()
    with pytest.raises(RemoteProtocolError) as e2:
        decode_fixed(good + other[:-1])
    assert e2.value.offset == 16 + 4 and e2.value.field == "packet data length"
    with pytest.raises(RemoteProtocolError, match="version") as e3:
        index_packets(good + bytes.fromhex("E0000000000000"))
    assert e3.value.offset == 16
    # a length field that runs past the end is a truncated tail, not an exception
    assert index_packets(good + b"\xff" * 16).truncated_offset == 16


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_bulk_decoders(data: bytes) -> None:
    for fn in (decode_fixed, index_packets):
        try:
            fn(data)
        except ProtocolError:
            pass
