"""The contact plan: when the ground hears the spacecraft, at what rate, and so how much comes down when.

:func:`plan_contacts` takes the passes of one satellite over a station network (``find_passes``) and, second
by second (skyfield's look angles), the rate of each station's link budget at that elevation
(``GroundStation.rate_bps``, the ``rates`` table of the station file); at each second the spacecraft sends at
the best rate any station in view offers (it transmits once; whoever hears it best is the one that counts),
and the runs of constant rate become *segments*, the contiguous segments *contacts*. A segment is what the
spacecraft is told (``CONTACT_ADD``: AOS in on-board TAI seconds, duration, rate, station number), and its
budget is ``duration * rate / 8`` octets on the air, of which the transfer frames' data fields -- what packets
travel in -- are ``data_field_len / cadu_len`` (the reference: 882 of 1024).

:func:`predict_delivery` drains an on-board backlog (octets per virtual channel) through the contacts in the
downlink's priority order -- the order the spacecraft's multiplexer sends in (alerts first, then
housekeeping and service replies, chips, then imagery) -- and says in which contact each VC's last octet comes
down: "what is still on board and when it will come down". It assumes the store holds what it is given and
nothing new is generated meanwhile (the caller adds expected production to the backlog if it wants it
counted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from protocol.timecode import utc_to_tai_s

from .passes import GroundStation, TargetWindow, Tle, find_passes, find_target_windows, look_angles

MU_KM3_S2 = 398600.4418  # WGS84 GM
EARTH_RADIUS_KM = 6371.0

__all__ = ["Contact", "Delivery", "Segment", "TargetPlan", "min_elevation_deg", "plan_contacts", "plan_targets",
           "predict_delivery"]

MAX_SEGMENT_S = 0xFFFF  # CONTACT_ADD's DURATION is a u16 of seconds
GEOMETRY_STEP_S = 10  # the contacts' geometry (range, range rate to the station heard) every 10 s


@dataclass(frozen=True)
class Segment:
    """A stretch of a contact at one rate, through one station (``station_index`` in the plan's list)."""

    station: str
    station_index: int
    aos_utc: datetime
    los_utc: datetime
    rate_bps: float

    @property
    def duration_s(self) -> int:
        """Whole seconds (the plan's grid)."""
        return int(round((self.los_utc - self.aos_utc).total_seconds()))

    @property
    def budget_octets(self) -> int:
        """Octets on the air in the segment (framing included)."""
        return int(self.duration_s * self.rate_bps // 8)

    def command_args(self) -> dict[str, int]:
        """The segment as CONTACT_ADD's arguments (AOS in on-board TAI seconds)."""
        return {"AOS": int(round(utc_to_tai_s(self.aos_utc.replace(tzinfo=None)))), "DURATION": self.duration_s,
                "RATE_BPS": int(round(self.rate_bps)), "STATION": self.station_index}


@dataclass(frozen=True)
class Contact:
    """Contiguous segments: from the first AOS to the last LOS, with every station heard on the way."""

    segments: tuple[Segment, ...]
    #: (seconds after AOS, range km, range rate km/s) to the station heard, every GEOMETRY_STEP_S and at LOS
    geometry: tuple[tuple[float, float, float], ...] = ()

    @property
    def aos_utc(self) -> datetime:
        return self.segments[0].aos_utc

    @property
    def los_utc(self) -> datetime:
        return self.segments[-1].los_utc

    @property
    def stations(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.station for s in self.segments))

    @property
    def budget_octets(self) -> int:
        return sum(s.budget_octets for s in self.segments)

    def as_dict(self, packet_fraction: float = 1.0) -> dict[str, object]:
        """JSON-ready fields; also a window for ``ttc channel --contacts`` (aos_utc, los_utc, station)."""
        return {"station": "+".join(self.stations), "aos_utc": _iso(self.aos_utc), "los_utc": _iso(self.los_utc),
                "duration_s": int(round((self.los_utc - self.aos_utc).total_seconds())),
                "budget_octets": self.budget_octets, "packet_octets": int(self.budget_octets * packet_fraction),
                "segments": [{"station": s.station, "aos_utc": _iso(s.aos_utc), "los_utc": _iso(s.los_utc),
                              "rate_bps": s.rate_bps, "budget_octets": s.budget_octets} for s in self.segments],
                "geometry": [[t, round(r, 3), round(rr, 5)] for t, r, rr in self.geometry]}


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def plan_contacts(tle: Tle, stations: Sequence[GroundStation], start_utc: datetime, *, days: float = 1.0) -> list[Contact]:
    """The contacts of ``tle`` with the station network over ``days`` from ``start_utc``, cut into segments."""
    start = start_utc.astimezone(timezone.utc).replace(microsecond=0)
    found = find_passes([tle], list(stations), start, days=days)
    if not found:
        return []
    horizon = int(np.ceil(days * 86400.0))
    rate = np.zeros(horizon + 1)
    best = np.full(horizon + 1, -1, dtype=np.int64)
    rng = np.zeros(horizon + 1)  # range and range rate to the station heard at each second
    rdot = np.zeros(horizon + 1)
    index = {s.name: i for i, s in enumerate(stations)}
    for p in found:
        i = index[p.station]
        t0 = max(0, int(np.ceil((p.aos_utc - start).total_seconds())))
        t1 = min(horizon, int(np.floor((p.los_utc - start).total_seconds())))
        if t1 <= t0:
            continue
        t = np.arange(t0, t1, dtype=np.float64)  # second k stands for [k, k+1): inside the pass
        look = look_angles(tle, stations[i], start, t + 0.5)
        r = stations[i].rate_bps(look.el_deg)
        k = t.astype(np.int64)
        better = r > rate[k]
        rate[k[better]] = r[better]
        best[k[better]] = i
        rng[k[better]] = look.range_km[better]
        rdot[k[better]] = look.range_rate_km_s[better]
    contacts: list[Contact] = []
    segments: list[Segment] = []

    def close() -> None:
        k0 = int(round((segments[0].aos_utc - start).total_seconds()))
        k1 = int(round((segments[-1].los_utc - start).total_seconds()))
        at = sorted({*range(k0, k1, GEOMETRY_STEP_S), k1 - 1})
        contacts.append(Contact(tuple(segments), tuple((float(k - k0), float(rng[k]), float(rdot[k])) for k in at)))

    k = 0
    while k < horizon:
        if rate[k] <= 0:
            if segments:
                close()
                segments = []
            k += 1
            continue
        j = k
        while j < horizon and rate[j] == rate[k] and best[j] == best[k] and j - k < MAX_SEGMENT_S:
            j += 1
        s = stations[best[k]]
        segments.append(Segment(s.name, int(best[k]), start + timedelta(seconds=k), start + timedelta(seconds=j),
                                float(rate[k])))
        k = j
    if segments:
        close()
    return contacts


@dataclass(frozen=True)
class Delivery:
    """Where a backlog goes: octets of each VC per contact, and the contact each VC's last octet comes in."""

    per_contact: tuple[dict[int, int], ...]  # contact index -> {vcid: packet octets delivered}
    done_in: dict[int, int | None]  # vcid -> the contact its backlog is finished in (None: not in the plan)
    left_octets: dict[int, int]  # what no contact in the plan carries


def predict_delivery(contacts: Sequence[Contact], backlog: dict[int, int], priorities: dict[int, int], *,
                     packet_fraction: float = 1.0) -> Delivery:
    """Drain ``backlog`` (packet octets per VC) through the contacts, most urgent VC (lowest priority number)
    first, each contact carrying ``budget_octets * packet_fraction`` of packet data."""
    order = sorted((vc for vc in backlog if backlog[vc] > 0), key=lambda vc: (priorities.get(vc, 1 << 30), vc))
    left = {vc: int(backlog[vc]) for vc in order}
    done: dict[int, int | None] = {vc: None for vc in order}
    per_contact: list[dict[int, int]] = []
    for ci, c in enumerate(contacts):
        room = int(c.budget_octets * packet_fraction)
        got: dict[int, int] = {}
        for vc in order:
            if room <= 0:
                break
            take = min(room, left[vc])
            if take > 0:
                got[vc] = take
                left[vc] -= take
                room -= take
                if left[vc] == 0:
                    done[vc] = ci
        per_contact.append(got)
    return Delivery(tuple(per_contact), done, {vc: n for vc, n in left.items() if n > 0})


@dataclass(frozen=True)
class TargetPlan:
    """A target's imaging windows, and which the ADCS will fly if its target is uploaded now."""

    target: GroundStation
    windows: tuple[TargetWindow, ...]
    contact_of: tuple[int | None, ...]  # per window: the contact holding its best time (None: out of contact)

    @property
    def flown(self) -> TargetWindow | None:
        """The window the ADCS images the target in: its first pass in the plan (ADCS_SET/ADD_TARGET semantics)."""
        return self.windows[0] if self.windows else None

    @property
    def same_contact(self) -> bool:
        """Whether that window is inside a contact: the target's events come down in the pass that images it."""
        return bool(self.windows) and self.contact_of[0] is not None


def min_elevation_deg(tle: Tle, max_off_nadir_deg: float) -> float:
    """The target's elevation of the satellite at ``max_off_nadir_deg`` off nadir (spherical Earth, the TLE's
    mean altitude): what ADCS_SET_TARGET's MIN_ELEVATION must be for the ADCS to fly the same window."""
    n_rad_s = tle.satrec().no_kozai / 60.0  # rad/min -> rad/s
    a_km = (MU_KM3_S2 / n_rad_s ** 2) ** (1.0 / 3.0)
    cos_el = np.sin(np.radians(max_off_nadir_deg)) * a_km / EARTH_RADIUS_KM
    return float(np.degrees(np.arccos(np.clip(cos_el, -1.0, 1.0))))


def plan_targets(tle: Tle, targets: Sequence[GroundStation], contacts: Sequence[Contact],
                 stations: Sequence[GroundStation], start_utc: datetime, *, days: float = 1.0,
                 max_off_nadir_deg: float = 30.0) -> list[TargetPlan]:
    """Each target's windows in the plan's span, each tied to the contact that holds it (if any)."""
    out = []
    for target in targets:
        windows = tuple(find_target_windows([tle], target, start_utc, days=days, max_off_nadir_deg=max_off_nadir_deg,
                                            stations=stations))
        where = tuple(next((i for i, c in enumerate(contacts) if c.aos_utc <= w.best_utc <= c.los_utc), None)
                      for w in windows)
        out.append(TargetPlan(target, windows, where))
    return out
