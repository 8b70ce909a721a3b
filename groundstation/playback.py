"""The ground's half of store-and-forward: which packets of each APID the archive holds, which it misses,
and what to tell the spacecraft (sans-IO: counts and times in, acknowledgements and requests out).

The spacecraft keeps every packet until the ground acknowledges it (spacecraft/storage.py). Per APID the
:class:`StoreTracker` holds the count it expects next on the APID's own VC and the gaps (count ranges it
has not archived). Gaps open when:

* a packet on the APID's VC skips counts (the VC delivers in order, so what was skipped was lost);
* a TM[15,130] store status report says the spacecraft transmitted counts the ground never saw (the last
  packets before an outage, which no later packet would reveal), or, the first time an APID is seen, that
  the store still holds older packets than the first one received.

Every gap is asked for again (TC[15,129]) at once and then every ``retry_s`` while it stays open;
retransmitted packets arrive on the replay VC and close the counts they carry. A TM[15,131] closes the
counts the store no longer holds: those are lost, with their extent. The acknowledgement (TC[15,128]) per
APID is the start of its oldest gap, or the expected count when there is none: the spacecraft releases
only what the archive holds. The station persists :meth:`StoreTracker.to_json` in the same transaction as
the packets, and acknowledges only after that commit, so a kill of either end loses nothing.

Counts compare modulo 16384: a packet up to 8191 counts ahead of the expected one opens a gap, one behind
it is late (a duplicate, or a retransmission on the APID's own VC) and changes no gap it does not fill.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from protocol.pus.storage import count_runs
from protocol.spacepacket import SEQ_COUNT_MODULO

__all__ = ["Gap", "StoreTracker", "MAX_RANGES_PER_REQUEST"]

_M = SEQ_COUNT_MODULO
_HALF = _M // 2
MAX_RANGES_PER_REQUEST = 96  # TC[15,129] entries per command: 6 octets each, well inside a 1024-octet frame
MAX_GAPS_PER_APID = 4096  # beyond it the oldest gaps are given up (reported lost): the state stays bounded


@dataclass(slots=True)
class Gap:
    """``count`` counts of one APID from ``first`` on, not archived; when it was last asked for."""

    first: int
    count: int
    requested_s: float | None = None
    requests: int = 0

    def holds(self, seq: int) -> bool:
        """Whether count ``seq`` is in the gap."""
        return (seq - self.first) % _M < self.count


@dataclass(slots=True)
class _Apid:
    expected: int
    floor: int  # the first count ever received, until the first status report has been compared with it
    initial: bool = True
    gaps: list[Gap] = field(default_factory=list)
    acked: int | None = None  # the acknowledgement last sent


@dataclass(frozen=True, slots=True)
class Lost:
    """Counts of one APID the spacecraft no longer holds: they will never be archived."""

    apid: int
    first: int
    count: int


class StoreTracker:
    """Per APID: the expected count and the gaps; the acknowledgements and requests due."""

    def __init__(self, saved: str | None = None, *, retry_s: float = 10.0, ack_interval_s: float = 1.0,
                 ack_refresh_s: float = 30.0) -> None:
        self.retry_s = retry_s
        self.ack_interval_s = ack_interval_s
        self.ack_refresh_s = ack_refresh_s
        self._apids: dict[int, _Apid] = {}
        self._last_ack_s: float | None = None
        self._last_refresh_s: float | None = None
        self.dirty = False
        self.gaps_opened = 0
        self.counts_missed = 0  # counts that went into gaps
        self.counts_filled = 0  # counts a retransmission closed
        self.counts_lost = 0  # counts the spacecraft no longer held (or given up when gaps overflowed)
        self.late = 0  # packets behind the expected count that filled no gap
        if saved:
            self._load(saved)

    # ------------------------------------------------------------------ what arrives
    def realtime(self, apid: int, seq: int) -> tuple[str, Gap | None]:
        """A packet on its APID's own VC: ('next' | 'gap' | 'filled' | 'late', the gap it opened)."""
        st = self._apids.get(apid)
        self.dirty = True
        if st is None:
            self._apids[apid] = _Apid(expected=(seq + 1) % _M, floor=seq)
            return "next", None
        d = (seq - st.expected) % _M
        if d == 0:
            st.expected = (seq + 1) % _M
            return "next", None
        if d < _HALF:
            gap = self._open(apid, st, st.expected, d)
            st.expected = (seq + 1) % _M
            return "gap", gap
        if self._fill(st, seq):
            return "filled", None
        self.late += 1
        return "late", None

    def replay(self, apid: int, seq: int) -> bool:
        """A retransmitted packet (the replay VC): whether it closed a missing count."""
        st = self._apids.get(apid)
        if st is None:  # nothing known of the APID: what the spacecraft holds decides at its status report
            return False
        self.dirty = True
        return self._fill(st, seq)

    def status(self, apid: int, first_stored: int, next_unsent: int) -> list[Gap]:
        """One APID of a TM[15,130] that came in real time: the gaps it reveals."""
        opened = []
        st = self._apids.get(apid)
        if st is None:  # never seen: everything it transmitted and still holds is missing
            st = self._apids[apid] = _Apid(expected=first_stored, floor=first_stored, initial=False)
        elif st.initial:  # older packets than the first one received are still on board
            st.initial = False
            d = (st.floor - first_stored) % _M
            if 0 < d < _HALF and all(not g.holds(first_stored) for g in st.gaps):
                opened.append(self._open(apid, st, first_stored, d))
        d = (next_unsent - st.expected) % _M
        if 0 < d < _HALF:
            opened.append(self._open(apid, st, st.expected, d))
            st.expected = next_unsent % _M
        self.dirty = True
        return opened

    def unavailable(self, apid: int, first: int, count: int) -> list[Lost]:
        """A range of a TM[15,131]: the missing counts in it are lost; the runs that were missing."""
        st = self._apids.get(apid)
        if st is None:
            return []
        lost = [s for s in ((first + i) % _M for i in range(min(count, _M))) if self._fill(st, s, filled=False)]
        self.counts_lost += len(lost)
        self.dirty = True
        return [Lost(apid, f, n) for f, n in count_runs(lost)]

    # ------------------------------------------------------------------ what to send
    def ack_point(self, apid: int) -> int | None:
        """The count the ground acknowledges up to (not included) for ``apid``."""
        st = self._apids.get(apid)
        if st is None or st.initial:  # not before a status report says whether older packets are on board
            return None
        if not st.gaps:
            return st.expected
        return max(st.gaps, key=lambda g: (st.expected - g.first) % _M).first

    def acks_due(self, now_s: float) -> list[tuple[int, int]]:
        """(APID, next count) acknowledgements to send now: the changed ones at most every
        ``ack_interval_s``, every one every ``ack_refresh_s`` (a lost command is repeated)."""
        if self._last_ack_s is not None and now_s - self._last_ack_s < self.ack_interval_s:
            return []
        refresh = self._last_refresh_s is None or now_s - self._last_refresh_s >= self.ack_refresh_s
        out = []
        for apid, st in sorted(self._apids.items()):
            point = self.ack_point(apid)
            if point is not None and (refresh or point != st.acked):
                out.append((apid, point))
                st.acked = point
        if out:
            self._last_ack_s = now_s
        if refresh:
            self._last_refresh_s = now_s
        return out

    def requests_due(self, now_s: float) -> list[tuple[int, int, int]]:
        """(APID, first count, packets) ranges to ask for now: never asked, or not for ``retry_s``; oldest
        gaps first, at most one command's worth."""
        out: list[tuple[int, int, int]] = []
        for apid, st in sorted(self._apids.items()):
            for g in sorted(st.gaps, key=lambda g: -((st.expected - g.first) % _M)):
                if g.requested_s is None or now_s - g.requested_s >= self.retry_s:
                    out.append((apid, g.first, min(g.count, 0xFFFF)))
                    g.requested_s = now_s
                    g.requests += 1
                if len(out) >= MAX_RANGES_PER_REQUEST:
                    return out
        return out

    # ------------------------------------------------------------------ queries
    def gaps(self) -> list[dict[str, Any]]:
        """Every open gap: APID, first count, extent, times asked for."""
        return [{"apid": apid, "first": g.first, "count": g.count, "requests": g.requests}
                for apid, st in sorted(self._apids.items()) for g in st.gaps]

    def open_gaps(self, apid: int | None = None) -> int:
        """Open gaps of ``apid`` (of every APID when None)."""
        return sum(len(st.gaps) for a, st in self._apids.items() if apid is None or a == apid)

    def summary(self) -> dict[str, Any]:
        """Counters and the open gaps' totals."""
        open_gaps = [g for st in self._apids.values() for g in st.gaps]
        return {"open_gaps": len(open_gaps), "missing_counts": sum(g.count for g in open_gaps),
                "gaps_opened": self.gaps_opened, "counts_missed": self.counts_missed,
                "counts_filled": self.counts_filled, "counts_lost": self.counts_lost, "late_packets": self.late}

    # ------------------------------------------------------------------ persistence
    def to_json(self) -> str:
        """The state to persist with the archive (request times are not kept: a restart asks again)."""
        self.dirty = False
        return json.dumps({"apids": {str(a): {"expected": st.expected, "floor": st.floor, "initial": st.initial,
                                              "gaps": [[g.first, g.count] for g in st.gaps]}
                                     for a, st in self._apids.items()},
                           "counters": [self.gaps_opened, self.counts_missed, self.counts_filled, self.counts_lost,
                                        self.late]}, separators=(",", ":"))

    def _load(self, text: str) -> None:
        data = json.loads(text)
        for key, v in data.get("apids", {}).items():
            self._apids[int(key)] = _Apid(expected=int(v["expected"]) % _M, floor=int(v["floor"]) % _M,
                                          initial=bool(v["initial"]),
                                          gaps=[Gap(int(f) % _M, int(n)) for f, n in v["gaps"] if 0 < int(n) < _M])
        (self.gaps_opened, self.counts_missed, self.counts_filled, self.counts_lost,
         self.late) = (int(x) for x in data.get("counters", [0] * 5))

    # ------------------------------------------------------------------ internals
    def _open(self, apid: int, st: _Apid, first: int, count: int) -> Gap:
        gap = Gap(first % _M, count)
        st.gaps.append(gap)
        self.gaps_opened += 1
        self.counts_missed += count
        if len(st.gaps) > MAX_GAPS_PER_APID:  # given up: counted lost, so the state stays bounded
            old = max(st.gaps, key=lambda g: (st.expected - g.first) % _M)
            st.gaps.remove(old)
            self.counts_lost += old.count
        return gap

    def _fill(self, st: _Apid, seq: int, *, filled: bool = True) -> bool:
        for i, g in enumerate(st.gaps):
            if g.holds(seq):
                off = (seq - g.first) % _M
                parts = [Gap(g.first, off, g.requested_s, g.requests),
                         Gap((seq + 1) % _M, g.count - off - 1, g.requested_s, g.requests)]
                st.gaps[i:i + 1] = [p for p in parts if p.count > 0]
                if filled:
                    self.counts_filled += 1
                return True
        return False
