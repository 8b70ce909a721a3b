"""Service 13, large packet transfer (ECSS-E-ST-70-41C §6.13, reports §8.13.2): the downlink part
reports TM[13,1] first, TM[13,2] intermediate and TM[13,3] last.

A message too large for one packet (an image, a memory dump) goes down as parts; every part report
carries the large message transaction identifier, the part sequence number and the part.

Mission choices: transaction identifier 16 bit and part sequence number 16 bit (the widths PUS-C leaves
to the mission; the on-board software numbers each image's parts from 0, one transaction per image);
the part runs to the end of the report, its length the report's. A message of one part goes down as a
first part report alone. The uplink parts (TC[13,9..11]) and the abort reports are not used here.
"""

from __future__ import annotations

from dataclasses import dataclass

import construct as c

from .body import LayoutBody, register_body
from .packet import MessageType

__all__ = [
    "DownlinkPartLayout",
    "FirstDownlinkPartReport", "IntermediateDownlinkPartReport", "LastDownlinkPartReport",
]

#: TM[13,1] / [13,2] / [13,3] (§8.13.2.1..3): large message transaction identifier, part sequence
#: number, then the part.
DownlinkPartLayout = c.Struct(
    "transaction_id" / c.Int16ub,
    "part_sequence_number" / c.Int16ub,
    "part" / c.GreedyBytes,
)


@dataclass(frozen=True, slots=True)
class _DownlinkPart(LayoutBody):
    LAYOUT = DownlinkPartLayout
    transaction_id: int
    part_sequence_number: int
    part: bytes = b""


@register_body
@dataclass(frozen=True, slots=True)
class FirstDownlinkPartReport(_DownlinkPart):
    """TM[13,1] first downlink part report."""

    KEY = MessageType.FIRST_DOWNLINK_PART


@register_body
@dataclass(frozen=True, slots=True)
class IntermediateDownlinkPartReport(_DownlinkPart):
    """TM[13,2] intermediate downlink part report."""

    KEY = MessageType.INTERMEDIATE_DOWNLINK_PART


@register_body
@dataclass(frozen=True, slots=True)
class LastDownlinkPartReport(_DownlinkPart):
    """TM[13,3] last downlink part report."""

    KEY = MessageType.LAST_DOWNLINK_PART
