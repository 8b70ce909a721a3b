"""Recordings of received frames, with earth-receive time, that replay through the same decode path.

File layout (big endian): the 8-octet magic ``TTCREC1\\n``, then records of
``ert_ns`` (u64, UTC nanoseconds since 1970), ``length`` (u32) and the frame
octets. A recording cut short by a crash loses at most its last, partial
record, which the reader reports (``truncated_octets``) instead of raising.

:class:`RecordingParser` is the sans-IO reader for files that may be damaged
(``ttc decode``): fed octets in any chunking, it hands out the frames, one
:class:`RecordDamaged` per stretch of octets that are not records and one
:class:`RecordTruncated` for a torn last record; it never raises for bad
content and never buffers more than one record plus one fed chunk. The
format has no record marker, so after damage (a length over
:data:`MAX_RECORD_LEN`, a record running past the end of the file, octets
inserted between records) it resynchronises on the first offset that reads as
a record chained to the next one: length 1..MAX_RECORD_LEN, a non-zero ERT,
and at ``offset + 12 + length`` either the end of the file or another header
of length 0..MAX_RECORD_LEN whose ERT is within a day of the first. Random
octets pass that test about once in 10**12 offsets; a false lock costs one
bogus record, after which the next header fails and the search resumes.
Records themselves are accepted on their length alone (an ERT can jump, e.g.
when a station's clock is set), so an undamaged file never reports damage;
only twelve zero octets (an empty record at ERT 0: zero fill) are refused.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import LocalProtocolError, RemoteProtocolError
from . import Carries, FrameReceiver, FrameSender, LinkScheme, LinkUrl, ReceivedFrame

__all__ = ["SCHEMES", "RecordingWriter", "RecordingReader", "RecordingParser", "RecordDamaged", "RecordTruncated",
           "MAGIC", "MAX_RECORD_LEN", "read_recording", "parse_recording"]

MAGIC = b"TTCREC1\n"
_RECORD = struct.Struct(">QI")
MAX_RECORD_LEN = 1 << 20
LAYER = "recording"
_DAY_NS = 86_400 * 10**9  # ERTs of consecutive records closer than this confirm a resynchronisation
_SCAN_WINDOW = 1 << 16  # octets searched per numpy pass while resynchronising (bounds the temporary arrays)


class RecordingWriter(FrameSender):
    """Appends frames to a recording file, each with the time it was written (or a given ERT)."""

    scheme = "file"

    def __init__(self, path: str | os.PathLike[str], *, carries: Carries = Carries.CADUS) -> None:
        super().__init__()
        self.carries = carries
        self.path = Path(path)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._f = open(self.path, "ab")  # noqa: SIM115 - closed in close()
        if new:
            self._f.write(MAGIC)
            self._f.flush()

    @property
    def url(self) -> str:
        """``file:///absolute/path``."""
        return self.path.resolve().as_uri()

    @property
    def written(self) -> int:
        """Frames appended."""
        return self.counters.frames_out

    def send(self, frame: bytes, *, ert_ns: int | None = None) -> None:
        """Append one frame (flushed to the OS at once, so a killed process keeps it)."""
        self._f.write(_RECORD.pack(time.time_ns() if ert_ns is None else ert_ns, len(frame)) + frame)
        self._f.flush()
        self.counters.frames_out += 1
        self.counters.octets_out += len(frame)

    def close(self) -> None:
        """Close the file."""
        self._f.close()


