"""Offline work on files: ``ttc decode`` (recorded CADUs, transfer frames or packets) and ``ttc db`` (the dictionary).

``ttc decode FILE`` runs the station's own downlink decoder
(:class:`protocol.stack.DownlinkDecoder`) over a file and prints the same
per-layer counters the station keeps. What the file holds is guessed when
``--layer`` is not given:

* a station recording (``protocol.links.recording``, magic ``TTCREC1\\n``) or
  a stream with the ASM 1ACFFC1D at a regular spacing: CADUs. The spacing
  gives the RS interleave depth (codeblock = I x 255 octets) or, when it is
  not a multiple of 255, an uncoded frame; the first two bits after the ASM
  give both the frame kind (version 00 TM, 01 AOS) and whether the
  pseudo-randomiser is on (they read 11/10 when it is); the RS basis is the
  one whose codewords decode;
* a chain of space-packet headers whose lengths lead from offset 0 exactly
  to the end of the file: packets;
* otherwise transfer frames back to back, their length found from repeating
  headers and counting frame counters.

The spacecraft ID, the TM OCF flag and secondary header come from the frame
headers, a frame error control field is assumed when the frames' CRC-16
checks, and a packet error control field when the packets' does. Every
guess can be overridden with an option.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click

from protocol.aosframe import AosFrameConfig
from protocol.crc import crc16
from protocol.errors import ProtocolError
from protocol.links.recording import MAGIC, RecordingReader
from protocol.dictionary import Fixed, MissionDictionary, Parameter, Polynomial, States, UnknownName
from protocol.ccsdspydefs import ccsdspy_definitions
from protocol.missionfile import to_toml
from protocol.xtce import from_xtce, to_xtce
from protocol.packetarray import index_packets
from protocol.randomiser import tm_randomise
from protocol.reedsolomon import Basis, RSConfig
from protocol.spacepacket import (
    IDLE_APID,
    PRIMARY_HEADER_LEN,
    PacketSplitter,
    SpacePacket,
    sequence_gap,
)
from protocol.spacepacket import Skipped as PacketSkipped
from protocol.spacepacket import Truncated as PacketTruncated
from protocol.stack import DownlinkConfig, DownlinkCounters, DownlinkDecoder
from protocol.sync import ASM
from protocol.tmframe import TmFrameConfig
from protocol.vchannel import VcPacket

from .mission import selected

__all__ = ["DecodeResult", "DecodeSetup", "db", "decode", "decode_bytes", "detect", "guess_layer", "read_input"]

LAYERS = ("cadu", "frame", "packet")
CHUNK = 1 << 20  # octets fed per step (progress granularity)
PROGRESS_MIN_OCTETS = 8 << 20  # files from this size show progress unless told otherwise
SAMPLE = 16  # CADUs / frames looked at to detect options
RS_N = 255


class DecodeFailed(click.ClickException):
    """A file that cannot be decoded as asked (exit status 1, one clear line)."""


# ------------------------------------------------------------------------------- reading and detection

@dataclass(frozen=True)
class Input:
    """A file's octets, and whether they came from a station recording."""

    data: bytes
    recording: bool = False
    records: int = 0
    truncated_octets: int = 0


