"""The ADCS on board, sans IO: ADCS commands through the OnboardComputer, HK_ADCS, ADCS events, gains via service 20."""

from __future__ import annotations

import dataclasses
import math
import struct
from pathlib import Path

import pytest

from protocol.mission import ADCS_MAX_TARGETS, APID_OBC, MISSION
from protocol.pus import FailureCode, PusTc
from spacecraft.adcs import ControlGains
from spacecraft.onboard import OnboardComputer
from spacecraft.services import PARAMETER_DEFAULTS

from .adcs_scenario import point_below
from .harness import T0, Ground, Tm, boot, events, hk, of_kind


def _adcs_boot(tmp: Path | None = None, **options: object) -> tuple[OnboardComputer, Ground]:
    obc, g = boot(tmp, adcs=True, hk_interval_s=5, **options)
    g.drain()  # boot packets
    return obc, g


def _target_args(obc: OnboardComputer, zenith_s: float, *, target_id: int = 7, **extra: object) -> dict[str, object]:
    """A target the spacecraft flies over ``zenith_s`` after boot (1 deg east of the track)."""
    lat, lon = point_below(obc.adcs.sim.orbit, zenith_s, cross_track_deg=1.0)
    return {"TARGET_ID": target_id, "LAT": lat, "LON": lon, "ALT": 0.0, **extra}


def _event_data(tms: list[Tm], name: str) -> list[bytes]:
    return [t.decoded.event_data for t in tms if t.decoded.event is not None and t.decoded.event.name == name]


def _failure(tms: list[Tm], subtype: int) -> FailureCode:
    (report,) = of_kind(tms, 1, subtype)
    return report.body.failure.code


def test_set_target_tracks_it_and_hk_adcs_shows_the_pointing_error() -> None:
    obc, g = _adcs_boot()
    g.send(g.tc("ADCS_SET_TARGET", **_target_args(obc, 60.0)), 1.0)
    tms = g.drain()
    assert [t.kind for t in of_kind(tms, 1, 7)] == [(1, 7)]  # completed
    assert _event_data(tms, "ADCS_MODE_CHANGED") == [bytes([0, 4])]  # DETUMBLE -> TARGET_TRACKING
    reports = []
    for at_s in range(5, 61, 5):
        obc.advance(T0 + at_s)
        tms += (new := g.drain())
        reports += hk(new, "HK_ADCS")
    first, last = reports[0], reports[-1]
    assert {r["ADCS_CONTROL_MODE"] for r in reports} == {"TARGET_TRACKING"}
    assert {r["ADCS_TARGET_ID"] for r in reports} == {7} and {r["ADCS_TARGET_COUNT"] for r in reports} == {1}
    assert {r["ADCS_IN_WINDOW"] for r in reports} == {"YES"}  # the target is in view from the start
    # a slew of tens of degrees, then tracking well inside the 0.01 deg soft limit
    assert first["ADCS_TARGET_ERROR"] > 1.0 and first["ADCS_TARGET_ERROR"] == first["ADCS_POINTING_ERROR"]
    assert max(r["ADCS_TARGET_ERROR"] for r in reports[-6:]) < 0.01
    settled = [t for t in tms if t.decoded.name == "HK_ADCS"][-1]
    levels = {s.name: s.level.name for s in settled.decoded.parameters}
    assert levels["ADCS_TARGET_ERROR"] == "NOMINAL" and levels["ADCS_ATTITUDE_SIGMA"] == "NOMINAL"
    q = [last[f"ADCS_Q{i}"] for i in range(4)]
    assert math.fsum(x * x for x in q) == pytest.approx(1.0, abs=1e-6)
    assert 1.0 < last["ADCS_ATTITUDE_SIGMA"] < 36.0  # MEKF on a ~10 arcsec star tracker
    assert all(abs(last[f"ADCS_RATE_{a}"]) < 1.5 for a in "XYZ")  # tracking needs < 0.9 deg/s
    assert any(last[f"ADCS_WHEEL_SPEED_{i}"] != 0 for i in range(1, 5))
    assert 0.0 < last["ADCS_WHEEL_MOMENTUM"] < 20.0
    assert last["ADCS_STAR_TRACKER"] == "VALID"
    # events: the window was open at once, and the boresight settled on the target
    names = events(tms)
    assert names.index("ADCS_WINDOW_OPEN") < names.index("ADCS_TARGET_ACQUIRED")
    assert _event_data(tms, "ADCS_TARGET_ACQUIRED") == [struct.pack(">H", 7)]
    assert "ADCS_TARGET_LOST" not in names
    g.send(g.tc("REPORT_HK", SID="OBC"), 61.0)
    assert hk(g.drain(), "HK_OBC")[0]["ADCS_MODE"] == "TARGET_TRACKING"


