"""The SDLS key file and ``ttc keys generate|list|rotate|show-sa|export-onboard``: mode 0600 or refused,
keys never shown, IVs never reused across restarts, rotation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from groundstation.sdlskeys import IV_LEASE, KeyFile, KeyFileError, generate
from protocol.sdls import SdlsReceiver
from protocol.tcframe import FrameType, SegmentHeader, TcFrame

TTC = [sys.executable, "-m", "groundstation.cli"]


def _frame() -> TcFrame:
    return TcFrame(scid=0x1AB, vcid=0, data=b"command", frame_type=FrameType.AD, segment=SegmentHeader(0))


def test_generate_is_private_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    kf = generate(path, scid=0x1AB, vcid=0)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert len(kf.key(1) or b"") == 32 and kf.operational().spi == 1
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        generate(path, scid=0x1AB, vcid=0)
    assert KeyFile.load(path).key(1) == kf.key(1)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666])
def test_a_key_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "k.json"
    generate(path, scid=0x1AB, vcid=0)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match=f"mode {mode:04o}.*chmod 600"):
        KeyFile.load(path)


def test_ivs_are_never_reused_across_restarts(tmp_path: Path) -> None:
    """The ground leases IVs in blocks recorded before use: a sender started again (after any stop)
    starts above every IV the one before it could have sent, and the spacecraft takes its frames."""
    path = tmp_path / "k.json"
    kf = generate(path, scid=0x1AB, vcid=0)
    rx = SdlsReceiver(kf.sas(), kf.key)
    first = kf.sender()
    used = [int.from_bytes(first.protect(_frame()).data[2:14], "big") for _ in range(IV_LEASE + 10)]
    again = KeyFile.load(path).sender()  # a "crash" here: the lease on disk is ahead of what was used
    nxt = int.from_bytes(again.protect(_frame()).data[2:14], "big")
    assert nxt > max(used) and len(set(used)) == len(used)
    assert rx.process(TcFrame.decode(again.protect(_frame()).encode(), segment_header=True)).data == b"command"


def test_rotate_and_the_onboard_copy(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    kf = generate(path, scid=0x1AB, vcid=0)
    old = kf.key(1)
    assert kf.rotate() == 2
    kf = KeyFile.load(path)
    assert kf.key(1) is None and kf.key(2) not in (None, old) and kf.operational().key_id == 2
    board = kf.onboard_copy()
    assert "iv_lease" not in board and board["keys"] == kf.data["keys"]
    rx = SdlsReceiver(kf.sas(), kf.key)
    assert rx.process(TcFrame.decode(kf.sender().protect(_frame()).encode(), segment_header=True)).data == b"command"


def test_the_cli_never_prints_a_key(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    env = {**os.environ, "TTC_SDLS_KEYS": str(path)}
    outs = []
    for args in (["generate"], ["list"], ["show-sa"], ["rotate"], ["list"], ["export-onboard", str(tmp_path / "b.json")]):
        r = subprocess.run([*TTC, "keys", *args], capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout + r.stderr)
    keys = [v["key"] for v in json.loads(path.read_text())["keys"].values()]
    assert all(k not in out and k[:16] not in out for k in keys for out in outs)
    assert "key 1" in outs[4] and "retired" in outs[4] and "key 2" in outs[4] and "active" in outs[4]
    assert "AES-256-GCM authenticated encryption" in outs[2]
    assert os.stat(tmp_path / "b.json").st_mode & 0o777 == 0o600
    os.chmod(path, 0o644)
    r = subprocess.run([*TTC, "keys", "list"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1 and "chmod 600" in r.stderr and "Traceback" not in r.stderr
