"""Tracking a pass: the rotator through rotctld and the radio through rigctld, driven from the prediction.

:func:`prepare_track` turns a predicted :class:`~groundstation.passes.Pass` into a :class:`TrackSchedule`:
skyfield's look angles and range rate on a 1 s grid from AOS to LOS, the rotator's
:class:`~groundstation.pointing.PointingPlan` for them (cable wrap, flip, slew limits; planned from where the
rotator is), and the Doppler-corrected frequencies on the same grid:

* downlink (what the receiver tunes): ``f_down * (1 - rdot/c)``, i.e. ``f_down + doppler_hz(f_down, rdot)``;
* uplink (what the transmitter sends so that the satellite hears ``f_up``): ``f_up / (1 - rdot/c)``.

A :class:`Tracker` then flies the schedule against a :class:`SimClock` (the real time, or an accelerated one
starting anywhere: ``speed`` simulated seconds per second) at ``rate_hz`` ticks a second:

* **wait** until the pre-position must begin (the slew time from where the rotator is, plus a margin);
* **pre-position**: command the plan's first point and tune the radio to the AOS frequencies;
* **track**, AOS to LOS: each tick reads back where the rotator is, commands the plan's point one tick ahead
  (so the rotator arrives where the satellite will be when the next command goes out), tunes the radio to the
  frequencies of the middle of the coming tick, and every few ticks reads back what the radio is tuned to; a
  ``deadband_deg`` keeps small steps from a rotator that dislikes them (0 sends every change). The position is
  read before the command, not after: hamlib's dummy rotator moves its simulated position only when it is
  read, and a set_pos restarts its clock from the last position read, so a command followed at once by a read
  would leave it standing still (a real controller moves regardless; the order costs it nothing);
* **park** after LOS (``P`` to the station's park position, or the controller's own ``K``), the radio back
  to its nominal frequencies, and wait for the rotator to arrive (bounded).

With ``speed`` above 1 the pass is flown in accelerated time, but the rotator still slews at its real rate: the
plan is made with the rates divided by ``speed`` (a rotator moving 6 deg/s covers 0.6 deg of the pass's sky
each simulated second at speed 10), so what is commanded is always what the rotator can do.

Nothing reaches the operator as a traceback: every daemon call is wrapped, a refused command or a garbled reply
is counted and logged, a daemon that cannot be reached (after the client's reconnection, bounded here to one
tick) is counted, logged, left alone for ``RETRY_UNREACHABLE_S`` and then tried again, so a dead radio never
stalls the rotator; the clients' own reconnection events are reported as they happen.
Each tick is one JSON line in the log (``log=``), so a pass can be replayed and checked afterwards.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import IO, Final, Literal

import numpy as np

from .hamlib import HamlibError, HamlibUnavailable, Radio, Rotator
from .passes import C_M_S, GroundStation, Pass, Tle, look_angles
from .pointing import PointingPlan, RotatorLimits, angle_between_deg, plan_pass, time_to_reach

__all__ = [
    "SimClock",
    "TrackReport",
    "TrackSchedule",
    "Tracker",
    "downlink_hz",
    "limits_for",
    "prepare_track",
    "uplink_hz",
]

GRID_S: Final = 1.0  # look-angle grid of a schedule (simulated seconds)
PREPOSITION_MARGIN_S: Final = 5.0  # real seconds of slack on top of the pre-position slew
PARK_TOLERANCE_DEG: Final = 0.5
ACQUIRED_DEG: Final = 1.0  # a rotator this close to its plan (each axis) is on track
RADIO_READBACK_EVERY: Final = 5  # ticks between radio read-backs (the dummy rig's get_split_freq takes 20 ms)
PARK_EXTRA_S: Final = 3.0  # real seconds allowed beyond the planned park slew
STATUS_EVERY_S: Final = 10.0  # real seconds between status lines while tracking
WAIT_STATUS_EVERY_S: Final = 60.0
RETRY_UNREACHABLE_S: Final = 2.0  # real seconds before an unreachable daemon is tried again
Park = Literal["position", "rotator"]


def downlink_hz(carrier_hz: float, range_rate_km_s: np.ndarray | float) -> np.ndarray:
    """What to tune the receiver to for a satellite transmitting ``carrier_hz``: f (1 - rdot/c)."""
    return carrier_hz * (1.0 - np.asarray(range_rate_km_s, dtype=np.float64) * 1000.0 / C_M_S)


def uplink_hz(carrier_hz: float, range_rate_km_s: np.ndarray | float) -> np.ndarray:
    """What to transmit so that the satellite receives ``carrier_hz``: f / (1 - rdot/c)."""
    return carrier_hz / (1.0 - np.asarray(range_rate_km_s, dtype=np.float64) * 1000.0 / C_M_S)


def limits_for(station: GroundStation, *, speed: float = 1.0) -> RotatorLimits:
    """The station's rotator limits in simulated time: slew rates divided by ``speed``."""
    r = station.rotator
    if r is None:
        raise ValueError(f"station {station.name!r} has no [station.rotator] in its configuration")
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"speed={speed}: give a positive number of simulated seconds per second")
    return RotatorLimits(min_az_deg=r.min_az_deg, max_az_deg=r.max_az_deg, min_el_deg=r.min_el_deg,
                         max_el_deg=r.max_el_deg, az_slew_rate_deg_s=r.az_slew_rate_deg_s / speed,
                         el_slew_rate_deg_s=r.el_slew_rate_deg_s / speed, park_az_deg=r.park_az_deg,
                         park_el_deg=r.park_el_deg)


