"""The contact plan: when a ground station will hear the spacecraft, and at what rate (sans-IO).

The ground predicts its contacts (``ttc plan``: passes over its stations, each cut into segments of constant
downlink rate by the stations' link budget, elevation by elevation) and uploads them as ``CONTACT_ADD``
commands (``CONTACT_CLEAR`` first). With a plan loaded the transmitter is on only inside a window, at that
window's rate; outside every window it is off and the stored packets wait in the store, in their virtual
channels' priority order (alerts first), for the next contact -- instead of going out into an empty sky and
coming down again only when the ground notices the gap and asks. Without a plan (none loaded, or cleared)
the transmitter is always on, at the process's configured rate.

Window times are on-board TAI seconds; a window's rate is in bits per *on-board* second (a spacecraft whose
clock runs ``speed`` times fast, in simulation, transmits ``speed`` times faster in real time, so a contact
carries what its budget says whatever the speed). Windows may not overlap: the ground merges a station
network's overlapping passes before cutting segments.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["MAX_WINDOWS", "ContactPlan", "ContactPlanError", "Window"]

MAX_WINDOWS: Final = 64  # a day of a station network's passes in rate segments, with room


class ContactPlanError(ValueError):
    """A window that cannot join the plan: which field, its value, what is allowed."""


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """A contact segment: from ``aos_tai_s`` to ``los_tai_s`` (on-board TAI seconds) at ``rate_bps``."""

    aos_tai_s: float
    los_tai_s: float
    rate_bps: float
    station: int = 0

    @property
    def duration_s(self) -> float:
        """Length of the window, on-board seconds."""
        return self.los_tai_s - self.aos_tai_s

    @property
    def budget_octets(self) -> int:
        """Octets the window carries at its rate (framing included)."""
        return int(self.duration_s * self.rate_bps / 8)


class ContactPlan:
    """Up to :data:`MAX_WINDOWS` non-overlapping windows, in time order."""

    def __init__(self, windows: list[Window] | None = None) -> None:
        self._windows: list[Window] = []
        for w in windows or []:
            self.add(w)

    def __len__(self) -> int:
        return len(self._windows)

    @property
    def windows(self) -> tuple[Window, ...]:
        """The windows, earliest first."""
        return tuple(self._windows)

    def add(self, w: Window) -> None:
        """Insert a window; refused (ContactPlanError) when the plan is full or it overlaps another."""
        if not w.los_tai_s > w.aos_tai_s:
            raise ContactPlanError(f"DURATION: {w.duration_s:g} s, allowed > 0")
        if not w.rate_bps > 0:
            raise ContactPlanError(f"RATE_BPS: {w.rate_bps:g}, allowed > 0")
        if len(self._windows) >= MAX_WINDOWS:
            raise ContactPlanError(f"the plan holds {MAX_WINDOWS} windows already (CONTACT_CLEAR first)")
        i = bisect.bisect_left(self._windows, w)
        before = self._windows[i - 1] if i > 0 else None
        after = self._windows[i] if i < len(self._windows) else None
        for other in (before, after):
            if other is not None and w.aos_tai_s < other.los_tai_s and other.aos_tai_s < w.los_tai_s:
                raise ContactPlanError(f"AOS: the window {w.aos_tai_s:.0f}..{w.los_tai_s:.0f} (TAI s) overlaps "
                                       f"{other.aos_tai_s:.0f}..{other.los_tai_s:.0f}")
        self._windows.insert(i, w)

    def clear(self) -> None:
        """Forget every window (the transmitter is then always on)."""
        self._windows.clear()

    def window_at(self, tai_s: float) -> Window | None:
        """The window holding on-board time ``tai_s``, or None."""
        i = bisect.bisect_right([w.aos_tai_s for w in self._windows], tai_s) - 1
        if i >= 0 and tai_s < self._windows[i].los_tai_s:
            return self._windows[i]
        return None

    def next_window(self, tai_s: float) -> Window | None:
        """The first window that has not ended by ``tai_s``."""
        for w in self._windows:
            if w.los_tai_s > tai_s:
                return w
        return None

    def expire(self, tai_s: float) -> int:
        """Drop the windows that ended before ``tai_s``; how many."""
        keep = [w for w in self._windows if w.los_tai_s > tai_s]
        gone = len(self._windows) - len(keep)
        self._windows = keep
        return gone

    def as_saved(self) -> list[list[float]]:
        """JSON-ready windows, for the state file."""
        return [[w.aos_tai_s, w.los_tai_s, w.rate_bps, w.station] for w in self._windows]

    @classmethod
    def from_saved(cls, saved: Any) -> ContactPlan:
        """A plan from :meth:`as_saved`'s output (anything unreadable is dropped: no plan is the safe state)."""
        plan = cls()
        if not isinstance(saved, list):
            return plan
        for item in saved:
            try:
                aos, los, rate, station = item
                plan.add(Window(float(aos), float(los), float(rate), int(station)))
            except (TypeError, ValueError):
                continue
        return plan
