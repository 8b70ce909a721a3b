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
* a KISS stream (first octet FEND, 0xC0: a TNC capture, gr-satellites' ``.kss`` files): its data frames,
  back to back, then guessed as below (gr-satellites' deframers write decoded transfer frames; a TNC may
  carry CADUs); refused KISS frames are counted (``kiss_rejected``) and warned about;
* a chain of space-packet headers whose lengths lead from offset 0 exactly
  to the end of the file (or of the part looked at): packets;
* otherwise transfer frames back to back, their length found from repeating
  headers and counting frame counters.

The spacecraft ID, the TM OCF flag and secondary header come from the frame
headers, a frame error control field is assumed when the frames' CRC-16
checks, and a packet error control field when the packets' does. Every
guess can be overridden with an option.

Bounded memory, whatever the input. FILE may be a file, a pipe or ``-``
(stdin); it is read :data:`CHUNK` (1 MiB) at a time into the same sans-IO
stream decoders the station runs (:class:`StreamDecoder`: the frame
synchroniser's state, a partial frame, a partial packet carry over from one
chunk to the next), so nothing holds the input. Detection looks at the first
:data:`DETECT_OCTETS` (4 MiB) of decodable octets only. The packets that
``--packets``/``--parameters`` export go to a temporary file during the
decode and are written out after it, row by row (CSV, JSONL) or a row group
of :data:`PARQUET_BATCH_PACKETS` packets at a time (Parquet).

Inputs with no end or no data. ``--max-octets N`` decodes the first N octets
of the input (suffixes K, M, G: binary multiples) and says so on stderr.
Without it, decoding gives up once the first :data:`NO_DATA_OCTETS` (64 MiB)
of the input have given nothing at all -- no ASM for CADUs, no valid frame,
no packet, no whole record of a recording -- which the end of the input
would also have reported as a failure; give ``--max-octets`` to read further.
When the layer is guessed, a start of one repeated value (``/dev/zero``) is
refused at once. Data never stops a decode early: once anything decoded,
the input is read to its end.

Station recordings are read record by record
(:class:`protocol.links.recording.RecordingParser`): damaged stretches (a
record length over 1 MiB, a record running past the end, octets inserted
between records) are skipped by resynchronising on the next record, counted
in ``recording_damaged`` / ``recording_damaged_octets`` /
``recording_first_damage_offset`` and warned about on stderr; a torn last
record is counted in ``recording_truncated_octets``.

Exit status: 0 when something decoded (warnings on stderr for a damaged or
torn recording and for a ``--max-octets`` stop); 1 when nothing decodable was
found, the input cannot be read or an export cannot be written; 2 for a
usage error; 130 when interrupted (Ctrl-C): the summary of what was decoded
so far is printed, exports are not written. A closed stdout (SIGPIPE, e.g.
``| head``) ends quietly with status 1.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import itertools
import json
import os
import re
import stat
import struct
import sys
import tempfile
import time
from datetime import datetime, timedelta
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import click
import numpy as np

from protocol.aosframe import AosFrameConfig
from protocol.crc import crc16
from protocol.errors import ProtocolError
from protocol.links import ReceivedFrame
from protocol.convolutional import Convention
from protocol.kiss import FEND, KissDecoder, KissFrame, KissRejected
from protocol.links.sigmffile import is_sigmf
from protocol.links.recording import MAGIC, RecordDamaged, RecordingParser, RecordTruncated
from protocol.dictionary import AlarmLevel, Fixed, MissionDictionary, Parameter, Polynomial, States, UnknownName
from protocol.ccsdspydefs import ccsdspy_definitions
from protocol.missionfile import to_toml
from protocol.xtce import from_xtce, to_xtce
from protocol.packetarray import index_packets
from protocol.randomiser import tm_randomise
from protocol.reedsolomon import Basis, RSConfig
from protocol.spacepacket import (
    HEADER_BITS,
    IDLE_APID,
    PRIMARY_HEADER_LEN,
    SEQ_COUNT_MODULO,
    PacketSplitter,
    SpacePacket,
    sequence_gap,
    sequence_gaps,
)
from protocol.spacepacket import Skipped as PacketSkipped
from protocol.spacepacket import Truncated as PacketTruncated
from protocol.stack import Continuity, DownlinkConfig, DownlinkCounters, DownlinkDecoder
from protocol.sync import ASM
from protocol.tmframe import TmFrameConfig
from protocol.vchannel import VcPacket

from .mission import selected

__all__ = ["DecodeResult", "DecodeSetup", "InputStream", "PacketBatch", "PacketSpool", "StreamDecoder", "db",
           "decode", "decode_bytes", "decode_stream", "detect", "export_packets", "guess_layer", "read_head",
           "read_input"]

LAYERS = ("cadu", "frame", "packet")
CHUNK = 1 << 20  # input octets read and fed per step (progress granularity; what memory holds of the input)
DETECT_OCTETS = 4 << 20  # decodable octets from the start that detection looks at
NO_DATA_OCTETS = 64 << 20  # input octets after which an input that gave nothing is given up (without --max-octets)
CONSTANT_MIN_OCTETS = 1 << 16  # a start of one repeated value this long is refused when the layer is guessed
PROGRESS_MIN_OCTETS = 8 << 20  # files from this size show progress unless told otherwise
SAMPLE = 16  # CADUs / frames looked at to detect options
RS_N = 255
IQ_BLOCK_SAMPLES = 1 << 18  # samples demodulated per read of an IQ recording (2 MiB of complex64)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it


class DecodeFailed(click.ClickException):
    """A file that cannot be decoded as asked (exit status 1, one clear line)."""


# ------------------------------------------------------------------------------- reading

class InputStream:
    """A file, pipe or ``-`` (stdin) read ``chunk`` octets at a time; a station recording gives its records' octets.

    ``max_octets`` stops reading after that many input octets (``cut`` then
    says so). For a recording, :meth:`read` returns the records' frames back
    to back, and ``parser`` counts records, damage and a torn last record.
    """

    def __init__(self, path: Path | str, *, chunk: int = CHUNK, max_octets: int | None = None) -> None:
        self.name = str(path)
        self.chunk = chunk
        self.max_octets = max_octets
        self.read_octets = 0  # input octets read so far
        self.ended = False  # the input ended
        self.cut = False  # max_octets stopped the reading
        self.first_damage: RecordDamaged | None = None
        self.truncated: RecordTruncated | None = None
        try:
            self._f: IO[bytes] = sys.stdin.buffer if self.name == "-" else open(path, "rb")  # noqa: SIM115
        except OSError as e:
            raise DecodeFailed(f"cannot read {path}: {e.strerror or e}") from e
        try:
            st = os.fstat(self._f.fileno())
            self.size: int | None = st.st_size if stat.S_ISREG(st.st_mode) else None  # None: a pipe, a device
        except (OSError, ValueError):  # a stdin without a file descriptor
            self.size = None
        self._first: bytes | None = self._read(chunk)
        self.recording = self._first.startswith(MAGIC)
        # room for one record and the header after it, plus one chunk fed before its events are read
        self.parser = RecordingParser(max_buffer_octets=max(1 << 23, chunk + (2 << 20))) \
            if self.recording else None
        # a KISS stream (a TNC's capture, gr-satellites' .kss file): its first octet is FEND, 0xC0, which no
        # CADU (ASM 0x1A), transfer frame (version 0 or 1) or space packet (version 0) starts with
        self.kiss = KissDecoder() if not self.recording and self._first[:1] == bytes([FEND]) else None
        self.kiss_first_reject: KissRejected | None = None

    @property
    def label(self) -> str:
        """A short name for messages: the file name, or 'stdin'."""
        return "stdin" if self.name == "-" else Path(self.name).name

    @property
    def done(self) -> bool:
        """Nothing more will be read: the input ended, or max_octets was reached."""
        return self.ended or self.cut or (self.size is not None and self.read_octets >= self.size
                                          and self.parser is None)

    def _read(self, n: int) -> bytes:
        if self.ended or self.cut:
            return b""
        if self.max_octets is not None:
            n = min(n, self.max_octets - self.read_octets)
            if n <= 0:
                if self.size is not None and self.read_octets >= self.size:
                    self.ended = True
                else:
                    self.cut = True
                return b""
        try:
            data = self._f.read(n)
        except OSError as e:
            raise DecodeFailed(f"cannot read {self.name}: {e.strerror or e}") from e
        if not data:
            self.ended = True
        self.read_octets += len(data)
        return data

    def read(self) -> bytes | None:
        """The next octets to decode (b"" when what was read held no whole record), None once the input is done."""
        if self._first is not None:
            raw, self._first = self._first, None
        else:
            raw = self._read(self.chunk)
        if self.kiss is not None:
            return self._read_kiss(raw)
        if self.parser is None:
            return raw or None
        if raw:
            self.parser.feed(raw)
        if self.ended:
            self.parser.close()  # not when cut: a record cut by max_octets is not damage
        frames = []
        for ev in self.parser.events():
            if isinstance(ev, ReceivedFrame):
                frames.append(ev.data)
            elif isinstance(ev, RecordDamaged):
                self.first_damage = self.first_damage or ev
            else:
                self.truncated = ev
        if not raw and not frames:
            return None
        return b"".join(frames)

    def _read_kiss(self, raw: bytes) -> bytes | None:
        """The data frames of the KISS octets read, back to back (gr-satellites writes one frame each)."""
        kiss = self.kiss
        if raw:
            kiss.feed(raw)
        if self.ended:
            kiss.close()
        frames = []
        for ev in kiss.events():
            if isinstance(ev, KissFrame):
                frames.append(ev.data)
            elif isinstance(ev, KissRejected):
                self.kiss_first_reject = self.kiss_first_reject or ev
        if not raw and not frames:
            return None
        return b"".join(frames)

    def close(self) -> None:
        """Close the file (stdin stays open)."""
        if self._f is not sys.stdin.buffer:
            self._f.close()


class IqInputStream(InputStream):
    """A SigMF IQ recording read as CADUs: blocks of samples -> demodulator, decoder -> the frame synchroniser.

    How the bits were modulated and coded comes from the recording's ``ttc:coding`` (what ``ttc modem tx``
    writes), and ``radio`` overrides it (a recording someone else made says only its sample rate); the
    CADUs found (octet-aligned, polarity corrected) are what :meth:`read` returns, so the decode after
    it is the same as for a CADU file. Memory: one block of samples (:data:`IQ_BLOCK_SAMPLES`) and the
    demodulator's and synchroniser's bounded state.
    """

    def __init__(self, path: Path | str, *, codeblock_len: int, radio: dict[str, Any] | None = None,
                 max_octets: int | None = None) -> None:
        from protocol.errors import ProtocolError
        from protocol.links.sigmffile import IqReader
        from protocol.radio import CaduFinder, RadioConfig, RadioReceiver

        self.name = str(path)
        self.chunk = IQ_BLOCK_SAMPLES * 8
        self.max_octets = max_octets
        self.read_octets = 0  # IQ octets demodulated so far
        self.ended = self.cut = False
        self.first_damage = self.truncated = None
        self.recording, self.parser, self.kiss, self.kiss_first_reject = False, None, None, None
        try:
            self.iq = IqReader(path)
            meta = self.iq.meta
            given = {"modulation": meta.modulation, "rate_bd": meta.rate_bd,
                     "sps": meta.sps if meta.sps is not None else None}
            self.radio = RadioConfig.from_dict({**given, **dict(meta.coding)}, **(radio or {}))
        except (ProtocolError, TypeError, ValueError) as e:
            raise DecodeFailed(f"{path}: {e}") from e
        if abs(self.radio.sample_rate_hz - meta.sample_rate_hz) > 1e-6 * meta.sample_rate_hz:
            raise DecodeFailed(f"{path}: sample rate {meta.sample_rate_hz:g}/s is not {self.radio.sps} samples per "
                               f"symbol at {self.radio.rate_bd:g} Bd (give --rate-bd or --sps)")
        self.size = self.iq.data_file.stat().st_size
        self._rx = RadioReceiver(self.radio)
        self.finder = CaduFinder(codeblock_len)
        self._blocks = self.iq.blocks(IQ_BLOCK_SAMPLES)
        self._first = None
        self._f = None

    @property
    def done(self) -> bool:
        """Every sample was demodulated (or max_octets reached)."""
        return self.ended or self.cut

    def read(self) -> bytes | None:
        """The CADUs the next block of samples completes (b"" when none), None once the recording is done."""
        if self.ended or self.cut:
            return None
        if self.max_octets is not None and self.read_octets >= self.max_octets:
            self.cut = True
            return self.finder.feed(self._rx.flush()) + self.finder.close()
        block = next(self._blocks, None)
        if block is None:
            self.ended = True
            return self.finder.feed(self._rx.flush()) + self.finder.close()
        self.read_octets += 8 * len(block)
        return self.finder.feed(self._rx.feed(block))

    def close(self) -> None:
        """Release the memory map."""
        self._blocks.close()


@dataclass(frozen=True)
class Input:
    """A file's octets, and whether they came from a station recording."""

    data: bytes
    recording: bool = False
    records: int = 0
    truncated_octets: int = 0


def read_input(path: Path) -> Input:
    """The whole of ``path`` in memory (small files, tests; ``ttc decode`` streams): a recording becomes its CADUs."""
    src = InputStream(path)
    try:
        parts = []
        while (piece := src.read()) is not None:
            parts.append(piece)
    finally:
        src.close()
    p = src.parser
    return Input(b"".join(parts), recording=src.recording, records=p.frames if p else 0,
                 truncated_octets=p.truncated_octets if p else 0)


def read_head(src: InputStream, *, octets: int = DETECT_OCTETS, give_up: int | None = NO_DATA_OCTETS) -> bytes:
    """At least ``octets`` decodable octets from the start of ``src`` (fewer at its end, or after ``give_up`` read)."""
    parts: list[bytes] = []
    n = 0
    while n < octets and (give_up is None or src.read_octets < give_up):
        piece = src.read()
        if piece is None:
            break
        parts.append(piece)
        n += len(piece)
    return b"".join(parts)


# ------------------------------------------------------------------------------- detection

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


def _is_packet_chain(data: bytes, *, whole: bool) -> bool:
    """Packet headers lead from offset 0 to the end of ``data`` (into a packet cut by its end, when not ``whole``)."""
    if len(data) < PRIMARY_HEADER_LEN + 1:
        return False
    try:
        index = index_packets(data)
    except ProtocolError:
        return False
    return len(index) > 0 and (index.truncated_offset is None or not whole)


def guess_layer(data: bytes, *, recording: bool = False, whole: bool = True) -> str:
    """'cadu', 'packet' or 'frame': what ``data`` most likely holds (``whole``: it is all of the input)."""
    if _asm_spacing(data) is not None or (recording and data[:len(ASM)] == ASM):
        return "cadu"
    if recording:  # a station that took decoded frames from its radio (gr+zmq ?carries=frames) recorded those
        return "frame"
    if _is_packet_chain(data, whole=whole):
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
    blocks = [data[p + len(ASM):p + cadu_len]
              for p in range(first, min(len(data) - cadu_len + 1, first + SAMPLE * cadu_len), cadu_len)]
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



def _detect_frames(data: bytes, ov: Overrides, *, total_octets: int | None) -> tuple[DownlinkConfig, list[str]]:
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
        # A length that divides the input wins a tie (when its length is known); otherwise the input may end
        # in a partial frame.
        candidates = [(_frame_len_score(data, n, kind), total_octets is not None and total_octets % n == 0, -n)
                      for n in range(PRIMARY_HEADER_LEN + 2, min(len(data), 2048) + 1)
                      if len(data) // n >= 2 or n == len(data) == total_octets]
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


def detect(data: bytes, layer: str, overrides: Overrides, *, whole: bool = True,
           total_octets: int | None = None) -> DecodeSetup:
    """The decode settings for ``data`` at ``layer``: the overrides, and what the octets tell for the rest.

    ``data`` is the whole input, or (``whole`` False) its first octets, of an
    input ``total_octets`` long (None: unknown, a pipe).
    """
    if whole and total_octets is None:
        total_octets = len(data)
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
    config, detected = _detect_cadu(data, overrides) if layer == "cadu" else \
        _detect_frames(data, overrides, total_octets=total_octets)
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
    octets: int = 0  # octets decoded


class StreamDecoder:
    """Sans-IO decode of one input with ``setup``: ``feed()`` its octets in any chunking, then ``close()``.

    The counters do not depend on the chunking. Between feeds it holds less
    than one frame (frame layer), one packet (packet layer) or one CADU plus
    the synchroniser's search window (CADU layer): memory does not grow with
    the input. Each packet goes to ``on_packet`` (VCID, octets) as it is
    decoded; the VCID is None at the packet layer.
    """

    def __init__(self, setup: DecodeSetup, *, on_packet: Callable[[int | None, bytes], None] | None = None) -> None:
        self.setup = setup
        self._on_packet = on_packet
        self._closed = False
        if setup.layer == "packet":
            self._dec: DownlinkDecoder | None = None
            self._splitter: PacketSplitter | None = None  # from the first octet that is no packet header on
            self._pbuf = bytearray()  # fast path: the start of a packet the next feed completes
            self._pbase = 0  # stream offset of _pbuf[0]
            self._last_seq: dict[int, int] = {}
            self._first_seq: dict[int, int] = {}
            self.result = DecodeResult(setup, DownlinkCounters())
            return
        if setup.config is None:
            raise DecodeFailed(f"no frame configuration for layer {setup.layer}")
        self._dec = DownlinkDecoder(setup.config)
        self._frame_len = setup.config.frame.frame_len
        self._rest = bytearray()  # frame layer: the start of a frame the next feed completes
        self.result = DecodeResult(setup, self._dec.counters)

    def continuity(self) -> Continuity:
        """The first and last counters seen so far (per APID, per VC, of the master channel)."""
        if self._dec is None:
            return Continuity({a: (self._first_seq[a], last) for a, last in self._last_seq.items()})
        return self._dec.continuity()

    @property
    def found_anything(self) -> bool:
        """The layer's unit was seen at least once: an ASM (CADUs), a valid frame, a packet."""
        c = self.result.counters
        if self.setup.layer == "packet":
            return c.packets + c.idle_packets + c.crc_errors > 0
        return (c.cadus if self.setup.layer == "cadu" else c.frames) > 0

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Decode the next octets of the input."""
        view = memoryview(chunk)
        self.result.octets += len(view)
        if self._dec is None and self._splitter is None:
            self._fast_packets(view)
        elif self._dec is None:
            self._splitter.feed(view)
            self._drain_packets()
        elif self.setup.layer == "cadu":
            self._dec.feed(view)
            self._drain()
        else:
            self._feed_frames(view)

    def close(self) -> DecodeResult:
        """End of the input: a partial CADU, frame or packet at the end is counted; the result."""
        if self._closed:
            return self.result
        self._closed = True
        if self._dec is None:
            if self._splitter is None:  # what is left is a packet cut by the end (or a header's first octets)
                self._to_splitter(0)
            self._splitter.close()
            self._drain_packets()
        elif self.setup.layer == "cadu":
            self._dec.close()
            self._drain()
        else:
            self.result.trailing_octets = len(self._rest)
            self._dec.counters.bytes_dropped += len(self._rest)
            self._rest.clear()
        return self.result

    # -- internals --
    def _feed_frames(self, view: memoryview) -> None:
        fl = self._frame_len
        frames: list[bytes] = []
        if self._rest:
            need = fl - len(self._rest)
            self._rest += view[:need]
            view = view[need:]
            if len(self._rest) < fl:
                return
            frames.append(bytes(self._rest))
            self._rest.clear()
        whole = len(view) - len(view) % fl
        frames.extend(bytes(view[i:i + fl]) for i in range(0, whole, fl))
        self._rest += view[whole:]
        self._dec.feed_frames(frames)  # type: ignore[union-attr]
        self._drain()

    def _drain(self) -> None:
        for ev in self._dec.events():  # type: ignore[union-attr]
            if self._on_packet is not None and isinstance(ev, VcPacket):
                self._on_packet(ev.vcid, ev.data)

    def _fast_packets(self, view: memoryview) -> None:
        """Whole packets back to back, counted as columns: the length fields walked, the headers split at once.

        The first header that is not a packet's (version not 0) hands that point of the stream, and all that
        follows, to the PacketSplitter, whose resynchronisation and counters then apply; up to there the
        counts are the ones it would have made (the tests feed both ways and compare).
        """
        buf = self._pbuf
        buf += view
        n = len(buf)
        starts: list[int] = []
        pos = 0
        while n - pos >= PRIMARY_HEADER_LEN:
            if buf[pos] >> 5:  # version 1..7: not a packet header (CCSDS 133.0-B-2 §4.1.3.2: version 0)
                break
            length = ((buf[pos + 4] << 8) | buf[pos + 5]) + PRIMARY_HEADER_LEN + 1
            if n - pos < length:
                break
            starts.append(pos)
            pos += length
        bad = n - pos >= PRIMARY_HEADER_LEN and buf[pos] >> 5
        if starts:
            self._count_packets(buf, np.asarray(starts, dtype=np.int64), pos)
        del buf[:pos]
        self._pbase += pos
        if bad:
            self._to_splitter(0)
            self._drain_packets()

    def _to_splitter(self, at: int) -> None:
        """From ``_pbuf[at]`` on, the PacketSplitter decodes (stream offsets carried over)."""
        self._splitter = PacketSplitter(_offset=self._pbase + at)
        self._splitter.feed(self._pbuf[at:])
        self._pbuf = bytearray()

    def _count_packets(self, buf: bytearray, starts: np.ndarray, end: int) -> None:
        counters = self.result.counters
        raw = bytes(buf[:end])  # one copy: the header columns and the packets' octets both come from it
        data = np.frombuffer(raw, dtype=np.uint8)
        heads = HEADER_BITS.columns(data[starts[:, None] + np.arange(PRIMARY_HEADER_LEN)])
        lengths = heads["data_length"].astype(np.int64) + PRIMARY_HEADER_LEN + 1
        apids, seqs = heads["apid"].astype(np.int64), heads["sequence_count"].astype(np.int64)
        keep = apids != IDLE_APID
        counters.idle_packets += int(np.count_nonzero(~keep))
        if self.setup.pec:
            good = np.fromiter((crc16(raw[o:o + k]) == 0 for o, k in zip(starts.tolist(), lengths.tolist())),
                               dtype=bool, count=starts.size)
            counters.crc_errors += int(np.count_nonzero(keep & ~good))
            keep &= good
        idx = np.flatnonzero(keep)
        gaps = sequence_gaps(apids[idx], seqs[idx], self._last_seq)
        self._first_seq.update(gaps.first)
        counters.packet_gaps += len(gaps.index)
        counters.packets_missing += int(gaps.missing.sum())
        for apid, k in gaps.per_apid.items():
            counters.packets_by_apid[apid] = counters.packets_by_apid.get(apid, 0) + k
        counters.packets += int(idx.size)
        if self._on_packet is not None:
            on_packet = self._on_packet
            for o, k in zip(starts[idx].tolist(), lengths[idx].tolist()):
                on_packet(None, raw[o:o + k])

    def _drain_packets(self) -> None:
        counters = self.result.counters
        last = self._last_seq
        for ev in self._splitter.events():
            if isinstance(ev, (PacketSkipped, PacketTruncated)):
                counters.bytes_dropped += ev.length
                continue
            if ev.is_idle:
                counters.idle_packets += 1
                continue
            raw = ev.encode()
            if self.setup.pec and crc16(raw) != 0:
                counters.crc_errors += 1
                continue
            if ev.apid in last:
                missing = sequence_gap(last[ev.apid], ev.sequence_count)
                if missing:
                    counters.packet_gaps += 1
                    counters.packets_missing += missing
            else:
                self._first_seq[ev.apid] = ev.sequence_count
            last[ev.apid] = ev.sequence_count
            counters.packets += 1
            counters.packets_by_apid[ev.apid] = counters.packets_by_apid.get(ev.apid, 0) + 1
            if self._on_packet is not None:
                self._on_packet(None, raw)


def decode_bytes(data: bytes | bytearray | memoryview, setup: DecodeSetup, *, keep_packets: bool = False,
                 progress: Callable[[int], None] = lambda done: None, chunk: int = CHUNK) -> DecodeResult:
    """Decode a whole input's octets with ``setup``, fed ``chunk`` at a time; ``progress`` hears the octets done."""
    packets: list[tuple[int | None, bytes]] = []
    dec = StreamDecoder(setup, on_packet=(lambda vcid, raw: packets.append((vcid, raw))) if keep_packets else None)
    view = memoryview(data)
    for start in range(0, len(view), chunk):
        dec.feed(view[start:start + chunk])
        progress(min(start + chunk, len(view)))
    result = dec.close()
    result.packets = packets
    progress(len(view))
    return result


def decode_stream(src: InputStream, setup: DecodeSetup, head: bytes = b"", *,
                  on_packet: Callable[[int | None, bytes], None] | None = None,
                  progress: Callable[[int], None] = lambda done: None,
                  no_data_octets: int | None = NO_DATA_OCTETS, decoder: StreamDecoder | None = None
                  ) -> tuple[DecodeResult, str | None]:
    """Decode ``head`` (what :func:`read_head` took) and the rest of ``src``; the result and why it stopped early.

    The reason is None when the input was read to its end, 'max-octets',
    'no-data' (nothing at all found in the first ``no_data_octets`` of the
    input) or 'interrupted' (Ctrl-C: the counters so far, the decoder not
    closed). ``progress`` is told the input octets read. ``decoder``: a
    :class:`StreamDecoder` of ``setup`` to use (its state stays readable
    after), instead of a new one with ``on_packet``.
    """
    dec = decoder if decoder is not None else StreamDecoder(setup, on_packet=on_packet)
    stopped = None
    try:
        piece: bytes | None = head
        while piece is not None:
            dec.feed(piece)
            progress(src.read_octets)
            if no_data_octets is not None and src.read_octets >= no_data_octets and not dec.found_anything:
                stopped = "no-data"
                break
            piece = src.read()
        if stopped is None and src.cut:
            stopped = "max-octets"
        return dec.close(), stopped
    except KeyboardInterrupt:
        return dec.result, "interrupted"


# ------------------------------------------------------------------------------- export

PACKET_COLUMNS = ("index", "vcid", "apid", "sequence_count", "packet_type", "sec_header_flag", "sequence_flags",
                  "length", "name", "service", "subtype", "time_utc", "data_hex")
PARAMETER_COLUMNS = ("packet_index", "apid", "sequence_count", "packet", "time_utc", "obt_tai_s", "parameter", "raw",
                     "engineering", "state", "unit", "level")  # the Parquet export's, in CSV and JSONL too
_SPOOL_BLOCK = struct.Struct("<II")  # a spooled block's header: packets, octets (then VCIDs, lengths, octets)
SPOOL_BLOCK_OCTETS = 1 << 22  # packet octets gathered in memory before one write to the spool file
_NO_VCID = -1  # a spooled packet of no virtual channel (the packet layer)


@dataclass(frozen=True)
class PacketBatch:
    """Packets back to back in one buffer, in order: packet ``i`` is ``data[offsets[i]:offsets[i] + lengths[i]]``.

    ``first_index`` is packet 0's index among all the packets of the decode; ``vcids`` is -1 for a packet of
    no virtual channel (the packet layer).
    """

    first_index: int
    data: np.ndarray  # uint8, exactly the packets' octets
    lengths: np.ndarray  # int64
    vcids: np.ndarray  # int16
    offsets: np.ndarray = field(init=False)  # int64, derived from the lengths

    def __post_init__(self) -> None:
        offsets = np.zeros(self.lengths.size, dtype=np.int64)
        np.cumsum(self.lengths[:-1], out=offsets[1:])
        object.__setattr__(self, "offsets", offsets)

    @classmethod
    def of(cls, first_index: int, packets: list[tuple[int | None, bytes]]) -> PacketBatch:
        """The batch of (VCID, octets) pairs."""
        return cls(first_index, np.frombuffer(b"".join(raw for _, raw in packets), dtype=np.uint8),
                   np.fromiter((len(raw) for _, raw in packets), dtype=np.int64, count=len(packets)),
                   np.fromiter((_NO_VCID if v is None else v for v, _ in packets), dtype=np.int16, count=len(packets)))

    @classmethod
    def concat(cls, batches: list[PacketBatch]) -> PacketBatch:
        """The batches one after the other (they follow each other in the decode)."""
        if len(batches) == 1:
            return batches[0]
        return cls(batches[0].first_index, np.concatenate([b.data for b in batches]),
                   np.concatenate([b.lengths for b in batches]), np.concatenate([b.vcids for b in batches]))

    def __len__(self) -> int:
        return int(self.lengths.size)

    def split(self, n: int) -> tuple[PacketBatch, PacketBatch]:
        """The first ``n`` packets and the rest (views, not copies, of the octets)."""
        cut = int(self.offsets[n]) if n < len(self) else self.data.size
        return (PacketBatch(self.first_index, self.data[:cut], self.lengths[:n], self.vcids[:n]),
                PacketBatch(self.first_index + n, self.data[cut:], self.lengths[n:], self.vcids[n:]))

    def packet(self, i: int) -> bytes:
        """Packet ``i``'s octets."""
        start = int(self.offsets[i])
        return self.data[start:start + int(self.lengths[i])].tobytes()

    def vcid(self, i: int) -> int | None:
        """Packet ``i``'s virtual channel (None at the packet layer)."""
        v = int(self.vcids[i])
        return None if v == _NO_VCID else v


class PacketSpool:
    """The decoded packets in a temporary file, in order: an export reads them back without holding them in memory.

    Packets are gathered in memory and written :data:`SPOOL_BLOCK_OCTETS` at a time as one block (a header,
    the VCIDs and lengths as arrays, the octets back to back), and read back a block at a time as one buffer
    (:class:`PacketBatch`): nothing is done per packet but appending it.
    """

    def __init__(self) -> None:
        self._f = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self._data = bytearray()
        self._lengths: list[int] = []
        self._vcids: list[int] = []
        self._written = 0  # packets in the file

    @property
    def count(self) -> int:
        """Packets added."""
        return self._written + len(self._lengths)

    def add(self, vcid: int | None, raw: bytes) -> None:
        """Append one packet."""
        self._data += raw
        self._lengths.append(len(raw))
        self._vcids.append(_NO_VCID if vcid is None else vcid)
        if len(self._data) >= SPOOL_BLOCK_OCTETS:
            self._flush()

    def _flush(self) -> None:
        if not self._lengths:
            return
        f = self._f
        f.write(_SPOOL_BLOCK.pack(len(self._lengths), len(self._data)))
        f.write(np.array(self._vcids, dtype=np.int16).tobytes())
        f.write(np.array(self._lengths, dtype=np.uint32).tobytes())
        f.write(self._data)
        self._written += len(self._lengths)
        self._data, self._lengths, self._vcids = bytearray(), [], []

    def _blocks(self) -> Iterator[PacketBatch]:
        self._flush()
        f = self._f
        f.seek(0)
        first = 0
        while first < self._written:
            n, octets = _SPOOL_BLOCK.unpack(f.read(_SPOOL_BLOCK.size))
            vcids = np.frombuffer(f.read(2 * n), dtype=np.int16)
            lengths = np.frombuffer(f.read(4 * n), dtype=np.uint32).astype(np.int64)
            yield PacketBatch(first, np.frombuffer(f.read(octets), dtype=np.uint8), lengths, vcids)
            first += n

    def batches(self, packets: int | None = None) -> Iterator[PacketBatch]:
        """The packets, in order: in batches of ``packets`` (the last one smaller), by default as spooled
        (blocks of about :data:`SPOOL_BLOCK_OCTETS`)."""
        return self._blocks() if packets is None else _rebatched(self._blocks(), packets)

    def close(self) -> None:
        """Delete the file."""
        self._f.close()


def _rebatched(blocks: Iterable[PacketBatch], packets: int) -> Iterator[PacketBatch]:
    """The packets of consecutive ``blocks`` in batches of ``packets`` (the last one smaller)."""
    pending: list[PacketBatch] = []
    have = 0
    for block in blocks:
        pending.append(block)
        have += len(block)
        while have >= packets:
            batch, rest = PacketBatch.concat(pending).split(packets)
            yield batch
            pending, have = [rest], len(rest)
    if have:
        yield PacketBatch.concat(pending)


def _batches_of(packets: PacketSpool | Iterable[tuple[int | None, bytes]], size: int | None
                ) -> Iterator[PacketBatch]:
    """A spool's or an iterable's (VCID, octets) packets in batches of ``size`` (None: a spool's blocks as they
    are, an iterable's :data:`PARQUET_BATCH_PACKETS` at a time)."""
    if isinstance(packets, PacketSpool):
        yield from packets.batches(size)
        return
    it = iter(packets)
    first = 0
    while chunk := list(itertools.islice(it, size or PARQUET_BATCH_PACKETS)):
        yield PacketBatch.of(first, chunk)
        first += len(chunk)


def _dictionary_apids(mission: MissionDictionary) -> frozenset[int]:
    """APIDs the dictionary sends TM on."""
    return frozenset([*(tm.apid for tm in mission.packets.values()), *mission.applications,
                      *([mission.event_apid] if mission.event_apid is not None else [])])


def _packet_rows(i: int, vcid: int | None, raw: bytes, mission: MissionDictionary, apids: frozenset[int]
                 ) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
    """Packet ``i``'s row, its parameter rows, and whether the dictionary decoded it."""
    pkt = SpacePacket.decode(raw)
    row: dict[str, Any] = {"index": i, "vcid": vcid, "apid": pkt.apid, "sequence_count": pkt.sequence_count,
                           "packet_type": pkt.packet_type.name, "sec_header_flag": pkt.sec_header_flag,
                           "sequence_flags": pkt.sequence_flags.name, "length": len(raw), "name": None,
                           "service": None, "subtype": None, "time_utc": None, "data_hex": raw.hex()}
    parameter_rows: list[dict[str, Any]] = []
    if not (pkt.apid in apids and pkt.sec_header_flag and pkt.packet_type.name == "TM"):
        return row, parameter_rows, False
    try:
        tm = mission.decode_tm(raw)
    except ProtocolError:
        tm = None  # an APID we know carrying something we do not: exported without parameters
    if tm is None:
        return row, parameter_rows, False
    time_utc = tm.tm.time.utc_iso()
    row.update(name=tm.name, service=tm.tm.service, subtype=tm.tm.subtype, time_utc=time_utc)
    obt_tai_s = float(tm.tm.time.tai_s)
    for p in tm.parameters:
        state = isinstance(p.engineering, str)
        parameter_rows.append({"packet_index": i, "apid": pkt.apid, "sequence_count": pkt.sequence_count,
                               "packet": tm.name, "time_utc": time_utc, "obt_tai_s": obt_tai_s, "parameter": p.name,
                               "raw": p.raw, "engineering": None if state else p.engineering,
                               "state": p.engineering if state else None, "unit": p.unit, "level": p.level.name})
    return row, parameter_rows, True


def _open_out(path: Path, mode: str) -> IO[Any]:
    try:
        return open(path, mode, **({} if "b" in mode else {"newline": ""}))  # noqa: SIM115 - the caller closes
    except OSError as e:
        raise DecodeFailed(f"cannot write {path}: {e.strerror or e}") from e


class _RowWriter:
    """Rows to a csv, jsonl or (the packet export) parquet file as they come; parquet by row groups of
    :data:`PARQUET_BATCH_PACKETS` rows, typed (``time_utc`` a UTC timestamp), so memory holds one group."""

    def __init__(self, path: Path, columns: tuple[str, ...], fmt: str) -> None:
        self.path, self.columns, self.fmt = path, columns, fmt
        self._rows: list[dict[str, Any]] = []
        self._f: IO[Any] | None = None
        if fmt == "parquet":
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError as e:
                raise DecodeFailed("parquet export needs pyarrow: pip install 'ttc[parquet]'") from e
            if columns != PACKET_COLUMNS:
                raise DecodeFailed("parquet rows are written for the packet export only")
            small, text = pa.int32(), pa.string()
            self._schema = pa.schema([("index", pa.int64()), ("vcid", small), ("apid", small),
                                      ("sequence_count", small), ("packet_type", text), ("sec_header_flag", pa.bool_()),
                                      ("sequence_flags", text), ("length", small), ("name", text), ("service", small),
                                      ("subtype", small), ("time_utc", pa.timestamp("us", tz="UTC")),
                                      ("data_hex", text)])
            self._pa = pa
            try:
                self._parquet = pq.ParquetWriter(str(path), self._schema)
            except OSError as e:
                raise DecodeFailed(f"cannot write {path}: {e.strerror or e}") from e
        elif fmt in ("csv", "jsonl"):
            self._f = _open_out(path, "w")
            if fmt == "csv":
                self._csv = csv.DictWriter(self._f, fieldnames=columns)
                self._csv.writeheader()
        else:
            raise DecodeFailed(f"unknown export format {fmt}")

    def write(self, row: dict[str, Any]) -> None:
        """Add one row."""
        if self.fmt == "csv":
            self._csv.writerow({k: ("" if row[k] is None else row[k]) for k in self.columns})
        elif self.fmt == "jsonl":
            self._f.write(json.dumps({k: row[k] for k in self.columns}) + "\n")  # type: ignore[union-attr]
        else:
            self._rows.append({**row, "time_utc": _unix_us_of(row["time_utc"])})
            if len(self._rows) >= PARQUET_BATCH_PACKETS:
                self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._parquet.write_table(self._pa.Table.from_pylist(self._rows, schema=self._schema))
            self._rows = []

    def close(self) -> None:
        """Finish the file."""
        if self._f is not None:
            self._f.close()
            return
        try:
            self._flush()
            self._parquet.close()
        except OSError as e:
            raise DecodeFailed(f"cannot write {self.path}: {e.strerror or e}") from e


PARQUET_BATCH_PACKETS = 1 << 14  # packets decoded as columns and written as one row group (~100k values)
MAX_OPEN_PARTITIONS = 64  # partitioned Parquet export: files open at once (a file descriptor and a buffer each)


class _ParameterParquet:
    """The parameter export as Parquet, written a row group per batch of packets (bounded memory), typed.

    Columns: packet_index (int64), apid, sequence_count (int32), packet, parameter, unit, level
    (dictionary-encoded text), time_utc (timestamp, microseconds, UTC, from the on-board time), obt_tai_s
    (float64, TAI seconds since 1958), raw (float64: exact for integers below 2**53), engineering (float64,
    null for a state) and state (the state name, null for a number). The packets whose layout is fixed
    decode as columns (:mod:`protocol.tmcolumns`), the others one by one; rows keep the packets' order.

    With ``partition`` (a name), ``path`` is the root of a Hive-partitioned dataset: each packet's rows of
    each UTC day go to ``path/packet=NAME/day=YYYY-MM-DD/PARTITION.parquet`` (``day=unknown`` without an
    on-board time), without the ``packet`` column (the directory says it). At most
    :data:`MAX_OPEN_PARTITIONS` files are open at once; one closed and needed again continues in
    ``PARTITION-2.parquet`` and so on.
    """

    def __init__(self, path: Path, mission: MissionDictionary, *, partition: str | None = None) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as e:
            raise DecodeFailed("parquet export needs pyarrow: pip install 'ttc[parquet]'") from e
        from protocol.tmcolumns import TelemetryColumns

        self.pa, self.mission, self.path = pa, mission, path
        self.columns = TelemetryColumns(mission)
        text = pa.dictionary(pa.int32(), pa.string())
        self.schema = pa.schema([("packet_index", pa.int64()), ("apid", pa.int32()), ("sequence_count", pa.int32()),
                                 ("packet", text), ("time_utc", pa.timestamp("us", tz="UTC")),
                                 ("obt_tai_s", pa.float64()), ("parameter", text), ("raw", pa.float64()),
                                 ("engineering", pa.float64()), ("state", pa.string()), ("unit", text),
                                 ("level", text)])
        self.pq, self.partition = pq, partition
        self._writers: dict[tuple[str, str], Any] = {}  # open partition files, oldest first
        self._parts: Counter[tuple[str, str]] = Counter()  # files written per partition
        self.writer = None if partition is not None else self._open(path, self.schema)
        self.values = 0
        self.known = 0
        # Parquet encoding and compression release the GIL: a row group is written while the next one is decoded
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet")
        self._pending: Future[None] | None = None

    def _open(self, path: Path, schema: Any) -> Any:
        try:
            return self.pq.ParquetWriter(str(path), schema)
        except OSError as e:
            raise DecodeFailed(f"cannot write {path}: {e.strerror or e}") from e

    def write_batch(self, batch: PacketBatch, apids: frozenset[int]) -> None:
        """Decode one batch of packets and write its rows as one row group."""
        out = self.columns.decode(batch.data, batch.offsets, batch.lengths)
        fallback = []
        for i in out.fallback.tolist():
            _, params, decoded = _packet_rows(batch.first_index + i, None, batch.packet(i), self.mission, apids)
            self.known += decoded
            fallback.append((i, params))
        self.known += out.decoded
        table = _ParameterRows(self.pa, batch, out.tables.values(), fallback).table(self.schema)
        if table is None:
            return
        self.values += table.num_rows
        self._wait()  # one row group written at a time: memory holds at most that one and the next
        self._pending = self._thread.submit(self._write, table)

    def _wait(self) -> None:
        """Wait for the row group being written (its error, if any, raised here)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write(self, table: Any) -> None:
        """Write one row group (on the writer thread)."""
        if self.writer is not None:
            self.writer.write_table(table)
        else:
            self._write_partitioned(table)

    def _write_partitioned(self, table: Any) -> None:
        import pyarrow.compute as pc

        pa = self.pa
        day = pc.fill_null(pc.strftime(table["time_utc"], format="%Y-%m-%d"), "unknown")
        packet = table["packet"].cast(pa.string())
        keys = pa.table({"packet": packet, "day": day}).group_by(["packet", "day"]).aggregate([])
        for name, d in zip(keys["packet"].to_pylist(), keys["day"].to_pylist()):
            part = table.filter(pc.and_(pc.equal(packet, name), pc.equal(day, d))).drop_columns(["packet"])
            self._partition_writer(name, d, part.schema).write_table(part)

    def _partition_writer(self, packet: str, day: str, schema: Any) -> Any:
        key = (packet, day)
        w = self._writers.pop(key, None)
        if w is None:
            if len(self._writers) >= MAX_OPEN_PARTITIONS:
                self._writers.pop(next(iter(self._writers))).close()
            self._parts[key] += 1
            folder = self.path / f"packet={quote(packet, safe='')}" / f"day={day}"
            folder.mkdir(parents=True, exist_ok=True)
            n = self._parts[key]
            w = self._open(folder / f"{self.partition}{'' if n == 1 else f'-{n}'}.parquet", schema)
        self._writers[key] = w  # the most recently used last
        return w

    def close(self) -> None:
        """Finish the file (every partition's file)."""
        try:
            self._wait()
        finally:
            self._thread.shutdown()
            if self.writer is not None:
                self.writer.close()
            for w in self._writers.values():
                w.close()
            self._writers.clear()


class _TextCodes:
    """Integer codes of the texts of one column (a dictionary built as the rows are)."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self.texts: list[str] = []
        self._codes: dict[str, int] = {}
        for text in texts:
            self.code(text)

    def code(self, text: str) -> int:
        """The code of ``text`` (a new one the first time)."""
        code = self._codes.get(text)
        if code is None:
            code = self._codes[text] = len(self.texts)
            self.texts.append(text)
        return code

    def lookup(self, texts: Iterable[str]) -> np.ndarray:
        """The codes of ``texts``, as an int32 array."""
        return np.array([self.code(t) for t in texts], dtype=np.int32)


class _ParameterRows:
    """One row group of the Parquet parameter export, built column by column in its final order.

    Rows go packet by packet, a packet's parameters in their order in it. Each packet's first row is known
    from how many rows the packets before it have (a cumulative sum), so the columns of every declaration's
    table and of the packets decoded one by one are scattered straight to their rows: no sort, no per-row
    Python for the tables. Text columns are dictionary arrays whose entries are in the order of their first
    row (as pyarrow's dictionary encoding of the same texts would make them).
    """

    def __init__(self, pa: Any, batch: PacketBatch, tables: Iterable[Any],
                 fallback: list[tuple[int, list[dict[str, Any]]]]) -> None:
        self.pa = pa
        tables = [t for t in tables if t.parameters]
        n = len(batch)
        rows_of = np.zeros(n, dtype=np.int64)  # rows per packet
        for t in tables:
            rows_of[t.index] = len(t.parameters)
        for i, params in fallback:
            rows_of[i] = len(params)
        self.rows_of = rows_of
        first_row = np.cumsum(rows_of) - rows_of
        self.total = total = int(rows_of.sum())
        self.first_index = batch.first_index
        self.packets, self.parameters, self.units = _TextCodes(), _TextCodes(), _TextCodes()
        self.levels = _TextCodes(level.name for level in AlarmLevel)  # a level's code is its value
        self.states = _TextCodes()
        # per packet (repeated over its rows): apid, sequence count, packet name, on-board time
        self.apid = np.zeros(n, dtype=np.int32)
        self.sequence_count = np.zeros(n, dtype=np.int32)
        self.packet = np.zeros(n, dtype=np.int32)
        self.unix_us = np.zeros(n, dtype=np.int64)
        self.obt_tai_s = np.zeros(n, dtype=np.float64)
        # per row
        self.parameter = np.zeros(total, dtype=np.int32)
        self.unit = np.zeros(total, dtype=np.int32)
        self.level = np.zeros(total, dtype=np.int32)
        self.state = np.full(total, -1, dtype=np.int32)  # -1: a number, not a state
        self.raw = np.zeros(total, dtype=np.float64)
        self.engineering = np.zeros(total, dtype=np.float64)
        for t in tables:
            self._table(t, first_row[t.index])
        for i, params in fallback:
            self._one(i, first_row[i], params)

    def _table(self, t: Any, first_row: np.ndarray) -> None:
        """Scatter one declaration's table: parameter ``k`` of its packet ``j`` to row ``first_row[j] + k``."""
        idx = t.index
        self.apid[idx], self.sequence_count[idx] = t.apid, t.sequence_count
        self.packet[idx] = self.packets.code(t.name)
        self.unix_us[idx], self.obt_tai_s[idx] = t.obt_unix_us, t.obt_tai_s
        for k, (name, col) in enumerate(t.parameters.items()):
            rows = first_row + k
            self.parameter[rows] = self.parameters.code(name)
            self.unit[rows] = self.units.code(col.unit)
            self.level[rows] = col.level
            self.raw[rows] = col.raw
            if col.engineering.dtype == object:  # state names: coded per distinct raw value
                _, first, inverse = np.unique(col.raw, return_index=True, return_inverse=True)
                self.state[rows] = self.states.lookup(col.engineering[first].tolist())[inverse]
            else:
                self.engineering[rows] = col.engineering

    def _one(self, i: int, first_row: int, params: list[dict[str, Any]]) -> None:
        """Place the rows of packet ``i``, decoded one by one."""
        if not params:
            return
        head = params[0]
        self.apid[i], self.sequence_count[i] = head["apid"], head["sequence_count"]
        self.packet[i] = self.packets.code(head["packet"])
        self.unix_us[i], self.obt_tai_s[i] = _unix_us_of(head["time_utc"]), head["obt_tai_s"]
        rows = slice(first_row, first_row + len(params))
        self.parameter[rows] = self.parameters.lookup(r["parameter"] for r in params)
        self.unit[rows] = self.units.lookup(r["unit"] for r in params)
        self.level[rows] = self.levels.lookup(r["level"] for r in params)
        self.raw[rows] = [float(r["raw"]) for r in params]
        self.engineering[rows] = [0.0 if r["engineering"] is None else float(r["engineering"]) for r in params]
        self.state[rows] = [-1 if r["state"] is None else self.states.code(r["state"]) for r in params]

    def _dictionary(self, codes: np.ndarray, texts: _TextCodes) -> Any:
        """A dictionary array of ``codes``, its entries renumbered in the order of their first row."""
        first = np.full(len(texts.texts), codes.size, dtype=np.int64)
        np.minimum.at(first, codes, np.arange(codes.size))
        used = np.argsort(first, kind="stable")[:int(np.count_nonzero(first < codes.size))]
        renumber = np.zeros(len(texts.texts), dtype=np.int32)
        renumber[used] = np.arange(used.size, dtype=np.int32)
        return self.pa.DictionaryArray.from_arrays(renumber[codes], self.pa.array([texts.texts[u] for u in used],
                                                                                 type=self.pa.string()))

    def table(self, schema: Any) -> Any:
        """The row group as a table of ``schema`` (the export's), or None when the batch has no rows."""
        if not self.total:
            return None
        pa = self.pa
        per_row = lambda values: np.repeat(values, self.rows_of)  # noqa: E731 - a packet's value on each of its rows
        is_state = self.state >= 0
        state = pa.array(self.states.texts, type=pa.string()).take(pa.array(self.state, mask=~is_state))
        columns = {
            "packet_index": pa.array(per_row(np.arange(self.first_index, self.first_index + self.rows_of.size))),
            "apid": pa.array(per_row(self.apid)), "sequence_count": pa.array(per_row(self.sequence_count)),
            "packet": self._dictionary(per_row(self.packet), self.packets),
            "time_utc": pa.array(per_row(self.unix_us), type=schema.field("time_utc").type),
            "obt_tai_s": pa.array(per_row(self.obt_tai_s)),
            "parameter": self._dictionary(self.parameter, self.parameters), "raw": pa.array(self.raw),
            "engineering": pa.array(self.engineering, mask=is_state), "state": state,
            "unit": self._dictionary(self.unit, self.units), "level": self._dictionary(self.level, self.levels)}
        return pa.Table.from_arrays([columns[f.name] for f in schema], schema=schema)


def _unix_us_of(time_utc: str | None) -> int | None:
    """UTC microseconds since 1970 of a row's ISO UTC time (the per-packet path's); inside a leap second the
    next midnight, as the columns make it."""
    if time_utc is None:
        return None
    leap = "T23:59:60" in time_utc
    dt = datetime.fromisoformat(time_utc.replace("T23:59:60", "T23:59:59").rstrip("Z"))
    if leap:
        dt = dt.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return (dt - datetime(1970, 1, 1)) // timedelta(microseconds=1)


def export_packets(packets: PacketSpool | Iterable[tuple[int | None, bytes]], *, packets_path: Path | None,
                   parameters_path: Path | None, fmt: str, progress: Callable[[int], None] = lambda done: None,
                   partition: str | None = None) -> dict[str, Any]:
    """Write the packet and parameter exports, a batch of :data:`PARQUET_BATCH_PACKETS` packets at a time;
    the summary's export entries.

    ``packets``: a :class:`PacketSpool` or (VCID, octets) pairs. ``partition``: the Parquet parameters go to
    the dataset at ``parameters_path``, in files of that name (see :class:`_ParameterParquet`)."""
    mission = selected()
    apids = _dictionary_apids(mission)
    md5 = hashlib.md5()
    known = values = 0
    with contextlib.ExitStack() as stack:
        raw_out = packet_rows = parameter_rows = None
        if packets_path is not None:
            if fmt == "raw":
                raw_out = stack.enter_context(_open_out(packets_path, "wb"))
            else:
                packet_rows = _RowWriter(packets_path, PACKET_COLUMNS, fmt)
                stack.callback(packet_rows.close)
        columnar = None
        if parameters_path is not None and fmt == "parquet":
            columnar = _ParameterParquet(parameters_path, mission, partition=partition)
            stack.callback(columnar.close)
        elif parameters_path is not None:
            parameter_rows = _RowWriter(parameters_path, PARAMETER_COLUMNS, fmt)
            stack.callback(parameter_rows.close)
        per_packet = packet_rows is not None or parameter_rows is not None  # else nothing is done per packet
        # a row group of the Parquet parameters is a batch; without them, a batch is a spool's block (its octets
        # bounded, whatever the packets' sizes)
        for batch in _batches_of(packets, PARQUET_BATCH_PACKETS if columnar is not None else None):
            progress(batch.first_index)
            md5.update(batch.data)  # the packets back to back
            if raw_out is not None:
                raw_out.write(batch.data)
            for j in range(len(batch)) if per_packet else ():
                row, params, decoded = _packet_rows(batch.first_index + j, batch.vcid(j), batch.packet(j), mission,
                                                    apids)
                known += decoded
                values += len(params)
                if packet_rows is not None:
                    packet_rows.write(row)
                if parameter_rows is not None:
                    for p in params:
                        parameter_rows.write(p)
            if columnar is not None:
                columnar.write_batch(batch, apids)
        if columnar is not None and not per_packet:
            known, values = columnar.known, columnar.values
    out: dict[str, Any] = {"dictionary_packets": known, "parameter_values": values}
    if packets_path is not None:
        out["packets_md5"] = md5.hexdigest()
    return out


# ------------------------------------------------------------------------------- output

class _Progress:
    """A progress display on stderr: how far, how fast (MB/s of input, or packets/s) and how long still to go.

    rich's bar when rich is installed, else one line rewritten in place; ``unit`` is "octets" or "packets";
    without a total (a pipe) the amount read and the rate.
    """

    def __init__(self, total: int | None, label: str, *, enabled: bool, unit: str = "octets") -> None:
        self.total = None if total is None else max(total, 1)
        self.enabled = enabled
        self.unit = unit
        self._last_shown = 0.0
        self._start = time.monotonic()
        self._done = 0
        self._rich: Any = None
        self._label = label
        if not enabled:
            return
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
        except ImportError:
            return
        amount = (DownloadColumn() if unit == "octets" else MofNCompleteColumn(), TextColumn("{task.fields[rate]}"))
        columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), *amount,
                   TextColumn("ETA"), TimeRemainingColumn()) if self.total is not None else \
            (TextColumn("{task.description}"), *amount, TimeElapsedColumn())
        self._rich = Progress(*columns, console=Console(stderr=True))
        self._task = self._rich.add_task(label, total=self.total, rate="")
        self._rich.start()

    def _rate(self) -> str:
        """The rate so far: '12.3 MB/s' or '45,600 packets/s'."""
        per_s = self._done / max(time.monotonic() - self._start, 1e-6)
        return f"{per_s / 1e6:.1f} MB/s" if self.unit == "octets" else f"{per_s:,.0f} packets/s"

    def _eta(self) -> str:
        elapsed = time.monotonic() - self._start
        if self.total is None or self._done <= 0:
            return "-:--:--"
        left = int(elapsed * (self.total - self._done) / self._done)
        return f"{left // 3600}:{left // 60 % 60:02d}:{left % 60:02d}"

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        self._done = done
        if self._rich is not None:
            self._rich.update(self._task, completed=done, rate=self._rate())
            return
        now = time.monotonic()
        if now - self._last_shown >= 0.5 or (self.total is not None and done >= self.total):
            self._last_shown = now
            self._line()

    def _line(self) -> None:
        if self.total is None:
            text = f"{self._label}: {self._done} {self.unit}, {self._rate()}"
        else:
            text = f"{self._label}: {int(100 * self._done / self.total):3d}%, {self._rate()}, ETA {self._eta()}"
        sys.stderr.write(f"\r{text}")
        sys.stderr.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich.stop()
        else:
            self._line()
            sys.stderr.write("\n")
            sys.stderr.flush()


SECTIONS = (
    ("CADU", ("cadus", "asm_bit_errors", "skipped_bits", "rs_corrected", "rs_uncorrectable")),
    ("frame", ("frames", "idle_frames", "frame_gaps", "frames_missing", "frame_errors", "frames_by_vc")),
    ("packet", ("packets", "idle_packets", "packet_gaps", "packets_missing", "crc_errors", "bytes_dropped",
                "packets_by_apid")),
)
FILE_KEYS = ("recording_records", "recording_truncated_octets", "recording_damaged", "recording_damaged_octets",
             "recording_first_damage_offset", "kiss_frames", "kiss_rejected", "kiss_first_reject_offset", "iq_samples", "iq_symbols", "iq_cadus",
             "iq_freq_offset_hz", "stopped", "dictionary_packets", "parameter_values", "packets_md5")


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
    return "-" if value is None else str(value)


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


def _summary(result: DecodeResult, src: InputStream, stopped: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"file": src.name, "octets": result.octets}
    p = src.parser
    if p is not None:
        out.update(recording_records=p.frames, recording_truncated_octets=p.truncated_octets,
                   recording_damaged=p.damaged, recording_damaged_octets=p.damaged_octets,
                   recording_first_damage_offset=src.first_damage.offset if src.first_damage else None)
    if isinstance(src, IqInputStream):
        out.update(iq_samples=src.read_octets // 8, iq_symbols=src._rx.symbols, iq_cadus=src.finder.cadus,
                   iq_skipped_bits=src.finder.skipped_bits, iq_radio=src.radio.as_dict(),
                   iq_freq_offset_hz=getattr(src._rx.demodulator, "freq_offset_hz", None))
    if src.kiss is not None:
        k = src.kiss
        out.update(kiss_frames=k.frames, kiss_rejected=k.rejected,
                   kiss_first_reject_offset=src.kiss_first_reject.offset if src.kiss_first_reject else None)
    if stopped is not None:
        out["stopped"] = stopped
    out.update(result.counters.as_dict())
    out["setup"] = result.setup.describe()
    return out


def _warnings(src: InputStream, stopped: str | None) -> list[str]:
    """What the operator should know that the counters do not say loudly enough."""
    out = []
    p = src.parser
    if p is not None and src.first_damage is not None:
        d = src.first_damage
        out.append(f"{src.name}: {p.damaged} damaged stretch{'es' if p.damaged > 1 else ''} of the recording "
                   f"skipped ({p.damaged_octets} octets); the first at offset {d.offset}: {d.reason}")
    if p is not None and src.truncated is not None:
        t = src.truncated
        out.append(f"{src.name}: the recording ends inside a record: {t.length} octets from offset {t.offset} "
                   f"dropped")
    if src.kiss is not None and src.kiss_first_reject is not None:
        r = src.kiss_first_reject
        out.append(f"{src.name}: {src.kiss.rejected} KISS frame(s) refused; the first at offset {r.offset}: "
                   f"{r.reason}")
    if stopped == "max-octets":
        out.append(f"{src.name}: stopped after {src.read_octets} octets (--max-octets); the input goes on")
    return out


def _no_data_message(src: InputStream, layer: str, limit: int) -> str:
    if src.parser is not None and src.parser.frames == 0:
        what = "no whole record"
    else:
        what = {"cadu": "no ASM 1ACFFC1D", "frame": "no valid transfer frame", "packet": "no space packet"}[layer]
    hint = {"cadu": "not a CADU stream?", "frame": "is --layer/--frame-len right?",
            "packet": "is --layer right?"}[layer]
    return f"{src.name}: {what} found in the first {_octets_text(limit)}: {hint} (--max-octets reads further)"


def _octets_text(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n} octets"


def _empty_input_message(src: InputStream) -> str:
    p = src.parser
    if p is None:
        return f"{src.name} holds no data"
    if src.first_damage is None and src.truncated is None:
        if src.done:
            return f"{src.name} holds no data (an empty recording)"
        return f"{src.name}: no whole record in the first {_octets_text(src.read_octets)} of the recording"
    parts = []
    if src.first_damage is not None:
        parts.append(f"{p.damaged_octets} damaged octets from offset {src.first_damage.offset} "
                     f"({src.first_damage.reason})")
    if src.truncated is not None:
        parts.append(f"a torn record of {src.truncated.length} octets at offset {src.truncated.offset}")
    return f"{src.name}: no whole record in the recording: {'; '.join(parts)}"


# ------------------------------------------------------------------------------- commands

def _opt_bool(name: str, help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(f"--{name}/--no-{name}", default=None, help=f"{help_text} (default: detect)")


class _OctetCount(click.ParamType):
    """A positive octet count: digits with an optional K, M, G or T (binary multiples; 'MiB' is accepted too)."""

    name = "octets"
    _SHIFT = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        m = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*", str(value), re.IGNORECASE)
        if m is None or int(m[1]) == 0:
            self.fail(f"{value!r} is not an octet count such as 1000000, 64M or 2G", param, ctx)
        return int(m[1]) << self._SHIFT[m[2].lower()]


@click.command("decode", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1, required=True, metavar="FILE|DIR|GLOB...")
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
@click.option("--max-octets", type=_OctetCount(), default=None,
              help=f"decode only the first N octets of the input (e.g. 500M; default: all of it, but an input "
                   f"that gives nothing in its first {NO_DATA_OCTETS >> 20} MiB is given up)")
@click.option("--modulation", type=click.Choice(["bpsk", "gmsk", "gfsk"]), default=None,
              help="IQ input: the modulation (default: what the SigMF metadata says, else bpsk)")
@click.option("--rate-bd", type=click.FloatRange(1, 1e9), default=None, help="IQ input: channel symbols per second")
@click.option("--sps", type=click.IntRange(2, 64), default=None, help="IQ input: samples per channel symbol")
@click.option("--convolutional", type=click.Choice([c.value for c in Convention]), default=None,
              help="IQ input: the K=7 r=1/2 code's convention (default: none, or what the metadata says)")
@click.option("--differential/--no-differential", default=None, help="IQ input: NRZ-M precoding")
@click.option("--progress/--no-progress", default=None,
              help=f"show progress on stderr (default: for files from {PROGRESS_MIN_OCTETS >> 20} MiB, and for "
                   f"pipes when stderr is a terminal)")
@click.option("--partition", is_flag=True,
              help="--parameters OUT is a directory of Parquet files partitioned by packet name and day "
                   "(OUT/packet=NAME/day=YYYY-MM-DD/; --format parquet)")
@click.option("--jobs", "-j", type=click.IntRange(1, 1024), default=None,
              help="many files: how many to decode at once on this machine (default: one per core)")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="many files: decode them on this dask.distributed scheduler's workers (they must see the "
                   "same paths); needs 'ttc[cluster]'")
def decode(inputs: tuple[str, ...], layer: str | None, kind: str | None, frame_len: int | None, scid: int | None,
           interleave: int | None, basis: str | None, randomise: bool | None, ocf: bool | None, fecf: bool | None,
           pec: bool | None, as_json: bool, packets_path: Path | None, parameters_path: Path | None, fmt: str,
           max_octets: int | None, progress: bool | None, modulation: str | None, rate_bd: float | None,
           sps: int | None, convolutional: str | None, differential: bool | None, partition: bool,
           jobs: int | None, scheduler: str | None) -> None:
    """Decode recorded CADUs, transfer frames or packets (FILE, or - for stdin); print per-layer counters; export.

    A SigMF IQ recording (NAME.sigmf-data with its .sigmf-meta) is demodulated first: BPSK, GMSK or
    GFSK, the convolutional code and NRZ-M as its metadata (or the options) say, then decoded as CADUs.

    Many files (several FILEs, a DIR, or a quoted GLOB such as 'pass-*.cadu') are decoded in parallel, one
    task per file, and summed; their sequence counts are checked across the files in name order, and
    --packets/--parameters name a directory that gets one export per file (see groundstation.manyfiles).

    Exit status 0 when something decoded (warnings on stderr), 1 when nothing
    could be (or, with many files, any file failed), 2 for a usage error, 130 when interrupted.
    """
    if fmt == "raw" and parameters_path is not None:
        raise click.UsageError("--format raw exports packets only; use csv, jsonl or parquet for --parameters")
    if partition and (parameters_path is None or fmt != "parquet"):
        raise click.UsageError("--partition partitions the Parquet parameters: give --parameters DIR "
                               "--format parquet")
    from .manyfiles import expand_inputs, run_many

    files = expand_inputs(inputs)
    overrides = Overrides(kind=kind, frame_len=frame_len, scid=scid, interleave=interleave, basis=basis,
                          randomise=randomise, ocf=ocf, fecf=fecf, pec=pec)
    radio = {"modulation": modulation, "rate_bd": rate_bd, "sps": sps, "differential": differential,
             "convolutional": convolutional}
    many = len(files) > 1 or Path(inputs[0]).is_dir() or files[0][0] != Path(inputs[0])
    if many or jobs is not None or scheduler is not None:
        run_many(files, layer=layer, overrides=overrides, radio=radio, max_octets=max_octets,
                 packets_dir=packets_path, parameters_dir=parameters_path, fmt=fmt, partition=partition,
                 jobs=jobs, scheduler=scheduler, as_json=as_json, progress=progress)
        return
    try:
        src = open_input(files[0][0], radio=radio, max_octets=max_octets)
        try:
            _decode_input(src, layer, overrides, as_json=as_json, packets_path=packets_path,
                          parameters_path=parameters_path, fmt=fmt, progress=progress, partition=partition)
        finally:
            src.close()
    except KeyboardInterrupt:
        click.echo("\ninterrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)


def open_input(path: Path, *, radio: dict[str, Any], max_octets: int | None) -> InputStream:
    """The input stream of ``path``: a SigMF IQ recording demodulated (``radio``: the options given), else octets."""
    if is_sigmf(path):
        return IqInputStream(path, codeblock_len=selected().downlink.codeblock_len, radio=radio,
                             max_octets=max_octets)
    return InputStream(path, max_octets=max_octets)


@dataclass
class FileOutcome:
    """One input decoded: its summary, what the operator should be warned of, and why it failed (None: it did not).

    ``continuity`` holds the input's first and last counters (a file in a series is checked against the next);
    ``interrupted`` says what Ctrl-C stopped (the summary covers what was read, no export written).
    """

    summary: dict[str, Any]
    warnings: list[str]
    failure: str | None = None
    interrupted: str | None = None
    continuity: Continuity | None = None


def decode_file(src: InputStream, layer: str | None, overrides: Overrides, *, packets_path: Path | None,
                parameters_path: Path | None, fmt: str, progress: bool | None, partition: bool = False,
                part_name: str | None = None) -> FileOutcome:
    """Detect on the input's head, decode it all, export; raises :class:`DecodeFailed` when it cannot start.

    ``partition``: ``parameters_path`` is a directory that receives the Parquet parameters partitioned by
    packet name and day (``packet=NAME/day=YYYY-MM-DD/PART.parquet``; PART: ``part_name``, by default the
    input's name without its suffix).
    """
    limited = src.max_octets is not None
    head = read_head(src, give_up=None if limited else NO_DATA_OCTETS)
    if not head:
        raise DecodeFailed(_empty_input_message(src))
    if src.recording and layer not in (None, "cadu", "frame"):
        raise DecodeFailed(f"{src.name} is a station recording: it holds CADUs or frames, not {layer}s")
    if layer is None and len(head) >= CONSTANT_MIN_OCTETS and not head.strip(head[:1]):
        raise DecodeFailed(f"{src.name}: its first {len(head)} octets are all 0x{head[0]:02X}: no telemetry "
                           f"(give --layer to decode them anyway)")
    whole = src.done
    size = src.size if src.max_octets is None or src.size is None else min(src.size, src.max_octets)
    chosen = layer or guess_layer(head, recording=src.recording, whole=whole)
    show = progress if progress is not None else \
        size >= PROGRESS_MIN_OCTETS if size is not None else sys.stderr.isatty()
    bar = _Progress(size, f"decoding {src.label}", enabled=show)
    spool = PacketSpool() if packets_path or parameters_path else None
    try:
        try:
            setup = detect(head, chosen, overrides, whole=whole,
                           total_octets=len(head) if whole else None if src.recording or src.kiss else size)
            cfg = setup.config
            if overrides.frame_len is not None and cfg is not None and cfg.frame.frame_len != overrides.frame_len:
                raise DecodeFailed(f"--frame-len {overrides.frame_len} does not match the coding: RS interleave "
                                   f"{cfg.rs.interleave if cfg.rs else 0} carries {cfg.frame.frame_len}-octet frames")
            dec = StreamDecoder(setup, on_packet=spool.add if spool else None)
            result, stopped = decode_stream(src, setup, head, decoder=dec, progress=bar,
                                            no_data_octets=None if limited else NO_DATA_OCTETS)
            del head
        except ProtocolError as e:
            raise DecodeFailed(f"{src.name}: {e}") from e
        finally:
            bar.close()
        summary = _summary(result, src, stopped)
        if spool is not None and stopped != "interrupted":
            bar = _Progress(spool.count, "reading packets with the dictionary", enabled=show and spool.count > 0,
                            unit="packets")
            try:
                summary.update(export_packets(spool, packets_path=packets_path, parameters_path=parameters_path,
                                              fmt=fmt, progress=bar,
                                              partition=(part_name or _part_name(src)) if partition else None))
                bar(spool.count)
            except OSError as e:
                raise DecodeFailed(f"cannot write the export: {e.strerror or e}") from e
            finally:
                bar.close()
    finally:
        if spool is not None:
            spool.close()
    outcome = FileOutcome(summary, _warnings(src, stopped), continuity=dec.continuity())
    if stopped == "interrupted":
        outcome.interrupted = (f"interrupted: the summary covers the first {src.read_octets} octets of "
                               f"{src.name}" + ("; no export written" if spool is not None else ""))
        return outcome
    if stopped == "no-data":
        outcome.failure = _no_data_message(src, chosen, NO_DATA_OCTETS)
        return outcome
    c = result.counters
    empty = c.packets + c.idle_packets == 0 if chosen == "packet" else c.frames == 0
    if empty:
        what = {"cadu": "no CADU decoded to a frame", "frame": "no valid transfer frame",
                "packet": "no space packet"}[chosen]
        outcome.failure = (f"{src.name}: {what} ({c.cadus} CADUs, {c.rs_uncorrectable} uncorrectable, "
                           f"{c.frame_errors} frame errors, {c.bytes_dropped} octets dropped, "
                           f"{c.skipped_bits // 8} octets skipped): is --layer right?")
    return outcome


def _part_name(src: InputStream) -> str:
    """The stem partitioned exports name their files after: the input's name without its suffix."""
    return "stdin" if src.name == "-" else Path(src.name).stem


def _decode_input(src: InputStream, layer: str | None, overrides: Overrides, *, as_json: bool,
                  packets_path: Path | None, parameters_path: Path | None, fmt: str, progress: bool | None,
                  partition: bool = False) -> None:
    """``ttc decode`` of one input: decode, print the summary, warn, and end as the outcome says."""
    outcome = decode_file(src, layer, overrides, packets_path=packets_path, parameters_path=parameters_path,
                          fmt=fmt, progress=progress, partition=partition)
    if as_json:
        click.echo(json.dumps(outcome.summary))
    else:
        _print_human(outcome.summary)
    for text in outcome.warnings:
        click.echo(f"warning: {text}", err=True)
    if outcome.interrupted is not None:
        click.echo(outcome.interrupted, err=True)
        sys.exit(EXIT_INTERRUPTED)
    if outcome.failure is not None:
        raise DecodeFailed(outcome.failure)


def _print_human(summary: dict[str, Any]) -> None:
    setup = summary["setup"]
    desc = ", ".join(f"{k}={v}" for k, v in setup.items() if k != "detected")
    title = f"{summary['file']} ({summary['octets']} octets): {desc}"
    if setup["detected"]:
        title += f"\ndetected: {', '.join(setup['detected'])}"
    layers = {"cadu": 0, "frame": 1, "packet": 2}[setup["layer"]]
    sections = [(f"{name} layer", [(k, _show(summary[k])) for k in keys]) for name, keys in SECTIONS[layers:]]
    extra = [(k, _show(summary[k])) for k in FILE_KEYS if k in summary]
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
