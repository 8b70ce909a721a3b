"""The on-board software sans IO: CLTUs in, CADUs out, on-board time injected."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from protocol.clcw import Clcw
from protocol.tcframe import SetVr, Unlock
from protocol.mission import APID_EVENTS, APID_OBC, APID_PAYLOAD_BULK, MISSION
from protocol.pus import (
    AckFlags,
    FailureCode,
    InsertActivities,
    PusTc,
    ScheduledActivity,
    ScheduleRequestId,
)
from spacecraft.clock import cuc

from .harness import T0, boot, events, hk, of_kind

VC_REALTIME, VC_EVENTS, VC_PLAYBACK = (MISSION.vc_of(a) for a in (APID_OBC, APID_EVENTS, APID_PAYLOAD_BULK))


def test_ping_gets_every_requested_report_in_order() -> None:
    obc, g = boot(hk_interval_s=3600)
    g.drain()  # boot packets
    tc = g.send(g.tc("PING"), 1.0)
    tms = g.drain()
    assert [t.kind for t in tms] == [(1, 1), (17, 2), (1, 3), (1, 7)]  # one APID, one VC: in the order sent
    assert [t.vcid for t in tms] == [VC_REALTIME] * 4
    for t in tms[:1] + tms[2:]:
        assert t.body.request_id == tc.request_id
    assert all(float(t.decoded.tm.time.tai_s) == T0 + 1.0 for t in tms)  # CUC from the injected clock
    assert obc.dispatcher.counters.accepted == 1 and obc.dispatcher.counters.completed == 1


def test_ack_flags_select_success_reports() -> None:
    _obc, g = boot(hk_interval_s=3600)
    g.drain()
    g.send(g.tc("PING", ack=AckFlags.NONE), 1.0)
    assert [t.kind for t in g.drain()] == [(17, 2)]
    g.send(g.tc("PING", ack=AckFlags.ACCEPTANCE | AckFlags.COMPLETION), 2.0)
    assert [t.kind for t in g.drain()] == [(1, 1), (17, 2), (1, 7)]


def _failure(tms: list, subtype: int) -> FailureCode:
    reports = of_kind(tms, 1, subtype)
    assert len(reports) == 1, [t.kind for t in tms]
    return reports[0].body.failure.code


def test_bad_crc_is_rejected_with_acceptance_failure_and_event() -> None:
    obc, g = boot(hk_interval_s=3600)
    g.drain()
    packet = bytearray(g.tc("PING").encode())
    packet[-1] ^= 0xFF
    g.send(bytes(packet), 1.0)
    tms = g.drain()
    assert _failure(tms, 2) == FailureCode.BAD_CHECKSUM
    assert of_kind(tms, 1, 2)[0].body.request_id.sequence_count == g.seq
    assert events(tms) == ["TC_REJECTED"]
    assert not of_kind(tms, 17, 2)
    assert obc.dispatcher.counters.rejected == 1


def test_unknown_service_subtype_apid_and_bad_arguments() -> None:
    obc, g = boot(hk_interval_s=3600)
    g.drain()
    cases = [
        (PusTc(apid=0x10, service=42, subtype=1, sequence_count=1), FailureCode.ILLEGAL_SERVICE),
        (PusTc(apid=0x10, service=17, subtype=9, sequence_count=2), FailureCode.ILLEGAL_SUBTYPE),
        (PusTc(apid=0x7E, service=17, subtype=1, sequence_count=3), FailureCode.ILLEGAL_APID),
        # SET_HK_INTERVAL with an interval of 0 s (the dictionary allows 1..3600): built around the validation
        (PusTc(apid=0x10, service=3, subtype=31, sequence_count=4,
               app_data=MISSION.command("SET_HK_INTERVAL").layout.build({"SID": 1, "INTERVAL": 0})),
         FailureCode.ARGUMENT_OUT_OF_RANGE),
        (PusTc(apid=0x10, service=3, subtype=31, sequence_count=5, app_data=b"\x00\x01\x00"),
         FailureCode.ILLEGAL_APP_DATA),
        (PusTc(apid=0x10, service=20, subtype=1, sequence_count=6, app_data=b"\x00\x01\x0f\x0f"),
         FailureCode.UNKNOWN_PARAMETER),
        (PusTc(apid=0x10, service=5, subtype=6, sequence_count=7, app_data=b"\x00\x01\x7f\x7f"),
         FailureCode.ARGUMENT_OUT_OF_RANGE),
        (PusTc(apid=0x10, service=11, subtype=4, sequence_count=8, app_data=b"\x00\x01\x00"),
         FailureCode.ILLEGAL_APP_DATA),
    ]
    for tc, code in cases:
        g.send(tc, 1.0)
        tms = g.drain()
        assert _failure(tms, 2) == code, tc
        assert of_kind(tms, 1, 2)[0].body.request_id == tc.request_id
    assert obc.dispatcher.counters.rejected == len(cases)
    assert obc.dispatcher.counters.accepted == 0


def test_imager_capture_needs_power_and_reports_progress() -> None:
    _obc, g = boot(hk_interval_s=3600)
    g.drain()
    g.send(g.tc("IMAGER_CAPTURE", EXPOSURE=20), 1.0)
    tms = g.drain()
    assert [t.kind for t in tms] == [(1, 1), (1, 4)]
    assert _failure(tms, 4) == FailureCode.WRONG_MODE
    g.send(g.tc("PAYLOAD_POWER", STATE="ON"), 2.0)
    tms = g.drain()
    assert events(tms) == ["PAYLOAD_POWER_CHANGED"] and of_kind(tms, 1, 7)
    g.send(g.tc("IMAGER_CAPTURE", EXPOSURE=20), 3.0)
    tms = g.drain()
    assert [t.body.step_id for t in of_kind(tms, 1, 5)] == [1, 2]  # taken and analysed, then stored
    assert of_kind(tms, 1, 7)
    parts = [t for t in tms if t.decoded.tm.service == 13]
    kinds = [t.kind[1] for t in parts]
    assert kinds[0] == 1 and kinds[-1] == 3 and set(kinds[1:-1]) == {2}  # first, intermediate, last part
    assert {t.vcid for t in parts} == {VC_PLAYBACK}


def test_priority_alerts_then_realtime_then_events_then_chips_then_playback() -> None:
    _obc, g = boot(hk_interval_s=3600)
    g.drain()
    g.send(g.tc("PAYLOAD_POWER", STATE="ON"), 1.0)
    g.send(g.tc("IMAGER_CAPTURE", EXPOSURE=20), 1.0)
    g.send(g.tc("REPORT_HK", SID="POWER"), 1.0)
    tms = g.drain()
    order = [MISSION.link.downlink.priorities[t.vcid] for t in tms]
    assert set(order) == {0, 1, 2, 3, 4}, order  # every VC had something waiting
    first = {p: order.index(p) for p in set(order)}
    last = {p: len(order) - 1 - order[::-1].index(p) for p in set(order)}
    # everything waiting at once: each VC's first packet in priority order, and every alert, real-time
    # packet and event before the first image part (the aged frames of protocol.vchannel only ever let
    # playback in after 16 frames of waiting)
    assert [first[p] for p in range(5)] == sorted(first[p] for p in range(5))
    assert max(last[0], last[1], last[2]) < first[4]


def test_housekeeping_interval_enable_disable() -> None:
    obc, g = boot(hk_interval_s=10)
    obc.advance(T0 + 30)
    tms = g.drain()
    times = [float(t.decoded.tm.time.tai_s) - T0 for t in tms if t.decoded.name == "HK_THERMAL"]
    assert times == [0, 10, 20, 30]
    g.send(g.tc("SET_HK_INTERVAL", SID="THERMAL", INTERVAL=2), 31.0)
    g.send(g.tc("DISABLE_HK", SID="POWER"), 31.0)
    obc.advance(T0 + 37)
    tms = g.drain()
    assert [float(t.decoded.tm.time.tai_s) - T0 for t in tms if t.decoded.name == "HK_THERMAL"] == [33, 35, 37]
    assert not hk(tms, "HK_POWER")
    g.send(g.tc("ENABLE_HK", SID="POWER"), 38.0)
    assert len(hk(g.drain(), "HK_POWER")) == 1  # at once on enable


def test_heater_setpoint_set_report_and_housekeeping() -> None:
    obc, g = boot(hk_interval_s=3600)
    g.drain()
    g.send(g.tc("SET_HEATER_SETPOINT", VALUE=25), 1.0)
    g.send(g.tc("REPORT_PARAMETER", PARAMETER_ID="HEATER_SETPOINT"), 1.0)
    g.send(g.tc("REPORT_HK", SID="THERMAL"), 1.0)
    tms = g.drain()
    (report,) = [t for t in tms if t.decoded.name == "PARAMETER_REPORT"]
    assert [(p.name, p.engineering) for p in report.decoded.parameters] == [("HEATER_SETPOINT", 25.0)]
    assert hk(tms, "HK_THERMAL")[0]["HEATER_SETPOINT"] == 25.0
    obc.advance(T0 + 3000)  # the battery is held near the new set point by the heater
    g.send(g.tc("REPORT_HK", SID="THERMAL"), 3000.0)
    thermal = hk(g.drain(), "HK_THERMAL")[-1]
    assert 22.0 < thermal["BATTERY_TEMP"] < 28.0


def test_time_reports_at_once_then_periodic() -> None:
    obc, g = boot(hk_interval_s=3600)
    g.drain()
    g.send(g.tc("SET_TIME_REPORT_RATE", RATE_EXPONENT=2), 5.0)
    obc.advance(T0 + 13.5)
    reports = of_kind(g.drain(), 9, 2)
    assert [float(t.body.time.tai_s) - T0 for t in reports] == [5, 9, 13]
    assert {t.body.rate_exponent for t in reports} == {2}


def _insert(g, release_s: float, tc: PusTc) -> PusTc:
    body = InsertActivities((ScheduledActivity(cuc(T0 + release_s), tc),))
    g.seq += 1
    return PusTc.from_body(body, apid=0x10, sequence_count=g.seq)


def test_time_tagged_command_fires_at_its_time() -> None:
    obc, g = boot(hk_interval_s=3600)
    g.drain()
    ping = g.tc("PING")
    g.send(_insert(g, 20.0, ping), 1.0)
    g.send(g.tc("REPORT_SCHEDULE"), 2.0)
    tms = g.drain()
    (summary,) = of_kind(tms, 11, 13)
    assert [(float(e.release_time.tai_s) - T0, e.request_id) for e in summary.body.entries] == [
        (20.0, ScheduleRequestId.of(ping))]
    obc.advance(T0 + 19.5)
    assert not of_kind(g.drain(), 17, 2)
    obc.advance(T0 + 20.0)
    tms = g.drain()
    assert events(tms) == ["SCHEDULED_TC_RELEASED"]
    (pong,) = of_kind(tms, 17, 2)
    assert float(pong.decoded.tm.time.tai_s) == T0 + 20.0
    assert [t.body.request_id for t in of_kind(tms, 1, 7)] == [ping.request_id]


def test_schedule_delete_past_release_and_disable() -> None:
    obc, g = boot(hk_interval_s=3600)
    g.drain()
    ping = g.tc("PING")
    g.send(_insert(g, 0.5, g.tc("PING")), 1.0)  # release time already past
    assert _failure(g.drain(), 4) == FailureCode.ILLEGAL_APP_DATA
    g.send(_insert(g, 50.0, ping), 1.0)
    g.send(g.tc("DELETE_SCHEDULED_TC", APID=0x10, SEQUENCE_COUNT=ping.sequence_count), 2.0)
    g.send(g.tc("DELETE_SCHEDULED_TC", APID=0x10, SEQUENCE_COUNT=ping.sequence_count), 3.0)
    tms = g.drain()
    assert len(of_kind(tms, 1, 7)) == 2 and _failure(tms, 4) == FailureCode.ILLEGAL_APP_DATA
    g.send(_insert(g, 60.0, ping), 4.0)
    g.send(g.tc("DISABLE_SCHEDULE"), 5.0)
    obc.advance(T0 + 70)
    assert not of_kind(g.drain(), 17, 2)
    g.send(g.tc("ENABLE_SCHEDULE"), 71.0)
    assert of_kind(g.drain(), 17, 2)  # released (late) once enabled again


def test_event_disable_and_adcs_mode() -> None:
    _obc, g = boot(hk_interval_s=3600)
    g.drain()
    g.send(g.tc("DISABLE_EVENT", EVENT_ID=0x0010), 1.0)
    g.send(g.tc("ADCS_SET_MODE", MODE="NADIR"), 2.0)
    g.send(g.tc("REPORT_HK", SID="OBC"), 2.0)
    tms = g.drain()
    assert "ADCS_MODE_CHANGED" not in events(tms)
    assert hk(tms, "HK_OBC")[0]["ADCS_MODE"] == "NADIR"
    g.send(g.tc("ENABLE_EVENT", EVENT_ID=0x0010), 3.0)
    g.send(g.tc("ADCS_SET_MODE", MODE="SUN_POINTING"), 4.0)
    tms = g.drain()
    (ev,) = [t for t in tms if t.decoded.event is not None]
    assert ev.decoded.event.name == "ADCS_MODE_CHANGED" and ev.decoded.event_data == bytes([2, 1])


def test_orbit_brings_eclipse_events_and_battery_low() -> None:
    obc, g = boot(hk_interval_s=600, seed=3)
    obc.advance(T0 + 2 * 95 * 60)
    names = events(g.drain())
    assert names.count("ECLIPSE_ENTRY") in (1, 2) and names.count("ECLIPSE_EXIT") in (1, 2)
    assert "BATTERY_LOW" not in names
    obc.power.soc_pct = 40.0  # a tired battery, for the test
    g.send(g.tc("SET_BATTERY_LOW_THRESHOLD", VALUE=45), 2 * 95 * 60 + 1.0)
    obc.advance(T0 + 2 * 95 * 60 + 2.0)
    (ev,) = [t for t in g.drain() if t.decoded.event is not None]
    assert ev.decoded.event.name == "BATTERY_LOW" and ev.decoded.event_data[0] < 45


def test_power_follows_sunlight() -> None:
    obc, g = boot(hk_interval_s=60, seed=1)
    obc.advance(T0 + 95 * 60)
    power = hk(g.drain(), "HK_POWER")
    sunlit = [p for p in power if p["IN_ECLIPSE"] == "NO"]
    dark = [p for p in power if p["IN_ECLIPSE"] == "YES"]
    assert 25 <= len(dark) <= 45 and sunlit
    assert all(p["SOLAR_POWER"] == 0 and p["BATTERY_CURRENT"] < 0 for p in dark)
    assert max(p["SOLAR_POWER"] for p in sunlit) > 15


def test_clcw_reports_accepted_frames() -> None:
    """The OCF carries FARM-1's CLCW: BD frames count in the FARM-B counter (232.1-B-2 §6.1.6), not V(R)."""
    _obc, g = boot(hk_interval_s=3600)
    g.drain()
    for i in range(3):
        g.send(g.tc("PING"), 1.0 + i)
    g.drain()
    word = g.frame_of(g.cadus[-1]).ocf
    assert Clcw.from_int(word) == Clcw(vcid=0, report_value=0, farm_b_counter=3)


