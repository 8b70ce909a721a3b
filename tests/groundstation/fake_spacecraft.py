"""Test doubles for the station's peers: a spacecraft built from protocol.stack encoders, and a station process.

:class:`FakeSpacecraft` plays the spacecraft over real loopback sockets: it
binds a CADU sender, sends one CADU every ``frame_s`` (idle frames when nothing
waits, like a real downlink), decodes the CLTUs the station sends, and answers
each TC with PUS service 1 reports (a TM[1,8] failure for the commands named
in ``fail``), TM[17,2] for a ping, and runs TC[11,4] activities at their
release time. :class:`StationProcess` starts ``python -m groundstation.station``
for real and waits for its READY line.
"""

from __future__ import annotations

import heapq
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from protocol.links import open_receiver, open_sender
from protocol.mission import APID_OBC, MISSION
from protocol.pus import (
    DEFAULT_TM_TIME,
    AcceptanceSuccess,
    AreYouAliveReport,
    CompletionFailure,
    CompletionSuccess,
    FailureCode,
    FailureNotice,
    InsertActivities,
    PusTc,
    PusTm,
    StartSuccess,
    decode_body,
)
from protocol.stack import DownlinkEncoder, TcPacketReceived, UplinkDecoder
from protocol.timecode import CucTime

from groundstation.station import downlink_config, uplink_config


def now_cuc() -> CucTime:
    """On-board time now (the fake spacecraft's clock is the host's UTC clock)."""
    return CucTime.from_datetime(datetime.now(timezone.utc).replace(tzinfo=None), config=DEFAULT_TM_TIME)


