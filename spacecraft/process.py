"""The spacecraft process: one loop around the sans-IO on-board software.

link receive (with a timeout until the next frame is due) -> uplink decode ->
dispatch -> services and models advanced to the on-board time -> one CADU
per frame time at ``rate_bps`` (idle frames when nothing waits) -> link send.

The ADCS simulation (``--adcs``, the default) is stepped inside ``advance``
at 10 Hz of on-board time; measured on the 2-core reference machine
(2026-11-26, after the ADCS speed-up) the whole process takes ~2.7 % of a
core at ``--speed 1`` (one CADU every 32 ms dominates) and ~14 % at
``--speed 100``; when stepping falls behind, ``--adcs-max-steps`` (200 per
loop turn) makes it jump ahead instead (counted and logged).

Prints ``READY {json}`` with the endpoints it bound once the links are open,
logs to stderr, stops cleanly on SIGTERM/SIGINT (sockets closed with linger
0, storage and state flushed) and returns exit status 0.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from protocol.links import Carries, open_receiver, open_sender
from protocol.dictionary import MissionDictionary
from protocol.mission import MISSION

from .clock import OnboardClock
from .onboard import OnboardComputer, OnboardConfig, SdlsKeyStore
from .payload.imager import ImagerConfig
from .payload.scene import SceneConfig

__all__ = ["DEFAULT_ADCS_MAX_STEPS", "run"]

log = logging.getLogger("spacecraft")

MAX_WAIT_S = 0.05  # the loop comes round at least this often (signals, schedule, models)
MAX_UPLINK_BURST = 256  # frames read per turn before the downlink gets its turn
MAX_BEHIND_S = 1.0  # a loop that fell further behind the link than this skips frames instead of bursting
STATS_PERIOD_S = 30.0
# ADCS control steps simulated per loop turn at most (~0.15 ms each, so ~30 ms): the loop comes round every
# 32-50 ms, so the ADCS keeps up to about --speed 400 with full dynamics and jumps (counted, logged) beyond
DEFAULT_ADCS_MAX_STEPS = 200


def run(*, down_url: str, up_url: str | None, state_dir: Path | None, speed: float, seed: int, rate_bps: float,
        hk_interval_s: float, start_tai_s: float | None = None, adcs: bool = True,
        adcs_max_steps: int | None = DEFAULT_ADCS_MAX_STEPS, tle: tuple[str, ...] | None = None,
        mission: MissionDictionary = MISSION, image_px: int = 256, image_store_octets: int = 256 << 20,
        storage_octets: int = 16 << 20, downlink_fifo: bool = False, flight_log: Path | None = None,
        sdls: SdlsKeyStore | None = None) -> int:
    """Run the spacecraft until SIGTERM/SIGINT; the exit status."""
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    clock = OnboardClock(start_tai_s=start_tai_s, speed=speed)
    config = OnboardConfig(seed=seed, hk_interval_s=hk_interval_s, state_dir=state_dir, adcs=adcs,
                           adcs_max_steps=adcs_max_steps, adcs_tle=tle, mission=mission,
                           imager=ImagerConfig(rows=image_px, cols=image_px,
                                               scene=SceneConfig(rows=image_px, cols=image_px)),
                           image_store_octets=image_store_octets, storage_octets=storage_octets,
                           downlink_fifo=downlink_fifo, flight_log=flight_log, sdls=sdls)
    obc = OnboardComputer(config, boot_tai_s=clock.now_tai_s())
    sender = open_sender(down_url)
    receiver = open_receiver(up_url, carries=Carries.CLTUS) if up_url else None
    frame_s = obc.downlink.cadu_len * 8 / rate_bps
    endpoints = {"down": sender.url, "up": receiver.url if receiver is not None else None}
    print("READY " + json.dumps(endpoints), flush=True)
    log.info("spacecraft %s (SCID 0x%02X, dictionary %08X) up: downlink %s at %g bit/s (%.1f ms/frame), uplink %s, "
             "speed x%g, seed %d, ADCS %s", mission.name, mission.scid, mission.fingerprint, endpoints["down"], rate_bps, frame_s * 1e3, up_url, speed, seed,
             "simulated at 10 Hz" if adcs else "off")
    next_tx = time.monotonic()
    next_stats = next_tx + STATS_PERIOD_S
    try:
        while not stopping:
            wait_s = min(MAX_WAIT_S, max(0.0, next_tx - time.monotonic()))
            if receiver is not None:
                frame = receiver.recv(wait_s)
                burst = 0
                while frame is not None:
                    obc.receive_uplink(frame.data, clock.now_tai_s())
                    burst += 1
                    frame = receiver.recv(0) if burst < MAX_UPLINK_BURST else None
            elif wait_s > 0:
                time.sleep(wait_s)  # pacing only: nothing else to wait for
            obc.advance(clock.now_tai_s())
            now = time.monotonic()
            if now - next_tx > MAX_BEHIND_S:
                next_tx = now
            while next_tx <= now:
                rate = obc.transmitter(clock.now_tai_s())
                if rate is None:  # a contact plan is loaded and no station hears us: the store keeps it all
                    next_tx = now + min(MAX_WAIT_S, frame_s)
                    break
                sender.send(obc.next_cadu())
                obc.cadu_sent()
                # in a window its rate, in bits per on-board second (so real time shrinks with --speed)
                next_tx += frame_s if not rate else obc.downlink.cadu_len * 8 / rate / speed
            if now >= next_stats:
                next_stats = now + STATS_PERIOD_S
                log.info("counters %s", json.dumps(obc.counters()))
    finally:
        sender.close()
        if receiver is not None:
            receiver.close()
        obc.shutdown()
        log.info("stopped; counters %s", json.dumps(obc.counters()))
        sys.stderr.flush()
    return 0
