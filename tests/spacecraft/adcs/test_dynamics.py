"""Torque-free rigid body: angular momentum and energy conserved, quaternion normalised, over an orbit."""

from __future__ import annotations

import numpy as np

from spacecraft.adcs.dynamics import AttitudeState, Dynamics, ReactionWheels, SpacecraftConfig
from spacecraft.adcs.quaternion import quat_to_dcm

ORBIT_S = 5700.0


def _frictionless() -> SpacecraftConfig:
    return SpacecraftConfig(wheels=ReactionWheels(coulomb_friction_nm=0.0, viscous_friction_nm_s=0.0))


def _fly(state: AttitudeState, dyn: Dynamics, dt_s: float, duration_s: float):
    n = int(duration_s / dt_s)
    zero_m = (0.0,) * len(state.h_wheels_nms)
    worst_norm = 0.0
    for _ in range(n):
        state = dyn.step(state, dt_s, zero_m, (0.0, 0.0, 0.0))
        worst_norm = max(worst_norm, abs(float(np.linalg.norm(state.q)) - 1.0))
    return state, worst_norm


def _inertial_momentum(dyn: Dynamics, s: AttitudeState) -> np.ndarray:
    return quat_to_dcm(np.array(s.q)) @ dyn.body_momentum_nms(s)


def test_torque_free_tumble_conserves_momentum_and_energy_over_an_orbit():
    """A 3-axis tumble (5 °/s, near the intermediate axis) at 10 Hz: |ΔH|/|H| and ΔE/E < 1e-9 after 95 min."""
    dyn = Dynamics(_frictionless())
    s0 = AttitudeState((1.0, 0.0, 0.0, 0.0), tuple(np.radians([1.0, 5.0, 2.0])), (0.0, 0.0, 0.0, 0.0))
    s1, worst_norm = _fly(s0, dyn, 0.1, ORBIT_S)
    h0, h1 = _inertial_momentum(dyn, s0), _inertial_momentum(dyn, s1)
    assert np.linalg.norm(h1 - h0) / np.linalg.norm(h0) < 1e-9
    e0, e1 = dyn.kinetic_energy_j(s0), dyn.kinetic_energy_j(s1)
    assert abs(e1 - e0) / e0 < 1e-9
    assert worst_norm < 1e-12
    assert not np.allclose(s1.omega_rad_s, s0.omega_rad_s)  # it really tumbled


def test_gyrostat_with_spinning_wheels_conserves_momentum():
    """Wheels holding momentum, no motor torque: total inertial momentum and body energy conserved."""
    dyn = Dynamics(_frictionless())
    s0 = AttitudeState((0.9, 0.1, -0.3, 0.2), tuple(np.radians([-2.0, 1.0, 3.0])), (0.004, -0.002, 0.006, 0.001))
    n = float(np.linalg.norm(s0.q))
    s0 = AttitudeState(tuple(np.array(s0.q) / n), s0.omega_rad_s, s0.h_wheels_nms)
    s1, worst_norm = _fly(s0, dyn, 0.1, ORBIT_S)
    h0, h1 = _inertial_momentum(dyn, s0), _inertial_momentum(dyn, s1)
    assert np.linalg.norm(h1 - h0) / np.linalg.norm(h0) < 1e-9
    assert abs(dyn.kinetic_energy_j(s1) - dyn.kinetic_energy_j(s0)) / dyn.kinetic_energy_j(s0) < 1e-9
    assert worst_norm < 1e-12
    assert s1.h_wheels_nms == s0.h_wheels_nms


def test_motor_torque_exchanges_momentum_with_the_body():
    """A wheel torque spins the body the other way; total momentum stays where it was."""
    dyn = Dynamics(_frictionless())
    s = AttitudeState()
    for _ in range(100):
        s = dyn.step(s, 0.1, (1e-3, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    assert np.linalg.norm(dyn.body_momentum_nms(s)) < 1e-12
    assert np.dot(s.omega_rad_s, dyn.axes[0]) < 0


def test_momentum_limit_stops_the_motor():
    """A wheel at its momentum limit takes no more motor torque in that direction."""
    dyn = Dynamics(SpacecraftConfig())
    hmax = dyn.wheels.max_momentum_nms
    assert dyn.limit_motor((1.0, -1.0, 1e-3, -1e-3), (hmax, -hmax, 0.0, 0.0)) == (0.0, 0.0, 1e-3, -1e-3)
    assert dyn.limit_motor((1.0, 0, 0, 0), (0.0, 0, 0, 0))[0] == dyn.wheels.max_torque_nm
