"""Estimation: a multiplicative extended Kalman filter (MEKF) on gyro + star tracker, and a body-rate filter.

MEKF state: the attitude quaternion (body -> GCRS) kept outside the filter,
and a 6-element error state ``[δθ (rad, body), δb (rad/s)]`` with its
covariance. Propagation integrates the bias-corrected gyro rate and the
discrete covariance of the gyro model (angle random walk σv, bias random
walk σu; Farrenkopf's closed form) -- the process noise is the gyro's own
datasheet model, the same numbers the sensor simulation draws from. A
star-tracker quaternion updates the attitude error with a 3×3 measurement
noise given in body axes (a tracker is noisier in roll about its own
boresight) and is then folded back into the quaternion (the "reset" that
makes the filter multiplicative).

Several optical heads seen at the same instant are fused into one update
(:meth:`Mekf.update_heads`): with ``H = [I; I; ...]`` a stacked 6-row update
is exactly one 3-row update with the information-weighted mean of the
heads' innovations and ``R = (Σ R_j⁻¹)⁻¹``, so the filter sees both heads'
complementary roll/cross axes at once, for the cost of one update.

The covariance lives in three 3×3 blocks (``P_θθ``, ``P_θb``, ``P_bb``) of
Python floats: at 10 Hz the per-call overhead of numpy on 3×3 and 6×6
arrays costs more than the arithmetic, and the block form skips the
multiplications by the transition's zero and identity blocks.

:class:`RateFilter` gives the controller a body rate that is smoother
than the gyro's: it predicts the rate from the spacecraft's total angular
momentum (``J ω = H − A h``: the wheel momenta ``h`` from the wheels'
tachometers, ``H`` carried in body axes with the magnetorquer torque it
commands) and corrects the prediction toward the bias-corrected gyro with a
small gain. The gyro's white rate noise then reaches the rate loop
attenuated (≈ √(L/2) for gain L) instead of being chased by the wheels;
what the model does not know (gravity gradient, drag, ~1e-7 N·m, and an
inertia error) the gyro correction absorbs.
"""

from __future__ import annotations

import math

import numpy as np

from .quaternion import qconj_f, qmul_f, qnormalize_f, quat_from_rotvec_f

__all__ = ["Mekf", "RateFilter"]


def _mm(a, b):
    """3×3 product of row-major 9-tuples."""
    a0, a1, a2, a3, a4, a5, a6, a7, a8 = a
    b0, b1, b2, b3, b4, b5, b6, b7, b8 = b
    return (
        a0 * b0 + a1 * b3 + a2 * b6, a0 * b1 + a1 * b4 + a2 * b7, a0 * b2 + a1 * b5 + a2 * b8,
        a3 * b0 + a4 * b3 + a5 * b6, a3 * b1 + a4 * b4 + a5 * b7, a3 * b2 + a4 * b5 + a5 * b8,
        a6 * b0 + a7 * b3 + a8 * b6, a6 * b1 + a7 * b4 + a8 * b7, a6 * b2 + a7 * b5 + a8 * b8,
    )


def _mmt(a, b):
    """``a @ b.T`` for row-major 9-tuples."""
    a0, a1, a2, a3, a4, a5, a6, a7, a8 = a
    b0, b1, b2, b3, b4, b5, b6, b7, b8 = b
    return (
        a0 * b0 + a1 * b1 + a2 * b2, a0 * b3 + a1 * b4 + a2 * b5, a0 * b6 + a1 * b7 + a2 * b8,
        a3 * b0 + a4 * b1 + a5 * b2, a3 * b3 + a4 * b4 + a5 * b5, a3 * b6 + a4 * b7 + a5 * b8,
        a6 * b0 + a7 * b1 + a8 * b2, a6 * b3 + a7 * b4 + a8 * b5, a6 * b6 + a7 * b7 + a8 * b8,
    )


def _tr(a):
    return (a[0], a[3], a[6], a[1], a[4], a[7], a[2], a[5], a[8])


def _inv(s):
    """Inverse of a 3×3 row-major 9-tuple by cofactors."""
    a, b, c, d, e, f, g, h, i = s
    c00, c01, c02 = e * i - f * h, c * h - b * i, b * f - c * e
    det = a * c00 + b * (f * g - d * i) + c * (d * h - e * g)
    k = 1.0 / det
    return (
        c00 * k, c01 * k, c02 * k,
        (f * g - d * i) * k, (a * i - c * g) * k, (c * d - a * f) * k,
        (d * h - e * g) * k, (b * g - a * h) * k, (a * e - b * d) * k,
    )


