"""The ADCS as one object: truth dynamics, sensors, MEKF, guidance and control on a fixed control grid.

:class:`AdcsSimulation` is what the spacecraft process steps (``step(dt_s)``)
and what analysis scripts and tests fly (``run(duration_s)``). Time is
seconds since ``start_utc`` on a grid of ``dt_s`` (10 Hz by default); the
orbit and environment are precomputed with skyfield for blocks of
``block_s`` seconds, references for the active pointing law likewise, and
the per-step work is plain Python on floats.

Modes (:class:`~spacecraft.adcs.guidance.Mode`): ``detumble()``,
``sun_pointing()``, ``nadir()``, ``inertial_hold(q)``, ``track(targets)``.
Tracking follows an imaging plan: each target in order gets its next window
above its minimum elevation (or ``dwell_s`` of it); the spacecraft slews to
a target ``prepoint_s`` before its window opens, holds the boresight on it
through the window, then slews to the next; after the last it returns to
nadir. Events (mode changes, windows, target acquired/lost, star-tracker
outages, wheel saturation) are queued with their time and returned by
:meth:`AdcsSimulation.telemetry` and :meth:`AdcsSimulation.pop_events`.

With ``sensor_noise=False`` the sensors are perfect and the controller is
given the true state (the MEKF is bypassed): the controller's own floor.

Estimation with noise: the MEKF propagates with the gyro and takes the
star tracker at its rate (10 Hz by default), every head that sees stars
fused into one update; the controller gets the MEKF attitude and the body
rate of :class:`~spacecraft.adcs.estimation.RateFilter` (momentum-predicted
from the wheel tachometers and the commanded magnetorquer torque, pulled
toward the bias-corrected gyro with ``rate_filter_gain`` per step; 1.0
gives the raw gyro). The filter assumes the configured inertia; the
benchmark shows what a 5 % error in it costs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from .control import AttitudeController, ControlGains
from .dynamics import AttitudeState, Dynamics, SpacecraftConfig
from .environment import DEFAULT_TLE, OMEGA_EARTH_RAD_S, R_EARTH_MEAN_M, Orbit
from .estimation import Mekf, RateFilter, head_fusion
from .guidance import (
    Mode,
    PassWindow,
    Target,
    find_windows,
    nadir_dcm,
    reference_from_dcm,
    sun_dcm,
    target_geometry,
    tracking_dcm,
    triad_dcm,
)
from .quaternion import dcm_f, qmul_f, qnormalize_f, qrot_f
from .sensors import ARCSEC_RAD, SensorConfig, SensorNoise

__all__ = ["AdcsSimulation", "AdcsTelemetry", "AdcsEvent", "PlanEntry"]


@dataclass(frozen=True)
class AdcsEvent:
    """Something the ADCS reports once: a mode change, a window, a lost target..."""

    t_s: float
    kind: str  # mode_changed, window_open, window_closed, target_acquired, target_lost, plan_complete,
    # target_unreachable, star_tracker_outage, star_tracker_recovered, wheel_saturation
    detail: str = ""


@dataclass(frozen=True)
class PlanEntry:
    """One target of the imaging plan with the interval it is tracked in."""

    target: Target
    window: PassWindow
    start_s: float
    end_s: float


@dataclass(frozen=True)
class AdcsTelemetry:
    """Snapshot of the ADCS: what housekeeping carries, plus the simulation's truth."""

    t_s: float
    utc: datetime
    mode: Mode
    target: str | None
    in_window: bool
    q_est: tuple[float, float, float, float]  # body -> GCRS, scalar first
    rate_est_rad_s: tuple[float, float, float]
    pointing_error_est_deg: float  # what the spacecraft believes
    covariance_diag: tuple[float, ...]  # MEKF: rad² ×3, (rad/s)² ×3
    wheel_speed_rpm: tuple[float, ...]
    wheel_momentum_nms: tuple[float, ...]
    body_momentum_nms: tuple[float, float, float]
    in_eclipse: bool
    star_tracker_valid: bool
    wheels_saturated: bool
    events: tuple[AdcsEvent, ...]
    # truth, available because this is a simulation
    q_true: tuple[float, float, float, float]
    rate_true_rad_s: tuple[float, float, float]
    pointing_error_deg: float
    target_elevation_deg: float | None = None


