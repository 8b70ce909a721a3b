"""Service 11, time-based scheduling (ECSS-E-ST-70-41C §6.11, requests and report §8.11.2): TC[11,1]
enable, TC[11,2] disable, TC[11,3] reset, TC[11,4] insert activities, TC[11,5] delete activities by
request ID, TM[11,13] summary report, TC[11,17] summary-report all.

Mission choices: the service 11 request ID (§6.11.3.2) is (source ID, APID, sequence count) of the
scheduled TC, 16 bit each; N is 16 bit; release times (TC[11,4], TM[11,13]) are in the mission's
implicit time format, ``BodyOptions.time_config``; the scheduled TC is a whole PUS-C TC packet
(self-delimiting by its packet length, its PEC checked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import construct as c

from ..errors import LocalProtocolError
from ..timecode import CdsTime, CucTime, TimeCode, decode_time_from
from .body import Anchored, Count, EmptyBody, EntriesEnd, LayoutBody, ObjectField, options_of, register_body
from .packet import LAYER, MessageType, PusTc

__all__ = [
    "ScheduleRequestIdLayout", "DeleteByIdLayout", "InsertActivitiesLayout", "ScheduleSummaryLayout",
    "EnableSchedule", "DisableSchedule", "ResetSchedule", "ScheduleRequestId", "ScheduledActivity",
    "InsertActivities", "DeleteActivitiesById", "SummaryReportAll", "ScheduleSummaryEntry",
    "ScheduleSummaryReport",
]


class ReleaseTime(ObjectField):
    """A release time in the mission's implicit time format (``BodyOptions.time_config``)."""

    def decode_from(self, buf: bytes, base_offset: int, context: Any) -> tuple[TimeCode, int]:
        """The time code at the start of ``buf``."""
        return decode_time_from(buf, 0, config=options_of(context).time_config, base_offset=base_offset)

    def encode(self, value: Any) -> bytes:
        """The time code's octets."""
        if not isinstance(value, (CucTime, CdsTime)):
            raise LocalProtocolError(LAYER, "release time", value, "a CucTime or CdsTime")
        return value.encode()


class EmbeddedTc(ObjectField):
    """A whole PUS-C TC packet inside a body (its length from its primary header, its PEC checked)."""

    def decode_from(self, buf: bytes, base_offset: int, context: Any) -> tuple[PusTc, int]:
        """The TC at the start of ``buf``."""
        return PusTc.decode_from(buf, 0, base_offset=base_offset)

    def encode(self, value: Any) -> bytes:
        """The TC packet's octets."""
        if not isinstance(value, PusTc):
            raise LocalProtocolError(LAYER, "scheduled TC", value, "a PusTc")
        return value.encode()


#: Service 11 request ID (§6.11.3.2): source ID, APID, sequence count of the scheduled TC.
ScheduleRequestIdLayout = c.Struct("source_id" / c.Int16ub, "apid" / c.Int16ub, "sequence_count" / c.Int16ub)
#: TC[11,4] (§8.11.2.4): N, then N (release time, TC packet) activities.
InsertActivitiesLayout = c.Struct(
    "activities" / c.PrefixedArray(Count, c.Struct("release_time" / ReleaseTime(), "request" / EmbeddedTc())),
    EntriesEnd("activities"),
)
#: TC[11,5] (§8.11.2.5): N then N service 11 request IDs.
DeleteByIdLayout = c.Struct("request_ids" / c.PrefixedArray(Count, ScheduleRequestIdLayout), c.Terminated)
#: TM[11,13] (§8.11.2.10): N, then N (release time, request ID) entries.
ScheduleSummaryLayout = c.Struct(
    "entries" / c.PrefixedArray(Count, c.Struct("release_time" / ReleaseTime(),
                                                "request_id" / Anchored(ScheduleRequestIdLayout))),
    EntriesEnd("entries"),
)


@register_body
@dataclass(frozen=True, slots=True)
class EnableSchedule(EmptyBody):
    """TC[11,1] enable the time-based schedule execution function."""

    KEY = MessageType.ENABLE_SCHEDULE


@register_body
@dataclass(frozen=True, slots=True)
class DisableSchedule(EmptyBody):
    """TC[11,2] disable the time-based schedule execution function."""

    KEY = MessageType.DISABLE_SCHEDULE


@register_body
@dataclass(frozen=True, slots=True)
class ResetSchedule(EmptyBody):
    """TC[11,3] reset the time-based schedule."""

    KEY = MessageType.RESET_SCHEDULE


@register_body
@dataclass(frozen=True, slots=True)
class SummaryReportAll(EmptyBody):
    """TC[11,17] summary-report all time-based scheduled activities (answered by TM[11,13])."""

    KEY = MessageType.SUMMARY_REPORT_ALL


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleRequestId:
    """Service 11 request ID: source ID, APID and sequence count of a scheduled TC."""

    source_id: int
    apid: int
    sequence_count: int

    @classmethod
    def of(cls, tc: PusTc) -> ScheduleRequestId:
        """The request ID of a TC."""
        return cls(source_id=tc.source_id, apid=tc.apid, sequence_count=tc.sequence_count)


@dataclass(frozen=True, slots=True)
class ScheduledActivity:
    """A TC to release at ``release_time``."""

    release_time: TimeCode
    request: PusTc


@register_body
@dataclass(frozen=True, slots=True)
class InsertActivities(LayoutBody):
    """TC[11,4] insert activities into the time-based schedule: (release time, TC packet) entries."""

    KEY = MessageType.INSERT_ACTIVITIES
    LAYOUT = InsertActivitiesLayout
    activities: tuple[ScheduledActivity, ...]


@register_body
@dataclass(frozen=True, slots=True)
class DeleteActivitiesById(LayoutBody):
    """TC[11,5] delete time-based scheduled activities identified by request ID."""

    KEY = MessageType.DELETE_ACTIVITIES_BY_ID
    LAYOUT = DeleteByIdLayout
    request_ids: tuple[ScheduleRequestId, ...]


@dataclass(frozen=True, slots=True)
class ScheduleSummaryEntry:
    """One line of a schedule summary: release time and request ID of a scheduled TC."""

    release_time: TimeCode
    request_id: ScheduleRequestId


@register_body
@dataclass(frozen=True, slots=True)
class ScheduleSummaryReport(LayoutBody):
    """TM[11,13] time-based schedule summary report: (release time, request ID) entries."""

    KEY = MessageType.SCHEDULE_SUMMARY_REPORT
    LAYOUT = ScheduleSummaryLayout
    entries: tuple[ScheduleSummaryEntry, ...]