class RecordingReader(FrameReceiver):
    """Replays a recording: all at once, or at the pace it was recorded (``realtime``).

    Damaged stretches are skipped past and counted (:class:`RecordingParser`), never raised. In real time
    a pause longer than ``max_gap_s`` between two records is cut to that (a recording with a ten-day jump
    replays the next frame after ``max_gap_s``, not in ten days), and :meth:`recv` never waits longer than
    its ``timeout_s``: a frame not yet due gives None with :attr:`waiting` set, so the caller's loop keeps
    serving (signals, requests) and asks again.
    """

    CHUNK = 1 << 20
    scheme = "file"

    def __init__(self, path: str | os.PathLike[str], *, realtime: bool = False, max_gap_s: float = 5.0,
                 carries: Carries = Carries.CADUS) -> None:
        super().__init__()
        self.carries = carries
        self.path = Path(path)
        self._f = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        magic = self._f.read(len(MAGIC))
        if magic != MAGIC:
            self._f.close()
            raise RemoteProtocolError(LAYER, "magic", magic, repr(MAGIC), offset=0)
        self.realtime = realtime
        self.max_gap_s = max_gap_s
        self._parser = RecordingParser()
        self._parser.feed(magic)
        self._events: Iterator[RecordingEvent] = iter(())
        self._next: ReceivedFrame | None = None
        self._eof = False
        self._clock: tuple[int, float] | None = None  # (ERT of the last frame replayed, monotonic time it went)
        self.waiting = False  # the last recv() returned None because the next frame was not due yet
        self.frames = 0
        self.damaged = 0  # damaged stretches skipped
        self.damaged_octets = 0
        self.truncated_octets = 0
        self.gaps_shortened = 0

    @property
    def exhausted(self) -> bool:
        """Whether every frame of the recording has been returned."""
        return self._eof and self._next is None

    @property
    def finished(self) -> bool:
        """Whether every frame of the recording has been returned (the link's end)."""
        return self.exhausted

    @property
    def url(self) -> str:
        """``file:///absolute/path``."""
        return self.path.resolve().as_uri()

    def _advance(self) -> ReceivedFrame | None:
        while True:
            for ev in self._events:
                if isinstance(ev, ReceivedFrame):
                    return ev
                if isinstance(ev, RecordDamaged):
                    self.damaged += 1
                    self.damaged_octets += ev.length
                else:
                    self.truncated_octets += ev.length
            if self._eof:
                return None
            chunk = self._f.read(self.CHUNK)
            if chunk:
                self._parser.feed(chunk)
            else:
                self._eof = True
                self._parser.close()
            self._events = self._parser.events()

    def recv(self, timeout_s: float = 0.0) -> ReceivedFrame | None:
        """The next recorded frame; None at the end of the recording, or (``waiting``) when not due yet."""
        self.waiting = False
        if self._next is None:
            self._next = self._advance()
            if self._next is None:
                return None
        frame = self._next
        if self.realtime:
            now = time.monotonic()
            if self._clock is None:
                self._clock = (frame.ert_ns, now)
            last_ert, last_t = self._clock
            step_s = min(max(0.0, (frame.ert_ns - last_ert) / 1e9), self.max_gap_s)
            if step_s == self.max_gap_s and frame.ert_ns - last_ert > self.max_gap_s * 1e9:
                self.gaps_shortened += 1
            due = last_t + step_s
            if due > now:
                time.sleep(min(due - now, max(0.0, timeout_s)))
                if time.monotonic() < due:
                    self.waiting = True
                    return None
            self._clock = (frame.ert_ns, due)
        self._next = None
        self.frames += 1
        self.counters.frames_in += 1
        self.counters.octets_in += len(frame.data)
        self.counters.rejected = self.damaged
        return frame if self.carries is Carries.CADUS else replace(frame, carries=self.carries)

    def close(self) -> None:
        """Close the file."""
        self._f.close()


_CARRY = (Carries.CADUS, Carries.FRAMES, Carries.CLTUS)


def _path_of(url: LinkUrl) -> str:
    if not url.path or url.host not in (None, "", "localhost"):
        raise LocalProtocolError(LAYER, "url", url.text, "file:///path/to/recording.ttcrec")
    return url.path


def _writer(url: LinkUrl, default: Carries) -> RecordingWriter:
    return RecordingWriter(_path_of(url), carries=url.carries(default, _CARRY))


def _reader(url: LinkUrl, default: Carries) -> RecordingReader:
    realtime = url.options.get("realtime", "0").lower() in ("1", "true", "yes")
    return RecordingReader(_path_of(url), realtime=realtime, carries=url.carries(default, _CARRY))