@dataclass
class _Block:
    index: int
    k0: int
    n: int
    env: object
    r: list
    v_rel: list
    sun: list
    eclipse: list
    b: list
    rho: list
    noise: dict
    refs: dict = field(default_factory=dict)


class AdcsSimulation:
    """Attitude determination and control of one spacecraft, stepped on a fixed grid."""

    def __init__(
        self,
        *,
        tle: tuple[str, ...] = DEFAULT_TLE,
        start_utc: datetime | None = None,
        dt_s: float = 0.1,
        seed: int = 0,
        spacecraft: SpacecraftConfig | None = None,
        sensors: SensorConfig | None = None,
        gains: ControlGains | None = None,
        sensor_noise: bool = True,
        mode: Mode = Mode.NADIR,
        initial_rate_rad_s: tuple[float, float, float] = (0.0, 0.0, 0.0),
        initial_q: tuple[float, float, float, float] | None = None,
        block_s: float = 600.0,
        prepoint_s: float = 120.0,
        acquire_deg: float = 0.05,
        lost_deg: float = 0.5,
        record: bool = True,
        rate_filter_gain: float = 0.03,
    ) -> None:
        if dt_s <= 0:
            raise ValueError(f"dt_s must be > 0, got {dt_s}")
        self.orbit = Orbit(tle, start_utc=start_utc)
        self.dt_s = float(dt_s)
        self.sc = spacecraft or SpacecraftConfig()
        self.sensor_config = sensors or SensorConfig()
        self.gains = gains or ControlGains()
        self.sensor_noise = sensor_noise
        self.dynamics = Dynamics(self.sc)
        self.controller = AttitudeController(self.sc, self.gains, self.dt_s)
        self.noise = SensorNoise(self.sensor_config, self.dt_s, seed=seed, enabled=sensor_noise)
        self.block_n = max(1, int(round(block_s / self.dt_s)))
        self.prepoint_s = prepoint_s
        self.acquire_deg = acquire_deg
        self.lost_deg = lost_deg
        self.record = record
        self.k = 0
        self._block: _Block | None = None
        self._last_ref_key = self._last_ref_block = self._last_ref = None  # _ref_table's one-entry cache
        self._events: list[AdcsEvent] = []
        self._all_events: list[AdcsEvent] = []
        self._hist: list[tuple] = []
        self.mode = mode
        self._inertial_q = (1.0, 0.0, 0.0, 0.0)
        self.plan: list[PlanEntry] = []
        self._plan_keys: list[tuple] = []
        self._plan_idx = 0
        self._in_window = False
        self._acquired = False
        self._st_valid = True
        self._saturated = False
        self._err_deg = float("nan")
        self._err_est_deg = float("nan")
        self._elev = None
        self._b_prev = None
        st = self.sensor_config.star_tracker
        # each star-tracker head: frame with z on its boresight; noise (cross, cross, roll) in body axes
        sig = np.array([st.noise_cross_arcsec, st.noise_cross_arcsec, st.noise_roll_arcsec]) * ARCSEC_RAD
        self._heads = []
        for bore in self.sc.star_tracker_heads_body:
            ref = (1.0, 0.0, 0.0) if abs(bore[0]) < 0.9 else (0.0, 1.0, 0.0)
            c_bs = triad_dcm(np.array([bore]), np.array([ref]), (0.0, 0.0, 1.0), (1.0, 0.0, 0.0))[0]
            self._heads.append((tuple(float(x) for x in bore), c_bs, c_bs @ np.diag(sig**2) @ c_bs.T))
        # heads seen at the same instant are fused into one MEKF update; (R, weights) per set of heads
        self._fusion: dict[tuple[int, ...], tuple] = {}
        self._st_every = max(1, int(round(1.0 / (st.rate_hz * self.dt_s))))
        self._bore = tuple(float(x) for x in self.sc.boresight_body)
        self._panel = tuple(float(x) for x in self.sc.panel_normal_body)
        self._residual_dipole = tuple(float(x) for x in self.sc.residual_dipole_am2)
        self._cos_sun_excl = math.cos(math.radians(st.sun_exclusion_deg))
        self._earth_excl_rad = math.radians(st.earth_exclusion_deg)
        # initial truth
        self._load_block(0)
        q0 = initial_q if initial_q is not None else self._reference_q(0, Mode.NADIR)
        h0 = self.controller.null_bias
        self.state = AttitudeState(qnormalize_f(tuple(q0)), tuple(initial_rate_rad_s), tuple(h0))
        g = self.sensor_config.gyro
        self.mekf = Mekf(
            self.state.q,
            attitude_sigma_rad=math.radians(0.01),
            bias_sigma_rad_s=math.radians(max(g.turn_on_bias_deg_s, 1e-4)),
            arw_rad_sqrt_s=math.radians(g.arw_deg_sqrt_h) / 60.0,
            bias_rw_rad_s_sqrt_s=math.radians(g.bias_rw_deg_s_sqrt_s),
        )
        self._last_gyro = tuple(initial_rate_rad_s)
        # the controller's body rate: momentum-predicted, gyro-corrected (rate_filter_gain 1 = raw gyro)
        self.rate_filter = RateFilter(self.sc.inertia(), self.sc.wheels.axes, gain=rate_filter_gain)
        self._tau_known = (0.0, 0.0, 0.0)
        self._dipole = (0.0, 0.0, 0.0)

    # --- time and environment ---------------------------------------------------------------

    @property
    def t_s(self) -> float:
        """Simulation time, seconds since ``start_utc``."""
        return self.k * self.dt_s

    @property
    def utc(self) -> datetime:
        """Simulation time as a UTC datetime."""
        return self.orbit.start_utc + timedelta(seconds=self.t_s)

    def _load_block(self, index: int) -> None:
        n = self.block_n
        k0 = index * n
        t = (np.arange(k0 - 1, k0 + n + 1)) * self.dt_s
        env = self.orbit.sample(t)
        r = env.r_m
        # velocity relative to the co-rotating atmosphere
        v_rel = env.v_m_s - np.cross(np.array([0.0, 0.0, OMEGA_EARTH_RAD_S]), r)
        noise = self.noise.block(n, heads=len(self._heads))
        if self.sensor_noise:
            # each head's error as a body-frame rotation quaternion, built here for the whole block
            st_q = []
            for j, (_, c_bs, _) in enumerate(self._heads):
                v = noise["st"][j] @ c_bs.T
                half = 0.5 * np.linalg.norm(v, axis=1, keepdims=True)
                with np.errstate(invalid="ignore", divide="ignore"):
                    sinc = np.where(half > 0, np.sin(half) / np.where(half > 0, 2.0 * half, 1.0), 0.5)
                st_q.append(list(map(tuple, np.hstack([np.cos(half), sinc * v]).tolist())))
            noise["st"] = st_q
        self._block = _Block(
            index, k0, n, env,
            list(map(tuple, r.tolist())), list(map(tuple, v_rel.tolist())), list(map(tuple, env.sun_unit.tolist())),
            env.in_eclipse.tolist(), list(map(tuple, env.b_t.tolist())), env.density_kg_m3.tolist(), noise,
        )

    def _ensure_block(self) -> _Block:
        b = self._block
        if b is None or not (b.k0 <= self.k < b.k0 + b.n):
            self._load_block(self.k // self.block_n)
            b = self._block
        return b

    def _ref_table(self, key) -> tuple[list, list, list, list | None]:
        """Reference lists (q, ω, α, elevation or None) on the current block for a pointing law key."""
        blk = self._block
        if key is self._last_ref_key and blk is self._last_ref_block:
            return self._last_ref
        hit = blk.refs.get(key)
        if hit is not None:
            self._last_ref_key, self._last_ref_block, self._last_ref = key, blk, hit
            return hit
        env = blk.env
        bore, panel = self.sc.boresight_body, self.sc.panel_normal_body
        elev = None
        if key == "nadir":
            dcm = nadir_dcm(env, boresight_body=bore, panel_body=panel)
        elif key == "sun":
            dcm = sun_dcm(env, boresight_body=bore, panel_body=panel)
        elif key == "inertial":
            q = self._inertial_q
            n = blk.n
            table = ([q] * n, [(0.0, 0.0, 0.0)] * n, [(0.0, 0.0, 0.0)] * n, None)
            blk.refs[key] = table
            return table
        else:
            target = key[1]
            dcm = tracking_dcm(env, target, boresight_body=bore, panel_body=panel)
            _, el = target_geometry(env, target)
            elev = el[1:-1].tolist()
        ref = reference_from_dcm(dcm, self.dt_s)
        table = (
            list(map(tuple, ref.q.tolist())),
            list(map(tuple, ref.omega_rad_s.tolist())),
            list(map(tuple, ref.alpha_rad_s2.tolist())),
            elev,
        )
        blk.refs[key] = table
        return table

    def _reference_q(self, k: int, mode: Mode) -> tuple[float, float, float, float]:
        self._ensure_block()
        key = {Mode.SUN_POINTING: "sun", Mode.INERTIAL_HOLD: "inertial"}.get(mode, "nadir")
        return self._ref_table(key)[0][k - self._block.k0]

    # --- modes ------------------------------------------------------------------------------

    def _set_mode(self, mode: Mode, detail: str = "") -> None:
        if mode != self.mode or detail:
            self._emit("mode_changed", f"{self.mode.name} -> {mode.name}" + (f" ({detail})" if detail else ""))
        self.mode = mode
        self.controller.reset()
        self._b_prev = None

    def detumble(self) -> None:
        """B-dot detumbling (with wheel rate damping unless the gains disable it)."""
        self._set_mode(Mode.DETUMBLE)

    def sun_pointing(self) -> None:
        """Power-safe mode: solar panel normal on the sun."""
        self._set_mode(Mode.SUN_POINTING)

    def nadir(self) -> None:
        """Boresight on nadir, panels along-track."""
        self._set_mode(Mode.NADIR)

    def inertial_hold(self, q: tuple[float, float, float, float] | None = None) -> None:
        """Hold attitude ``q`` (body -> GCRS), or the current estimated attitude."""
        self._inertial_q = qnormalize_f(tuple(q) if q is not None else self.mekf.q)
        if self._block is not None:
            self._block.refs.pop("inertial", None)
        self._last_ref_key = None
        self._set_mode(Mode.INERTIAL_HOLD)

    def track(self, targets: list[Target] | Target, *, horizon_s: float = 86400.0) -> list[PlanEntry]:
        """Fly an imaging plan: each target's next window in turn; returns the plan."""
        if isinstance(targets, Target):
            targets = [targets]
        plan = []
        cursor = self.t_s
        for target in targets:
            wins = [w for w in find_windows(self.orbit, target, start_s=cursor, duration_s=horizon_s) if w.end_s > cursor]
            if not wins:
                self._emit("target_unreachable", f"{target.name}: no window above {target.min_elevation_deg} deg in {horizon_s:.0f} s")
                continue
            w = wins[0]
            start = max(w.start_s, cursor)
            end = w.end_s if target.dwell_s is None else min(w.end_s, start + target.dwell_s)
            plan.append(PlanEntry(target, w, start, end))
            cursor = end
        self.plan = plan
        self._plan_keys = [("target", p.target) for p in plan]  # one key object per entry: cheap cache hits
        self._plan_idx = 0
        self._in_window = False
        self._acquired = False
        self._set_mode(Mode.TARGET_TRACKING, ", ".join(p.target.name for p in plan) or "empty plan")
        return plan

    def set_gains(self, gains: ControlGains) -> None:
        """Fly with new controller gains from the next step on (the integrator restarts)."""
        self.gains = gains
        self.controller.gains = gains  # the controller reads its gains every step; only the null bias is cached
        self.controller.reset()

    def find_windows(self, target: Target, *, start_s: float | None = None, duration_s: float = 86400.0) -> list[PassWindow]:
        """Windows of ``target`` above its minimum elevation, seconds since ``start_utc``."""
        return find_windows(self.orbit, target, start_s=self.t_s if start_s is None else start_s, duration_s=duration_s)

    # --- events and telemetry ---------------------------------------------------------------

    def _emit(self, kind: str, detail: str = "") -> None:
        ev = AdcsEvent(self.t_s, kind, detail)
        self._events.append(ev)
        self._all_events.append(ev)

    def pop_events(self) -> list[AdcsEvent]:
        """Events since the last call (or the last telemetry snapshot)."""
        out, self._events = self._events, []
        return out

    @property
    def events(self) -> list[AdcsEvent]:
        """Every event of the run so far."""
        return list(self._all_events)

    def active_target(self) -> Target | None:
        """The target being tracked or pre-pointed at, if any."""
        if self.mode == Mode.TARGET_TRACKING and self._plan_idx < len(self.plan):
            return self.plan[self._plan_idx].target
        return None

    def imaging_state(self) -> dict[str, np.ndarray]:
        """What a camera needs at this instant: position (GCRS, m), the GCRS->ITRS rotation, the unit vector to
        the sun (GCRS), the true and the estimated attitude quaternions and the true body rate (rad/s)."""
        blk = self._ensure_block()
        i = self.k - blk.k0 + 1  # blocks carry one margin point before k0
        st = self.state
        return {"r_gcrs_m": np.array(blk.r[i]), "gcrs_to_itrs": np.array(blk.env.gcrs_to_itrs[i]),
                "sun_unit_gcrs": np.array(blk.sun[i]), "q_true": np.array(st.q),
                "q_est": np.array(self.mekf.q if self.sensor_noise else st.q),
                "rate_true_rad_s": np.array(st.omega_rad_s)}

    def telemetry(self) -> AdcsTelemetry:
        """Snapshot for housekeeping (and the truth); takes the queued events."""
        st = self.state
        w = self.sc.wheels
        tgt = self.active_target()
        h_body = self.dynamics.body_momentum_nms(st)
        blk = self._ensure_block()
        i = self.k - blk.k0
        return AdcsTelemetry(
            t_s=self.t_s,
            utc=self.utc,
            mode=self.mode,
            target=tgt.name if tgt else None,
            in_window=self._in_window,
            q_est=self.mekf.q if self.sensor_noise else st.q,
            rate_est_rad_s=(self.rate_filter.omega_rad_s or self.mekf.rate_rad_s(self._last_gyro)) if self.sensor_noise else st.omega_rad_s,
            pointing_error_est_deg=self._err_est_deg,
            covariance_diag=self.mekf.covariance_diagonal(),
            wheel_speed_rpm=tuple(h / w.rotor_inertia_kg_m2 * 60.0 / (2 * math.pi) for h in st.h_wheels_nms),
            wheel_momentum_nms=tuple(st.h_wheels_nms),
            body_momentum_nms=tuple(float(x) for x in h_body),
            in_eclipse=bool(blk.eclipse[i + 1]),
            star_tracker_valid=self._st_valid,
            wheels_saturated=self._saturated,
            events=tuple(self.pop_events()),
            q_true=st.q,
            rate_true_rad_s=st.omega_rad_s,
            pointing_error_deg=self._err_deg,
            target_elevation_deg=self._elev,
        )

    def history(self) -> dict[str, np.ndarray]:
        """Recorded run, one row per control step: t_s, q_true (N,4), q_est, omega_rad_s (N,3),
        h_wheels_nms (N,n), motor_nm (N,n), pointing_error_deg, pointing_error_est_deg, mode,
        target_index (-1 none), in_window, star_tracker_valid, saturated, elevation_deg."""
        if not self._hist:
            return {}
        cols = list(zip(*self._hist))
        names = ["t_s", "q_true", "q_est", "omega_rad_s", "h_wheels_nms", "motor_nm", "pointing_error_deg",
                 "pointing_error_est_deg", "mode", "target_index", "in_window", "star_tracker_valid", "saturated",
                 "elevation_deg"]
        out = {name: np.array(col, dtype=float) for name, col in zip(names, cols)}
        for b in ("in_window", "star_tracker_valid", "saturated"):
            out[b] = out[b].astype(bool)
        out["mode"] = out["mode"].astype(int)
        out["target_index"] = out["target_index"].astype(int)
        return out

    def clear_history(self) -> None:
        """Drop the recorded rows (keeps memory flat on long runs)."""
        self._hist = []

    # --- running ----------------------------------------------------------------------------

    def run(self, duration_s: float) -> None:
        """Advance by ``duration_s`` (rounded to whole control steps)."""
        for _ in range(int(round(duration_s / self.dt_s))):
            self._step_once()

    def step(self, dt_s: float) -> None:
        """Advance by the on-board elapsed time ``dt_s`` (what the spacecraft process calls)."""
        self.run(dt_s)

    def run_until(self, t_s: float) -> None:
        """Advance to ``t_s`` seconds since start."""
        self.run(max(0.0, t_s - self.t_s))

    def jump_to(self, t_s: float) -> None:
        """Move the clock to ``t_s`` without simulating, as if the current mode had held perfectly."""
        self.k = int(round(t_s / self.dt_s))
        self._ensure_block()
        i = self.k - self._block.k0
        key = self._ref_key(self.t_s)
        if key is None:
            q, w = self.state.q, self.state.omega_rad_s
        else:
            table = self._ref_table(key)
            q, w = table[0][i], table[1][i]
        self.state = AttitudeState(q, w, self.state.h_wheels_nms)
        self.mekf.reset_attitude(q)
        self._last_gyro = w
        self._b_prev = None
        self.rate_filter.reset()

    def _ref_key(self, t: float):
        mode = self.mode
        if mode == Mode.TARGET_TRACKING:
            if self._plan_idx >= len(self.plan):
                return "nadir"
            entry = self.plan[self._plan_idx]
            if t >= entry.start_s - self.prepoint_s:
                return self._plan_keys[self._plan_idx]
            return "nadir"
        return _MODE_KEYS.get(mode)

    def _advance_plan(self, t: float) -> None:
        while self._plan_idx < len(self.plan) and t >= self.plan[self._plan_idx].end_s:
            if self._in_window:
                self._emit("window_closed", self.plan[self._plan_idx].target.name)
            self._plan_idx += 1
            self._in_window = False
            self._acquired = False
            self.controller.reset()
        if self._plan_idx >= len(self.plan):
            self._emit("plan_complete")
            self.mode = Mode.NADIR
            self._emit("mode_changed", "TARGET_TRACKING -> NADIR (plan complete)")
            return
        entry = self.plan[self._plan_idx]
        if not self._in_window and t >= entry.start_s:
            self._in_window = True
            self._emit("window_open", entry.target.name)

    def _fusion_for(self, heads: tuple[int, ...]) -> tuple:
        hit = self._fusion.get(heads)
        if hit is None:
            hit = self._fusion[heads] = head_fusion([self._heads[j][2] for j in heads])
        return hit

    def _step_once(self) -> None:
        blk = self._block
        k = self.k
        i = k - blk.k0
        if not 0 <= i < blk.n:
            blk = self._ensure_block()
            i = k - blk.k0
        t = k * self.dt_s
        dt = self.dt_s
        st = self.state
        q, w, h = st.q, st.omega_rad_s, st.h_wheels_nms
        # body -> GCRS rotation matrix of the true attitude, used for every vector this step
        c00, c01, c02, c10, c11, c12, c20, c21, c22 = dcm_f(q)
        rx, ry, rz = blk.r[i + 1]
        ex_, ey_, ez_ = blk.b[i + 1]
        b_b = (c00 * ex_ + c10 * ey_ + c20 * ez_, c01 * ex_ + c11 * ey_ + c21 * ez_, c02 * ex_ + c12 * ey_ + c22 * ez_)
        noise = blk.noise
        noisy = self.sensor_noise
        mekf = self.mekf
        # --- sensors
        if noisy:
            gn = noise["gyro"][i]
            gyro = (w[0] + gn[0], w[1] + gn[1], w[2] + gn[2])
            mn = noise["mag"][i]
            mag = (b_b[0] + mn[0], b_b[1] + mn[1], b_b[2] + mn[2])
            if k:
                # gyro rate over the last step: the mean of its two ends (the rate is linear in
                # time under the held torques), so the propagation has no O(dt²) lag
                g0 = self._last_gyro
                mekf.propagate((0.5 * (g0[0] + gyro[0]), 0.5 * (g0[1] + gyro[1]), 0.5 * (g0[2] + gyro[2])), dt)
        else:
            gyro, mag = w, b_b
        st_valid = self._st_valid
        if k % self._st_every == 0:
            sx, sy, sz = blk.sun[i + 1]
            rn = math.sqrt(rx * rx + ry * ry + rz * rz)
            # a head sees the Earth when its angle from nadir is below the limb angle plus the margin
            cos_limit = math.cos(math.asin(R_EARTH_MEAN_M / rn) + self._earth_excl_rad)
            dark = blk.eclipse[i + 1]
            why = ""
            seen = []
            for j, (hb, _, _) in enumerate(self._heads):
                h0, h1, h2 = hb
                bx = c00 * h0 + c01 * h1 + c02 * h2
                by = c10 * h0 + c11 * h1 + c12 * h2
                bz = c20 * h0 + c21 * h1 + c22 * h2
                if not dark and (bx * sx + by * sy + bz * sz) > self._cos_sun_excl:
                    why = "sun in exclusion cone"
                    continue
                if -(bx * rx + by * ry + bz * rz) / rn > cos_limit:
                    why = why or "Earth in exclusion cone"
                    continue
                seen.append(j)
            st_valid = bool(seen)
            # --- estimation: every head that sees stars, in one update
            if noisy and seen:
                st_noise = noise["st"]
                meas = [qmul_f(q, st_noise[j][i]) for j in seen]
                mekf.update_heads(meas, self._fusion_for(tuple(seen)))
            if st_valid != self._st_valid:
                self._emit("star_tracker_recovered" if st_valid else "star_tracker_outage", why)
                self._st_valid = st_valid
        if noisy:
            q_est = mekf.q
            w_est = self.rate_filter.update(mekf.rate_rad_s(gyro), h, dt_s=dt, torque_nm=self._tau_known)
        else:
            q_est, w_est = q, w
            mekf.q = q
        # --- guidance
        if self.mode == Mode.TARGET_TRACKING:
            self._advance_plan(t)
        key = self._ref_key(t)
        elev = None
        if key is None:  # detumble
            if self._b_prev is None:
                self._b_prev = mag
            out = self.controller.detumble(w_est, h, mag, self._b_prev)
            self._b_prev = mag
            err = err_est = float("nan")
        else:
            qr_l, wr_l, ar_l, el_l = self._ref_table(key)
            qr = qr_l[i]
            out = self.controller.pointing(q_est, w_est, h, qr, wr_l[i], ar_l[i], mag)
            p = self._bore if key != "sun" else self._panel
            pr = qrot_f(qr, p)
            px, py, pz = p
            err = _angle_deg((c00 * px + c01 * py + c02 * pz, c10 * px + c11 * py + c12 * pz,
                              c20 * px + c21 * py + c22 * pz), pr)
            err_est = _angle_deg(qrot_f(q_est, p), pr)
            if el_l is not None:
                elev = el_l[i]
            if self._in_window and key != "nadir":
                if not self._acquired and err_est < self.acquire_deg:
                    self._acquired = True
                    self._emit("target_acquired", f"{key[1].name} error {err_est:.4f} deg")
                elif self._acquired and err_est > self.lost_deg:
                    self._acquired = False
                    self._emit("target_lost", f"{key[1].name} error {err_est:.3f} deg")
        if out.saturated != self._saturated:
            if out.saturated:
                self._emit("wheel_saturation", "torque limit")
            self._saturated = out.saturated
        # --- torques and dynamics
        dyn = self.dynamics
        m = out.dipole_am2
        rb = self._residual_dipole
        mx, my, mz = m[0] + rb[0], m[1] + rb[1], m[2] + rb[2]
        bx, by, bz = b_b
        r_b = (c00 * rx + c10 * ry + c20 * rz, c01 * rx + c11 * ry + c21 * rz, c02 * rx + c12 * ry + c22 * rz)
        vx, vy, vz = blk.v_rel[i + 1]
        v_b = (c00 * vx + c10 * vy + c20 * vz, c01 * vx + c11 * vy + c21 * vz, c02 * vx + c12 * vy + c22 * vz)
        gg = dyn.gravity_gradient_nm(r_b)
        aero = dyn.aero_nm(v_b, blk.rho[i + 1])
        tau = (
            gg[0] + aero[0] + (my * bz - mz * by),
            gg[1] + aero[1] + (mz * bx - mx * bz),
            gg[2] + aero[2] + (mx * by - my * bx),
        )
        # what the rate filter knows of it: the commanded dipole on the measured field
        m0, m1, m2 = m
        g0_, g1_, g2_ = mag
        self._tau_known = (m1 * g2_ - m2 * g1_, m2 * g0_ - m0 * g2_, m0 * g1_ - m1 * g0_)
        if self.record:
            self._hist.append((t, q, q_est, w, h, out.motor_nm, err, err_est, int(self.mode),
                               self._plan_idx if key is not None and key not in ("nadir", "sun", "inertial") else -1,
                               self._in_window, st_valid, out.saturated, elev if elev is not None else _NAN))
        self._err_deg, self._err_est_deg, self._elev = err, err_est, elev
        self.state = dyn.step(st, dt, out.motor_nm, tau)
        self._last_gyro = gyro
        self.k = k + 1


_NAN = float("nan")
_MODE_KEYS = {Mode.NADIR: "nadir", Mode.SUN_POINTING: "sun", Mode.INERTIAL_HOLD: "inertial"}


def _angle_deg(a, b) -> float:
    """Angle between two unit vectors, degrees (accurate at small angles)."""
    cx = a[1] * b[2] - a[2] * b[1]
    cy = a[2] * b[0] - a[0] * b[2]
    cz = a[0] * b[1] - a[1] * b[0]
    return math.degrees(math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), a[0] * b[0] + a[1] * b[1] + a[2] * b[2]))
