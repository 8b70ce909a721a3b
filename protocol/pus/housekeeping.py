"""Service 3, housekeeping (ECSS-E-ST-70-41C §6.3, requests and reports §8.3.2): TC[3,1], TC[3,2],
TC[3,5], TC[3,6], TM[3,25], TC[3,27], TC[3,31].

Mission choices: SID and parameter ID 16 bit; repetition counts N 16 bit; collection interval 32 bit
(in units of the mission's minimum sampling interval). A housekeeping parameter report (TM[3,25])
decodes to its SID and the raw parameter octets, which the mission dictionary splits (it knows the
structure of each SID).
"""

from __future__ import annotations

from dataclasses import dataclass

import construct as c

from .body import Count, IdListBody, LayoutBody, register_body
from .packet import MessageType

__all__ = [
    "CreateStructureLayout", "ModifyIntervalLayout", "HkReportLayout",
    "CreateHkStructure", "CreateDiagnosticStructure", "SuperCommutatedGroup", "EnablePeriodicHk",
    "DisablePeriodicHk", "GenerateOneShotHk", "ModifyHkCollectionInterval", "HkParameterReport",
]

_ParameterIds = c.PrefixedArray(Count, c.Int16ub)  # N (16 bit) then N 16-bit parameter IDs
#: TC[3,1] / TC[3,2] (§8.3.2.1, §8.3.2.2): SID, collection interval, N1 + parameter IDs, NFA +
#: super-commutated groups (each a sample repetition number and N2 + parameter IDs).
CreateStructureLayout = c.Struct(
    "sid" / c.Int16ub,
    "collection_interval" / c.Int32ub,
    "parameter_ids" / _ParameterIds,
    "groups" / c.PrefixedArray(Count, c.Struct("repetition" / c.Int16ub, "parameter_ids" / _ParameterIds)),
    c.Terminated,
)
#: TC[3,31] (§8.3.2.7): N then N (SID, collection interval) pairs.
ModifyIntervalLayout = c.Struct(
    "entries" / c.PrefixedArray(Count, c.Struct("sid" / c.Int16ub, "collection_interval" / c.Int32ub)),
    c.Terminated,
)
#: TM[3,25] (§8.3.2.5): SID then the parameter values in the structure's order (split by the mission dictionary).
HkReportLayout = c.Struct("sid" / c.Int16ub, "parameter_data" / c.GreedyBytes)


@dataclass(frozen=True, slots=True)
class SuperCommutatedGroup:
    """A super-commutated parameter group of an HK structure: sampled ``repetition`` times per interval."""

    repetition: int
    parameter_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _CreateStructure(LayoutBody):
    LAYOUT = CreateStructureLayout
    sid: int
    collection_interval: int
    parameter_ids: tuple[int, ...]
    groups: tuple[SuperCommutatedGroup, ...] = ()


@register_body
@dataclass(frozen=True, slots=True)
class CreateHkStructure(_CreateStructure):
    """TC[3,1] create a housekeeping parameter report structure."""

    KEY = MessageType.CREATE_HK_STRUCTURE


@register_body
@dataclass(frozen=True, slots=True)
class CreateDiagnosticStructure(_CreateStructure):
    """TC[3,2] create a diagnostic parameter report structure."""

    KEY = MessageType.CREATE_DIAGNOSTIC_STRUCTURE


@register_body
@dataclass(frozen=True, slots=True)
class EnablePeriodicHk(IdListBody):
    """TC[3,5] enable the periodic generation of HK reports, by SID."""

    KEY = MessageType.ENABLE_PERIODIC_HK


@register_body
@dataclass(frozen=True, slots=True)
class DisablePeriodicHk(IdListBody):
    """TC[3,6] disable the periodic generation of HK reports, by SID."""

    KEY = MessageType.DISABLE_PERIODIC_HK


@register_body
@dataclass(frozen=True, slots=True)
class GenerateOneShotHk(IdListBody):
    """TC[3,27] generate a one-shot HK report for each SID."""

    KEY = MessageType.GENERATE_ONE_SHOT_HK


@register_body
@dataclass(frozen=True, slots=True)
class ModifyHkCollectionInterval(LayoutBody):
    """TC[3,31] modify the collection interval of HK structures: (SID, interval) pairs."""

    KEY = MessageType.MODIFY_HK_COLLECTION_INTERVAL
    LAYOUT = ModifyIntervalLayout
    entries: tuple[tuple[int, int], ...]


@register_body
@dataclass(frozen=True, slots=True)
class HkParameterReport(LayoutBody):
    """TM[3,25] housekeeping parameter report: SID and the raw parameter octets."""

    KEY = MessageType.HK_PARAMETER_REPORT
    LAYOUT = HkReportLayout
    sid: int
    parameter_data: bytes = b""
