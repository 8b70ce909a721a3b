"""Event-first downlink latency: from a detection on board to the station's archive, with imagery queued ahead.

    python tools/bench/payload_latency.py [--quick] [--json PATH] [--queue-mb MB] [--rates 9600,1000000]

Real processes on loopback (channel, spacecraft, station; groundstation.loopback), bit errors off, the
channel adding a 6.7 ms propagation delay. The spacecraft sends one CADU per frame time at the link rate;
the loopback hands it over when it is sent, so each latency adds the air time of one CADU (earth-receive
time at a real station is when the frame's last bit is down). Before
the spacecraft starts, its packet store is filled offline (the very on-board software, sans IO, writing
its crash-safe store) with ``--queue-mb`` of IMAGE_PART packets on the PLAYBACK VC, so the spacecraft boots
with that much imagery waiting for downlink, as after a long imaging arc without a contact. Then the
operator's captures come one after another (256 x 256, analysed on board); every DETECTION report's latency
is its earth-receive time at the station minus its packet time (the capture instant, on-board time),
so it holds synthesis and analysis on board, the wait for a frame and the frame's air time.

Beside it, in the same run:

* the physical floor: one CADU's air time at the link rate plus the propagation delay at the longest slant
  range (2,000 km from 500 km at 10 deg elevation, 6.7 ms);
* the aim (issue 8): p99 <= 2 frame times + the analysis time;
* a FIFO downlink (``--downlink-order fifo``: the oldest packet first, whatever its VC), measured with a
  smaller queue (the 100 MB one would take 14 minutes at 1 Mbit/s and 23 hours at 9.6 kbit/s), and that
  measurement scaled to the full queue (latency grows with the octets ahead: queue / rate), marked as such.

The spacecraft and the station share this machine's clock, so earth-receive and on-board times compare
directly (both are the system clock; the on-board clock is TAI from it).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from hostinfo import describe  # noqa: E402  (tools/bench/hostinfo.py, beside this script)

from groundstation.client import CommandTimeout  # noqa: E402
from groundstation.loopback import LoopbackPass, PassConfig  # noqa: E402
from protocol.timecode import tai_s_to_utc  # noqa: E402

CADU_BITS = 1024 * 8
PROPAGATION_S = 2_000e3 / 299_792_458.0
IMAGE_PX = 256


def prefill(state_dir: Path, queue_octets: int, *, storage_octets: int) -> int:
    """Write ``queue_octets`` of image parts into a spacecraft state directory's packet store; octets queued."""
    from spacecraft.clock import tai_s_now
    from spacecraft.onboard import OnboardComputer, OnboardConfig
    from spacecraft.payload.imager import ImagerConfig
    from spacecraft.payload.scene import SceneConfig

    imager = ImagerConfig(rows=IMAGE_PX, cols=IMAGE_PX, scene=SceneConfig(rows=IMAGE_PX, cols=IMAGE_PX))
    obc = OnboardComputer(OnboardConfig(state_dir=state_dir, imager=imager, storage_octets=storage_octets,
                                        seed=5), boot_tai_s=tai_s_now())
    obc.payload.powered = True
    analysis = obc.mission.onboard_by_name("ANALYSIS_ENABLED").parameter_id
    obc.params.raw[analysis] = 0  # imagery only: no detections of its own in the queue
    cap = obc.payload._take(0.02)  # one image, played back until the queue holds what was asked
    obc.payload.after_frame()
    obc.params.raw[analysis] = 1
    while obc.store.used_octets < queue_octets:
        obc.payload._play_back(cap.image_id, cap.product)
    queued = obc.store.used_octets
    obc.shutdown()
    return queued


def latencies(archive: Path, *, after_ns: int) -> list[float]:
    """Seconds from each DETECTION's packet time to its earth-receive time."""
    con = sqlite3.connect(f"file:{archive}?mode=ro", uri=True)
    try:
        rows = con.execute("select p.ert_ns, p.obt_tai_s from packets p where p.name = 'DETECTION'").fetchall()
    finally:
        con.close()
    captured = [(ert, tai_s_to_utc(obt).timestamp()) for ert, obt in rows]
    return [ert / 1e9 - t for ert, t in captured if t * 1e9 >= after_ns]  # captures of this run only