def _clcw(g) -> Clcw:
    g.drain()
    return Clcw.from_int(g.frame_of(g.obc.next_cadu()).ocf)


def _pings_completed(tms) -> int:
    return len(of_kind(tms, 1, 7))


def test_farm1_runs_ad_frames_once_in_order_and_reports_in_the_clcw(tmp_path: Path) -> None:
    """232.1-B-2 §6 on board: AD frames in sequence run, a repeat or a frame ahead is discarded (ahead sets
    Retransmit), one far off locks FARM-1 out until an Unlock; V(R) survives a reboot (farm.json)."""
    obc, g = boot(tmp_path, hk_interval_s=3600)
    g.drain()
    for _ in range(3):
        g.send_ad(g.tc("PING"), 1.0)
    assert _pings_completed(g.drain()) == 3 and _clcw(g) == Clcw(vcid=0, report_value=3)
    g.send_ad(g.tc("PING"), 2.0, n_s=1)  # a repeat of frame 1: discarded (E4), not run again
    assert _pings_completed(g.drain()) == 0 and _clcw(g) == Clcw(vcid=0, report_value=3)
    g.send_ad(g.tc("PING"), 3.0, n_s=5)  # frame 3 and 4 were lost: discarded, Retransmit (E3)
    assert _pings_completed(g.drain()) == 0 and _clcw(g) == Clcw(vcid=0, report_value=3, retransmit=True)
    g.send_ad(g.tc("PING"), 4.0, n_s=3)  # the expected one: accepted, Retransmit cleared (E1)
    assert _pings_completed(g.drain()) == 1 and _clcw(g) == Clcw(vcid=0, report_value=4)
    g.send_ad(g.tc("PING"), 5.0, n_s=200)  # the lockout area (E5)
    g.send_ad(g.tc("PING"), 5.5, n_s=4)  # in sequence, but locked out
    assert _pings_completed(g.drain()) == 0 and _clcw(g) == Clcw(vcid=0, report_value=4, lockout=True)
    g.send(g.tc("PING"), 6.0)  # BD frames bypass FARM-1 even in lockout (E6)
    assert _pings_completed(g.drain()) == 1 and _clcw(g).farm_b_counter == 1
    obc.shutdown()
    obc, g = boot(tmp_path, hk_interval_s=3600)  # a reboot keeps V(R) and the lockout
    assert _clcw(g) == Clcw(vcid=0, report_value=4, lockout=True, farm_b_counter=1)
    for cltu in (g.uplink.control(Unlock()), g.uplink.control(SetVr(9))):  # E7 then E8
        obc.receive_uplink(cltu, T0 + 7.0)
    assert _clcw(g) == Clcw(vcid=0, report_value=9, farm_b_counter=3)
    g.send_ad(g.tc("PING"), 8.0, n_s=9)
    assert _pings_completed(g.drain()) == 1
    assert obc.counters()["farm"]["events"] == {"E1": 1, "E7": 1, "E8": 1}  # counted since this boot


