"""Passes benchmark: the pass search beside skyfield's own, and the tracking loop against skyfield.

    python tools/bench/passes.py [--quick] [--json PATH]

* ``pass_search_s``: every pass of 10 satellites (the reference orbit in 10 planes and phases) over 10
  stations (Almaty and nine others around the world, 5° masks) in 7 days, with
  :func:`groundstation.passes.find_passes`; beside it skyfield's ``EarthSatellite.find_events`` for the
  same pairs in the same run (``--quick``: 3 of the pairs, scaled to 100), the aim (< 1 s) and the two
  searches' largest AOS/LOS disagreement;
* the tracking loop: ``update_hz``, ticks per second while tracking an accelerated pass (speed 30) with
  ``ttc track``'s loop at its default 10 Hz against the real hamlib dummy daemons (rotctld/rigctld, when
  installed), and ``capacity_hz``, the same loop asked for 1000 Hz (how fast one tick -- read the rotator,
  command it, retune, read the radio every fifth tick -- can go against those daemons; hamlib 4.5's dummy
  rig takes ~40 ms to answer set_freq, so ``capacity_rotator_only_hz`` is the loop without the radio); and
  ``max_error_deg``, the largest angle between the commanded direction and skyfield's look angles at the
  instant the command is for, at 10 Hz through a 57 deg and a 9 deg pass at real speed with a 6 deg/s
  rotator (sans-IO: the commands the loop would send, from :meth:`TrackSchedule.command_at`);
* the planner: channel, spacecraft and station flying a station network's contact plan at 20x (the plan
  uploaded, a 16-image strip filling the store), and the next whole contact's CADUs and packet octets as
  archived against what :func:`groundstation.plan.plan_contacts` predicted for it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hostinfo import describe  # noqa: E402  (tools/bench/hostinfo.py, beside this script)
from groundstation.contacts import DEFAULT_TLE_FILE  # noqa: E402
from groundstation.passes import (  # noqa: E402
    GroundStation,
    HorizonMask,
    Tle,
    find_passes,
    parse_tles,
    with_tle_checksum,
)

START = datetime(2024, 3, 20, 12, 0, tzinfo=timezone.utc)
SITES = [("Almaty", 43.222, 76.851, 800), ("Kiruna", 67.857, 20.964, 400), ("Svalbard", 78.229, 15.407, 500),
         ("Hobart", -42.88, 147.32, 10), ("Santiago", -33.15, -70.67, 700), ("Cape Town", -33.93, 18.42, 20),
         ("Fairbanks", 64.86, -147.85, 150), ("Tokyo", 35.68, 139.69, 40), ("Bangalore", 12.97, 77.59, 900),
         ("Beijing", 39.90, 116.40, 50)]


def fleet(n: int) -> list[Tle]:
    """The reference orbit in ``n`` planes (RAAN every 360/n deg) and phases."""
    ref = parse_tles(DEFAULT_TLE_FILE.read_text())[0]
    out = []
    for k in range(n):
        l2 = ref.line2
        l2 = l2[:17] + f"{(160 + 360 * k / n) % 360:8.4f}" + l2[25:43] + f"{(270 + 37 * k) % 360:8.4f}" + l2[51:]
        out.append(Tle(f"SAT-{k}", ref.line1, with_tle_checksum(l2)))
    return out


def stations() -> list[GroundStation]:
    return [GroundStation(n, la, lo, h, horizon=HorizonMask.constant(5.0)) for n, la, lo, h in SITES]


def skyfield_search(tle: Tle, site: GroundStation, days: float) -> list[tuple[datetime, datetime]]:
    """(AOS, LOS) pairs from skyfield's find_events at 5 deg."""
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale(builtin=True)
    sat = EarthSatellite(tle.line1, tle.line2, tle.name, ts)
    topos = wgs84.latlon(site.lat_deg, site.lon_deg, elevation_m=site.alt_m)
    t, ev = sat.find_events(topos, ts.from_datetime(START), ts.from_datetime(START + timedelta(days=days)),
                            altitude_degrees=5.0)
    times = [x.utc_datetime() for x in t]
    rises = [times[i] for i, e in enumerate(ev) if e == 0]
    sets = [times[i] for i, e in enumerate(ev) if e == 2]
    if sets and rises and sets[0] < rises[0]:
        sets = sets[1:]
    return list(zip(rises, sets))


