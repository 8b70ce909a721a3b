"""Service 5, event reporting (ECSS-E-ST-70-41C §6.5, reports and requests §8.5.2): TM[5,1]..TM[5,4],
TC[5,5], TC[5,6].

Mission choices: event definition ID 16 bit; the auxiliary data runs to the end of the report and its
layout per event definition is the mission dictionary's.
"""

from __future__ import annotations

from dataclasses import dataclass

import construct as c

from .body import IdListBody, LayoutBody, register_body
from .packet import MessageType

__all__ = [
    "EventReportLayout",
    "InformativeEvent", "LowSeverityEvent", "MediumSeverityEvent", "HighSeverityEvent",
    "EnableEventReports", "DisableEventReports",
]

#: TM[5,1..4] (§8.5.2.1..4): event definition ID then auxiliary data.
EventReportLayout = c.Struct("event_id" / c.Int16ub, "auxiliary_data" / c.GreedyBytes)


@dataclass(frozen=True, slots=True)
class _EventReport(LayoutBody):
    LAYOUT = EventReportLayout
    event_id: int
    auxiliary_data: bytes = b""


@register_body
@dataclass(frozen=True, slots=True)
class InformativeEvent(_EventReport):
    """TM[5,1] informative event report."""

    KEY = MessageType.INFORMATIVE_EVENT


@register_body
@dataclass(frozen=True, slots=True)
class LowSeverityEvent(_EventReport):
    """TM[5,2] low severity anomaly report."""

    KEY = MessageType.LOW_SEVERITY_EVENT


@register_body
@dataclass(frozen=True, slots=True)
class MediumSeverityEvent(_EventReport):
    """TM[5,3] medium severity anomaly report."""

    KEY = MessageType.MEDIUM_SEVERITY_EVENT


@register_body
@dataclass(frozen=True, slots=True)
class HighSeverityEvent(_EventReport):
    """TM[5,4] high severity anomaly report."""

    KEY = MessageType.HIGH_SEVERITY_EVENT


@register_body
@dataclass(frozen=True, slots=True)
class EnableEventReports(IdListBody):
    """TC[5,5] enable the report generation of event definitions, by event definition ID."""

    KEY = MessageType.ENABLE_EVENT_REPORTS


@register_body
@dataclass(frozen=True, slots=True)
class DisableEventReports(IdListBody):
    """TC[5,6] disable the report generation of event definitions, by event definition ID."""

    KEY = MessageType.DISABLE_EVENT_REPORTS