def test_same_seed_same_inputs_same_downlink() -> None:
    streams = []
    for _ in range(2):
        obc, g = boot(hk_interval_s=5, seed=11)
        g.send(g.tc("PAYLOAD_POWER", STATE="ON"), 1.0)
        g.send(g.tc("IMAGER_CAPTURE", EXPOSURE=30), 2.0)
        obc.advance(T0 + 60)
        g.drain()
        streams.append(b"".join(g.cadus))
    assert streams[0] == streams[1]


def test_one_apid_one_vc_one_continuous_sequence() -> None:
    obc, g = boot(hk_interval_s=1)
    g.send(g.tc("PAYLOAD_POWER", STATE="ON"), 0.2)
    g.send(g.tc("IMAGER_CAPTURE", EXPOSURE=20), 0.3)
    for i in range(20):
        g.send(g.tc("PING"), i + 0.5)
    g.send(dataclasses.replace(g.tc("PING"), apid=0x7AB), 21.0)  # rejected: a TC_REJECTED event and a TM[1,2]
    obc.advance(T0 + 25)
    counts: dict[int, list[int]] = {}
    vcs: dict[int, set[int]] = {}
    for t in g.drain():
        counts.setdefault(t.decoded.tm.apid, []).append(t.decoded.tm.sequence_count)
        vcs.setdefault(t.decoded.tm.apid, set()).add(t.vcid)
    assert {APID_OBC, APID_EVENTS, APID_PAYLOAD_BULK} <= set(counts)
    for apid, seen in counts.items():  # every APID on its VC only, so its count arrives without a gap
        assert vcs[apid] == {MISSION.vc_of(apid)}
        assert seen == list(range(len(seen))), hex(apid)


def test_reboot_restores_parameters_and_counts(tmp_path: Path) -> None:
    obc, g = boot(tmp_path, hk_interval_s=3600)
    g.send(g.tc("SET_HEATER_SETPOINT", VALUE=-1.5), 1.0)
    g.drain()
    obc.shutdown()
    _obc2, g2 = boot(tmp_path, hk_interval_s=3600)
    tms = g2.drain()
    assert hk(tms, "HK_OBC")[0]["REBOOT_COUNT"] == 2
    assert hk(tms, "HK_THERMAL")[0]["HEATER_SETPOINT"] == -1.5
    boot_event = [t for t in tms if t.decoded.event is not None and t.decoded.event.name == "BOOT"]
    assert boot_event[0].decoded.event_data == (2).to_bytes(2, "big")
    assert [(v.name, v.raw) for v in boot_event[0].decoded.event_values] == [("REBOOT_COUNT", 2)]