def read_input(path: Path) -> Input:
    """The octets of ``path``; a station recording becomes its CADUs back to back."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(MAGIC))
            if head != MAGIC:
                return Input(head + f.read())
    except OSError as e:
        raise DecodeFailed(f"cannot read {path}: {e.strerror}") from e
    reader = RecordingReader(path)
    try:
        frames = []
        while (frame := reader.recv()) is not None:
            frames.append(frame.data)
    finally:
        reader.close()
    return Input(b"".join(frames), recording=True, records=len(frames), truncated_octets=reader.truncated_octets)


def _asm_spacing(data: bytes) -> tuple[int, int] | None:
    """(first ASM offset, CADU length) when ASMs recur at one spacing, else None."""
    first = data.find(ASM, 0, 1 << 16)
    if first < 0:
        return None
    second = data.find(ASM, first + len(ASM), first + len(ASM) + 8 * RS_N * 2 + 64)
    if second < 0:
        rest = len(data) - first
        return (first, rest) if rest > len(ASM) + PRIMARY_HEADER_LEN and first == 0 else None
    spacing = second - first
    checks = [data[p:p + len(ASM)] == ASM for p in range(second, min(len(data) - len(ASM), second + 16 * spacing) + 1,
                                                            spacing)]
    return (first, spacing) if sum(checks) * 4 >= 3 * len(checks) else None


def _is_packet_chain(data: bytes) -> bool:
    if len(data) < PRIMARY_HEADER_LEN + 1:
        return False
    try:
        index = index_packets(data)
    except ProtocolError:
        return False
    return len(index) > 0 and index.truncated_offset is None


def guess_layer(data: bytes, *, recording: bool = False) -> str:
    """'cadu', 'packet' or 'frame': what ``data`` most likely holds."""
    if recording or _asm_spacing(data) is not None:
        return "cadu"
    if _is_packet_chain(data):
        return "packet"
    return "frame"


@dataclass(frozen=True, kw_only=True)
class DecodeSetup:
    """What was decided about a file: layer, frame kind and options, coding, packet error control."""

    layer: str
    config: DownlinkConfig | None = None  # None for the packet layer
    pec: bool = False
    detected: tuple[str, ...] = ()  # the settings that were detected rather than given

    def describe(self) -> dict[str, Any]:
        """The settings as JSON-ready data."""
        out: dict[str, Any] = {"layer": self.layer, "packet_pec": self.pec}
        cfg = self.config
        if cfg is not None:
            fr = cfg.frame
            out.update(kind=cfg.kind.lower(), frame_len=fr.frame_len, scid=fr.scid, ocf=fr.has_ocf,
                       fecf=fr.has_fecf)
            if isinstance(fr, TmFrameConfig):
                out["sec_header_len"] = fr.sec_header_len
            if self.layer == "cadu":
                out.update(rs_interleave=cfg.rs.interleave if cfg.rs else 0,
                           rs_basis=cfg.rs.basis.value if cfg.rs else None, randomise=cfg.randomise)
        out["detected"] = list(self.detected)
        return out


@dataclass(frozen=True, kw_only=True)
class Overrides:
    """Options the operator gave (None = detect)."""

    kind: str | None = None
    frame_len: int | None = None
    scid: int | None = None
    interleave: int | None = None
    basis: str | None = None
    randomise: bool | None = None
    ocf: bool | None = None
    fecf: bool | None = None
    pec: bool | None = None


def _majority(values: Iterable[Any]) -> Any:
    counts = Counter(values)
    return counts.most_common(1)[0][0] if counts else None


def _header_fields(frame: bytes, kind: str) -> tuple[int, bool, int]:
    """(SCID, OCF flag, TM secondary header length) read from a frame's first octets."""
    b0, b1 = frame[0], frame[1]
    if kind == "aos":
        return ((b0 & 0x3F) << 2) | (b1 >> 6), False, 0
    sec = 0
    if len(frame) > 6 and frame[4] & 0x80:
        sec = (frame[6] & 0x3F) + 1
    return ((b0 & 0x3F) << 4) | (b1 >> 4), bool(b1 & 1), sec


def _frame_config(samples: list[bytes], frame_len: int, kind: str, ov: Overrides, detected: list[str], *,
                  fecf_default: bool | None) -> TmFrameConfig | AosFrameConfig:
    """A frame config for ``frame_len``-octet frames of ``kind``, reading what it can from ``samples``."""
    fields = [_header_fields(f, kind) for f in samples if len(f) >= 7]
    scid = ov.scid
    if scid is None:
        scid = _majority(f[0] for f in fields) or 0
        detected.append("scid")
    fecf = ov.fecf
    if fecf is None:
        fecf = fecf_default if fecf_default is not None else \
            bool(samples) and sum(crc16(f) == 0 for f in samples) * 2 > len(samples)
        detected.append("fecf")
    try:
        if kind == "aos":
            return AosFrameConfig(frame_len=frame_len, scid=scid, has_ocf=bool(ov.ocf), has_fecf=fecf)
        ocf = ov.ocf
        if ocf is None:
            ocf = bool(_majority(f[1] for f in fields))
            detected.append("ocf")
        sec = _majority(f[2] for f in fields) or 0
        return TmFrameConfig(frame_len=frame_len, scid=scid, has_ocf=ocf, has_fecf=fecf, sec_header_len=sec)
    except ProtocolError as e:
        raise DecodeFailed(f"cannot decode {frame_len}-octet {kind.upper()} frames: {e}") from e


