"""``ttc track`` and groundstation/tracking.py: accelerated passes flown against hamlib's real dummy daemons.

The rotator's and the radio's read-backs are held to the plan, the commands to skyfield's look angles at the
instant they are meant for, and the frequencies to the Doppler shift computed from skyfield's ranges by finite
differences (not from the range rate the tracker itself used).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from skyfield.api import EarthSatellite, load, wgs84

from groundstation.cli import main
from groundstation.contacts import DEFAULT_TLE_FILE
from groundstation.hamlib import Radio, Rotator
from groundstation.passes import (
    C_M_S,
    GroundStation,
    RadioConfig,
    RotatorConfig,
    doppler_hz,
    find_passes,
    load_stations,
    parse_tles,
)
from groundstation.pointing import angle_between_deg
from groundstation.tracking import SimClock, Tracker, downlink_hz, limits_for, prepare_track, uplink_hz
from tests.hamlib_daemons import restart_daemon, rigctld, rotctld

TLE = parse_tles(DEFAULT_TLE_FILE.read_text())[0]
ALMATY = load_stations(None)[0]
# a 9.3 deg pass rising in the north-north-west, where the dummy rotator (starting at 0, 0) needs ~4 s to be
LOW_PASS_START = datetime(2024, 3, 21, 7, 25, 30, tzinfo=timezone.utc)  # 115 s before AOS over a 3 deg mask
# a site under the 2024-03-21 05:57 ground track, 0.2 deg of longitude off it: an 88.1 deg pass from the north
ZENITH_SITE = (44.253, 79.666)
ZENITH_START = datetime(2024, 3, 21, 5, 48, 45, tzinfo=timezone.utc)
FOLLOW_DEG = 1.0  # read-back vs plan, per axis: one 10 Hz tick of a 6 deg/s rotator is 0.6 deg, plus jitter
COMMAND_DEG = 0.01  # command vs skyfield at the instant it is for (1 s grid, linear interpolation)
FREQ_HZ = 2.0  # Doppler: rounding to whole Hz plus interpolation on the 1 s grid
TTC = [sys.executable, "-m", "groundstation.cli"]


def skyfield_truth(station: GroundStation, when: list[datetime]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(az, el, range rate km/s) from skyfield, the range rate by central differences of the range (+-0.5 s)."""
    ts = load.timescale(builtin=True)
    sat = EarthSatellite(TLE.line1, TLE.line2, TLE.name, ts)
    site = wgs84.latlon(station.lat_deg, station.lon_deg, elevation_m=station.alt_m)
    t = ts.from_datetimes(when)
    alt, az, _ = (sat - site).at(t).altaz()
    ahead = ts.from_datetimes([w + timedelta(seconds=0.5) for w in when])
    behind = ts.from_datetimes([w - timedelta(seconds=0.5) for w in when])
    rdot = (sat - site).at(ahead).distance().km - (sat - site).at(behind).distance().km
    return np.asarray(az.degrees), np.asarray(alt.degrees), np.asarray(rdot)