def bench_search(quick: bool) -> dict[str, object]:
    tles, sites = fleet(10), stations()
    find_passes(tles[:1], sites[:1], START, days=0.1)  # imports and first-call set-up out of the timing
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        found = find_passes(tles, sites, START, days=7)
        runs.append(time.perf_counter() - t0)
    ours = min(runs)
    pairs = [(t, s) for t in tles for s in sites]
    sample = pairs[::34] if quick else pairs
    t0 = time.perf_counter()
    peer = {(t.name, s.name): skyfield_search(t, s, 7) for t, s in sample}
    peer_s = (time.perf_counter() - t0) * len(pairs) / len(sample)
    worst = 0.0
    compared = 0
    for (sat, st), theirs in peer.items():
        mine = [(p.aos_utc, p.los_utc) for p in found if p.satellite == sat and p.station == st and not p.truncated]
        for aos, los in theirs:
            best = min(mine, key=lambda m: abs((m[0] - aos).total_seconds()))
            worst = max(worst, abs((best[0] - aos).total_seconds()), abs((best[1] - los).total_seconds()))
            compared += 1
    return {"satellites": len(tles), "stations": len(sites), "days": 7, "passes": len(found),
            "pass_search_s": ours, "pass_search_runs_s": runs, "skyfield_find_events_s": peer_s,
            "skyfield_pairs_timed": len(sample), "ratio_skyfield_over_ours": peer_s / ours, "aim_s": 1.0,
            "passes_compared": compared, "max_aos_los_difference_s": worst}


def _command_error(tle: Tle, site: GroundStation, start: datetime, min_el: float) -> tuple[float, int]:
    """Largest command-vs-skyfield angle through the first pass over ``site`` reaching ``min_el`` at 10 Hz."""
    import numpy as np

    from groundstation.passes import look_angles
    from groundstation.pointing import angle_between_deg
    from groundstation.tracking import prepare_track

    p = next(p for p in find_passes([tle], [site], start, days=2) if p.max_el_deg >= min_el)
    s = prepare_track(tle, site, p)
    t = np.arange(0.0, s.duration_s, 0.1)
    az, el = s.command_at(t)  # type: ignore[arg-type]
    flipped = el > 90.0
    az_sky, el_sky = np.where(flipped, az + 180.0, az), np.where(flipped, 180.0 - el, el)
    truth = look_angles(tle, site, p.aos_utc, t)
    return float(np.max(angle_between_deg(az_sky, el_sky, truth.az_deg, truth.el_deg))), len(t)


