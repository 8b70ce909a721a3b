"""Multiplicative extended Kalman filter (MEKF) on gyro + star tracker.

State: the attitude quaternion (body -> GCRS) kept outside the filter, and
a 6-element error state ``[δθ (rad, body), δb (rad/s)]`` with its
covariance. Propagation integrates the bias-corrected gyro rate and the
discrete covariance of the gyro model (angle random walk σv, bias random
walk σu; Farrenkopf's closed form); a star-tracker quaternion updates the
attitude error with a 3×3 measurement noise given in body axes (a tracker
is noisier in roll about its own boresight) and is then folded back into
the quaternion (the "reset" that makes the filter multiplicative).
"""

from __future__ import annotations

import numpy as np

from .quaternion import qconj_f, qmul_f, qnormalize_f, quat_from_rotvec_f

__all__ = ["Mekf"]

_COV_MAX_S = 0.5
_EYE3 = np.eye(3)
_EYE6 = np.eye(6)


class Mekf:
    """Gyro-propagated, star-tracker-updated attitude and gyro-bias estimator."""

    def __init__(
        self,
        q0: tuple[float, float, float, float],
        *,
        attitude_sigma_rad: float,
        bias_sigma_rad_s: float,
        arw_rad_sqrt_s: float,
        bias_rw_rad_s_sqrt_s: float,
    ) -> None:
        self.q = qnormalize_f(tuple(q0))
        self.bias = (0.0, 0.0, 0.0)
        self.p = np.diag([attitude_sigma_rad**2] * 3 + [bias_sigma_rad_s**2] * 3)
        self.sv2 = arw_rad_sqrt_s**2
        self.su2 = bias_rw_rad_s_sqrt_s**2
        self._cov_dt = 0.0
        self._cov_rot = (0.0, 0.0, 0.0)
        self.updates = 0

    def rate_rad_s(self, gyro_rad_s: tuple[float, float, float]) -> tuple[float, float, float]:
        """Bias-corrected body rate from a gyro sample."""
        b = self.bias
        return (gyro_rad_s[0] - b[0], gyro_rad_s[1] - b[1], gyro_rad_s[2] - b[2])

    def propagate(self, gyro_rad_s: tuple[float, float, float], dt_s: float) -> None:
        """Advance the estimate by ``dt_s`` with a gyro sample held over the interval."""
        wx, wy, wz = self.rate_rad_s(gyro_rad_s)
        self.q = qnormalize_f(qmul_f(self.q, quat_from_rotvec_f((wx * dt_s, wy * dt_s, wz * dt_s))))
        # The covariance is propagated lazily, over the time since its last
        # propagation, when an update or a reader needs it (or every
        # ``_COV_MAX_S``): the transition over a few 0.1 s steps at < 1 °/s is
        # the same to 1e-6, and it halves the filter's cost at 10 Hz.
        self._cov_dt += dt_s
        self._cov_rot = (self._cov_rot[0] + wx * dt_s, self._cov_rot[1] + wy * dt_s, self._cov_rot[2] + wz * dt_s)
        if self._cov_dt >= _COV_MAX_S:
            self._flush_covariance()

    def _flush_covariance(self) -> None:
        dt = self._cov_dt
        if dt == 0.0:
            return
        su2 = self.su2
        a = self.sv2 * dt + su2 * dt**3 / 3.0
        c = -0.5 * su2 * dt**2
        d = su2 * dt
        x, y, z = self._cov_rot
        sk = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
        f = _EYE6.copy()
        f[:3, :3] += -sk + 0.5 * (sk @ sk)  # Θ = exp(-[θ×]) to second order
        f[:3, 3:] = -dt * _EYE3  # Ψ
        p = f @ self.p @ f.T
        p[:3, :3] += a * _EYE3
        p[:3, 3:] += c * _EYE3
        p[3:, :3] += c * _EYE3
        p[3:, 3:] += d * _EYE3
        self.p = p
        self._cov_dt = 0.0
        self._cov_rot = (0.0, 0.0, 0.0)

    def update_attitude(self, q_meas: tuple[float, float, float, float], r_body_rad2: np.ndarray) -> None:
        """Fold in a measured attitude quaternion with noise covariance ``r_body_rad2`` (3×3, body axes)."""
        self._flush_covariance()
        dq = qmul_f(qconj_f(self.q), q_meas)
        sgn = 2.0 if dq[0] >= 0 else -2.0
        p = self.p
        s = (p[:3, :3] + r_body_rad2).tolist()
        (a, b, c), (d, e, f), (g, h, i) = s
        # 3×3 inverse by cofactors: numpy.linalg's per-call cost is 20× the arithmetic here
        c00, c01, c02 = e * i - f * h, c * h - b * i, b * f - c * e
        det = a * c00 + b * (f * g - d * i) + c * (d * h - e * g)
        s_inv = np.array(
            [[c00, c01, c02], [f * g - d * i, a * i - c * g, c * d - a * f], [d * h - e * g, b * g - a * h, a * e - b * d]]
        ) / det
        k = p[:, :3] @ s_inv  # (6, 3)
        dx = (k @ np.array([sgn * dq[1], sgn * dq[2], sgn * dq[3]])).tolist()
        # P - K S Kᵀ = P - K H P: symmetric by construction
        p = p - k @ p[:3, :]
        self.p = 0.5 * (p + p.T)
        self.q = qnormalize_f(qmul_f(self.q, quat_from_rotvec_f((dx[0], dx[1], dx[2]))))
        bb = self.bias
        self.bias = (bb[0] + dx[3], bb[1] + dx[4], bb[2] + dx[5])
        self.updates += 1

    def sigma(self) -> np.ndarray:
        """Standard deviations (6,): attitude error (rad, body axes) then gyro bias (rad/s)."""
        self._flush_covariance()
        return np.sqrt(np.diag(self.p))

    def covariance_diagonal(self) -> tuple[float, ...]:
        """Diagonal of the error covariance: rad² ×3 then (rad/s)² ×3."""
        self._flush_covariance()
        return tuple(float(v) for v in np.diag(self.p))

    def reset_attitude(self, q: tuple[float, float, float, float]) -> None:
        """Replace the attitude estimate (e.g. after a star-tracker lost-in-space solution)."""
        self.q = qnormalize_f(tuple(q))
