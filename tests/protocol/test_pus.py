"""PUS-C packets and service bodies: golden PEC, round trips, spacepackets interop, fuzz."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import pus
from protocol.crc import crc16
from protocol.errors import ChecksumError, LocalProtocolError, ProtocolError, RemoteProtocolError, TruncatedError
from protocol.pus import (
    AckFlags,
    BodyOptions,
    FailureCode,
    FailureNotice,
    MessageType,
    ParameterValue,
    PusTc,
    PusTm,
    RequestId,
    ScheduledActivity,
    ScheduleRequestId,
    ScheduleSummaryEntry,
    SuperCommutatedGroup,
    body_class,
    decode_body,
    registered_types,
)
from protocol.spacepacket import PacketType, SequenceFlags, SpacePacket
from protocol.timecode import CdsConfig, CdsSubMs, CdsTime, CucConfig, CucTime

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors" / "crc16.json"
PING = bytes.fromhex("1802C03400062F11010000")

# ---------------------------------------------------------------------------
# golden vectors


def test_ping_pec_golden() -> None:
    vectors = json.loads(VECTORS.read_text())["vectors"]
    vec = next(v for v in vectors if v.get("in_hex", "").upper() == PING.hex().upper())
    assert crc16(PING) == int(vec["crc"], 16) == 0xEE63
    tc = PusTc(apid=2, service=17, subtype=1, sequence_count=52)
    assert tc.encode() == PING + b"\xEE\x63"
    got = PusTc.decode(PING + b"\xEE\x63")
    assert got == tc and got.ack_flags == AckFlags.ALL
    assert decode_body(got) == pus.AreYouAlive()


def test_spacepackets_docstring_ping() -> None:
    # the ping TC in spacepackets' PusTc docstring: apid 1, seq 22
    raw = bytes.fromhex("1801c01600062f11010000ab62")
    assert PusTc(apid=1, service=17, subtype=1, sequence_count=22).encode() == raw


def test_tm_layout_by_hand() -> None:
    tm = PusTm(apid=0x123, service=3, subtype=25, time=CucTime(0x01020304, 0x0506), source_data=b"\x00\x07\xAB",
               sequence_count=5, message_type_counter=0x0809, destination_id=0x0A0B, time_reference_status=0xC)
    raw = tm.encode()
    body = bytes.fromhex("2C 03 19 0809 0A0B 01020304 0506 0007AB")
    hdr = bytes.fromhex("0923 C005") + (len(body) + 2 - 1).to_bytes(2, "big")
    assert raw == hdr + body + crc16(hdr + body).to_bytes(2, "big")
    assert decode_body(PusTm.decode(raw)) == pus.HkParameterReport(7, b"\xAB")


def test_request_id_matches_primary_header() -> None:
    tc = PusTc(apid=0x22, service=8, subtype=1, sequence_count=17, app_data=b"\x00\x01")
    assert tc.request_id.encode() == tc.encode()[:4]
    assert tc.request_id.encode() == bytes.fromhex("1822c011")


# ---------------------------------------------------------------------------
# decoder errors


def test_pec_mismatch_is_a_checksum_error() -> None:
    bad = bytearray(PING + b"\xEE\x63")
    bad[8] ^= 0x01
    with pytest.raises(ChecksumError) as e:
        PusTc.decode(bytes(bad), offset=1000)
    assert e.value.offset == 1000 + len(bad) - 2
    assert e.value.received == 0xEE63


def _repec(raw: bytes) -> bytes:
    return raw[:-2] + crc16(raw[:-2]).to_bytes(2, "big")


def test_header_errors() -> None:
    good = PING + b"\xEE\x63"
    with pytest.raises(RemoteProtocolError, match="packet type"):
        PusTm.decode(good)
    no_sh = bytearray(good)
    no_sh[0] &= ~0x08
    with pytest.raises(RemoteProtocolError, match="secondary header flag"):
        PusTc.decode(_repec(bytes(no_sh)))
    pus_a = bytearray(good)
    pus_a[6] = 0x1F
    with pytest.raises(RemoteProtocolError, match="PUS version"):
        PusTc.decode(_repec(bytes(pus_a)))
    short = SpacePacket(apid=2, sequence_count=0, data=b"\x2f\x11\x01", packet_type=PacketType.TC,
                        sec_header_flag=True).encode()
    with pytest.raises(RemoteProtocolError, match="data field length"):
        PusTc.decode(short)
    with pytest.raises(TruncatedError):
        PusTc.decode(good[:-1])
    with pytest.raises(RemoteProtocolError, match="trailing"):
        PusTc.decode(good + b"\x00")
    tm = PusTm(apid=1, service=17, subtype=2, time=CucTime(1, 2)).encode()
    with pytest.raises(TruncatedError, match="T-field"):  # a 7-octet CDS field does not fit before the PEC
        PusTm.decode(tm, time_config=CdsConfig(submillisecond=CdsSubMs.MICROSECONDS))


def test_unknown_message_type() -> None:
    tc = PusTc(apid=1, service=200, subtype=1)
    with pytest.raises(RemoteProtocolError, match=r"TC\[200,1\]"):
        decode_body(tc)
    with pytest.raises(RemoteProtocolError):
        body_class(PacketType.TM, 17, 1)  # 17,1 is a TC
    assert tc.message_type is None
    assert PusTc(apid=1, service=17, subtype=1).message_type is MessageType.ARE_YOU_ALIVE


def test_encoder_errors() -> None:
    with pytest.raises(LocalProtocolError):
        PusTc(apid=0x800, service=1, subtype=1)
    with pytest.raises(LocalProtocolError):
        PusTc(apid=1, service=256, subtype=1)
    with pytest.raises(LocalProtocolError):
        PusTc(apid=1, service=1, subtype=1, app_data=bytes(65536 - 6)).encode()
    with pytest.raises(LocalProtocolError):
        PusTm(apid=1, service=1, subtype=1, time=b"\x00")  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        pus.EnablePeriodicHk((70000,)).encode()
    with pytest.raises(LocalProtocolError):
        PusTc.from_body(pus.AreYouAliveReport(), apid=1)
    with pytest.raises(LocalProtocolError):
        FailureNotice(0xFFFF)  # type: ignore[arg-type]


def test_unknown_failure_code_rejected() -> None:
    raw = RequestId(apid=1, sequence_count=2).encode() + b"\xFF\xFF"
    with pytest.raises(RemoteProtocolError, match="failure code") as e:
        pus.AcceptanceFailure.decode(raw, offset=19)
    assert e.value.offset == 23


# ---------------------------------------------------------------------------
# round trips

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
small_bytes = st.binary(max_size=24)
id_tuples = st.lists(u16, max_size=8).map(tuple)
request_ids = st.builds(RequestId, apid=st.integers(0, 0x7FF), sequence_count=st.integers(0, 0x3FFF),
                        packet_type=st.sampled_from(list(PacketType)), sec_header_flag=st.booleans(),
                        sequence_flags=st.sampled_from(list(SequenceFlags)), version=st.integers(0, 7))
failures = st.builds(FailureNotice, st.sampled_from(list(FailureCode)), small_bytes)
tcs = st.builds(PusTc, apid=st.integers(0, 0x7FF), service=u8, subtype=u8, app_data=small_bytes,
                sequence_count=st.integers(0, 0x3FFF), ack_flags=st.integers(0, 15).map(AckFlags), source_id=u16,
                sequence_flags=st.sampled_from(list(SequenceFlags)))
cuc_release = st.builds(CucTime, u32, u16)
schedule_ids = st.builds(ScheduleRequestId, source_id=u16, apid=u16, sequence_count=u16)
OPTIONS = BodyOptions(parameter_octets={1: 1, 2: 2, 3: 8}, default_parameter_octets=4)


@st.composite
def parameter_values(draw: st.DrawFn) -> tuple[ParameterValue, ...]:
    pids = draw(st.lists(st.sampled_from([1, 2, 3, 4, 500, 0xFFFF]), max_size=6))
    return tuple(ParameterValue(p, draw(st.binary(min_size=OPTIONS.value_octets(p), max_size=OPTIONS.value_octets(p))))
                 for p in pids)


BODY_STRATEGIES: dict[type, st.SearchStrategy] = {
    pus.AcceptanceSuccess: st.builds(pus.AcceptanceSuccess, request_ids),
    pus.AcceptanceFailure: st.builds(pus.AcceptanceFailure, request_ids, failures),
    pus.StartSuccess: st.builds(pus.StartSuccess, request_ids),
    pus.StartFailure: st.builds(pus.StartFailure, request_ids, failures),
    pus.ProgressSuccess: st.builds(pus.ProgressSuccess, request_ids, u16),
    pus.ProgressFailure: st.builds(pus.ProgressFailure, request_ids, u16, failures),
    pus.CompletionSuccess: st.builds(pus.CompletionSuccess, request_ids),
    pus.CompletionFailure: st.builds(pus.CompletionFailure, request_ids, failures),
    pus.CreateHkStructure: st.builds(pus.CreateHkStructure, u16, u32, id_tuples,
                                     st.lists(st.builds(SuperCommutatedGroup, u16, id_tuples), max_size=3).map(tuple)),
    pus.CreateDiagnosticStructure: st.builds(pus.CreateDiagnosticStructure, u16, u32, id_tuples),
    pus.EnablePeriodicHk: st.builds(pus.EnablePeriodicHk, id_tuples),
    pus.DisablePeriodicHk: st.builds(pus.DisablePeriodicHk, id_tuples),
    pus.GenerateOneShotHk: st.builds(pus.GenerateOneShotHk, id_tuples),
    pus.ModifyHkCollectionInterval: st.builds(pus.ModifyHkCollectionInterval,
                                              st.lists(st.tuples(u16, u32), max_size=5).map(tuple)),
    pus.HkParameterReport: st.builds(pus.HkParameterReport, u16, small_bytes),
    pus.InformativeEvent: st.builds(pus.InformativeEvent, u16, small_bytes),
    pus.LowSeverityEvent: st.builds(pus.LowSeverityEvent, u16, small_bytes),
    pus.MediumSeverityEvent: st.builds(pus.MediumSeverityEvent, u16, small_bytes),
    pus.HighSeverityEvent: st.builds(pus.HighSeverityEvent, u16, small_bytes),
    pus.EnableEventReports: st.builds(pus.EnableEventReports, id_tuples),
    pus.DisableEventReports: st.builds(pus.DisableEventReports, id_tuples),
    pus.PerformFunction: st.builds(pus.PerformFunction, u16, small_bytes),
    pus.SetTimeReportRate: st.builds(pus.SetTimeReportRate, u8),
    pus.CucTimeReport: st.builds(pus.CucTimeReport, u8, st.builds(CucTime, u32, u16)),
    pus.CdsTimeReport: st.builds(pus.CdsTimeReport, u8, st.builds(CdsTime, u16, st.integers(0, 86_400_999))),
    pus.EnableSchedule: st.just(pus.EnableSchedule()),
    pus.DisableSchedule: st.just(pus.DisableSchedule()),
    pus.ResetSchedule: st.just(pus.ResetSchedule()),
    pus.InsertActivities: st.builds(pus.InsertActivities,
                                    st.lists(st.builds(ScheduledActivity, cuc_release, tcs), max_size=3).map(tuple)),
    pus.DeleteActivitiesById: st.builds(pus.DeleteActivitiesById, st.lists(schedule_ids, max_size=5).map(tuple)),
    pus.ScheduleSummaryReport: st.builds(pus.ScheduleSummaryReport, st.lists(
        st.builds(ScheduleSummaryEntry, cuc_release, schedule_ids), max_size=5).map(tuple)),
    pus.SummaryReportAll: st.just(pus.SummaryReportAll()),
    pus.FirstDownlinkPartReport: st.builds(pus.FirstDownlinkPartReport, u16, u16, small_bytes),
    pus.IntermediateDownlinkPartReport: st.builds(pus.IntermediateDownlinkPartReport, u16, u16, small_bytes),
    pus.LastDownlinkPartReport: st.builds(pus.LastDownlinkPartReport, u16, u16, small_bytes),
    pus.StoreAcknowledge: st.builds(pus.StoreAcknowledge, st.lists(st.builds(pus.StoreAck, u16, u16),
                                                                   max_size=5).map(tuple)),
    pus.StoreRetransmit: st.builds(pus.StoreRetransmit, st.lists(st.builds(pus.StoreRange, u16, u16, u16),
                                                                 max_size=5).map(tuple)),
    pus.StoreUnavailableReport: st.builds(pus.StoreUnavailableReport, st.lists(
        st.builds(pus.StoreRange, u16, u16, u16), max_size=5).map(tuple)),
    pus.StoreStatusReport: st.builds(pus.StoreStatusReport, u32, u32, u32, st.lists(
        st.builds(pus.StoreApplicationStatus, u16, u16, u16, u32), max_size=5).map(tuple)),
    pus.ReportStoreStatus: st.just(pus.ReportStoreStatus()),
    pus.AreYouAlive: st.just(pus.AreYouAlive()),
    pus.AreYouAliveReport: st.just(pus.AreYouAliveReport()),
    pus.ReportParameterValues: st.builds(pus.ReportParameterValues, id_tuples),
    pus.ParameterValueReport: st.builds(pus.ParameterValueReport, parameter_values()),
    pus.SetParameterValues: st.builds(pus.SetParameterValues, parameter_values()),
}


def test_every_registered_type_has_a_strategy() -> None:
    assert set(registered_types().values()) == set(BODY_STRATEGIES)
    assert set(registered_types()) == set(MessageType)


@FAST
@given(st.one_of(*BODY_STRATEGIES.values()), st.integers(0, 0x7FF), st.integers(0, 0x3FFF))
def test_body_round_trip_through_packets(body: pus.Body, apid: int, seq: int) -> None:
    raw_body = body.encode()
    assert type(body).decode(raw_body, options=OPTIONS) == body
    if body.KEY.packet_type is PacketType.TC:
        msg: PusTc | PusTm = PusTc.from_body(body, apid=apid, sequence_count=seq)
        back: PusTc | PusTm = PusTc.decode(msg.encode())
    else:
        msg = PusTm.from_body(body, apid=apid, time=CucTime(seq, apid), sequence_count=seq)
        back = PusTm.decode(msg.encode())
    assert back == msg
    assert back.message_type is body.KEY
    assert decode_body(back, options=OPTIONS) == body


@FAST
@given(tcs)
def test_tc_round_trip(tc: PusTc) -> None:
    raw = tc.encode()
    assert PusTc.decode(raw) == tc
    assert PusTc.from_packet(SpacePacket.decode(raw)) == tc
    assert tc.to_packet().sec_header_flag and tc.to_packet().packet_type is PacketType.TC


TIME_CONFIGS = [CucConfig(), CucConfig(coarse_octets=4, fine_octets=3, p_field=True), CdsConfig(p_field=True),
                CdsConfig(submillisecond=CdsSubMs.MICROSECONDS)]


@st.composite
def tms(draw: st.DrawFn) -> PusTm:
    cfg = draw(st.sampled_from(TIME_CONFIGS))
    if isinstance(cfg, CucConfig):
        t: CucTime | CdsTime = CucTime(draw(u32), draw(st.integers(0, (1 << (8 * cfg.fine_octets)) - 1)), cfg)
    else:
        t = CdsTime(draw(u16), draw(st.integers(0, 86_400_999)),
                    draw(st.integers(0, cfg.submillisecond.per_ms - 1)), cfg)
    return PusTm(apid=draw(st.integers(0, 0x7FF)), service=draw(u8), subtype=draw(u8), time=t,
                 source_data=draw(small_bytes), sequence_count=draw(st.integers(0, 0x3FFF)),
                 message_type_counter=draw(u16), destination_id=draw(u16), time_reference_status=draw(st.integers(0, 15)),
                 sequence_flags=draw(st.sampled_from(list(SequenceFlags))))


@FAST
@given(tms())
def test_tm_round_trip(tm: PusTm) -> None:
    raw = tm.encode()
    assert PusTm.decode(raw, time_config=tm.time.config) == tm


@FAST
@given(request_ids)
def test_request_id_round_trip(rid: RequestId) -> None:
    body = pus.StartSuccess(rid)
    assert pus.StartSuccess.decode(body.encode()).request_id == rid
    assert len(rid.encode()) == 4


def test_parameter_widths_come_from_options() -> None:
    body = pus.SetParameterValues((ParameterValue(1, b"\x01"), ParameterValue(9, b"\x00\x00\x00\x02")))
    raw = body.encode()
    assert raw == bytes.fromhex("0002 0001 01 0009 00000002")
    assert pus.SetParameterValues.decode(raw, options=OPTIONS) == body
    with pytest.raises(RemoteProtocolError):  # with every value 4 octets wide the entries no longer fit
        pus.SetParameterValues.decode(raw)


def test_insert_activities_embedded_tc_pec_checked() -> None:
    tc = PusTc(apid=5, service=8, subtype=1, app_data=b"\x00\x01")
    body = pus.InsertActivities((ScheduledActivity(CucTime(100, 0), tc),)).encode()
    bad = bytearray(body)
    bad[-3] ^= 0x40
    with pytest.raises(ChecksumError) as e:
        pus.InsertActivities.decode(bytes(bad), offset=11)
    assert e.value.offset == 11 + len(body) - 2


def test_time_report_with_mission_epoch() -> None:
    from datetime import datetime

    cfg = CucConfig(epoch=datetime(2000, 1, 1))
    body = pus.CucTimeReport(3, CucTime(12345, 6, cfg))
    raw = body.encode()
    assert raw[1] == 0x2E  # P-field: agency epoch, 4+2
    got = pus.CucTimeReport.decode(raw, options=BodyOptions(time_config=cfg))
    assert got.rate_exponent == 3 and got.time.elapsed_s == body.time.elapsed_s
    with pytest.raises(RemoteProtocolError, match="time code ID"):
        pus.CucTimeReport.decode(raw)


# ---------------------------------------------------------------------------
# PEER: spacepackets builds -> we decode; we build -> spacepackets decodes

sp_ecss = pytest.importorskip("spacepackets.ecss")
from spacepackets.ccsds.time import CdsShortTimestamp  # noqa: E402
from spacepackets.ecss import pus_1_verification as sp1  # noqa: E402
from spacepackets.ecss import pus_3_hk as sp3  # noqa: E402
from spacepackets.ecss import pus_5_event as sp5  # noqa: E402
from spacepackets.ecss import pus_17_test as sp17  # noqa: E402
from spacepackets.ecss.tm import ManagedParams, MiscParams  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning, module="spacepackets")


@FAST
@given(tcs)
def test_spacepackets_tc_interop(tc: PusTc) -> None:
    theirs = sp_ecss.PusTc(service=tc.service, message_subtype=tc.subtype, apid=tc.apid, app_data=tc.app_data,
                           seq_count=tc.sequence_count, source_id=tc.source_id, ack_flags=int(tc.ack_flags))
    theirs.sp_header.seq_flags = tc.sequence_flags
    raw = bytes(theirs.pack())
    assert raw == tc.encode()
    ours = PusTc.decode(raw)
    assert ours == tc
    back = sp_ecss.PusTc.unpack(tc.encode())
    assert (back.apid, back.seq_count, back.service, back.message_subtype, bytes(back.app_data)) == (
        tc.apid, tc.sequence_count, tc.service, tc.subtype, tc.app_data)
    assert (back.pus_tc_sec_header.source_id, back.pus_tc_sec_header.ack_flags) == (tc.source_id, int(tc.ack_flags))


@FAST
@given(st.integers(0, 0x7FF), u8, u8, small_bytes, st.integers(0, 0x3FFF), u16, u16, st.integers(0, 15), u16,
       st.integers(0, 86_399_999))
def test_spacepackets_tm_interop(apid: int, service: int, subtype: int, data: bytes, seq: int, counter: int,
                                 dest: int, status: int, day: int, ms: int) -> None:
    stamp = CdsShortTimestamp(ccsds_days=day, ms_of_day=ms)
    theirs = sp_ecss.PusTm(service=service, message_subtype=subtype, timestamp=stamp.pack(), source_data=data,
                           apid=apid, seq_count=seq, message_counter=counter, destination_id=dest,
                           misc_params=MiscParams(spacecraft_time_ref=status))
    raw = bytes(theirs.pack())
    ours = PusTm.decode(raw, time_config=CdsConfig(p_field=True))
    assert (ours.apid, ours.service, ours.subtype, ours.source_data, ours.sequence_count, ours.message_type_counter,
            ours.destination_id, ours.time_reference_status) == (apid, service, subtype, data, seq, counter, dest, status)
    assert (ours.time.day_raw, ours.time.ms_of_day_raw) == (day, ms)  # type: ignore[union-attr]
    assert ours.encode() == raw
    # ours with the default CUC 4+2 time, read by spacepackets with a 6-octet timestamp
    mine = PusTm(apid=apid, service=service, subtype=subtype, time=CucTime(day * ms % (1 << 32), counter),
                 source_data=data, sequence_count=seq, message_type_counter=counter, destination_id=dest,
                 time_reference_status=status)
    back = sp_ecss.PusTm.unpack(mine.encode(), timestamp_len=6)
    assert (back.apid, back.service, back.message_subtype, bytes(back.source_data), back.seq_count) == (
        apid, service, subtype, data, seq)
    assert (back.pus_tm_sec_header.message_counter, back.pus_tm_sec_header.dest_id,
            back.pus_tm_sec_header.spacecraft_time_ref) == (counter, dest, status)
    assert bytes(back.timestamp) == mine.time.encode()


SP1_FACTORIES = {
    1: lambda tc, ts, step, fn: sp1.create_acceptance_success_tm(5, tc, ts),
    2: lambda tc, ts, step, fn: sp1.create_acceptance_failure_tm(5, tc, fn, ts),
    3: lambda tc, ts, step, fn: sp1.create_start_success_tm(5, tc, ts),
    4: lambda tc, ts, step, fn: sp1.create_start_failure_tm(5, tc, fn, ts),
    5: lambda tc, ts, step, fn: sp1.create_step_success_tm(5, tc, step, ts),
    6: lambda tc, ts, step, fn: sp1.create_step_failure_tm(5, tc, step, fn, ts),
    7: lambda tc, ts, step, fn: sp1.create_completion_success_tm(5, tc, ts),
    8: lambda tc, ts, step, fn: sp1.create_completion_failure_tm(5, tc, fn, ts),
}
SP1_PARAMS = sp1.ManagedParamsVerification(bytes_step_id=2, bytes_err_code=2)


@FAST
@given(st.integers(1, 8), st.integers(0, 0x7FF), st.integers(0, 0x3FFF), u16, st.sampled_from(list(FailureCode)),
       small_bytes)
def test_spacepackets_service1_interop(subtype: int, apid: int, seq: int, step: int, code: FailureCode,
                                       data: bytes) -> None:
    their_tc = sp_ecss.PusTc(service=8, message_subtype=1, apid=apid, seq_count=seq)
    stamp = CucTime(seq, step).encode()
    notice = sp1.FailureNotice(sp_ecss.PacketFieldU16(int(code)), data)
    theirs = SP1_FACTORIES[subtype](their_tc, stamp, sp_ecss.PacketFieldU16(step), notice)
    ours = decode_body(PusTm.decode(bytes(theirs.pack())))
    assert ours.KEY.subtype == subtype
    assert ours.request_id == PusTc.decode(bytes(their_tc.pack())).request_id  # type: ignore[attr-defined]
    if subtype in (5, 6):
        assert ours.step_id == step  # type: ignore[attr-defined]
    if subtype % 2 == 0:
        assert ours.failure == FailureNotice(code, data)  # type: ignore[attr-defined]
    # and back: ours, read by spacepackets
    mine = PusTm.from_body(ours, apid=5, time=CucTime(seq, step))
    back = sp1.Service1Tm.unpack(mine.encode(), ManagedParams(timestamp_len=6), SP1_PARAMS)
    assert back.message_subtype == subtype
    assert back.tc_req_id.as_u32() == int.from_bytes(ours.request_id.encode(), "big")  # type: ignore[attr-defined]
    if subtype in (5, 6):
        assert back.step_id.val == step
    if subtype % 2 == 0:
        assert (back.error_code.val, back.failure_notice.data) == (int(code), data)


def test_spacepackets_service17_interop() -> None:
    stamp = CucTime(1234, 5).encode()
    theirs = sp17.Service17Tm(apid=0x42, message_subtype=sp17.MessageSubtype.TM_REPLY, timestamp=stamp, ssc=9)
    ours = PusTm.decode(bytes(theirs.pack()))
    assert decode_body(ours) == pus.AreYouAliveReport()
    assert (ours.apid, ours.sequence_count, ours.time) == (0x42, 9, CucTime(1234, 5))
    mine = PusTm.from_body(pus.AreYouAliveReport(), apid=0x42, time=CucTime(1234, 5), sequence_count=9)
    assert mine.encode() == bytes(theirs.pack())
    back = sp17.Service17Tm.unpack(mine.encode(), timestamp_len=6)
    assert (back.service, back.message_subtype) == (17, 2)


def test_spacepackets_subtype_numbers_agree() -> None:
    assert sp1.MessageSubtype.TM_STEP_FAILURE == MessageType.PROGRESS_FAILURE.subtype
    assert sp3.MessageSubtype.TC_ENABLE_PERIODIC_HK_GEN == MessageType.ENABLE_PERIODIC_HK.subtype
    assert sp3.MessageSubtype.TC_DISABLE_PERIODIC_HK_GEN == MessageType.DISABLE_PERIODIC_HK.subtype
    assert sp3.MessageSubtype.TM_HK_REPORT == MessageType.HK_PARAMETER_REPORT.subtype
    assert sp3.MessageSubtype.TC_GENERATE_ONE_PARAMETER_REPORT == MessageType.GENERATE_ONE_SHOT_HK.subtype
    assert sp3.MessageSubtype.TC_MODIFY_PARAMETER_REPORT_COLLECTION_INTERVAL == \
        MessageType.MODIFY_HK_COLLECTION_INTERVAL.subtype
    for sev, mt in zip([1, 2, 3, 4], [MessageType.INFORMATIVE_EVENT, MessageType.LOW_SEVERITY_EVENT,
                                      MessageType.MEDIUM_SEVERITY_EVENT, MessageType.HIGH_SEVERITY_EVENT]):
        assert sp5.MessageSubtype(sev) == mt.subtype
    assert sp5.MessageSubtype.TC_ENABLE_EVENT_REPORTING == MessageType.ENABLE_EVENT_REPORTS.subtype


def test_spacepackets_builds_service_3_and_5_packets_we_decode() -> None:
    # spacepackets has subtype enums but no body classes for 3 and 5: it carries our body octets
    body = pus.EnablePeriodicHk((1, 2, 0x300))
    theirs = sp_ecss.PusTc(service=3, message_subtype=sp3.MessageSubtype.TC_ENABLE_PERIODIC_HK_GEN, apid=7,
                           app_data=body.encode())
    assert decode_body(PusTc.decode(bytes(theirs.pack()))) == body
    event = pus.HighSeverityEvent(0x1234, b"\x01\x02")
    tm = sp_ecss.PusTm(service=5, message_subtype=sp5.MessageSubtype.TM_HIGH_SEVERITY_EVENT,
                       timestamp=CdsShortTimestamp(100, 200).pack(), source_data=event.encode(), apid=7)
    assert decode_body(PusTm.decode(bytes(tm.pack()), time_config=CdsConfig(p_field=True))) == event


# ---------------------------------------------------------------------------
# fuzz: only ProtocolError subclasses escape

def _try(fn, *args, **kw):  # type: ignore[no-untyped-def]
    try:
        return fn(*args, **kw)
    except ProtocolError:
        return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_fuzz_packet_decoders_random(buf: bytes) -> None:
    for msg in (_try(PusTc.decode, buf), _try(PusTm.decode, buf),
                _try(PusTm.decode, buf, time_config=CdsConfig(p_field=True))):
        if msg is not None:
            _try(decode_body, msg, options=OPTIONS)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(registered_types(), key=lambda m: m.value)), st.binary(max_size=48))
def test_fuzz_body_decoders_random(key: MessageType, data: bytes) -> None:
    cls = registered_types()[key]
    body = _try(cls.decode, data, options=OPTIONS)
    if body is not None and key not in (MessageType.CUC_TIME_REPORT, MessageType.CDS_TIME_REPORT):
        assert body.encode() == data  # whatever decodes re-encodes to the same octets


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(*BODY_STRATEGIES.values()), st.integers(0, 10_000), st.integers(1, 255), st.integers(-3, 3),
       st.booleans())
def test_fuzz_mutated_packets(body: pus.Body, idx: int, xor: int, resize: int, fix_pec: bool) -> None:
    if body.KEY.packet_type is PacketType.TC:
        raw = PusTc.from_body(body, apid=3).encode()
    else:
        raw = PusTm.from_body(body, apid=3, time=CucTime(1, 2)).encode()
    buf = bytearray(raw)
    buf[idx % len(buf)] ^= xor
    if resize < 0:
        del buf[resize:]
    else:
        buf += bytes(resize)
    if fix_pec and len(buf) > 2:  # reach the body decoders past the PEC check
        buf[-2:] = crc16(bytes(buf[:-2])).to_bytes(2, "big")
    for decoder in (PusTc.decode, PusTm.decode):
        msg = _try(decoder, bytes(buf))
        if msg is not None:
            _try(decode_body, msg, options=OPTIONS)
