"""Recordings of received frames, with earth-receive time, that replay through the same decode path.

File layout (big endian): the 8-octet magic ``TTCREC1\\n``, then records of
``ert_ns`` (u64, UTC nanoseconds since 1970), ``length`` (u32) and the frame
octets. A recording cut short by a crash loses at most its last, partial
record, which the reader reports (``truncated_octets``) instead of raising.
"""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

from ..errors import RemoteProtocolError
from . import ReceivedFrame

__all__ = ["RecordingWriter", "RecordingReader", "MAGIC", "read_recording"]

MAGIC = b"TTCREC1\n"
_RECORD = struct.Struct(">QI")
MAX_RECORD_LEN = 1 << 20
LAYER = "recording"


class RecordingWriter:
    """Appends frames to a recording file, each with the time it was written (or a given ERT)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._f = open(self.path, "ab")  # noqa: SIM115 - closed in close()
        if new:
            self._f.write(MAGIC)
            self._f.flush()
        self.written = 0

    def send(self, frame: bytes, *, ert_ns: int | None = None) -> None:
        """Append one frame (flushed to the OS at once, so a killed process keeps it)."""
        self._f.write(_RECORD.pack(time.time_ns() if ert_ns is None else ert_ns, len(frame)) + frame)
        self._f.flush()
        self.written += 1

    def close(self) -> None:
        """Close the file."""
        self._f.close()


class RecordingReader:
    """Replays a recording: all at once, or at the pace it was recorded (``realtime``)."""

    def __init__(self, path: str | os.PathLike[str], *, realtime: bool = False) -> None:
        self.path = Path(path)
        self._f = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        magic = self._f.read(len(MAGIC))
        if magic != MAGIC:
            self._f.close()
            raise RemoteProtocolError(LAYER, "magic", magic, repr(MAGIC), offset=0)
        self.realtime = realtime
        self._start: tuple[int, float] | None = None  # (first ERT, monotonic time it was replayed)
        self.frames = 0
        self.truncated_octets = 0

    def recv(self, timeout_s: float = 0.0) -> ReceivedFrame | None:
        """The next recorded frame, or None at the end of the recording."""
        pos = self._f.tell()
        head = self._f.read(_RECORD.size)
        if len(head) < _RECORD.size:
            self.truncated_octets += len(head)
            return None
        ert_ns, length = _RECORD.unpack(head)
        if length > MAX_RECORD_LEN:
            raise RemoteProtocolError(LAYER, "record length", length, f"0..{MAX_RECORD_LEN}", offset=pos + 8)
        data = self._f.read(length)
        if len(data) < length:
            self.truncated_octets += len(head) + len(data)
            return None
        if self.realtime:
            if self._start is None:
                self._start = (ert_ns, time.monotonic())
            due = self._start[1] + (ert_ns - self._start[0]) / 1e9
            time.sleep(max(0.0, min(due - time.monotonic(), timeout_s if timeout_s > 0 else 1e9)))
        self.frames += 1
        return ReceivedFrame(data, ert_ns)

    def close(self) -> None:
        """Close the file."""
        self._f.close()


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
