"""Service 15, on-board storage and retrieval (ECSS-E-ST-70-41C §6.15), as this mission flies it: a packet
leaves the on-board store only when the ground has acknowledged it.

PUS-C retrieves packet stores by time range (TC[15,9]) and deletes up to a time (TC[15,11]); neither can
say "these packets arrived, these did not". This mission adds its own subtypes (128 and above, the range
the standard leaves to missions) keyed by what the ground checks continuity with, the source sequence count
of each APID (CCSDS 133.0-B-2 §4.1.3.4.2):

* TC[15,128] acknowledge: per APID the sequence count the ground expects next with everything before it
  archived (a cumulative acknowledgement: sending it twice is harmless);
* TC[15,129] retransmit: per APID a range (first count, number of packets) to downlink again;
* TM[15,130] store status report: store use, packets overwritten, and per APID the oldest stored count, the
  count after the newest one transmitted, and how many are stored, so the ground sees a gap at the tail of a
  channel (the last packets before an outage) that no later packet would reveal;
* TM[15,131] unavailable report: requested ranges the store no longer holds (overwritten when full), so
  the ground reports them lost with their extent instead of asking forever;
* TC[15,132] report the store status now (answered by TM[15,130]).

Mission choices: APID and sequence counts 16 bit on the wire (counts are 14 bit, 0..16383, the upper two
bits zero); N 16 bit; octet and packet totals 32 bit. Counts compare modulo 16384 inside the store's window,
so at most 8191 packets of one APID may wait for acknowledgement unambiguously.
"""

from __future__ import annotations

from dataclasses import dataclass

import construct as c

from .body import Count, EmptyBody, LayoutBody, register_body
from .packet import MessageType

__all__ = [
    "count_runs", "StoreAckLayout", "StoreRangesLayout", "StoreStatusLayout",
    "StoreAck", "StoreRange", "StoreApplicationStatus", "StoreAcknowledge", "StoreRetransmit",
    "StoreStatusReport", "StoreUnavailableReport", "ReportStoreStatus",
]

def count_runs(counts: list[int]) -> list[tuple[int, int]]:
    """Sequence counts in order, as (first, number) runs of consecutive counts modulo 16384."""
    runs: list[tuple[int, int]] = []
    for s in counts:
        if runs and (runs[-1][0] + runs[-1][1]) % 0x4000 == s:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((s, 1))
    return runs


_Seq = c.Int16ub
#: TC[15,128]: N x (APID, next expected sequence count).
StoreAckLayout = c.Struct("acks" / c.PrefixedArray(Count, c.Struct("apid" / c.Int16ub, "next_count" / _Seq)),
                          c.Terminated)
#: TC[15,129], TM[15,131]: N x (APID, first sequence count, number of packets).
StoreRangesLayout = c.Struct("ranges" / c.PrefixedArray(Count, c.Struct(
    "apid" / c.Int16ub, "first_count" / _Seq, "packets" / c.Int16ub)), c.Terminated)
#: TM[15,130]: octets used and capacity, packets overwritten since the store was made, then N x (APID, oldest
#: stored count, count after the newest transmitted, packets stored).
StoreStatusLayout = c.Struct(
    "used_octets" / c.Int32ub, "capacity_octets" / c.Int32ub, "overwritten" / c.Int32ub,
    "applications" / c.PrefixedArray(Count, c.Struct(
        "apid" / c.Int16ub, "first_stored" / _Seq, "next_unsent" / _Seq, "stored" / c.Int32ub)),
    c.Terminated)


@dataclass(frozen=True, slots=True)
class StoreAck:
    """Everything of ``apid`` before sequence count ``next_count`` is archived on the ground."""

    apid: int
    next_count: int


@dataclass(frozen=True, slots=True)
class StoreRange:
    """``packets`` packets of ``apid`` from sequence count ``first_count`` on (modulo 16384)."""

    apid: int
    first_count: int
    packets: int


@dataclass(frozen=True, slots=True)
class StoreApplicationStatus:
    """One APID in the store: oldest count held, the count after the newest transmitted, packets held."""

    apid: int
    first_stored: int
    next_unsent: int
    stored: int


@register_body
@dataclass(frozen=True, slots=True)
class StoreAcknowledge(LayoutBody):
    """TC[15,128] acknowledge archived packets: they may leave the on-board store."""

    KEY = MessageType.STORE_ACKNOWLEDGE
    LAYOUT = StoreAckLayout
    acks: tuple[StoreAck, ...]


@register_body
@dataclass(frozen=True, slots=True)
class StoreRetransmit(LayoutBody):
    """TC[15,129] downlink these stored packets again (on the dictionary's replay VC)."""

    KEY = MessageType.STORE_RETRANSMIT
    LAYOUT = StoreRangesLayout
    ranges: tuple[StoreRange, ...]


@register_body
@dataclass(frozen=True, slots=True)
class StoreStatusReport(LayoutBody):
    """TM[15,130] the on-board store: use, overwritten packets, and per APID what it holds and has sent."""

    KEY = MessageType.STORE_STATUS_REPORT
    LAYOUT = StoreStatusLayout
    used_octets: int
    capacity_octets: int
    overwritten: int
    applications: tuple[StoreApplicationStatus, ...]


@register_body
@dataclass(frozen=True, slots=True)
class StoreUnavailableReport(LayoutBody):
    """TM[15,131] requested packets the store no longer holds (overwritten): lost, with their extent."""

    KEY = MessageType.STORE_UNAVAILABLE_REPORT
    LAYOUT = StoreRangesLayout
    ranges: tuple[StoreRange, ...]


@register_body
@dataclass(frozen=True, slots=True)
class ReportStoreStatus(EmptyBody):
    """TC[15,132] report the store status now (TM[15,130])."""

    KEY = MessageType.REPORT_STORE_STATUS
