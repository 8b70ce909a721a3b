"""The on-board clock: TAI seconds since 1958, running at real time or ``speed`` times faster.

The on-board software never reads a clock itself: the process loop asks this
clock for the time and passes it in, so tests drive the same code with any
time they like. Telemetry time stamps are made by :func:`cuc` in the mission
dictionary's time code (the reference: CUC 4+2 octets, TAI, 1958 epoch,
:data:`protocol.pus.DEFAULT_TM_TIME`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from protocol.pus import DEFAULT_TM_TIME
from protocol.timecode import CucConfig, CucTime, utc_to_tai_s

__all__ = ["OnboardClock", "cuc", "tai_s_now"]


def tai_s_now() -> float:
    """The current real time as TAI seconds since 1958-01-01."""
    return float(utc_to_tai_s(datetime.now(UTC).replace(tzinfo=None)))


def cuc(tai_s: float, *, config: CucConfig = DEFAULT_TM_TIME) -> CucTime:
    """The TM time stamp of an on-board instant (default: CUC 4+2, TAI)."""
    return CucTime.from_tai_s(tai_s, config=config)


class OnboardClock:
    """Simulated on-board time: starts at ``start_tai_s`` and advances ``speed`` times faster than real time."""

    def __init__(self, *, start_tai_s: float | None = None, speed: float = 1.0,
                 monotonic_s: Callable[[], float] = time.monotonic) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed {speed} must be > 0")
        self.start_tai_s = tai_s_now() if start_tai_s is None else float(start_tai_s)
        self.speed = float(speed)
        self._monotonic_s = monotonic_s
        self._mono0 = monotonic_s()

    def now_tai_s(self) -> float:
        """On-board time now, TAI seconds since 1958."""
        return self.start_tai_s + (self._monotonic_s() - self._mono0) * self.speed
