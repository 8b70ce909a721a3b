"""Spacecraft, channel and station as real processes on loopback: the bench the demo and the tests fly on.

:class:`LoopbackPass` starts ``python -m protocol.links.channel`` (which binds
all four link endpoints on free loopback ports), then ``python -m spacecraft``
and ``python -m groundstation.station`` connected through it, each waited for
through its ``READY`` line (never a sleep), and hands out a
:class:`~groundstation.client.StationClient`. Children are stopped with
SIGTERM (SIGKILL when asked, to test crash recovery); their logs stay in the
work directory. The ground segment starts the spacecraft as a program and never
imports it (DESIGN.md).
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

__all__ = ["Child", "LoopbackPass", "PassConfig", "ChildFailed"]


class ChildFailed(RuntimeError):
    """A child process did not become ready (its log tail is in the message)."""


class Child:
    """One child process whose first stdout line is ``READY {json endpoints}``."""

    def __init__(self, name: str, argv: list[str], *, log_path: Path, ready_timeout_s: float = 20.0) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
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
        try:
            while time.monotonic() < deadline and b"\n" not in buf:
                if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
        finally:
            sel.close()
        line = buf.split(b"\n", 1)[0].decode(errors="replace")
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
    delay_s: float = 0.0
    rate_bps: float = 256_000
    hk_interval_s: float = 1.0
    speed: float = 1.0
    seed: int = 7
    record: bool = True
    extra_spacecraft: tuple[str, ...] = field(default=())
    mission: str | None = None  # --mission of both processes (None: theirs, TTC_MISSION or the reference)
    station_mission: str | None = None  # the station's, when it must differ (a mismatch test)


class LoopbackPass:
    """The three processes of a pass, started for real; use as a context manager."""

    def __init__(self, workdir: Path, config: PassConfig | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config = config or PassConfig()
        self.archive = self.workdir / "station.db"
        self.recording = self.workdir / "downlink.ttcrec"
        self.state_dir = self.workdir / "spacecraft-state"
        self.channel: Child | None = None
        self.spacecraft: Child | None = None
        self.station: Child | None = None
        self.client: StationClient | None = None
        self.exit_codes: dict[str, int] = {}

    # -- start / stop ---------------------------------------------------------------------
    def start(self) -> LoopbackPass:
        """Start channel, spacecraft and station; connect the client."""
        cfg = self.config
        self.channel = Child("channel", [
            sys.executable, "-m", "protocol.links.channel", "--ber", str(cfg.ber), "--loss", str(cfg.loss),
            "--delay-s", str(cfg.delay_s), "--seed", str(cfg.seed)], log_path=self.workdir / "channel.log")
        self.start_spacecraft()
        self.start_station()
        return self

    def start_spacecraft(self) -> Child:
        """(Re)start the spacecraft, connected to the channel, keeping its state directory."""
        cfg = self.config
        links = self._channel_urls()
        self.spacecraft = Child("spacecraft", [
            sys.executable, "-m", "spacecraft", "--down", _connect(links["sc_down"]), "--up", links["sc_up"],
            "--state-dir", str(self.state_dir), "--rate-bps", str(cfg.rate_bps), "--hk-interval",
            str(cfg.hk_interval_s), "--speed", str(cfg.speed), "--seed", str(cfg.seed),
            *(["--mission", cfg.mission] if cfg.mission else []), *cfg.extra_spacecraft],
            log_path=self.workdir / "spacecraft.log")
        return self.spacecraft

    def start_station(self) -> Child:
        """(Re)start the station on the same archive and recording, and (re)connect the client."""
        links = self._channel_urls()
        argv = [sys.executable, "-m", "groundstation.station", "--down", links["gs_down"],
                "--up", _connect(links["gs_up"]), "--archive", str(self.archive),
                "--api", "tcp://127.0.0.1:0", "--events", "tcp://127.0.0.1:0"]
        if self.config.record:
            argv += ["--record", str(self.recording)]
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
