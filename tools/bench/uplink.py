"""Uplink benchmark: commands through COP-1 over a lossy channel, real processes on loopback.

    python tools/bench/uplink.py [--quick] [--commands N] [--loss P] [--json PATH]

The real spacecraft, ``ttc channel`` and station (:class:`groundstation.loopback.LoopbackPass`) with
``--loss`` of frames lost both ways, BER 1e-5, and the uplink paced at ``--up-rate-bps``; with ``--sdls``
every uplink frame is protected (AES-256-GCM under the generated key file's SA) and checked on board. AD service
is initiated with Unlock, then ``--commands`` PINGs are submitted as fast as the API takes them and
the benchmark waits for every verdict. The spacecraft's own flight log says what ran on board:

* ``cop1_delivered``: PINGs that ran on board; ``cop1_duplicates``: runs beyond the first of one;
  ``cop1_out_of_order``: runs whose sequence count is below one that ran before;
  ``cop1_lost``: PINGs that never ran (and their verdicts);
* ``cop1_retransmissions``: AD frames FOP-1 sent again; ``cop1_alerts``;
* ``goodput_tc_s``: PINGs run per second, from the first submission to the last verdict;
* the floor beside it: with frame loss p each frame needs 1/(1-p) transmissions on average, so at the
  uplink's rate the fastest possible delivery of N frames of L octets (CLTUs) takes
  N * L * 8 / (rate * (1 - p)) seconds; ``floor_tc_s`` is its rate, ``ratio`` ours over it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hostinfo import describe  # noqa: E402  (tools/bench/hostinfo.py, beside this script)
from groundstation.loopback import LoopbackPass, PassConfig  # noqa: E402
from groundstation.sdlskeys import KeyFile  # noqa: E402
from protocol import cltu as cltu_layer  # noqa: E402
from protocol.mission import MISSION  # noqa: E402
from protocol.stack import UplinkEncoder  # noqa: E402

FINAL = ("completed", "failed", "lost", "timed out")


def cltu_octets(sdls_overhead: int = 0) -> int:
    """Octets of one PING's CLTU (what the uplink carries per command), its frame ``sdls_overhead`` octets
    longer under SDLS (security header and MAC)."""
    ping = MISSION.command("PING").to_tc({}, sequence_count=0)
    up = UplinkEncoder(MISSION.uplink)
    raw = up.frames(ping.encode())[0].encode(fecf=MISSION.uplink.fecf)
    return len(cltu_layer.encode(raw + bytes(sdls_overhead), config=MISSION.uplink.cltu))


def run(workdir: Path, *, commands: int, loss: float, up_rate_bps: float, seed: int, t1_s: float = 0.25,
        sdls: bool = False) -> dict[str, object]:
    flight = workdir / "flight.jsonl"
    cfg = PassConfig(ber=1e-5, loss=loss, seed=seed, hk_interval_s=5.0, up_rate_bps=up_rate_bps,
                     extra_spacecraft=("--flight-log", str(flight)), record=False, sdls=sdls)
    with LoopbackPass(workdir, cfg) as p:
        gs = p.gs
        gs.cop1("set-timer", t1_s)
        gs.cop1("initiate-unlock")
        p.until(lambda: gs.cop1()["status"]["state"] == "S1", "AD service", timeout_s=60)
        t0 = time.monotonic()
        sent = [gs.request("send", name="PING") for _ in range(commands)]
        t_submitted = time.monotonic() - t0
        ids = [r["command_id"] for r in sent]
        last = ids[-1]
        budget = max(120.0, commands * 0.2)
        p.until(lambda: gs.history(command_id=last, limit=1)[0]["status"] in FINAL, "the last verdict",
                timeout_s=budget)  # COP-1 delivers in order: the others are delivered or failed before it
        p.until(lambda: all(h["status"] in FINAL for h in gs.history(limit=min(commands, 10_000))
                            if h["id"] >= ids[0]), "every verdict", timeout_s=budget)
        elapsed = time.monotonic() - t0
        status = gs.cop1()["status"]
        verdicts: dict[str, int] = {}
        for h in gs.history(limit=min(commands, 10_000)):
            if h["id"] >= ids[0]:
                verdicts[h["status"]] = verdicts.get(h["status"], 0) + 1
    apid = MISSION.command("PING").apid
    wanted = {r["sequence_count"] for r in sent}
    runs = [json.loads(line) for line in flight.read_text().splitlines()]
    # a TC's acceptance on board is its run starting (the flight log also has its completion)
    ran = [e["seq"] for e in runs if e.get("k") == "c" and e.get("o") == "accepted" and e["apid"] == apid
           and e["seq"] in wanted]
    seen: set[int] = set()
    duplicates = out_of_order = 0
    highest = -1
    order = {r["sequence_count"]: i for i, r in enumerate(sent)}
    for seq in ran:
        if seq in seen:
            duplicates += 1
            continue
        seen.add(seq)
        if order[seq] < highest:
            out_of_order += 1
        highest = max(highest, order[seq])
    overhead = 0
    if sdls:
        overhead = KeyFile.load(workdir / "sdls-keys.json").operational().overhead
    octets = cltu_octets(overhead)
    floor_s = commands * octets * 8 / (up_rate_bps * (1 - loss))
    goodput = len(seen) / elapsed
    return {"commands": commands, "sdls": sdls, "sdls_overhead_octets": overhead, "t1_s": t1_s, "loss": loss, "ber": 1e-5, "up_rate_bps": up_rate_bps, "cltu_octets": octets,
            "cop1_delivered": len(seen), "cop1_duplicates": duplicates, "cop1_out_of_order": out_of_order,
            "cop1_lost": commands - len(seen), "verdicts": verdicts,
            "cop1_retransmissions": status["ad_retransmissions"], "cop1_ad_frames": status["ad_frames"],
            "cop1_alerts": status["alerts"], "submit_s": t_submitted, "elapsed_s": elapsed,
            "goodput_tc_s": goodput, "floor_s": floor_s, "floor_tc_s": commands / floor_s,
            "ratio_to_floor": goodput / (commands / floor_s),
            "expected_retransmissions": commands * loss / (1 - loss)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="500 commands")
    ap.add_argument("--commands", type=int, default=None, help="commands to send [10000; --quick 500]")
    ap.add_argument("--loss", type=float, default=0.2, help="frame loss both ways [0.2]")
    ap.add_argument("--up-rate-bps", type=float, default=64_000, help="uplink rate [64000]")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--t1-s", type=float, default=0.25, help="FOP-1's timer T1 [0.25 s: a few round trips here]")
    ap.add_argument("--sdls", action="store_true", help="SDLS on the uplink (AES-256-GCM, the key file's SA)")
    ap.add_argument("--json", type=Path, help="write the figures as one JSON object")
    args = ap.parse_args(argv)
    n = args.commands or (500 if args.quick else 10_000)
    with tempfile.TemporaryDirectory(prefix="ttc-uplink-bench-") as tmp:
        r = run(Path(tmp), commands=n, loss=args.loss, up_rate_bps=args.up_rate_bps, seed=args.seed, t1_s=args.t1_s,
                sdls=args.sdls)
    r = {"date": time.strftime("%Y-%m-%d"), "machine": describe(), **r}
    print(f"# uplink benchmark, {r['date']}, {r['machine']}")
    print(f"# {n} PINGs through COP-1 (K 16, T1 {args.t1_s:g} s), {args.loss:.0%} of frames lost both ways, BER 1e-5, "
          f"uplink {args.up_rate_bps:g} bit/s, CLTU {r['cltu_octets']} octets"
          + (f", SDLS on (+{r['sdls_overhead_octets']} octets a frame)" if args.sdls else ", SDLS off"))
    print("| what | ttc | floor for this loss, same run | ratio |")
    print("|---|---|---|---|")
    print(f"| delivered (ran on board) / duplicates / out of order | {r['cop1_delivered']} / {r['cop1_duplicates']} / "
          f"{r['cop1_out_of_order']} | {n} / 0 / 0 | {r['cop1_delivered'] / n:.3f} |")
    print(f"| retransmitted AD frames | {r['cop1_retransmissions']} | {r['expected_retransmissions']:.0f} "
          f"(N p / (1 - p)) | {r['cop1_retransmissions'] / max(1.0, r['expected_retransmissions']):.2f}x |")
    print(f"| time to deliver all | {r['elapsed_s']:.1f} s | {r['floor_s']:.1f} s | "
          f"{r['floor_s'] / r['elapsed_s']:.2f}x |")
    print(f"| goodput | {r['goodput_tc_s']:.1f} TC/s | {r['floor_tc_s']:.1f} TC/s | {r['ratio_to_floor']:.2f}x |")
    print(f"| verdicts | {r['verdicts']} | all completed | |")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
