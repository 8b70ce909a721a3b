"""KISS framing (Chepponis and Karn, "The KISS TNC", ARRL CNC 1987), as TNCs and gr-satellites speak it.

A frame on the serial/TCP stream is ``FEND <type> <escaped octets> FEND``: FEND (0xC0) delimits, and an
FEND or FESC (0xDB) inside the data goes as FESC TFEND (0xDB 0xDC) or FESC TFESC (0xDB 0xDD). The type
octet holds the TNC port in its high nibble and the command in its low one: 0 is a data frame, 1..6 set
TNC parameters, 0xFF leaves KISS mode. gr-satellites (``pdu_to_kiss`` with timestamps, and so every
``.kss`` file its KISS file sink writes) puts before each data frame a control frame of command 9
holding the receive time: milliseconds since 1970 UTC, u64 big endian. :class:`KissDecoder` attaches
that time to the data frame that follows (:attr:`KissFrame.timestamp_ms`).

Choices, each with its reason:

* Several FENDs in a row are one delimiter (the spec lets a TNC send FEND before every frame to flush
  line noise), so empty frames are skipped, not reported.
* FESC followed by anything but TFEND/TFESC, or at the end of a frame, breaks the frame: the spec says to
  carry on, but the octets are then wrong and a CCSDS frame would fail its checks anyway, so the frame is
  reported as :class:`KissRejected` with the offset and nothing is passed on as if it were good.
* A frame longer than ``max_frame_octets`` (escaped; 64 KiB by default, far beyond any CCSDS frame) is
  dropped while it streams, so a peer that never sends FEND cannot make us buffer without bound.
* Octets before the first FEND of a stream are noise (a TNC powering up, a connection joined mid-frame)
  and are counted as skipped, not decoded.

Sans-IO like the other stream decoders: ``feed()`` octets in any chunking, take ``events()``; the same
decoder serves a TCP link, a ``.kss`` file and a test that feeds one octet at a time. Decoding splits on
FEND and unescapes with ``bytes.replace`` (C speed), not octet by octet.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import LocalProtocolError

__all__ = ["FEND", "FESC", "TFEND", "TFESC", "Command", "KissFrame", "KissControl", "KissRejected",
           "KissDecoder", "escape", "unescape", "encode_frame", "encode_timestamp", "decode_stream",
           "DEFAULT_MAX_FRAME"]

LAYER = "kiss"
FEND, FESC, TFEND, TFESC = 0xC0, 0xDB, 0xDC, 0xDD
_FEND, _FESC = bytes([FEND]), bytes([FESC])
_ESC_FEND, _ESC_FESC = bytes([FESC, TFEND]), bytes([FESC, TFESC])
DEFAULT_MAX_FRAME = 1 << 16
_U64 = struct.Struct(">Q")


class Command(enum.IntEnum):
    """The low nibble of a KISS type octet (0xFF, RETURN, is the whole octet)."""

    DATA = 0
    TXDELAY = 1
    PERSISTENCE = 2
    SLOTTIME = 3
    TXTAIL = 4
    FULLDUPLEX = 5
    SETHARDWARE = 6
    TIMESTAMP = 9  # gr-satellites: receive time of the next frame, ms since 1970 UTC, u64 big endian
    RETURN = 0xFF


@dataclass(frozen=True, slots=True)
class KissFrame:
    """One data frame: the TNC port it came on and its octets, with the time gr-satellites stamped on it."""

    port: int
    data: bytes
    timestamp_ms: int | None = None  # ms since 1970 UTC from the preceding command-9 frame; None: none
    offset: int = 0  # stream offset of its opening FEND


@dataclass(frozen=True, slots=True)
class KissControl:
    """A command frame other than data and timestamps (TXDELAY, SETHARDWARE, ...), passed on as is."""

    port: int
    command: int
    data: bytes
    offset: int = 0


@dataclass(frozen=True, slots=True)
class KissRejected:
    """Octets that were not a good frame: why, where in the stream, how many."""

    reason: str
    offset: int
    length: int


KissEvent = KissFrame | KissControl | KissRejected


def escape(data: bytes | bytearray | memoryview) -> bytes:
    """``data`` with FEND and FESC escaped."""
    return bytes(data).replace(_FESC, _ESC_FESC).replace(_FEND, _ESC_FEND)


def unescape(data: bytes) -> bytes | None:
    """The octets an escaped frame body stands for, or None when it holds a broken escape."""
    if _FESC not in data:
        return data
    if data.count(_FESC) != data.count(_ESC_FEND) + data.count(_ESC_FESC):
        return None
    return data.replace(_ESC_FEND, _FEND).replace(_ESC_FESC, _FESC)


def encode_frame(data: bytes | bytearray | memoryview, *, port: int = 0, command: int = Command.DATA) -> bytes:
    """One KISS frame: FEND, type octet (port, command), escaped data, FEND."""
    if not 0 <= port <= 15:
        raise LocalProtocolError(LAYER, "port", port, "0..15")
    if command == Command.RETURN:
        type_octet = 0xFF
    elif 0 <= command <= 15:
        type_octet = port << 4 | command
    else:
        raise LocalProtocolError(LAYER, "command", command, "0..15 or 0xFF")
    return _FEND + escape(bytes([type_octet]) + bytes(data)) + _FEND


def encode_timestamp(timestamp_ms: int, *, port: int = 0) -> bytes:
    """gr-satellites' timestamp control frame (command 9) for the frame that follows."""
    if not 0 <= timestamp_ms < 1 << 64:
        raise LocalProtocolError(LAYER, "timestamp_ms", timestamp_ms, f"0..{(1 << 64) - 1}")
    return encode_frame(_U64.pack(timestamp_ms), port=port, command=Command.TIMESTAMP)


