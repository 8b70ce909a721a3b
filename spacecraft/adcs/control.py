"""Attitude control: saturation-aware quaternion feedback with feed-forward, wheel allocation, dumping, B-dot.

Pointing (every mode but detumble) is a cascade run at the control rate:

1. attitude error ``θ`` (rotation vector, body axes) from ``q_ref* ⊗ q``;
2. a rate command ``ω_cmd = ω_ref − s(|θ|) θ̂ − k_i ∫θ``, where ``s`` is
   linear near zero (gain ``attitude_gain_rad_s``) and a square-root
   profile ``sqrt(2 a |θ|)`` further out, ``a`` being the acceleration the
   wheels can actually give about that eigen-axis and capped by the rate
   the wheels' momentum allows -- a near-time-optimal eigen-axis slew that
   never asks for more than the wheels have, so there is nothing to wind up;
3. a torque ``τ = J (k_r (ω_cmd − ω) + α_ff) + ω × (J ω + A h)`` with the
   reference acceleration carried into body axes as feed-forward;
4. allocation to the wheels by the pseudo-inverse, plus a null-space term
   that keeps the four wheels at a bias speed (no zero crossings), plus
   friction compensation; if any wheel would exceed its torque limit the
   whole vector is scaled so the body torque keeps its direction, and the
   integrator is frozen while that happens (anti-windup).

Momentum dumping: magnetorquer dipole ``m = k (h × B)/|B|²`` gives the
torque ``−k h⊥`` that drains the wheels' stored momentum. Detumble: B-dot
(``m = −k dB/dt``, scaled to the dipole limit) and, by default, the wheels
damping the body rate while its momentum fits in them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .dynamics import SpacecraftConfig
from .quaternion import dcm_f, qconj_f, qmul_f, rotvec_from_quat_f

__all__ = ["ControlGains", "AttitudeController", "ControlOutput"]


@dataclass(frozen=True)
class ControlGains:
    """Gains and limits of the attitude controller."""

    attitude_gain_rad_s: float = 1.5  # rate command per rad of error, linear region
    rate_gain_per_s: float = 5.0  # rate loop bandwidth
    integral_gain_per_s2: float = 0.3
    integral_zone_deg: float = 0.5  # integrate only this close to the reference
    accel_margin: float = 0.75  # fraction of the wheels' torque the slew profile plans with
    momentum_margin: float = 0.6  # fraction of the wheels' momentum the slew rate may use
    max_slew_rate_deg_s: float = 6.0
    dump_gain_per_s: float = 2.0e-3
    null_bias_nms: float = 3.0e-3  # wheel bias momentum along the null space
    null_gain_per_s: float = 0.02
    bdot_gain: float = 2.0e5  # A·m² per T/s
    detumble_rate_gain_per_s: float = 0.3
    detumble_with_wheels: bool = True


class ControlOutput(NamedTuple):
    """Actuator commands for one control period (a named tuple: built every step, cheaply)."""

    motor_nm: tuple[float, ...]
    dipole_am2: tuple[float, float, float]
    saturated: bool


def _clip_dipole(m, m_max: float) -> tuple[float, float, float]:
    big = max(abs(m[0]), abs(m[1]), abs(m[2]))
    if big > m_max:
        k = m_max / big
        return (m[0] * k, m[1] * k, m[2] * k)
    return (m[0], m[1], m[2])


class AttitudeController:
    """Wheel and magnetorquer commands from the estimated state and a reference, on Python floats."""

    def __init__(self, spacecraft: SpacecraftConfig, gains: ControlGains, dt_s: float) -> None:
        self.sc = spacecraft
        self.gains = gains
        self.dt_s = dt_s
        j = spacecraft.inertia()
        a = np.asarray(spacecraft.wheels.axes, dtype=float).T  # 3 x n
        # nested tuples of Python floats (via tolist): numpy scalars would leak into every per-step
        # float and make each multiplication ~10x slower
        self.j = tuple(map(tuple, j.tolist()))
        self.a = tuple(map(tuple, a.T.tolist()))  # per wheel axis
        self.a_pinv = tuple(map(tuple, np.linalg.pinv(a).tolist()))  # n x 3
        null = np.eye(a.shape[1]) - np.linalg.pinv(a) @ a
        self.null = tuple(map(tuple, null.tolist()))
        # an orthonormal basis of the null space (one vector for a 4-wheel pyramid): N d = Σ n (n·d)
        ev, evec = np.linalg.eigh(null)
        self._null_basis = tuple(tuple(evec[:, i].tolist()) for i in range(len(ev)) if ev[i] > 0.5)
        # lower bounds over all axes of what _axis_limits returns (before the gains' margins):
        # below them the slew profile is in its linear region and the limits need not be computed
        pinv = np.linalg.pinv(a)
        jmax = float(np.linalg.eigvalsh(j).max())
        self._accel_floor = spacecraft.wheels.max_torque_nm / (float(np.linalg.norm(pinv, axis=1).max()) * jmax)
        self._rate_floor = spacecraft.wheels.max_momentum_nms / float(np.linalg.norm(pinv @ j, axis=1).max())
        # null-space bias direction: the unit vector spanning the null space (4 wheels)
        if a.shape[1] > 3:
            w, v = np.linalg.eigh(null)
            nb = v[:, -1] * np.sign(v[0, -1] or 1.0)
            self.null_bias = tuple((gains.null_bias_nms * nb).tolist())
        else:
            self.null_bias = tuple([0.0] * a.shape[1])
        self.integral = (0.0, 0.0, 0.0)
        self.wheels = spacecraft.wheels

    def reset(self) -> None:
        """Forget the integrator (on a mode or target change)."""
        self.integral = (0.0, 0.0, 0.0)

    def _axis_limits(self, ex: float, ey: float, ez: float) -> tuple[float, float]:
        """Acceleration (rad/s²) and rate (rad/s) available about unit body axis e."""
        (j00, j01, j02), (j10, j11, j12), (j20, j21, j22) = self.j
        jex = j00 * ex + j01 * ey + j02 * ez
        jey = j10 * ex + j11 * ey + j12 * ez
        jez = j20 * ex + j21 * ey + j22 * ez
        je = ex * jex + ey * jey + ez * jez
        wt = 0.0
        wh = 0.0
        for p0, p1, p2 in self.a_pinv:
            t = abs(p0 * ex + p1 * ey + p2 * ez)
            h = abs(p0 * jex + p1 * jey + p2 * jez)
            wt = t if t > wt else wt
            wh = h if h > wh else wh
        g = self.gains
        accel = g.accel_margin * self.wheels.max_torque_nm / (wt * je)
        rate = min(g.momentum_margin * self.wheels.max_momentum_nms / wh, math.radians(g.max_slew_rate_deg_s))
        return accel, rate

    def pointing(self, q, omega, h_wheels, q_ref, w_ref_r, a_ref_r, b_body_t) -> ControlOutput:
        """Wheel torques and dumping dipole to follow the reference (q, rates in body axes, rad/s)."""
        g = self.gains
        dt = self.dt_s
        q_e = qmul_f(qconj_f(q_ref), q)  # body relative to reference
        th = rotvec_from_quat_f(q_e)
        # reference rate and acceleration in body axes: rotate by q_e* (its DCM transposed, built once)
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = dcm_f(q_e)
        u0, u1, u2 = w_ref_r
        wrb = (r00 * u0 + r10 * u1 + r20 * u2, r01 * u0 + r11 * u1 + r21 * u2, r02 * u0 + r12 * u1 + r22 * u2)
        u0, u1, u2 = a_ref_r
        arb = (r00 * u0 + r10 * u1 + r20 * u2, r01 * u0 + r11 * u1 + r21 * u2, r02 * u0 + r12 * u1 + r22 * u2)
        wx, wy, wz = omega
        # d/dt of the reference rate seen in body axes: C α_r − ω × ω_ref_b
        ax = arb[0] - (wy * wrb[2] - wz * wrb[1])
        ay = arb[1] - (wz * wrb[0] - wx * wrb[2])
        az = arb[2] - (wx * wrb[1] - wy * wrb[0])
        ang = math.sqrt(th[0] * th[0] + th[1] * th[1] + th[2] * th[2])
        if ang > 1e-12:
            ex, ey, ez = th[0] / ang, th[1] / ang, th[2] / ang
            kp = g.attitude_gain_rad_s
            s = kp * ang
            if s * kp > g.accel_margin * self._accel_floor or s > g.momentum_margin * self._rate_floor or \
                    s > math.radians(g.max_slew_rate_deg_s):
                acc, wmax = self._axis_limits(ex, ey, ez)
                if kp * ang > acc / kp:
                    s = math.sqrt(2.0 * acc * ang - (acc / kp) ** 2)
                if s > wmax:
                    s = wmax
            cx, cy, cz = wrb[0] - s * ex, wrb[1] - s * ey, wrb[2] - s * ez
        else:
            cx, cy, cz = wrb
        ix, iy, iz = self.integral
        ki = g.integral_gain_per_s2
        cx -= ki * ix
        cy -= ki * iy
        cz -= ki * iz
        kr = g.rate_gain_per_s
        ux = kr * (cx - wx) + ax
        uy = kr * (cy - wy) + ay
        uz = kr * (cz - wz) + az
        (j00, j01, j02), (j10, j11, j12), (j20, j21, j22) = self.j
        hx = j00 * wx + j01 * wy + j02 * wz
        hy = j10 * wx + j11 * wy + j12 * wz
        hz = j20 * wx + j21 * wy + j22 * wz
        bx = by = bz = 0.0
        for (a0, a1, a2), hi in zip(self.a, h_wheels):
            bx += a0 * hi
            by += a1 * hi
            bz += a2 * hi
        hx += bx
        hy += by
        hz += bz
        tx = j00 * ux + j01 * uy + j02 * uz + (wy * hz - wz * hy)
        ty = j10 * ux + j11 * uy + j12 * uz + (wz * hx - wx * hz)
        tz = j20 * ux + j21 * uy + j22 * uz + (wx * hy - wy * hx)
        motor, sat = self._allocate(tx, ty, tz, h_wheels)
        if not sat and ang < math.radians(g.integral_zone_deg):
            self.integral = (ix + th[0] * dt, iy + th[1] * dt, iz + th[2] * dt)
        dip = self.dump_dipole((bx, by, bz), b_body_t)
        return ControlOutput(motor, dip, sat)

    def _allocate(self, tx: float, ty: float, tz: float, h_wheels) -> tuple[tuple[float, ...], bool]:
        """Motor torques giving body torque (tx, ty, tz), with null-space bias and friction compensation."""
        wheels = self.wheels
        kn = self.gains.null_gain_per_s
        # null-space term kn N (h_bias − h), N = Σ n nᵀ over the null basis
        dev = [hb - hi for hb, hi in zip(self.null_bias, h_wheels)]
        nd = [0.0] * len(dev)
        for n in self._null_basis:
            c = 0.0
            for nv, d in zip(n, dev):
                c += nv * d
            c *= kn
            nd = [x + c * nv for x, nv in zip(nd, n)]
        # friction compensation: ReactionWheels.friction_nm, inlined (four wheels, every step)
        kc, kv, inv_j, inv_s = wheels.coulomb_friction_nm, wheels.viscous_friction_nm_s, 1.0 / wheels.rotor_inertia_kg_m2, 1.0 / wheels.smoothing_rad_s
        tanh = math.tanh
        motor = tuple([
            nx + kc * tanh(hi * inv_j * inv_s) + kv * hi * inv_j - (p0 * tx + p1 * ty + p2 * tz)
            for (p0, p1, p2), nx, hi in zip(self.a_pinv, nd, h_wheels)
        ])
        big = max(max(motor), -min(motor))
        if big > wheels.max_torque_nm:
            k = wheels.max_torque_nm / big
            return tuple(m * k for m in motor), True
        return motor, False

    def dump_dipole(self, h_body_nms, b_body_t) -> tuple[float, float, float]:
        """Magnetorquer dipole draining the wheels' momentum ``h_body_nms`` (body axes)."""
        bx, by, bz = b_body_t
        b2 = bx * bx + by * by + bz * bz
        if b2 == 0.0:
            return (0.0, 0.0, 0.0)
        hx, hy, hz = h_body_nms
        k = self.gains.dump_gain_per_s / b2
        m = (k * (hy * bz - hz * by), k * (hz * bx - hx * bz), k * (hx * by - hy * bx))
        return _clip_dipole(m, self.sc.mtq_max_dipole_am2)

    def detumble(self, omega, h_wheels, b_body_t, b_prev_t) -> ControlOutput:
        """B-dot dipole from the field's change over one period, plus wheel rate damping if enabled."""
        g = self.gains
        dt = self.dt_s
        m = tuple(-g.bdot_gain * (b - p) / dt for b, p in zip(b_body_t, b_prev_t))
        dip = _clip_dipole(m, self.sc.mtq_max_dipole_am2)
        if not g.detumble_with_wheels:
            return ControlOutput(tuple(self.wheels.friction_nm(h) for h in h_wheels), dip, False)
        k = g.detumble_rate_gain_per_s
        (j00, j01, j02), (j10, j11, j12), (j20, j21, j22) = self.j
        wx, wy, wz = omega
        tx = -k * (j00 * wx + j01 * wy + j02 * wz)
        ty = -k * (j10 * wx + j11 * wy + j12 * wz)
        tz = -k * (j20 * wx + j21 * wy + j22 * wz)
        motor, sat = self._allocate(tx, ty, tz, h_wheels)
        if max(abs(h) for h in h_wheels) > 0.9 * self.wheels.max_momentum_nms:
            # wheels full: leave the rate to B-dot and let them coast
            motor = tuple(self.wheels.friction_nm(h) for h in h_wheels)
        return ControlOutput(motor, dip, sat)
