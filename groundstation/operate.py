"""The operator's commands: ``ttc station``, ``send``, ``monitor``, ``events``, ``history``, ``archive export``.

All but ``station`` talk to a running station through its API
(:mod:`groundstation.client`); ``--api`` / ``--events`` default to $TTC_API /
$TTC_EVENTS or the station's default loopback ports.

Exit codes of ``ttc send``: 0 done (or reached the ``--wait`` stage), 1 a
verification stage failed, 2 refused before anything was sent (unknown
command, bad argument), 3 timeout, 4 the station did not answer.
"""

from __future__ import annotations

import csv
import json
import os
import math
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from protocol.errors import ProtocolError

from .api import parse_time_ns
from .archive import TABLES, Archive
from .client import (
    DEFAULT_API,
    DEFAULT_EVENTS,
    WAIT_STAGES,
    CommandFailed,
    CommandTimeout,
    RequestRefused,
    StationClient,
    StationError,
    StationUnavailable,
)
from .mission import selected
from .station import main as station_main

__all__ = ["commands", "send", "monitor", "events", "history", "archive", "parse_when"]

EXIT_FAILED, EXIT_REFUSED, EXIT_TIMEOUT, EXIT_UNAVAILABLE = 1, 2, 3, 4
LEVEL_STYLE = {0: "green", 1: "yellow", 2: "bold red", 3: "bold magenta"}
LEVEL_NAME = {0: "NOMINAL", 1: "WARNING", 2: "CRITICAL", 3: "INVALID"}

_api_option = click.option("--api", "api_url", envvar="TTC_API", default=DEFAULT_API, show_default=True,
                           help="station API (ROUTER) endpoint; env TTC_API")
_events_option = click.option("--events", "events_url", envvar="TTC_EVENTS", default=DEFAULT_EVENTS,
                              show_default=True, help="station live-stream (PUB) endpoint; env TTC_EVENTS")

_RELATIVE = re.compile(r"^([+-])(\d+(?:\.\d+)?)([smhd]?)$")


def parse_when(text: str) -> float:
    """UNIX seconds for 'now', a relative '+30s' / '-10m' / '-2h' / '-1d', or an ISO-8601 UTC time."""
    t = text.strip().lower()
    if t == "now":
        return time.time()
    m = _RELATIVE.match(t)
    if m:
        sign, amount, unit = m.groups()
        seconds = float(amount) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
        return time.time() + (seconds if sign == "+" else -seconds)
    try:
        return parse_time_ns(text) / 1e9
    except TypeError as e:
        raise click.BadParameter(f"{text!r}: allowed now, +30s, -10m, -2h, -1d or an ISO-8601 UTC time "
                                 f"such as 2030-01-02T03:04:05Z") from e


def _when(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    return None if value is None else parse_when(value)


def _value(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _client(api_url: str, events_url: str, timeout_s: float = 5.0) -> StationClient:
    return StationClient(api_url, events_url, timeout_s=timeout_s)


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


# ====================================================================== send

@click.command()
@click.argument("name")
@click.argument("assignments", nargs=-1, metavar="[ARG=VALUE]...")
@click.option("--wait", "wait_stage", type=click.Choice(WAIT_STAGES[1:]), default=None,
              help="wait until the command reaches this verification stage, showing each stage")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0, 86400), default=30.0, show_default=True,
              help="seconds to wait for the stage")
@click.option("--at", "at_s", callback=_when, default=None,
              help="release time on board (TC[11,4]): ISO-8601 UTC or +S relative to now")
@click.option("--raw", "raw_values", is_flag=True,
              help="every VALUE is the wire value (a calibrated argument otherwise takes engineering units; "
                   "ARG=raw:N does this for one argument)")
@click.option("--yes", "-y", "confirmed", is_flag=True, help="confirm a hazardous command without asking (scripts)")
@click.option("--bypass", is_flag=True,
              help="send it with the expedited service (a BD frame, past FARM-1's sequence check) even when "
                   "COP-1's AD service is initiated")
