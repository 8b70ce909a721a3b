"""The export side of ``ttc decode``: packets spooled in blocks and read back in batches lose, duplicate and
reorder nothing, whatever the block and batch sizes; the Parquet parameters do not depend on them."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from groundstation import offline
from protocol.mission import MISSION
from protocol.pus import PusTm
from protocol.spacepacket import SpacePacket
from protocol.timecode import CucTime

from .test_decode import T0, random_raw


def mixed_packets(n: int, *, seed: int = 5) -> list[bytes]:
    """Housekeeping of every declaration (random raw values), image parts, events and a packet of no
    declaration, mixed: the column path, the per-packet path and packets of very different lengths."""
    rng = np.random.default_rng(seed)
    decls = list({id(d): d for d in MISSION.telemetry.values()}.values())
    fixed = [d for d in decls if not d.tail and d.sid is not None]
    parts = [d for d in decls if d.tail and d.service == 13]
    out = []
    for i in range(n):
        t = CucTime(coarse_s_raw=T0.coarse_s_raw + i, fine_raw=int(rng.integers(0, 65536)))
        if i % 11 == 5:
            out.append(PusTm(apid=MISSION.event_apid or 0x10, service=5, subtype=2, time=t, sequence_count=i,
                             source_data=struct.pack(">H", 3) + bytes(4)).encode())
            continue
        if i % 13 == 7:
            out.append(SpacePacket(apid=0x7F0, sequence_count=i, data=bytes(range(1 + i % 40))).encode())
            continue
        decl = parts[0] if parts and i % 7 == 3 else fixed[i % len(fixed)]
        raw = random_raw(decl, rng)
        tail = {"tail": rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8).tobytes()} if decl.tail else {}
        out.append(PusTm(apid=decl.apid, service=decl.service, subtype=decl.subtypes[0], time=t, sequence_count=i,
                         source_data=decl.encode(raw, **tail)).encode())
    return out


def spool_of(packets: list[bytes], vcids: list[int | None]) -> offline.PacketSpool:
    """A spool holding ``packets`` on ``vcids``."""
    spool = offline.PacketSpool()
    for v, p in zip(vcids, packets):
        spool.add(v, p)
    return spool


@pytest.mark.parametrize("block_octets", [1, 97, 1000, 1 << 22])
@pytest.mark.parametrize("batch", [None, 1, 7, 64, 10_000])
def test_spool_gives_every_packet_back_once_in_order(monkeypatch: pytest.MonkeyPatch, block_octets: int,
                                                     batch: int | None) -> None:
    monkeypatch.setattr(offline, "SPOOL_BLOCK_OCTETS", block_octets)
    packets = mixed_packets(150)
    vcids: list[int | None] = [None if i % 5 == 0 else i % 8 for i in range(len(packets))]
    spool = spool_of(packets, vcids)
    try:
        assert spool.count == len(packets)
        got, first = [], 0
        for b in spool.batches(batch):
            assert b.first_index == first and len(b) > 0 and (batch is None or len(b) <= batch)
            assert b.data.size == int(b.lengths.sum())  # exactly its packets' octets
            got += [(b.vcid(i), b.packet(i)) for i in range(len(b))]
            first += len(b)
        assert got == list(zip(vcids, packets))
    finally:
        spool.close()


def _rows(path: Path) -> list[dict]:
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the ttc[parquet] extra) is not installed")
    return pq.read_table(path).to_pylist()


def test_parquet_parameters_do_not_depend_on_spool_blocks_or_batches(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Small spool blocks and row groups (batches cutting blocks and blocks cutting batches) give the rows of
    one batch of the whole list, and the per-packet CSV export's packets and parameters in the same order."""
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the ttc[parquet] extra) is not installed")
    import csv

    monkeypatch.setattr(offline, "selected", lambda: MISSION)
    packets = mixed_packets(300)
    pairs = [(0, p) for p in packets]
    whole = offline.export_packets(pairs, packets_path=None, parameters_path=tmp_path / "whole.parquet",
                                   fmt="parquet")
    per_packet = offline.export_packets(pairs, packets_path=None, parameters_path=tmp_path / "v.csv", fmt="csv")
    monkeypatch.setattr(offline, "SPOOL_BLOCK_OCTETS", 500)
    monkeypatch.setattr(offline, "PARQUET_BATCH_PACKETS", 13)
    spool = spool_of(packets, [0] * len(packets))
    try:
        small = offline.export_packets(spool, packets_path=None, parameters_path=tmp_path / "small.parquet",
                                       fmt="parquet")
        raw = offline.export_packets(spool, packets_path=tmp_path / "p.bin", parameters_path=None, fmt="raw")
    finally:
        spool.close()
    assert whole == small == per_packet and small["parameter_values"] > 1000
    assert pq.ParquetFile(tmp_path / "small.parquet").num_row_groups >= 300 // 13
    assert _rows(tmp_path / "small.parquet") == _rows(tmp_path / "whole.parquet")
    with open(tmp_path / "v.csv", newline="") as f:
        want = [(int(r["packet_index"]), r["parameter"], r["state"] or None) for r in csv.DictReader(f)]
    assert [(r["packet_index"], r["parameter"], r["state"]) for r in _rows(tmp_path / "small.parquet")] == want
    assert (tmp_path / "p.bin").read_bytes() == b"".join(packets)
    assert raw["packets_md5"] == hashlib.md5(b"".join(packets)).hexdigest()
