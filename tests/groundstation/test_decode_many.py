"""``ttc decode`` of many files: a directory, a glob or several files, decoded as tasks on local processes or a
Dask cluster; the merged summary equals the decode of the files joined, and breaks between files are found."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from protocol.mission import MISSION
from protocol.pus import PusTm
from protocol.stack import DownlinkConfig, DownlinkEncoder
from protocol.timecode import CucTime

from .test_decode import summary, ttc_decode

# the counters a summary of many files sums (every per-layer counter of DownlinkCounters.as_dict)
COUNTERS = ("cadus", "asm_bit_errors", "skipped_bits", "rs_corrected", "rs_uncorrectable", "frames", "idle_frames",
            "frame_gaps", "frames_missing", "frame_errors", "packets", "idle_packets", "packet_gaps",
            "packets_missing", "crc_errors", "bytes_dropped", "packets_by_apid", "frames_by_vc")
# 2026-12-02 23:50 UTC: a series of one report a second runs into the next day
START = CucTime.from_datetime(datetime(2026, 12, 2, 23, 50, tzinfo=timezone.utc))


def hk_series(n: int, *, first: int = 0) -> list[bytes]:
    """HK_POWER reports number ``first`` .. ``first + n - 1``: sequence count and seconds after START both i."""
    hk = MISSION.housekeeping(1)
    out = []
    for i in range(first, first + n):
        raw = {"BATTERY_VOLTAGE": 7000 + i % 1000, "BATTERY_CURRENT": -500 + i % 700, "BATTERY_SOC": 80,
               "SOLAR_POWER": 1234, "IN_ECLIPSE": i % 2, "PAYLOAD_POWERED": 0}
        t = CucTime(coarse_s_raw=START.coarse_s_raw + i, fine_raw=0)
        out.append(PusTm(apid=hk.apid, service=3, subtype=25, time=t, source_data=hk.encode(raw),
                         sequence_count=i % 16384).encode())
    return out


def counters(s: dict) -> dict:
    return {k: s[k] for k in COUNTERS}


@pytest.fixture(scope="module")
def packets() -> list[bytes]:
    return hk_series(3000)


@pytest.fixture(scope="module")
def cadus(packets: list[bytes]) -> tuple[bytes, int]:
    """The CADUs carrying the series (RS I=4, randomised) and the CADU length."""
    enc = DownlinkEncoder(DownlinkConfig.cubesat(scid=MISSION.scid, interleave=4), {0: 0})
    for p in packets:
        enc.submit(0, p)
    n = sum(map(len, packets)) // 880 + 2
    return enc.cadus(n), len(enc.cadus(1))


def split(folder: Path, data: bytes, cuts: list[int], suffix: str) -> list[Path]:
    """``data`` cut at the octet offsets ``cuts`` into folder/part-0SUFFIX, part-1SUFFIX, ..."""
    folder.mkdir()
    bounds = [0, *cuts, len(data)]
    paths = []
    for k in range(len(bounds) - 1):
        paths.append(folder / f"part-{k}{suffix}")
        paths[-1].write_bytes(data[bounds[k]:bounds[k + 1]])
    return paths


def test_packet_files_sum_to_the_file_they_were_cut_from(tmp_path: Path, packets: list[bytes]) -> None:
    whole = tmp_path / "whole.bin"
    whole.write_bytes(b"".join(packets))
    cuts = [sum(map(len, packets[:k])) for k in (700, 1500, 2222)]
    split(tmp_path / "parts", whole.read_bytes(), cuts, ".bin")
    one, many = summary(whole), summary(tmp_path / "parts", "--jobs", "2")
    assert many["files"] == 4 and many["files_failed"] == 0
    assert counters(many) == counters(one)
    assert many["packets"] == 3000 and many["packet_gaps"] == 0 and many["boundaries"] == []
    assert [s["packets"] for s in many["per_file"]] == [700, 800, 722, 778]
    assert many["octets"] == whole.stat().st_size


def test_a_break_between_files_is_found_and_placed(tmp_path: Path, packets: list[bytes]) -> None:
    """Reports 1000-1006 are in no file: the break is counted as a gap, and said to be between files 0 and 1;
    the decode of the files joined (where the break is inside one file) counts the same."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.bin").write_bytes(b"".join(packets[:1000]))
    (tmp_path / "d" / "b.bin").write_bytes(b"".join(packets[1007:]))
    joined = tmp_path / "joined.bin"
    joined.write_bytes(b"".join(packets[:1000] + packets[1007:]))
    many, one = summary(tmp_path / "d", "--jobs", "1"), summary(joined)
    assert counters(many) == counters(one)
    assert many["packet_gaps"] == 1 and many["packets_missing"] == 7 and many["boundary_gaps"] == 1
    assert many["boundaries"] == [{"after": str(tmp_path / "d" / "a.bin"), "before": str(tmp_path / "d" / "b.bin"),
                                   "apid": MISSION.housekeeping(1).apid, "packets": 7, "expected": 1000,
                                   "got": 1007}]
    assert [s["packet_gaps"] for s in many["per_file"]] == [0, 0]  # no file has a gap of its own