@dataclass(frozen=True, eq=False)
class TrackSchedule:
    """Everything a pass needs, on one grid ``t_s`` of simulated seconds after ``aos_utc``."""

    satellite: str
    station: GroundStation
    pass_: Pass
    aos_utc: datetime
    t_s: np.ndarray
    az_deg: np.ndarray  # the satellite as skyfield sees it
    el_deg: np.ndarray
    range_rate_km_s: np.ndarray
    rx_hz: np.ndarray  # receiver tuning, Doppler-corrected downlink
    tx_hz: np.ndarray  # transmitter tuning, Doppler-pre-corrected uplink
    plan: PointingPlan | None  # None for a station without a rotator
    speed: float

    @property
    def duration_s(self) -> float:
        """AOS to LOS in simulated seconds."""
        return float(self.t_s[-1])

    def command_at(self, t_s: float) -> tuple[float, float]:
        """The rotator command (commandable az, el) for simulated second ``t_s`` after AOS."""
        if self.plan is None:
            raise ValueError("this schedule has no rotator plan")
        return self.plan.position_at(t_s)

    def frequencies_at(self, t_s: float) -> tuple[int, int]:
        """(receive, transmit) tuning in whole Hz at ``t_s``, interpolated on the grid and held outside it."""
        return (int(round(float(np.interp(t_s, self.t_s, self.rx_hz)))),
                int(round(float(np.interp(t_s, self.t_s, self.tx_hz)))))

    def preposition_lead_s(self, from_az_deg: float, from_el_deg: float) -> float:
        """Simulated seconds before AOS at which to start slewing from (az, el) to the pre-position."""
        if self.plan is None:
            return PREPOSITION_MARGIN_S * self.speed
        return self.plan.preposition_time_s(from_az_deg, from_el_deg) + PREPOSITION_MARGIN_S * self.speed


def prepare_track(tle: Tle, station: GroundStation, p: Pass, *, speed: float = 1.0,
                  current_az_deg: float | None = None, current_el_deg: float | None = None,
                  mode: Literal["auto", "normal", "flip"] = "auto", with_rotator: bool = True) -> TrackSchedule:
    """The schedule of pass ``p`` of ``tle`` over ``station``; the rotator planned from (current az, el)."""
    if p.satellite != tle.name or p.station != station.name:
        raise ValueError(f"the pass is {p.satellite} over {p.station}, not {tle.name} over {station.name}")
    duration = p.duration_s
    if not duration > 0:
        raise ValueError(f"the pass {p.satellite} over {p.station} at {p.aos_utc} lasts {duration} s")
    t = np.append(np.arange(0.0, duration, GRID_S), duration)
    if len(t) > 1 and t[-1] - t[-2] < 1e-3:
        t = t[:-1]
    look = look_angles(tle, station, p.aos_utc, t)
    plan = None
    if with_rotator and station.rotator is not None:
        limits = limits_for(station, speed=speed)
        if current_az_deg is not None and current_el_deg is not None:
            current_az_deg = float(np.clip(current_az_deg, limits.min_az_deg, limits.max_az_deg))
            current_el_deg = float(np.clip(current_el_deg, limits.min_el_deg, limits.max_el_deg))
        plan = plan_pass(t, look.az_deg, look.el_deg, limits, current_az_deg=current_az_deg,
                         current_el_deg=current_el_deg, mode=mode)
    return TrackSchedule(satellite=tle.name, station=station, pass_=p, aos_utc=p.aos_utc, t_s=t,
                         az_deg=look.az_deg, el_deg=look.el_deg, range_rate_km_s=look.range_rate_km_s,
                         rx_hz=downlink_hz(station.downlink_hz, look.range_rate_km_s),
                         tx_hz=uplink_hz(station.uplink_hz, look.range_rate_km_s), plan=plan, speed=speed)