class FakeSpacecraft:
    """A spacecraft made of the protocol stack's encoders/decoders, on its own thread."""

    def __init__(self, *, frame_s: float = 0.01, fail: tuple[str, ...] = ("IMAGER_CAPTURE",)) -> None:
        self.sender = open_sender("zmq://127.0.0.1:0")
        self.down_url = "zmq://" + self.sender.address.removeprefix("tcp://")  # type: ignore[attr-defined]
        self.encoder = DownlinkEncoder(downlink_config(), {0: 0, 1: 1})
        self.uplink = UplinkDecoder(uplink_config())
        self.frame_s = frame_s
        self.fail = set(fail)
        self.received: list[PusTc] = []
        self.tc_seen = threading.Event()
        self._seq: dict[int, int] = {}
        self._schedule: list[tuple[float, int, PusTc]] = []
        self._junk: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.up_url: str | None = None
        self.cadus_sent = 0

    # ------------------------------------------------------------------ building telemetry
    def tm(self, service: int, subtype: int, source_data: bytes, *, apid: int = APID_OBC,
           sequence_count: int | None = None) -> bytes:
        """A PUS TM packet with the next sequence count of ``apid``."""
        seq = self._seq.get(apid, 0) if sequence_count is None else sequence_count
        self._seq[apid] = (seq + 1) % 0x4000
        return PusTm(apid=apid, service=service, subtype=subtype, time=now_cuc(), source_data=source_data,
                     sequence_count=seq).encode()

    def hk(self, sid_name: str, **eng: Any) -> bytes:
        """A TM[3,25] of housekeeping structure ``sid_name`` with engineering values (others nominal-ish)."""
        decl = MISSION.telemetry[next(k for k, t in MISSION.telemetry.items() if t.name == f"HK_{sid_name}")]
        raw: dict[str, int | float] = {}
        for p in decl.parameters:
            value = eng.get(p.name)
            if p.name == MISSION.fingerprint_parameter and value is None:
                raw[p.name] = MISSION.fingerprint  # the dictionary it flies: the station's own
            elif value is None:
                raw[p.name] = _nominal_raw(p)
            else:
                raw[p.name] = p.to_raw(value)
        return self.tm(3, 25, decl.encode(raw), apid=decl.apid)

    def submit(self, packet: bytes, *, vcid: int = 0) -> None:
        """Queue a packet for the downlink."""
        with self._lock:
            self.encoder.submit(vcid, packet)

    def inject_junk(self, data: bytes) -> None:
        """Send ``data`` as one downlink message in place of the next CADU."""
        with self._lock:
            self._junk.append(data)

    # ------------------------------------------------------------------ running
    def start(self, up_url: str) -> None:
        """Connect the uplink to the station's CLTU sender and start sending CADUs."""
        self.up_url = up_url
        self._thread = threading.Thread(target=self._run, name="fake-spacecraft", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close the sockets."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sender.close()

    def _run(self) -> None:
        receiver = open_receiver(self.up_url or "")
        try:
            next_frame = time.monotonic()
            while not self._stop.is_set():
                frame = receiver.recv(max(0.0, next_frame - time.monotonic()))
                if frame is not None:
                    self.uplink.feed(frame.data)
                    for ev in self.uplink.events():
                        if isinstance(ev, TcPacketReceived):
                            self._tc(PusTc.decode(ev.data))
                    continue
                self._release_due()
                with self._lock:
                    data = self._junk.popleft() if self._junk else self.encoder.next_cadu()
                self.sender.send(data)
                self.cadus_sent += 1
                next_frame += self.frame_s
        finally:
            receiver.close()

    def _release_due(self) -> None:
        now = time.time()
        while self._schedule and self._schedule[0][0] <= now:
            _, _, tc = heapq.heappop(self._schedule)
            self._execute(tc)

    def _tc(self, tc: PusTc) -> None:
        self.received.append(tc)
        self.tc_seen.set()
        if (tc.service, tc.subtype) == (11, 4):
            body = decode_body(tc)
            self._reply(tc, ok=True)
            for act in body.activities:  # type: ignore[attr-defined]
                release_unix = act.release_time.to_datetime().timestamp()
                heapq.heappush(self._schedule, (release_unix, len(self.received), act.request))
            return
        self._execute(tc)

    def _execute(self, tc: PusTc) -> None:
        cmd = MISSION.command_for(tc.apid, tc.service, tc.subtype, tc.app_data)
        self._reply(tc, ok=cmd is None or cmd.name not in self.fail)
        if (tc.service, tc.subtype) == (17, 1):
            self.submit(self.tm(17, 2, AreYouAliveReport().encode()))

    def _reply(self, tc: PusTc, *, ok: bool) -> None:
        rid = tc.request_id
        self.submit(self.tm(1, 1, AcceptanceSuccess(rid).encode()))
        self.submit(self.tm(1, 3, StartSuccess(rid).encode()))
        if ok:
            self.submit(self.tm(1, 7, CompletionSuccess(rid).encode()))
        else:
            self.submit(self.tm(1, 8, CompletionFailure(rid, FailureNotice(FailureCode.WRONG_MODE)).encode()))


def _nominal_raw(p: Any) -> int | float:
    lim = p.limits
    if lim is None:
        return 0 if p.calibration is None or not hasattr(p.calibration, "inverse") else p.to_raw(0)
    lows = [x for x in (lim.soft_low, lim.hard_low) if x is not None]
    highs = [x for x in (lim.soft_high, lim.hard_high) if x is not None]
    lo = max(lows) if lows else (min(highs) - 1 if highs else 0)
    hi = min(highs) if highs else lo + 2
    return p.to_raw((lo + hi) / 2)


class StationProcess:
    """``python -m groundstation.station`` as a child process, with its READY endpoints."""

    def __init__(self, *, down_url: str, archive: Path, log_path: Path, extra: tuple[str, ...] = (),
                 up_url: str = "zmq://127.0.0.1:0", program: tuple[str, ...] = ("-m", "groundstation.station")) -> None:
        self.args = [sys.executable, *program, "--down", down_url, "--up", up_url,
                     "--archive", str(archive), "--api", "tcp://127.0.0.1:0", "--events", "tcp://127.0.0.1:0",
                     *extra]
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self._log, env=env)
        self.endpoints = self._ready(timeout_s=15)

    def _ready(self, *, timeout_s: float) -> dict[str, str]:
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout_s
        buf = b""
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            if b"\n" in buf:
                line = buf.split(b"\n", 1)[0].decode()
                if line.startswith("READY "):
                    return json.loads(line[len("READY "):])
        self.kill()
        raise RuntimeError(f"station did not become ready: {buf!r}\n{self.log_path.read_text()}")

    def terminate(self, *, timeout_s: float = 10) -> int:
        """SIGTERM and wait; the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        finally:
            self._log.close()

    def kill(self) -> None:
        """SIGKILL (no chance to clean up) and reap."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        if not self._log.closed:
            self._log.close()
