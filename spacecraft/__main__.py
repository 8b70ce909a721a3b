"""``python -m spacecraft``: run the simulated spacecraft (also ``ttc spacecraft``)."""

from __future__ import annotations

import logging
import sys
import time
from datetime import datetime
from pathlib import Path

import click

from protocol.errors import ProtocolError

from protocol.timecode import utc_to_tai_s


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--down", "down_url", default="zmq://127.0.0.1:0", show_default=True,
              help="CADU sender URL (binds; port 0 picks a free port, printed in the READY line)")
@click.option("--up", "up_url", default=None, help="CLTU receiver URL (connects to the station's uplink)")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="on-board storage: packets not yet downlinked, reboot count, parameters (memory only if unset)")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="on-board clock rate relative to real time")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the models' randomness")
@click.option("--rate-bps", type=click.FloatRange(min=0, min_open=True), default=256_000, show_default=True,
              help="downlink rate: one 1024-octet CADU every 8192/rate seconds")
@click.option("--hk-interval", "hk_interval_s", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
              help="initial housekeeping interval, on-board seconds")
@click.option("--start-utc", type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"]), default=None,
              help="on-board time at start (default: now), for reproducible runs")
@click.option("--clock-anchor", "clock_anchor", type=float, default=None,
              help="with --start-utc: the real UNIX time at which the on-board clock read --start-utc (so processes "
                   "started apart, or a restarted spacecraft, share one simulated time)")
@click.option("--adcs/--no-adcs", default=True, show_default=True,
              help="simulate the attitude (orbit, dynamics, sensors, MEKF, control at 10 Hz of on-board time); "
                   "without it ADCS commands only record the mode and there is no HK_ADCS")
@click.option("--adcs-max-steps", type=click.IntRange(min=1), default=None,
              help="ADCS control steps simulated per loop turn at most; beyond, the ADCS jumps ahead as if the "
                   "mode held perfectly (for --speed faster than the CPU can simulate) [default: 200]")
@click.option("--tle", "tle_path", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="two-line elements of the orbit (2 or 3 lines; default: a 500 km sun-synchronous orbit)")
@click.option("--mission", "mission_spec", envvar="TTC_MISSION", default=None,
              help="mission dictionary: a .toml file, a .py file or module:attribute (env TTC_MISSION; "
                   "default: the ttc reference satellite)")
@click.option("--image-size", "image_px", type=click.IntRange(16, 2048), default=256, show_default=True,
              help="imager detector rows = columns (pixels of 200 m from 500 km)")
@click.option("--image-store-mib", type=click.IntRange(1, 65536), default=256, show_default=True,
              help="image store capacity (captures beyond it are refused)")
@click.option("--storage-mib", type=click.IntRange(1, 65536), default=16, show_default=True,
              help="downlink packet store capacity (when full, the oldest packets of the lowest-priority VC go)")
@click.option("--downlink-order", type=click.Choice(["priority", "fifo"]), default="priority", show_default=True,
              help="priority: the dictionary's VC priorities (alerts first); fifo: the oldest packet first, "
                   "whatever its VC (a baseline for benchmarks)")
@click.option("--flight-log", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="append every packet generated and every TC outcome to this JSON-lines file (a test "
                   "instrument: tools/chaos.py checks the ground against it)")
@click.option("--sdls-keys", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="the on-board SDLS key store (ttc keys export-onboard; mode 0600): every uplink frame must then "
                   "pass SDLS (CCSDS 355.0-B-2, AES-256-GCM) before FARM-1 sees it")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING"]), default="INFO", show_default=True)
def main(down_url: str, up_url: str | None, state_dir: Path | None, speed: float, seed: int, rate_bps: float,
         hk_interval_s: float, start_utc: datetime | None, clock_anchor: float | None, adcs: bool, adcs_max_steps: int | None,
         tle_path: Path | None, mission_spec: str | None, image_px: int, image_store_mib: int, storage_mib: int,
         downlink_order: str, flight_log: Path | None, sdls_keys: Path | None, log_level: str) -> None:
    """Simulated 6U Earth-observation spacecraft: CLTUs in, PUS services, CADUs out."""
    logging.basicConfig(stream=sys.stderr, level=log_level,
                        format="%(asctime)s spacecraft %(levelname)s %(name)s: %(message)s")
    from protocol.links.missions import MissionLoadError, load_mission

    from .process import DEFAULT_ADCS_MAX_STEPS, run

    try:
        mission = load_mission(mission_spec)
    except MissionLoadError as e:
        raise click.ClickException(str(e)) from e

    sdls = None
    if sdls_keys is not None:
        from .onboard import SdlsKeyStore

        try:
            sdls = SdlsKeyStore.load(sdls_keys)
        except (OSError, ValueError, ProtocolError) as e:
            raise click.ClickException(str(e)) from None
    start = None if start_utc is None else float(utc_to_tai_s(start_utc))
    if clock_anchor is not None:
        if start is None:
            raise click.BadParameter("needs --start-utc (the time the clock read at the anchor)",
                                     param_hint="--clock-anchor")
        start += (time.time() - clock_anchor) * speed
    tle = None
    if tle_path is not None:
        tle = tuple(line.rstrip() for line in tle_path.read_text().splitlines() if line.strip())
        if len(tle) not in (2, 3):
            raise click.BadParameter(f"{tle_path}: {len(tle)} lines, a TLE has 2 (or 3 with a name)", param_hint="--tle")
    sys.exit(run(down_url=down_url, up_url=up_url, state_dir=state_dir, speed=speed, seed=seed, rate_bps=rate_bps,
                 hk_interval_s=hk_interval_s, start_tai_s=start, adcs=adcs,
                 adcs_max_steps=DEFAULT_ADCS_MAX_STEPS if adcs_max_steps is None else adcs_max_steps, tle=tle,
                 mission=mission, image_px=image_px, image_store_octets=image_store_mib << 20,
                 storage_octets=storage_mib << 20, downlink_fifo=downlink_order == "fifo", flight_log=flight_log,
                 sdls=sdls))


if __name__ == "__main__":
    main()
