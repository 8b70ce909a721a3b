"""Pass prediction (groundstation/passes.py), held to skyfield's own computations, and ``ttc passes``."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from groundstation.cli import main
from groundstation.contacts import DEFAULT_TLE_FILE
from groundstation.passes import (
    GroundStation,
    HorizonMask,
    StationConfigError,
    Tle,
    TleError,
    default_stations,
    doppler_hz,
    find_passes,
    find_target_windows,
    load_stations,
    look_angles,
    parse_tles,
    tle_checksum_ok,
)

REFERENCE = parse_tles(DEFAULT_TLE_FILE.read_text())[0]
WRONG_SUM_LINE1 = REFERENCE.line1[:68] + str((int(REFERENCE.line1[68]) + 1) % 10)
START = datetime(2024, 3, 20, 12, 0, tzinfo=timezone.utc)
ALMATY = GroundStation("Almaty", 43.2220, 76.8512, 800.0, horizon=HorizonMask.constant(5.0))


def with_checksum(line: str) -> str:
    body = line[:68]
    return body + str(sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in body) % 10)


def variant(raan_deg: float, *, name: str, mean_anomaly_deg: float = 270.0) -> Tle:
    """The reference orbit in another plane / phase (checksums recomputed)."""
    l2 = REFERENCE.line2
    l2 = l2[:17] + f"{raan_deg % 360:8.4f}" + l2[25:43] + f"{mean_anomaly_deg % 360:8.4f}" + l2[51:]
    return Tle(name, REFERENCE.line1, with_checksum(l2))


def skyfield_events(tle: Tle, station: GroundStation, start: datetime, days: float, el_deg: float):
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale(builtin=True)
    sat = EarthSatellite(tle.line1, tle.line2, tle.name, ts)
    topos = wgs84.latlon(station.lat_deg, station.lon_deg, elevation_m=station.alt_m)
    t, ev = sat.find_events(topos, ts.from_datetime(start), ts.from_datetime(start + timedelta(days=days)),
                            altitude_degrees=el_deg)
    return [(ti.utc_datetime(), int(e)) for ti, e in zip(t, ev, strict=True)]


# ------------------------------------------------------------------ TLEs
def test_tle_parsing_checksums_and_epoch() -> None:
    assert tle_checksum_ok(REFERENCE.line1) and tle_checksum_ok(REFERENCE.line2)
    assert REFERENCE.norad_id == 99901 and REFERENCE.name == "TTC-1"
    assert REFERENCE.epoch_utc == datetime(2024, 3, 20, 12, 0, tzinfo=timezone.utc)  # 24080.5: day 80, noon
    assert REFERENCE.age_days(START + timedelta(days=3)) == pytest.approx(3.0)
    two_line = parse_tles(f"{REFERENCE.line1}\n{REFERENCE.line2}\n")
    assert two_line[0].name == "NORAD 99901" and two_line[0].line2 == REFERENCE.line2
    several = parse_tles(f"0 A\n{REFERENCE.line1}\n{REFERENCE.line2}\n\n{variant(10, name='B').line1}\n"
                         f"{variant(10, name='B').line2}\n")
    assert [t.name for t in several] == ["A", "NORAD 99901"]


@pytest.mark.parametrize("text, message", [
    (lambda: f"X\n{WRONG_SUM_LINE1}\n{REFERENCE.line2}", "line 2: checksum"),
    (lambda: f"X\n{REFERENCE.line1}\n{REFERENCE.line2[:60]}", "line 3: 60 columns"),
    (lambda: f"X\n{REFERENCE.line1}", "not followed by line 2"),
    (lambda: f"{REFERENCE.line1}\n" + with_checksum("2 99902" + REFERENCE.line2[7:]), "catalogue number"),
    (lambda: "", "no element set"),
    (lambda: "just a name", "not followed by line 1"),
], ids=["checksum", "short", "no-line-2", "catalogue", "empty", "name-only"])
def test_bad_tles_are_refused_naming_the_line(text, message: str) -> None:
    with pytest.raises(TleError, match=message):
        parse_tles(text(), source="t.tle")


# ------------------------------------------------------------------ stations
def test_default_station_file_and_mask() -> None:
    (almaty,) = default_stations()
    assert almaty.name == "Almaty" and almaty.rotator is not None and almaty.radio is not None
    assert almaty.rotator.port == 4533 and almaty.radio.port == 4532
    mask = almaty.horizon
    assert mask.min_el_deg(180.0) == pytest.approx(12.0)  # the mountains to the south
    assert mask.min_el_deg(165.0) == pytest.approx(11.0)  # linear between points
    assert mask.min_el_deg(315.0) == pytest.approx(4.0)  # periodic: between 270 (5) and 360 = 0 (3)
    assert almaty.rate_bps(3.0) == 0.0 and almaty.rate_bps(5.0) == 9600.0 and almaty.rate_bps(50.0) == 38400.0


@pytest.mark.parametrize("body, message", [
    ('name = "X"\nlat_deg = 95\nlon_deg = 0', "lat_deg 95"),
    ('name = "X"\nlon_deg = 0', "lat_deg missing"),
    ('name = "X"\nlat_deg = 1\nlon_deg = 0\ncolour = 3', "unknown keys"),
    ('name = "X"\nlat_deg = 1\nlon_deg = 0\nmin_el_deg = 5\nhorizon = [[0, 1]]', "not both"),
    ('name = "X"\nlat_deg = 1\nlon_deg = 0\nhorizon = [[0, 1], [400, 2]]', "within 0..360"),
    ('name = "X"\nlat_deg = 1\nlon_deg = 0\n[station.rotator]\nmin_az_deg = 0\nmax_az_deg = 180', "at least 360"),
    ('name = "X"\nlat_deg = 1\nlon_deg = 0\n[station.rotator]\npark_el_deg = 120', "park position"),
    ('name = "X"\nlat_deg = 1\nlon_deg = 0\n[station.rotator]\nspeed = 1', "rotator/radio"),
], ids=["lat", "missing", "unknown", "both", "mask-az", "wrap", "park", "rotator-key"])
def test_bad_station_files_are_refused_naming_the_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[[station]]\n" + body + "\n")
    with pytest.raises(StationConfigError, match=message):
        load_stations(path)


# ------------------------------------------------------------------ pass times against skyfield
def test_pass_times_agree_with_skyfield_find_events_to_a_second() -> None:
    found = find_passes([REFERENCE], [ALMATY], START, days=3)
    events = skyfield_events(REFERENCE, ALMATY, START, 3, 5.0)
    rises = [t for t, e in events if e == 0]
    culminations = [t for t, e in events if e == 1]
    sets = [t for t, e in events if e == 2]
    assert len(found) == len(rises) == len(sets) >= 10
    for p, aos, tca, los in zip(found, rises, culminations, sets, strict=True):
        assert abs((p.aos_utc - aos).total_seconds()) < 1.0
        assert abs((p.tca_utc - tca).total_seconds()) < 1.0
        assert abs((p.los_utc - los).total_seconds()) < 1.0


def test_aos_los_sit_on_the_mask_and_tca_is_the_peak_by_skyfields_geometry() -> None:
    """At our AOS and LOS skyfield's elevation is the mask's (to 0.005 deg, i.e. a tenth of a second of
    motion near the horizon); at our TCA it is the pass's maximum, which no sample of the pass exceeds."""
    for p in find_passes([REFERENCE], [ALMATY], START, days=2):
        edge = look_angles(REFERENCE, ALMATY, p.aos_utc, np.array([0.0, p.duration_s]))
        assert np.all(np.abs(edge.el_deg - 5.0) < 0.005)
        dense = look_angles(REFERENCE, ALMATY, p.aos_utc, np.arange(0.0, p.duration_s, 0.5))
        peak = look_angles(REFERENCE, ALMATY, p.tca_utc, 0.0)
        assert peak.el_deg[0] == pytest.approx(p.max_el_deg, abs=1e-4)
        assert dense.el_deg.max() <= p.max_el_deg + 1e-6
        assert dense.az_deg[0] == pytest.approx(p.aos_az_deg, abs=0.05)


