"""``ttc decode`` of many files: one task per file, on this machine's cores or a Dask cluster; one merged summary.

``ttc decode DIR``, ``ttc decode 'pass-*.cadu'`` (a quoted glob; ``**`` recurses) or several FILEs decode
each file as :func:`groundstation.offline.decode_file` does one, as a task:

* on this machine by default, ``--jobs`` processes at once (one per core unless told): the standard
  library's :class:`concurrent.futures.ProcessPoolExecutor`, spawned workers;
* on an existing ``dask.distributed`` cluster with ``--scheduler tcp://HOST:8786`` (``ttc[cluster]``): one
  Dask task per file; the workers must see the files, the export directory and a ``--mission`` file at
  the same paths (a shared file system), as Dask's file-based work always does.

The summary sums the files' counters (``packets_by_apid`` and ``frames_by_vc`` per key) and checks
continuity across them in name order, as one stream would be checked: a file's first packet sequence
count per APID is compared with the last one before it (in any earlier file), its first VC frame count
per VC likewise. A break is counted in ``packet_gaps``/``packets_missing`` (``frame_gaps``/
``frames_missing``), as the single-file decode counts one inside a file, and listed in ``boundaries``
(which file before, which after, where; the first :data:`MAX_LISTED` only, all counted in
``boundary_gaps``). A packet that a file boundary cuts in two is dropped by both files' decoders (as a
station drops one across an outage), so it shows as a one-packet gap at that boundary. ``per_file`` holds
each file's own summary; a file that cannot be decoded is listed with its ``error`` and makes the exit
status 1 once the others are done.

Exports: ``--packets DIR`` / ``--parameters DIR`` get one file per input, named after it (its path
under the DIR given, or its name; ``.csv``, ``.jsonl``, ``.parquet`` or ``.bin``); with ``--partition``
the Parquet parameters of every input land in one dataset, ``DIR/packet=NAME/day=YYYY-MM-DD/NAME.parquet``
(DuckDB: ``read_parquet('DIR/**/*.parquet', hive_partitioning = true)``).
"""

from __future__ import annotations

import glob
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from protocol.spacepacket import SEQ_COUNT_MODULO
from protocol.stack import Continuity

from .mission import choose, spec

__all__ = ["FileJob", "expand_inputs", "merge", "run_job", "run_many"]

MAX_LISTED = 1000  # boundary breaks listed in the summary (all are counted)
GLOB_CHARS = frozenset("*?[")
EXPORT_SUFFIX = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet", "raw": ".bin"}
# summary entries that are not summed: positions, settings, per-file facts
NOT_SUMMED = frozenset({"file", "setup", "stopped", "packets_md5", "recording_first_damage_offset",
                        "kiss_first_reject_offset", "iq_radio", "iq_freq_offset_hz"})


def expand_inputs(inputs: Iterable[str]) -> list[tuple[Path, str]]:
    """The files named, each once, with the name its exports take: FILEs as given (their stem), a DIR's files
    (recursively, in name order, hidden ones and SigMF ``.sigmf-meta`` companions left out; their path under
    DIR), a GLOB's matches in name order (their stem)."""
    out: dict[Path, str] = {}
    names = list(inputs)
    if "-" in names and len(names) > 1:
        raise click.UsageError("- (stdin) can only be decoded alone")
    for name in names:
        path = Path(name)
        if name == "-" or (path.exists() and not path.is_dir()):
            out.setdefault(path, "stdin" if name == "-" else path.stem)
        elif path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _wanted(p.relative_to(path)))
            if not found:
                raise click.UsageError(f"{name} is a directory with no files in it")
            for p in found:
                out.setdefault(p, str(p.relative_to(path).with_suffix("")))
        elif GLOB_CHARS & set(name):
            found = sorted(Path(p) for p in glob.glob(name, recursive=True) if Path(p).is_file())
            if not found:
                raise click.UsageError(f"no file matches {name}")
            for p in found:
                out.setdefault(p, p.stem)
        else:
            raise click.UsageError(f"{name} does not exist")
    taken: set[str] = set()
    unique = []
    for p, base in out.items():  # two inputs of the same name export to NAME and NAME-2
        stem, k = base, 1
        while stem in taken:
            k += 1
            stem = f"{base}-{k}"
        taken.add(stem)
        unique.append((p, stem))
    return unique


def _wanted(rel: Path) -> bool:
    return not any(part.startswith(".") for part in rel.parts) and rel.suffix != ".sigmf-meta"


@dataclass(frozen=True)
class FileJob:
    """One file to decode, with everything a worker needs (it pickles: it travels to a Dask worker)."""

    path: str
    name: str  # what its exports are named after
    layer: str | None
    overrides: Any  # offline.Overrides
    radio: dict[str, Any]
    max_octets: int | None
    fmt: str
    packets_path: str | None
    parameters_path: str | None
    partition: bool
    mission: str | None


