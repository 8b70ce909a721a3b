"""The ADCS on board: commands in, the attitude simulation stepped on the on-board clock, housekeeping out.

:class:`AdcsUnit` fills the on-board computer's ADCS slot. With
``simulate=True`` it owns an :class:`spacecraft.adcs.AdcsSimulation` started
at the boot instant (its time is on-board TAI minus boot TAI, its control
rate 10 Hz of on-board time) and steps it whenever the on-board computer
advances; without it, it only records the commanded mode and the target list
(``--no-adcs``: no dynamics, no HK_ADCS).

Commands (mission dictionary, TC[8,1] on the platform APID):

* ``ADCS_SET_MODE`` -- DETUMBLE, SUN_POINTING, NADIR, INERTIAL (holds the
  estimated attitude of the moment), TARGET_TRACKING (flies the target list;
  refused at start when the list is empty).
* ``ADCS_SET_TARGET`` -- the list becomes this one target and tracking starts.
* ``ADCS_ADD_TARGET`` -- one more target at the end of the list (at most
  :data:`protocol.mission.ADCS_MAX_TARGETS`); replans when tracking.
* ``ADCS_CLEAR_TARGETS`` -- empties the list; tracking falls back to nadir.

The list is the imaging plan still to fly: a target leaves it when its window
closes (imaged) or when it has no pass within 24 h (ADCS_TARGET_UNREACHABLE).
Each target is imaged on its first pass above its minimum elevation after the
previous one's, slewing there ``prepoint_s`` (120 s) before the window opens.

Catching up: stepping costs about 0.15 ms of CPU per control step (0.15 % of
one core at ``--speed 1``). When one :meth:`AdcsUnit.catch_up` would need more
than ``max_steps`` steps (the clock runs faster than the CPU can simulate), the
simulation jumps over the oldest part of the gap as if the mode had held
perfectly (``AdcsSimulation.jump_to``) and simulates the newest ``max_steps``;
the skipped on-board time is counted (``skipped_s``) and logged.

Events of the simulation become service 5 events (names in the dictionary)
when the on-board computer takes them with :meth:`AdcsUnit.take_events`; they
carry the on-board time of the step that took them (at most 1 s late).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol.mission import ADCS_MAX_TARGETS, ADCS_MODES
from protocol.pus import FailureCode
from protocol.timecode import tai_s_to_utc

from .services import Refused

__all__ = ["CONTROL_PERIOD_S", "AdcsUnit", "GroundTarget"]

log = logging.getLogger("spacecraft.attitude")

CONTROL_PERIOD_S = 0.1  # 10 Hz of on-board time
BLOCK_S = 120.0  # orbit/environment precomputed per 2 min: a ~25 ms pause every 2 min instead of ~0.3 s every 10
_MODE_NAMES = {code: name for name, code in ADCS_MODES.items()}
_SIM_MODE = {"DETUMBLE": "DETUMBLE", "SUN_POINTING": "SUN_POINTING", "NADIR": "NADIR", "INERTIAL": "INERTIAL_HOLD",
             "TARGET_TRACKING": "TARGET_TRACKING"}  # dictionary name -> spacecraft.adcs.Mode name
_CODE_OF_SIM_MODE = {sim: ADCS_MODES[name] for name, sim in _SIM_MODE.items()}
_ARCSEC_PER_RAD = 180.0 / math.pi * 3600.0
_RPM_PER_RAD_S = 60.0 / (2.0 * math.pi)


@dataclass(frozen=True, slots=True)
class GroundTarget:
    """A target as commanded: the operator's ID and a WGS84 point with its minimum elevation."""

    target_id: int
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    min_elevation_deg: float = 10.0

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> GroundTarget:
        """The target of an ADCS_SET_TARGET / ADCS_ADD_TARGET command's decoded arguments."""
        return cls(int(args["TARGET_ID"]), float(args["LAT"]), float(args["LON"]), float(args["ALT"]),
                   float(args["MIN_ELEVATION"]))