@_api_option
@_events_option
def send(name: str, assignments: tuple[str, ...], wait_stage: str | None, timeout_s: float, at_s: float | None,
         raw_values: bool, confirmed: bool, bypass: bool, api_url: str, events_url: str) -> None:
    """Send command NAME with ARG=VALUE arguments, checked against the mission dictionary first.

    Values are in the units `ttc db show NAME` lists (engineering units for calibrated arguments).
    A hazardous command is sent only once confirmed (asked here, or --yes).
    """
    args: dict[str, Any] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"argument {item!r} is not ARG=VALUE", EXIT_REFUSED)
        args[key.upper()] = f"raw:{value}" if raw_values and not value.lower().startswith("raw:") else _value(value)
    try:
        cmd = selected().command(name)
        wire = cmd.validate(args)
    except ProtocolError as e:
        _fail(f"{e}; nothing sent", EXIT_REFUSED)
    if cmd.hazardous and not confirmed:
        shown = " ".join(f"{a.name}={a.label(wire[a.name])}" + (f" (raw {wire[a.name]:g})" if a.calibration else "")
                         for a in cmd.arguments)
        try:
            ok = click.confirm(f"{cmd.name} {shown} is hazardous: {cmd.description}. Send it?", default=False,
                               err=True)
        except click.Abort:
            ok = False
        if not ok:
            _fail(f"{cmd.name} is hazardous and was not confirmed; nothing sent (--yes confirms it in scripts)",
                  EXIT_REFUSED)
    with _client(api_url, events_url) as gs:
        try:
            result = gs.request("send", name=cmd.name, args=args, at=at_s, confirm=cmd.hazardous or None,
                                bypass=bypass or None)
        except RequestRefused as e:
            _fail(f"station refused {cmd.name}: {e.message}", EXIT_REFUSED)
        except StationUnavailable as e:
            _fail(str(e), EXIT_UNAVAILABLE)
        command_id = int(result["command_id"])
        tagged = f", released on board at {result['release_at']}" if result.get("release_at") else ""
        service = result.get("service", "BD")
        how = "sent" if result.get("status") == "sent" else "queued for COP-1"
        click.echo(f"command {command_id} {cmd.name} {how} (APID 0x{result['apid']:03X}, sequence count "
                   f"{result['sequence_count']}, {service}{tagged})")
        if wait_stage is None:
            return

        def show(stage: dict[str, Any]) -> None:
            if stage["of"] == "station":
                return
            of = " (TC[11,4] insert)" if stage["of"] == "schedule" else ""
            verdict = "ok" if stage["ok"] else f"FAILED {stage.get('reason')} (code {stage.get('code')})"
            click.echo(f"  {stage['stage']:<9} {verdict}{of}  at {stage['time']}")

        try:
            gs.wait(command_id, wait_stage, timeout_s=timeout_s, on_stage=show)
        except CommandFailed as e:
            _fail(str(e), EXIT_FAILED)
        except CommandTimeout as e:
            _fail(str(e), EXIT_TIMEOUT)
        except StationUnavailable as e:
            _fail(str(e), EXIT_UNAVAILABLE)
        click.echo(f"command {command_id} {wait_stage}")


# ====================================================================== monitor

def _link_line(link: dict[str, Any]) -> Any:
    """The link-status header: AOS/LOS, frames/s, RS corrections, last frame, open gaps."""
    from rich.text import Text

    state = link.get("state", "NEVER")
    style = {"AOS": "bold green", "LOS": "bold red"}.get(state, "bold yellow")
    age = link.get("last_frame_age_s")
    last = "no frame yet" if age is None else f"last frame {age:.1f} s ago"
    return Text.assemble(("link ", "bold"), (state, style),
                         f"  {link.get('frames_per_s', 0):g} frames/s  RS corrected {link.get('rs_corrected', 0)}, "
                         f"uncorrectable {link.get('rs_uncorrectable', 0)}  {last}  gaps open {link.get('open_gaps', 0)}")