def _sym(a):
    o1, o2, o5 = 0.5 * (a[1] + a[3]), 0.5 * (a[2] + a[6]), 0.5 * (a[5] + a[7])
    return (a[0], o1, o2, o1, a[4], o5, o2, o5, a[8])


def _as9(m) -> tuple[float, ...]:
    return tuple(float(x) for x in np.asarray(m, dtype=float).reshape(9))


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
        self.q = qnormalize_f(tuple(float(x) for x in q0))
        self.bias = (0.0, 0.0, 0.0)
        a2, b2 = attitude_sigma_rad**2, bias_sigma_rad_s**2
        self._p11 = (a2, 0.0, 0.0, 0.0, a2, 0.0, 0.0, 0.0, a2)
        self._p12 = (0.0,) * 9
        self._p22 = (b2, 0.0, 0.0, 0.0, b2, 0.0, 0.0, 0.0, b2)
        self.sv2 = arw_rad_sqrt_s**2
        self.su2 = bias_rw_rad_s_sqrt_s**2
        self.updates = 0

    @property
    def p(self) -> np.ndarray:
        """Error covariance (6, 6): attitude (rad, body) then gyro bias (rad/s)."""
        p = np.empty((6, 6))
        p[:3, :3] = np.reshape(self._p11, (3, 3))
        p[:3, 3:] = np.reshape(self._p12, (3, 3))
        p[3:, :3] = p[:3, 3:].T
        p[3:, 3:] = np.reshape(self._p22, (3, 3))
        return p

    @p.setter
    def p(self, value: np.ndarray) -> None:
        v = np.asarray(value, dtype=float)
        self._p11, self._p12, self._p22 = _as9(v[:3, :3]), _as9(v[:3, 3:]), _as9(v[3:, 3:])

    def rate_rad_s(self, gyro_rad_s: tuple[float, float, float]) -> tuple[float, float, float]:
        """Bias-corrected body rate from a gyro sample."""
        b = self.bias
        return (gyro_rad_s[0] - b[0], gyro_rad_s[1] - b[1], gyro_rad_s[2] - b[2])

    def propagate(self, gyro_rad_s: tuple[float, float, float], dt_s: float) -> None:
        """Advance the estimate by ``dt_s`` with a gyro sample held over the interval."""
        b = self.bias
        x, y, z = (gyro_rad_s[0] - b[0]) * dt_s, (gyro_rad_s[1] - b[1]) * dt_s, (gyro_rad_s[2] - b[2]) * dt_s
        # q ⊗ exp(θ/2), θ = (x, y, z), written out, then renormalised
        a = math.sqrt(x * x + y * y + z * z)
        if a < 1e-9:
            c, k = 1.0 - a * a / 8.0, 0.5
        else:
            c, k = math.cos(0.5 * a), math.sin(0.5 * a) / a
        ux, uy, uz = k * x, k * y, k * z
        pw, px, py, pz = self.q
        qw = pw * c - px * ux - py * uy - pz * uz
        qx = pw * ux + px * c + py * uz - pz * uy
        qy = pw * uy - px * uz + py * c + pz * ux
        qz = pw * uz + px * uy - py * ux + pz * c
        n = math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
        if qw < 0:
            n = -n
        self.q = (qw / n, qx / n, qy / n, qz / n)
        # F = [[Θ, −dt I], [0, I]], Θ = exp(−[θ×]) to second order; Q from Farrenkopf
        xx, yy, zz, xy, xz, yz = x * x, y * y, z * z, x * y, x * z, y * z
        th = (
            1.0 - 0.5 * (yy + zz), z + 0.5 * xy, -y + 0.5 * xz,
            -z + 0.5 * xy, 1.0 - 0.5 * (xx + zz), x + 0.5 * yz,
            y + 0.5 * xz, -x + 0.5 * yz, 1.0 - 0.5 * (xx + yy),
        )
        su2 = self.su2
        qa = self.sv2 * dt_s + su2 * dt_s**3 / 3.0
        qc = -0.5 * su2 * dt_s**2
        qd = su2 * dt_s
        p22 = self._p22
        tp11t = _mmt(_mm(th, self._p11), th)
        tp12 = _mm(th, self._p12)
        # P11' = Θ P11 Θᵀ − dt (Θ P12 + (Θ P12)ᵀ) + dt² P22 + qa I
        d2 = dt_s * dt_s
        t0, t1, t2, t3, t4, t5, t6, t7, t8 = tp12
        u0, u1, u2, _, u4, u5, _, _, u8 = tp11t
        v0, v1, v2, v3, v4, v5, v6, v7, v8 = p22
        o1 = u1 - dt_s * (t1 + t3) + d2 * v1
        o2 = u2 - dt_s * (t2 + t6) + d2 * v2
        o5 = u5 - dt_s * (t5 + t7) + d2 * v5
        self._p11 = (
            u0 - 2.0 * dt_s * t0 + d2 * v0 + qa, o1, o2,
            o1, u4 - 2.0 * dt_s * t4 + d2 * v4 + qa, o5,
            o2, o5, u8 - 2.0 * dt_s * t8 + d2 * v8 + qa,
        )
        # P12' = Θ P12 − dt P22 + qc I ; P22' = P22 + qd I
        self._p12 = (
            t0 - dt_s * v0 + qc, t1 - dt_s * v1, t2 - dt_s * v2,
            t3 - dt_s * v3, t4 - dt_s * v4 + qc, t5 - dt_s * v5,
            t6 - dt_s * v6, t7 - dt_s * v7, t8 - dt_s * v8 + qc,
        )
        self._p22 = (p22[0] + qd, p22[1], p22[2], p22[3], p22[4] + qd, p22[5], p22[6], p22[7], p22[8] + qd)

    def innovation(self, q_meas: tuple[float, float, float, float]) -> tuple[float, float, float]:
        """Small-angle attitude error (rad, body axes) of a measured quaternion relative to the estimate."""
        dq = qmul_f(qconj_f(self.q), q_meas)
        sgn = 2.0 if dq[0] >= 0 else -2.0
        return (sgn * dq[1], sgn * dq[2], sgn * dq[3])

    def update_attitude(self, q_meas: tuple[float, float, float, float], r_body_rad2) -> None:
        """Fold in a measured attitude quaternion with noise covariance ``r_body_rad2`` (3×3, body axes)."""
        self.update_innovation(self.innovation(q_meas), _as9(r_body_rad2))

    def update_heads(self, q_meas: list[tuple[float, float, float, float]], fusion) -> None:
        """One update from several heads at once: ``fusion`` is (R (9-tuple), [W_j (9-tuple)]) from :func:`head_fusion`."""
        r, weights = fusion
        zx = zy = zz = 0.0
        pw, px, py, pz = self.q
        for (qw, qx, qy, qz), w in zip(q_meas, weights):
            # innovation: 2 × vector part of q̂* ⊗ q_meas (sign chosen for the short way round)
            dw = pw * qw + px * qx + py * qy + pz * qz
            sgn = 2.0 if dw >= 0 else -2.0
            ex = sgn * (pw * qx - px * qw - py * qz + pz * qy)
            ey = sgn * (pw * qy + px * qz - py * qw - pz * qx)
            ez = sgn * (pw * qz - px * qy + py * qx - pz * qw)
            zx += w[0] * ex + w[1] * ey + w[2] * ez
            zy += w[3] * ex + w[4] * ey + w[5] * ez
            zz += w[6] * ex + w[7] * ey + w[8] * ez
        self.update_innovation((zx, zy, zz), r)

    def update_innovation(self, z: tuple[float, float, float], r9) -> None:
        """Kalman update with innovation ``z`` (rad, body) of noise ``r9`` (row-major 3×3 rad²), then reset."""
        p11, p12, p22 = self._p11, self._p12, self._p22
        a0, a1, a2, _, a4, a5, _, _, a8 = p11
        # S = P11 + R and its inverse (both symmetric)
        s0, s1, s2, s4, s5, s8 = a0 + r9[0], a1 + r9[1], a2 + r9[2], a4 + r9[4], a5 + r9[5], a8 + r9[8]
        c0, c1, c2 = s4 * s8 - s5 * s5, s2 * s5 - s1 * s8, s1 * s5 - s2 * s4
        det = 1.0 / (s0 * c0 + s1 * c1 + s2 * c2)
        i0, i1, i2 = c0 * det, c1 * det, c2 * det
        i4, i5, i8 = (s0 * s8 - s2 * s2) * det, (s1 * s2 - s0 * s5) * det, (s0 * s4 - s1 * s1) * det
        # K1 = P11 S⁻¹ (attitude rows of K), K2ᵀ = S⁻¹ P12 (bias rows, transposed)
        k0 = a0 * i0 + a1 * i1 + a2 * i2
        k1 = a0 * i1 + a1 * i4 + a2 * i5
        k2 = a0 * i2 + a1 * i5 + a2 * i8
        k3 = a1 * i0 + a4 * i1 + a5 * i2
        k4 = a1 * i1 + a4 * i4 + a5 * i5
        k5 = a1 * i2 + a4 * i5 + a5 * i8
        k6 = a2 * i0 + a5 * i1 + a8 * i2
        k7 = a2 * i1 + a5 * i4 + a8 * i5
        k8 = a2 * i2 + a5 * i5 + a8 * i8
        b0, b1, b2, b3, b4, b5, b6, b7, b8 = p12
        m0 = i0 * b0 + i1 * b3 + i2 * b6
        m1 = i0 * b1 + i1 * b4 + i2 * b7
        m2 = i0 * b2 + i1 * b5 + i2 * b8
        m3 = i1 * b0 + i4 * b3 + i5 * b6
        m4 = i1 * b1 + i4 * b4 + i5 * b7
        m5 = i1 * b2 + i4 * b5 + i5 * b8
        m6 = i2 * b0 + i5 * b3 + i8 * b6
        m7 = i2 * b1 + i5 * b4 + i8 * b7
        m8 = i2 * b2 + i5 * b5 + i8 * b8
        zx, zy, zz = z
        dx = (k0 * zx + k1 * zy + k2 * zz, k3 * zx + k4 * zy + k5 * zz, k6 * zx + k7 * zy + k8 * zz)
        # K2 z = (S⁻¹ P12)ᵀ z
        db = (m0 * zx + m3 * zy + m6 * zz, m1 * zx + m4 * zy + m7 * zz, m2 * zx + m5 * zy + m8 * zz)
        # P − K H P, block by block; the diagonal blocks are symmetric, so only six entries each
        n0 = a0 - (k0 * a0 + k1 * a1 + k2 * a2)
        n1 = a1 - (k0 * a1 + k1 * a4 + k2 * a5)
        n2 = a2 - (k0 * a2 + k1 * a5 + k2 * a8)
        n4 = a4 - (k3 * a1 + k4 * a4 + k5 * a5)
        n5 = a5 - (k3 * a2 + k4 * a5 + k5 * a8)
        n8 = a8 - (k6 * a2 + k7 * a5 + k8 * a8)
        self._p11 = (n0, n1, n2, n1, n4, n5, n2, n5, n8)
        self._p12 = (
            b0 - (k0 * b0 + k1 * b3 + k2 * b6), b1 - (k0 * b1 + k1 * b4 + k2 * b7), b2 - (k0 * b2 + k1 * b5 + k2 * b8),
            b3 - (k3 * b0 + k4 * b3 + k5 * b6), b4 - (k3 * b1 + k4 * b4 + k5 * b7), b5 - (k3 * b2 + k4 * b5 + k5 * b8),
            b6 - (k6 * b0 + k7 * b3 + k8 * b6), b7 - (k6 * b1 + k7 * b4 + k8 * b7), b8 - (k6 * b2 + k7 * b5 + k8 * b8),
        )
        # P22 − P12ᵀ S⁻¹ P12
        e0, e1, e2, _, e4, e5, _, _, e8 = p22
        f0 = e0 - (b0 * m0 + b3 * m3 + b6 * m6)
        f1 = e1 - (b0 * m1 + b3 * m4 + b6 * m7)
        f2 = e2 - (b0 * m2 + b3 * m5 + b6 * m8)
        f4 = e4 - (b1 * m1 + b4 * m4 + b7 * m7)
        f5 = e5 - (b1 * m2 + b4 * m5 + b7 * m8)
        f8 = e8 - (b2 * m2 + b5 * m5 + b8 * m8)
        self._p22 = (f0, f1, f2, f1, f4, f5, f2, f5, f8)
        self.q = qnormalize_f(qmul_f(self.q, quat_from_rotvec_f(dx)))
        bb = self.bias
        self.bias = (bb[0] + db[0], bb[1] + db[1], bb[2] + db[2])
        self.updates += 1

    def sigma(self) -> np.ndarray:
        """Standard deviations (6,): attitude error (rad, body axes) then gyro bias (rad/s)."""
        return np.sqrt(np.array(self.covariance_diagonal()))

    def covariance_diagonal(self) -> tuple[float, ...]:
        """Diagonal of the error covariance: rad² ×3 then (rad/s)² ×3."""
        p11, p22 = self._p11, self._p22
        return (p11[0], p11[4], p11[8], p22[0], p22[4], p22[8])

    def reset_attitude(self, q: tuple[float, float, float, float]) -> None:
        """Replace the attitude estimate (e.g. after a star-tracker lost-in-space solution)."""
        self.q = qnormalize_f(tuple(float(x) for x in q))


