"""`ttc decode` streams (issue 9, bounded everything): counters independent of chunking, bounded memory on
large and endless inputs, pipes, Ctrl-C and SIGPIPE, and damaged station recordings counted and skipped."""

from __future__ import annotations

import json
import re
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from groundstation.offline import (
    DecodeSetup,
    InputStream,
    Overrides,
    StreamDecoder,
    decode_bytes,
    decode_stream,
    detect,
    guess_layer,
    read_head,
    read_input,
)
from protocol.errors import LocalProtocolError, RemoteProtocolError
from protocol.links import ReceivedFrame
from protocol.links.recording import (
    MAGIC,
    MAX_RECORD_LEN,
    RecordDamaged,
    RecordingParser,
    RecordingWriter,
    RecordTruncated,
    parse_recording,
)
from protocol.mission import MISSION
from protocol.spacepacket import SpacePacket
from protocol.stack import DownlinkConfig, DownlinkEncoder, decode_cadus
from protocol.tmframe import TmFrameConfig
from protocol.vchannel import VcMultiplexer

TTC = [sys.executable, "-m", "groundstation.cli", "decode"]
RSS_BOUND_KB = 200 * 1024  # what `ttc decode` may use on any input (it needs about 80 MB)
CADU_LEN = 1024  # cubesat preset, RS I=4
ERT0 = 1_700_000_000_000_000_000
RECORD = struct.Struct(">QI")
needs_proc = pytest.mark.skipif(not Path("/proc/self/status").exists() or not Path("/dev/zero").exists(),
                                reason="needs Linux /proc and /dev/zero")


# ------------------------------------------------------------------ inputs made with the station's own encoder