def _snapshot(gs: StationClient, *, names: tuple[str, ...], events_n: int, stale_factor: float | None = None,
              expire_factor: float | None = None, height: int | None = None) -> Any:
    """The monitor's view; with ``height`` (a terminal's rows) it fits them: out-of-limit and stale values
    first, the rest counted in a "+N more" row, three events, no empty detections table."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    latest = gs.latest(stale_factor=stale_factor, expire_factor=expire_factor)
    wanted = {n.upper() for n in names}
    params = Table(title="parameters", title_justify="left", expand=False)
    for col in ("parameter", "value", "unit", "raw", "limit", "on-board time"):
        params.add_column(col, no_wrap=True)
    rows = [p for p in latest["parameters"] if not wanted or p["name"] in wanted]
    dropped = 0
    if height is not None:
        events_n = min(events_n, 3)
        room = max(3, height - 20 - len(latest["alarms"]))  # the header, the tables' titles and rules, 3 events
        if len(rows) > room:
            rows.sort(key=lambda p: (p["level"] == 0 and p.get("freshness", "FRESH") == "FRESH", p["name"]))
            rows, dropped = rows[:room - 1], len(rows) - (room - 1)
    for p in rows:
        style = LEVEL_STYLE.get(p["level"], "")
        eng = p["eng"]
        value = ("-" if eng is None or (isinstance(eng, float) and not math.isfinite(eng))
                 else f"{eng:.3f}".rstrip("0").rstrip(".") if isinstance(eng, float) else str(eng))
        level = LEVEL_NAME.get(p["level"], str(p["level"]))
        fresh = p.get("freshness", "FRESH")
        if fresh != "FRESH":  # an old value is no news of now, whatever its level was
            style, level = "dim", f"{fresh} {p.get('age_s', 0):.0f}s ({level})"
        params.add_row(p["name"], Text(value, style=style), p["unit"], str(p["raw"]), Text(level, style=style),
                       p.get("obt") or "")
    if dropped:
        params.add_row(Text(f"+{dropped} more (--name to choose)", style="dim"), "", "", "", "", "")
    alarms = Table(title="alarms standing", title_justify="left")
    alarms.add_column("parameter", no_wrap=True)
    alarms.add_column("level")
    for name, level in sorted(latest["alarms"].items()):
        alarms.add_row(name, Text(LEVEL_NAME.get(level, str(level)), style=LEVEL_STYLE.get(level, "")))
    detections = Table(title="latest detections (onboard image analysis)", title_justify="left")
    for col in ("earth-receive time", "kind", "lat", "lon", "area m2", "confidence", "image"):
        detections.add_column(col, no_wrap=True)
    for e in gs.events(kind="detection", limit=5, newest=True):
        d = e.get("data") or {}
        style = "bold red" if e["severity"] == "HIGH" else "yellow" if e["severity"] == "MEDIUM" else ""
        detections.add_row(e["ert"], Text(e["name"], style=style), f"{d.get('lat_deg', 0):.5f}",
                           f"{d.get('lon_deg', 0):.5f}", str(d.get("area_m2")), f"{d.get('confidence_pct')} %",
                           f"{d.get('image_id')} #{d.get('detection')}")
    evs = Table(title=f"last {events_n} events", title_justify="left")
    for col in ("earth-receive time", "kind", "severity", "name", "text"):
        evs.add_column(col, no_wrap=col != "text")
    for e in gs.events(limit=events_n, newest=True):
        sev = e["severity"]
        style = "bold red" if sev in ("HIGH", "CRITICAL") else "yellow" if sev in ("MEDIUM", "WARNING") else ""
        evs.add_row(e["ert"], e["kind"], Text(sev, style=style), e["name"], e["text"])
    parts = [_link_line(latest.get("link") or {})]
    if latest.get("cop1"):  # the uplink: FOP-1's state, its queues and the last CLCW
        cop1_lines = _cop1_status_lines(latest["cop1"])
        style = "bold red" if latest["cop1"].get("alerts") and latest["cop1"]["state"] == "S6" else ""
        parts.append(Text("\n".join(cop1_lines if height is None else cop1_lines[:1]), style=style))
    parts += [params, alarms]
    if height is None or detections.row_count:
        parts.append(detections)
    return Group(*parts, evs)


def _check_parameter_names(names: tuple[str, ...]) -> None:
    """A --name the dictionary does not know is a usage error that suggests the nearest known names."""
    import difflib

    known = selected().parameters
    for n in names:
        if n.upper() not in known:
            close = difflib.get_close_matches(n.upper(), list(known), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else "; `ttc db list` lists them"
            raise click.BadParameter(f"{n!r} is no parameter of the dictionary {selected().name!r}{hint}",
                                     param_hint="--name")


@click.command()
@click.option("--once", is_flag=True, help="print one snapshot and exit")
@click.option("--interval", "interval_s", type=click.FloatRange(0.1, 60), default=1.0, show_default=True,
              help="seconds between refreshes")
@click.option("--events-count", "events_n", type=click.IntRange(1, 200), default=10, show_default=True,
              help="events shown under the table")
@click.option("--name", "names", multiple=True, help="show only these parameters (repeatable)")
@click.option("--stale-factor", type=click.FloatRange(0, min_open=True), default=None,
              help="a value is STALE after this many of its intervals without a newer one [station: 3]")
@click.option("--expire-factor", type=click.FloatRange(0, min_open=True), default=None,
              help="... and EXPIRED after this many [station: 10]")
@_api_option
@_events_option
def monitor(once: bool, interval_s: float, events_n: int, names: tuple[str, ...], stale_factor: float | None,
            expire_factor: float | None, api_url: str, events_url: str) -> None:
    """A live table of parameters (units, limit colouring), alarms standing and the latest events."""
    from rich.console import Console
    from rich.live import Live

    _check_parameter_names(names)
    # a terminal (or $COLUMNS) sets the width; a pipe gets 160 columns
    console = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 160)
    with _client(api_url, events_url) as gs:
        try:
            def snap(*, fit: bool = True) -> Any:
                return _snapshot(gs, names=names, events_n=events_n, stale_factor=stale_factor,
                                 expire_factor=expire_factor, height=console.height if fit else None)

            if once:  # a snapshot is printed whole; the live view fits the terminal
                console.print(snap(fit=False))
                return
            from rich.text import Text

            with Live(snap(), console=console, auto_refresh=False) as live:
                down_since: str | None = None
                while True:
                    # the live stream wakes us when something happens; the interval bounds the refresh rate
                    gs.next_message(timeout_s=interval_s)
                    try:
                        view = snap()
                    except StationUnavailable as e:  # keep trying: it comes back by itself
                        down_since = down_since or time.strftime("%H:%M:%S")
                        live.update(Text(f"station unreachable since {down_since}: {e}; retrying",
                                         style="bold red"), refresh=True)
                        continue
                    down_since = None
                    live.update(view, refresh=True)
        except StationUnavailable as e:
            _fail(str(e), EXIT_UNAVAILABLE)
        except KeyboardInterrupt:
            return


# ====================================================================== events / history

def _event_line(e: dict[str, Any]) -> str:
    obt = f" obt {e['obt']}" if e.get("obt") else ""
    return f"{e.get('ert', '')} {e.get('kind', ''):<7} {e.get('severity', ''):<8} {e.get('name', '')}: " \
           f"{e.get('text', '')}{obt}"


@click.command()
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, help="newest N events")
@click.option("--kind", type=click.Choice(["onboard", "link", "alarm", "station", "detection"]), default=None)
@click.option("--type", "types", multiple=True, metavar="NAME",
              help="only events of this name, e.g. FIRE, SHIP, FLOOD, CLOUD (detections) or BOOT (repeatable)")
@click.option("--follow", is_flag=True, help="then print new events and alarms as they arrive (Ctrl-C stops)")
@click.option("--follow-timeout", "follow_s", type=float, default=None,
              help="with --follow: stop after this many seconds without news")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@_api_option
@_events_option
def events(limit: int, kind: str | None, types: tuple[str, ...], follow: bool, follow_s: float | None, as_json: bool,
           api_url: str, events_url: str) -> None:
    """On-board events, detections, link events and alarms from the archive (and live with --follow)."""
    names = [t.upper() for t in types] or None
    with _client(api_url, events_url) as gs:
        try:
            prefixes = [f"event.{n}" for n in names] if names else ["event.", "alarm."]
            # with --follow the station's counters (every second) tell that it is there even when nothing happens
            stream = gs.subscribe(*prefixes, "counters") if follow else None
            down = False
            try:
                for e in gs.events(names=names, limit=limit, newest=True, kind=kind):
                    click.echo(json.dumps(e) if as_json else _event_line(e))
            except StationUnavailable as e:
                if not follow:
                    raise
                click.echo(f"station unreachable since {time.strftime('%H:%M:%S')}: {e}; following its live "
                           f"stream at {gs.events_url} until it is back", err=True)
                down = True
            if stream is not None:
                _follow(gs, prefixes, kind, as_json, follow_s, unreachable=down)
        except StationUnavailable as e:
            _fail(str(e), EXIT_UNAVAILABLE)
        except KeyboardInterrupt:
            return


UNREACHABLE_AFTER_S = 3.0  # the station publishes its counters every second: three missed is unreachable


def _follow(gs: StationClient, prefixes: list[str], kind: str | None, as_json: bool, follow_s: float | None, *,
            unreachable: bool = False) -> None:
    """Print live events and alarms; say when the station goes quiet (unreachable) and when it is back."""
    last_msg = last_news = time.monotonic()
    while True:
        msg = gs.next_message(timeout_s=1.0)
        now = time.monotonic()
        if msg is None:
            if not unreachable and now - last_msg > UNREACHABLE_AFTER_S:
                unreachable = True
                since = time.strftime("%H:%M:%S", time.localtime(time.time() - (now - last_msg)))
                click.echo(f"station unreachable since {since}: nothing on its live stream {gs.events_url} "
                           f"for {now - last_msg:.0f} s; waiting for it", err=True)
            if follow_s is not None and now - last_news > follow_s:
                return
            continue
        last_msg = now
        if unreachable:
            unreachable = False
            click.echo(f"station back at {time.strftime('%H:%M:%S')} ({gs.events_url})", err=True)
        if not any(msg.topic.startswith(p) for p in prefixes):
            continue  # the counters: a sign of life only
        last_news = now
        e = msg.data
        if msg.topic.startswith("alarm."):
            e = {**e, "kind": "alarm", "name": e.get("parameter"), "severity": e.get("level_name")
                 if e.get("state") == "raised" else "INFO"}
        if kind is None or e.get("kind") == kind:
            click.echo(json.dumps(e) if as_json else _event_line(e))


def _verdict_text(r: dict[str, Any]) -> str:
    """A command's status, with why when it did not succeed (the stage that failed and its reason)."""
    status = r["status"]
    if status in ("failed", "lost", "timed out"):
        bad = next((s for s in reversed(r["stages"]) if not s["ok"]), None)
        if bad is not None and bad.get("reason"):
            where = f" at {bad['stage']}" if status == "failed" else ""
            return f"{status}{where}: {bad['reason']}"
    return str(status)


