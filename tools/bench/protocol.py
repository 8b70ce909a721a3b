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
import sys
import time
from collections.abc import Callable
from pathlib import Path

import construct as c
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hostinfo import describe  # noqa: E402  (tools/bench/hostinfo.py, beside this script)
from protocol.crc import CRC_BACKEND, crc16  # noqa: E402
from protocol.packetarray import decode_fixed, index_packets  # noqa: E402
from protocol.reedsolomon import DUAL_TO_CONVENTIONAL  # noqa: E402
from protocol.spacepacket import SpacePacket, encode_header  # noqa: E402
from protocol.stack import DownlinkConfig, DownlinkDecoder, DownlinkEncoder  # noqa: E402

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

    def ours_copied() -> None:  # the same, with every column copied out of the file buffer
        cols = decode_fixed(blob, FixedBody)
        for col in (*cols.header.values(), *cols.fields.values()):
            np.ascontiguousarray(col)

    copied_s = best_of(ours_copied, repeat)
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
            "fixed_vs_ccsdspy": peer_s / ours_s, "fixed_copied_mpkt_s": n / copied_s / 1e6,
            "fixed_copied_vs_ccsdspy": peer_s / copied_s}


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


def make_cadu_stream(n_cadus: int, seed: int = 3) -> tuple[DownlinkConfig, bytes, int]:
    """A CUBESAT-style downlink (TM frames, RS I=4 dual, randomised) full of packets; (config, CADUs, packets)."""
    config = DownlinkConfig.cubesat(scid=0x2A, interleave=4)
    enc = DownlinkEncoder(config, {1: 0, 2: 1})
    rng = np.random.default_rng(seed)
    payload = rng.integers(0, 256, size=1 << 16, dtype=np.uint8).tobytes()
    packets = 0
    seq = 0
    chunks: list[bytes] = []
    made = 0
    while made < n_cadus:
        batch = min(500, n_cadus - made)
        while enc.mux.pending_octets() < batch * config.frame.frame_len:  # keep every CADU full of packets
            size = int(rng.integers(50, 2000))
            enc.submit(1 + seq % 2, SpacePacket(apid=100 + seq % 7, sequence_count=(seq // 7) % 16384,
                                                data=payload[:size]).encode())
            seq += 1
            packets += 1
        chunks.append(enc.cadus(batch))
        made += batch
    stream = b"".join(chunks)
    return config, stream, packets


def _decode_stream(config: DownlinkConfig, stream: bytes) -> DownlinkDecoder:
    dec = DownlinkDecoder(config)
    for i in range(0, len(stream), 1 << 20):
        dec.feed(stream[i:i + (1 << 20)])
        for _ in dec.events():
            pass
    dec.close()
    return dec


def bench_cadu(n_cadus: int, peer_blocks: int, repeat: int) -> dict[str, float]:
    """CADU decoding MB/s (sync, derandomise, RS, frames, packets), clean and with errors; RS vs reedsolo."""
    import reedsolo

    config, stream, _ = make_cadu_stream(n_cadus)
    mb = len(stream) / 1e6
    clean_s = best_of(lambda: _decode_stream(config, stream), repeat)
    dec = _decode_stream(config, stream)
    if dec.counters.cadus != n_cadus or dec.counters.rs_corrected or dec.counters.frame_gaps:
        raise SystemExit(f"CADU bench: clean decode wrong: {dec.counters}")
    # errors: 8 random symbol errors in every codeword of 10% of the CADUs, plus random bit errors at 1e-6
    rng = np.random.default_rng(9)
    buf = np.frombuffer(stream, np.uint8).copy().reshape(n_cadus, config.cadu_len)
    hit = rng.choice(n_cadus, size=max(1, n_cadus // 10), replace=False)
    depth = config.rs.interleave
    for k in hit:
        for word in range(depth):
            pos = rng.choice(255, size=8, replace=False)
            buf[k, 4 + pos * depth + word] ^= rng.integers(1, 256, size=8, dtype=np.uint8)
    noisy = buf.tobytes()
    errors_s = best_of(lambda: _decode_stream(config, noisy), repeat)
    dec = _decode_stream(config, noisy)
    if dec.counters.rs_corrected != len(hit) * depth * 8 or dec.counters.rs_uncorrectable:
        raise SystemExit(f"CADU bench: error decode wrong: {dec.counters}")
    # peer: the same RS work done by reedsolo (conventional decoder, dual-basis tables applied here)
    codec = reedsolo.RSCodec(32, nsize=255, fcr=112, prim=0x187, generator=0xAD, c_exp=8)
    d2c = np.array(DUAL_TO_CONVENTIONAL, dtype=np.uint8)
    blocks = [np.frombuffer(stream, np.uint8)[k * config.cadu_len + 4:(k + 1) * config.cadu_len]
              for k in range(min(peer_blocks, n_cadus))]
    from protocol.randomiser import tm_randomise

    def peer_decode() -> None:
        for blk in blocks:
            conv = d2c[np.frombuffer(tm_randomise(blk.tobytes()), np.uint8)].reshape(255, depth)
            for word in range(depth):
                codec.decode(bytearray(conv[:, word].tobytes()))

    peer_s = best_of(peer_decode, 1)
    peer_mb_s = len(blocks) * config.cadu_len / 1e6 / peer_s
    return {"cadu_count": n_cadus, "cadu_mb_s": mb / clean_s, "cadu_errors_mb_s": mb / errors_s,
            "reedsolo_cadu_mb_s": peer_mb_s, "cadu_vs_reedsolo": (mb / clean_s) / peer_mb_s}


def bench_crc(size_mb: int, repeat: int) -> dict[str, float]:
    """CRC-16 throughput: the stack's function vs binascii.crc_hqx."""
    import binascii

    data = os.urandom(size_mb * 1_000_000)
    ours_s = best_of(lambda: crc16(data), repeat)
    peer_s = best_of(lambda: binascii.crc_hqx(data, 0xFFFF), repeat)
    return {"crc_mb_s": size_mb / ours_s, "crc_hqx_mb_s": size_mb / peer_s, "crc_vs_crc_hqx": peer_s / ours_s}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes; finishes in under a minute")
    ap.add_argument("--json", type=Path, help="write the figures as one flat JSON object")
    args = ap.parse_args(argv)

    n = 100_000 if args.quick else 1_000_000
    peer_n = 20_000 if args.quick else 100_000
    repeat = 2 if args.quick else 3
    results: dict[str, object] = {"date": time.strftime("%Y-%m-%d"), "machine": describe(f"numpy {np.__version__}"),
                                  "quick": args.quick,
                                  "crc_backend": CRC_BACKEND}
    results.update(bench_fixed(n, repeat))
    results.update(bench_variable(n, peer_n, repeat))
    results.update(bench_cadu(2000 if args.quick else 20000, 100 if args.quick else 300, repeat))
    results.update(bench_crc(10 if args.quick else 50, repeat))

    rows = [
        ("fixed-length packets -> columns (zero-copy views)", f"{results['fixed_mpkt_s']:.2f} Mpkt/s",
         f"ccsdspy FixedLength {results['ccsdspy_fixed_mpkt_s']:.3f} Mpkt/s", results["fixed_vs_ccsdspy"]),
        ("fixed-length, every column copied out of the file buffer", f"{results['fixed_copied_mpkt_s']:.2f} Mpkt/s",
         f"ccsdspy FixedLength {results['ccsdspy_fixed_mpkt_s']:.3f} Mpkt/s", results["fixed_copied_vs_ccsdspy"]),
        ("variable-length, mixed APIDs", f"{results['variable_mpkt_s']:.2f} Mpkt/s",
         f"ccsdspy VariableLength {results['ccsdspy_variable_mpkt_s']:.4f} Mpkt/s", results["variable_vs_ccsdspy"]),
        ("variable-length, mixed APIDs", f"{results['variable_mpkt_s']:.2f} Mpkt/s",
         f"spacepackets header unpack {results['spacepackets_mpkt_s']:.3f} Mpkt/s",
         results["variable_vs_spacepackets"]),
        ("CADUs -> packets (sync, derandomise, RS I=4, frames, packets), error-free",
         f"{results['cadu_mb_s']:.1f} MB/s", f"reedsolo RS decode only {results['reedsolo_cadu_mb_s']:.3f} MB/s",
         results["cadu_vs_reedsolo"]),
        ("CADUs -> packets, 10% of CADUs with 8 symbol errors per codeword", f"{results['cadu_errors_mb_s']:.1f} MB/s",
         "", None),
        ("CRC-16-CCITT", f"{results['crc_mb_s']:.0f} MB/s", f"binascii.crc_hqx {results['crc_hqx_mb_s']:.0f} MB/s",
         results["crc_vs_crc_hqx"]),
    ]
    print(f"# protocol benchmark, {results['date']}, {results['machine']}")
    print(f"# {n} packets per file (peers' variable-length figures from the first {peer_n}); "
          f"{results['cadu_count']} CADUs of 1024 octets")
    print("| what | ttc | peer | ratio |")
    print("|---|---|---|---|")
    for what, ours, peer, ratio in rows:
        print(f"| {what} | {ours} | {peer or '-'} | {'-' if ratio is None else f'{ratio:.1f}x'} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
