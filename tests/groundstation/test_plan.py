"""The contact plan (groundstation/plan.py) and ``ttc plan``: segments from the link budget, held to skyfield."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from click.testing import CliRunner

from groundstation.cli import main
from groundstation.contacts import DEFAULT_TLE_FILE
from groundstation.passes import GroundStation, HorizonMask, find_passes, load_stations, look_angles, parse_tles
from groundstation.plan import Contact, Segment, plan_contacts, predict_delivery

TLE = parse_tles(DEFAULT_TLE_FILE.read_text())[0]
ALMATY = load_stations(None)[0]
START = datetime(2024, 3, 20, 12, 0, tzinfo=timezone.utc)


def test_segments_follow_the_rate_table_by_elevation_and_stay_inside_the_passes() -> None:
    contacts = plan_contacts(TLE, [ALMATY], START, days=1.0)
    passes = find_passes([TLE], [ALMATY], START, days=1.0)
    assert len(contacts) == len(passes) == 4
    for c, p in zip(contacts, passes, strict=True):
        assert p.aos_utc <= c.aos_utc and c.los_utc <= p.los_utc
        segs = c.segments
        assert all(a.los_utc == b.aos_utc for a, b in zip(segs, segs[1:]))  # contiguous
        assert all(a.rate_bps != b.rate_bps for a, b in zip(segs, segs[1:]))  # maximal runs
        assert c.budget_octets == sum(s.duration_s * s.rate_bps // 8 for s in segs)
        for s in segs:  # every second of a segment: skyfield's elevation gives the segment's rate
            t = np.arange(s.duration_s) + 0.5
            el = look_angles(TLE, ALMATY, s.aos_utc, t).el_deg
            assert np.all(ALMATY.rate_bps(el) == s.rate_bps), (s, el.min(), el.max())
        # the second before a contact is below the first step of the table, or still behind the mask (AOS)
        before = look_angles(TLE, ALMATY, c.aos_utc, np.array([-0.5])).el_deg
        assert ALMATY.rate_bps(before)[0] == 0.0 or c.aos_utc - p.aos_utc < timedelta(seconds=1)
    high = contacts[0]  # the 57 deg pass climbs through every step of Almaty's table and down again
    assert [s.rate_bps for s in high.segments] == [9600.0, 19200.0, 38400.0, 19200.0, 9600.0]


def test_a_network_merges_overlapping_passes_at_the_best_rate() -> None:
    fast = GroundStation("Fast", 43.825, 87.617, 800.0, horizon=HorizonMask.constant(5.0), rate_el_deg=(5.0,),
                         downlink_bps=(64000.0,))
    slow = GroundStation("Slow", 18.25, 109.5, 20.0, horizon=HorizonMask.constant(5.0))  # 9600 from 0 deg
    start = datetime(2024, 3, 20, 15, 0, tzinfo=timezone.utc)
    contacts = plan_contacts(TLE, [slow, fast], start, days=0.05)
    first = contacts[0]
    assert first.stations == ("Slow", "Fast")
    fast_pass = next(p for p in find_passes([TLE], [fast], start, days=0.05))
    during = [s for s in first.segments if s.aos_utc < fast_pass.los_utc and s.los_utc > fast_pass.aos_utc]
    assert any(s.station == "Fast" and s.rate_bps == 64000.0 for s in during)
    assert all(s.station_index == (1 if s.station == "Fast" else 0) for s in first.segments)


def test_command_arguments_are_on_board_tai_seconds() -> None:
    s = Segment("Almaty", 0, datetime(2024, 3, 20, 16, 52, 6, tzinfo=timezone.utc),
                datetime(2024, 3, 20, 16, 53, 18, tzinfo=timezone.utc), 9600.0)
    args = s.command_args()
    # TAI = UTC + 37 s in 2024; 1958-01-01 to 2024-03-20T16:52:06 is 24185 days and 60726 s
    assert args == {"AOS": 24185 * 86400 + 60726 + 37, "DURATION": 72, "RATE_BPS": 9600, "STATION": 0}


def _contact(start: datetime, seconds: int, rate: float) -> Contact:
    return Contact((Segment("A", 0, start, start + timedelta(seconds=seconds), rate),))


def test_delivery_drains_the_most_urgent_vc_first_and_spills_to_later_contacts() -> None:
    t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    contacts = [_contact(t, 100, 8000.0), _contact(t + timedelta(hours=2), 100, 8000.0)]  # 100 kB each
    priorities = {0: 1, 1: 0, 2: 4}
    d = predict_delivery(contacts, {2: 150_000, 1: 20_000, 0: 10_000, 3: 0}, priorities)
    assert d.per_contact[0] == {1: 20_000, 0: 10_000, 2: 70_000}
    assert d.per_contact[1] == {2: 80_000}
    assert d.done_in == {1: 0, 0: 0, 2: 1} and d.left_octets == {}
    short = predict_delivery(contacts[:1], {2: 150_000}, priorities, packet_fraction=0.5)
    assert short.per_contact == ({2: 50_000},) and short.done_in == {2: None} and short.left_octets == {2: 100_000}


def test_ttc_plan_table_json_and_backlog() -> None:
    runner = CliRunner()
    table = runner.invoke(main, ["plan", "--start", "2024-03-20T12:00Z", "--backlog", "2=3000000",
                                 "--backlog", "1=2000"])
    assert table.exit_code == 0, table.output
    assert "4 contacts (UTC)" in table.output and "9.6 19.2 38.4 19.2 9.6" in table.output
    assert "VC 1: all down by contact 0" in table.output
    doc = json.loads(runner.invoke(main, ["plan", "--start", "2024-03-20T12:00Z", "--format", "json",
                                          "--backlog", "2=1000000"]).output)
    left = 3_000_000 + 2000 - sum(c["packet_octets"] for c in doc["contacts"])
    assert f"VC 2: {left:,} octets still on board after the last contact of this plan" in table.output
    assert len(doc["contacts"]) == 4 and doc["packet_fraction"] == pytest.approx(882 / 1024, abs=1e-6)
    c0 = doc["contacts"][0]
    assert c0["budget_octets"] == sum(s["budget_octets"] for s in c0["segments"])
    assert c0["packet_octets"] == int(c0["budget_octets"] * 882 / 1024)
    assert doc["delivery"]["done_in_contact"] == {"2": 1}
    bad = runner.invoke(main, ["plan", "--backlog", "two=3"])
    assert bad.exit_code == 2 and "VC=OCTETS" in bad.output


def test_targets_are_tied_to_the_contact_that_sees_them_and_the_adcs_elevation_matches_the_off_nadir() -> None:
    from groundstation.plan import min_elevation_deg, plan_targets

    almaty_target = GroundStation("Almaty", 43.222, 76.851, 800.0)
    contacts = plan_contacts(TLE, [ALMATY], START, days=1.0)
    (tp,) = plan_targets(TLE, [almaty_target], contacts, [ALMATY], START, days=1.0, max_off_nadir_deg=30.0)
    w = tp.flown
    assert tp.same_contact and tp.contact_of[0] == 2 and w.stations_in_view == ("Almaty",)
    assert contacts[2].aos_utc <= w.best_utc <= contacts[2].los_utc
    # at the window's edges the satellite is 30 deg off nadir: skyfield's elevation from the target there is
    # the MIN_ELEVATION the ADCS is given, to the spherical-Earth model's accuracy
    el_min = min_elevation_deg(TLE, 30.0)
    edges = look_angles(TLE, almaty_target, w.start_utc, np.array([0.0, (w.end_utc - w.start_utc).total_seconds()]))
    assert np.all(np.abs(edges.el_deg - el_min) < 1.0), (edges.el_deg, el_min)
    out = CliRunner().invoke(main, ["plan", "--start", "2024-03-20T12:00Z", "--target", "43.222,76.851,Almaty"])
    assert "target Almaty: first window 03-21 05:56:49-05:57:55 UTC, 19.6 deg off nadir, in contact 2" in out.output