def _stage_text(s: dict[str, Any]) -> str:
    of = "insert:" if s["of"] == "schedule" else ""
    return f"{of}{s['stage']}" if s["ok"] else f"{of}{s['stage']}:FAILED({s.get('reason')})"


@click.command()
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="newest N commands")
@click.option("--id", "command_id", type=click.IntRange(1), default=None, help="one command")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per command")
@click.option("--stages", "show_stages", is_flag=True, help="also every verification stage with its time")
@_api_option
@_events_option
def history(limit: int, command_id: int | None, as_json: bool, show_stages: bool, api_url: str,
            events_url: str) -> None:
    """Command history: one line per command with its verdict (and with --stages every stage and its time)."""
    with _client(api_url, events_url) as gs:
        try:
            rows = gs.history(command_id, limit=limit)
        except StationUnavailable as e:
            _fail(str(e), EXIT_UNAVAILABLE)
    for r in rows:
        if as_json:
            click.echo(json.dumps(r))
            continue
        args = " ".join(f"{k}={v}" for k, v in r["args"].items())
        tagged = f" @ {r['release_at']}" if r.get("release_at") else ""
        click.echo(f"{r['id']:>5} {r['submitted']} {r['name']} {args}{tagged} [{_verdict_text(r)}]")
        for s in r["stages"] if show_stages else ():
            click.echo(f"        {s['time']}  {_stage_text(s)}")


