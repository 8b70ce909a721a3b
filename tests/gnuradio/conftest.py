"""GNU Radio runs in the system interpreter, as a subprocess: these fixtures find it or skip with the reason.

CI installs Debian's ``gnuradio`` and ``gr-satellites`` (``.ci/run``), so there these tests always run;
elsewhere they skip, naming what is missing. The toolkit's own environment never imports GNU Radio.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GR_TOOLS = ROOT / "tools" / "gnuradio"
SYSTEM_PYTHON = os.environ.get("TTC_GR_PYTHON", "/usr/bin/python3")


@dataclass(frozen=True)
class GnuRadio:
    """Runs Python code or a flowgraph script under the system interpreter that has GNU Radio."""

    python: str

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        env["GR_CONF_LOG_LOG_LEVEL"] = "warn"
        env["PYTHONPATH"] = str(GR_TOOLS)  # grcompat and the flowgraphs' shared helpers
        return env

    def run(self, *args: str, timeout_s: float = 120.0, input: bytes | None = None) -> subprocess.CompletedProcess:
        """Run ``python3 ARGS...`` (a script under tools/gnuradio or ``-c CODE``); raise with stderr on failure."""
        proc = subprocess.run([self.python, *args], input=input, capture_output=True, timeout=timeout_s,
                              env=self.env(), cwd=str(ROOT), check=False)
        if proc.returncode != 0:
            raise AssertionError(f"GNU Radio run {args[:2]} failed ({proc.returncode}):\n"
                                 f"{proc.stderr.decode(errors='replace')[-4000:]}")
        return proc

    def script(self, name: str, *args: str, timeout_s: float = 120.0) -> subprocess.CompletedProcess:
        """Run the flowgraph ``tools/gnuradio/NAME`` with ``args``."""
        return self.run(str(GR_TOOLS / name), *args, timeout_s=timeout_s)


def _probe(python: str) -> str | None:
    """None when ``python`` imports GNU Radio and gr-satellites, else why not."""
    if not Path(python).exists():
        return f"{python} not found (set TTC_GR_PYTHON to the interpreter that has GNU Radio)"
    code = "import grcompat, pmt; from gnuradio import gr, zeromq, digital; import satellites; print(gr.version())"
    try:
        proc = subprocess.run([python, "-c", code], capture_output=True, timeout=60,
                              env=GnuRadio(python).env(), check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{python} could not be run: {e}"
    if proc.returncode != 0:
        last = (proc.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        return f"GNU Radio / gr-satellites not importable by {python}: {last} (apt-get install gnuradio gr-satellites)"
    return None


@pytest.fixture(scope="session")
def gnuradio() -> GnuRadio:
    """The system GNU Radio (3.10 with gr-satellites), or skip saying what is missing."""
    if sys.platform != "linux":
        pytest.skip("GNU Radio tests run on Linux (Debian's gnuradio and gr-satellites packages)")
    why = _probe(SYSTEM_PYTHON)
    if why is not None:
        if os.environ.get("CI") or os.environ.get("TTC_REQUIRE_GNURADIO"):
            pytest.fail(f"CI must run the GNU Radio tests, but: {why}")
        pytest.skip(why)
    return GnuRadio(SYSTEM_PYTHON)
