"""Offline decoding benchmark: ``ttc decode`` on generated CADU files, beside peers and the disk, as ratios.

    python tools/bench/decode.py [--quick] [--json PATH] [--sizes-mb 10,200]

Files are generated with the mission's own encoders (protocol.mission's housekeeping layouts with random
values, PUS-C TM, the reference downlink: TM frames, RS I=4, randomised CADUs): *HK-dense* (only
housekeeping, 31-100-octet packets) and *mixed* (image parts of 1-4 kB between them). A pool of packets
is cycled to reach the size (their sequence counts then jump: counted as gaps, which costs nothing).

Measured in the same run, each ``ttc decode`` in its own process (its peak RSS from getrusage):
* ``ttc decode FILE --json`` (the per-layer summary) in MB/s of CADUs, wall time including the process's
  start-up, and with the start-up (a one-CADU file) subtracted;
* ``ttc decode FILE --parameters out.parquet --format parquet`` (every parameter value exported);
* the limit: reading the file (``cat FILE > /dev/null``, page cache warm);
* peers on the same packets (the packet file the CADUs carry): spacepackets' ``PusTm.unpack`` per packet,
  and ccsdspy's ``FixedLength`` on the HK_POWER packets (in MB/s of the packets they read).
* many files (``ttc decode DIR``): the same HK-dense files decoded in one process (``--jobs 1``), on two
  local processes (``--jobs 2``) and on a Dask ``LocalCluster`` of two worker processes (``--scheduler``);
  the speed-ups are against ``--jobs 1``.
The station at 10 Mbit/s is measured by ``tools/bench/station.py`` (reported as such).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hostinfo import describe  # noqa: E402
from protocol.mission import MISSION  # noqa: E402
from protocol.pus import PusTm  # noqa: E402
from protocol.stack import DownlinkEncoder  # noqa: E402
from protocol.timecode import CucTime  # noqa: E402

TTC = [sys.executable, "-m", "groundstation.cli", "decode"]


def _raw(p: object, rng: np.random.Generator) -> int | float:
    t = p.type  # type: ignore[attr-defined]
    if t.startswith("f"):
        return float(rng.normal(0, 10))
    bits = int(t[1:])
    lo, hi = (0, 2 ** bits - 1) if t[0] == "u" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return int(rng.integers(lo, hi, endpoint=True))


def packet_pool(n: int, *, mixed: bool, seed: int = 1) -> list[bytes]:
    """``n`` PUS-C TM packets of the reference mission (housekeeping; with ``mixed``, image parts too)."""
    rng = np.random.default_rng(seed)
    decls = {id(d): d for d in MISSION.telemetry.values()}.values()
    hk = [d for d in decls if d.sid is not None]
    parts = [d for d in decls if d.tail and d.service == 13]
    out = []
    for i in range(n):
        t = CucTime(coarse_s_raw=2_000_000_000 + i, fine_raw=int(rng.integers(0, 65536)))
        if mixed and parts and i % 4 == 3:
            d = parts[0]
            tail = rng.integers(0, 256, int(rng.integers(1000, 4000)), dtype=np.uint8).tobytes()
            out.append(PusTm(apid=d.apid, service=d.service, subtype=d.subtypes[0], time=t, sequence_count=i % 16384,
                             source_data=d.encode({p.name: _raw(p, rng) for p in d.parameters}, tail=tail)).encode())
            continue
        d = hk[i % len(hk)]
        out.append(PusTm(apid=d.apid, service=3, subtype=25, time=t, sequence_count=i % 16384,
                         source_data=d.encode({p.name: _raw(p, rng) for p in d.parameters})).encode())
    return out


ENCODED_MB = 100  # beyond this, a file repeats its first 100 MB of CADUs (frame counts then jump: gaps, counted)


def cadu_file(path: Path, pool: list[bytes], size_mb: float) -> tuple[int, bytes]:
    """Write CADUs carrying the pool (cycled) up to ``size_mb``; (CADUs written, the packets they carry)."""
    enc = DownlinkEncoder(MISSION.downlink, MISSION.downlink_priorities if hasattr(MISSION, "downlink_priorities")
                          else {0: 0})
    target = int(size_mb * 1e6)
    cadu_len = MISSION.downlink.cadu_len
    written = 0
    carried = bytearray()
    with open(path, "wb") as f:
        while written * cadu_len < min(target, ENCODED_MB * 1e6):
            for p in pool:
                enc.submit(0, p)
            if len(carried) < 20_000_000:
                carried += b"".join(pool)
            n = max(1, sum(map(len, pool)) // 880)
            f.write(enc.cadus(n))
            written += n
    block = written
    with open(path, "r+b") as f:
        head = f.read()
        f.seek(0, os.SEEK_END)
        while written * cadu_len < target:
            f.write(head)
            written += block
    return written, bytes(carried)


def many_files(d: Path, pool: list[bytes], files: int, size_mb: float) -> dict[str, float]:
    """Seconds to decode a directory of ``files`` HK-dense files with 1 and 2 local processes and on a Dask
    LocalCluster of 2 workers, and the speed-ups over one process."""
    folder = d / "many"
    folder.mkdir()
    for k in range(files):
        cadu_file(folder / f"{k:03d}.cadu", pool[k * 7:] + pool[:k * 7], size_mb)
    mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    out: dict[str, float] = {"many_files": files, "many_mb": mb}
    out["many_jobs1_s"] = run_measured([*TTC, str(folder), "--json", "--no-progress", "--jobs", "1"])[0]
    out["many_jobs2_s"] = run_measured([*TTC, str(folder), "--json", "--no-progress", "--jobs", "2"])[0]
    try:
        from distributed import LocalCluster
    except ImportError:
        out["dask_speedup"] = float("nan")
    else:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster:
            out["many_dask2_s"] = run_measured([*TTC, str(folder), "--json", "--no-progress", "--scheduler",
                                                cluster.scheduler_address])[0]
        out["dask_speedup"] = out["many_jobs1_s"] / out["many_dask2_s"]
    out["local_speedup"] = out["many_jobs1_s"] / out["many_jobs2_s"]
    return out


def run_measured(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one command in its own process."""
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE); "
            "dt = time.perf_counter() - t; "
            "sys.exit(r.stderr.decode()[-500:]) if r.returncode else "
            "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, cwd=ROOT)
    wall, rss = out.stdout.split()
    return float(wall), float(rss)