def run_job(job: FileJob) -> dict[str, Any]:
    """Decode one file (in a worker): its summary, warnings, failure and continuity, or the error it met."""
    from .offline import DecodeFailed, decode_file, open_input

    if spec() != job.mission:
        choose(job.mission)
    out: dict[str, Any] = {"file": job.path}
    try:
        src = open_input(Path(job.path), radio=job.radio, max_octets=job.max_octets)
        try:
            outcome = decode_file(src, job.layer, job.overrides, fmt=job.fmt, progress=False,
                                  packets_path=None if job.packets_path is None else Path(job.packets_path),
                                  parameters_path=None if job.parameters_path is None else Path(job.parameters_path),
                                  partition=job.partition, part_name=job.name)
        finally:
            src.close()
    except click.ClickException as e:  # DecodeFailed, and the mission failing to load
        out["error"] = e.format_message()
        return out
    out.update(summary=outcome.summary, warnings=outcome.warnings, continuity=outcome.continuity)
    if outcome.failure is not None:
        out["error"] = outcome.failure
    return out


def _out_dir(path: Path | None, what: str) -> Path | None:
    if path is None:
        return None
    if path.exists() and not path.is_dir():
        raise click.UsageError(f"{what} {path}: with many files this is a directory (one export per file)")
    path.mkdir(parents=True, exist_ok=True)
    return path


def jobs_for(files: list[tuple[Path, str]], *, layer: str | None, overrides: Any, radio: dict[str, Any],
             max_octets: int | None, packets_dir: Path | None, parameters_dir: Path | None, fmt: str,
             partition: bool) -> list[FileJob]:
    """One :class:`FileJob` per (file, export name)."""
    packets_dir = _out_dir(packets_dir, "--packets")
    parameters_dir = _out_dir(parameters_dir, "--parameters")
    suffix = EXPORT_SUFFIX[fmt]
    out = []
    for f, name in files:
        pk = None if packets_dir is None else packets_dir / (name + suffix)
        if parameters_dir is None:
            pa = None
        else:
            pa = parameters_dir if partition else parameters_dir / (name + suffix)
        for p in (pk, pa):
            if p is not None and p != parameters_dir:
                p.parent.mkdir(parents=True, exist_ok=True)
        out.append(FileJob(str(f), name, layer, overrides, radio, max_octets, fmt, None if pk is None else str(pk),
                           None if pa is None else str(pa), partition, spec()))
    return out