class KissDecoder:
    """Splits a KISS octet stream into frames; bounded, never raises for what it is fed."""

    def __init__(self, *, max_frame_octets: int = DEFAULT_MAX_FRAME) -> None:
        if max_frame_octets < 1:
            raise LocalProtocolError(LAYER, "max_frame_octets", max_frame_octets, ">= 1")
        self.max_frame_octets = max_frame_octets
        self._buf = bytearray()  # octets after the last FEND seen (a frame still arriving)
        self._base = 0  # stream offset of _buf[0]
        self._synced = False  # a FEND has been seen: _buf is a frame body, not leading noise
        self._dropping = False  # the frame arriving is over-long: discard until the next FEND
        self._dropped_len = 0
        self._timestamp: int | None = None
        self._events: list[KissEvent] = []
        self.frames = 0
        self.controls = 0
        self.rejected = 0
        self.skipped_octets = 0  # noise before the first FEND

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Take more octets of the stream."""
        chunk = bytes(chunk)
        start = 0
        while True:
            end = chunk.find(_FEND, start)
            if end < 0:
                self._append(chunk[start:])
                return
            self._append(chunk[start:end])
            self._delimiter()
            start = end + 1

    def close(self) -> None:
        """The stream ended: a frame cut off without its closing FEND is rejected."""
        if self._synced and (self._buf or self._dropping):
            length = len(self._buf) + self._dropped_len
            self._reject("stream ended inside a frame (no closing FEND)", self._base - 1, length + 1)
        elif not self._synced and self._buf:
            self.skipped_octets += len(self._buf)
        self._buf.clear()
        self._synced = False
        self._dropping = False
        self._dropped_len = 0

    def events(self) -> Iterator[KissEvent]:
        """The frames, control frames and rejections found so far, in stream order."""
        while self._events:
            out, self._events = self._events, []
            yield from out

    # -- internals --
    def _append(self, octets: bytes) -> None:
        if not octets:
            return
        if not self._synced:
            self.skipped_octets += len(octets)
            self._base += len(octets)
            return
        if self._dropping:
            self._dropped_len += len(octets)
            return
        self._buf += octets
        if len(self._buf) > 2 * self.max_frame_octets + 1:  # escaped, a body may be twice its octets
            self._dropping = True
            self._dropped_len = len(self._buf)
            self._buf.clear()

    def _delimiter(self) -> None:
        offset = self._base - 1  # the opening FEND
        if self._dropping:
            length = self._dropped_len
            self._reject(f"frame longer than {self.max_frame_octets} octets", offset, length + 2)
            self._dropping = False
            self._dropped_len = 0
        elif self._synced and self._buf:
            length = len(self._buf)
            self._frame(bytes(self._buf), offset)
            self._buf.clear()
        else:
            length = 0
        self._base += length + 1
        self._synced = True

    def _frame(self, body: bytes, offset: int) -> None:
        octets = unescape(body)
        if octets is None:
            self._reject("broken escape (FESC not followed by TFEND or TFESC)", offset, len(body) + 2)
            return
        if len(octets) - 1 > self.max_frame_octets:
            self._reject(f"frame longer than {self.max_frame_octets} octets", offset, len(body) + 2)
            return
        type_octet, data = octets[0], octets[1:]
        port, command = type_octet >> 4, type_octet & 0x0F
        if type_octet == 0xFF:
            self.controls += 1
            self._events.append(KissControl(0, Command.RETURN, data, offset))
        elif command == Command.DATA:
            self.frames += 1
            self._events.append(KissFrame(port, data, self._timestamp, offset))
            self._timestamp = None
        elif command == Command.TIMESTAMP and len(data) == 8:
            self._timestamp = _U64.unpack(data)[0]
        elif command == Command.TIMESTAMP:
            self._reject(f"timestamp frame of {len(data)} octets (allowed 8)", offset, len(body) + 2)
        else:
            self.controls += 1
            self._events.append(KissControl(port, command, data, offset))

    def _reject(self, reason: str, offset: int, length: int) -> None:
        self.rejected += 1
        self._timestamp = None  # it belonged to the frame that was lost
        self._events.append(KissRejected(reason, max(0, offset), length))


def decode_stream(chunks: Iterable[bytes], *, max_frame_octets: int = DEFAULT_MAX_FRAME) -> Iterator[KissEvent]:
    """Every event of a whole KISS stream (a ``.kss`` file read in chunks, say)."""
    decoder = KissDecoder(max_frame_octets=max_frame_octets)
    for chunk in chunks:
        decoder.feed(chunk)
        yield from decoder.events()
    decoder.close()
    yield from decoder.events()
