"""Service 9, time management (ECSS-E-ST-70-41C §6.9, request and reports §8.9.2): TC[9,1] set the time
report rate, TM[9,2] CUC time report, TM[9,3] CDS time report.

Mission choices: the rate is an 8-bit exponent (a report every 2**n time periods). The time reports
always carry the time code's P-field (§8.9.2.2, §8.9.2.3), so the format is read from the report; an
epoch of the mission's own comes from ``BodyOptions.time_config`` when it is of the report's kind
(else the CCSDS 1958 TAI epoch).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import construct as c

from ..errors import LocalProtocolError
from ..timecode import CdsConfig, CdsTime, CucConfig, CucTime, TimeCode
from .body import LayoutBody, ObjectField, options_of, register_body
from .packet import DEFAULT_TM_TIME, LAYER, MessageType

__all__ = [
    "TimeReportRateLayout", "CucTimeReportLayout", "CdsTimeReportLayout",
    "SetTimeReportRate", "CucTimeReport", "CdsTimeReport",
]


class ReportTime(ObjectField):
    """The time of a time report: a CUC or CDS code with its P-field, to the end of the report."""

    def __init__(self, kind: type[CucTime] | type[CdsTime]) -> None:
        super().__init__()
        self.kind = kind

    def decode_from(self, buf: bytes, base_offset: int, context: Any) -> tuple[TimeCode, int]:
        """The time code filling ``buf``."""
        mission = options_of(context).time_config
        if self.kind is CucTime:
            cuc = mission if isinstance(mission, CucConfig) else DEFAULT_TM_TIME
            t: TimeCode = CucTime.decode(buf, config=dataclasses.replace(cuc, p_field=True), offset=base_offset)
        else:
            cds = mission if isinstance(mission, CdsConfig) else CdsConfig()
            t = CdsTime.decode(buf, config=dataclasses.replace(cds, p_field=True), offset=base_offset)
        return t, len(buf)

    def encode(self, value: Any) -> bytes:
        """The time code with its P-field."""
        return value.encode()  # type: ignore[no-any-return]


#: TC[9,1] (§8.9.2.1): time report generation rate exponential value (a report every 2**n time periods).
TimeReportRateLayout = c.Struct("rate_exponent" / c.Int8ub, c.Terminated)
#: TM[9,2] (§8.9.2.2): rate exponential value, then the on-board time as CUC with its P-field.
CucTimeReportLayout = c.Struct("rate_exponent" / c.Int8ub, "time" / ReportTime(CucTime))
#: TM[9,3] (§8.9.2.3): rate exponential value, then the on-board time as CDS with its P-field.
CdsTimeReportLayout = c.Struct("rate_exponent" / c.Int8ub, "time" / ReportTime(CdsTime))


@register_body
@dataclass(frozen=True, slots=True)
class SetTimeReportRate(LayoutBody):
    """TC[9,1] set the time report generation rate (every 2**rate_exponent periods)."""

    KEY = MessageType.SET_TIME_REPORT_RATE
    LAYOUT = TimeReportRateLayout
    rate_exponent: int


@register_body
@dataclass(frozen=True, slots=True)
class CucTimeReport(LayoutBody):
    """TM[9,2] CUC time report: rate exponent and the on-board time as CUC with its P-field."""

    KEY = MessageType.CUC_TIME_REPORT
    LAYOUT = CucTimeReportLayout
    rate_exponent: int
    time: CucTime

    def __post_init__(self) -> None:
        if not isinstance(self.time, CucTime):
            raise LocalProtocolError(LAYER, "time", self.time, "a CucTime")
        if not self.time.config.p_field:  # the report always carries the P-field
            object.__setattr__(self, "time", CucTime(self.time.coarse_s_raw, self.time.fine_raw,
                                                     dataclasses.replace(self.time.config, p_field=True)))


@register_body
@dataclass(frozen=True, slots=True)
class CdsTimeReport(LayoutBody):
    """TM[9,3] CDS time report: rate exponent and the on-board time as CDS with its P-field."""

    KEY = MessageType.CDS_TIME_REPORT
    LAYOUT = CdsTimeReportLayout
    rate_exponent: int
    time: CdsTime

    def __post_init__(self) -> None:
        if not isinstance(self.time, CdsTime):
            raise LocalProtocolError(LAYER, "time", self.time, "a CdsTime")
        if not self.time.config.p_field:  # the report always carries the P-field
            t = self.time
            object.__setattr__(self, "time", CdsTime(t.day_raw, t.ms_of_day_raw, t.submillisecond_raw,
                                                     dataclasses.replace(t.config, p_field=True)))