def _daemon(name: str) -> tuple[subprocess.Popen, int] | None:
    """hamlib's dummy ``name`` (rotctld/rigctld) on a free loopback port, listening; None if not installed."""
    import shutil
    import socket

    path = shutil.which(name)
    if path is None:
        return None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([path, "-m", "1", "-T", "127.0.0.1", "-t", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
            return proc, port
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise RuntimeError(f"{name} did not listen on 127.0.0.1:{port}")


def _loop_rate(tle: Tle, rot_port: int, rig_port: int, rate_hz: float, speed: float, *, radio: bool = True) -> float:
    from groundstation.hamlib import Radio, Rotator
    from groundstation.passes import RadioConfig, RotatorConfig
    from groundstation.tracking import SimClock, Tracker, prepare_track

    site = GroundStation("Almaty", 43.222, 76.851, 800.0, rotator=RotatorConfig(port=rot_port),
                         radio=RadioConfig(port=rig_port))
    p = find_passes([tle], [site], START, days=2)[0]
    with Rotator("127.0.0.1", rot_port) as rot, Radio("127.0.0.1", rig_port) as rig:
        rot.set_position(p.aos_az_deg if p.aos_az_deg <= 180 else p.aos_az_deg - 360.0, 0.0)
        az, el = rot.position()
        s = prepare_track(tle, site, p, speed=speed, current_az_deg=az, current_el_deg=el)
        clock = SimClock(p.aos_utc - timedelta(seconds=1.0), speed)
        report = Tracker(s, clock, rotator=rot, radio=rig if radio else None, rate_hz=rate_hz, park="rotator").run()
    return report.update_hz


def bench_tracking(quick: bool) -> dict[str, object]:
    """The tracking loop's rate against the real dummy daemons, and its command error against skyfield."""
    tle = parse_tles(DEFAULT_TLE_FILE.read_text())[0]
    almaty = GroundStation("Almaty", 43.222, 76.851, 800.0, horizon=HorizonMask.constant(0.0))
    from groundstation.passes import RotatorConfig

    site = GroundStation("Almaty", almaty.lat_deg, almaty.lon_deg, almaty.alt_m, horizon=almaty.horizon,
                         rotator=RotatorConfig())
    worst, n = 0.0, 0
    for min_el in (50.0, 0.0):
        e, k = _command_error(tle, site, START, min_el)
        worst, n = max(worst, e), n + k
    out: dict[str, object] = {"max_error_deg": worst, "commands": n, "update_hz": None, "capacity_hz": None}
    rot, rig = _daemon("rotctld"), _daemon("rigctld")
    try:
        if rot is None or rig is None:
            out["why"] = "hamlib's rotctld/rigctld not installed (apt-get install libhamlib-utils)"
            return out
        speed = 60.0 if quick else 30.0
        out["update_hz"] = _loop_rate(tle, rot[1], rig[1], 10.0, speed)
        out["capacity_hz"] = _loop_rate(tle, rot[1], rig[1], 1000.0, speed)
        out["capacity_rotator_only_hz"] = _loop_rate(tle, rot[1], rig[1], 1000.0, speed, radio=False)
        out["speed"] = speed
        return out
    finally:
        for d in (rot, rig):
            if d is not None:
                d[0].terminate()
                d[0].wait(timeout=5)


NETWORK = [("Urumqi", 43.825, 87.617, 800.0), ("Sanya", 18.25, 109.5, 20.0), ("Kiruna", 67.857, 20.964, 400.0)]
PLAN_START = datetime(2024, 3, 20, 15, 19, tzinfo=timezone.utc)  # inside Sanya+Urumqi, 4.7 min before a gap


def bench_planner(speed: float = 20.0) -> dict[str, object]:
    """Fly the plan over real processes with a full store; the packet octets of the next whole contact against
    what the planner predicted for it."""
    import sqlite3
    import tempfile

    from groundstation.loopback import LoopbackPass, PassConfig
    from groundstation.plan import plan_contacts
    from protocol.mission import MISSION

    tle = parse_tles(DEFAULT_TLE_FILE.read_text())[0]
    sites = [GroundStation(n, la, lo, h, horizon=HorizonMask.constant(5.0)) for n, la, lo, h in NETWORK]
    contacts = plan_contacts(tle, sites, PLAN_START.replace(minute=0), days=0.05)
    fraction = MISSION.downlink.frame.data_field_len / MISSION.downlink.cadu_len
    nxt = next(c for c in contacts if c.aos_utc > PLAN_START)
    work = Path(tempfile.mkdtemp(prefix="ttc-bench-plan-"))
    plan_file = work / "plan.json"
    plan_file.write_text(json.dumps({"contacts": [c.as_dict(fraction) for c in contacts]}))
    cfg = PassConfig(ber=0.0, hk_interval_s=20.0, seed=21, speed=speed, start_utc=PLAN_START.strftime("%Y-%m-%dT%H:%M:%S"),
                     contacts=plan_file, extra_spacecraft=("--image-size", "128", "--no-adcs"))
    t0 = time.time()
    with LoopbackPass(work / "pass", cfg) as p:
        gs = p.gs
        p.until(lambda: gs.ping()["dictionary"]["state"] == "verified", "the dictionary verified")
        for cmd in [gs.send("CONTACT_CLEAR")] + [gs.send("CONTACT_ADD", s.command_args())
                                                  for c in contacts for s in c.segments]:
            gs.wait(cmd, "completed", timeout_s=10)
        gs.wait(gs.send("PAYLOAD_POWER", {"STATE": "ON"}), "completed", timeout_s=10)
        gs.wait(gs.send("IMAGER_CAPTURE_STRIP", {"FRAMES": 16}), "completed", timeout_s=60)
        stored = sum(f.stat().st_size for f in (p.state_dir / "images").glob("*.ttci"))
        end = t0 + (nxt.los_utc - PLAN_START).total_seconds() / speed + 3.0
        while time.time() < end:
            time.sleep(0.5)
    from protocol.links.channel import contact_edges

    edges = contact_edges((p.workdir / "channel.log").read_text())
    aos = next(t for e, t in edges if e == "AOS")
    los = aos + (nxt.los_utc - nxt.aos_utc).total_seconds() / speed
    con = sqlite3.connect(p.archive)
    window = (int(aos * 1e9), int((los + 1.0) * 1e9))
    delivered = con.execute("select coalesce(sum(length(data)), 0) from packets where ert_ns between ? and ?",
                            window).fetchone()[0]
    cadus = con.execute("select count(*) from cadus where ert_ns between ? and ?", window).fetchone()[0]
    con.close()
    predicted = int(nxt.budget_octets * fraction)
    return {"contact": "+".join(nxt.stations), "aos_utc": nxt.aos_utc.isoformat(), "duration_s": nxt.segments[0].duration_s,
            "predicted_packet_octets": predicted, "delivered_packet_octets": int(delivered),
            "ratio": delivered / predicted if predicted else None, "stored_image_octets": stored, "speed": speed,
            "predicted_cadus": nxt.budget_octets // MISSION.downlink.cadu_len, "delivered_cadus": int(cadus)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="time skyfield on 3 of the 100 pairs and scale")
    ap.add_argument("--json", type=Path, help="write the figures as one JSON object")
    args = ap.parse_args(argv)
    r: dict[str, object] = {"date": time.strftime("%Y-%m-%d"), "machine": describe(), "quick": args.quick}
    r["search"] = s = bench_search(args.quick)
    print(f"# passes benchmark, {r['date']}, {r['machine']}")
    print(f"# {s['satellites']} satellites x {s['stations']} stations x {s['days']} days: {s['passes']} passes")
    print("| what | ttc | skyfield find_events, same run | aim | ratio |")
    print("|---|---|---|---|---|")
    print(f"| pass search | {s['pass_search_s']:.2f} s | {s['skyfield_find_events_s']:.1f} s"
          f"{' (3 pairs timed, scaled)' if args.quick else ''} | < {s['aim_s']:.0f} s | "
          f"{s['ratio_skyfield_over_ours']:.0f}x faster |")
    print(f"| largest AOS/LOS difference ({s['passes_compared']} passes) | {s['max_aos_los_difference_s']:.2f} s | "
          "0 (reference) | < 1 s | |")
    r["tracking"] = t = bench_tracking(quick=args.quick)
    if t["update_hz"] is None:
        print(f"| tracking loop update rate | not measured: {t['why']} | | >= 10 Hz | |")
    else:
        print(f"| tracking loop update rate (asked 10 Hz) | {t['update_hz']:.1f} Hz | | >= 10 Hz | "
              f"{t['update_hz'] / 10:.2f}x |")
        print(f"| tracking loop capacity (asked 1000 Hz; the dummy rig's set_freq takes ~40 ms) | "
              f"{t['capacity_hz']:.0f} Hz | | | |")
        print(f"| tracking loop capacity, rotator only (capped by the ask) | {t['capacity_rotator_only_hz']:.0f} Hz | | | |")
    print(f"| commanded-angle error vs skyfield (max, {t['commands']} commands) | {t['max_error_deg']:.4f} deg | "
          f"0 (reference) | < 0.1 deg | |")
    r["planner"] = pl = bench_planner()
    print(f"| planner, the {pl['contact']} contact with a full store: delivered / predicted CADUs | "
          f"{pl['delivered_cadus']} / {pl['predicted_cadus']} | | 1.0 | "
          f"{pl['delivered_cadus'] / pl['predicted_cadus']:.3f} |")
    print(f"| the same, packet octets (real-time frames go part-full: latency first) | "
          f"{pl['delivered_packet_octets']:,} / {pl['predicted_packet_octets']:,} | | 1.0 | {pl['ratio']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1, default=str) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
