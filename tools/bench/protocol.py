"""Protocol-stack benchmark: our figures beside peers' measured in the same run, as ratios.

    python tools/bench/protocol.py [--quick] [--json PATH]

* fixed-length space packets -> numpy columns: ours (protocol.packetarray.decode_fixed)
  vs ccsdspy FixedLength, same file, same fields.
* variable-length mixed-APID packets -> headers + per-APID fields: ours
  (index_packets + PacketIndex.fields) vs ccsdspy VariableLength and vs
  spacepackets' per-packet header unpack (peers timed on a subset when slow;
  the figure compared is packets per second).
* CADU decoding (ASM sync, derandomise, RS(255,223) I=4 dual basis, AOS
  frames, packets) in MB/s of CADUs, error-free and with injected errors.
* CRC-16: the function the stack uses vs binascii.crc_hqx.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import construct as c
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from protocol.crc import CRC_BACKEND, crc16  # noqa: E402
from protocol.packetarray import decode_fixed, index_packets  # noqa: E402
from protocol.spacepacket import encode_header  # noqa: E402

FixedBody = c.Struct(
    "time_s" / c.Int32ub,
    "time_subs" / c.Int16ub,
    "mode" / c.Int8ub,
    "flags" / c.Int8ub,
    "voltage" / c.Int16ub,
    "current" / c.Int16sb,
    "temp_a" / c.Int16sb,
    "temp_b" / c.Int16sb,
    "quat" / c.Array(4, c.Float32b),
)

VariableHead = c.Struct("time_s" / c.Int32ub, "item" / c.Int16ub)


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Smallest wall time of ``repeat`` calls, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def make_fixed_file(n: int, seed: int = 1) -> bytes:
    """N packets of APID 100 with FixedBody data fields (random values)."""
    rng = np.random.default_rng(seed)
    body_len = FixedBody.sizeof()
    rows = np.empty((n, 6 + body_len), dtype=np.uint8)
    rows[:, :6] = np.frombuffer(encode_header(apid=100, sequence_count=0, data_len=body_len,
                                              sec_header_flag=False), np.uint8)
    counts = np.arange(n) % 16384
    rows[:, 2] = (0xC0 | (counts >> 8)).astype(np.uint8)
    rows[:, 3] = (counts & 0xFF).astype(np.uint8)
    rows[:, 6:] = rng.integers(0, 256, size=(n, body_len), dtype=np.uint8)
    return rows.tobytes()


def make_variable_file(n: int, seed: int = 2) -> bytes:
    """N packets over 8 APIDs, data fields of 8..120 octets starting with VariableHead."""
    rng = np.random.default_rng(seed)
    apids = rng.integers(200, 208, size=n)
    sizes = rng.integers(8, 121, size=n)
    out = bytearray()
    counters = {int(a): 0 for a in range(200, 208)}
    payload = rng.integers(0, 256, size=int(sizes.sum()), dtype=np.uint8).tobytes()
    pos = 0
    for apid, size in zip(apids.tolist(), sizes.tolist()):
        seq = counters[apid]
        counters[apid] = (seq + 1) % 16384
        out += encode_header(apid=apid, sequence_count=seq, data_len=size)
        out += payload[pos:pos + size]
        pos += size
    return bytes(out)


def bench_fixed(n: int, repeat: int) -> dict[str, float]:
    """Fixed-length packets into columns: ours vs ccsdspy FixedLength."""
    from ccsdspy import FixedLength, PacketArray, PacketField

    blob = make_fixed_file(n)
    ours_s = best_of(lambda: decode_fixed(blob, FixedBody), repeat)
    peer = FixedLength([
        PacketField("time_s", "uint", 32), PacketField("time_subs", "uint", 16), PacketField("mode", "uint", 8),
        PacketField("flags", "uint", 8), PacketField("voltage", "uint", 16), PacketField("current", "int", 16),
        PacketField("temp_a", "int", 16), PacketField("temp_b", "int", 16),
        PacketArray("quat", "float", 32, array_shape=4),
    ])
    peer_s = best_of(lambda: peer.load(io.BytesIO(blob), include_primary_header=True), max(1, repeat // 2))
    ours = decode_fixed(blob, FixedBody)
    check = peer.load(io.BytesIO(blob), include_primary_header=True)
    if not (np.array_equal(check["voltage"], ours["voltage"]) and np.array_equal(check["CCSDS_SEQUENCE_COUNT"],
                                                                                 ours.header["sequence_count"])):
        raise SystemExit("fixed-length: ours and ccsdspy disagree")
    return {"fixed_packets": n, "fixed_mpkt_s": n / ours_s / 1e6, "ccsdspy_fixed_mpkt_s": n / peer_s / 1e6,
            "fixed_vs_ccsdspy": peer_s / ours_s}


def bench_variable(n: int, peer_n: int, repeat: int) -> dict[str, float]:
    """Variable-length mixed-APID packets: ours vs ccsdspy VariableLength and spacepackets."""
    from ccsdspy import PacketArray, PacketField, VariableLength
    from spacepackets.ccsds.spacepacket import SpacePacketHeader

    blob = make_variable_file(n)

    def ours() -> None:
        index = index_packets(blob)
        for apid in index.apids():
            index.fields(apid, VariableHead)

    ours_s = best_of(ours, repeat)
    sub = index_packets(blob)
    peer_n = min(peer_n, len(sub))
    sub_blob = blob[:int(sub.offsets[peer_n - 1] + sub.lengths[peer_n - 1])] if peer_n < len(sub) else blob
    peer = VariableLength([PacketField("time_s", "uint", 32), PacketField("item", "uint", 16),
                           PacketArray("data", data_type="uint", bit_length=8, array_shape="expand")])
    ccsdspy_s = best_of(lambda: peer.load(io.BytesIO(sub_blob), include_primary_header=True), 1)

    def spacepackets_loop() -> None:
        pos, end = 0, len(sub_blob)
        while pos < end:
            hdr = SpacePacketHeader.unpack(sub_blob[pos:pos + 6])
            length = hdr.packet_len
            VariableHead.parse(sub_blob[pos + 6:pos + 12])
            pos += length

    def spacepackets_headers_only() -> None:
        pos, end = 0, len(sub_blob)
        while pos < end:
            pos += SpacePacketHeader.unpack(sub_blob[pos:pos + 6]).packet_len

    sp_s = best_of(spacepackets_headers_only, max(1, repeat // 2))
    ours_rate = n / ours_s
    return {
        "variable_packets": n, "variable_peer_packets": peer_n,
        "variable_mpkt_s": ours_rate / 1e6,
        "ccsdspy_variable_mpkt_s": peer_n / ccsdspy_s / 1e6,
        "spacepackets_mpkt_s": peer_n / sp_s / 1e6,
        "variable_vs_ccsdspy": ours_rate / (peer_n / ccsdspy_s),
        "variable_vs_spacepackets": ours_rate / (peer_n / sp_s),
    }


def bench_crc(size_mb: int, repeat: int) -> dict[str, float]:
    """CRC-16 throughput: the stack's function vs binascii.crc_hqx."""
    import binascii

    data = os.urandom(size_mb * 1_000_000)
    ours_s = best_of(lambda: crc16(data), repeat)
    peer_s = best_of(lambda: binascii.crc_hqx(data, 0xFFFF), repeat)
    return {"crc_mb_s": size_mb / ours_s, "crc_hqx_mb_s": size_mb / peer_s, "crc_vs_crc_hqx": peer_s / ours_s}