class AdcsUnit:
    """The ADCS slot: commanded mode, target list, and (optionally) the simulation stepped on board."""

    def __init__(self, *, boot_tai_s: float, simulate: bool, seed: int = 0, max_steps: int | None = None,
                 tle: tuple[str, ...] | None = None) -> None:
        self.boot_tai_s = float(boot_tai_s)
        self.mode = ADCS_MODES["DETUMBLE"]  # after boot, as a real spacecraft would
        self.targets: list[GroundTarget] = []
        self.max_steps = max_steps
        self.steps = 0  # control steps simulated
        self.skipped_s = 0.0  # on-board seconds jumped over (CPU could not keep up)
        self.jumps = 0
        self._pending: list[tuple[Any, ...]] = []
        self.sim: Any = None
        if simulate:
            # imported here so that --no-adcs never loads skyfield
            from .adcs import DEFAULT_TLE, AdcsSimulation, Mode, Target

            self._target_cls = Target
            self.sim = AdcsSimulation(tle=tle or DEFAULT_TLE, start_utc=tai_s_to_utc(self.boot_tai_s),
                                      dt_s=CONTROL_PERIOD_S, seed=seed, mode=Mode.DETUMBLE, block_s=BLOCK_S,
                                      record=False)

    @property
    def simulated(self) -> bool:
        """True when the attitude dynamics run on board."""
        return self.sim is not None

    # ------------------------------------------------------------------ time
    def catch_up(self, now_tai_s: float) -> None:
        """Jump over what cannot be simulated within ``max_steps`` before the next advance to ``now_tai_s``."""
        if self.sim is None or self.max_steps is None:
            return
        behind_s = (now_tai_s - self.boot_tai_s) - self.sim.t_s
        budget_s = self.max_steps * CONTROL_PERIOD_S
        if behind_s > budget_s:
            skip_s = behind_s - budget_s
            self.sim.jump_to(self.sim.t_s + skip_s)
            self.skipped_s += skip_s
            self.jumps += 1
            if self.jumps == 1 or self.jumps % 100 == 0:
                log.warning("ADCS behind the on-board clock: %.1f s jumped (%d jumps, %.0f s in all); lower --speed "
                            "or raise --adcs-max-steps for full dynamics", skip_s, self.jumps, self.skipped_s)
            self._collect()

    def advance_to(self, now_tai_s: float) -> None:
        """Simulate up to on-board time ``now_tai_s`` (whole control steps)."""
        if self.sim is None:
            return
        k0 = self.sim.k
        self.sim.run_until(now_tai_s - self.boot_tai_s)
        self.steps += self.sim.k - k0
        self._collect()

    # ------------------------------------------------------------------ commands
    def set_mode(self, code: int) -> None:
        """ADCS_SET_MODE: fly the mode with dictionary code ``code``."""
        name = _MODE_NAMES[code]
        if name == "TARGET_TRACKING":
            if not self.targets:
                raise Refused(FailureCode.WRONG_MODE, "target list empty")
            self._track()
            return
        self._pending.append(("ADCS_MODE_CHANGED", self.mode, code))
        self.mode = code
        if self.sim is not None:
            sim = self.sim
            {"DETUMBLE": sim.detumble, "SUN_POINTING": sim.sun_pointing, "NADIR": sim.nadir,
             "INERTIAL": sim.inertial_hold}[name]()
            self._collect()

    def set_target(self, target: GroundTarget) -> None:
        """ADCS_SET_TARGET: the list becomes ``target``, tracked from now."""
        self.targets = [target]
        self._track()
        if self.sim is not None and not self.sim.plan:
            raise Refused(FailureCode.FUNCTION_FAILED, "no pass within 24 h")

    def add_target(self, target: GroundTarget) -> None:
        """ADCS_ADD_TARGET: append to the list (replan when tracking)."""
        if len(self.targets) >= ADCS_MAX_TARGETS:
            raise Refused(FailureCode.FUNCTION_FAILED, f"target list full ({ADCS_MAX_TARGETS})")
        self.targets.append(target)
        if self.mode == ADCS_MODES["TARGET_TRACKING"]:
            self._track()

    def clear_targets(self) -> None:
        """ADCS_CLEAR_TARGETS: empty the list; tracking falls back to nadir."""
        self.targets = []
        if self.mode == ADCS_MODES["TARGET_TRACKING"]:
            self.set_mode(ADCS_MODES["NADIR"])

    def set_gains(self, *, attitude_gain_per_s: float, rate_gain_per_s: float, integral_gain_per_s2: float,
                  max_slew_rate_deg_s: float) -> None:
        """Service 20: the controller's gains (refused when the outer loop would be faster than half the inner)."""
        if attitude_gain_per_s > rate_gain_per_s / 2:
            raise Refused(FailureCode.ARGUMENT_OUT_OF_RANGE,
                          f"attitude gain {attitude_gain_per_s:g} > rate gain/2")
        if self.sim is not None:
            self.sim.set_gains(dataclasses.replace(
                self.sim.gains, attitude_gain_rad_s=attitude_gain_per_s, rate_gain_per_s=rate_gain_per_s,
                integral_gain_per_s2=integral_gain_per_s2, max_slew_rate_deg_s=max_slew_rate_deg_s))

    def _track(self) -> None:
        self._pending.append(("ADCS_MODE_CHANGED", self.mode, ADCS_MODES["TARGET_TRACKING"]))
        self.mode = ADCS_MODES["TARGET_TRACKING"]
        if self.sim is not None:
            target = self._target_cls
            self.sim.track([target(str(t.target_id), lat_deg=t.lat_deg, lon_deg=t.lon_deg, alt_m=t.alt_m,
                                   min_elevation_deg=t.min_elevation_deg) for t in self.targets])
            self._collect()

    # ------------------------------------------------------------------ events and housekeeping
    def _collect(self) -> None:
        """Translate the simulation's new events; follow mode changes it made on its own (plan complete)."""
        sim = self.sim
        for ev in sim.pop_events():
            kind = ev.kind
            if kind in ("window_open", "window_closed", "target_acquired", "target_lost", "target_unreachable"):
                target_id = int(ev.detail.split()[0].rstrip(":"))
                self._pending.append(("ADCS_" + kind.upper(), target_id))
                if kind in ("window_closed", "target_unreachable"):
                    self._drop(target_id)
            elif kind in ("plan_complete", "star_tracker_outage", "star_tracker_recovered", "wheel_saturation"):
                self._pending.append(("ADCS_" + kind.upper(),))
        code = _CODE_OF_SIM_MODE[sim.mode.name]
        if code != self.mode:
            self._pending.append(("ADCS_MODE_CHANGED", self.mode, code))
            self.mode = code

    def _drop(self, target_id: int) -> None:
        for i, t in enumerate(self.targets):
            if t.target_id == target_id:
                del self.targets[i]
                return

    def take_events(self) -> list[tuple[Any, ...]]:
        """Events since the last call, as (dictionary event name, *auxiliary data)."""
        out, self._pending = self._pending, []
        return out

    def housekeeping(self) -> dict[str, float | int | str]:
        """Engineering values of HK_ADCS (only with the simulation)."""
        sim = self.sim
        if sim is None:
            raise Refused(FailureCode.WRONG_MODE, "ADCS simulation off")
        self._collect()  # the snapshot below takes the simulation's queued events: translate them first
        tm = sim.telemetry()
        target = sim.active_target()
        err = tm.pointing_error_est_deg
        err = 0.0 if not math.isfinite(err) else err
        cov = tm.covariance_diag
        axes = sim.sc.wheels.axes
        h_body = [sum(float(axes[i][j]) * h for i, h in enumerate(tm.wheel_momentum_nms)) for j in range(3)]
        values: dict[str, float | int | str] = {
            "ADCS_CONTROL_MODE": _MODE_NAMES[self.mode],
            "ADCS_TARGET_ID": int(target.name) if target is not None else 0,
            "ADCS_IN_WINDOW": "YES" if tm.in_window else "NO",
            "ADCS_TARGET_COUNT": len(self.targets),
            "ADCS_TARGET_ERROR": err if tm.in_window and target is not None else 0.0,
            "ADCS_POINTING_ERROR": err,
            "ADCS_ATTITUDE_SIGMA": math.sqrt(max(0.0, cov[0] + cov[1] + cov[2])) * _ARCSEC_PER_RAD,
            "ADCS_GYRO_BIAS_SIGMA": math.degrees(math.sqrt(max(0.0, cov[3] + cov[4] + cov[5]))) * 3600.0,
            "ADCS_WHEEL_MOMENTUM": math.sqrt(sum(x * x for x in h_body)) * 1e3,
            "ADCS_STAR_TRACKER": "VALID" if tm.star_tracker_valid else "OUTAGE",
        }
        for i, q in enumerate(tm.q_est):
            values[f"ADCS_Q{i}"] = float(q)
        for axis, w in zip("XYZ", tm.rate_est_rad_s, strict=True):
            values[f"ADCS_RATE_{axis}"] = math.degrees(float(w))
        for i, rpm in enumerate(tm.wheel_speed_rpm, start=1):
            values[f"ADCS_WHEEL_SPEED_{i}"] = round(float(rpm))
        return values

    def imaging_state(self) -> dict[str, Any] | None:
        """Position, attitude (true and estimated), body rate and sun direction now, for the imager (None when
        the dynamics are not simulated)."""
        return None if self.sim is None else self.sim.imaging_state()

    def counters(self) -> dict[str, Any]:
        """What the unit did, as plain JSON data."""
        return {"simulated": self.simulated, "mode": _MODE_NAMES[self.mode], "targets": len(self.targets),
                "steps": self.steps, "skipped_s": round(self.skipped_s, 1), "jumps": self.jumps}