# ====================================================================== archive export

#: Tables the station API serves rows of (the raw CADUs only from the archive file: they are the bulk of it).
API_TABLES = ("parameters", "packets", "events", "alarms")


def _rows_from_api(gs: StationClient, table: str, names: list[str] | None, start: float | None,
                   end: float | None) -> Iterator[dict[str, Any]]:
    after: int | None = None
    while True:
        rows = gs.request(table, names=names, after_id=after, limit=5000, **{"from": start, "to": end})
        yield from rows
        if len(rows) < 5000:
            return
        after = rows[-1]["id"]


def _write(rows: Iterator[dict[str, Any]], columns: tuple[str, ...], fmt: str, output: Path | None) -> int:
    n = 0
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as e:
            raise click.ClickException("parquet export needs pyarrow: pip install 'ttc[parquet]'") from e
        if output is None:
            raise click.UsageError("--format parquet needs --output FILE")
        data: dict[str, list[Any]] = {c: [] for c in columns}
        for r in rows:
            for c in columns:
                v = r.get(c)
                # eng holds numbers or state names: a parquet column has one type, so text it is
                data[c].append(None if v is None else str(v) if c == "eng" else v)
            n += 1
        pq.write_table(pa.table(data), output)
        return n
    out = open(output, "w", newline="") if output else sys.stdout  # noqa: SIM115 - closed below
    try:
        if fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
            writer.writeheader()
            for r in rows:
                writer.writerow({k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in r.items()})
                n += 1
        else:
            for r in rows:
                out.write(json.dumps({c: r.get(c) for c in columns}) + "\n")
                n += 1
    finally:
        if output:
            out.close()
    return n