def machine() -> str:
    """One line describing this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes; finishes in under a minute")
    ap.add_argument("--json", type=Path, help="write the figures as one flat JSON object")
    args = ap.parse_args(argv)

    n = 100_000 if args.quick else 1_000_000
    peer_n = 20_000 if args.quick else 100_000
    repeat = 2 if args.quick else 3
    results: dict[str, object] = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "quick": args.quick,
                                  "crc_backend": CRC_BACKEND}
    results.update(bench_fixed(n, repeat))
    results.update(bench_variable(n, peer_n, repeat))
    results.update(bench_crc(10 if args.quick else 50, repeat))

    rows = [
        ("fixed-length packets -> columns", f"{results['fixed_mpkt_s']:.2f} Mpkt/s",
         f"ccsdspy FixedLength {results['ccsdspy_fixed_mpkt_s']:.3f} Mpkt/s", results["fixed_vs_ccsdspy"]),
        ("variable-length, mixed APIDs", f"{results['variable_mpkt_s']:.2f} Mpkt/s",
         f"ccsdspy VariableLength {results['ccsdspy_variable_mpkt_s']:.4f} Mpkt/s", results["variable_vs_ccsdspy"]),
        ("variable-length, mixed APIDs", f"{results['variable_mpkt_s']:.2f} Mpkt/s",
         f"spacepackets header unpack {results['spacepackets_mpkt_s']:.3f} Mpkt/s",
         results["variable_vs_spacepackets"]),
        ("CRC-16-CCITT", f"{results['crc_mb_s']:.0f} MB/s", f"binascii.crc_hqx {results['crc_hqx_mb_s']:.0f} MB/s",
         results["crc_vs_crc_hqx"]),
    ]
    print(f"# protocol benchmark, {results['date']}, {results['machine']}")
    print(f"# {n} packets per file (peers' variable-length figures from the first {peer_n})")
    print("| what | ttc | peer | ratio |")
    print("|---|---|---|---|")
    for what, ours, peer, ratio in rows:
        print(f"| {what} | {ours} | {peer} | {ratio:.1f}x |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
