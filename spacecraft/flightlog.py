"""The spacecraft's own record of what it did, for checking the ground against it (``--flight-log PATH``).

One JSON object per line, appended with ``os.write`` (so a SIGKILL loses nothing written):

* ``{"k": "p", "apid": A, "seq": S, "crc": C, "obt": T}`` -- a telemetry packet generated and stored
  (CRC-32 of its octets, on-board TAI seconds);
* ``{"k": "c", "apid": A, "seq": S, "o": OUTCOME, "code": N}`` -- what became of a TC, by its request ID:
  ``rejected`` (acceptance failed, with the failure code), ``accepted``, ``started`` (it goes on after its
  handler returned), ``completed``, ``failed`` (start or completion failed, with the code);
* ``{"k": "b", "reboot": N}`` -- a boot.

The chaos harness (tools/chaos.py) compares it with the station's archive: every packet archived once,
every command's verdict what happened here. It is a test instrument, not flight software: without the
option nothing is written.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

__all__ = ["FlightLog"]


class FlightLog:
    """Appends the spacecraft's packets and TC outcomes to ``path`` (nothing when None)."""

    def __init__(self, path: Path | None) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if path is not None else None

    @property
    def enabled(self) -> bool:
        """Whether anything is written."""
        return self._fd is not None

    def _write(self, entry: dict[str, object]) -> None:
        if self._fd is not None:
            os.write(self._fd, (json.dumps(entry, separators=(",", ":")) + "\n").encode())

    def boot(self, reboot_count: int) -> None:
        """The software started."""
        self._write({"k": "b", "reboot": reboot_count})

    def packet(self, packet: bytes, obt_tai_s: float) -> None:
        """A telemetry packet was generated and stored."""
        if self._fd is not None:
            self._write({"k": "p", "apid": int.from_bytes(packet[0:2], "big") & 0x7FF,
                         "seq": int.from_bytes(packet[2:4], "big") & 0x3FFF, "crc": zlib.crc32(packet),
                         "obt": round(obt_tai_s, 3)})

    def command(self, apid: int, seq: int, outcome: str, code: int | None = None) -> None:
        """What became of the TC with request ID (``apid``, ``seq``)."""
        if self._fd is not None:
            self._write({"k": "c", "apid": apid, "seq": seq, "o": outcome, "code": code})

    def close(self) -> None:
        """Close the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