@click.group()
def archive() -> None:
    """Read the station archive."""


@archive.command("export")
@click.option("--from", "start", callback=_when, default=None, help="earth-receive time from (ISO-8601 or -10m)")
@click.option("--to", "end", callback=_when, default=None, help="earth-receive time until (exclusive)")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv", show_default=True)
@click.option("--table", type=click.Choice(list(TABLES)), default="parameters", show_default=True,
              help="what to export")
@click.option("--name", "names", multiple=True, help="only these parameters / events / packets (repeatable)")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="file to write (default: standard output; parquet needs a file)")
@click.option("--archive", "archive_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="read this archive file directly instead of asking the station")
@_api_option
@_events_option
def export(start: float | None, end: float | None, fmt: str, table: str, names: tuple[str, ...],
           output: Path | None, archive_path: Path | None, api_url: str, events_url: str) -> None:
    """Export archived parameters, packets, events, alarms or CADUs as csv, jsonl or parquet."""
    name_list = [n.upper() for n in names] or None
    columns = TABLES[table]
    if archive_path is not None:
        arc = Archive(archive_path)
        try:
            n = _write(arc.iter_rows(table, names=name_list, from_ns=None if start is None else int(start * 1e9),
                                     to_ns=None if end is None else int(end * 1e9)), columns, fmt, output)
        finally:
            arc.close()
    else:
        if table not in API_TABLES:
            _fail(f"the station API does not serve the {table} table; read the archive file directly with "
                  f"--archive station.db", EXIT_REFUSED)
        with _client(api_url, events_url, timeout_s=30.0) as gs:
            try:
                n = _write(_rows_from_api(gs, table, name_list, start, end), columns, fmt, output)
            except RequestRefused as e:
                _fail(str(e), EXIT_REFUSED)
            except StationError as e:
                _fail(str(e), EXIT_UNAVAILABLE)
    if output is not None:
        click.echo(f"{n} {table} rows written to {output}", err=True)


station_main.name = "station"

#: Every command this module adds to the ``ttc`` group.
# ====================================================================== cop1

_COP1_HELP = {
    "status": "show FOP-1's state, V(S), NN(R), the queues and the last CLCW",
    "initiate": "Initiate AD service without CLCW check (232.1-B-2 E23)",
    "initiate-check": "Initiate AD service with CLCW check: wait for a CLCW with N(R) = V(S) (E24)",
    "initiate-unlock": "Initiate AD service with Unlock: send the BC frame Unlock (E25)",
    "initiate-set-vr": "Initiate AD service with Set V(R) VALUE: send the BC frame Set V(R) (E27)",
    "terminate": "Terminate AD service: purge both queues, give up what is unacknowledged (E29)",
    "resume": "Resume a suspended AD service (E31-E34)",
    "set-vs": "Set V(S) VALUE in S6 (E35)",
    "set-window": "Set the FOP sliding window width K VALUE, 1..255 (E36)",
    "set-timer": "Set T1_Initial VALUE seconds (E37)",
    "set-limit": "Set the transmission limit VALUE, 1..255 (E38)",
    "set-timeout-type": "Set the timeout type VALUE: 0 alert, 1 suspend (E39)",
}
_NEEDS_VALUE = {"initiate-set-vr", "set-vs", "set-window", "set-timer", "set-limit", "set-timeout-type"}


def _cop1_status_lines(st: dict[str, Any]) -> list[str]:
    clcw = st.get("last_clcw")
    heard = ("no CLCW heard yet" if clcw is None else
             f"last CLCW: N(R) {clcw['report_value']}, lockout {int(clcw['lockout'])}, wait {int(clcw['wait'])}, "
             f"retransmit {int(clcw['retransmit'])}, FARM-B {clcw['farm_b_counter']}")
    alerts = ", ".join(f"{k} {v}" for k, v in st.get("alerts", {}).items()) or "none"
    return [f"COP-1 {st['state']} {st['state_name']} (commands go {st['service']})  V(S) {st['v_s']}  "
            f"NN(R) {st['nn_r']}  K {st['window']}  T1 {st['t1_s']:g} s  limit {st['transmission_limit']}  "
            f"timeout type {st['timeout_type']}  suspend state {st['suspend_state']}",
            f"  sent queue {st['sent_queue']}  wait queue {st['wait_queue']}  AD queue {st['ad_queue_frames']} "
            f"frame(s)  AD frames {st['ad_frames']} ({st['ad_retransmissions']} retransmitted)  BD {st['bd_frames']}"
            f"  BC {st['bc_frames']}",
            f"  {heard}  alerts: {alerts}"]


_COP1_DOC = ("COP-1 of the uplink (CCSDS 232.1-B-2): FOP-1's status, or one of its directives.\n\n\b\n"
             + "\n".join(f"{k:<17} {v}" for k, v in _COP1_HELP.items())
             + "\n\nOnce AD service is initiated, ttc send uses it (ttc send --bypass: BD). Exit status 1 when the "
               "directive was rejected or not confirmed.")


@click.command("cop1", help=_COP1_DOC)
@click.argument("directive", type=click.Choice(list(_COP1_HELP)), default="status")
@click.argument("value", required=False, type=float)
@click.option("--json", "as_json", is_flag=True, help="print the station's answer as JSON")
@_api_option
@_events_option
def cop1(directive: str, value: float | None, as_json: bool, api_url: str, events_url: str) -> None:
    if (directive in _NEEDS_VALUE) != (value is not None):
        _fail(f"cop1 {directive} {'needs a VALUE' if directive in _NEEDS_VALUE else 'takes no VALUE'}", EXIT_REFUSED)
    number: int | float | None = None
    if value is not None:
        number = value if directive == "set-timer" else int(value)
        if directive != "set-timer" and number != value:
            _fail(f"cop1 {directive}: VALUE is {value:g}, allowed an integer", EXIT_REFUSED)
    with _client(api_url, events_url) as gs:
        try:
            answer = gs.request("cop1", directive=directive, value=number)
        except RequestRefused as e:
            _fail(f"station refused cop1 {directive}: {e.message}", EXIT_REFUSED)
        except StationUnavailable as e:
            _fail(str(e), EXIT_UNAVAILABLE)
    if as_json:
        click.echo(json.dumps(answer, indent=1))
    else:
        for r in answer["responses"]:
            why = f": {r['reason']}" if r.get("reason") else ""
            click.echo(f"{r['directive']} ({r['event']}): {r['response']}{why}")
        for line in _cop1_status_lines(answer["status"]):
            click.echo(line)
    if any(r["response"] in ("rejected", "not_confirmed") for r in answer["responses"]):
        sys.exit(EXIT_FAILED)


commands = [station_main, send, monitor, events, history, archive, cop1]