def test_horizon_mask_cuts_passes_where_dense_sampling_says() -> None:
    """With an azimuth-dependent mask, AOS and LOS are where 1-second skyfield samples first and last
    clear the mask (within a second)."""
    mask = HorizonMask((0.0, 90.0, 180.0, 270.0), (2.0, 15.0, 25.0, 8.0))
    site = GroundStation("Masked", 43.2220, 76.8512, 800.0, horizon=mask)
    found = find_passes([REFERENCE], [site], START, days=2)
    assert found
    for p in found:
        t = np.arange(-60.0, p.duration_s + 60.0, 1.0)
        look = look_angles(REFERENCE, site, p.aos_utc, t)
        clear = look.el_deg >= mask.min_el_deg(look.az_deg)
        assert abs(t[clear][0] - 0.0) <= 1.0 and abs(t[clear][-1] - p.duration_s) <= 1.0


def test_a_grazing_pass_shorter_than_a_grid_step_is_found() -> None:
    """A mask one tenth of a degree below a pass's peak leaves a contact of some seconds; a 120 s grid
    steps over it, and the grazing refinement (given a margin as wide as the 120 s grid needs near the
    peak of a 69 deg pass) still finds it, as a 2 s grid does."""
    p = max(find_passes([REFERENCE], [ALMATY], START, days=1), key=lambda x: x.max_el_deg)
    site = GroundStation("Grazed", ALMATY.lat_deg, ALMATY.lon_deg, ALMATY.alt_m,
                         horizon=HorizonMask.constant(round(p.max_el_deg - 0.1, 3)))
    fine = [x for x in find_passes([REFERENCE], [site], START, days=1, step_s=2.0)]
    coarse = find_passes([REFERENCE], [site], START, days=1, step_s=120.0, grazing_margin_deg=40.0)
    assert len(fine) == len(coarse) == 1 and fine[0].duration_s < 120.0
    assert abs((fine[0].aos_utc - coarse[0].aos_utc).total_seconds()) < 0.1
    assert abs((fine[0].los_utc - coarse[0].los_utc).total_seconds()) < 0.1


