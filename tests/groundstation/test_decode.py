"""`ttc decode` run as the real command: real captures, generated files with injected errors, exports, bad input."""

from __future__ import annotations

import csv
from datetime import timedelta
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from protocol.links.recording import RecordingWriter
from protocol.mission import MISSION
from protocol.pus import PusTm
from protocol.stack import DownlinkConfig, DownlinkEncoder
from protocol.timecode import CucTime
from protocol.tmframe import TmFrameConfig
from protocol.vchannel import VcMultiplexer

TTC = [sys.executable, "-m", "groundstation.cli", "decode"]
SNPP = "snpp_synchronized_cadus.dat"
CYGNSS = "CYGNSS_F7_L0_2022_086_10_15_V01_F__first101pkts.tlm"
CLIPPER = "europa_clipper_apid01227.tlm"


def ttc_decode(*args: str | Path, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ttc decode ARGS` as a process; check the exit status when ``ok`` says what it must be."""
    out = subprocess.run([*TTC, *map(str, args)], capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in out.stderr, out.stderr
    if ok:
        assert out.returncode == 0, out.stderr
    else:
        assert out.returncode != 0, out.stdout
    return out


def summary(*args: str | Path) -> dict:
    """The --json summary of `ttc decode ARGS`: exactly one JSON object on stdout."""
    out = ttc_decode(*args, "--json")
    return json.loads(out.stdout)


def hex_md5(rows: list[dict]) -> str:
    return hashlib.md5(b"".join(bytes.fromhex(r["data_hex"]) for r in rows)).hexdigest()


# ------------------------------------------------------------------ real captures


def test_snpp_cadus_guessed_and_decoded(real_dir: Path, tmp_path: Path) -> None:
    s = summary(real_dir / SNPP, "--packets", tmp_path / "p.csv")
    assert (s["cadus"], s["rs_corrected"], s["rs_uncorrectable"]) == (65, 0, 0)
    assert (s["frames"], s["frame_gaps"], s["frames_missing"]) == (65, 1, 1)
    assert s["packets"] == 12 and s["packets_by_apid"] == {"802": 1, "803": 11}
    assert s["packet_gaps"] == 1 and s["crc_errors"] == 0  # 803/9860 lost in the frame gap
    assert s["setup"] | {"detected": None} == {
        "layer": "cadu", "kind": "aos", "frame_len": 892, "scid": 157, "rs_interleave": 4, "rs_basis": "dual",
        "randomise": True, "ocf": False, "fecf": False, "packet_pec": False, "detected": None}
    assert {"kind", "rs_interleave", "rs_basis", "randomise", "scid"} <= set(s["setup"]["detected"])
    with open(tmp_path / "p.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert hex_md5(rows) == "5e11051d86c46ddc3500904c99bbe978" == s["packets_md5"]
    sizes = [int(r["length"]) for r in rows]
    assert sizes == [3006, 180, 4090, 5098, 5058, 5026, 5122, 5090, 5106, 5130, 5074, 5118]
    assert [r["sequence_count"] for r in rows[:3]] == ["9875", "9859", "9861"]
    assert {r["vcid"] for r in rows} == {"16"} and all(r["name"] == "" for r in rows)  # foreign: no dictionary


def test_snpp_raw_and_jsonl_exports_and_explicit_options(real_dir: Path, tmp_path: Path) -> None:
    ttc_decode(real_dir / SNPP, "--layer", "cadu", "--kind", "aos", "--interleave", "4", "--basis", "dual",
               "--randomise", "--scid", "157", "--packets", tmp_path / "p.bin", "--format", "raw")
    assert hashlib.md5((tmp_path / "p.bin").read_bytes()).hexdigest() == "5e11051d86c46ddc3500904c99bbe978"
    ttc_decode(real_dir / SNPP, "--packets", tmp_path / "p.jsonl", "--format", "jsonl")
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and hex_md5(rows) == "5e11051d86c46ddc3500904c99bbe978"
    assert rows[0]["apid"] == 802 and rows[0]["vcid"] == 16 and rows[0]["name"] is None


def test_snpp_human_summary_has_every_layer(real_dir: Path) -> None:
    out = ttc_decode(real_dir / SNPP).stdout
    for word in ("CADU layer", "frame layer", "packet layer", "rs_uncorrectable", "frame_gaps", "803: 11"):
        assert word in out, out


def test_snpp_wrong_basis_is_counted_not_crashed(real_dir: Path) -> None:
    out = ttc_decode(real_dir / SNPP, "--basis", "conventional", "--json", ok=False)
    s = json.loads(out.stdout)
    assert s["cadus"] == 65 and s["rs_uncorrectable"] == 65 and s["frames"] == 0
    assert "no CADU decoded to a frame" in out.stderr


def test_cygnss_packets_per_apid_match_the_published_split(real_dir: Path, tmp_path: Path) -> None:
    s = summary(real_dir / CYGNSS, "--packets", tmp_path / "p.jsonl", "--format", "jsonl")
    assert s["setup"]["layer"] == "packet" and s["packets"] == 101 and s["bytes_dropped"] == 0
    assert s["cadus"] == 0 and s["frames"] == 0
    published = {  # tests/data/real/SOURCES.txt: APID -> (packets, octets, MD5 of the per-APID file)
        384: (4, 1040, "96caae63cf94d9b104ae7ee958ec264d"), 386: (4, 416, "c2e990973136321fa572a706a0fc8987"),
        391: (1, 1680, "fdb6227b165742f67d8a75f2a91b898b"), 392: (4, 672, "51c67643fca4acc94e095fab278a17fc"),
        393: (40, 5600, "2d6267c80a9b0bc1ecd2ce38b34d2af0"), 394: (39, 2964, "ad7cbd543e9375fb16bc0cbe873bc121"),
        1313: (9, 2448, "58407349c28bfa6a385da1b8392b9fb0")}
    assert s["packets_by_apid"] == {str(a): n for a, (n, _, _) in published.items()}
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    for apid, (n, octets, md5) in published.items():
        mine = [r for r in rows if r["apid"] == apid]
        assert len(mine) == n and sum(r["length"] for r in mine) == octets
        assert hex_md5(mine) == md5
    assert b"".join(bytes.fromhex(r["data_hex"]) for r in rows) == (real_dir / CYGNSS).read_bytes()


def test_europa_clipper_packets_with_their_pec(real_dir: Path, tmp_path: Path) -> None:
    s = summary(real_dir / CLIPPER, "--packets", tmp_path / "p.csv", "--parameters", tmp_path / "v.csv")
    assert s["packets"] == 22 and s["packets_by_apid"] == {"1227": 22}
    assert s["setup"]["packet_pec"] is True and s["crc_errors"] == 0  # all 22 pass the CRC-16
    assert s["dictionary_packets"] == 0 and s["parameter_values"] == 0  # not our mission: no parameters
    with open(tmp_path / "v.csv", newline="") as f:
        assert list(csv.DictReader(f)) == []


# ------------------------------------------------------------------ generated with the station's own encoder

T0 = CucTime(coarse_s_raw=2_000_000_000, fine_raw=0)


def hk_packets(n: int) -> tuple[list[bytes], list[int]]:
    """``n`` HK_POWER reports (PUS TM with PEC) and the raw battery voltages in them."""
    hk = MISSION.housekeeping(1)
    packets, volts = [], []
    for i in range(n):
        mv = 7000 + 10 * i
        raw = {"BATTERY_VOLTAGE": mv, "BATTERY_CURRENT": -500 + i, "BATTERY_SOC": 80, "SOLAR_POWER": 1234,
               "IN_ECLIPSE": i % 2, "PAYLOAD_POWERED": 0}
        tm = PusTm(apid=hk.apid, service=3, subtype=25, time=CucTime(coarse_s_raw=T0.coarse_s_raw + i, fine_raw=0),
                   source_data=hk.encode(raw), sequence_count=i)
        packets.append(tm.encode())
        volts.append(mv)
    return packets, volts


def random_raw(decl: object, rng: np.random.Generator) -> dict[str, int | float]:
    """Raw values for every parameter of a declaration: floats around 0, integers anywhere in their type."""
    raw: dict[str, int | float] = {}
    for p in decl.parameters:  # type: ignore[attr-defined]
        if p.type.startswith("f"):
            raw[p.name] = float(rng.normal(0, 100))
        else:
            bits = int(p.type[1:])
            lo, hi = (0, 2 ** bits - 1) if p.type[0] == "u" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            raw[p.name] = int(rng.integers(lo, hi, endpoint=True))
    return raw


def cadu_file(path: Path, packets: list[bytes], *, smash: int | None = None, flips_per_cadu: int = 0,
              seed: int = 1) -> int:
    """Write the CADUs carrying ``packets`` (cubesat preset, RS I=4); return how many."""
    enc = DownlinkEncoder(DownlinkConfig.cubesat(scid=MISSION.scid, interleave=4), {0: 0})
    for p in packets:
        enc.submit(0, p)
    n = sum(len(p) for p in packets) // 880 + 3
    cadus = bytearray(enc.cadus(n))
    cadu_len = len(cadus) // n
    rng = np.random.default_rng(seed)
    for k in range(n):
        for pos in rng.choice(np.arange(4, cadu_len), size=flips_per_cadu, replace=False):
            cadus[k * cadu_len + int(pos)] ^= 1 << int(rng.integers(8))
    if smash is not None:  # far beyond what RS corrects
        start = smash * cadu_len + 4
        cadus[start:start + cadu_len - 4] = rng.integers(0, 256, cadu_len - 4, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(cadus))
    return n


def test_generated_cadus_with_bit_errors_and_an_uncorrectable_codeblock(tmp_path: Path) -> None:
    packets, volts = hk_packets(60)
    n = cadu_file(tmp_path / "d.cadu", packets, smash=1, flips_per_cadu=10)
    s = summary(tmp_path / "d.cadu", "--packets", tmp_path / "p.csv", "--parameters", tmp_path / "v.csv")
    assert s["setup"] | {"detected": None} == {
        "layer": "cadu", "kind": "tm", "frame_len": 892, "scid": MISSION.scid, "ocf": True, "fecf": False,
        "sec_header_len": 0, "rs_interleave": 4, "rs_basis": "dual", "randomise": True, "packet_pec": True,
        "detected": None}
    assert s["cadus"] == n and s["rs_uncorrectable"] == 1
    assert 9 * (n - 1) <= s["rs_corrected"] <= 10 * (n - 1)  # each flipped octet is one symbol to correct
    assert s["frames"] == n - 1 and s["frame_gaps"] == 1 and s["frames_missing"] == 1
    assert s["packet_gaps"] == 1 and s["crc_errors"] == 0
    lost = s["packets_missing"]
    assert lost >= 1 and s["packets"] + lost + 1 >= len(packets) - 1  # +1: a packet cut by the gap
    assert s["packets_by_apid"] == {str(0x10): s["packets"]}
    assert s["dictionary_packets"] == s["packets"] and s["parameter_values"] == 6 * s["packets"]
    with open(tmp_path / "p.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["name"] for r in rows} == {"HK_POWER"} and {r["service"] for r in rows} == {"3"}
    assert hex_md5(rows) == hashlib.md5(b"".join(p for p in packets if p in
                                                 {bytes.fromhex(r["data_hex"]) for r in rows})).hexdigest()
    with open(tmp_path / "v.csv", newline="") as f:
        values = list(csv.DictReader(f))
    got = {int(r["sequence_count"]): float(r["engineering"]) for r in values if r["parameter"] == "BATTERY_VOLTAGE"}
    assert got and all(got[seq] == pytest.approx(volts[seq] / 1000) for seq in got)
    units = {r["parameter"]: r["unit"] for r in values}
    assert units["BATTERY_VOLTAGE"] == "V" and units["SOLAR_POWER"] == "W"
    eclipse = {(r["state"], r["engineering"]) for r in values if r["parameter"] == "IN_ECLIPSE"}
    assert eclipse == {("NO", ""), ("YES", "")}  # a state's name, not a number
    assert {float(r["obt_tai_s"]) - int(r["sequence_count"]) for r in values} == {2e9}
    assert {r["time_utc"][:4] for r in values} == {"2021"}  # 2e9 s after 1958 (TAI)


def test_clean_generated_cadus_deliver_every_packet(tmp_path: Path) -> None:
    packets, _ = hk_packets(30)
    cadu_file(tmp_path / "clean.cadu", packets)
    s = summary(tmp_path / "clean.cadu", "--packets", tmp_path / "p.bin", "--format", "raw")
    assert s["packets"] == 30 and s["packet_gaps"] == 0 and s["rs_corrected"] == 0 and s["frame_gaps"] == 0
    assert (tmp_path / "p.bin").read_bytes() == b"".join(packets)


def test_station_recording_decodes_like_the_cadu_file(tmp_path: Path) -> None:
    packets, _ = hk_packets(30)
    n = cadu_file(tmp_path / "d.cadu", packets, flips_per_cadu=3)
    data = (tmp_path / "d.cadu").read_bytes()
    size = len(data) // n
    writer = RecordingWriter(tmp_path / "pass.ttcrec")
    for k in range(n):
        writer.send(data[k * size:(k + 1) * size], ert_ns=1_700_000_000_000_000_000 + k)
    writer.close()
    a = summary(tmp_path / "d.cadu")
    b = summary(tmp_path / "pass.ttcrec", "--packets", tmp_path / "p.bin", "--format", "raw")
    assert b["recording_records"] == n
    keys = ("cadus", "rs_corrected", "rs_uncorrectable", "frames", "frame_gaps", "packets", "packet_gaps",
            "crc_errors", "packets_by_apid")
    assert {k: a[k] for k in keys} == {k: b[k] for k in keys} and b["packets"] == 30
    assert (tmp_path / "p.bin").read_bytes() == b"".join(packets)
    # a recording cut mid-record by a crash: the whole records still decode
    cut = (tmp_path / "pass.ttcrec").read_bytes()[:-100]
    (tmp_path / "cut.ttcrec").write_bytes(cut)
    c = summary(tmp_path / "cut.ttcrec")
    assert c["recording_records"] == n - 1 and c["recording_truncated_octets"] > 0


def tm_frames(packets: list[bytes]) -> list[bytes]:
    """1115-octet TM frames with OCF and FECF carrying ``packets`` on VC 0 (the last ones idle-filled)."""
    mux = VcMultiplexer(TmFrameConfig(frame_len=1115, scid=MISSION.scid, has_ocf=True, has_fecf=True), {0: 0})
    for p in packets:
        mux.submit(0, p)
    return [mux.next_frame() for _ in range(sum(map(len, packets)) // 1100 + 2)]


def test_generated_tm_frames_with_fecf_are_guessed(tmp_path: Path) -> None:
    packets, _ = hk_packets(100)
    frames = tm_frames(packets)
    (tmp_path / "f.tm").write_bytes(b"".join(frames))
    s = summary(tmp_path / "f.tm", "--packets", tmp_path / "p.bin", "--format", "raw")
    assert s["setup"]["layer"] == "frame" and s["setup"]["frame_len"] == 1115 and s["setup"]["fecf"] is True
    assert s["setup"]["kind"] == "tm" and s["setup"]["ocf"] is True and s["setup"]["scid"] == MISSION.scid
    assert s["cadus"] == 0 and s["frames"] == len(frames) and s["frame_errors"] == 0
    assert s["packets"] == 100 and (tmp_path / "p.bin").read_bytes() == b"".join(packets)
    # a file cut inside its last frame: the whole frames decode, the tail is counted as dropped
    (tmp_path / "cut.tm").write_bytes(b"".join(frames)[:-500])
    s = summary(tmp_path / "cut.tm")
    assert s["setup"]["frame_len"] == 1115 and s["frames"] == len(frames) - 1 and s["bytes_dropped"] >= 615
    # a corrupted frame fails its FECF: counted as a CRC error and a frame error, its packets lost
    bad = bytearray(b"".join(frames))
    bad[1115 + 200] ^= 0xFF
    (tmp_path / "bad.tm").write_bytes(bytes(bad))
    s = summary(tmp_path / "bad.tm", "--layer", "frame", "--frame-len", "1115", "--fecf")
    assert s["crc_errors"] == 1 and s["frame_errors"] == 1 and 60 < s["packets"] < 100


def test_generated_packet_file_with_a_bad_pec_and_a_gap(tmp_path: Path) -> None:
    packets, volts = hk_packets(20)
    damaged = bytearray(packets[5])
    damaged[20] ^= 0x01
    stream = packets[:5] + [bytes(damaged)] + packets[6:12] + packets[13:]  # #5 corrupt, #12 missing
    (tmp_path / "p.tlm").write_bytes(b"".join(stream))
    s = summary(tmp_path / "p.tlm", "--parameters", tmp_path / "v.jsonl", "--format", "jsonl")
    assert s["setup"] == {"layer": "packet", "packet_pec": True, "detected": ["packet_pec"]}
    assert s["packets"] == 18 and s["crc_errors"] == 1
    assert s["packet_gaps"] == 2 and s["packets_missing"] == 2  # 4 -> 6 (5 refused) and 11 -> 13
    rows = [json.loads(line) for line in (tmp_path / "v.jsonl").read_text().splitlines()]
    got = {r["sequence_count"]: r["engineering"] for r in rows if r["parameter"] == "BATTERY_VOLTAGE"}
    assert sorted(got) == [i for i in range(20) if i not in (5, 12)]
    assert all(got[i] == pytest.approx(volts[i] / 1000) for i in got)
    assert {r["level"] for r in rows} >= {"NOMINAL"}


def test_parquet_export(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the ttc[parquet] extra) is not installed")
    packets, _ = hk_packets(10)
    (tmp_path / "p.tlm").write_bytes(b"".join(packets))
    ttc_decode(tmp_path / "p.tlm", "--packets", tmp_path / "p.parquet", "--parameters", tmp_path / "v.parquet",
               "--format", "parquet")
    table = pq.read_table(tmp_path / "p.parquet").to_pylist()
    assert [bytes.fromhex(r["data_hex"]) for r in table] == packets
    assert [r["time_utc"] for r in table[:2]] == [T0.to_datetime(), T0.to_datetime() + timedelta(seconds=1)]
    table = pq.read_table(tmp_path / "v.parquet")
    values = table.to_pylist()
    assert len(values) == 60 and {r["parameter"] for r in values} >= {"BATTERY_VOLTAGE", "IN_ECLIPSE"}
    assert str(table.schema.field("time_utc").type) == "timestamp[us, tz=UTC]"  # typed, not text
    assert {r["state"] for r in values if r["parameter"] == "IN_ECLIPSE"} == {"NO", "YES"}


def test_progress_goes_to_stderr_and_json_stays_clean(tmp_path: Path) -> None:
    packets, _ = hk_packets(30)
    cadu_file(tmp_path / "d.cadu", packets)
    out = ttc_decode(tmp_path / "d.cadu", "--progress", "--json")
    assert json.loads(out.stdout)["packets"] == 30  # stdout is exactly the JSON object
    assert "100%" in out.stderr


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("layer", [None, "cadu", "frame", "packet"])
def test_garbage_gives_a_clear_message_and_non_zero_exit(tmp_path: Path, layer: str | None) -> None:
    (tmp_path / "junk.bin").write_bytes(np.random.default_rng(9).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    out = ttc_decode(tmp_path / "junk.bin", *(["--layer", layer] if layer else []), ok=False)
    assert out.returncode == 1
    assert re.search(r"Error: .*(not a file of|no space packet|no CADU|no valid|version)", out.stderr), out.stderr


def test_empty_missing_and_text_files(tmp_path: Path) -> None:
    (tmp_path / "empty.bin").write_bytes(b"")
    assert "holds no data" in ttc_decode(tmp_path / "empty.bin", ok=False).stderr
    assert "does not exist" in ttc_decode(tmp_path / "nope.bin", ok=False).stderr
    (tmp_path / "notes.txt").write_text("these are not telemetry\n" * 100)
    out = ttc_decode(tmp_path / "notes.txt", ok=False)
    assert out.stderr.startswith("Error:")
    (tmp_path / "head.ttcrec").write_bytes(b"TTCREC1\n")
    assert "empty recording" in ttc_decode(tmp_path / "head.ttcrec", ok=False).stderr


def test_truncated_cadu_file_counts_the_partial_cadu(tmp_path: Path) -> None:
    packets, _ = hk_packets(10)
    cadu_file(tmp_path / "d.cadu", packets)
    data = (tmp_path / "d.cadu").read_bytes()
    (tmp_path / "t.cadu").write_bytes(data[:-300])
    s = summary(tmp_path / "t.cadu")
    assert s["skipped_bits"] > 0 and s["frames"] >= 1


def test_mutated_generated_files_never_crash(tmp_path: Path) -> None:
    packets, _ = hk_packets(12)
    cadu_file(tmp_path / "d.cadu", packets)
    good = (tmp_path / "d.cadu").read_bytes()
    rng = np.random.default_rng(2)
    for i in range(6):
        data = bytearray(good)
        for _ in range(int(rng.integers(1, 400))):
            data[int(rng.integers(len(data)))] = int(rng.integers(256))
        cut = int(rng.integers(len(data) // 2, len(data)))
        (tmp_path / f"m{i}.cadu").write_bytes(bytes(data[:cut]) + os.urandom(int(rng.integers(0, 50))))
        out = subprocess.run([*TTC, str(tmp_path / f"m{i}.cadu"), "--json"], capture_output=True, text=True,
                             timeout=60, check=False)
        assert "Traceback" not in out.stderr and out.returncode in (0, 1), out.stderr
        if out.returncode == 0:
            json.loads(out.stdout)


def test_raw_format_is_for_packets_only(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"\x00" * 100)
    out = ttc_decode(tmp_path / "x.bin", "--parameters", tmp_path / "v", "--format", "raw", ok=False)
    assert "--format raw exports packets only" in out.stderr


def test_plain_tables_and_percentage_without_rich(tmp_path: Path) -> None:
    packets, _ = hk_packets(30)
    cadu_file(tmp_path / "d.cadu", packets)
    block_rich = ("import sys\nfor m in ('rich', 'rich.console', 'rich.progress', 'rich.table'): sys.modules[m] = None\n"
                  "from groundstation.cli import main\nmain()")
    out = subprocess.run([sys.executable, "-c", block_rich, "decode", str(tmp_path / "d.cadu"), "--progress",
                          "--parameters", str(tmp_path / "v.csv")], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert "decoding d.cadu: 100%" in out.stderr and "reading packets with the dictionary: 100%" in out.stderr
    assert re.search(r"^  packets +30$", out.stdout, re.MULTILINE), out.stdout
    assert re.search(r"^  parameter_values +180$", out.stdout, re.MULTILINE)


def test_kiss_file_of_frames_as_gr_satellites_writes_it(tmp_path: Path) -> None:
    """A .kss file (a timestamp frame before each data frame, FEND/FESC escaped): frames, then packets."""
    from protocol.kiss import encode_frame, encode_timestamp

    packets, _ = hk_packets(100)
    frames = tm_frames(packets)
    assert any(0xC0 in f or 0xDB in f for f in frames)  # the escapes are exercised
    kss = b"".join(encode_timestamp(1_764_741_600_000 + 100 * i) + encode_frame(f) for i, f in enumerate(frames))
    (tmp_path / "pass.kss").write_bytes(kss)
    s = summary(tmp_path / "pass.kss", "--packets", tmp_path / "p.bin", "--format", "raw")
    assert s["kiss_frames"] == len(frames) and s["kiss_rejected"] == 0
    assert s["setup"]["layer"] == "frame" and s["setup"]["frame_len"] == 1115 and s["frames"] == len(frames)
    assert s["packets"] == 100 and (tmp_path / "p.bin").read_bytes() == b"".join(packets)
    # a frame with a broken escape is refused, counted and warned about; the others still decode
    broken = bytearray(kss)
    second = kss.index(b"\xc0\x00", kss.index(b"\xc0\x00") + 2)  # the second data frame's start
    broken[second + 10] = 0xDB
    broken[second + 11] = 0x41
    (tmp_path / "bad.kss").write_bytes(bytes(broken))
    out = ttc_decode(tmp_path / "bad.kss", "--json")
    s = json.loads(out.stdout)
    assert s["kiss_rejected"] == 1 and s["kiss_frames"] == len(frames) - 1
    assert s["kiss_first_reject_offset"] == second and "KISS frame(s) refused" in out.stderr


def test_parquet_parameters_equal_the_per_packet_rows_across_row_groups(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The columnar Parquet export (row groups of a few packets here) has exactly the CSV export's values,
    in the same order, for housekeeping of every layout mixed with events and packets of no declaration."""
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the ttc[parquet] extra) is not installed")
    import struct

    from groundstation import offline
    from protocol.pus import PusTm

    rng = np.random.default_rng(3)
    layouts = [d for d in {id(d): d for d in MISSION.telemetry.values()}.values() if not d.tail and d.sid]
    packets = []
    for i in range(120):
        t = CucTime(coarse_s_raw=T0.coarse_s_raw + i, fine_raw=int(rng.integers(0, 65536)))
        if i % 9 == 4:  # an event: the per-packet path
            packets.append(PusTm(apid=MISSION.event_apid or 0x10, service=5, subtype=2, time=t,
                                 source_data=struct.pack(">H", 3) + bytes(4), sequence_count=i).encode())
            continue
        decl = layouts[i % len(layouts)]
        raw = random_raw(decl, rng)
        packets.append(PusTm(apid=decl.apid, service=3, subtype=25, time=t, source_data=decl.encode(raw),
                             sequence_count=i).encode())
    monkeypatch.setattr(offline, "PARQUET_BATCH_PACKETS", 7)
    monkeypatch.setattr(offline, "selected", lambda: MISSION)
    a = offline.export_packets([(0, p) for p in packets], packets_path=None, parameters_path=tmp_path / "v.csv",
                               fmt="csv")
    b = offline.export_packets([(0, p) for p in packets], packets_path=None, parameters_path=tmp_path / "v.parquet",
                               fmt="parquet")
    assert a == b and a["parameter_values"] > 500
    with open(tmp_path / "v.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    table = pq.read_table(tmp_path / "v.parquet")
    assert table.num_rows == len(rows) and pq.ParquetFile(tmp_path / "v.parquet").num_row_groups > 10
    for r, q in zip(rows, table.to_pylist()):
        assert (int(r["packet_index"]), r["parameter"], r["packet"], r["unit"], r["level"]) == \
            (q["packet_index"], q["parameter"], q["packet"], q["unit"], q["level"])
        assert float(r["raw"]) == q["raw"] or (np.isnan(float(r["raw"])) and np.isnan(q["raw"]))
        assert float(r["obt_tai_s"]) == q["obt_tai_s"]
        if q["state"] is not None:
            assert r["state"] == q["state"] and q["engineering"] is None and r["engineering"] == ""
        else:
            assert float(r["engineering"]) == pytest.approx(q["engineering"], rel=1e-12) and r["state"] == ""
        assert q["time_utc"].strftime("%Y-%m-%dT%H:%M:%S.%fZ") == r["time_utc"]


ORBIT_QUERY = """
SELECT floor(epoch(time_utc) / 5676) AS orbit, min(engineering) AS v_min, count(*) AS n
FROM read_parquet(?) WHERE parameter = 'BATTERY_VOLTAGE' GROUP BY orbit ORDER BY orbit
"""


def test_duckdb_reads_the_parquet_export_battery_minimum_per_orbit(tmp_path: Path) -> None:
    """The README's recipe: DuckDB over `ttc decode --parameters X.parquet`, the battery's minimum per orbit."""
    duckdb = pytest.importorskip("duckdb", reason="duckdb (a test extra) is not installed")
    hk = MISSION.housekeeping(1)
    t_s = np.arange(0, 24_000, 2.0)  # 4.2 orbits of 94.6 min (5676 s), a sample every 2 s
    volts = 7.4 + 0.5 * np.sin(2 * np.pi * t_s / 5676.0) - 0.2 * (t_s > 12_000)
    packets = []
    for i, (t, v) in enumerate(zip(t_s, volts)):
        raw = {"BATTERY_VOLTAGE": int(round(v * 1000)), "BATTERY_CURRENT": 0, "BATTERY_SOC": 80, "SOLAR_POWER": 0,
               "IN_ECLIPSE": 0, "PAYLOAD_POWERED": 0}
        packets.append(PusTm(apid=hk.apid, service=3, subtype=25, time=CucTime(coarse_s_raw=T0.coarse_s_raw + int(t),
                             fine_raw=0), source_data=hk.encode(raw), sequence_count=i % 16384).encode())
    (tmp_path / "hk.tlm").write_bytes(b"".join(packets))
    ttc_decode(tmp_path / "hk.tlm", "--parameters", tmp_path / "v.parquet", "--format", "parquet")
    got = duckdb.execute(ORBIT_QUERY, [str(tmp_path / "v.parquet")]).fetchall()
    unix = np.array([CucTime(coarse_s_raw=T0.coarse_s_raw + int(t), fine_raw=0).to_datetime().timestamp()
                     for t in t_s])
    orbit = np.floor(unix / 5676)
    mv = np.round(volts * 1000) / 1000
    want = [(o, mv[orbit == o].min(), int((orbit == o).sum())) for o in np.unique(orbit)]
    assert [(int(o), round(v, 6), n) for o, v, n in got] == [(int(o), round(float(v), 6), n) for o, v, n in want]
    assert len(got) >= 5 and sum(n for *_, n in got) == len(packets)
