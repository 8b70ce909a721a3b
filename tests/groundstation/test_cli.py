"""The ttc command line: version, help, and the stack demonstration run as a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from groundstation.stackdemo import run
from protocol import __version__

TTC = [sys.executable, "-m", "groundstation.cli"]


def test_version_and_help() -> None:
    out = subprocess.run([*TTC, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"ttc, version {__version__}"
    out = subprocess.run([*TTC, "--help"], capture_output=True, text=True, check=True)
    assert "demo" in out.stdout and "stack-demo" in out.stdout


def test_stack_demo_process_decodes_everything(real_dir: Path) -> None:
    out = subprocess.run([*TTC, "stack-demo", "--real-dir", str(real_dir)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "every packet arrived intact" in out.stdout
    assert "decoded as TC[17,1]" in out.stdout
    assert "5e11051d86c46ddc3500904c99bbe978 (matches the published one)" in out.stdout


def test_stack_demo_counts_corrections_at_a_higher_error_rate(tmp_path: Path) -> None:
    lines: list[str] = []
    figures = run(bit_error_rate=2e-4, seed=3, real_dir=tmp_path, echo=lines.append)
    counters = figures["counters"]
    assert figures["bits_flipped"] > 100
    # each flipped bit damages at most one RS symbol; the ASM absorbs a few
    assert 0 < counters["rs_corrected"] <= figures["bits_flipped"]
    assert figures["received"] + figures["lost"] >= figures["sent"] - 1
    assert figures["uplink_ok"] is True
    assert "snpp_md5_ok" not in figures and any("not found" in line for line in lines)
