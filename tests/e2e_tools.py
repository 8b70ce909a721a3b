"""What the end-to-end tests share: the station archive read as another process would, the ttc CLI run, and the
session's CURVE client keys for a raw ZeroMQ socket."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import zmq

from groundstation.keys import client_credentials

REPO = Path(__file__).resolve().parents[1]
TTC = [sys.executable, "-m", "groundstation.cli"]


def archive_rows(path: Path, sql: str, *args: Any) -> list[tuple]:
    """Rows from a station archive, read with a separate read-only connection (what was committed)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def ttc_stdout(*args: str | Path, timeout_s: float = 120) -> str:
    """Run the ttc CLI from the repository, expect success, and return what it printed."""
    out = subprocess.run([*TTC, *map(str, args)], capture_output=True, text=True, timeout=timeout_s, cwd=REPO)
    assert out.returncode == 0, f"ttc {' '.join(map(str, args))}: {out.stderr}"
    return out.stdout


def curve_client(sock: zmq.Socket, keys_dir: Path | None = None) -> zmq.Socket:
    """Give a raw ZeroMQ socket, before it connects, the CURVE client keys StationClient would use; the socket."""
    public, secret, server = client_credentials(keys_dir)
    sock.setsockopt(zmq.CURVE_SERVERKEY, server)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, public)
    sock.setsockopt(zmq.CURVE_SECRETKEY, secret)
    return sock