def head_fusion(r_heads_rad2: list[np.ndarray]) -> tuple[tuple[float, ...], list[tuple[float, ...]]]:
    """Fused noise ``R = (Σ R_j⁻¹)⁻¹`` and weights ``W_j = R R_j⁻¹`` (row-major 9-tuples) for heads seen together."""
    infos = [np.linalg.inv(np.asarray(r, dtype=float)) for r in r_heads_rad2]
    r = np.linalg.inv(sum(infos))
    r = 0.5 * (r + r.T)
    return _as9(r), [_as9(r @ i) for i in infos]


class RateFilter:
    """Body rate from the total angular momentum and the wheel tachometers, corrected toward the gyro."""

    def __init__(self, inertia_kg_m2: np.ndarray, wheel_axes: np.ndarray, *, gain: float) -> None:
        j = np.asarray(inertia_kg_m2, dtype=float)
        self.j = _as9(j)
        self.j_inv = _as9(np.linalg.inv(j))
        self.axes = tuple(tuple(float(v) for v in a) for a in np.asarray(wheel_axes, dtype=float))
        self.gain = float(gain)
        self.omega_rad_s: tuple[float, float, float] | None = None
        self._h_body = (0.0, 0.0, 0.0)

    def reset(self, omega_rad_s: tuple[float, float, float] | None = None) -> None:
        """Start again from ``omega_rad_s`` (or from the next gyro sample)."""
        self.omega_rad_s = None if omega_rad_s is None else tuple(omega_rad_s)

    def _wheels_body(self, h_wheels_nms) -> tuple[float, float, float]:
        ax = ay = az = 0.0
        for (a0, a1, a2), hi in zip(self.axes, h_wheels_nms):
            ax += a0 * hi
            ay += a1 * hi
            az += a2 * hi
        return ax, ay, az

    def update(self, gyro_rate_rad_s, h_wheels_nms, *, dt_s: float, torque_nm=(0.0, 0.0, 0.0)) -> tuple[float, float, float]:
        """Rate estimate at this step from the bias-corrected gyro rate and the wheel momenta (torque: the known external torque of the last step)."""
        ax, ay, az = self._wheels_body(h_wheels_nms)
        j0, j1, j2, j3, j4, j5, j6, j7, j8 = self.j
        w = self.omega_rad_s
        if w is None or self.gain >= 1.0:
            w = tuple(gyro_rate_rad_s)
        else:
            # predict: dH/dt (body axes) = τ − ω × H, with J ω = H − A h and this step's wheel
            # momenta; Heun's method, since ω can change a lot within a step when the wheels work
            i0, i1, i2, i3, i4, i5, i6, i7, i8 = self.j_inv
            tx, ty, tz = torque_nm
            h0x, h0y, h0z = self._h_body
            wx, wy, wz = w
            k1x = tx - (wy * h0z - wz * h0y)
            k1y = ty - (wz * h0x - wx * h0z)
            k1z = tz - (wx * h0y - wy * h0x)
            hx, hy, hz = h0x + dt_s * k1x, h0y + dt_s * k1y, h0z + dt_s * k1z
            bx, by, bz = hx - ax, hy - ay, hz - az
            wx, wy, wz = i0 * bx + i1 * by + i2 * bz, i3 * bx + i4 * by + i5 * bz, i6 * bx + i7 * by + i8 * bz
            hd = 0.5 * dt_s
            hx = h0x + hd * (k1x + tx - (wy * hz - wz * hy))
            hy = h0y + hd * (k1y + ty - (wz * hx - wx * hz))
            hz = h0z + hd * (k1z + tz - (wx * hy - wy * hx))
            bx, by, bz = hx - ax, hy - ay, hz - az
            px, py, pz = i0 * bx + i1 * by + i2 * bz, i3 * bx + i4 * by + i5 * bz, i6 * bx + i7 * by + i8 * bz
            g = self.gain
            gx, gy, gz = gyro_rate_rad_s
            w = (px + g * (gx - px), py + g * (gy - py), pz + g * (gz - pz))
        wx, wy, wz = w
        self.omega_rad_s = w
        self._h_body = (j0 * wx + j1 * wy + j2 * wz + ax, j3 * wx + j4 * wy + j5 * wz + ay, j6 * wx + j7 * wy + j8 * wz + az)
        return w