def test_cadu_files_cut_between_cadus_keep_every_frame(tmp_path: Path, cadus: tuple[bytes, int]) -> None:
    """CADU files cut between CADUs: every CADU and frame is decoded as in the whole, frame counts continue
    across the files; a packet a cut splits is dropped by both files and shows as a one-packet break there."""
    data, cadu_len = cadus
    whole = tmp_path / "whole.cadu"
    whole.write_bytes(data)
    n = len(data) // cadu_len
    split(tmp_path / "parts", data, [k * cadu_len for k in (n // 3, 2 * n // 3)], ".cadu")
    one, many = summary(whole), summary(tmp_path / "parts")
    for k in ("cadus", "frames", "idle_frames", "frame_gaps", "frames_missing", "rs_uncorrectable", "frames_by_vc"):
        assert many[k] == one[k], k
    assert one["packet_gaps"] == 0 and one["packets"] == 3000
    cut_packets = many["boundary_gaps"]
    assert 1 <= cut_packets <= 2 and many["packet_gaps"] == cut_packets
    assert many["packets"] + many["packets_missing"] == 3000
    assert all(b["packets"] == 1 for b in many["boundaries"])
    assert many["bytes_dropped"] > 0


def test_a_frame_break_between_cadu_files_is_counted(tmp_path: Path, cadus: tuple[bytes, int]) -> None:
    data, cadu_len = cadus
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "1.cadu").write_bytes(data[:20 * cadu_len])
    (tmp_path / "d" / "2.cadu").write_bytes(data[23 * cadu_len:])
    many = summary(tmp_path / "d", "--jobs", "1")
    frame_breaks = [b for b in many["boundaries"] if "vcid" in b]
    assert frame_breaks == [{"after": str(tmp_path / "d" / "1.cadu"), "before": str(tmp_path / "d" / "2.cadu"),
                             "vcid": 0, "frames": 3, "expected": 20, "got": 23}]
    assert many["frame_gaps"] == 1 and many["frames_missing"] == 3


def test_dask_cluster_decode_equals_local_decode(tmp_path: Path, packets: list[bytes],
                                                 cadus: tuple[bytes, int]) -> None:
    """The same directory on a dask.distributed LocalCluster (2 worker processes), on 2 local processes and in
    one: the same summary, counters and breaks included, and the same Parquet exports."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed (the ttc[cluster] extra) is missing")
    pytest.importorskip("pyarrow", reason="pyarrow (the ttc[parquet] extra) is not installed")
    import pyarrow.parquet as pq

    data, cadu_len = cadus
    folder = tmp_path / "in"
    split(folder, data, [k * cadu_len for k in (10, 30, 31)], ".cadu")
    (folder / "sub").mkdir()
    (folder / "sub" / "late.bin").write_bytes(b"".join(hk_series(50, first=3100)))  # packets, after a break
    results = {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, protocol="tcp") as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        for how, opts in (("dask", ["--scheduler", address]), ("local", ["--jobs", "2"]), ("one", ["--jobs", "1"])):
            out = tmp_path / f"out-{how}"
            results[how] = summary(folder, *opts, "--parameters", out, "--format", "parquet")
        with distributed.Client(address) as client:  # the work really ran on the cluster's workers
            assert client.run_on_scheduler(lambda dask_scheduler: sorted(  # noqa: ARG005 - dask's argument name
                k for k in dask_scheduler.task_prefixes)) == ["ttc-decode"]
    assert results["dask"] == results["local"] == results["one"]
    s = results["dask"]
    assert s["files"] == 5 and s["files_failed"] == 0
    assert [b["apid"] for b in s["boundaries"] if "apid" in b][-1] == MISSION.housekeeping(1).apid
    assert s["boundaries"][-1]["packets"] == 3100 - 3000 and s["boundaries"][-1]["before"].endswith("late.bin")
    names = sorted(p.relative_to(tmp_path / "out-dask").as_posix() for p in (tmp_path / "out-dask").rglob("*.parquet"))
    assert names == ["part-0.parquet", "part-1.parquet", "part-2.parquet", "part-3.parquet", "sub/late.parquet"]
    for name in names:
        assert pq.read_table(tmp_path / "out-dask" / name).equals(pq.read_table(tmp_path / "out-one" / name)), name
    assert pq.read_table(tmp_path / "out-dask" / "sub/late.parquet").num_rows == 50 * 6


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path, packets: list[bytes]) -> None:
    pytest.importorskip("distributed", reason="dask.distributed (the ttc[cluster] extra) is missing")
    (tmp_path / "a.bin").write_bytes(b"".join(packets[:10]))
    out = ttc_decode(tmp_path / "a.bin", "--scheduler", "tcp://127.0.0.1:9", ok=False)
    assert out.returncode == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in out.stderr


def test_a_bad_file_among_good_ones_is_reported_and_the_rest_decoded(tmp_path: Path, packets: list[bytes]) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"".join(packets[:100]))
    (folder / "b.bin").write_bytes(b"")
    (folder / "c.bin").write_bytes(b"".join(packets[100:300]))
    (folder / ".hidden").write_bytes(b"not telemetry")
    out = ttc_decode(folder, "--json", ok=False)
    assert out.returncode == 1
    s = json.loads(out.stdout)
    assert s["files"] == 3 and s["files_failed"] == 1 and s["packets"] == 300 and s["packet_gaps"] == 0
    assert s["per_file"][1] == {"file": str(folder / "b.bin"), "error": f"{folder / 'b.bin'} holds no data"}
    assert f"error: {folder / 'b.bin'} holds no data" in out.stderr


def test_globs_several_files_and_what_is_refused(tmp_path: Path, packets: list[bytes]) -> None:
    for k in range(3):
        (tmp_path / f"pass-{k}.bin").write_bytes(b"".join(packets[k * 100:(k + 1) * 100]))
    (tmp_path / "other.bin").write_bytes(b"".join(packets[500:600]))
    s = summary(str(tmp_path / "pass-*.bin"))
    assert [f["file"] for f in s["per_file"]] == [str(tmp_path / f"pass-{k}.bin") for k in range(3)]
    assert s["packets"] == 300 and s["boundary_gaps"] == 0
    s = summary(tmp_path / "pass-2.bin", tmp_path / "other.bin", tmp_path / "pass-2.bin")
    assert s["files"] == 2 and s["boundaries"][0]["packets"] == 500 - 300
    assert "no file matches" in ttc_decode(str(tmp_path / "nothing-*.bin"), ok=False).stderr
    assert "can only be decoded alone" in ttc_decode("-", tmp_path / "other.bin", ok=False).stderr
    (tmp_path / "empty").mkdir()
    assert "a directory with no files in it" in ttc_decode(tmp_path / "empty", ok=False).stderr
    (tmp_path / "flat.csv").write_text("")
    out = ttc_decode(tmp_path / "pass-0.bin", tmp_path / "other.bin", "--parameters", tmp_path / "flat.csv", ok=False)
    assert "with many files this is a directory" in out.stderr


def test_partitioned_parquet_by_packet_and_day(tmp_path: Path, packets: list[bytes]) -> None:
    """--partition: one dataset, packet=NAME/day=DATE/FILE.parquet; the 3000 reports from 23:50 run 40 minutes
    into the next day; DuckDB reads it with Hive partitioning and finds every value of the flat export."""
    pytest.importorskip("pyarrow", reason="pyarrow (the ttc[parquet] extra) is not installed")
    duckdb = pytest.importorskip("duckdb", reason="duckdb (a test extra) is not installed")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.bin").write_bytes(b"".join(packets[:2000]))
    (tmp_path / "in" / "b.bin").write_bytes(b"".join(packets[2000:]))
    flat = tmp_path / "flat.parquet"
    summary(tmp_path / "in" / "a.bin", "--parameters", flat, "--format", "parquet")
    ds = tmp_path / "ds"
    s = summary(tmp_path / "in", "--parameters", ds, "--format", "parquet", "--partition")
    assert s["parameter_values"] == 3000 * 6
    files = sorted(p.relative_to(ds).as_posix() for p in ds.rglob("*.parquet"))
    assert files == ["packet=HK_POWER/day=2026-12-02/a.parquet", "packet=HK_POWER/day=2026-12-03/a.parquet",
                     "packet=HK_POWER/day=2026-12-03/b.parquet"]
    con = duckdb.connect()
    per_day = con.sql(f"SELECT day, count(*) FROM read_parquet('{ds}/**/*.parquet', hive_partitioning = true) "
                      f"WHERE packet = 'HK_POWER' GROUP BY day ORDER BY day").fetchall()
    # 10 minutes of reports before midnight, then the rest; six values each
    assert per_day == [(date(2026, 12, 2), 600 * 6), (date(2026, 12, 3), 2400 * 6)]
    cols = "packet_index, parameter, raw, engineering, time_utc"
    part_a = con.sql(f"SELECT {cols} FROM read_parquet('{ds}/**/a.parquet', hive_partitioning = true) "
                     f"ORDER BY packet_index, parameter").fetchall()
    flat_rows = con.sql(f"SELECT {cols} FROM read_parquet('{flat}') ORDER BY packet_index, parameter").fetchall()
    assert part_a == flat_rows and len(flat_rows) == 2000 * 6


def test_partition_needs_a_parquet_parameter_export(tmp_path: Path, packets: list[bytes]) -> None:
    (tmp_path / "a.bin").write_bytes(b"".join(packets[:10]))
    out = ttc_decode(tmp_path / "a.bin", "--partition", "--parameters", tmp_path / "x", ok=False)
    assert out.returncode == 2 and "--format parquet" in out.stderr
