"""Spacecraft, channel and station as real processes on loopback: the bench the demo and the tests fly on.

:class:`LoopbackPass` starts ``python -m protocol.links.channel`` (which binds
all four link endpoints on free loopback ports), then ``python -m spacecraft``
and ``python -m groundstation.station`` connected through it, each waited for
through its ``READY`` line (never a sleep), and hands out a
:class:`~groundstation.client.StationClient`. Children are stopped with
SIGTERM (SIGKILL when asked, to test crash recovery); their logs stay in the
work directory. The ground segment starts the spacecraft as a program and never
imports it (DESIGN.md).

With ``PassConfig(link="gnuradio")`` a GNU Radio flowgraph takes the channel's place
(``tools/gnuradio/link_relay.py``, run by the system interpreter that has GNU Radio and gr-satellites):
the spacecraft's CADUs leave as GNU Radio PDUs (``gr+zmq``), become bits and soft symbols with AWGN at
``ebn0_db``, and gr-satellites' CCSDS deframer hands the station decoded frames
(``gr+zmq://...?carries=frames``); CLTUs go up through the same flowgraph's message ports.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundstation.client import StationClient

__all__ = ["Child", "LoopbackPass", "PassConfig", "ChildFailed", "GR_RELAY", "gnuradio_python"]

#: the flowgraph of PassConfig(link="gnuradio"): in a ttc checkout, beside the package
GR_RELAY = Path(__file__).resolve().parents[1] / "tools" / "gnuradio" / "link_relay.py"


def gnuradio_python() -> str:
    """The interpreter that has GNU Radio (``$TTC_GR_PYTHON``, default ``/usr/bin/python3``)."""
    return os.environ.get("TTC_GR_PYTHON", "/usr/bin/python3")


class ChildFailed(RuntimeError):
    """A child process did not become ready (its log tail is in the message)."""


class Child:
    """One child process whose first stdout line is ``READY {json endpoints}``."""

    def __init__(self, name: str, argv: list[str], *, log_path: Path, ready_timeout_s: float = 20.0,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._log, env=env)
        self.endpoints = self._ready(ready_timeout_s)

    def _ready(self, timeout_s: float) -> dict[str, Any]:
        stdout = self.proc.stdout
        if stdout is None:
            raise ChildFailed(f"{self.name}: no stdout pipe")
        sel = selectors.DefaultSelector()
        sel.register(stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        buf = b""
        line = ""
        try:
            while time.monotonic() < deadline:
                while b"\n" in buf:  # lines before READY (GNU Radio prints its log there) go to the log
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.decode(errors="replace")
                    if line.startswith("READY "):
                        break
                    self._log.write(raw + b"\n")
                if line.startswith("READY "):
                    break
                if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
        finally:
            sel.close()
        if not line.startswith("READY "):
            self.kill()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise ChildFailed(f"{self.name} did not become ready (stdout {line!r}); log:\n{tail}")
        return json.loads(line[len("READY "):])

    @property
    def running(self) -> bool:
        """True while the process lives."""
        return self.proc.poll() is None

    def stop(self, *, timeout_s: float = 10.0) -> int:
        """SIGTERM, wait, and the exit code (SIGKILL after ``timeout_s``)."""
        if self.running:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL at once (a crash), and reap."""
        if self.running:
            self.proc.kill()
        self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


@dataclass(frozen=True, kw_only=True)
class PassConfig:
    """How the simulated pass is flown: channel impairments, downlink rate, spacecraft clock and seeds."""

    ber: float = 1e-5
    loss: float = 0.0
    up_loss: float | None = None  # the uplink's frame loss when it differs from the downlink's (``loss``)
    up_rate_bps: float = 0.0  # the channel's uplink rate limit (0: none)
    sdls: bool = False  # SDLS on the uplink: a key file generated in the workdir, its on-board copy for the spacecraft
    delay_s: float = 0.0
    rate_bps: float = 256_000
    hk_interval_s: float = 1.0
    speed: float = 1.0
    seed: int = 7
    record: bool = True
    extra_spacecraft: tuple[str, ...] = field(default=())
    mission: str | None = None  # --mission of both processes (None: theirs, TTC_MISSION or the reference)
    station_mission: str | None = None  # the station's, when it must differ (a mismatch test)
    link: str = "channel"  # "channel": ttc channel; "radio": ttc channel at the sample level (IQ, noise at
    # ebn0_db, our modem); "gnuradio": the GNU Radio flowgraph (tools/gnuradio)
    ebn0_db: float | None = 8.0  # the flowgraph's AWGN on the soft symbols (None: none)
    start_utc: str | None = None  # the simulated UTC at start (spacecraft --start-utc, channel --sim-start)
    contacts: Path | None = None  # the channel carries frames only in these windows (ttc passes --format json)