def test_the_window_closes_the_plan_completes_and_the_adcs_returns_to_nadir() -> None:
    obc, g = _adcs_boot()
    # zenith 200 s before boot: the pass is ending, the window closes within a minute
    g.send(g.tc("ADCS_SET_TARGET", **_target_args(obc, -200.0, target_id=300)), 1.0)
    obc.advance(T0 + 120)
    tms = g.drain()
    names = events(tms)
    for name in ("ADCS_WINDOW_OPEN", "ADCS_WINDOW_CLOSED", "ADCS_PLAN_COMPLETE"):
        assert name in names
    assert names.index("ADCS_WINDOW_CLOSED") < names.index("ADCS_PLAN_COMPLETE")
    assert _event_data(tms, "ADCS_WINDOW_CLOSED") == [struct.pack(">H", 300)]
    assert _event_data(tms, "ADCS_MODE_CHANGED")[-1] == bytes([4, 2])  # TARGET_TRACKING -> NADIR on its own
    last = hk(tms, "HK_ADCS")[-1]
    assert (last["ADCS_CONTROL_MODE"], last["ADCS_TARGET_ID"], last["ADCS_TARGET_COUNT"]) == ("NADIR", 0, 0)
    assert last["ADCS_IN_WINDOW"] == "NO" and last["ADCS_TARGET_ERROR"] == 0.0
    assert obc.adcs.targets == []  # imaged targets leave the list


def test_target_list_upload_tracking_and_clear() -> None:
    obc, g = _adcs_boot()
    g.send(g.tc("ADCS_SET_MODE", MODE="TARGET_TRACKING"), 1.0)  # nothing to track yet
    tms = g.drain()
    assert _failure(tms, 4) == FailureCode.WRONG_MODE and not of_kind(tms, 1, 7)
    g.send(g.tc("ADCS_SET_MODE", MODE="NADIR"), 1.0)
    for n in range(ADCS_MAX_TARGETS):
        g.send(g.tc("ADCS_ADD_TARGET", **_target_args(obc, 300.0 + 600 * n, target_id=10 + n)), 2.0)
    tms = g.drain()
    assert len(of_kind(tms, 1, 7)) == 1 + ADCS_MAX_TARGETS and len(obc.adcs.targets) == ADCS_MAX_TARGETS
    assert _event_data(tms, "ADCS_MODE_CHANGED") == [bytes([0, 2])]  # adding targets does not change the mode
    g.send(g.tc("ADCS_ADD_TARGET", **_target_args(obc, 9000.0, target_id=99)), 3.0)
    assert _failure(g.drain(), 4) == FailureCode.FUNCTION_FAILED  # list full
    assert [t.target_id for t in obc.adcs.targets] == list(range(10, 10 + ADCS_MAX_TARGETS))
    g.send(g.tc("ADCS_SET_MODE", MODE="TARGET_TRACKING"), 4.0)
    tms = g.drain()
    assert _event_data(tms, "ADCS_MODE_CHANGED") == [bytes([2, 4])]
    assert [p.target.name for p in obc.adcs.sim.plan][:2] == ["10", "11"]  # flown in list order
    g.send(g.tc("REPORT_HK", SID="ADCS"), 5.0)
    report = hk(g.drain(), "HK_ADCS")[0]
    assert (report["ADCS_CONTROL_MODE"], report["ADCS_TARGET_ID"]) == ("TARGET_TRACKING", 10)
    assert report["ADCS_TARGET_COUNT"] == ADCS_MAX_TARGETS
    g.send(g.tc("ADCS_CLEAR_TARGETS"), 6.0)
    tms = g.drain()
    assert of_kind(tms, 1, 7) and _event_data(tms, "ADCS_MODE_CHANGED") == [bytes([4, 2])]
    assert obc.adcs.targets == [] and obc.adcs.sim.mode.name == "NADIR"


def test_a_target_without_a_pass_fails_to_complete_and_the_adcs_points_at_nadir() -> None:
    obc, g = _adcs_boot()
    # near the pole, 60 deg above the horizon: a 97.4 deg orbit never climbs that high there
    g.send(g.tc("ADCS_SET_TARGET", TARGET_ID=5, LAT=89.9, LON=0.0, MIN_ELEVATION=60), 1.0)
    tms = g.drain()
    assert of_kind(tms, 1, 3) and _failure(tms, 8) == FailureCode.FUNCTION_FAILED  # started, not completed
    assert _event_data(tms, "ADCS_TARGET_UNREACHABLE") == [struct.pack(">H", 5)]
    obc.advance(T0 + 2)
    names = events(g.drain())
    assert "ADCS_PLAN_COMPLETE" in names and obc.adcs.sim.mode.name == "NADIR"
    assert obc.adcs.targets == []


def test_modes_are_flown_and_reported() -> None:
    obc, g = _adcs_boot()
    for name in ("SUN_POINTING", "INERTIAL", "DETUMBLE", "NADIR"):
        g.send(g.tc("ADCS_SET_MODE", MODE=name), 1.0)
        g.send(g.tc("REPORT_HK", SID="ADCS"), 1.0)
        report = hk(g.drain(), "HK_ADCS")[0]
        assert report["ADCS_CONTROL_MODE"] == name
    assert obc.adcs.sim.mode.name == "NADIR"
    obc.advance(T0 + 40)
    last = hk(g.drain(), "HK_ADCS")[-1]
    assert last["ADCS_POINTING_ERROR"] < 0.1 and last["ADCS_TARGET_ERROR"] == 0.0  # no target: no target error


