"""What an operator needs to know of the downlink at a glance: AOS or LOS, frames per second, RS work, gaps.

Sans-IO: the station passes the monotonic time of every received CADU and asks for the status with the time
now. The link is in AOS while a CADU arrived within ``los_after_s`` (5 s: at 9.6 kbit/s a 1024-octet CADU
takes 0.85 s, so five seconds without one is no longer a slow link), in LOS after that, and NEVER before
the first CADU. Frames per second are counted over the last ``window_s``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

__all__ = ["LinkStatus"]


class LinkStatus:
    """AOS/LOS and the frame rate from the arrival times of CADUs."""

    def __init__(self, *, los_after_s: float = 5.0, window_s: float = 5.0) -> None:
        self.los_after_s = los_after_s
        self.window_s = window_s
        self._arrivals: deque[float] = deque()
        self.last_mono: float | None = None
        self.last_ert_ns: int | None = None
        self.aos_since_mono: float | None = None

    def frame(self, now_mono: float, ert_ns: int) -> None:
        """A CADU arrived (``now_mono``: time.monotonic(); ``ert_ns``: its earth-receive time)."""
        if self.last_mono is None or now_mono - self.last_mono > self.los_after_s:
            self.aos_since_mono = now_mono
        self.last_mono = now_mono
        self.last_ert_ns = ert_ns
        self._arrivals.append(now_mono)
        self._trim(now_mono)

    def _trim(self, now_mono: float) -> None:
        while self._arrivals and now_mono - self._arrivals[0] > self.window_s:
            self._arrivals.popleft()

    def state(self, now_mono: float) -> str:
        """AOS, LOS or NEVER (no CADU yet)."""
        if self.last_mono is None:
            return "NEVER"
        return "AOS" if now_mono - self.last_mono <= self.los_after_s else "LOS"

    def as_dict(self, now_mono: float) -> dict[str, Any]:
        """The status as plain JSON data (times as ages in seconds, the ERT as UTC nanoseconds)."""
        self._trim(now_mono)
        state = self.state(now_mono)
        return {"state": state, "frames_per_s": round(len(self._arrivals) / self.window_s, 2),
                "last_frame_ert_ns": self.last_ert_ns,
                "last_frame_age_s": None if self.last_mono is None else round(now_mono - self.last_mono, 2),
                "aos_for_s": round(now_mono - self.aos_since_mono, 1) if state == "AOS" and self.aos_since_mono
                is not None else None, "los_after_s": self.los_after_s}