def test_many_satellites_and_stations_equal_the_pairs_searched_alone() -> None:
    tles = [variant(160 + 40 * k, name=f"S{k}", mean_anomaly_deg=30 * k) for k in range(4)]
    sites = [ALMATY, GroundStation("Kiruna", 67.857, 20.964, 400.0, horizon=HorizonMask.constant(5.0)),
             GroundStation("Hobart", -42.88, 147.32, 10.0)]
    together = find_passes(tles, sites, START, days=1)
    alone = sorted((p for t in tles for s in sites for p in find_passes([t], [s], START, days=1)),
                   key=lambda p: (p.aos_utc, p.station, p.satellite))
    assert [(p.satellite, p.station) for p in together] == [(p.satellite, p.station) for p in alone]
    for a, b in zip(together, alone, strict=True):
        assert abs((a.aos_utc - b.aos_utc).total_seconds()) < 0.02 and abs(a.max_el_deg - b.max_el_deg) < 1e-3
    assert {p.station for p in together} == {"Almaty", "Kiruna", "Hobart"}
    assert [p.aos_utc for p in together] == sorted(p.aos_utc for p in together)


def test_a_pass_in_progress_at_the_start_is_marked_truncated() -> None:
    p = find_passes([REFERENCE], [ALMATY], START, days=1)[0]
    mid = p.tca_utc
    (cut, *_rest) = find_passes([REFERENCE], [ALMATY], mid, days=0.1)
    assert cut.truncated and cut.aos_utc == mid and abs((cut.los_utc - p.los_utc).total_seconds()) < 0.05


@settings(max_examples=15, deadline=None)
@given(st.floats(-60, 70), st.floats(-180, 180), st.floats(0, 10), st.integers(0, 23))
def test_property_every_pass_is_above_the_mask_inside_and_below_outside(lat: float, lon: float, mask: float,
                                                                          hour: int) -> None:
    site = GroundStation("P", lat, lon, 0.0, horizon=HorizonMask.constant(mask))
    start = START + timedelta(hours=hour)
    for p in find_passes([REFERENCE], [site], start, days=0.5):
        inside = look_angles(REFERENCE, site, p.aos_utc, np.linspace(0.5, max(p.duration_s - 0.5, 0.6), 9))
        assert np.all(inside.el_deg >= mask - 1e-6)
        if not p.truncated:
            outside = look_angles(REFERENCE, site, p.aos_utc, np.array([-1.0, p.duration_s + 1.0]))
            assert np.all(outside.el_deg < mask)


def test_search_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="days"):
        find_passes([REFERENCE], [ALMATY], START, days=100)
    with pytest.raises(ValueError, match="step_s"):
        find_passes([REFERENCE], [ALMATY], START, step_s=0.1)
    assert find_passes([], [ALMATY], START) == []


# ------------------------------------------------------------------ Doppler and target windows
def test_doppler_is_minus_f_range_rate_over_c_and_range_rate_is_the_derivative_of_range() -> None:
    p = max(find_passes([REFERENCE], [ALMATY], START, days=1), key=lambda x: x.max_el_deg)
    t = np.arange(0.0, p.duration_s, 10.0)
    look = look_angles(REFERENCE, ALMATY, p.aos_utc, t)
    h = 0.05
    numeric = (look_angles(REFERENCE, ALMATY, p.aos_utc, t + h).range_km
               - look_angles(REFERENCE, ALMATY, p.aos_utc, t - h).range_km) / (2 * h)
    assert np.allclose(look.range_rate_km_s, numeric, atol=1e-5)
    shift = doppler_hz(437.1e6, look.range_rate_km_s)
    assert np.allclose(shift, -437.1e6 * look.range_rate_km_s * 1000.0 / 299_792_458.0)
    assert shift[0] > 8e3 and shift[-1] < -8e3  # ~ +-10 kHz at 437 MHz on a high pass: heard high, then low
    assert doppler_hz(437.1e6, 0.0) == 0.0


