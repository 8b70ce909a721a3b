"""Limit checking: turn the dictionary's per-sample verdicts into alarm transitions.

The mission dictionary already says, per sample, whether a value is nominal,
outside its soft limits (WARNING) or outside its hard limits (CRITICAL)
(:attr:`protocol.mission.ParameterSample.level`). An operator wants to hear
about *changes*: an alarm is raised when a parameter leaves nominal (or moves
to another level) and cleared when it returns. :class:`AlarmTracker` keeps the
current level per parameter and reports only those transitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from protocol.mission import AlarmLevel, ParameterSample

__all__ = ["AlarmTransition", "AlarmTracker"]


@dataclass(frozen=True, slots=True)
class AlarmTransition:
    """A parameter's alarm changed: ``state`` 'raised' (at ``level``) or 'cleared'."""

    parameter: str
    state: str
    level: AlarmLevel
    previous: AlarmLevel
    engineering: int | float | str
    unit: str


class AlarmTracker:
    """Current alarm level per parameter; :meth:`check` reports transitions."""

    def __init__(self, active: Mapping[str, int] | None = None) -> None:
        self.levels: dict[str, AlarmLevel] = {k: AlarmLevel(v) for k, v in (active or {}).items()}

    def check(self, sample: ParameterSample) -> AlarmTransition | None:
        """The transition this sample causes, if any."""
        level = AlarmLevel(sample.level)
        if level == AlarmLevel.INVALID:
            return None  # no valid value says nothing about the limits: a standing alarm stands
        previous = self.levels.get(sample.name, AlarmLevel.NOMINAL)
        if level == previous:
            return None
        if level == AlarmLevel.NOMINAL:
            del self.levels[sample.name]
            return AlarmTransition(sample.name, "cleared", level, previous, sample.engineering, sample.unit)
        self.levels[sample.name] = level
        return AlarmTransition(sample.name, "raised", level, previous, sample.engineering, sample.unit)

    @property
    def active(self) -> dict[str, AlarmLevel]:
        """Parameters currently out of limits and their levels."""
        return dict(self.levels)
