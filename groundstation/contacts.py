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

__all__ = ["DEFAULT_TLE_FILE", "passes", "load_tle_files", "parse_start", "commands"]

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


@click.command("passes", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--stations", "stations_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="station file (TOML) [groundstation/stations.toml: Almaty]")
@click.option("--station", "station_names", multiple=True, help="only these stations (repeat)")
@click.option("--tle", "tle_files", type=click.Path(dir_okay=False, exists=True, path_type=Path), multiple=True,
              help="TLE file(s), 2- or 3-line sets [groundstation/ttc-1.tle: the reference mission]")
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
    try:
        stations = _choose(load_stations(stations_file), station_names)
    except StationConfigError as e:
        raise click.ClickException(str(e)) from e
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


commands = [passes]