def _detect_cadu(data: bytes, ov: Overrides) -> tuple[DownlinkConfig, list[str]]:
    detected: list[str] = []
    found = _asm_spacing(data)
    if found is None:
        raise DecodeFailed("no ASM 1ACFFC1D found at a regular spacing: not a file of CADUs "
                           "(try --layer frame or --layer packet)")
    first, cadu_len = found
    block_len = cadu_len - len(ASM)
    interleave = ov.interleave
    if interleave is None:
        interleave = block_len // RS_N if block_len % RS_N == 0 and 1 <= block_len // RS_N <= 8 else 0
        detected.append("rs_interleave")
    rs = None
    if interleave:
        if interleave * RS_N != block_len:
            raise DecodeFailed(f"CADUs are {cadu_len} octets apart but RS interleave {interleave} makes "
                               f"{len(ASM) + interleave * RS_N}-octet CADUs")
        rs = RSConfig(interleave=interleave, basis=Basis(ov.basis or "dual"))
    frame_len = rs.data_len if rs else block_len
    blocks = [data[p + len(ASM):p + cadu_len] for p in range(first, len(data) - cadu_len + 1, cadu_len)][:SAMPLE]
    # Version 00 (TM) or 01 (AOS) in the clear; the randomiser starts with 1s, so 11 or 10 when it is on.
    top = _majority(b[0] >> 6 for b in blocks) if blocks else 0
    randomise = ov.randomise
    if randomise is None:
        randomise = top in (2, 3)
        detected.append("randomise")
    kind = ov.kind
    if kind is None:
        version = top ^ (3 if randomise else 0)
        if version not in (0, 1):
            raise DecodeFailed(f"the frames after the ASM have transfer frame version {version + 1}, not TM (1) "
                               f"or AOS (2); give --kind and --randomise/--no-randomise")
        kind = "aos" if version == 1 else "tm"
        detected.append("kind")
    frames = [(tm_randomise(b) if randomise else b)[:frame_len] for b in blocks]
    frame = _frame_config(frames, frame_len, kind, ov, detected, fecf_default=None if rs is None else False)
    config = DownlinkConfig(frame=frame, rs=rs, randomise=randomise)
    if rs is not None and ov.basis is None:
        detected.append("rs_basis")
        sample = data[first:first + cadu_len * min(8, len(blocks))]
        trials = []
        for basis in (Basis.DUAL, Basis.CONVENTIONAL):
            cfg = replace(config, rs=RSConfig(interleave=interleave, basis=basis))
            dec = DownlinkDecoder(cfg)
            dec.feed(sample)
            trials.append((dec.counters.rs_uncorrectable, cfg))
        config = min(trials, key=lambda t: t[0])[1]
    return config, detected