class SimClock:
    """Simulated UTC: ``start_utc`` when created, advancing ``speed`` seconds per real (monotonic) second."""

    def __init__(self, start_utc: datetime, speed: float = 1.0, *,
                 monotonic: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed={speed}: give a positive number of simulated seconds per second")
        self.start_utc = start_utc.astimezone(timezone.utc)
        self.speed = float(speed)
        self._monotonic = monotonic
        self._sleep = sleep
        self._t0 = monotonic()

    def now_utc(self) -> datetime:
        """The simulated time now."""
        return self.start_utc + timedelta(seconds=(self._monotonic() - self._t0) * self.speed)

    def seconds_after(self, epoch_utc: datetime) -> float:
        """Simulated seconds from ``epoch_utc`` to now (negative before it)."""
        return (self.start_utc - epoch_utc).total_seconds() + (self._monotonic() - self._t0) * self.speed

    def real(self) -> float:
        """The real monotonic time (seconds)."""
        return self._monotonic()

    def sleep_real(self, seconds: float) -> None:
        """Sleep ``seconds`` of real time."""
        if seconds > 0:
            self._sleep(seconds)


@dataclass
class TrackReport:
    """What a tracked pass did: ticks, rates, errors, the daemons' counters and events."""

    satellite: str
    station: str
    aos_utc: str
    los_utc: str
    max_el_deg: float
    mode: str | None
    speed: float
    rate_hz: float
    ticks: int = 0
    track_ticks: int = 0
    track_wall_s: float = 0.0
    overruns: int = 0  # ticks that started late by more than a period
    commands_sent: int = 0
    skipped: int = 0  # daemon calls not made because that daemon was unreachable moments before
    plan_max_error_deg: float | None = None  # commanded vs the satellite, from the plan (slew limits included)
    max_follow_error_deg: float | None = None  # read-back vs commanded at the read-back's time, per axis,
    #                                            from acquisition on
    acquired_s: float | None = None  # simulated seconds after AOS when the rotator was first on its plan
    preposition_short_s: float = 0.0  # how much later than needed the pre-position began (simulated s)
    rotator: dict[str, int] = field(default_factory=dict)
    radio: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # commands that failed, each once per kind
    events: list[str] = field(default_factory=list)
    parked: bool | None = None  # P park: the read-back reached it; K: the controller accepted its own park
    interrupted: bool = False

    @property
    def update_hz(self) -> float:
        """Ticks per real second while tracking."""
        return self.track_ticks / self.track_wall_s if self.track_wall_s > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        """JSON-ready fields (with ``update_hz``)."""
        d = asdict(self)
        d["update_hz"] = round(self.update_hz, 2)
        return d


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Tracker:
    """Fly a :class:`TrackSchedule` with a rotator and a radio (either may be None); see the module."""

    def __init__(self, schedule: TrackSchedule, clock: SimClock, *, rotator: Rotator | None = None,
                 radio: Radio | None = None, rate_hz: float = 10.0, deadband_deg: float = 0.0,
                 park: Park = "position", log: IO[str] | None = None,
                 status: Callable[[str], None] | None = None,
                 radio_readback_every: int = RADIO_READBACK_EVERY) -> None:
        if not (math.isfinite(rate_hz) and 0 < rate_hz <= 1000):
            raise ValueError(f"rate_hz={rate_hz}: allowed 0 < rate_hz <= 1000")
        if not (math.isfinite(deadband_deg) and 0 <= deadband_deg <= 10):
            raise ValueError(f"deadband_deg={deadband_deg}: allowed 0..10")
        if park not in ("position", "rotator"):
            raise ValueError(f"park={park!r}: give 'position' (P to the station's park) or 'rotator' (K)")
        if rotator is not None and schedule.plan is None:
            raise ValueError("a rotator was given but the schedule has no rotator plan")
        self.schedule = schedule
        self.clock = clock
        self.rotator = rotator
        self.radio = radio
        if radio_readback_every < 1:
            raise ValueError(f"radio_readback_every={radio_readback_every}: give 1 or more ticks")
        self.radio_readback_every = radio_readback_every
        self.period_s = 1.0 / rate_hz
        self.deadband_deg = deadband_deg
        self.park_mode = park
        self.log = log
        self.status = status or (lambda _text: None)
        p = schedule.pass_
        self.report = TrackReport(
            satellite=schedule.satellite, station=schedule.station.name, aos_utc=_iso(p.aos_utc),
            los_utc=_iso(p.los_utc), max_el_deg=round(p.max_el_deg, 2),
            mode=schedule.plan.mode if schedule.plan is not None else None, speed=clock.speed, rate_hz=rate_hz,
            plan_max_error_deg=(round(schedule.plan.max_error_deg, 4) if schedule.plan is not None else None))
        self._last_cmd: tuple[float, float] | None = None
        self._last_freq: tuple[int | None, int | None] | None = None
        self._failed_kinds: set[str] = set()
        self._down_until: dict[int, float] = {}  # id(client) -> real time before which it is not called
        self._max_follow = 0.0
        for client in (rotator, radio):
            if client is not None:
                client.on_event = self._client_event
                # the loop cannot wait on a daemon for longer than a tick: a lost connection is retried for at
                # most one period, then every RETRY_UNREACHABLE_S, so the other device is not starved meanwhile
                client.reconnect_s = min(client.reconnect_s, self.period_s)

    # -- bookkeeping -------------------------------------------------------------------------------------------

    def _write(self, record: dict[str, object]) -> None:
        if self.log is not None:
            self.log.write(json.dumps(record, separators=(",", ":")) + "\n")

    def _client_event(self, text: str) -> None:
        self.report.events.append(text)
        self._write({"event": text, "wall": round(time.time(), 3)})
        self.status(text)

    def _call(self, kind: str, fn: Callable[..., object], *args: object) -> tuple[bool, object]:
        """Run one daemon call: (True, its value), or (False, None) after counting, logging and reporting the
        failure (reported once per kind of command; all are logged). Never raises a HamlibError."""
        owner = getattr(fn, "__self__", None)
        if self._down_until.get(id(owner), -math.inf) > self.clock.real():
            self.report.skipped += 1  # its daemon was unreachable a moment ago: do not stall every tick on it
            return False, None
        try:
            return True, fn(*args)
        except HamlibError as e:
            what = "failed"
            if isinstance(e, HamlibUnavailable):
                what = "unreachable"
                self._down_until[id(owner)] = self.clock.real() + RETRY_UNREACHABLE_S
            text = f"{kind} {what}: {e}"
            self._write({"event": text, "wall": round(time.time(), 3)})
            if kind not in self._failed_kinds:
                self._failed_kinds.add(kind)
                self.report.failures.append(text)
                self.status(text)
            return False, None

    # -- actions -----------------------------------------------------------------------------------------------

    def _point(self, az: float, el: float, *, force: bool = False) -> bool:
        """Command the rotator unless the move is inside the deadband; True if the command went through."""
        if self.rotator is None:
            return False
        last = self._last_cmd
        if not force and last is not None:
            step = max(abs(az - last[0]), abs(el - last[1]))
            if step == 0.0 or step < self.deadband_deg:
                return False
        ok, _ = self._call("set_pos", self.rotator.set_position, az, el)
        if ok:  # a failed command is tried again on the next tick
            self._last_cmd = (az, el)
            self.report.commands_sent += 1
        return ok

    def _tune(self, rx: int, tx: int) -> None:
        """Retune whichever VFO changed; a failed one is tried again on the next tick."""
        if self.radio is None:
            return
        last = self._last_freq or (None, None)
        rx_ok = last[0] == rx or self._call("set_freq", self.radio.set_frequency_hz, rx)[0]
        tx_ok = last[1] == tx or self._call("set_split_freq", self.radio.set_tx_frequency_hz, tx)[0]
        self._last_freq = (rx if rx_ok else None, tx if tx_ok else None)  # type: ignore[assignment]

    def _read_rotator(self) -> tuple[float, float, float] | None:
        """(az, el, simulated seconds after AOS when read) or None."""
        if self.rotator is None:
            return None
        ok, pos = self._call("get_pos", self.rotator.position)
        if not ok:
            return None
        az, el = pos  # type: ignore[misc]
        return az, el, self.clock.seconds_after(self.schedule.aos_utc)

    def _read_radio(self) -> tuple[int | None, int | None]:
        if self.radio is None:
            return None, None
        rx = self._call("get_freq", self.radio.frequency_hz)[1]
        tx = self._call("get_split_freq", self.radio.tx_frequency_hz)[1]
        return rx, tx  # type: ignore[return-value]

    # -- the loop ----------------------------------------------------------------------------------------------

    def run(self) -> TrackReport:
        """Wait, pre-position, track, park; Ctrl-C stops the rotator and returns the report so far."""
        try:
            self._run()
        except KeyboardInterrupt:
            self.report.interrupted = True
            self.status("interrupted: stopping the rotator")
            if self.rotator is not None:
                self._call("stop", self.rotator.stop)
        finally:
            for name, client in (("rotator", self.rotator), ("radio", self.radio)):
                if client is not None:
                    setattr(self.report, name, dict(client.counters))
            self.report.max_follow_error_deg = round(self._max_follow, 4) if self.rotator is not None else None
        return self.report

    def _current_position(self, plan: PointingPlan) -> tuple[float, float]:
        """Where the rotator is (its park position when it cannot be read)."""
        read = self._read_rotator()
        if read is None:
            return plan.limits.park_az_deg, plan.limits.park_el_deg
        return read[0], read[1]

    def _run(self) -> None:
        s = self.schedule
        clock = self.clock
        duration = s.duration_s
        start_s = -PREPOSITION_MARGIN_S * clock.speed
        if self.rotator is not None and s.plan is not None:  # __init__ refuses a rotator without a plan
            az0, el0 = self._current_position(s.plan)
            start_s = -s.preposition_lead_s(az0, el0)
        begin = clock.seconds_after(s.aos_utc)
        if begin > duration:
            self.status(f"the pass ended at {_iso(s.pass_.los_utc)}: nothing to track")
            return
        if begin > start_s:
            self.report.preposition_short_s = round(min(begin, 0.0) - start_s, 2)
            self.status(f"the pre-position needs {-start_s / clock.speed:.0f} s before AOS but "
                        + (f"only {-begin / clock.speed:.0f} s are left" if begin < 0 else "the pass has begun")
                        + ": the start of the pass may be missed")
        if begin < start_s:
            self.status(f"waiting {(start_s - begin) / clock.speed:.0f} s for the pre-position "
                        f"(AOS {_iso(s.aos_utc)}, max elevation {s.pass_.max_el_deg:.1f} deg)")
        last_wait_status = clock.real()
        while (now := clock.seconds_after(s.aos_utc)) < start_s:
            if clock.real() - last_wait_status >= WAIT_STATUS_EVERY_S:
                last_wait_status = clock.real()
                self.status(f"AOS in {-now / clock.speed:.0f} s")
            clock.sleep_real(min(1.0, (start_s - now) / clock.speed))
        self.status(f"pre-positioning for AOS {_iso(s.aos_utc)}"
                    + (f": az {s.plan.preposition_az_deg:.1f} el {s.plan.preposition_el_deg:.1f}"
                       if s.plan is not None and self.rotator is not None else ""))
        phase = "preposition"
        next_tick = clock.real()
        track_started: float | None = None
        last_status = clock.real()
        lead = self.period_s * clock.speed  # simulated seconds to the next command
        while True:
            now = clock.seconds_after(s.aos_utc)
            if now > duration:
                break
            if phase == "preposition" and now >= 0.0:
                phase = "track"
                track_started = clock.real()
                self.status(f"AOS: tracking {s.satellite} until {_iso(s.pass_.los_utc)}")
            # where the rotator is, then where it is to go: hamlib's dummy rotator advances its simulated
            # position only when asked for it, and a set_pos restarts its clock from the last position read
            read = self._read_rotator()
            cmd: tuple[float, float] | None = None
            cmd_for = min(max(now + lead, 0.0), duration)
            sent = False
            if self.rotator is not None and s.plan is not None:
                cmd = s.command_at(cmd_for)
                sent = self._point(*cmd)
            freq_for = min(max(now + lead / 2.0, 0.0), duration)
            rx, tx = s.frequencies_at(freq_for)
            self._tune(rx, tx)
            rx_read, tx_read = self._read_radio() if self.report.ticks % self.radio_readback_every == 0 else (None, None)
            record: dict[str, object] = {"phase": phase, "sim_utc": _iso(s.aos_utc + timedelta(seconds=now)),
                                         "sim_s": round(now, 4), "wall": round(time.time(), 3)}
            if cmd is not None:
                record.update(cmd_az=round(cmd[0], 5), cmd_el=round(cmd[1], 5), cmd_for_s=round(cmd_for, 4),
                              sent=sent)
            if read is not None:
                plan_az, plan_el = s.command_at(read[2])
                follow = max(abs(read[0] - plan_az), abs(read[1] - plan_el))
                if phase == "track" and self.report.acquired_s is None and follow <= ACQUIRED_DEG:
                    self.report.acquired_s = round(read[2], 2)
                    if read[2] > lead:
                        self.status(f"on track {read[2]:.0f} s after AOS (the pre-position started late)")
                if self.report.acquired_s is not None:
                    self._max_follow = max(self._max_follow, follow)
                record.update(rot_az=read[0], rot_el=read[1], rot_s=round(read[2], 4),
                              plan_az=round(plan_az, 5), plan_el=round(plan_el, 5), follow_deg=round(follow, 4))
            if self.radio is not None:
                record.update(rx_hz=rx, tx_hz=tx, freq_for_s=round(freq_for, 4), rx_read=rx_read, tx_read=tx_read)
            self._write(record)
            self.report.ticks += 1
            if phase == "track":
                self.report.track_ticks += 1
                if clock.real() - last_status >= STATUS_EVERY_S:
                    last_status = clock.real()
                    self.status(self._status_line(now, cmd, read, rx, tx))
            next_tick += self.period_s
            wait = next_tick - clock.real()
            if wait < -self.period_s:
                self.report.overruns += 1
                next_tick = clock.real()
            elif wait > 0:
                clock.sleep_real(wait)
        if track_started is not None:
            self.report.track_wall_s = clock.real() - track_started
        self.status(f"LOS {_iso(s.pass_.los_utc)}")
        self._park()

    def _status_line(self, now: float, cmd: tuple[float, float] | None, read: tuple[float, float, float] | None,
                     rx: int, tx: int) -> str:
        s = self.schedule
        i = int(np.clip(np.searchsorted(s.t_s, now), 0, len(s.t_s) - 1))
        parts = [f"AOS+{now:.0f} s sat az {s.az_deg[i]:.1f} el {s.el_deg[i]:.1f}"]
        if cmd is not None:
            parts.append(f"cmd {cmd[0]:.1f}/{cmd[1]:.1f}")
        if read is not None:
            parts.append(f"rotator {read[0]:.1f}/{read[1]:.1f}")
        if self.radio is not None:
            parts.append(f"rx {rx / 1e6:.6f} MHz tx {tx / 1e6:.6f} MHz")
        return ", ".join(parts)

    def _park(self) -> None:
        s = self.schedule
        if self.radio is not None:
            self._tune(int(round(s.station.downlink_hz)), int(round(s.station.uplink_hz)))
        if self.rotator is None or s.plan is None:
            return
        limits = s.plan.limits
        if self.park_mode == "rotator":
            self.report.parked = self._call("park", self.rotator.park)[0]
            self.status("parking (the controller's own park, K)")
            self._write({"phase": "park", "command": "K", "wall": round(time.time(), 3)})
            return
        self._point(limits.park_az_deg, limits.park_el_deg, force=True)
        self.status(f"parking at az {limits.park_az_deg:.1f} el {limits.park_el_deg:.1f}")
        last = self._last_cmd or (limits.park_az_deg, limits.park_el_deg)
        real_rates = replace(limits, az_slew_rate_deg_s=limits.az_slew_rate_deg_s * self.clock.speed,
                             el_slew_rate_deg_s=limits.el_slew_rate_deg_s * self.clock.speed)
        read = self._read_rotator()
        start = (read[0], read[1]) if read is not None else last
        try:
            budget = time_to_reach(min(max(start[0], limits.min_az_deg), limits.max_az_deg),
                                   min(max(start[1], limits.min_el_deg), limits.max_el_deg),
                                   limits.park_az_deg, limits.park_el_deg, real_rates) + PARK_EXTRA_S
        except ValueError:
            budget = 360.0 / real_rates.az_slew_rate_deg_s + PARK_EXTRA_S
        deadline = self.clock.real() + budget
        self.report.parked = False
        while self.clock.real() < deadline:
            if read is not None and angle_between_deg(read[0], read[1], limits.park_az_deg,
                                                      limits.park_el_deg) <= PARK_TOLERANCE_DEG:
                self.report.parked = True
                break
            self.clock.sleep_real(0.2)
            read = self._read_rotator()
        self._write({"phase": "park", "parked": self.report.parked, "rot_az": read[0] if read else None,
                     "rot_el": read[1] if read else None, "wall": round(time.time(), 3)})
        if not self.report.parked:
            self.status(f"the rotator did not reach park within {budget:.0f} s")