def run_one(rate_bps: float, *, order: str, queue_octets: int, captures: int, workdir: Path) -> dict[str, Any]:
    """One pass: the queue prefilled, ``captures`` analysed captures, the DETECTION latencies."""
    storage = max(32 << 20, int(queue_octets * 1.3))
    state = workdir / "spacecraft-state"
    t0 = time.monotonic()
    queued = prefill(state, queue_octets, storage_octets=storage)
    prefill_s = time.monotonic() - t0
    frame_s = CADU_BITS / rate_bps
    # the channel adds the propagation delay; the spacecraft paces its CADUs at the link rate, but the loopback
    # delivers each one the instant it is sent, so its air time is added to the latency below (a channel
    # limited to the same rate would queue every catch-up burst of the spacecraft's loop for good)
    cfg = PassConfig(ber=0.0, rate_bps=rate_bps, hk_interval_s=30.0, seed=5, record=False, delay_s=PROPAGATION_S,
                     extra_spacecraft=("--image-size", str(IMAGE_PX), "--no-adcs", "--storage-mib",
                                       str(-(-storage // (1 << 20))), "--downlink-order", order))
    with LoopbackPass(workdir, cfg) as p:
        gs = p.gs
        timeout = 60 + 4 * frame_s
        # the first command after start can be lost on the uplink (the spacecraft's socket still joining:
        # issue 9); it is sent again, as an operator would. Executed on board before the captures sent after it.
        for attempt in range(3):
            power = gs.send("PAYLOAD_POWER", {"STATE": "ON"})
            try:
                gs.wait(power, "accepted" if order != "fifo" else "sent", timeout_s=15 + 4 * frame_s)
                break
            except CommandTimeout:
                if attempt == 2:
                    raise
        start_ns = time.time_ns()
        phase = random.Random(11)
        for _ in range(captures):
            cid = gs.send("IMAGER_CAPTURE")
            if order != "fifo":  # behind a FIFO queue the verification reports wait as long as the alerts
                gs.wait(cid, "completed", timeout_s=timeout)
            # let the alerts of one capture go down before the next (they would queue behind each other),
            # and send the next at a random phase of the frame clock (a fixed wait would lock every capture
            # to the same instant of the frame)
            time.sleep(3 * frame_s + phase.uniform(0, frame_s))
        expected = None
        wait_s = 30 + 5 * frame_s + (1.5 * queued * 8 / rate_bps + 60 if order == "fifo" else 0)
        deadline = time.monotonic() + wait_s
        lat: list[float] = []
        while time.monotonic() < deadline:
            lat = [x + frame_s for x in latencies(p.archive, after_ns=start_ns)]  # + the frame's air time
            sc = gs.counters()["station"]["detections"]
            if lat and len(lat) >= sc and (order != "fifo" or len(lat) >= captures):
                expected = sc
                break
            gs.next_message(timeout_s=0.5)
        counters = gs.counters()
    lat.sort()

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

    return {"rate_bps": rate_bps, "order": order, "queued_octets": queued, "prefill_s": round(prefill_s, 1),
            "captures": captures, "detections": len(lat), "station_detections": expected,
            "p50_s": pct(0.5), "p99_s": pct(0.99), "max_s": lat[-1] if lat else float("nan"),
            "frame_s": frame_s, "floor_s": frame_s + PROPAGATION_S,
            "frames": counters["downlink"]["frames"], "exit_codes": dict(p.exit_codes)}


def analysis_ms() -> tuple[float, float]:
    """Median time on one core of synthesis + analysis of one 256 x 256 capture (what the latency holds)."""
    from spacecraft.payload.analysis import AnalysisConfig, analyse
    from spacecraft.payload.scene import SceneConfig, synthesize

    cfg = SceneConfig(rows=IMAGE_PX, cols=IMAGE_PX)
    synth, ana = [], []
    for seed in range(5):
        t = time.perf_counter()
        scene, _ = synthesize(cfg, seed=seed)
        synth.append(time.perf_counter() - t)
        t = time.perf_counter()
        analyse(scene, config=AnalysisConfig())
        ana.append(time.perf_counter() - t)
    return statistics.median(synth) * 1e3, statistics.median(ana) * 1e3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a 10 MB queue and fewer captures")
    ap.add_argument("--json", type=Path, help="write the figures here as one flat JSON object")
    ap.add_argument("--queue-mb", type=float, default=None, help="imagery queued ahead (default 100, quick 10)")
    ap.add_argument("--fifo-queue-mb", type=float, default=2.0, help="imagery queued ahead of the FIFO baseline")
    ap.add_argument("--rates", default="9600,1000000", help="downlink rates, bit/s, comma separated")
    args = ap.parse_args(argv)
    queue_mb = args.queue_mb if args.queue_mb is not None else (10.0 if args.quick else 100.0)
    rates = [float(r) for r in args.rates.split(",")]
    print(f"machine: {describe()}")
    synth_ms, ana_ms = analysis_ms()
    print(f"on board per 256 x 256 capture: scene synthesis {synth_ms:.0f} ms (simulation), analysis {ana_ms:.1f} ms")
    out: dict[str, Any] = {"queue_mb": queue_mb, "synthesis_ms": synth_ms, "analysis_ms": ana_ms}
    for rate in rates:
        captures = (6 if args.quick else 20) if rate < 100_000 else (10 if args.quick else 40)
        with tempfile.TemporaryDirectory(prefix="ttc-latency-") as tmp:
            r = run_one(rate, order="priority", queue_octets=int(queue_mb * 1e6), captures=captures,
                        workdir=Path(tmp) / "pass")
        key = f"{int(rate)}"
        aim = 2 * r["frame_s"] + (synth_ms + ana_ms) / 1e3
        print(f"{rate / 1e3:g} kbit/s, {r['queued_octets'] / 1e6:.1f} MB of imagery queued ahead, {r['detections']} "
              f"detections from {captures} captures: p50 {r['p50_s']:.3f} s, p99 {r['p99_s']:.3f} s (max "
              f"{r['max_s']:.3f} s); floor (1 frame {r['frame_s'] * 1e3:.1f} ms + propagation "
              f"{PROPAGATION_S * 1e3:.1f} ms) {r['floor_s']:.3f} s -> p99/floor {r['p99_s'] / r['floor_s']:.2f}; "
              f"aim p99 <= 2 frames + synthesis + analysis = {aim:.3f} s -> {'met' if r['p99_s'] <= aim else 'NOT met'}")
        out.update({f"event_latency_p50_s_{key}": r["p50_s"], f"event_latency_p99_s_{key}": r["p99_s"],
                    f"event_latency_max_s_{key}": r["max_s"], f"floor_s_{key}": r["floor_s"],
                    f"aim_s_{key}": aim, f"detections_{key}": r["detections"]})
        # the FIFO baseline: the same captures behind a smaller queue, scaled to the full one
        fifo_mb = min(args.fifo_queue_mb, queue_mb) if rate >= 100_000 else min(args.fifo_queue_mb / 20, queue_mb)
        with tempfile.TemporaryDirectory(prefix="ttc-latency-fifo-") as tmp:
            f = run_one(rate, order="fifo", queue_octets=int(fifo_mb * 1e6), captures=2,
                        workdir=Path(tmp) / "pass")
        scaled = f["p50_s"] * (queue_mb * 1e6) / max(f["queued_octets"], 1)
        print(f"  FIFO downlink at {rate / 1e3:g} kbit/s behind {f['queued_octets'] / 1e6:.2f} MB: p50 "
              f"{f['p50_s']:.2f} s measured ({f['detections']} detections); scaled to {queue_mb:g} MB: "
              f"{scaled:.0f} s ({scaled / 3600:.2f} h) -> event-first is {scaled / r['p50_s']:.0f}x sooner at p50")
        out.update({f"fifo_p50_s_{key}": f["p50_s"], f"fifo_queue_mb_{key}": f["queued_octets"] / 1e6,
                    f"fifo_p50_scaled_s_{key}": scaled})
    if len(rates) and f"event_latency_p99_s_{int(rates[0])}" in out:
        out["event_latency_p99_s"] = max(out[f"event_latency_p99_s_{int(r)}"] for r in rates)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, sort_keys=True))
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
