"""ttc decode's memory does not grow with the file: the peak RSS of a decode (summary, and the Parquet export
of every parameter value) of a file ten times larger stays within a few MB of the small file's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from protocol.mission import MISSION
from protocol.stack import DownlinkEncoder

from .test_decode import hk_packets

pytestmark = pytest.mark.slow

MEASURE = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
           "sys.exit(r.returncode) if r.returncode else print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def _peak_rss_mb(*args: str | Path) -> float:
    out = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "groundstation.cli", "decode",
                          *map(str, args)], capture_output=True, text=True, timeout=600, check=True)
    return int(out.stdout.split()[-1]) / 1024


def _cadu_file(path: Path, megabytes: float) -> None:
    packets, _ = hk_packets(4000)
    enc = DownlinkEncoder(MISSION.downlink, {0: 0})
    with open(path, "wb") as f:
        written = 0
        while written < megabytes * 1e6:
            for p in packets:
                enc.submit(0, p)
            block = enc.cadus(sum(map(len, packets)) // 880)
            f.write(block)
            written += len(block)


def test_peak_memory_is_independent_of_the_file_size(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow", reason="pyarrow (the ttc[parquet] extra) is not installed")
    small, large = tmp_path / "small.cadu", tmp_path / "large.cadu"
    _cadu_file(small, 3)
    _cadu_file(large, 30)
    assert large.stat().st_size > 9 * small.stat().st_size
    rss = {}
    for name, path in (("small", small), ("large", large)):
        rss[name, "summary"] = _peak_rss_mb(path, "--json", "--no-progress")
        rss[name, "parquet"] = _peak_rss_mb(path, "--json", "--no-progress", "--parameters", tmp_path / "v.parquet",
                                            "--format", "parquet")
    # 27 MB more input; the decoder holds a chunk, the export a batch of packets: neither grows with the file
    assert rss["large", "summary"] < rss["small", "summary"] + 15, rss
    assert rss["large", "parquet"] < rss["small", "parquet"] + 25, rss
    assert rss["large", "parquet"] < 300, rss  # the bound, at any size