def _frame_len_score(data: bytes, length: int, kind: str) -> float:
    """How well ``length`` explains ``data`` as frames: same master channel ID, counters counting."""
    n = min(len(data) // length, 64)
    if n == 1:
        return 0.5  # one frame explains any file: accept it only when nothing repeats
    heads = [data[i * length:i * length + 6] for i in range(n)]
    shift = 6 if kind == "aos" else 4
    mcid = (heads[0][0], heads[0][1] >> shift)
    if any((h[0], h[1] >> shift) != mcid for h in heads):
        return 0.0
    counting = 0
    last: dict[int, int] = {}
    for h in heads:
        if kind == "tm":
            vc, count, modulo = 0, h[2], 256
        else:
            vc, count, modulo = h[1] & 0x3F, int.from_bytes(h[2:5], "big"), 1 << 24
        if vc in last and (count - last[vc]) % modulo == 1:
            counting += 1
        last[vc] = count
    return (1 + counting) / n


def _detect_frames(data: bytes, ov: Overrides) -> tuple[DownlinkConfig, list[str]]:
    detected: list[str] = []
    if len(data) < PRIMARY_HEADER_LEN + 2:
        raise DecodeFailed(f"{len(data)} octets are too few for a transfer frame")
    kind = ov.kind
    if kind is None:
        version = data[0] >> 6
        if version not in (0, 1):
            raise DecodeFailed(f"the first octet reads transfer frame version {version + 1}, not TM (1) or "
                               f"AOS (2): not a file of frames, packets or CADUs (or give --layer and --kind)")
        kind = "aos" if version == 1 else "tm"
        detected.append("kind")
    frame_len = ov.frame_len
    if frame_len is None:
        # A length that divides the file wins a tie; otherwise the file may end in a partial frame.
        candidates = [(_frame_len_score(data, n, kind), len(data) % n == 0, -n)
                      for n in range(PRIMARY_HEADER_LEN + 2, min(len(data), 2048) + 1)
                      if len(data) // n >= 2 or n == len(data)]
        best = max(candidates, default=(0.0, False, 0))
        if best[0] < 0.5:
            raise DecodeFailed("could not find a frame length at which headers repeat and frame counters count: "
                               "not a file of transfer frames (give --frame-len, or --layer cadu/packet)")
        frame_len = -best[2]
        detected.append("frame_len")
    frames = [data[i:i + frame_len] for i in range(0, min(len(data), SAMPLE * frame_len), frame_len)]
    frame = _frame_config([f for f in frames if len(f) == frame_len], frame_len, kind, ov, detected,
                          fecf_default=None)
    return DownlinkConfig(frame=frame, rs=None, randomise=False), detected


def _pec_likely(packets: list[bytes]) -> bool:
    """Most packets end in a CRC-16 that checks (a random packet passes 1 time in 65536; damage is rare)."""
    return bool(packets) and 4 * sum(crc16(p) == 0 for p in packets) >= 3 * len(packets)


def detect(data: bytes, layer: str, overrides: Overrides) -> DecodeSetup:
    """The decode settings for ``data`` at ``layer``: the overrides, and what the file tells for the rest."""
    if layer == "packet":
        pec = overrides.pec
        detected = []
        if pec is None:
            detected.append("packet_pec")
            try:
                index = index_packets(data[:1 << 16])
                pkts = [index.packet(i) for i in range(min(len(index), SAMPLE))]
            except ProtocolError:
                pkts = []
            pkts = [p for p in pkts if (((p[0] & 7) << 8) | p[1]) != IDLE_APID]
            pec = _pec_likely(pkts)
        return DecodeSetup(layer=layer, pec=pec, detected=tuple(detected))
    config, detected = _detect_cadu(data, overrides) if layer == "cadu" else _detect_frames(data, overrides)
    pec = overrides.pec
    if pec is None:
        detected.append("packet_pec")
        dec = DownlinkDecoder(config)
        if layer == "cadu":
            dec.feed(data[:config.cadu_len * 4 * SAMPLE])
        else:
            fl = config.frame.frame_len
            dec.feed_frames(data[i:i + fl] for i in range(0, min(len(data) - fl + 1, 4 * SAMPLE * fl), fl))
        pkts = [e.data for e in dec.events() if isinstance(e, VcPacket)]
        pec = _pec_likely(pkts)
    return DecodeSetup(layer=layer, config=replace(config, packet_pec=pec), pec=pec, detected=tuple(detected))


# ------------------------------------------------------------------------------- decoding

@dataclass
class DecodeResult:
    """The counters of one decode, and the packets (with their VC) when they were kept."""

    setup: DecodeSetup
    counters: DownlinkCounters
    packets: list[tuple[int | None, bytes]] = field(default_factory=list)
    trailing_octets: int = 0  # frame layer: octets after the last whole frame


def _decode_packets(data: bytes, setup: DecodeSetup, *, keep: bool, progress: Callable[[int], None]) -> DecodeResult:
    counters = DownlinkCounters()
    result = DecodeResult(setup, counters)
    splitter = PacketSplitter()
    last: dict[int, int] = {}
    for start in range(0, max(len(data), 1), CHUNK):
        splitter.feed(data[start:start + CHUNK])
        if start + CHUNK >= len(data):
            splitter.close()
        for ev in splitter.events():
            if isinstance(ev, (PacketSkipped, PacketTruncated)):
                counters.bytes_dropped += ev.length
                continue
            if ev.is_idle:
                counters.idle_packets += 1
                continue
            raw = ev.encode()
            if setup.pec and crc16(raw) != 0:
                counters.crc_errors += 1
                continue
            if ev.apid in last:
                missing = sequence_gap(last[ev.apid], ev.sequence_count)
                if missing:
                    counters.packet_gaps += 1
                    counters.packets_missing += missing
            last[ev.apid] = ev.sequence_count
            counters.packets += 1
            counters.packets_by_apid[ev.apid] = counters.packets_by_apid.get(ev.apid, 0) + 1
            if keep:
                result.packets.append((None, raw))
        progress(min(start + CHUNK, len(data)))
    return result


def decode_bytes(data: bytes, setup: DecodeSetup, *, keep_packets: bool = False,
                 progress: Callable[[int], None] = lambda done: None) -> DecodeResult:
    """Decode a whole file's octets with ``setup``; ``progress`` is told how many octets are done."""
    if setup.layer == "packet":
        return _decode_packets(data, setup, keep=keep_packets, progress=progress)
    config = setup.config
    if config is None:
        raise DecodeFailed(f"no frame configuration for layer {setup.layer}")
    dec = DownlinkDecoder(config)
    result = DecodeResult(setup, dec.counters)

    def drain() -> None:
        for ev in dec.events():
            if keep_packets and isinstance(ev, VcPacket):
                result.packets.append((ev.vcid, ev.data))

    if setup.layer == "cadu":
        for start in range(0, len(data), CHUNK):
            dec.feed(data[start:start + CHUNK])
            drain()
            progress(min(start + CHUNK, len(data)))
        dec.close()
        drain()
    else:
        fl = config.frame.frame_len
        whole = len(data) - len(data) % fl
        step = max(fl, CHUNK - CHUNK % fl)
        for start in range(0, whole, step):
            end = min(start + step, whole)
            dec.feed_frames(data[i:i + fl] for i in range(start, end, fl))
            drain()
            progress(end)
        result.trailing_octets = len(data) - whole
        dec.counters.bytes_dropped += result.trailing_octets
        progress(len(data))
    return result


# ------------------------------------------------------------------------------- export

PACKET_COLUMNS = ("index", "vcid", "apid", "sequence_count", "packet_type", "sec_header_flag", "sequence_flags",
                  "length", "name", "service", "subtype", "time_utc", "data_hex")
PARAMETER_COLUMNS = ("packet_index", "apid", "sequence_count", "packet", "time_utc", "parameter", "raw",
                     "engineering", "unit", "level")


def _dictionary_apids(mission: MissionDictionary) -> frozenset[int]:
    """APIDs the dictionary sends TM on."""
    return frozenset([*(tm.apid for tm in mission.packets.values()), *mission.applications,
                      *([mission.event_apid] if mission.event_apid is not None else [])])


def _rows(packets: list[tuple[int | None, bytes]], progress: Callable[[int], None] = lambda done: None
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Packet rows, parameter rows, and how many packets the dictionary decoded."""
    packet_rows: list[dict[str, Any]] = []
    parameter_rows: list[dict[str, Any]] = []
    known = 0
    mission = selected()
    apids = _dictionary_apids(mission)
    for i, (vcid, raw) in enumerate(packets):
        if i % 1000 == 0:
            progress(i)
        pkt = SpacePacket.decode(raw)
        row: dict[str, Any] = {"index": i, "vcid": vcid, "apid": pkt.apid, "sequence_count": pkt.sequence_count,
                               "packet_type": pkt.packet_type.name, "sec_header_flag": pkt.sec_header_flag,
                               "sequence_flags": pkt.sequence_flags.name, "length": len(raw), "name": None,
                               "service": None, "subtype": None, "time_utc": None, "data_hex": raw.hex()}
        if pkt.apid in apids and pkt.sec_header_flag and pkt.packet_type.name == "TM":
            try:
                tm = mission.decode_tm(raw)
            except ProtocolError:
                tm = None  # an APID we know carrying something we do not: exported without parameters
            if tm is not None:
                known += 1
                time_utc = tm.tm.time.utc_iso()
                row.update(name=tm.name, service=tm.tm.service, subtype=tm.tm.subtype, time_utc=time_utc)
                for p in tm.parameters:
                    parameter_rows.append({"packet_index": i, "apid": pkt.apid, "sequence_count": pkt.sequence_count,
                                           "packet": tm.name, "time_utc": time_utc, "parameter": p.name,
                                           "raw": p.raw, "engineering": p.engineering, "unit": p.unit,
                                           "level": p.level.name})
        packet_rows.append(row)
    return packet_rows, parameter_rows, known


def _write(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...], fmt: str) -> None:
    if fmt == "csv":
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows({k: ("" if r[k] is None else r[k]) for k in columns} for r in rows)
    elif fmt == "jsonl":
        with open(path, "w") as f:
            f.writelines(json.dumps({k: r[k] for k in columns}) + "\n" for r in rows)
    elif fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as e:
            raise DecodeFailed("parquet export needs pyarrow: pip install 'ttc[parquet]'") from e
        pq.write_table(pa.table({k: _parquet_column([r[k] for r in rows]) for k in columns}), path)
    else:
        raise DecodeFailed(f"unknown export format {fmt}")


def _parquet_column(values: list[Any]) -> list[Any]:
    """A column parquet can type: engineering values mix numbers and state names, so such a column is text."""
    if any(isinstance(v, str) for v in values) and any(isinstance(v, (int, float)) for v in values):
        return [None if v is None else str(v) for v in values]
    return values


# ------------------------------------------------------------------------------- output

class _Progress:
    """A progress display on stderr: rich's bar when installed, else a plain percentage."""

    def __init__(self, total: int, label: str, *, enabled: bool) -> None:
        self.total = max(total, 1)
        self.enabled = enabled
        self._last_pct = -1
        self._rich: Any = None
        self._label = label
        if not enabled:
            return
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )
        except ImportError:
            return
        self._rich = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                              TimeRemainingColumn(), console=Console(stderr=True))
        self._task = self._rich.add_task(label, total=self.total)
        self._rich.start()

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich.update(self._task, completed=done)
            return
        pct = int(100 * done / self.total)
        if pct != self._last_pct:
            self._last_pct = pct
            sys.stderr.write(f"\r{self._label}: {pct:3d}%")
            sys.stderr.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich.stop()
        else:
            sys.stderr.write("\n")
            sys.stderr.flush()


SECTIONS = (
    ("CADU", ("cadus", "asm_bit_errors", "skipped_bits", "rs_corrected", "rs_uncorrectable")),
    ("frame", ("frames", "idle_frames", "frame_gaps", "frames_missing", "frame_errors", "frames_by_vc")),
    ("packet", ("packets", "idle_packets", "packet_gaps", "packets_missing", "crc_errors", "bytes_dropped",
                "packets_by_apid")),
)


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
    return str(value)


def _print_tables(title: str, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
    """Tables of (name, value) rows, one per section: rich when installed, else aligned text."""
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        click.echo(title)
        width = max(len(k) for _, rows in sections for k, _ in rows)
        for name, rows in sections:
            click.echo(f"\n{name}")
            for k, v in rows:
                click.echo(f"  {k:<{width}}  {v}")
        return
    console = Console()
    console.print(title)
    for name, rows in sections:
        table = Table(title=name, show_header=False, title_justify="left")
        table.add_column("counter")
        table.add_column("value", justify="right")
        for k, v in rows:
            table.add_row(k, v)
        console.print(table)


def _summary(result: DecodeResult, path: Path, source: Input) -> dict[str, Any]:
    out: dict[str, Any] = {"file": str(path), "octets": len(source.data)}
    if source.recording:
        out.update(recording_records=source.records, recording_truncated_octets=source.truncated_octets)
    out.update(result.counters.as_dict())
    out["setup"] = result.setup.describe()
    return out


# ------------------------------------------------------------------------------- commands

def _opt_bool(name: str, help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(f"--{name}/--no-{name}", default=None, help=f"{help_text} (default: detect)")


@click.command("decode", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--layer", type=click.Choice(LAYERS), default=None, help="what the file holds (default: guess)")
@click.option("--kind", type=click.Choice(["tm", "aos"]), default=None,
              help="transfer frame kind (default: from the version bits)")
@click.option("--frame-len", type=click.IntRange(8, 65536), default=None,
              help="transfer frame length in octets (default: from the coding or the headers)")
@click.option("--scid", type=click.IntRange(0, 1023), default=None,
              help="spacecraft ID to accept (default: the one in the first frames)")
@click.option("--interleave", type=click.IntRange(0, 8), default=None,
              help="RS(255,223) interleave depth, 0 for no RS (default: from the CADU spacing)")
@click.option("--basis", type=click.Choice(["dual", "conventional"]), default=None,
              help="RS symbol basis (default: the one that decodes)")
@_opt_bool("randomise", "CCSDS pseudo-randomiser after the ASM")
@_opt_bool("ocf", "frames carry an operational control field (TM: from the header; AOS default off)")
@_opt_bool("fecf", "frames end in a frame error control field")
@_opt_bool("pec", "packets end in a CRC-16 packet error control field")
@click.option("--json", "as_json", is_flag=True, help="print the summary as one JSON object")
@click.option("--packets", "packets_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="export the packets to this file")
@click.option("--parameters", "parameters_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="export the parameters the mission dictionary decodes to this file")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet", "raw"]), default="csv",
              show_default=True, help="export format (raw: the packets' octets back to back; --packets only)")
@click.option("--progress/--no-progress", default=None,
              help=f"show progress on stderr (default: for files from {PROGRESS_MIN_OCTETS >> 20} MiB)")
def decode(file: Path, layer: str | None, kind: str | None, frame_len: int | None, scid: int | None,
           interleave: int | None, basis: str | None, randomise: bool | None, ocf: bool | None, fecf: bool | None,
           pec: bool | None, as_json: bool, packets_path: Path | None, parameters_path: Path | None, fmt: str,
           progress: bool | None) -> None:
    """Decode a recorded file of CADUs, transfer frames or packets; print per-layer counters; export packets."""
    if fmt == "raw" and parameters_path is not None:
        raise click.UsageError("--format raw exports packets only; use csv, jsonl or parquet for --parameters")
    source = read_input(file)
    if not source.data:
        raise DecodeFailed(f"{file} holds no data" + (" (an empty recording)" if source.recording else ""))
    if source.recording and layer not in (None, "cadu"):
        raise DecodeFailed(f"{file} is a station recording: it holds CADUs, not {layer}s")
    overrides = Overrides(kind=kind, frame_len=frame_len, scid=scid, interleave=interleave, basis=basis,
                          randomise=randomise, ocf=ocf, fecf=fecf, pec=pec)
    chosen = layer or guess_layer(source.data, recording=source.recording)
    show = progress if progress is not None else len(source.data) >= PROGRESS_MIN_OCTETS
    bar = _Progress(len(source.data), f"decoding {file.name}", enabled=show)
    try:
        setup = detect(source.data, chosen, overrides)
        if frame_len is not None and setup.config is not None and setup.config.frame.frame_len != frame_len:
            raise DecodeFailed(f"--frame-len {frame_len} does not match the coding: RS interleave "
                               f"{setup.config.rs.interleave if setup.config.rs else 0} carries "
                               f"{setup.config.frame.frame_len}-octet frames")
        result = decode_bytes(source.data, setup, keep_packets=bool(packets_path or parameters_path), progress=bar)
    except ProtocolError as e:
        raise DecodeFailed(f"{file}: {e}") from e
    finally:
        bar.close()
    summary = _summary(result, file, source)
    if packets_path or parameters_path:
        bar = _Progress(len(result.packets), "reading packets with the dictionary",
                        enabled=show and len(result.packets) > 0)
        try:
            packet_rows, parameter_rows, known = _rows(result.packets, bar)
            bar(len(result.packets))
        finally:
            bar.close()
        summary.update(dictionary_packets=known, parameter_values=len(parameter_rows))
        if packets_path:
            if fmt == "raw":
                packets_path.write_bytes(b"".join(raw for _, raw in result.packets))
            else:
                _write(packets_path, packet_rows, PACKET_COLUMNS, fmt)
            summary["packets_md5"] = hashlib.md5(b"".join(raw for _, raw in result.packets)).hexdigest()
        if parameters_path:
            _write(parameters_path, parameter_rows, PARAMETER_COLUMNS, fmt)
    if as_json:
        click.echo(json.dumps(summary))
    else:
        _print_human(summary)
    c = result.counters
    empty = c.packets + c.idle_packets == 0 if chosen == "packet" else c.frames == 0
    if empty:
        what = {"cadu": "no CADU decoded to a frame", "frame": "no valid transfer frame",
                "packet": "no space packet"}[chosen]
        raise DecodeFailed(f"{file}: {what} ({c.cadus} CADUs, {c.rs_uncorrectable} uncorrectable, "
                           f"{c.frame_errors} frame errors, {c.bytes_dropped} octets dropped, "
                           f"{c.skipped_bits // 8} octets skipped): is --layer right?")


def _print_human(summary: dict[str, Any]) -> None:
    setup = summary["setup"]
    desc = ", ".join(f"{k}={v}" for k, v in setup.items() if k != "detected")
    title = f"{summary['file']} ({summary['octets']} octets): {desc}"
    if setup["detected"]:
        title += f"\ndetected: {', '.join(setup['detected'])}"
    layers = {"cadu": 0, "frame": 1, "packet": 2}[setup["layer"]]
    sections = [(f"{name} layer", [(k, _show(summary[k])) for k in keys]) for name, keys in SECTIONS[layers:]]
    extra = [(k, _show(summary[k])) for k in ("recording_records", "recording_truncated_octets", "dictionary_packets",
                                              "parameter_values", "packets_md5") if k in summary]
    if extra:
        sections.append(("file", extra))
    _print_tables(title, sections)


# ------------------------------------------------------------------------------- ttc db

@click.group("db", context_settings={"help_option_names": ["-h", "--help"]})
def db() -> None:
    """The mission dictionary: commands, telemetry packets, parameters and events."""


@db.command("list")
def db_list() -> None:
    """List every command, telemetry packet and event of the dictionary."""
    click.echo(f"{selected().name}, spacecraft ID {selected().scid} (0x{selected().scid:03X})")
    click.echo("\ncommands:")
    for cmd in selected().commands.values():
        args = " ".join(a.name for a in cmd.arguments)
        click.echo(f"  {cmd.name:<28} TC[{cmd.service},{cmd.subtype}] APID 0x{cmd.apid:03X}  {args}"
                   + ("  (hazardous)" if cmd.hazardous else ""))
    click.echo("\ntelemetry:")
    for tm in selected().packets.values():
        sid = f" SID {tm.sid}" if tm.sid is not None else ""
        click.echo(f"  {tm.name:<28} TM[{tm.service},{tm.subtype}]{sid} APID 0x{tm.apid:03X}  "
                   f"{len(tm.parameters)} parameters")
    click.echo("\nevents:")
    for ev in selected().events.values():
        click.echo(f"  {ev.name:<28} 0x{ev.event_id:04X} {ev.severity.name:<6}  {ev.text}")
    click.echo("\non-board parameters (service 20):")
    for op in selected().onboard.values():
        click.echo(f"  {op.parameter.name:<28} 0x{op.parameter_id:04X} {'settable' if op.settable else 'read-only'}")


def _limits_text(p: Parameter) -> str:
    lim = p.limits
    if lim is None:
        return "-"

    def span(lo: float | None, hi: float | None) -> str:
        return f"{'-inf' if lo is None else f'{lo:g}'}..{'inf' if hi is None else f'{hi:g}'}"

    return f"soft {span(lim.soft_low, lim.soft_high)}, hard {span(lim.hard_low, lim.hard_high)}"


def _calibration_text(p: Parameter) -> str:
    cal = p.calibration
    if isinstance(cal, Polynomial):
        return "polynomial " + ", ".join(f"{c:g}" for c in cal.coefficients)
    if isinstance(cal, States):
        return "states " + ", ".join(f"{k}={v}" for k, v in cal.names.items())
    return "raw"


def _parameter_lines(params: Iterable[Parameter]) -> list[str]:
    lines = []
    for p in params:
        unit = f"[{p.unit}]" if p.unit else ""
        lines.append(f"    {p.name:<24} {p.type:<4} {unit:<8} calibration: {_calibration_text(p)}; "
                     f"limits: {_limits_text(p)}" + (f"  ({p.description})" if p.description else ""))
    return lines


def _describe(name: str) -> list[str]:
    """Text blocks describing every declaration called ``name`` (case-insensitive)."""
    key = name.upper()
    blocks: list[str] = []
    cmd = selected().commands.get(key)
    if cmd is not None:
        lines = [f"command {cmd.name}: TC[{cmd.service},{cmd.subtype}] to APID 0x{cmd.apid:03X}"
                 + ("  HAZARDOUS (ttc send asks for a confirmation)" if cmd.hazardous else "")]
        if cmd.description:
            lines.append(f"  {cmd.description}")
        for f in cmd.fields:
            if isinstance(f, Fixed):
                lines.append(f"    {f.name:<24} {f.type:<4} fixed {f.value} (0x{f.value:X})")
            else:
                default = "required" if f.default is None else f"default {f.default}"
                cal = ""
                if f.calibration is not None:
                    c0, c1 = f.calibration.coefficients
                    cal = f"; {f.unit or 'value'} = {c0:g} + {c1:g} x raw"
                lines.append(f"    {f.name:<24} {f.type:<4} {f.allowed}; {default}{cal}"
                             + (f"  ({f.description})" if f.description else ""))
        blocks.append("\n".join(lines))
    for tm in selected().packets.values():
        if tm.name == key:
            sid = f" SID {tm.sid}" if tm.sid is not None else ""
            lines = [f"telemetry {tm.name}: TM[{tm.service},{tm.subtype}]{sid} from APID 0x{tm.apid:03X}"]
            if tm.description:
                lines.append(f"  {tm.description}")
            blocks.append("\n".join(lines + _parameter_lines(tm.parameters)))
    if key in selected().parameters:
        owner, p = selected().parameters[key]
        where = [f"in {owner.name}"] if owner is not None else []
        where += [f"on-board parameter 0x{op.parameter_id:04X} ({'settable' if op.settable else 'read-only'})"
                  for op in selected().onboard.values() if op.parameter.name == key]
        blocks.append("\n".join([f"parameter {p.name} ({'; '.join(where)})", *_parameter_lines([p])]))
    for ev in selected().events.values():
        if ev.name == key:
            blocks.append(f"event {ev.name}: ID 0x{ev.event_id:04X}, severity {ev.severity.name} "
                          f"(reported as TM[5,{int(ev.severity)}])\n  {ev.text}")
    return blocks


def _all_names() -> list[str]:
    names = [*selected().commands, *(tm.name for tm in selected().packets.values()), *selected().parameters,
             *(e.name for e in selected().events.values())]
    return list(dict.fromkeys(names))


@db.command("show")
@click.argument("name")
def db_show(name: str) -> None:
    """Show one command, telemetry packet, parameter or event."""
    found = _describe(name)
    if not found:
        hint = UnknownName("name", name, _all_names())
        raise click.ClickException(f"{name!r} is not in the mission dictionary: "
                                   + (f"did you mean {' or '.join(hint.suggestions)}?" if hint.suggestions
                                      else "see `ttc db list`"))
    click.echo("\n\n".join(found))


@db.command("export")
@click.option("--format", "fmt", type=click.Choice(["json", "toml", "xtce", "ccsdspy"]), default="json",
              show_default=True,
              help="json (the document of docs/dictionary.md), toml (the same, as a mission file that --mission "
                   "loads), xtce (OMG XTCE 1.2 for Yamcs, OpenC3 and other XTCE tools) or ccsdspy (one CSV "
                   "packet definition per fixed-layout packet, into the folder -o names)")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="write to this file instead of stdout (a folder for ccsdspy)")
def db_export(fmt: str, output: Path | None) -> None:
    """Export the whole dictionary (schema in docs/dictionary.md)."""
    mission = selected()
    if fmt == "ccsdspy":
        if output is None:
            raise click.UsageError("--format ccsdspy writes one file per packet: give the folder with -o")
        output.mkdir(parents=True, exist_ok=True)
        for name, csv_text in ccsdspy_definitions(mission).items():
            _write_text(csv_text, output / name)
        return
    if fmt == "toml":
        text = to_toml(mission)
    elif fmt == "xtce":
        text = to_xtce(mission)
    else:
        text = json.dumps(mission.to_json(), indent=2) + "\n"
    _write_text(text, output)


def _write_text(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise click.ClickException(f"cannot write {output}: {e.strerror or e}") from e


@db.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", show_default=True,
              help="what to write: a TOML mission file (for --mission) or the JSON document")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write to this file instead of stdout")
def db_import(file: Path, fmt: str, output: Path | None) -> None:
    """Read an XTCE 1.2 file (as ttc db export --format xtce writes it) into a mission file."""
    try:
        text = file.read_bytes()
    except OSError as e:
        raise click.ClickException(f"cannot read {file}: {e.strerror or e}") from e
    try:
        mission = from_xtce(text)
    except ProtocolError as e:
        raise click.ClickException(f"{file}: {e}") from e
    out = to_toml(mission) if fmt == "toml" else json.dumps(mission.to_json(), indent=2) + "\n"
    _write_text(out, output)
    if output is not None:
        click.echo(f"{mission.name}: {len(mission.commands)} commands, {len(mission.packets)} packets, "
                   f"{len(mission.events)} events, fingerprint {mission.fingerprint:08X} -> {output}", err=True)
