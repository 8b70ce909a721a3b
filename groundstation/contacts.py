"""``ttc passes``: when the satellites are in view of the stations, and when they can image a target.

The stations come from a TOML file (``--stations``, default ``groundstation/stations.toml``: Almaty), the
satellites from TLE files (``--tle``, default ``groundstation/ttc-1.tle``: the reference mission's orbit,
the one the simulated spacecraft flies). Output as a table, JSON or CSV; ``--plot DIR`` writes a sky plot
per pass and a timeline of contacts (PNG).
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .passes import (
    GroundStation,
    Pass,
    StationConfigError,
    TargetWindow,
    Tle,
    TleError,
    find_passes,
    find_target_windows,
    load_stations,
    look_angles,
    parse_tles,
)

if TYPE_CHECKING:
    from .tracking import TrackSchedule

__all__ = ["DEFAULT_TLE_FILE", "passes", "track", "load_tle_files", "parse_start", "commands"]

DEFAULT_TLE_FILE = Path(__file__).with_name("ttc-1.tle")
MAX_TLE_AGE_DAYS = 14.0
MAX_SKY_PLOTS = 24


def load_tle_files(paths: tuple[Path, ...]) -> list[Tle]:
    """Every element set in ``paths`` (default: the reference mission's TLE); a ClickException if bad."""
    out: list[Tle] = []
    for path in paths or (DEFAULT_TLE_FILE,):
        try:
            out += parse_tles(path.read_text(), source=str(path))
        except OSError as e:
            raise click.ClickException(f"TLE file {path}: {e.strerror}") from e
        except TleError as e:
            raise click.ClickException(str(e)) from e
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise click.ClickException(f"satellite names repeat across the TLE files: {names}")
    return out


def parse_start(text: str | None) -> datetime:
    """``now`` or an ISO 8601 time (``Z`` or an offset; naive means UTC)."""
    if text is None or text == "now":
        return datetime.now(timezone.utc)
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise click.BadParameter(f"{text!r}: give an ISO 8601 time such as 2024-03-20T12:00:00Z, or now",
                                 param_hint="--start") from e
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def _target(text: str) -> GroundStation:
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        lat, lon = float(parts[0]), float(parts[1])
        name = parts[2] if len(parts) == 3 else f"{lat:.3f},{lon:.3f}"
        return GroundStation(name, lat, lon)
    except (ValueError, StationConfigError) as e:
        raise click.BadParameter(f"{text!r}: give LAT,LON[,NAME] in degrees (latitude -90..90, longitude "
                                 "-180..360)", param_hint="--target") from e


def _load_stations(path: Path | None, names: tuple[str, ...] = ()) -> list[GroundStation]:
    """The station file's stations (only ``names`` when given); a ClickException naming what is wrong."""
    try:
        return _choose(load_stations(path), names)
    except StationConfigError as e:
        raise click.ClickException(str(e)) from e


def _one_satellite(tle_files: tuple[Path, ...], satellite: str | None) -> Tle:
    """The element set ``--satellite`` names, or the only one in the files."""
    tles = load_tle_files(tle_files)
    if satellite is not None:
        chosen = [t for t in tles if t.name == satellite]
        if not chosen:
            raise click.BadParameter(f"{satellite!r} is not in the TLE files (they hold {[t.name for t in tles]})",
                                     param_hint="--satellite")
        return chosen[0]
    if len(tles) > 1:
        raise click.BadParameter(f"the TLE files hold {[t.name for t in tles]}: pick one", param_hint="--satellite")
    return tles[0]


def _choose(stations: list[GroundStation], names: tuple[str, ...]) -> list[GroundStation]:
    if not names:
        return stations
    known = {s.name: s for s in stations}
    missing = [n for n in names if n not in known]
    if missing:
        raise click.BadParameter(f"{missing} not in the station file (it has {sorted(known)})", param_hint="--station")
    return [known[n] for n in names]


def _warnings(tles: list[Tle], start: datetime, days: float) -> list[str]:
    out = []
    for t in tles:
        age = t.age_days(start)
        end_age = age + days
        if age < -1.0:
            out.append(f"{t.name}: the TLE epoch {t.epoch_utc:%Y-%m-%d %H:%M} UTC is {-age:.1f} days after the "
                       "start: SGP4 is least accurate propagating backwards far")
        elif max(abs(age), abs(end_age)) > MAX_TLE_AGE_DAYS:
            out.append(f"{t.name}: the TLE epoch {t.epoch_utc:%Y-%m-%d %H:%M} UTC is {age:.0f} days before the "
                       f"start: beyond ~{MAX_TLE_AGE_DAYS:.0f} days pass times drift by minutes; get fresh elements")
    return out


def _table(found: list[Pass], windows: list[TargetWindow], warnings: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 130)  # a file or a pipe gets whole lines
    for w in warnings:
        console.print(f"[yellow]warning:[/] {w}")
    table = Table(title=f"{len(found)} passes (UTC)")
    for col in ("satellite", "station", "AOS", "TCA", "LOS", "min", "max el", "AOS az", "LOS az"):
        table.add_column(col, justify="right" if col in ("min", "max el", "AOS az", "LOS az") else "left")
    for p in found:
        table.add_row(p.satellite, p.station, f"{p.aos_utc:%m-%d %H:%M:%S}", f"{p.tca_utc:%H:%M:%S}",
                      f"{p.los_utc:%H:%M:%S}", f"{p.duration_s / 60:.1f}", f"{p.max_el_deg:.1f}°",
                      f"{p.aos_az_deg:.0f}°", f"{p.los_az_deg:.0f}°" + (" *" if p.truncated else ""))
    console.print(table)
    if any(p.truncated for p in found):
        console.print("* cut by the search window")
    if windows:
        wt = Table(title=f"{len(windows)} target windows (UTC)")
        for col in ("satellite", "target", "start", "best", "end", "off-nadir", "sun el", "stations in view"):
            wt.add_column(col)
        for w in windows:
            wt.add_row(w.satellite, w.target, f"{w.start_utc:%m-%d %H:%M:%S}", f"{w.best_utc:%H:%M:%S}",
                       f"{w.end_utc:%H:%M:%S}", f"{w.min_off_nadir_deg:.1f}°", f"{w.sun_el_deg:.0f}°",
                       ", ".join(w.stations_in_view) or "-")
        console.print(wt)


def _plots(out_dir: Path, found: list[Pass], tles: list[Tle], stations: list[GroundStation], start: datetime,
           days: float) -> list[Path]:
    import numpy as np

    from .skyplot import sky_plot_png, timeline_png

    written = [timeline_png(out_dir / "timeline.png", found, [s.name for s in stations], start, days)]
    by_name = {t.name: t for t in tles}
    by_station = {s.name: s for s in stations}
    for p in found[:MAX_SKY_PLOTS]:
        t = np.arange(0.0, p.duration_s + 1.0, 2.0)
        look = look_angles(by_name[p.satellite], by_station[p.station], p.aos_utc, t)
        name = f"sky-{p.station}-{p.satellite}-{p.aos_utc:%Y%m%dT%H%M%S}.png".replace(" ", "_")
        written.append(sky_plot_png(out_dir / name, p, look, by_station[p.station]))
    return written


_stations_option = click.option("--stations", "stations_file", type=click.Path(dir_okay=False, exists=True,
                                path_type=Path), default=None,
                                help="station file (TOML) [groundstation/stations.toml: Almaty]")
_tle_option = click.option("--tle", "tle_files", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                           multiple=True, help="TLE file(s), 2- or 3-line sets [groundstation/ttc-1.tle: the "
                                               "reference mission]")
_satellite_option = click.option("--satellite", default=None, help="which satellite of the TLE files [the only one]")


@click.command("passes", context_settings={"help_option_names": ["-h", "--help"]})
@_stations_option
@click.option("--station", "station_names", multiple=True, help="only these stations (repeat)")
@_tle_option
@click.option("--start", "start_text", default=None, help="ISO 8601 UTC start [now]")
@click.option("--days", type=click.FloatRange(0.01, 60), default=1.0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--target", "targets", multiple=True, help="a ground target LAT,LON[,NAME]: when it can be imaged")
@click.option("--max-off-nadir", "max_off_nadir_deg", type=click.FloatRange(1, 69), default=30.0, show_default=True,
              help="target windows: the ADCS's pointing range off nadir (deg)")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"write timeline.png and a sky plot per pass (the first {MAX_SKY_PLOTS}) into this folder")
def passes(stations_file: Path | None, station_names: tuple[str, ...], tle_files: tuple[Path, ...],
           start_text: str | None, days: float, fmt: str, targets: tuple[str, ...], max_off_nadir_deg: float,
           plot_dir: Path | None) -> None:
    """Predict passes (AOS/TCA/LOS, elevation, azimuths) over the stations, offline."""
    stations = _load_stations(stations_file, station_names)
    tles = load_tle_files(tle_files)
    start = parse_start(start_text)
    found = find_passes(tles, stations, start, days=days)
    windows: list[TargetWindow] = []
    for text in targets:
        windows += find_target_windows(tles, _target(text), start, days=days, max_off_nadir_deg=max_off_nadir_deg,
                                       stations=stations)
    warnings = _warnings(tles, start, days)
    if fmt == "json":
        click.echo(json.dumps({"start_utc": start.isoformat().replace("+00:00", "Z"), "days": days,
                               "stations": [s.name for s in stations], "satellites": [t.name for t in tles],
                               "warnings": warnings, "passes": [p.as_dict() for p in found],
                               "target_windows": [w.as_dict() for w in windows]}, indent=1))
    elif fmt == "csv":
        for w in warnings:
            click.echo(f"warning: {w}", err=True)
        rows = [p.as_dict() for p in found]
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else list(Pass.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(rows)
    else:
        _table(found, windows, warnings)
    if plot_dir is not None:
        for path in _plots(plot_dir, found, tles, stations, start, days):
            click.echo(f"wrote {path}", err=True)


def _endpoint(text: str | None, default_port: int, option: str) -> tuple[str, int] | None:
    if text is None:
        return None
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
        if not host or not 0 < number < 65536:
            raise ValueError
    except ValueError as e:
        raise click.BadParameter(f"{text!r}: give HOST:PORT (rotctld listens on 4533, rigctld on 4532 by "
                                 f"default; here {default_port})", param_hint=option) from e
    return host, number


def _choose_pass(tle: Tle, station: GroundStation, start: datetime, within_days: float, min_el: float) -> Pass:
    for p in find_passes([tle], [station], start, days=within_days):
        if p.max_el_deg >= min_el:
            return p
    raise click.ClickException(f"no pass of {tle.name} over {station.name} reaching {min_el:g} deg within "
                               f"{within_days:g} days of {start:%Y-%m-%d %H:%M:%S} UTC")


@click.command("track", context_settings={"help_option_names": ["-h", "--help"]})
@_stations_option
@click.option("--station", "station_name", default=None, help="the station [the file's first]")
@_tle_option
@_satellite_option
@click.option("--start", "start_text", default=None,
              help="ISO 8601 UTC: the clock starts here and the next pass after it is tracked [now]")
@click.option("--speed", type=click.FloatRange(0.01, 1000), default=1.0, show_default=True,
              help="simulated seconds per second (accelerated passes against test daemons)")
@click.option("--min-el", "min_el", type=click.FloatRange(0, 90), default=0.0, show_default=True,
              help="skip passes peaking below this elevation (deg)")
@click.option("--within-days", type=click.FloatRange(0.01, 14), default=2.0, show_default=True)
@click.option("--rate-hz", type=click.FloatRange(0.1, 100), default=10.0, show_default=True,
              help="tracking loop rate")
@click.option("--deadband", "deadband_deg", type=click.FloatRange(0, 10), default=0.0, show_default=True,
              help="send a rotator command only when it moves this far (deg); 0 sends every change")
@click.option("--mode", type=click.Choice(["auto", "normal", "flip"]), default="auto", show_default=True,
              help="flip over the top (needs max_el_deg = 180) or not; auto decides per pass")
@click.option("--park", "park_mode", type=click.Choice(["position", "rotator"]), default="position",
              show_default=True, help="after LOS: P to the station's park position, or the controller's K")
@click.option("--rotator", "rotator_at", default=None, help="rotctld HOST:PORT [the station file's]")
@click.option("--radio", "radio_at", default=None, help="rigctld HOST:PORT [the station file's]")
@click.option("--no-rotator", is_flag=True, help="do not drive a rotator")
@click.option("--no-radio", is_flag=True, help="do not drive a radio")
@click.option("--log", "log_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write one JSON line per tick (commands, read-backs, frequencies) and every event")
@click.option("--plot", "plot_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the pass's sky plot with the rotator's commanded track (PNG)")
@click.option("--dry-run", is_flag=True, help="print the plan (pre-position, mode, errors, Doppler) and exit")
def track(stations_file: Path | None, station_name: str | None, tle_files: tuple[Path, ...],
          satellite: str | None, start_text: str | None, speed: float, min_el: float, within_days: float,
          rate_hz: float, deadband_deg: float, mode: str, park_mode: str, rotator_at: str | None,
          radio_at: str | None, no_rotator: bool, no_radio: bool, log_file: Path | None, plot_file: Path | None,
          dry_run: bool) -> None:
    """Track the next pass: point the rotator (rotctld) and tune the radio (rigctld) with Doppler."""
    from .hamlib import HamlibError, Radio, Rotator
    from .tracking import SimClock, Tracker, prepare_track

    station = _load_stations(stations_file, (station_name,) if station_name else ())[0]
    tle = _one_satellite(tle_files, satellite)
    start = parse_start(start_text)
    for w in _warnings([tle], start, within_days):
        click.echo(f"warning: {w}", err=True)
    rot_ep = _endpoint(rotator_at, 4533, "--rotator")
    rad_ep = _endpoint(radio_at, 4532, "--radio")
    use_rotator = not no_rotator and (rot_ep is not None or station.rotator is not None)
    use_radio = not no_radio and (rad_ep is not None or station.radio is not None)
    if use_rotator and station.rotator is None:
        raise click.ClickException(f"station {station.name!r} has no [station.rotator] limits in its file: add "
                                   "them (the planner needs the rotator's ranges and slew rates)")
    p = _choose_pass(tle, station, start, within_days, min_el)

    def say(text: str) -> None:
        click.echo(f"{datetime.now(timezone.utc):%H:%M:%S} {text}", err=True)

    rotator = radio = None
    try:
        if use_rotator and not dry_run:
            host, port = rot_ep or (station.rotator.host, station.rotator.port)  # type: ignore[union-attr]
            rotator = Rotator(host, port, reconnect_s=1.0)
            say(f"rotator: {rotator.info()} at {host}:{port}")
        if use_radio and not dry_run:
            host, port = rad_ep or (station.radio.host, station.radio.port)  # type: ignore[union-attr]
            radio = Radio(host, port, reconnect_s=1.0)
            say(f"radio: {radio.info()} at {host}:{port}")
        current = rotator.position() if rotator is not None else (None, None)
        schedule = prepare_track(tle, station, p, speed=speed, current_az_deg=current[0],
                                 current_el_deg=current[1], mode=mode, with_rotator=use_rotator)  # type: ignore[arg-type]
    except HamlibError as e:
        raise click.ClickException(str(e)) from e
    plan = schedule.plan
    rr = schedule.range_rate_km_s
    doppler = schedule.rx_hz - station.downlink_hz
    say(f"pass {p.satellite} over {p.station}: AOS {p.aos_utc:%Y-%m-%d %H:%M:%S} az {p.aos_az_deg:.0f}, "
        f"TCA {p.tca_utc:%H:%M:%S} el {p.max_el_deg:.1f}, LOS {p.los_utc:%H:%M:%S} az {p.los_az_deg:.0f} UTC")
    if plan is not None:
        say(f"rotator plan: {plan.mode} mode, pre-position az {plan.preposition_az_deg:.1f} el "
            f"{plan.preposition_el_deg:.1f}, max pointing error {plan.max_error_deg:.2f} deg, "
            f"{len(plan.unwind_idx)} unwinds" + (f" (slew rates / {speed:g} for the accelerated clock)"
                                                  if speed != 1 else ""))
    say(f"Doppler on {station.downlink_hz / 1e6:.4f} MHz: {doppler.max():+.0f} .. {doppler.min():+.0f} Hz, "
        f"range rate {rr.min():+.2f} .. {rr.max():+.2f} km/s")
    if plot_file is not None:
        _track_plot(plot_file, tle, station, schedule)
        say(f"wrote {plot_file}")
    if dry_run:
        return
    log = log_file.open("w") if log_file is not None else None
    try:
        tracker = Tracker(schedule, SimClock(start, speed), rotator=rotator, radio=radio, rate_hz=rate_hz,
                          deadband_deg=deadband_deg, park=park_mode, log=log, status=say)  # type: ignore[arg-type]
        report = tracker.run()
    finally:
        if log is not None:
            log.close()
        for client in (rotator, radio):
            if client is not None:
                client.close()
    summary = report.as_dict()
    click.echo(json.dumps(summary, indent=1))
    if report.interrupted:
        raise SystemExit(130)


def _track_plot(path: Path, tle: Tle, station: GroundStation, schedule: TrackSchedule) -> None:
    import numpy as np

    from .skyplot import sky_plot_png

    plan = schedule.plan
    look = look_angles(tle, station, schedule.aos_utc, schedule.t_s)
    commanded = (np.asarray(plan.cmd_az_deg), np.asarray(plan.cmd_el_deg)) if plan is not None else None
    sky_plot_png(path, schedule.pass_, look, station, commanded=commanded)


def _backlog(items: tuple[str, ...]) -> dict[int, int]:
    out: dict[int, int] = {}
    for item in items:
        vc, _, octets = item.partition("=")
        try:
            out[int(vc)] = int(float(octets))
        except ValueError as e:
            raise click.BadParameter(f"{item!r}: give VC=OCTETS, e.g. 2=1500000", param_hint="--backlog") from e
    return out


@click.command("plan", context_settings={"help_option_names": ["-h", "--help"]})
@_stations_option
@click.option("--station", "station_names", multiple=True, help="only these stations (repeat)")
@_tle_option
@_satellite_option
@click.option("--start", "start_text", default=None, help="ISO 8601 UTC start [now]")
@click.option("--days", type=click.FloatRange(0.01, 14), default=1.0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--backlog", "backlog_items", multiple=True, metavar="VC=OCTETS",
              help="packet octets waiting on board on a VC (repeat): when each VC's backlog comes down")
@click.option("--target", "targets", multiple=True, metavar="LAT,LON[,NAME]",
              help="a ground target (repeat): its imaging windows, and whether a station sees the satellite then; "
                   "with --upload the ADCS images it on its first window (ADCS_SET_TARGET / ADD_TARGET and "
                   "IMAGER_CAPTURE_TARGET) when that window is in contact")
@click.option("--max-off-nadir", "max_off_nadir_deg", type=click.FloatRange(1, 69), default=30.0, show_default=True,
              help="with --target: the ADCS's pointing range off nadir (deg)")
@click.option("--upload", is_flag=True, help="send the plan to the spacecraft: CONTACT_CLEAR, then CONTACT_ADD "
                                            "per segment, through the station (and the targets, with --target)")
@click.option("--api", "api_url", envvar="TTC_API", default=None, help="with --upload: station API; env TTC_API")
@click.option("--events", "events_url", envvar="TTC_EVENTS", default=None,
              help="with --upload: station live stream; env TTC_EVENTS")
def plan(stations_file: Path | None, station_names: tuple[str, ...], tle_files: tuple[Path, ...],
         satellite: str | None, start_text: str | None, days: float, fmt: str, backlog_items: tuple[str, ...],
         targets: tuple[str, ...], max_off_nadir_deg: float, upload: bool, api_url: str | None,
         events_url: str | None) -> None:
    """The contact plan: contacts over the station network, their rate segments and byte budgets."""
    from groundstation.mission import selected

    from .plan import plan_contacts, plan_targets, predict_delivery

    stations = _load_stations(stations_file, station_names)
    tle = _one_satellite(tle_files, satellite)
    start = parse_start(start_text)
    mission = selected()
    fraction = mission.downlink.frame.data_field_len / mission.downlink.cadu_len
    contacts = plan_contacts(tle, stations, start, days=days)
    segments = [s for c in contacts for s in c.segments]
    delivery = predict_delivery(contacts, _backlog(backlog_items), mission.link.downlink.priorities,
                                packet_fraction=fraction) if backlog_items else None
    imaging = plan_targets(tle, [_target(t) for t in targets], contacts, stations, start, days=days,
                           max_off_nadir_deg=max_off_nadir_deg)
    if fmt == "json":
        doc: dict[str, object] = {"satellite": tle.name, "start_utc": start.isoformat().replace("+00:00", "Z"),
                                  "days": days, "stations": [s.name for s in stations],
                                  "packet_fraction": round(fraction, 6),
                                  "contacts": [c.as_dict(fraction) for c in contacts]}
        if imaging:
            doc["targets"] = [{"target": tp.target.name, "lat_deg": tp.target.lat_deg, "lon_deg": tp.target.lon_deg,
                               "same_contact": tp.same_contact,
                               "windows": [w.as_dict() | {"contact": ci} for w, ci in zip(tp.windows, tp.contact_of)]}
                              for tp in imaging]
        if delivery is not None:
            doc["delivery"] = {"per_contact": [{str(vc): n for vc, n in d.items()} for d in delivery.per_contact],
                               "done_in_contact": {str(vc): i for vc, i in delivery.done_in.items()},
                               "left_octets": {str(vc): n for vc, n in delivery.left_octets.items()}}
        click.echo(json.dumps(doc, indent=1))
    else:
        _plan_table(contacts, fraction, delivery)
        for tp in imaging:
            w = tp.flown
            if w is None:
                click.echo(f"target {tp.target.name}: no window within {days:g} days")
            else:
                where = f"in contact {tp.contact_of[0]}" if tp.same_contact else "with no station in view"
                click.echo(f"target {tp.target.name}: first window {w.start_utc:%m-%d %H:%M:%S}-{w.end_utc:%H:%M:%S} "
                           f"UTC, {w.min_off_nadir_deg:.1f} deg off nadir, {where}")
    if upload:
        _upload(segments, api_url, events_url)
        if imaging:
            _upload_targets(imaging, tle, max_off_nadir_deg, api_url, events_url)


def _plan_table(contacts: list, fraction: float, delivery: object) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 130)
    table = Table(title=f"{len(contacts)} contacts (UTC); packet octets = {fraction:.3f} of the air's")
    for col in ("#", "stations", "AOS", "LOS", "min", "segments (kbit/s)", "packet kB"):
        table.add_column(col, justify="right" if col in ("#", "min", "packet kB") else "left")
    for i, c in enumerate(contacts):
        rates = " ".join(f"{s.rate_bps / 1000:g}" for s in c.segments)
        table.add_row(str(i), "+".join(c.stations), f"{c.aos_utc:%m-%d %H:%M:%S}", f"{c.los_utc:%H:%M:%S}",
                      f"{(c.los_utc - c.aos_utc).total_seconds() / 60:.1f}", rates,
                      f"{c.budget_octets * fraction / 1000:.0f}")
    console.print(table)
    if delivery is not None:
        left = delivery.left_octets  # type: ignore[attr-defined]
        for vc, i in delivery.done_in.items():  # type: ignore[attr-defined]
            if i is None:
                console.print(f"VC {vc}: {left[vc]:,} octets still on board after the last contact of this plan")
            else:
                console.print(f"VC {vc}: all down by contact {i} (LOS {contacts[i].los_utc:%m-%d %H:%M:%S} UTC)")


def _upload_targets(imaging: list, tle: Tle, max_off_nadir_deg: float, api_url: str | None,
                    events_url: str | None) -> None:
    """The targets whose first window is in contact, as the ADCS's imaging plan and a capture each."""
    from .client import DEFAULT_API, DEFAULT_EVENTS, StationClient, StationError
    from .plan import min_elevation_deg

    chosen = [tp for tp in imaging if tp.same_contact]
    for tp in imaging:
        if not tp.same_contact:
            click.echo(f"target {tp.target.name}: not uploaded, its first window has no station in view (its "
                       "events would wait for the next contact); upload it after that window", err=True)
    if not chosen:
        return
    chosen.sort(key=lambda tp: tp.flown.start_utc)
    min_el = round(min_elevation_deg(tle, max_off_nadir_deg), 2)
    try:
        with StationClient(api_url or DEFAULT_API, events_url or DEFAULT_EVENTS) as gs:
            for k, tp in enumerate(chosen, start=1):
                args = {"TARGET_ID": k, "LAT": tp.target.lat_deg, "LON": tp.target.lon_deg,
                        "ALT": tp.target.alt_m, "MIN_ELEVATION": min_el}
                gs.send("ADCS_SET_TARGET" if k == 1 else "ADCS_ADD_TARGET", args)
                gs.send("IMAGER_CAPTURE_TARGET", {"TARGET_ID": k})
    except StationError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"sent {len(chosen)} targets (MIN_ELEVATION {min_el} deg) and a capture each", err=True)


def _upload(segments: list, api_url: str | None, events_url: str | None) -> None:
    from .client import DEFAULT_API, DEFAULT_EVENTS, StationClient, StationError

    if len(segments) > 64:
        raise click.ClickException(f"{len(segments)} segments: the spacecraft holds 64; plan fewer --days")
    try:
        with StationClient(api_url or DEFAULT_API, events_url or DEFAULT_EVENTS) as gs:
            ids = [gs.send("CONTACT_CLEAR")] + [gs.send("CONTACT_ADD", s.command_args()) for s in segments]
    except StationError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"sent CONTACT_CLEAR and {len(segments)} CONTACT_ADD: commands {ids[0]}..{ids[-1]}", err=True)


commands = [passes, track, plan]