def random_packets(n: int, *, seed: int, start: int = 0) -> list[bytes]:
    """Packets ``start..start+n-1`` of 50..2999 random octets on four APIDs in turn, sequence counts counting."""
    rng = np.random.default_rng(seed)
    return [SpacePacket(apid=0x20 + i % 4, sequence_count=(i // 4) % 16384,
                        data=rng.integers(0, 256, int(rng.integers(50, 3000)), dtype=np.uint8).tobytes()).encode()
            for i in range(start, start + n)]


def cadu_stream(octets: int, *, seed: int = 1) -> tuple[bytes, int]:
    """At least ``octets`` of CADUs (cubesat preset, RS I=4, randomised) carrying random packets; and how many."""
    enc = DownlinkEncoder(DownlinkConfig.cubesat(scid=MISSION.scid, interleave=4), {0: 0})
    out: list[bytes] = []
    total = sent = 0
    while total < octets:
        # ~230 kB of packets per 300 CADUs (~270 kB of frames): some idle frames
        for p in random_packets(150, seed=seed + sent, start=sent):
            enc.submit(0, p)
        sent += 150
        out.append(enc.cadus(300))
        total += len(out[-1])
    return b"".join(out), total // CADU_LEN


def damaged_cadus(octets: int, *, seed: int = 2) -> bytes:
    """CADUs with bit errors, an uncorrectable codeblock, garbage inserted mid-CADU and a cut last CADU."""
    data, n = cadu_stream(octets, seed=seed)
    buf = bytearray(data)
    rng = np.random.default_rng(seed)
    for k in range(n):
        for pos in rng.choice(np.arange(4, CADU_LEN), size=4, replace=False):
            buf[k * CADU_LEN + int(pos)] ^= 1 << int(rng.integers(8))
    bad = (n // 3) * CADU_LEN + 4
    buf[bad:bad + CADU_LEN - 4] = rng.integers(0, 256, CADU_LEN - 4, dtype=np.uint8).tobytes()
    cut = (n // 2) * CADU_LEN + 333
    return bytes(buf[:cut]) + rng.integers(0, 256, 4321, dtype=np.uint8).tobytes() + bytes(buf[cut:-200])


def frame_stream(packets: list[bytes]) -> bytes:
    """TM frames of 1115 octets with OCF and FECF carrying ``packets``."""
    mux = VcMultiplexer(TmFrameConfig(frame_len=1115, scid=MISSION.scid, has_ocf=True, has_fecf=True), {0: 0})
    frames: list[bytes] = []
    for i, p in enumerate(packets):
        mux.submit(0, p)
        if i % 100 == 99:
            frames += [mux.next_frame() for _ in range(140)]
    frames += [mux.next_frame() for _ in range(300)]
    return b"".join(frames)


def recording(cadus: bytes, *, n: int) -> bytes:
    """A station recording of ``n`` CADUs, one record each, 1 ms apart."""
    return MAGIC + b"".join(RECORD.pack(ERT0 + k * 10**6, CADU_LEN) + cadus[k * CADU_LEN:(k + 1) * CADU_LEN]
                            for k in range(n))


def record_offset(k: int) -> int:
    """File offset of record ``k`` of :func:`recording`."""
    return len(MAGIC) + k * (RECORD.size + CADU_LEN)


def feed_in_chunks(setup: DecodeSetup, data: bytes, chunk: int) -> StreamDecoder:
    packets: list[tuple[int | None, bytes]] = []
    dec = StreamDecoder(setup, on_packet=lambda vcid, raw: packets.append((vcid, raw)))
    for i in range(0, len(data), chunk):
        dec.feed(data[i:i + chunk])
    dec.close()
    dec.result.packets = packets
    return dec


def same_result(a: StreamDecoder | object, b: object) -> None:
    ra = a.result if isinstance(a, StreamDecoder) else a
    rb = b.result if isinstance(b, StreamDecoder) else b
    assert ra.counters.as_dict() == rb.counters.as_dict()
    assert ra.packets == rb.packets and ra.trailing_octets == rb.trailing_octets and ra.octets == rb.octets


# ------------------------------------------------------------------ same counters whatever the chunking

@pytest.fixture(scope="module")
def noisy_cadus() -> bytes:
    return damaged_cadus(3 << 20)


def test_cadu_counters_do_not_depend_on_chunking(noisy_cadus: bytes) -> None:
    setup = detect(noisy_cadus, "cadu", Overrides())
    whole = decode_bytes(noisy_cadus, setup, keep_packets=True, chunk=len(noisy_cadus))
    c = whole.counters
    # the smashed codeblock, and the one the garbage was inserted into
    assert c.rs_uncorrectable == 2 and c.skipped_bits > 8 * 4321 and c.rs_corrected > 0 and c.packets > 1000
    for chunk in (1000, 997, 4093, 1 << 20):  # ASMs, codeblocks and packets straddle the chunk boundaries
        same_result(feed_in_chunks(setup, noisy_cadus, chunk), whole)
    # the protocol stack's own whole-buffer decode (no offline.py code involved) counts the same
    reference = decode_cadus(noisy_cadus, setup.config)
    assert reference.counters.as_dict() == c.as_dict()
    assert [(p.vcid, p.data) for p in reference.packets] == whole.packets


def test_cadus_fed_one_octet_at_a_time(noisy_cadus: bytes) -> None:
    part = noisy_cadus[:40 * CADU_LEN + 77]
    setup = detect(noisy_cadus, "cadu", Overrides())
    same_result(feed_in_chunks(setup, part, 1), decode_bytes(part, setup, keep_packets=True))


def test_frame_and_packet_counters_do_not_depend_on_chunking() -> None:
    packets = random_packets(1500, seed=7)
    frames = bytearray(frame_stream(packets))
    frames[1115 * 300 + 40] ^= 0xFF  # one frame fails its FECF
    frames = frames[:-500]  # cut inside the last frame
    setup = detect(bytes(frames), "frame", Overrides())
    assert setup.config.frame.frame_len == 1115
    whole = decode_bytes(frames, setup, keep_packets=True, chunk=len(frames))
    assert whole.counters.crc_errors == 1 and whole.trailing_octets == 615 and whole.counters.packets > 1400
    for chunk in (1000, 1115, 7, 65537):
        same_result(feed_in_chunks(setup, bytes(frames), chunk), whole)

    stream = b"".join(packets[:700]) + b"".join(packets[701:])[:-30]  # a gap, a cut last packet
    setup = detect(stream, "packet", Overrides())
    whole = decode_bytes(stream, setup, keep_packets=True, chunk=len(stream))
    assert whole.counters.packets == 1498 and whole.counters.packet_gaps == 1
    assert whole.counters.bytes_dropped == len(packets[-1]) - 30
    for chunk in (1000, 6, 4096):
        same_result(feed_in_chunks(setup, stream, chunk), whole)


def test_detection_on_the_head_matches_detection_on_the_whole(tmp_path: Path) -> None:
    """Files larger than what detection looks at: the same layer and settings, and the same decode."""
    cadus, n = cadu_stream(1 << 20, seed=3)
    packets = random_packets(800, seed=4)
    files = {"c.cadu": (cadus, "cadu"), "p.tlm": (b"".join(packets), "packet"),
             "f.tm": (frame_stream(packets), "frame"), "r.ttcrec": (recording(cadus, n=n), "cadu")}
    for name, (data, expected_layer) in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        src = InputStream(path, chunk=1000)  # records, frames and packets straddle the chunks
        head = read_head(src, octets=64 << 10)
        assert len(head) < len(data) - (12 * n if src.recording else 0)  # detection saw only the head
        whole_data = read_input(path).data
        layer = guess_layer(head, recording=src.recording, whole=src.done)
        assert layer == guess_layer(whole_data, recording=src.recording) == expected_layer
        setup = detect(head, layer, Overrides(), whole=src.done, total_octets=None if src.recording else len(data))
        assert setup == detect(whole_data, layer, Overrides())
        packets_seen: list[tuple[int | None, bytes]] = []
        result, stopped = decode_stream(src, setup, head, on_packet=lambda v, raw: packets_seen.append((v, raw)))
        src.close()
        result.packets = packets_seen
        assert stopped is None
        same_result(result, decode_bytes(whole_data, setup, keep_packets=True))
        assert result.counters.packets > 100


# ------------------------------------------------------------------ the command on large inputs, pipes, limits

def run(*args: str | Path, stdin: object = None, ok: bool | None = True, timeout: float = 300
        ) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([*TTC, *map(str, args)], stdin=stdin, capture_output=True, text=True, timeout=timeout,
                         check=False)
    assert "Traceback" not in out.stderr, out.stderr
    if ok is not None:
        assert (out.returncode == 0) == ok, out.stderr
    return out


def peak_rss_kb(*args: str | Path) -> tuple[int, dict]:
    """Peak RSS of `ttc decode ARGS --json` (VmHWM at exit) and its summary.

    Not getrusage: on Linux its ru_maxrss survives exec, so it would report the forking pytest process.
    """
    code = ("import atexit, re, sys\n"
            "atexit.register(lambda: sys.stderr.write('\\nmaxrss_kb=' + re.search(r'VmHWM:\\s+(\\d+)', "
            "open('/proc/self/status').read())[1] + '\\n'))\n"
            "from groundstation.cli import main\nmain()")
    out = subprocess.run([sys.executable, "-c", code, "decode", *map(str, args), "--json", "--no-progress"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    return int(out.stderr.rsplit("maxrss_kb=", 1)[1]), json.loads(out.stdout)


@pytest.fixture(scope="module")
def big_cadus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A 96 MiB CADU file (the old whole-file decode peaked above 250 MB on it)."""
    path = tmp_path_factory.mktemp("big") / "big.cadu"
    data, n = cadu_stream(96 << 20, seed=11)
    path.write_bytes(data)
    return path, n


@needs_proc
def test_large_file_decodes_in_bounded_memory(big_cadus: tuple[Path, int], tmp_path: Path) -> None:
    path, n = big_cadus
    small = tmp_path / "small.cadu"
    small.write_bytes(path.read_bytes()[:300 * CADU_LEN])
    base_kb, _ = peak_rss_kb(small)
    peak_kb, s = peak_rss_kb(path)
    assert s["cadus"] == s["frames"] == n and s["rs_uncorrectable"] == s["frame_gaps"] == s["packet_gaps"] == 0
    assert s["octets"] == path.stat().st_size and s["packets"] > 40_000 and s["idle_frames"] > 0
    # 96 MiB more input costs less than 48 MB more memory (the input is never held), and stays under the bound
    assert peak_kb - base_kb < 48 * 1024 and peak_kb < RSS_BOUND_KB, (base_kb, peak_kb)
    # exporting streams too: the packets are spooled to disk, the rows written as they come
    peak_kb, s = peak_rss_kb(path, "--packets", tmp_path / "p.csv", "--parameters", tmp_path / "v.jsonl",
                             "--format", "jsonl")
    assert peak_kb - base_kb < 48 * 1024, (base_kb, peak_kb)
    assert sum(1 for _ in open(tmp_path / "p.csv")) == s["packets"]


def test_pipe_input_gives_the_file_summary(big_cadus: tuple[Path, int]) -> None:
    path, _ = big_cadus
    from_file = json.loads(run(path, "--json").stdout)
    with subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE) as cat:
        from_pipe = json.loads(run("-", "--json", stdin=cat.stdout).stdout)
    assert from_pipe.pop("file") == "-" and from_file.pop("file") == str(path)
    assert from_pipe == from_file


def test_pipe_progress_shows_octets(tmp_path: Path) -> None:
    data, _ = cadu_stream(2 << 20, seed=5)
    block_rich = ("import sys\n"
                  "for m in ('rich', 'rich.console', 'rich.progress', 'rich.table'): sys.modules[m] = None\n"
                  "from groundstation.cli import main\nmain()")
    out = subprocess.run([sys.executable, "-c", block_rich, "decode", "-", "--progress", "--json"], input=data,
                         capture_output=True, timeout=60, check=False)
    assert out.returncode == 0 and b"Traceback" not in out.stderr, out.stderr
    assert f"decoding stdin: {len(data)} octets".encode() in out.stderr and b"%" not in out.stderr
    assert json.loads(out.stdout)["octets"] == len(data)


def test_file_progress_shows_rate_and_time_left(tmp_path: Path) -> None:
    """The plain progress line (no rich) says how far, how fast and how long still; rich's bar the same."""
    data, _ = cadu_stream(2 << 20, seed=5)
    (tmp_path / "d.cadu").write_bytes(data)
    block_rich = ("import sys\n"
                  "for m in ('rich', 'rich.console', 'rich.progress', 'rich.table'): sys.modules[m] = None\n"
                  "from groundstation.cli import main\nmain()")
    out = subprocess.run([sys.executable, "-c", block_rich, "decode", tmp_path / "d.cadu", "--progress", "--json",
                          "--parameters", tmp_path / "v.csv"], capture_output=True, timeout=60, check=False, text=True)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    last = {line.rsplit("\r", 1)[-1].split(":")[0]: line.rsplit("\r", 1)[-1] for line in out.stderr.splitlines()}
    assert re.fullmatch(r"decoding d\.cadu: 100%, \d+\.\d MB/s, ETA 0:00:00", last["decoding d.cadu"]), out.stderr
    packets = json.loads(out.stdout)["packets"]
    assert packets > 1000 and re.fullmatch(r"reading packets with the dictionary: 100%, [\d,]+ packets/s, ETA 0:00:00",
                                           last["reading packets with the dictionary"]), out.stderr
    out = run(tmp_path / "d.cadu", "--progress", "--json")
    assert re.search(r"decoding d\.cadu .* 100% 2\.2/2\.2 MB \d+\.\d MB/s ETA 0:00:00", out.stderr), out.stderr


def test_max_octets_decodes_the_first_octets(tmp_path: Path, noisy_cadus: bytes) -> None:
    (tmp_path / "d.cadu").write_bytes(noisy_cadus)
    out = run(tmp_path / "d.cadu", "--json", "--max-octets", "300000")
    s = json.loads(out.stdout)
    expected = decode_bytes(noisy_cadus[:300000], detect(noisy_cadus, "cadu", Overrides()))
    assert s["octets"] == 300000 and s["stopped"] == "max-octets"
    assert {k: s[k] for k in expected.counters.as_dict()} == expected.counters.as_dict()
    assert "stopped after 300000 octets (--max-octets)" in out.stderr
    assert json.loads(run(tmp_path / "d.cadu", "--json", "--max-octets", "1G").stdout).get("stopped") is None
    bad = run(tmp_path / "d.cadu", "--max-octets", "12X", ok=False)
    assert bad.returncode == 2 and "not an octet count" in bad.stderr


# ------------------------------------------------------------------ endless inputs: /dev/zero, pipes of zeros

def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None  # a zombie has no VmRSS


def read_octets(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/io").read_text().split()[1])  # rchar
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def watch(proc: subprocess.Popen, *, samples: int) -> list[int]:
    """VmRSS of ``proc`` every 0.1 s, ``samples`` times or until it ends."""
    seen = []
    for _ in range(samples):
        if proc.poll() is not None:
            break
        kb = rss_kb(proc.pid)
        if kb is not None:
            seen.append(kb)
        time.sleep(0.1)
    return seen


@needs_proc
def test_dev_zero_ends_at_once_with_a_clear_message() -> None:
    with subprocess.Popen([*TTC, "/dev/zero"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        seen = watch(proc, samples=600)  # it ends long before: detection looks at the first 4 MiB only
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "Traceback" not in err
    assert "first 4194304 octets are all 0x00: no telemetry" in err
    assert max(seen, default=0) < RSS_BOUND_KB


@needs_proc
def test_pipe_of_zeros_ends_with_the_same_message() -> None:
    with subprocess.Popen(["cat", "/dev/zero"], stdout=subprocess.PIPE) as cat:
        out = run("-", stdin=cat.stdout, ok=False, timeout=120)
        cat.kill()
    assert out.returncode == 1 and "-: its first 4194304 octets are all 0x00" in out.stderr


@needs_proc
def test_dev_zero_as_forced_frames_is_given_up_after_64_mib() -> None:
    with subprocess.Popen([*TTC, "/dev/zero", "--layer", "frame", "--kind", "tm", "--frame-len", "1115", "--json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        seen = watch(proc, samples=3000)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1 and "Traceback" not in err
    assert "no valid transfer frame found in the first 64 MiB" in err and "--max-octets reads further" in err
    s = json.loads(out)
    assert s["stopped"] == "no-data" and s["octets"] >= 64 << 20 and s["frames"] == 0 and s["frame_errors"] > 0
    assert max(seen, default=0) < RSS_BOUND_KB


@needs_proc
def test_endless_input_stays_bounded_and_ctrl_c_prints_the_summary() -> None:
    """/dev/zero read on and on (--max-octets 1T): RSS stays flat; SIGINT ends it cleanly with the counts so far."""
    args = ["/dev/zero", "--layer", "frame", "--kind", "tm", "--frame-len", "1115", "--max-octets", "1T", "--json"]
    with subprocess.Popen([*TTC, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        for _ in range(600):  # until it reads past the 4 MiB head: it is decoding
            if read_octets(proc.pid) > 64 << 20 or proc.poll() is not None:
                break
            time.sleep(0.1)
        seen = watch(proc, samples=30)
        still_running = proc.poll() is None
        read_by_now = read_octets(proc.pid)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert still_running and read_by_now > 64 << 20
    assert len(seen) == 30 and max(seen) < RSS_BOUND_KB, seen
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted" in err
    s = json.loads(out)
    assert s["stopped"] == "interrupted" and s["octets"] > 64 << 20 and s["frame_errors"] > 0


def test_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    data, _ = cadu_stream(1 << 20, seed=6)
    (tmp_path / "d.cadu").write_bytes(data)
    r, w = os.pipe()
    os.close(r)  # nobody reads: the first write gets EPIPE
    try:
        out = subprocess.run([*TTC, str(tmp_path / "d.cadu")], stdout=w, stderr=subprocess.PIPE, text=True,
                             timeout=60, check=False)
    finally:
        os.close(w)
    assert out.returncode == 1 and "Traceback" not in out.stderr and "Exception ignored" not in out.stderr


# ------------------------------------------------------------------ damaged recordings: the parser

def small_recording(n: int = 12, *, seed: int = 3) -> tuple[bytes, list[tuple[int, bytes]]]:
    rng = np.random.default_rng(seed)
    records = [(ERT0 + k * 10**6, rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8).tobytes())
               for k in range(n)]
    return MAGIC + b"".join(RECORD.pack(e, len(d)) + d for e, d in records), records


def at(records: list[tuple[int, bytes]], k: int) -> int:
    return len(MAGIC) + sum(RECORD.size + len(d) for _, d in records[:k])


def frames_of(events: list) -> list[tuple[int, bytes]]:
    return [(e.ert_ns, e.data) for e in events if isinstance(e, ReceivedFrame)]


def test_parser_reads_a_clean_recording_in_any_chunking() -> None:
    data, records = small_recording()
    assert frames_of(parse_recording(data)) == records and len(parse_recording(data)) == len(records)
    for split in range(len(data) + 1):
        assert parse_recording([data[:split], data[split:]]) == parse_recording(data)
    assert parse_recording(data[i:i + 1] for i in range(len(data))) == parse_recording(data)


def test_parser_skips_and_counts_every_kind_of_damage() -> None:
    data, records = small_recording()
    buf = bytearray(data)
    buf[at(records, 3) + 8:at(records, 3) + 12] = struct.pack(">I", MAX_RECORD_LEN + 1)  # impossible length
    garbage = bytes(range(200, 256)) * 3  # between records 6 and 7
    damaged = bytes(buf[:at(records, 7)]) + garbage + bytes(buf[at(records, 7):-5])  # and a torn last record
    events = parse_recording(damaged)
    assert frames_of(events) == records[:3] + records[4:11]
    damage = [e for e in events if isinstance(e, RecordDamaged)]
    assert [(d.offset, d.length) for d in damage] == [(at(records, 3), RECORD.size + len(records[3][1])),
                                                       (at(records, 7), len(garbage))]
    assert "record length 1048577 > 1048576" in damage[0].reason
    assert [e for e in events if isinstance(e, RecordTruncated)] == [
        RecordTruncated(at(records, 11) + len(garbage), RECORD.size + len(records[11][1]) - 5)]
    for split in range(len(damaged) + 1):  # the same events however the file arrives
        assert parse_recording([damaged[:split], damaged[split:]]) == events


def test_parser_record_running_past_the_end_and_zero_fill() -> None:
    data, records = small_recording()
    buf = bytearray(data)
    buf[at(records, 9) + 8:at(records, 9) + 12] = struct.pack(">I", 900_000)  # past the end: 9 is lost, 10 and 11 kept
    events = parse_recording(bytes(buf))
    assert frames_of(events) == records[:9] + records[10:]
    assert [(e.offset, e.length) for e in events if isinstance(e, RecordDamaged)] == [
        (at(records, 9), RECORD.size + len(records[9][1]))]
    zeros = data[:at(records, 5)] + bytes(5000) + data[at(records, 5):]
    events = parse_recording(zeros, chunk=999)
    assert frames_of(events) == records and [e.length for e in events if isinstance(e, RecordDamaged)] == [5000]
    # a record cut by the end of the file is torn, not damaged
    events = parse_recording(data[:at(records, 11) + 40])
    assert events[-1] == RecordTruncated(at(records, 11), 40) and frames_of(events) == records[:11]


def test_parser_bounds_and_refusals() -> None:
    with pytest.raises(RemoteProtocolError, match="magic"):
        parse_recording(b"NOTAREC!" + bytes(100))
    parser = RecordingParser()
    parser.feed(MAGIC)
    with pytest.raises(LocalProtocolError, match="read events"):
        parser.feed(bytes(parser.max_buffer_octets))
    # garbage with no end: the buffer stays bounded while the search goes on
    parser = RecordingParser()
    parser.feed(MAGIC)
    rng = np.random.default_rng(1)
    for _ in range(40):
        parser.feed(rng.integers(0, 256, 1 << 20, dtype=np.uint8).tobytes())
        assert [e for e in parser.events() if isinstance(e, ReceivedFrame)] == []
        assert len(parser._buf) - parser._pos <= MAX_RECORD_LEN + 2 * RECORD.size


# ------------------------------------------------------------------ damaged recordings: the command

@pytest.fixture(scope="module")
def pass_cadus() -> tuple[bytes, int]:
    data, n = cadu_stream(600 * CADU_LEN, seed=21)
    return data[:n * CADU_LEN], n


def summary(path: Path, *args: str, ok: bool = True) -> tuple[dict, str]:
    out = run(path, "--json", *args, ok=ok)
    return json.loads(out.stdout), out.stderr


def test_damaged_recordings_are_counted_and_skipped(tmp_path: Path, pass_cadus: tuple[bytes, int]) -> None:
    cadus, n = pass_cadus
    clean = recording(cadus, n=n)
    (tmp_path / "clean.ttcrec").write_bytes(clean)
    ref, err = summary(tmp_path / "clean.ttcrec")
    assert ref["recording_records"] == n and ref["recording_damaged"] == 0 and "warning" not in err
    assert ref["recording_first_damage_offset"] is None and ref["cadus"] == n and ref["frame_gaps"] == 0

    # an impossible length: that record is lost (a frame gap), the rest decodes
    buf = bytearray(clean)
    k = 200
    buf[record_offset(k) + 8:record_offset(k) + 12] = struct.pack(">I", 5 << 20)
    (tmp_path / "long.ttcrec").write_bytes(buf)
    s, err = summary(tmp_path / "long.ttcrec")
    assert s["recording_records"] == n - 1 and s["recording_damaged"] == 1
    assert s["recording_damaged_octets"] == RECORD.size + CADU_LEN
    assert s["recording_first_damage_offset"] == record_offset(k)
    assert s["cadus"] == n - 1 and s["frame_gaps"] == 1 and s["frames_missing"] == 1
    assert f"1 damaged stretch of the recording skipped (1036 octets); the first at offset {record_offset(k)}" in err

    # garbage between records: nothing lost
    garbage = os.urandom(3333)
    (tmp_path / "garbage.ttcrec").write_bytes(clean[:record_offset(300)] + garbage + clean[record_offset(300):])
    s, err = summary(tmp_path / "garbage.ttcrec")
    assert (s["recording_records"], s["recording_damaged"], s["recording_damaged_octets"]) == (n, 1, 3333)
    assert s["recording_first_damage_offset"] == record_offset(300)
    keys = ("cadus", "frames", "frame_gaps", "packets", "packet_gaps", "packets_by_apid", "skipped_bits")
    assert {k: s[k] for k in keys} == {k: ref[k] for k in keys}

    # a torn last record: counted as truncated, not damage
    (tmp_path / "torn.ttcrec").write_bytes(clean[:-100])
    s, err = summary(tmp_path / "torn.ttcrec")
    assert s["recording_records"] == n - 1 and s["recording_truncated_octets"] == RECORD.size + CADU_LEN - 100
    assert s["recording_damaged"] == 0 and "the recording ends inside a record" in err

    # a length that runs past the end of the file, then records: skipped to the next record
    buf = bytearray(clean)
    buf[record_offset(n - 50) + 8:record_offset(n - 50) + 12] = struct.pack(">I", MAX_RECORD_LEN)
    (tmp_path / "past.ttcrec").write_bytes(buf)
    s, err = summary(tmp_path / "past.ttcrec")
    assert s["recording_records"] == n - 1 and s["recording_damaged"] == 1
    assert s["recording_first_damage_offset"] == record_offset(n - 50) and s["recording_truncated_octets"] == 0

    # everything at once, and zero fill: still exit 0 with a warning
    mixed = bytearray(clean[:record_offset(100)] + bytes(4000) + clean[record_offset(100):record_offset(400)]
                      + garbage + clean[record_offset(400):-7])
    pos = record_offset(250) + 4000
    mixed[pos + 8:pos + 12] = b"\xff\xff\xff\xff"
    (tmp_path / "mixed.ttcrec").write_bytes(mixed)
    s, err = summary(tmp_path / "mixed.ttcrec")
    assert s["recording_damaged"] == 3 and s["recording_records"] == n - 2
    assert s["recording_first_damage_offset"] == record_offset(100) and s["recording_truncated_octets"] > 0
    assert "3 damaged stretches" in err and s["packets"] > 0.9 * ref["packets"]


def test_damaged_recording_chunked_like_the_file(tmp_path: Path, pass_cadus: tuple[bytes, int]) -> None:
    """Reading a damaged recording 1000 octets at a time decodes the same as reading it whole."""
    cadus, n = pass_cadus
    clean = recording(cadus, n=n)
    damaged = clean[:record_offset(50)] + os.urandom(777) + clean[record_offset(50):record_offset(n - 1) + 500]
    (tmp_path / "d.ttcrec").write_bytes(damaged)
    whole = read_input(tmp_path / "d.ttcrec")
    assert whole.recording and whole.records == n - 1
    setup = detect(whole.data, "cadu", Overrides())
    src = InputStream(tmp_path / "d.ttcrec", chunk=1000)
    result, stopped = decode_stream(src, setup, read_head(src, octets=10_000))
    src.close()
    assert stopped is None and src.parser.damaged == 1 and src.first_damage.offset == record_offset(50)
    same_result(result, decode_bytes(whole.data, setup))


def test_recordings_with_no_whole_record_fail_clearly(tmp_path: Path) -> None:
    (tmp_path / "junk.ttcrec").write_bytes(MAGIC + os.urandom(50_000))
    out = run(tmp_path / "junk.ttcrec", ok=False)
    assert out.returncode == 1 and "no whole record in the recording: 50000 damaged octets from offset 8" in out.stderr
    (tmp_path / "torn.ttcrec").write_bytes(MAGIC + RECORD.pack(ERT0, CADU_LEN) + bytes(100))
    out = run(tmp_path / "torn.ttcrec", ok=False)
    assert out.returncode == 1 and "a torn record of 112 octets at offset 8" in out.stderr
    (tmp_path / "empty.ttcrec").write_bytes(MAGIC)
    assert "empty recording" in run(tmp_path / "empty.ttcrec", ok=False).stderr


def test_recording_written_by_the_station_writer_reads_back(tmp_path: Path, pass_cadus: tuple[bytes, int]) -> None:
    cadus, n = pass_cadus
    w = RecordingWriter(tmp_path / "w.ttcrec")
    for k in range(n):
        w.send(cadus[k * CADU_LEN:(k + 1) * CADU_LEN])
    w.close()
    s, err = summary(tmp_path / "w.ttcrec")
    assert s["recording_records"] == n and s["recording_damaged"] == 0 and s["cadus"] == n and "warning" not in err


def _packet_stream(draw, n: int) -> bytes:  # noqa: ANN001
    from hypothesis import strategies as st

    from protocol.crc import crc16

    out = b""
    for i in range(n):
        kind = draw(st.sampled_from(["pkt"] * 8 + ["idle", "badpec", "garbage"]))
        apid = draw(st.sampled_from([0x10, 0x11, 0x20])) if kind != "idle" else 0x7FF
        seq = draw(st.integers(0, 3)) + i * 2  # gaps of several sizes, per APID
        body = draw(st.binary(min_size=1, max_size=30))
        pkt = SpacePacket(apid=apid, sequence_count=seq % 16384, data=body).encode()
        with_pec = pkt[:4] + (len(body) + 2 - 1).to_bytes(2, "big") + body
        with_pec += crc16(with_pec).to_bytes(2, "big")
        if kind == "badpec":
            with_pec = with_pec[:-1] + bytes([with_pec[-1] ^ 1])
        out += draw(st.binary(min_size=1, max_size=9)) if kind == "garbage" else with_pec
    return out + draw(st.binary(max_size=12))  # a tail that may be a packet cut by the end


@pytest.mark.parametrize("pec", [False, True])
def test_packet_layer_fast_path_counts_as_the_splitter(pec: bool) -> None:
    """The columnar packet-layer path gives the splitter's counters and packets, whatever the chunking."""
    from hypothesis import given, settings, strategies as st

    from protocol.spacepacket import PacketSplitter

    @settings(max_examples=120, deadline=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        stream = _packet_stream(data.draw, data.draw(st.integers(1, 30)))
        cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
        results = []
        for force_splitter in (False, True):
            got: list[bytes] = []
            dec = StreamDecoder(DecodeSetup(layer="packet", pec=pec), on_packet=lambda v, raw: got.append(raw))
            if force_splitter:
                dec._splitter = PacketSplitter()
            prev = 0
            for cut in [*cuts, len(stream)]:
                dec.feed(stream[prev:cut])
                prev = cut
            r = dec.close()
            results.append((r.counters.as_dict(), got))
        assert results[0] == results[1]

    check()