def test_target_windows_are_within_the_off_nadir_limit_and_list_the_station_in_view() -> None:
    target = GroundStation("Almaty-city", 43.25, 76.95, 0.0)
    windows = find_target_windows([REFERENCE], target, START, days=1, max_off_nadir_deg=30.0, stations=[ALMATY])
    assert windows
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale(builtin=True)
    sat = EarthSatellite(REFERENCE.line1, REFERENCE.line2, REFERENCE.name, ts)
    tgt = wgs84.latlon(target.lat_deg, target.lon_deg)

    def off_nadir(at: datetime) -> float:
        t = ts.from_datetime(at)
        r_sat = sat.at(t).position.km
        to_tgt = tgt.at(t).position.km - r_sat
        return float(np.degrees(np.arccos(-np.dot(r_sat, to_tgt) / np.linalg.norm(r_sat) / np.linalg.norm(to_tgt))))

    for w in windows:
        assert off_nadir(w.best_utc) == pytest.approx(w.min_off_nadir_deg, abs=0.01)
        assert off_nadir(w.start_utc) == pytest.approx(30.0, abs=0.01)
        assert off_nadir(w.end_utc) == pytest.approx(30.0, abs=0.01)
        assert off_nadir(w.start_utc - timedelta(seconds=2)) > 30.0
        assert w.stations_in_view == ("Almaty",)  # a target next to the station: it sees the satellite too
        assert -90.0 <= w.sun_el_deg <= 90.0
    # a target on the other side of the Earth is imaged when Almaty does not see the satellite
    far = find_target_windows([REFERENCE], GroundStation("Far", -43.25, -103.05), START, days=4,
                              max_off_nadir_deg=45.0, stations=[ALMATY])
    assert far and all(w.stations_in_view == () for w in far)


# ------------------------------------------------------------------ ttc passes
def test_ttc_passes_json_csv_table_and_plots(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["passes", "--start", "2024-03-20T12:00:00Z", "--days", "1"]
    r = runner.invoke(main, [*args, "--format", "json", "--target", "43.25,76.95,Almaty-city"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["stations"] == ["Almaty"] and data["satellites"] == ["TTC-1"] and data["warnings"] == []
    expected = find_passes([REFERENCE], default_stations(), START, days=1)
    assert [p["aos_utc"] for p in data["passes"]] == [p.as_dict()["aos_utc"] for p in expected]
    assert data["target_windows"] and data["target_windows"][0]["stations_in_view"] == ["Almaty"]
    r = runner.invoke(main, [*args, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert len(rows) == len(expected) and float(rows[0]["max_el_deg"]) == pytest.approx(expected[0].max_el_deg, 0.01)
    r = runner.invoke(main, [*args, "--plot", str(tmp_path / "plots")])
    assert r.exit_code == 0 and "passes (UTC)" in r.output and "TTC-1" in r.output
    pngs = sorted((tmp_path / "plots").glob("*.png"))
    assert len(pngs) == len(expected) + 1 and (tmp_path / "plots" / "timeline.png") in pngs
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000 for p in pngs)


def test_ttc_passes_refuses_bad_input_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tle"
    bad.write_text(f"X\n{WRONG_SUM_LINE1}\n{REFERENCE.line2}\n")
    runner = CliRunner()
    r = runner.invoke(main, ["passes", "--tle", str(bad)])
    assert r.exit_code == 1 and "checksum" in r.output and "Traceback" not in r.output
    r = runner.invoke(main, ["passes", "--station", "Nowhere"])
    assert r.exit_code == 2 and "not in the station file" in r.output
    r = runner.invoke(main, ["passes", "--start", "yesterday"])
    assert r.exit_code == 2 and "ISO 8601" in r.output
    r = runner.invoke(main, ["passes", "--target", "95,0"])
    assert r.exit_code == 2 and "LAT,LON" in r.output
    old = runner.invoke(main, ["passes", "--start", "2024-06-20T00:00:00Z", "--format", "json"])
    assert "get fresh elements" in json.loads(old.output)["warnings"][0]


def test_the_reference_tle_is_the_one_the_simulated_spacecraft_flies() -> None:
    from spacecraft.adcs.environment import DEFAULT_TLE

    assert (REFERENCE.name, REFERENCE.line1, REFERENCE.line2) == DEFAULT_TLE