SCHEMES = (LinkScheme("file", "a recording: frames appended with their ERT, replayed (options: realtime, carries)",
                      _writer, _reader, "file:///var/ttc/pass.ttcrec"),)


def read_recording(path: str | os.PathLike[str]) -> list[ReceivedFrame]:
    """Every complete frame of a recording."""
    reader = RecordingReader(path)
    try:
        out = []
        while (frame := reader.recv()) is not None:
            out.append(frame)
        return out
    finally:
        reader.close()


# ------------------------------------------------------------------------------- damaged recordings

@dataclass(frozen=True, slots=True)
class RecordDamaged:
    """File octets ``[offset, offset + length)`` were not records and were skipped; ``reason`` is what was wrong."""

    offset: int
    length: int
    reason: str


@dataclass(frozen=True, slots=True)
class RecordTruncated:
    """The recording ends inside the record at ``offset``: its ``length`` octets (header included) were dropped."""

    offset: int
    length: int


RecordingEvent = ReceivedFrame | RecordDamaged | RecordTruncated


class RecordingParser:
    """Sans-IO reader of a recording's octets, magic first: ``feed()`` any chunking, iterate ``events()``.

    Events are :class:`~protocol.links.ReceivedFrame` (one per record),
    :class:`RecordDamaged` and :class:`RecordTruncated`; they do not depend
    on how the file was chunked. Only a file that does not start with the
    magic raises (RemoteProtocolError): it is not a recording at all. The
    buffer holds at most one record plus the octets fed since the last
    ``events()``; feeding beyond ``max_buffer_octets`` raises
    LocalProtocolError, as :class:`~protocol.sync.FrameSynchronizer` does.
    """

    def __init__(self, *, max_buffer_octets: int = 1 << 23) -> None:
        least = 2 * _RECORD.size + MAX_RECORD_LEN + 1
        if max_buffer_octets < least:
            raise LocalProtocolError(LAYER, "max_buffer_octets", max_buffer_octets,
                                     f">= {least} (one record, the header after it, and one octet)")
        self.max_buffer_octets = max_buffer_octets
        self.frames = 0
        self.damaged = 0  # stretches skipped
        self.damaged_octets = 0
        self.truncated_octets = 0
        self._buf = bytearray()
        self._pos = 0  # index in _buf of the next record header (in sync) or search candidate (resynchronising)
        self._base = 0  # file offset of _buf[0]
        self._magic = False
        self._closed = False
        self._damage: tuple[int, str, bool] | None = None  # (file offset, reason, record ran past the end)

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Append octets of the file."""
        if self._closed:
            raise LocalProtocolError(LAYER, "parser state", "closed", "feed() before close()")
        if self._pos:
            del self._buf[:self._pos]
            self._base += self._pos
            self._pos = 0
        if len(self._buf) + len(chunk) > self.max_buffer_octets:
            raise LocalProtocolError(LAYER, "buffered octets", len(self._buf) + len(chunk),
                                     f"at most {self.max_buffer_octets}: read events() between feeds")
        self._buf += chunk

    def close(self) -> None:
        """Mark the end of the file: a partial record or damage at the end becomes a final event."""
        self._closed = True

    def events(self) -> Iterator[RecordingEvent]:
        """Yield every event the buffered octets complete."""
        while (ev := self._step()) is not None:
            yield ev

    # -- internals --
    def _step(self) -> RecordingEvent | None:
        buf = self._buf
        if not self._magic:
            if len(buf) < len(MAGIC) and not self._closed:
                return None
            if bytes(buf[:len(MAGIC)]) != MAGIC:
                raise RemoteProtocolError(LAYER, "magic", bytes(buf[:len(MAGIC)]), repr(MAGIC), offset=0)
            self._magic = True
            self._pos = len(MAGIC)
        while True:
            if self._damage is not None:
                found = self._find_record()
                if found is None and not self._closed:
                    return None
                return self._end_damage(len(buf) if found is None else found)
            pos = self._pos
            avail = len(buf) - pos
            if avail < _RECORD.size:
                if not self._closed or avail == 0:
                    return None
                self._pos = len(buf)
                self.truncated_octets += avail
                return RecordTruncated(self._base + pos, avail)
            ert_ns, length = _RECORD.unpack_from(buf, pos)
            if length > MAX_RECORD_LEN:
                self._begin_damage(f"record length {length} > {MAX_RECORD_LEN}")
                continue
            if length == 0 and ert_ns == 0:  # twelve zero octets: zero fill, not a record a writer made
                self._begin_damage("zero octets where a record header should be")
                continue
            end = pos + _RECORD.size + length
            if end > len(buf):
                if not self._closed:
                    return None
                self._begin_damage(f"a {length}-octet record runs past the end of the file", past_end=True)
                continue
            self._pos = end
            self.frames += 1
            return ReceivedFrame(bytes(buf[pos + _RECORD.size:end]), ert_ns)

    def _begin_damage(self, reason: str, *, past_end: bool = False) -> None:
        self._damage = (self._base + self._pos, reason, past_end)
        self._pos += 1

    def _end_damage(self, stop: int) -> RecordDamaged | RecordTruncated:
        """Close the damaged stretch at buffer index ``stop`` (a record starts there, or the file ends)."""
        start, reason, past_end = self._damage  # type: ignore[misc]
        self._damage = None
        self._pos = stop
        length = self._base + stop - start
        if past_end and stop == len(self._buf):  # nothing followed: a record torn by the end of the file
            self.truncated_octets += length
            return RecordTruncated(start, length)
        self.damaged += 1
        self.damaged_octets += length
        return RecordDamaged(start, length, reason)

    def _find_record(self) -> int | None:
        """Buffer index of the first record at or after ``_pos``, or None (``_pos`` advanced past rejects)."""
        buf = self._buf
        while True:
            last = len(buf) - _RECORD.size  # last index with a whole header
            if self._pos > last:
                return None
            count = min(last - self._pos + 1, _SCAN_WINDOW)
            window = np.frombuffer(bytes(buf[self._pos + 8:self._pos + 12 + count - 1]), dtype=np.uint8)
            lengths = ((window[:count].astype(np.uint32) << 24) | (window[1:count + 1].astype(np.uint32) << 16)
                       | (window[2:count + 2].astype(np.uint32) << 8) | window[3:count + 3])
            for i in np.flatnonzero((lengths >= 1) & (lengths <= MAX_RECORD_LEN)):
                q = self._pos + int(i)
                verdict = self._chained(q)
                if verdict is None:  # the next header is not buffered yet
                    self._pos = q
                    return None
                if verdict:
                    return q
            self._pos += count

    def _chained(self, q: int) -> bool | None:
        """Whether a record at buffer index ``q`` is followed by another (or the end); None: need more octets."""
        ert_ns, length = _RECORD.unpack_from(self._buf, q)
        if ert_ns == 0:
            return False
        nxt = q + _RECORD.size + length
        if nxt + _RECORD.size <= len(self._buf):
            ert2, length2 = _RECORD.unpack_from(self._buf, nxt)
            return length2 <= MAX_RECORD_LEN and abs(ert2 - ert_ns) <= _DAY_NS
        if not self._closed:
            return None
        return nxt <= len(self._buf)  # the file ends at (or inside) the next header: the last record


def parse_recording(data: bytes | bytearray | memoryview | Iterable[bytes], *, chunk: int = 1 << 20
                    ) -> list[RecordingEvent]:
    """Every event of a whole recording given as octets (fed ``chunk`` at a time) or as an iterable of pieces."""
    parser = RecordingParser()
    out: list[RecordingEvent] = []
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        pieces: Iterable[bytes | memoryview] = (view[i:i + chunk] for i in range(0, len(view), chunk))
    else:
        pieces = data
    for piece in pieces:
        parser.feed(piece)
        out.extend(parser.events())
    parser.close()
    out.extend(parser.events())
    return out