def execute(jobs: list[FileJob], *, workers: int | None, scheduler: str | None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Run the jobs; yield (job index, result) as each ends (in any order)."""
    if scheduler is not None:
        yield from _on_dask(jobs, scheduler)
        return
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        for i, job in enumerate(jobs):
            yield i, run_job(job)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawned, not forked: a worker starts clean of the parent's threads and sockets
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _on_dask(jobs: list[FileJob], scheduler: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        from distributed import Client, as_completed
    except ImportError as e:
        raise click.ClickException("--scheduler needs dask.distributed: pip install 'ttc[cluster]'") from e
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as e:
        raise click.ClickException(f"cannot reach the Dask scheduler at {scheduler}: {e}") from e
    try:
        futures = client.map(run_job, jobs, pure=False, key=[f"ttc-decode-{i}" for i in range(len(jobs))])
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            try:
                yield index[fut.key], fut.result()
            except Exception as e:  # a worker lost, a task that raised: that file failed, the rest go on
                yield index[fut.key], {"file": jobs[index[fut.key]].path, "error": f"the Dask task failed: {e}"}
    finally:
        client.close()


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary of the files' results (in name order): counters summed, continuity checked across files."""
    total: dict[str, Any] = {"files": len(results), "files_failed": 0, "octets": 0}
    per_file: list[dict[str, Any]] = []
    boundaries: list[dict[str, Any]] = []
    gaps = 0
    last_seq: dict[int, tuple[int, str]] = {}  # apid -> (last count, the file it was in)
    last_vc: dict[int, tuple[int, str]] = {}
    for r in results:
        s = r.get("summary")
        if "error" in r:
            total["files_failed"] += 1
        if s is None:
            per_file.append({"file": r["file"], "error": r["error"]})
            continue
        per_file.append({**s, **({"error": r["error"]} if "error" in r else {})})
        for k, v in s.items():
            if k in NOT_SUMMED:
                continue
            if isinstance(v, dict):
                into = total.setdefault(k, {})
                for kk, vv in v.items():
                    into[kk] = into.get(kk, 0) + vv
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                total[k] = total.get(k, 0) + v
        cont: Continuity | None = r.get("continuity")
        if cont is not None:
            gaps += _continue(total, boundaries, r["file"], "packet", "apid", cont.seq, last_seq, SEQ_COUNT_MODULO)
            gaps += _continue(total, boundaries, r["file"], "frame", "vcid", cont.vc, last_vc, cont.vc_modulo)
    for k in ("packets_by_apid", "frames_by_vc"):
        if k in total:
            total[k] = dict(sorted(total[k].items(), key=lambda kv: int(kv[0])))
    total.update(boundary_gaps=gaps, boundaries=boundaries, per_file=per_file)
    return total


def _continue(total: dict[str, Any], boundaries: list[dict[str, Any]], file: str, unit: str, key_name: str,
              firsts: dict[int, tuple[int, int]], lasts: dict[int, tuple[int, str]], modulo: int) -> int:
    """Check one file's first counts (``unit``: packet per APID, frame per VC) against the last ones before it:
    each break counted in ``{unit}_gaps``/``{unit}s_missing`` and listed; ``lasts`` moved on; how many breaks."""
    breaks = 0
    for key, (first, last) in sorted(firsts.items()):
        if key in lasts:
            prev, where = lasts[key]
            missing = (first - prev - 1) % modulo
            if missing:
                breaks += 1
                total[f"{unit}_gaps"] = total.get(f"{unit}_gaps", 0) + 1
                total[f"{unit}s_missing"] = total.get(f"{unit}s_missing", 0) + missing
                if len(boundaries) < MAX_LISTED:
                    boundaries.append({"after": where, "before": file, f"{unit}s": missing, key_name: key,
                                       "expected": (prev + 1) % modulo, "got": first})
        lasts[key] = (last, file)
    return breaks


def run_many(files: list[tuple[Path, str]], *, layer: str | None, overrides: Any, radio: dict[str, Any],
             max_octets: int | None, packets_dir: Path | None, parameters_dir: Path | None, fmt: str,
             partition: bool, jobs: int | None, scheduler: str | None, as_json: bool,
             progress: bool | None) -> None:
    """``ttc decode`` of many files: decode them all, print the merged summary; exit 1 if any file failed."""
    from .offline import _Progress

    if any(str(f) == "-" for f, _ in files):
        raise click.UsageError("- (stdin) can only be decoded alone")
    work = jobs_for(files, layer=layer, overrides=overrides, radio=radio, max_octets=max_octets,
                    packets_dir=packets_dir, parameters_dir=parameters_dir, fmt=fmt, partition=partition)
    sizes = [f.stat().st_size for f, _ in files]
    show = progress if progress is not None else sys.stderr.isatty()
    bar = _Progress(sum(sizes), f"decoding {len(files)} files", enabled=show)
    results: list[dict[str, Any] | None] = [None] * len(work)
    done = 0
    try:
        for i, result in execute(work, workers=jobs, scheduler=scheduler):
            results[i] = result
            done += sizes[i]
            bar(done)
    except KeyboardInterrupt:
        bar.close()
        click.echo("interrupted: no summary of the files (the exports written so far stay)", err=True)
        sys.exit(130)
    bar.close()
    summary = merge([r for r in results if r is not None])
    if as_json:
        click.echo(json.dumps(summary))
    else:
        _print_many(summary)
    for r in results:
        for text in (r or {}).get("warnings", []):
            click.echo(f"warning: {text}", err=True)
    failed = [r for r in results if r is not None and "error" in r]
    for r in failed:
        click.echo(f"error: {r['error']}", err=True)
    if failed:
        sys.exit(1)


def _print_many(summary: dict[str, Any]) -> None:
    from .offline import SECTIONS, _print_tables, _show

    files = summary["per_file"]
    rows = []
    for s in files:
        if "frames" not in s:
            rows.append((s["file"], f"failed: {s['error']}"))
            continue
        line = (f"{s['octets']} octets, {s['frames']} frames, {s['packets']} packets, "
                f"{s['packet_gaps']} packet gaps, {s['crc_errors']} CRC errors")
        rows.append((s["file"], line + (f"; failed: {s['error']}" if "error" in s else "")))
    sections = [("files", rows)]
    for name, keys in SECTIONS:
        sections.append((f"{name} layer (all files)", [(k, _show(summary.get(k))) for k in keys]))
    edges = [(f"{b['after']} -> {b['before']}",
              f"{'APID' if 'apid' in b else 'VC'} {b.get('apid', b.get('vcid'))}: "
              f"{b.get('packets', b.get('frames'))} missing (expected {b['expected']}, got {b['got']})")
             for b in summary["boundaries"]]
    if edges:
        sections.append((f"breaks between files ({summary['boundary_gaps']})", edges))
    _print_tables(f"{summary['files']} files, {summary['octets']} octets, {summary['files_failed']} failed",
                  sections)