class LoopbackPass:
    """The three processes of a pass, started for real; use as a context manager."""

    def __init__(self, workdir: Path, config: PassConfig | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config = config or PassConfig()
        self.archive = self.workdir / "station.db"
        self.recording = self.workdir / "downlink.ttcrec"
        self.state_dir = self.workdir / "spacecraft-state"
        self.sdls_keys = self.workdir / "sdls-keys.json"  # the ground's key file (with --sdls)
        self.sdls_onboard = self.workdir / "sdls-onboard.json"  # the spacecraft's copy
        self.channel: Child | None = None  # ttc channel, or the GNU Radio flowgraph
        self._sc_links: dict[str, str] = {}
        self._gs_links: dict[str, str] | None = None
        self.spacecraft: Child | None = None
        self.station: Child | None = None
        self.client: StationClient | None = None
        self.exit_codes: dict[str, int] = {}
        self._anchor = time.time()  # the real time the simulated clock reads PassConfig.start_utc (set by start)

    # -- start / stop ---------------------------------------------------------------------
    def start(self) -> LoopbackPass:
        """Start channel (or flowgraph), spacecraft and station; connect the client."""
        cfg = self.config
        self._anchor = time.time()  # every process (and a restarted spacecraft) flies the same simulated time
        if cfg.link == "gnuradio":
            if cfg.contacts is not None:
                raise ValueError("contact windows are the channel's (link='channel' or 'radio'), not the flowgraph's")
            return self._start_gnuradio()
        if cfg.link not in ("channel", "radio"):
            raise ValueError(f"link is {cfg.link!r}, allowed channel, radio or gnuradio")
        radio = ["--sample-level", "--ebn0-db", str(cfg.ebn0_db if cfg.ebn0_db is not None else 30.0)] \
            if cfg.link == "radio" else []
        self.channel = Child("channel", [
            sys.executable, "-m", "protocol.links.channel", "--ber", str(cfg.ber), "--loss", str(cfg.loss),
            *(["--up-loss", str(cfg.up_loss)] if cfg.up_loss is not None else []),
            *(["--up-rate-bps", str(cfg.up_rate_bps)] if cfg.up_rate_bps else []),
            "--delay-s", str(cfg.delay_s), "--seed", str(cfg.seed), *radio, *self._sky()],
            log_path=self.workdir / "channel.log")
        self.start_spacecraft()
        self.start_station()
        return self

    def _sky(self) -> list[str]:
        """The channel's visibility options: contact windows on the spacecraft's simulated clock."""
        cfg = self.config
        if cfg.contacts is None:
            return []
        return ["--contacts", str(cfg.contacts), "--speed", str(cfg.speed),
                *(["--sim-start", cfg.start_utc, "--sim-anchor", repr(self._anchor)] if cfg.start_utc else [])]

    def _start_gnuradio(self) -> LoopbackPass:
        """Spacecraft (binding both gr+zmq links), then the flowgraph that connects to it, then the station."""
        cfg = self.config
        python = gnuradio_python()
        if not GR_RELAY.exists() or not Path(python).exists():
            raise ChildFailed(f"the GNU Radio link needs {GR_RELAY} (a ttc checkout) and GNU Radio with gr-satellites "
                              f"in {python} (apt-get install gnuradio gr-satellites, or set TTC_GR_PYTHON)")
        self._sc_links = {"down": "gr+zmq://127.0.0.1:0", "up": "gr+zmq://127.0.0.1:0?bind=1"}
        sc = self.start_spacecraft()
        self._sc_links = {"down": sc.endpoints["down"], "up": sc.endpoints["up"] + "?bind=1"}  # same on restart
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        env.update(PYTHONPATH=str(GR_RELAY.parent), GR_CONF_LOG_LOG_LEVEL="warn")
        argv = [python, str(GR_RELAY), "--sc-down", _tcp(sc.endpoints["down"]), "--sc-up", _tcp(sc.endpoints["up"]),
                "--mode", "radio", "--seed", str(cfg.seed)]
        if cfg.ebn0_db is not None:
            argv += ["--ebn0-db", str(cfg.ebn0_db)]
        relay = Child("gnuradio", argv, log_path=self.workdir / "gnuradio.log", env=env, ready_timeout_s=60)
        self.channel = relay
        self._gs_links = {"down": "gr+zmq://" + relay.endpoints["gs_down"].removeprefix("tcp://") + "?carries=frames",
                          "up": "gr+zmq://" + relay.endpoints["gs_up"].removeprefix("tcp://") + "?bind=0"}
        self.start_station()
        return self

    def _links(self) -> tuple[dict[str, str], dict[str, str]]:
        """(spacecraft's down/up URLs, station's down/up URLs)."""
        if self.config.link == "gnuradio":
            return self._sc_links, self._gs_links or {}
        links = self._channel_urls()
        return ({"down": _connect(links["sc_down"]), "up": links["sc_up"]},
                {"down": links["gs_down"], "up": _connect(links["gs_up"])})

    def _ensure_sdls_keys(self) -> None:
        """Generate the key file (once) and the spacecraft's copy, as they would be loaded before launch."""
        if self.sdls_keys.exists():
            return
        from protocol.links.missions import load_mission

        from .sdlskeys import generate, write_private

        mission = load_mission(self.config.mission)
        kf = generate(self.sdls_keys, scid=mission.uplink.scid, vcid=mission.uplink.vcid)
        write_private(self.sdls_onboard, kf.onboard_copy())

    def start_spacecraft(self) -> Child:
        """(Re)start the spacecraft, connected to the channel, keeping its state directory."""
        cfg = self.config
        sc_links, _ = self._links()
        sdls: list[str] = []
        if cfg.sdls:
            self._ensure_sdls_keys()
            sdls = ["--sdls-keys", str(self.sdls_onboard)]
        self.spacecraft = Child("spacecraft", [
            sys.executable, "-m", "spacecraft", "--down", sc_links["down"], "--up", sc_links["up"],
            "--state-dir", str(self.state_dir), "--rate-bps", str(cfg.rate_bps), "--hk-interval",
            str(cfg.hk_interval_s), "--speed", str(cfg.speed), "--seed", str(cfg.seed),
            *(["--start-utc", cfg.start_utc, "--clock-anchor", repr(self._anchor)] if cfg.start_utc else []),
            *(["--mission", cfg.mission] if cfg.mission else []), *sdls, *cfg.extra_spacecraft],
            log_path=self.workdir / "spacecraft.log")
        return self.spacecraft

    def start_station(self) -> Child:
        """(Re)start the station on the same archive and recording, and (re)connect the client."""
        _, gs_links = self._links()
        argv = [sys.executable, "-m", "groundstation.station", "--down", gs_links["down"],
                "--up", gs_links["up"], "--archive", str(self.archive),
                "--api", "tcp://127.0.0.1:0", "--events", "tcp://127.0.0.1:0"]
        if self.config.record:
            argv += ["--record", str(self.recording)]
        if self.config.sdls:
            self._ensure_sdls_keys()
            argv += ["--sdls-keys", str(self.sdls_keys)]
        mission = self.config.station_mission or self.config.mission
        if mission:
            argv += ["--mission", mission]
        if self.client is not None:
            self.client.close()
        self.station = Child("station", argv, log_path=self.workdir / "station.log")
        self.client = StationClient(self.station.endpoints["api"], self.station.endpoints["events"])
        return self.station

    def stop(self) -> dict[str, int]:
        """Stop everything (station first, so it archives what is in flight); the exit codes."""
        codes: dict[str, int] = {}
        if self.client is not None:
            self.client.close()
            self.client = None
        for child in (self.station, self.spacecraft, self.channel):
            if child is not None:
                codes[child.name] = child.stop()
        self.exit_codes.update(codes)
        return codes

    def __enter__(self) -> LoopbackPass:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers --------------------------------------------------------------------------
    @property
    def gs(self) -> StationClient:
        """The station client."""
        if self.client is None:
            raise RuntimeError("the pass is not running")
        return self.client

    def _channel_urls(self) -> dict[str, str]:
        if self.channel is None:
            raise RuntimeError("start the channel first")
        return self.channel.endpoints

    def until(self, check: Any, what: str, *, timeout_s: float = 20.0) -> Any:
        """Re-run ``check()`` on the station's live stream until it is truthy (StationClient.until)."""
        return self.gs.until(check, what, timeout_s=timeout_s)


def _connect(url: str) -> str:
    """The same endpoint for the side that connects (the channel bound it)."""
    return url.split("?", 1)[0] + "?bind=0"


def _tcp(url: str) -> str:
    """The libzmq endpoint of a gr+zmq:// link URL (what the flowgraph's gr-zeromq blocks take)."""
    return "tcp://" + url.split("://", 1)[1].split("?", 1)[0]