def test_gains_are_service_20_parameters_checked_applied_and_kept(tmp_path: Path) -> None:
    assert {k: v for k, v in PARAMETER_DEFAULTS.items() if k.startswith("ADCS_")} == {
        "ADCS_ATTITUDE_GAIN": ControlGains.attitude_gain_rad_s, "ADCS_RATE_GAIN": ControlGains.rate_gain_per_s,
        "ADCS_INTEGRAL_GAIN": ControlGains.integral_gain_per_s2,
        "ADCS_MAX_SLEW_RATE": ControlGains.max_slew_rate_deg_s}
    obc, g = _adcs_boot(tmp_path)
    assert obc.adcs.sim.gains == ControlGains()
    g.send(g.tc("SET_ADCS_RATE_GAIN", VALUE=4.0), 1.0)
    g.send(g.tc("SET_ADCS_MAX_SLEW_RATE", VALUE=3.0), 1.0)
    assert len(of_kind(g.drain(), 1, 7)) == 2
    gains = obc.adcs.sim.gains
    assert (gains.rate_gain_per_s, gains.max_slew_rate_deg_s) == (4.0, 3.0)
    assert obc.adcs.sim.controller.gains is gains
    # an outer loop faster than half the inner one is refused at start, and nothing changes
    g.send(g.tc("SET_ADCS_ATTITUDE_GAIN", VALUE=2.5), 2.0)
    assert _failure(g.drain(), 4) == FailureCode.ARGUMENT_OUT_OF_RANGE
    assert obc.adcs.sim.gains == gains and obc.params.engineering("ADCS_ATTITUDE_GAIN") == 1.5
    # outside the dictionary's range (a ground that does not check): refused at acceptance
    g.send(PusTc(apid=APID_OBC, service=20, subtype=3, app_data=struct.pack(">HHf", 1, 0x0202, 99.0),
                 sequence_count=99), 2.0)
    assert _failure(g.drain(), 2) == FailureCode.ARGUMENT_OUT_OF_RANGE
    g.send(g.tc("REPORT_PARAMETER", PARAMETER_ID="ADCS_RATE_GAIN"), 3.0)
    (report,) = of_kind(g.drain(), 20, 2)
    assert [(s.name, s.engineering) for s in report.decoded.parameters] == [("ADCS_RATE_GAIN", 4.0)]
    obc.shutdown()
    again, _ = _adcs_boot(tmp_path)  # a reboot keeps the gains
    assert dataclasses.replace(again.adcs.sim.gains) == gains
    again.shutdown()


def test_without_the_simulation_modes_are_recorded_and_hk_adcs_is_refused() -> None:
    obc, g = boot(hk_interval_s=5)  # the sans-IO default: no attitude simulation
    g.drain()
    assert not obc.adcs.simulated
    obc.advance(T0 + 11)
    assert not hk(g.drain(), "HK_ADCS")  # not in periodic housekeeping
    g.send(g.tc("REPORT_HK", SID="ADCS"), 12.0)
    g.send(g.tc("ENABLE_HK", SID="ADCS"), 12.0)
    tms = g.drain()
    assert [t.body.failure.code for t in of_kind(tms, 1, 4)] == [FailureCode.WRONG_MODE] * 2
    g.send(g.tc("ADCS_SET_TARGET", TARGET_ID=1, LAT=43.24, LON=76.95, ALT=800), 13.0)
    g.send(g.tc("REPORT_HK", SID="OBC"), 13.0)
    tms = g.drain()
    assert of_kind(tms, 1, 7) and hk(tms, "HK_OBC")[0]["ADCS_MODE"] == "TARGET_TRACKING"


def test_a_clock_faster_than_the_cpu_makes_the_adcs_jump_not_lag() -> None:
    obc, g = _adcs_boot(adcs_max_steps=50)
    g.send(g.tc("ADCS_SET_MODE", MODE="NADIR"), 1.0)
    obc.advance(T0 + 600)  # one call: at most 50 control steps simulated, the rest jumped over
    c = obc.counters()["adcs"]
    assert c["jumps"] == 1 and c["skipped_s"] == pytest.approx(600 - 1 - 5, abs=0.2)  # commanded at 1 s
    assert c["steps"] <= 60 and obc.adcs.sim.t_s == pytest.approx(600.0)
    last = hk(g.drain(), "HK_ADCS")[-1]
    assert last["ADCS_CONTROL_MODE"] == "NADIR" and last["ADCS_POINTING_ERROR"] < 0.1


def test_hk_adcs_is_in_the_dictionary_as_the_spacecraft_fills_it() -> None:
    obc, _ = _adcs_boot()
    declared = {p.name for p in MISSION.housekeeping(4).parameters}
    assert set(obc.adcs.housekeeping()) == declared
