"""Rigid-body attitude dynamics with reaction wheels, magnetorquers and disturbance torques.

State: attitude quaternion ``q`` (body -> GCRS, scalar first), body rate
``omega_rad_s`` (body axes), and the angular momentum of each wheel about its
spin axis ``h_wheels_nms`` (absolute, i.e. including the body's rate).

Equations (body axes), with ``A`` the 3×n matrix of wheel spin axes::

    J dω/dt = τ_ext − A dh/dt − ω × (J ω + A h)
    dh_i/dt = τ_motor,i − τ_friction,i(Ω_i)
    dq/dt   = ½ q ⊗ (0, ω)

integrated with a fixed-step classical RK4 (external and motor torques held
over the step, as the flight software commands them) and the quaternion
renormalised after each step. Wheel friction is Coulomb (smoothed with a
tanh over a few rad/s so the integrator sees no discontinuity at zero speed)
plus viscous; a motor cannot push its wheel beyond its momentum limit.

Disturbances: gravity gradient, residual magnetic dipole, and aerodynamic
drag on the six faces of the box with the centre of mass offset from the
geometric centre. (Solar pressure, ~1e-8 N·m for a 6U, is left out.)

The default spacecraft is a 6U cubesat (10 × 22.6 × 36.6 cm, 12 kg, solid
box inertia) with four 3 mN·m / 30 mN·m·s wheels in a pyramid and 0.2 A·m²
magnetorquers; the imager boresight is body +Z (the long axis), the two
star-tracker heads look 50° off −Z toward −X±Y and the solar panels face +X.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .environment import MU_EARTH_M3_S2

__all__ = [
    "pyramid_axes",
    "ReactionWheels",
    "SpacecraftConfig",
    "AttitudeState",
    "Dynamics",
]


def pyramid_axes(*, count: int = 4, elevation_deg: float = 35.26) -> np.ndarray:
    """Unit spin axes (count, 3) for wheels: 3 = body X/Y/Z, 4 = pyramid about +Z at ``elevation_deg``."""
    if count == 3:
        return np.eye(3)
    if count != 4:
        raise ValueError(f"wheel count {count} not supported: use 3 (orthogonal) or 4 (pyramid)")
    el = math.radians(elevation_deg)
    return np.array(
        [[math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)]
         for az in np.radians([45.0, 135.0, 225.0, 315.0])]
    )


def box_inertia_kg_m2(mass_kg: float, dims_m: tuple[float, float, float]) -> np.ndarray:
    """Inertia tensor (3, 3) of a uniform box of edges ``dims_m`` along body X, Y, Z."""
    x, y, z = dims_m
    return mass_kg / 12.0 * np.diag([y * y + z * z, x * x + z * z, x * x + y * y])


@dataclass(frozen=True)
class ReactionWheels:
    """Reaction wheel assembly: spin axes, limits, rotor inertia and friction."""

    axes: np.ndarray = field(default_factory=pyramid_axes)  # (n, 3) unit spin axes, body
    max_torque_nm: float = 3.0e-3
    max_momentum_nms: float = 30.0e-3
    rotor_inertia_kg_m2: float = 4.8e-5  # 30 mN·m·s at ~6000 rpm
    coulomb_friction_nm: float = 1.0e-5
    viscous_friction_nm_s: float = 1.0e-8  # per rad/s
    smoothing_rad_s: float = 2.0  # tanh width of the Coulomb term

    @property
    def count(self) -> int:
        """Number of wheels."""
        return int(np.asarray(self.axes).shape[0])

    def friction_nm(self, h_nms: float) -> float:
        """Friction torque opposing a wheel holding momentum ``h_nms``."""
        w = h_nms / self.rotor_inertia_kg_m2
        return self.coulomb_friction_nm * math.tanh(w / self.smoothing_rad_s) + self.viscous_friction_nm_s * w


@dataclass(frozen=True)
class SpacecraftConfig:
    """Mass properties, actuators and surfaces of the spacecraft."""

    mass_kg: float = 12.0
    dims_m: tuple[float, float, float] = (0.10, 0.226, 0.366)
    inertia_kg_m2: np.ndarray | None = None  # default: solid box of mass_kg and dims_m
    wheels: ReactionWheels = field(default_factory=ReactionWheels)
    mtq_max_dipole_am2: float = 0.2
    residual_dipole_am2: tuple[float, float, float] = (0.005, -0.003, 0.01)
    cm_offset_m: tuple[float, float, float] = (0.002, -0.003, 0.01)
    drag_coefficient: float = 2.2
    boresight_body: tuple[float, float, float] = (0.0, 0.0, 1.0)
    panel_normal_body: tuple[float, float, float] = (1.0, 0.0, 0.0)
    # two optical heads tilted 50° from −Z toward −X±Y (75° apart, so each one's poor roll
    # axis is the other's good cross axis): away from the sun side (+X, where the panel
    # constraint keeps the sun while tracking) and, at any off-nadir angle down to 10°
    # elevation, at least one clear of the Earth.
    star_tracker_heads_body: tuple[tuple[float, float, float], ...] = (
        (-0.5416752204197018, 0.5416752204197018, -0.6427876096865394),
        (-0.5416752204197018, -0.5416752204197018, -0.6427876096865394),
    )

    def inertia(self) -> np.ndarray:
        """Inertia tensor (3, 3), kg·m²."""
        if self.inertia_kg_m2 is not None:
            return np.asarray(self.inertia_kg_m2, dtype=float)
        return box_inertia_kg_m2(self.mass_kg, self.dims_m)


@dataclass
class AttitudeState:
    """True attitude state: quaternion (body -> GCRS), body rate, wheel momenta."""

    q: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    omega_rad_s: tuple[float, float, float] = (0.0, 0.0, 0.0)
    h_wheels_nms: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)


class Dynamics:
    """RK4 propagation of :class:`AttitudeState` and the disturbance torques, on Python floats."""

    def __init__(self, config: SpacecraftConfig) -> None:
        self.config = config
        j = config.inertia()
        # Python floats (tolist), not numpy scalars: these enter every per-step multiplication
        self.j = tuple(map(tuple, j.tolist()))
        self.j_inv = tuple(map(tuple, np.linalg.inv(j).tolist()))
        self.axes = tuple(map(tuple, np.asarray(config.wheels.axes, dtype=float).tolist()))
        self.wheels = config.wheels
        x, y, z = config.dims_m
        cx, cy, cz = config.cm_offset_m
        # faces: (area m², outward normal, centre of pressure relative to the centre of mass)
        self.faces = tuple(
            (area, n, (p[0] - cx, p[1] - cy, p[2] - cz))
            for area, n, p in [
                (y * z, (1.0, 0.0, 0.0), (x / 2, 0.0, 0.0)),
                (y * z, (-1.0, 0.0, 0.0), (-x / 2, 0.0, 0.0)),
                (x * z, (0.0, 1.0, 0.0), (0.0, y / 2, 0.0)),
                (x * z, (0.0, -1.0, 0.0), (0.0, -y / 2, 0.0)),
                (x * y, (0.0, 0.0, 1.0), (0.0, 0.0, z / 2)),
                (x * y, (0.0, 0.0, -1.0), (0.0, 0.0, -z / 2)),
            ]
        )

    # --- torques -------------------------------------------------------------------------

    def gravity_gradient_nm(self, r_body_m: tuple[float, float, float]) -> tuple[float, float, float]:
        """Gravity-gradient torque for the spacecraft position expressed in body axes."""
        rx, ry, rz = r_body_m
        rn = math.sqrt(rx * rx + ry * ry + rz * rz)
        k = 3.0 * MU_EARTH_M3_S2 / rn**5
        (j00, j01, j02), (j10, j11, j12), (j20, j21, j22) = self.j
        jx = j00 * rx + j01 * ry + j02 * rz
        jy = j10 * rx + j11 * ry + j12 * rz
        jz = j20 * rx + j21 * ry + j22 * rz
        return (k * (ry * jz - rz * jy), k * (rz * jx - rx * jz), k * (rx * jy - ry * jx))

    def aero_nm(self, v_rel_body_m_s: tuple[float, float, float], density_kg_m3: float) -> tuple[float, float, float]:
        """Aerodynamic torque from the flow velocity relative to the atmosphere, body axes."""
        vx, vy, vz = v_rel_body_m_s
        vn = math.sqrt(vx * vx + vy * vy + vz * vz)
        if vn == 0.0:
            return (0.0, 0.0, 0.0)
        ux, uy, uz = vx / vn, vy / vn, vz / vn
        q = 0.5 * density_kg_m3 * vn * vn * self.config.drag_coefficient
        tx = ty = tz = 0.0
        for area, (nx, ny, nz), (px, py, pz) in self.faces:
            c = nx * ux + ny * uy + nz * uz
            if c <= 0.0:
                continue
            f = -q * area * c  # force along the flow direction u
            fx, fy, fz = f * ux, f * uy, f * uz
            tx += py * fz - pz * fy
            ty += pz * fx - px * fz
            tz += px * fy - py * fx
        return (tx, ty, tz)

    # --- integration ---------------------------------------------------------------------

    def limit_motor(self, motor_nm, h_nms) -> tuple[float, ...]:
        """Motor torques clipped to the torque limit, and zero where they would push past the momentum limit."""
        tmax = self.wheels.max_torque_nm
        hmax = self.wheels.max_momentum_nms
        out = []
        for m, h in zip(motor_nm, h_nms):
            m = tmax if m > tmax else (-tmax if m < -tmax else m)
            if (h >= hmax and m > 0.0) or (h <= -hmax and m < 0.0):
                m = 0.0
            out.append(m)
        return tuple(out)

    def step(self, state: AttitudeState, dt_s: float, motor_nm, tau_ext_nm) -> AttitudeState:
        """Advance ``state`` by ``dt_s`` with RK4 (torques held), renormalising the quaternion.

        The wheels' rate of change (motor minus friction) is evaluated once at
        the start of the step and held: friction changes by <1 % over a 0.1 s
        step (its time constants are minutes), so the wheel momenta are
        linear in time within a step and only (q, ω) need the four stages.
        """
        q0, w0, h0 = state.q, state.omega_rad_s, state.h_wheels_nms
        wh = self.wheels
        tmax, hmax = wh.max_torque_nm, wh.max_momentum_nms
        kc, kv, inv_j, inv_s = wh.coulomb_friction_nm, wh.viscous_friction_nm_s, 1.0 / wh.rotor_inertia_kg_m2, 1.0 / wh.smoothing_rad_s
        tanh = math.tanh
        hdot = []
        for m, hi in zip(motor_nm, h0):
            # limit_motor and friction_nm, inlined: this runs four times per control step
            m = tmax if m > tmax else (-tmax if m < -tmax else m)
            if (hi >= hmax and m > 0.0) or (hi <= -hmax and m < 0.0):
                m = 0.0
            wr = hi * inv_j
            hdot.append(float(m - (kc * tanh(wr * inv_s) + kv * wr)))
        hx0 = hy0 = hz0 = dx = dy = dz = 0.0
        for (a0, a1, a2), hi, hd in zip(self.axes, h0, hdot):
            hx0 += a0 * hi
            hy0 += a1 * hi
            hz0 += a2 * hi
            dx += a0 * hd
            dy += a1 * hd
            dz += a2 * hd
        t0x = tau_ext_nm[0] - dx
        t0y = tau_ext_nm[1] - dy
        t0z = tau_ext_nm[2] - dz
        (j00, j01, j02), (j10, j11, j12), (j20, j21, j22) = self.j
        (i00, i01, i02), (i10, i11, i12), (i20, i21, i22) = self.j_inv

        # classical RK4 on the seven scalars (q, ω), each stage's derivative written out
        # (dq/dt = ½ q ⊗ (0, ω); J dω/dt = τ − A ḣ − ω × (J ω + A h(τ))): no calls, no lists
        hs = 0.5 * dt_s
        s = dt_s / 6.0
        # float(): a state set from numpy values (a test's kick, a caller's initial rate) would
        # otherwise keep numpy scalars, ~10x slower per operation, for the rest of the run
        qw, qx, qy, qz = float(q0[0]), float(q0[1]), float(q0[2]), float(q0[3])
        wx, wy, wz = float(w0[0]), float(w0[1]), float(w0[2])
        hx = j00 * wx + j01 * wy + j02 * wz + hx0
        hy = j10 * wx + j11 * wy + j12 * wz + hy0
        hz = j20 * wx + j21 * wy + j22 * wz + hz0
        tx = t0x - (wy * hz - wz * hy)
        ty = t0y - (wz * hx - wx * hz)
        tz = t0z - (wx * hy - wy * hx)
        a1 = 0.5 * (-qx * wx - qy * wy - qz * wz)
        b1 = 0.5 * (qw * wx + qy * wz - qz * wy)
        c1 = 0.5 * (qw * wy - qx * wz + qz * wx)
        d1 = 0.5 * (qw * wz + qx * wy - qy * wx)
        e1 = i00 * tx + i01 * ty + i02 * tz
        f1 = i10 * tx + i11 * ty + i12 * tz
        g1 = i20 * tx + i21 * ty + i22 * tz
        cw, cx, cy, cz = qw + hs * a1, qx + hs * b1, qy + hs * c1, qz + hs * d1
        vx, vy, vz = wx + hs * e1, wy + hs * f1, wz + hs * g1
        hx = j00 * vx + j01 * vy + j02 * vz + hx0 + dx * hs
        hy = j10 * vx + j11 * vy + j12 * vz + hy0 + dy * hs
        hz = j20 * vx + j21 * vy + j22 * vz + hz0 + dz * hs
        tx = t0x - (vy * hz - vz * hy)
        ty = t0y - (vz * hx - vx * hz)
        tz = t0z - (vx * hy - vy * hx)
        a2 = 0.5 * (-cx * vx - cy * vy - cz * vz)
        b2 = 0.5 * (cw * vx + cy * vz - cz * vy)
        c2 = 0.5 * (cw * vy - cx * vz + cz * vx)
        d2 = 0.5 * (cw * vz + cx * vy - cy * vx)
        e2 = i00 * tx + i01 * ty + i02 * tz
        f2 = i10 * tx + i11 * ty + i12 * tz
        g2 = i20 * tx + i21 * ty + i22 * tz
        cw, cx, cy, cz = qw + hs * a2, qx + hs * b2, qy + hs * c2, qz + hs * d2
        vx, vy, vz = wx + hs * e2, wy + hs * f2, wz + hs * g2
        hx = j00 * vx + j01 * vy + j02 * vz + hx0 + dx * hs
        hy = j10 * vx + j11 * vy + j12 * vz + hy0 + dy * hs
        hz = j20 * vx + j21 * vy + j22 * vz + hz0 + dz * hs
        tx = t0x - (vy * hz - vz * hy)
        ty = t0y - (vz * hx - vx * hz)
        tz = t0z - (vx * hy - vy * hx)
        a3 = 0.5 * (-cx * vx - cy * vy - cz * vz)
        b3 = 0.5 * (cw * vx + cy * vz - cz * vy)
        c3 = 0.5 * (cw * vy - cx * vz + cz * vx)
        d3 = 0.5 * (cw * vz + cx * vy - cy * vx)
        e3 = i00 * tx + i01 * ty + i02 * tz
        f3 = i10 * tx + i11 * ty + i12 * tz
        g3 = i20 * tx + i21 * ty + i22 * tz
        cw, cx, cy, cz = qw + dt_s * a3, qx + dt_s * b3, qy + dt_s * c3, qz + dt_s * d3
        vx, vy, vz = wx + dt_s * e3, wy + dt_s * f3, wz + dt_s * g3
        hx = j00 * vx + j01 * vy + j02 * vz + hx0 + dx * dt_s
        hy = j10 * vx + j11 * vy + j12 * vz + hy0 + dy * dt_s
        hz = j20 * vx + j21 * vy + j22 * vz + hz0 + dz * dt_s
        tx = t0x - (vy * hz - vz * hy)
        ty = t0y - (vz * hx - vx * hz)
        tz = t0z - (vx * hy - vy * hx)
        a4 = 0.5 * (-cx * vx - cy * vy - cz * vz)
        b4 = 0.5 * (cw * vx + cy * vz - cz * vy)
        c4 = 0.5 * (cw * vy - cx * vz + cz * vx)
        d4 = 0.5 * (cw * vz + cx * vy - cy * vx)
        e4 = i00 * tx + i01 * ty + i02 * tz
        f4 = i10 * tx + i11 * ty + i12 * tz
        g4 = i20 * tx + i21 * ty + i22 * tz
        y0 = qw + s * (a1 + 2.0 * (a2 + a3) + a4)
        y1 = qx + s * (b1 + 2.0 * (b2 + b3) + b4)
        y2 = qy + s * (c1 + 2.0 * (c2 + c3) + c4)
        y3 = qz + s * (d1 + 2.0 * (d2 + d3) + d4)
        n = math.sqrt(y0 * y0 + y1 * y1 + y2 * y2 + y3 * y3)
        if y0 < 0:
            n = -n
        return AttitudeState(
            (y0 / n, y1 / n, y2 / n, y3 / n),
            (wx + s * (e1 + 2.0 * (e2 + e3) + e4), wy + s * (f1 + 2.0 * (f2 + f3) + f4), wz + s * (g1 + 2.0 * (g2 + g3) + g4)),
            tuple([float(hi) + dt_s * hd for hi, hd in zip(h0, hdot)]),
        )

    def body_momentum_nms(self, state: AttitudeState) -> np.ndarray:
        """Total angular momentum J ω + A h in body axes (3,)."""
        return np.asarray(self.j) @ np.asarray(state.omega_rad_s) + np.asarray(self.axes).T @ np.asarray(state.h_wheels_nms)

    def kinetic_energy_j(self, state: AttitudeState) -> float:
        """Rotational kinetic energy of the body plus wheels (wheels as rotors about their axes)."""
        w = np.asarray(state.omega_rad_s)
        h = np.asarray(state.h_wheels_nms)
        return float(0.5 * w @ (np.asarray(self.j) @ w) + 0.5 * np.sum(h**2) / self.wheels.rotor_inertia_kg_m2)