def sky_of_command(az: np.ndarray, el: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a command points on the sky (a flipped one, el > 90, looks over the top)."""
    flipped = el > 90.0
    return np.where(flipped, az + 180.0, az) % 360.0, np.where(flipped, 180.0 - el, el)


def read_log(path: Path) -> tuple[list[dict], list[dict]]:
    """(tick records, event records) of a tracker log."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if "phase" in r], [r for r in records if "event" in r]


def station_file(tmp_path: Path, name: str, lat: float, lon: float, rot_port: int, rig_port: int,
                 max_el: float = 90.0, park: tuple[float, float] = (0.0, 90.0), min_el: float = 0.0) -> Path:
    path = tmp_path / "stations.toml"
    path.write_text(f"""
[[station]]
name = "{name}"
lat_deg = {lat}
lon_deg = {lon}
alt_m = 800.0
min_el_deg = {min_el}
downlink_hz = 437.1e6
uplink_hz = 145.9e6

# a little under the dummy's 6 deg/s, as an operator sets a real rotator's, so no plan asks for its full rate
[station.rotator]
port = {rot_port}
max_el_deg = {max_el}
az_slew_rate_deg_s = 5.5
el_slew_rate_deg_s = 5.5
park_az_deg = {park[0]}
park_el_deg = {park[1]}

[station.radio]
port = {rig_port}
""")
    return path


# ------------------------------------------------------------------ sans-IO pieces
def test_doppler_tuning_is_the_analytic_shift_and_the_uplink_arrives_on_frequency() -> None:
    rdot = np.array([-7.5, -3.0, 0.0, 2.5, 7.5])  # km/s, closing negative
    rx = downlink_hz(437.1e6, rdot)
    np.testing.assert_allclose(rx - 437.1e6, -437.1e6 * rdot * 1000.0 / C_M_S, rtol=0, atol=1e-6)
    np.testing.assert_allclose(rx - 437.1e6, doppler_hz(437.1e6, rdot), rtol=0, atol=1e-6)
    tx = uplink_hz(145.9e6, rdot)
    # what the satellite hears of tx is tx (1 - rdot/c): exactly the uplink carrier
    np.testing.assert_allclose(tx * (1.0 - rdot * 1000.0 / C_M_S), 145.9e6, rtol=0, atol=1e-6)
    assert rx[0] > 437.1e6 > rx[-1] and tx[0] < 145.9e6 < tx[-1]
    # the figure: +-10.4 kHz at 437 MHz for a 500 km orbit's ~7.1 km/s at the horizon
    assert abs(doppler_hz(437.1e6, 7.13)) == pytest.approx(10.4e3, rel=0.01)


def test_limits_scale_with_the_simulated_clock() -> None:
    assert limits_for(ALMATY).az_slew_rate_deg_s == 6.0
    fast = limits_for(ALMATY, speed=10.0)
    assert (fast.az_slew_rate_deg_s, fast.el_slew_rate_deg_s) == (0.6, 0.6)
    assert (fast.min_az_deg, fast.max_az_deg, fast.park_el_deg) == (-180.0, 450.0, 90.0)
    with pytest.raises(ValueError, match="speed"):
        limits_for(ALMATY, speed=0.0)
    with pytest.raises(ValueError, match="no \\[station.rotator\\]"):
        limits_for(GroundStation("bare", 10.0, 10.0))


def test_schedule_matches_skyfield_and_refuses_another_satellites_pass() -> None:
    p = find_passes([TLE], [ALMATY], LOW_PASS_START, days=0.1)[0]
    s = prepare_track(TLE, ALMATY, p, speed=10.0)
    assert s.t_s[0] == 0.0 and s.duration_s == pytest.approx(p.duration_s)
    assert np.all(np.diff(s.t_s) > 0) and np.all(np.diff(s.t_s) <= 1.0 + 1e-9)
    az, el, rdot = skyfield_truth(ALMATY, [p.aos_utc + timedelta(seconds=float(t)) for t in s.t_s])
    assert float(np.max(angle_between_deg(s.az_deg, s.el_deg, az, el))) < 1e-6
    np.testing.assert_allclose(s.rx_hz, 437.1e6 * (1 - rdot * 1000 / C_M_S), rtol=0, atol=0.5)
    assert s.plan is not None and s.plan.max_error_deg < 1e-3  # a low pass the rotator follows exactly
    rx, tx = s.frequencies_at(0.5)
    assert rx == round(float(np.mean(s.rx_hz[:2]))) and isinstance(tx, int)
    other = GroundStation("Elsewhere", 10.0, 10.0)
    with pytest.raises(ValueError, match="not TTC-1 over Elsewhere"):
        prepare_track(TLE, other, p)


def test_sim_clock_runs_at_its_speed() -> None:
    now = [100.0]
    clock = SimClock(datetime(2024, 1, 1, tzinfo=timezone.utc), 20.0, monotonic=lambda: now[0])
    now[0] += 1.5
    assert clock.now_utc() == datetime(2024, 1, 1, 0, 0, 30, tzinfo=timezone.utc)
    assert clock.seconds_after(datetime(2024, 1, 1, 0, 1, tzinfo=timezone.utc)) == pytest.approx(-30.0)
    with pytest.raises(ValueError, match="speed"):
        SimClock(datetime(2024, 1, 1, tzinfo=timezone.utc), -1.0)


# ------------------------------------------------------------------ against the real daemons
@pytest.mark.slow
def test_ttc_track_follows_a_low_pass_with_rotator_and_radio(tmp_path: Path) -> None:
    with rotctld() as (_, rot_port, _p), rigctld() as (_, rig_port, _q):
        # parked near the LOS (az 265 = -95), so the park after LOS is a short slew
        stations = station_file(tmp_path, "Almaty", ALMATY.lat_deg, ALMATY.lon_deg, rot_port, rig_port,
                                park=(-90.0, 0.0), min_el=3.0)
        log = tmp_path / "track.jsonl"
        run = subprocess.run([*TTC, "track", "--stations", str(stations), "--start", LOW_PASS_START.isoformat(),
                              "--speed", "10", "--log", str(log), "--plot", str(tmp_path / "sky.png")],
                             capture_output=True, text=True, timeout=180)
        assert run.returncode == 0, run.stderr
        assert "Traceback" not in run.stderr
        report = json.loads(run.stdout)
        with Rotator("127.0.0.1", rot_port) as rot:
            parked_at = rot.position()
    station = load_stations(stations)[0]
    ticks, events = read_log(log)
    track = [r for r in ticks if r["phase"] == "track"]
    assert report["mode"] == "normal" and report["max_el_deg"] == pytest.approx(9.29, abs=0.05)
    assert report["rotator"]["errors"] == report["radio"]["errors"] == 0 and not report["failures"]
    assert report["parked"] is True and angle_between_deg(*parked_at, -90.0, 0.0) < 0.5
    assert report["preposition_short_s"] == 0.0
    assert len(track) > 250 and (tmp_path / "sky.png").stat().st_size > 10_000
    assert report["acquired_s"] == pytest.approx(track[0]["rot_s"], abs=0.01)  # on track from the first tick
    # the daemons' read-backs follow the plan
    follow = [r["follow_deg"] for r in track if "follow_deg" in r]
    assert len(follow) == len(track) and max(follow) <= FOLLOW_DEG
    assert report["max_follow_error_deg"] == pytest.approx(max(follow), abs=1e-3)
    # the commands point at the satellite as skyfield sees it at the instant they are meant for
    aos = datetime.fromisoformat(report["aos_utc"].replace("Z", "+00:00"))
    az, el, _ = skyfield_truth(station, [aos + timedelta(seconds=r["cmd_for_s"]) for r in track])
    cmd_az, cmd_el = sky_of_command(np.array([r["cmd_az"] for r in track]), np.array([r["cmd_el"] for r in track]))
    assert float(np.max(angle_between_deg(cmd_az, cmd_el, az, el))) < COMMAND_DEG
    # the frequencies are the Doppler-corrected carriers, and the rig reports what was set
    _, _, rdot = skyfield_truth(station, [aos + timedelta(seconds=r["freq_for_s"]) for r in track])
    rx = np.array([r["rx_hz"] for r in track])
    tx = np.array([r["tx_hz"] for r in track])
    np.testing.assert_allclose(rx, 437.1e6 * (1 - rdot * 1000 / C_M_S), rtol=0, atol=FREQ_HZ)
    np.testing.assert_allclose(tx, 145.9e6 / (1 - rdot * 1000 / C_M_S), rtol=0, atol=FREQ_HZ)
    read = [r for r in track if r["rx_read"] is not None]
    assert len(read) >= len(track) // 6
    assert all(r["rx_read"] == r["rx_hz"] and r["tx_read"] == r["tx_hz"] for r in read)
    assert rx.max() - rx.min() > 8_000  # the pass's Doppler swing was flown, not a constant
    assert not events


@pytest.mark.slow
def test_keyhole_pass_flipped_within_the_rotators_limits(tmp_path: Path) -> None:
    with rotctld(extra=("--set-conf=max_el=180",)) as (_, rot_port, _p), rigctld() as (_, rig_port, _q):
        stations = station_file(tmp_path, "Zenith", *ZENITH_SITE, rot_port, rig_port, max_el=180.0)
        log = tmp_path / "track.jsonl"
        run = subprocess.run([*TTC, "track", "--stations", str(stations), "--start", ZENITH_START.isoformat(),
                              "--speed", "20", "--no-radio", "--log", str(log)],
                             capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    ticks, _ = read_log(log)
    track = [r for r in ticks if r["phase"] == "track"]
    assert report["max_el_deg"] > 88.0 and report["mode"] == "flip" and report["preposition_short_s"] == 0.0
    assert report["rotator"]["errors"] == 0 and not report["failures"] and report["radio"] == {}
    cmd_az = np.array([r["cmd_az"] for r in ticks if "cmd_az" in r])
    cmd_el = np.array([r["cmd_el"] for r in ticks if "cmd_el" in r])
    rot_az = np.array([r["rot_az"] for r in ticks if "rot_az" in r])
    rot_el = np.array([r["rot_el"] for r in ticks if "rot_el" in r])
    for a in (cmd_az, rot_az):
        assert a.min() >= -180.0 and a.max() <= 450.0
    for e in (cmd_el, rot_el):
        assert e.min() >= 0.0 and e.max() <= 180.0
    assert rot_el.max() > 90.0  # it went over the top
    # over the top, slew limited (5.5 deg/s: 0.275 deg per simulated second), the rotator follows the plan
    follow = [r["follow_deg"] for r in track if "follow_deg" in r]
    assert max(follow) <= FOLLOW_DEG
    # and the pointing stays within a few degrees of the satellite, where normal mode would lose it
    sky_az, sky_el = sky_of_command(np.array([r["rot_az"] for r in track]), np.array([r["rot_el"] for r in track]))
    aos = datetime.fromisoformat(report["aos_utc"].replace("Z", "+00:00"))
    station = load_stations(stations)[0]
    az, el, _ = skyfield_truth(station, [aos + timedelta(seconds=r["rot_s"]) for r in track])
    err = np.asarray(angle_between_deg(sky_az, sky_el, az, el))
    assert float(err.max()) <= report["plan_max_error_deg"] + FOLLOW_DEG + 0.5
    normal = prepare_track(TLE, station, find_passes([TLE], [station], ZENITH_START, days=0.05)[0], speed=20.0,
                           mode="normal")
    assert normal.plan is not None and normal.plan.max_error_deg > report["plan_max_error_deg"] + 5.0


@pytest.mark.slow
def test_daemon_restarts_and_deaths_mid_pass_are_reported_and_survived() -> None:
    p = find_passes([TLE], [ALMATY], LOW_PASS_START, days=0.1)[0]
    speed = 10.0
    with rotctld() as (host, rot_port, rot_proc), rigctld() as (_, rig_port, rig_proc):
        station = GroundStation("Almaty", ALMATY.lat_deg, ALMATY.lon_deg, ALMATY.alt_m, horizon=ALMATY.horizon,
                                rotator=RotatorConfig(port=rot_port, az_slew_rate_deg_s=5.5, el_slew_rate_deg_s=5.5,
                                                      park_az_deg=-90.0, park_el_deg=0.0),
                                radio=RadioConfig(port=rig_port))
        rotator = Rotator(host, rot_port, reconnect_s=1.0)
        radio = Radio(host, rig_port, reconnect_s=1.0)
        schedule = prepare_track(TLE, station, p, speed=speed, current_az_deg=0.0, current_el_deg=0.0)
        statuses: list[str] = []
        log = io.StringIO()
        clock = SimClock(p.aos_utc - timedelta(seconds=100), speed)
        tracker = Tracker(schedule, clock, rotator=rotator, radio=radio, status=statuses.append, log=log)

        def at(t_s: float) -> None:  # until the simulated clock reads AOS + t_s (it runs at a known rate)
            clock.sleep_real((t_s - clock.seconds_after(p.aos_utc)) / clock.speed)

        def trouble() -> None:
            at(30.0)
            restart_daemon(rot_proc)  # the rotator's daemon restarts (the dummy comes back at 0, 0)
            at(200.0)
            restart_daemon(rig_proc).kill()  # the radio's comes back, then dies for good

        chaos = threading.Thread(target=trouble)
        chaos.start()
        report = tracker.run()
        chaos.join()
        rotator.close()
        radio.close()
    ticks = [json.loads(line) for line in log.getvalue().splitlines()]
    track = [r for r in ticks if r.get("phase") == "track"]
    assert report.rotator["reconnects"] >= 1
    assert any("rotctld" in e and "reconnect" in e for e in report.events)
    assert report.radio["failures"] >= 1 and any("unreachable" in f for f in report.failures)
    assert any("unreachable" in s for s in statuses) and any("unreachable" in r.get("event", "") for r in ticks)
    assert report.skipped > 0  # the dead rig was not retried on every tick
    # the loop went on to LOS, and the rotator, slewed back from where its restarted daemon left it, is on plan
    assert track[-1]["sim_s"] > p.duration_s - 2 * speed / 10.0
    after = [r["follow_deg"] for r in track if 150.0 <= r["sim_s"]]
    assert after and max(after) <= FOLLOW_DEG
    assert max(r["follow_deg"] for r in track if 30.0 <= r["sim_s"] < 150.0) > 10.0  # it really was reset
    assert report.parked is True


def test_track_dry_run_and_clean_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    dry = runner.invoke(main, ["track", "--start", LOW_PASS_START.isoformat(), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "AOS 2024-03-21 07:27:25" in dry.output and "rotator plan: normal mode" in dry.output
    assert "Doppler on 437.1000 MHz" in dry.output
    gone = runner.invoke(main, ["track", "--start", LOW_PASS_START.isoformat(), "--rotator", "127.0.0.1:1",
                                "--no-radio"])
    assert gone.exit_code == 1 and "rotctld at 127.0.0.1:1 is unreachable" in gone.output
    assert gone.exception is None or isinstance(gone.exception, SystemExit)
    bad = runner.invoke(main, ["track", "--rotator", "nowhere", "--dry-run"])
    assert bad.exit_code == 2 and "HOST:PORT" in bad.output
    none = runner.invoke(main, ["track", "--start", LOW_PASS_START.isoformat(), "--min-el", "89.9",
                                "--within-days", "0.5", "--dry-run"])
    assert none.exit_code == 1 and "no pass of TTC-1 over Almaty reaching 89.9 deg" in none.output
    bare = tmp_path / "bare.toml"
    bare.write_text('[[station]]\nname = "Bare"\nlat_deg = 43.2\nlon_deg = 76.9\n')
    norot = runner.invoke(main, ["track", "--stations", str(bare), "--start", LOW_PASS_START.isoformat(),
                                 "--rotator", "127.0.0.1:4533", "--dry-run"])
    assert norot.exit_code == 1 and "no [station.rotator]" in norot.output
