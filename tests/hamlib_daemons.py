"""hamlib's real daemons for tests: rotctld and rigctld started on a free loopback port, and always stopped.

``rotctld()`` / ``rigctld()`` yield ``(host, port, process)`` once the daemon accepts connections (a connect
handshake polled against a deadline, never a fixed sleep) and stop it afterwards, killing it if it does not exit;
``restart_daemon(process)`` kills a daemon and starts the same command line on the same port (for reconnection
tests), and the context manager stops the new process too. Without the binary the test is skipped, unless
``CI`` or ``TTC_REQUIRE_HAMLIB`` is set: then it fails, so CI cannot pass without running them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

import pytest

HOST = "127.0.0.1"  # loopback only: a test daemon is never reachable from the network
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 3.0
POLL_S = 0.01  # between connect attempts while waiting for the daemon to listen
REQUIRE_ENV = ("CI", "TTC_REQUIRE_HAMLIB")


@dataclass
class _Daemon:
    """One started daemon's command line and every process started with it (restarts included)."""

    argv: tuple[str, ...]
    port: int
    processes: list[subprocess.Popen] = field(default_factory=list)


_DAEMONS: dict[int, _Daemon] = {}  # pid -> the daemon it belongs to, for restart_daemon()
_STDERR: dict[int, IO[bytes]] = {}  # pid -> its stderr file, read when it fails to start


class DaemonStartError(RuntimeError):
    """A daemon exited or never listened; the message carries its stderr."""


def binary(name: str) -> str:
    """The path of hamlib's ``name`` (rotctld, rigctld); skip the test without it, or fail it under CI."""
    path = shutil.which(name)
    if path is None:
        message = f"hamlib's {name} is not installed (apt-get install libhamlib-utils)"
        required = [var for var in REQUIRE_ENV if os.environ.get(var)]
        if required:
            pytest.fail(f"{message}; required because {' and '.join(required)} is set")
        pytest.skip(message)
    return path


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, *, timeout_s: float = START_TIMEOUT_S) -> None:
    """Return once ``port`` accepts a connection; fail if ``process`` exits first or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return
        except OSError as exc:
            if process.poll() is not None:
                raise DaemonStartError(f"{process.args[0]} exited with {process.returncode} before listening "
                                       f"on {HOST}:{port}{_stderr(process)}") from exc
            if time.monotonic() > deadline:
                raise DaemonStartError(f"{process.args[0]} did not listen on {HOST}:{port} within "
                                       f"{timeout_s:g} s{_stderr(process)}") from exc
        time.sleep(POLL_S)


def _stderr(process: subprocess.Popen) -> str:
    """What the process wrote to stderr, for an error message."""
    log = _STDERR.get(process.pid)
    if log is None:
        return ""
    log.seek(0)
    text = log.read().decode(errors="replace").strip()
    return f"; its stderr: {text[-2000:]}" if text else ""


def _spawn(argv: tuple[str, ...], port: int) -> subprocess.Popen:
    """Start argv and wait until it listens on port."""
    log = tempfile.TemporaryFile(prefix="hamlib-", suffix=".log")  # noqa: SIM115 - closed by stop_daemon
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    _STDERR[process.pid] = log
    try:
        wait_listening(port, process)
    except BaseException:
        stop_daemon(process)
        raise
    return process


def stop_daemon(process: subprocess.Popen, *, kill: bool = False) -> None:
    """Stop a daemon (SIGTERM, or SIGKILL with kill=True, as a crash would) and wait until it has exited."""
    if process.poll() is None:
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
    log = _STDERR.pop(process.pid, None)
    if log is not None:
        log.close()


def restart_daemon(process: subprocess.Popen) -> subprocess.Popen:
    """Kill a daemon started here and start the same command on the same port; the new process, listening."""
    daemon = _DAEMONS.get(process.pid)
    if daemon is None:
        raise ValueError(f"pid {process.pid} was not started by rotctld()/rigctld() (or has been restarted)")
    stop_daemon(process, kill=True)
    del _DAEMONS[process.pid]
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:  # the port was just freed; retry if another process raced us to it or it is not yet reusable
        try:
            new = _spawn(daemon.argv, daemon.port)
            break
        except DaemonStartError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # a backoff between attempts, not a synchronisation
    daemon.processes.append(new)
    _DAEMONS[new.pid] = daemon
    return new


@contextmanager
def _daemon(name: str, *, model: int, extra: tuple[str, ...]) -> Iterator[tuple[str, int, subprocess.Popen]]:
    """Start hamlib's ``name`` with ``-m model`` on a free loopback port; stop it (and any restart) on exit."""
    path = binary(name)
    for attempt in range(3):  # a free port can be taken between probing it and the daemon binding it
        port = free_port()
        argv = (path, "-m", str(model), "-T", HOST, "-t", str(port), *extra)
        try:
            process = _spawn(argv, port)
            break
        except DaemonStartError:
            if attempt == 2:
                raise
    daemon = _Daemon(argv=argv, port=port, processes=[process])
    _DAEMONS[process.pid] = daemon
    try:
        yield HOST, port, process
    finally:
        for started in daemon.processes:
            _DAEMONS.pop(started.pid, None)
            stop_daemon(started)


@contextmanager
def rotctld(*, model: int = 1, extra: tuple[str, ...] = ()) -> Iterator[tuple[str, int, subprocess.Popen]]:
    """hamlib's rotctld (model 1: the dummy rotator) on a free loopback port: yields (host, port, process)."""
    with _daemon("rotctld", model=model, extra=extra) as running:
        yield running


@contextmanager
def rigctld(*, model: int = 1, extra: tuple[str, ...] = ()) -> Iterator[tuple[str, int, subprocess.Popen]]:
    """hamlib's rigctld (model 1: the dummy rig) on a free loopback port: yields (host, port, process)."""
    with _daemon("rigctld", model=model, extra=extra) as running:
        yield running
