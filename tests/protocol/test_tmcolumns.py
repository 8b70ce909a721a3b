"""Telemetry decoded as columns equals the per-packet decoder, value for value, for every parameter of every
packet; what does not fit a fixed layout is handed back, never dropped or decoded twice."""

from __future__ import annotations

import math
import struct
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from protocol.crc import crc16
from protocol.mission import MISSION
from protocol.packetarray import index_packets
from protocol.pus import PusTm
from protocol.timecode import CucTime
from protocol.tmcolumns import TelemetryColumns, crc16_rows

COLUMNS = TelemetryColumns(MISSION)
FIXED = [d for d in {id(d): d for d in MISSION.telemetry.values()}.values() if not d.tail]
WITH_TAIL = [d for d in {id(d): d for d in MISSION.telemetry.values()}.values() if d.tail]


def _raw_value(ptype: str) -> st.SearchStrategy:
    if ptype == "f32":
        return st.floats(width=32, allow_nan=True, allow_infinity=True)
    if ptype == "f64":
        return st.floats(allow_nan=True, allow_infinity=True)
    bits = int(ptype[1:])
    lo, hi = (0, (1 << bits) - 1) if ptype[0] == "u" else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    return st.integers(lo, hi)


@st.composite
def _packet(draw: st.DrawFn, seq: int) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["fixed"] * 6 + ["tail", "event", "junk"]))
    t = CucTime(coarse_s_raw=draw(st.integers(2_000_000_000, 2_100_000_000)), fine_raw=draw(st.integers(0, 0xFFFF)))
    if kind == "fixed":
        decl = draw(st.sampled_from(FIXED))
        raw = {p.name: draw(_raw_value(p.type)) for p in decl.parameters}
        sub = draw(st.sampled_from(decl.subtypes))
        return kind, PusTm(apid=decl.apid, service=decl.service, subtype=sub, time=t,
                           source_data=decl.encode(raw), sequence_count=seq).encode()
    if kind == "tail":
        decl = draw(st.sampled_from(WITH_TAIL))
        raw = {p.name: draw(_raw_value(p.type)) for p in decl.parameters}
        return kind, PusTm(apid=decl.apid, service=decl.service, subtype=decl.subtypes[0], time=t,
                           source_data=decl.encode(raw, tail=draw(st.binary(max_size=40))), sequence_count=seq).encode()
    if kind == "event":
        return kind, PusTm(apid=MISSION.event_apid or 0x10, service=5, subtype=1, time=t,
                     source_data=struct.pack(">H", draw(st.integers(0, 0xFFFF))) + draw(st.binary(max_size=8)),
                     sequence_count=seq).encode()
    return kind, PusTm(apid=draw(st.integers(0, 0x7FE)), service=draw(st.integers(0, 255)),
                 subtype=draw(st.integers(0, 255)), time=t, source_data=draw(st.binary(max_size=30)),
                 sequence_count=seq).encode()


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def _check_against_per_packet(packets: list[bytes]) -> tuple[int, int]:
    idx = index_packets(b"".join(packets))
    out = COLUMNS.decode(idx.data, idx.offsets, idx.lengths)
    decoded = set()
    for table in out.tables.values():
        for j, i in enumerate(table.index.tolist()):
            ref = MISSION.decode_tm(packets[i])
            assert ref.name == table.name and i not in decoded
            decoded.add(i)
            assert table.apid[j] == ref.tm.apid and table.sequence_count[j] == ref.tm.sequence_count
            assert table.subtype[j] == ref.tm.subtype and table.service[j] == ref.tm.service
            assert abs(table.obt_tai_s[j] - float(ref.tm.time.tai_s)) < 1e-6
            when = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=int(table.obt_unix_us[j]))
            assert when.strftime("%Y-%m-%dT%H:%M:%S.%fZ") == ref.tm.time.utc_iso()  # exact, to the microsecond
            for s in ref.parameters:
                col = table.parameters[s.name]
                assert _same(col.raw[j].item(), s.raw), (s.name, col.raw[j], s.raw)
                eng = col.engineering[j]
                assert _same(eng.item() if hasattr(eng, "item") else eng, s.engineering), (s.name, eng, s.engineering)
                assert col.level[j] == int(s.level) and col.unit == s.unit
    assert decoded.isdisjoint(out.fallback.tolist())
    assert sorted(decoded | set(out.fallback.tolist())) == list(range(len(packets)))  # each packet once
    return len(decoded), len(out.fallback)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_columns_equal_the_per_packet_decoder(data: st.DataObject) -> None:
    drawn = [data.draw(_packet(i)) for i in range(data.draw(st.integers(1, 40)))]
    packets = [p for _, p in drawn]
    columns, rest = _check_against_per_packet(packets)
    # every fixed-layout packet is decoded as columns (junk may match a layout by chance: only more)
    assert columns >= sum(kind == "fixed" for kind, _ in drawn) and columns + rest == len(packets)


def test_what_goes_to_the_per_packet_path_and_why() -> None:
    hk = next(d for d in FIXED if d.name == "HK_POWER")
    t = CucTime(coarse_s_raw=2_000_000_000, fine_raw=0)
    good = PusTm(apid=hk.apid, service=3, subtype=25, time=t, source_data=hk.encode(
        {"BATTERY_VOLTAGE": 7400, "BATTERY_CURRENT": -12, "BATTERY_SOC": 90, "SOLAR_POWER": 1000, "IN_ECLIPSE": 1,
         "PAYLOAD_POWERED": 0}), sequence_count=1).encode()
    bad_pec = bytearray(good)
    bad_pec[-1] ^= 1
    longer = PusTm(apid=hk.apid, service=3, subtype=25, time=t, source_data=hk.encode(
        {p.name: 0 for p in hk.parameters}) + b"\x00", sequence_count=2).encode()
    packets = [good, bytes(bad_pec), longer, good]
    idx = index_packets(b"".join(packets))
    out = COLUMNS.decode(idx.data, idx.offsets, idx.lengths)
    assert out.tables["HK_POWER"].index.tolist() == [0, 3]
    assert out.fallback.tolist() == [1, 2] and out.pec_errors == 1
    col = out.tables["HK_POWER"].parameters["BATTERY_VOLTAGE"]
    assert col.engineering[0] == pytest.approx(7.4) and col.unit == "V"
    assert out.tables["HK_POWER"].parameters["IN_ECLIPSE"].engineering.tolist() == ["YES", "YES"]


def test_non_pus_real_packets_all_go_to_the_per_packet_path(real_dir) -> None:  # noqa: ANN001
    data = (real_dir / "CYGNSS_F7_L0_2022_086_10_15_V01_F__first101pkts.tlm").read_bytes()
    idx = index_packets(data)
    out = COLUMNS.decode(idx.data, idx.offsets, idx.lengths)
    assert out.decoded == 0 and out.fallback.size == 101


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=60), min_size=1, max_size=20))
def test_vectorised_crc_equals_the_stack_crc(rows: list[bytes]) -> None:
    width = max(len(r) for r in rows)
    same = [r.ljust(width, b"\x00") for r in rows]
    arr = np.frombuffer(b"".join(same), dtype=np.uint8).reshape(len(same), width)
    assert crc16_rows(arr).tolist() == [crc16(r) for r in same]
