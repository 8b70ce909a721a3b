"""Service 20, on-board parameter management (ECSS-E-ST-70-41C §6.20, requests and report §8.20.2):
TC[20,1] report parameter values, TM[20,2] parameter value report, TC[20,3] set parameter values.

Mission choices: parameter ID 16 bit, N 16 bit. A parameter value is raw octets whose width per
parameter ID is the mission dictionary's (PUS-C leaves the value's type to the parameter's definition):
the decoder takes it from :class:`protocol.pus.BodyOptions` (``parameter_octets`` map, else
``default_parameter_octets``, 4), passed into the layout as ``this._params.options``.
"""

from __future__ import annotations

from dataclasses import dataclass

import construct as c

from .body import Anchored, Count, EntriesEnd, IdListBody, LayoutBody, OctetsField, options_of, register_body
from .packet import MessageType

__all__ = [
    "ParameterEntryLayout", "ParameterValuesLayout",
    "ParameterValue", "ReportParameterValues", "ParameterValueReport", "SetParameterValues",
]

#: One (parameter ID, value) entry of TM[20,2] / TC[20,3]; the value's width is the mission's.
ParameterEntryLayout = c.Struct(
    "parameter_id" / Anchored(c.Int16ub),
    "value" / OctetsField(lambda this: options_of(this).value_octets(this.parameter_id),
                          lambda this: f"value of parameter {this.parameter_id}"),
)
#: TM[20,2] (§8.20.2.2) / TC[20,3] (§8.20.2.3): N, then N (parameter ID, value) entries.
ParameterValuesLayout = c.Struct("values" / c.PrefixedArray(Count, ParameterEntryLayout), EntriesEnd("values"))


@register_body
@dataclass(frozen=True, slots=True)
class ReportParameterValues(IdListBody):
    """TC[20,1] report parameter values, by parameter ID."""

    KEY = MessageType.REPORT_PARAMETER_VALUES


@dataclass(frozen=True, slots=True)
class ParameterValue:
    """A parameter ID and its raw value octets."""

    parameter_id: int
    value: bytes


@dataclass(frozen=True, slots=True)
class _ParameterValues(LayoutBody):
    LAYOUT = ParameterValuesLayout
    values: tuple[ParameterValue, ...]


@register_body
@dataclass(frozen=True, slots=True)
class ParameterValueReport(_ParameterValues):
    """TM[20,2] parameter value report: (parameter ID, value) entries."""

    KEY = MessageType.PARAMETER_VALUE_REPORT


@register_body
@dataclass(frozen=True, slots=True)
class SetParameterValues(_ParameterValues):
    """TC[20,3] set parameter values: (parameter ID, value) entries."""

    KEY = MessageType.SET_PARAMETER_VALUES
