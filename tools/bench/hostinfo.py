"""What machine a benchmark ran on, in one line (shared by the scripts in tools/bench/)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(*extras: str) -> str:
    """CPU, core count, Python version and any ``extras`` (library versions) as one line."""
    return ", ".join([cpu_model(), f"{os.cpu_count()} cores", f"Python {platform.python_version()}", *extras])