def peers(packets: bytes) -> dict[str, float]:
    """spacepackets and ccsdspy on the same packets, MB/s of the packets each reads."""
    from spacepackets.ecss.tm import PusTm as SpPusTm

    from protocol.packetarray import index_packets

    out: dict[str, float] = {}
    idx = index_packets(packets)
    n = min(len(idx), 200_000)
    chunks = [idx.packet(i) for i in range(n)]
    octets = sum(map(len, chunks))
    t0 = time.perf_counter()
    for raw in chunks:
        SpPusTm.unpack(raw, timestamp_len=6)
    out["spacepackets_mb_s"] = octets / (time.perf_counter() - t0) / 1e6
    try:
        import logging

        # ccsdspy logs its version on import and reports the count jumps of the packets picked here as missing
        logging.disable(logging.WARNING)
        from ccsdspy import FixedLength, PacketField

        hk = next(d for d in MISSION.telemetry.values() if d.name == "HK_POWER")
        sel = idx.select(hk.apid)
        lengths = idx.lengths[sel]
        same = sel[lengths == np.bincount(lengths).argmax()]
        blob = b"".join(idx.packet(int(i)) for i in same[:200_000])
        fields = [PacketField("sec", "uint", 56), PacketField("time", "uint", 48), PacketField("sid", "uint", 16)]
        fields += [PacketField(p.name, "int" if p.type[0] == "i" else "uint", int(p.type[1:])) for p in hk.parameters]
        fields += [PacketField("pec", "uint", 16)]
        t0 = time.perf_counter()
        FixedLength(fields).load(io.BytesIO(blob), include_primary_header=True)
        out["ccsdspy_mb_s"] = len(blob) / (time.perf_counter() - t0) / 1e6
    except Exception as e:  # a peer that cannot read the file is reported, not fatal  # noqa: BLE001
        out["ccsdspy_mb_s"] = float("nan")
        out["ccsdspy_error"] = f"{type(e).__name__}: {e}"  # type: ignore[assignment]
    finally:
        logging.disable(logging.NOTSET)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 MB files only, 4 files of 5 MB for many files")
    ap.add_argument("--sizes-mb", default=None, help="HK-dense file sizes for the memory curve, e.g. 10,200,1000")
    ap.add_argument("--json", type=Path, help="write the figures as one JSON object")
    args = ap.parse_args(argv)
    sizes = [float(s) for s in (args.sizes_mb or ("10" if args.quick else "10,200,1000")).split(",")]
    results: dict[str, object] = {"date": time.strftime("%Y-%m-%d"), "machine": describe(f"numpy {np.__version__}"),
                                  "quick": args.quick}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        one = d / "one.cadu"
        one.write_bytes(DownlinkEncoder(MISSION.downlink, {0: 0}).cadus(1))
        startup_s, startup_rss = run_measured([*TTC, str(one), "--json", "--no-progress"])
        results["startup_s"], results["startup_rss_mb"] = startup_s, startup_rss
        hk_pool, mix_pool = packet_pool(20_000, mixed=False), packet_pool(6_000, mixed=True)
        curve = []
        for size in sizes:
            path = d / f"hk{size:g}.cadu"
            cadu_file(path, hk_pool, size)
            mb = path.stat().st_size / 1e6
            # with the progress display on (plain lines: stderr is a pipe), as an operator runs it
            wall, rss = run_measured([*TTC, str(path), "--json", "--progress"])
            pwall, prss = run_measured([*TTC, str(path), "--json", "--progress", "--parameters",
                                        str(d / "v.parquet"), "--format", "parquet"])
            curve.append({"mb": mb, "summary_s": wall, "summary_rss_mb": rss, "parquet_s": pwall, "parquet_rss_mb": prss})
            path.unlink()
        first = curve[0]
        results["memory_curve"] = curve
        results["decode_hk_mb_s"] = first["mb"] / first["summary_s"]
        results["decode_hk_mb_s_after_startup"] = first["mb"] / max(1e-3, first["summary_s"] - startup_s)
        results["export_parquet_mb_s"] = first["mb"] / first["parquet_s"]
        results["export_parquet_mb_s_after_startup"] = first["mb"] / max(1e-3, first["parquet_s"] - startup_s)
        results["decode_rss_mb_max"] = max(c["summary_rss_mb"] for c in curve)
        results["export_rss_mb_max"] = max(c["parquet_rss_mb"] for c in curve)
        results["decode_rss_mb_1gb"] = next((c["parquet_rss_mb"] for c in curve if c["mb"] >= 900), "not measured")
        mix = d / "mix.cadu"
        _, carried = cadu_file(mix, mix_pool, sizes[0])
        wall, rss = run_measured([*TTC, str(mix), "--json", "--no-progress"])
        results["decode_mix_mb_s"] = mix.stat().st_size / 1e6 / wall
        results["decode_mix_mb_s_after_startup"] = mix.stat().st_size / 1e6 / max(1e-3, wall - startup_s)
        hk = d / "hk.cadu"
        _, hk_packets = cadu_file(hk, hk_pool, sizes[0])
        subprocess.run(["cat", str(hk)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        t0 = time.perf_counter()
        subprocess.run(["cat", str(hk)], stdout=subprocess.DEVNULL, check=True)
        results["cat_mb_s"] = hk.stat().st_size / 1e6 / (time.perf_counter() - t0)
        results.update(peers(hk_packets))
        hk.unlink()
        results.update(many_files(d, hk_pool, 4 if args.quick else 8, 5 if args.quick else 25))
        results["station_cpu_pct_10mbps"] = "not measured here (tools/bench/station.py measures the station)"
    fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)  # noqa: E731
    print(f"# decode benchmark, {results['date']}, {results['machine']}")
    print(f"# start-up of a ttc decode process: {startup_s:.2f} s, {startup_rss:.0f} MB")
    print("| what | ttc | peer or limit, same run | ratio |")
    print("|---|---|---|---|")
    lim = results["cat_mb_s"]
    for key, what in (("decode_hk_mb_s", "ttc decode --json, HK-dense CADUs"),
                      ("decode_mix_mb_s", "ttc decode --json, mixed CADUs"),
                      ("export_parquet_mb_s", "ttc decode --parameters x.parquet, HK-dense")):
        v = results[key]
        print(f"| {what} | {fmt(v)} MB/s ({fmt(results[key + '_after_startup'])} after start-up) | "
              f"cat > /dev/null {fmt(lim)} MB/s | {v / lim:.3g}x of the limit |")
    print(f"| the same packets, per packet | | spacepackets PusTm.unpack {fmt(results['spacepackets_mb_s'])} MB/s, "
          f"ccsdspy FixedLength {fmt(results['ccsdspy_mb_s'])} MB/s (of packets) | |")
    for c in curve:
        print(f"| {c['mb']:.0f} MB HK-dense: peak RSS summary / parquet export | {c['summary_rss_mb']:.0f} / "
              f"{c['parquet_rss_mb']:.0f} MB ({c['mb'] / c['summary_s']:.1f} / {c['mb'] / c['parquet_s']:.1f} MB/s) "
              f"| aim <= 300 MB at any size | |")
    print(f"| {results['many_files']} files, {results['many_mb']:.0f} MB: ttc decode DIR --jobs 2 | "
          f"{results['many_jobs2_s']:.1f} s | --jobs 1 {results['many_jobs1_s']:.1f} s | "
          f"{results['local_speedup']:.2f}x |")
    if "many_dask2_s" in results:
        print(f"| the same on a Dask LocalCluster of 2 workers (--scheduler) | {results['many_dask2_s']:.1f} s | "
              f"--jobs 1 {results['many_jobs1_s']:.1f} s | {results['dask_speedup']:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
