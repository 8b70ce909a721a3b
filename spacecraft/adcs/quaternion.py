"""Quaternions and rotations for the ADCS, scalar first ``(w, x, y, z)``, Hamilton product.

Convention used throughout :mod:`spacecraft.adcs`: an attitude quaternion
``q`` rotates body-frame vectors into the inertial (GCRS) frame,
``v_i = q ⊗ v_b ⊗ q*``; its kinematics are ``dq/dt = ½ q ⊗ (0, ω_b)`` with
``ω_b`` the body rate in body axes.

Two flavours: vectorised numpy functions (arrays of shape ``(N, 4)`` /
``(N, 3, 3)``) for precomputing references along a time grid, and
pure-Python float functions (suffix ``_f``, tuples) for the 10 Hz inner
loop, where numpy's per-call overhead on 3- and 4-vectors costs more than
the arithmetic.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "quat_multiply",
    "quat_conjugate",
    "quat_to_dcm",
    "dcm_to_quat",
    "quat_from_axis_angle",
    "quat_angle_rad",
    "qmul_f",
    "qconj_f",
    "qrot_f",
    "qnormalize_f",
    "rotvec_from_quat_f",
    "quat_from_rotvec_f",
]


def quat_multiply(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton product ``p ⊗ q`` of quaternions of shape (4,) or (N, 4)."""
    pw, px, py, pz = np.moveaxis(np.asarray(p, dtype=float), -1, 0)
    qw, qx, qy, qz = np.moveaxis(np.asarray(q, dtype=float), -1, 0)
    return np.stack(
        [
            pw * qw - px * qx - py * qy - pz * qz,
            pw * qx + px * qw + py * qz - pz * qy,
            pw * qy - px * qz + py * qw + pz * qx,
            pw * qz + px * qy - py * qx + pz * qw,
        ],
        axis=-1,
    )


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    """Conjugate (inverse of a unit quaternion), shape (4,) or (N, 4)."""
    out = np.array(q, dtype=float, copy=True)
    out[..., 1:] *= -1.0
    return out


def quat_to_dcm(q: np.ndarray) -> np.ndarray:
    """Rotation matrix ``R`` with ``v_i = R @ v_b`` for quaternion(s) of shape (4,) or (N, 4)."""
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=float), -1, 0)
    r = np.empty(np.shape(w) + (3, 3))
    r[..., 0, 0] = 1 - 2 * (y * y + z * z)
    r[..., 0, 1] = 2 * (x * y - w * z)
    r[..., 0, 2] = 2 * (x * z + w * y)
    r[..., 1, 0] = 2 * (x * y + w * z)
    r[..., 1, 1] = 1 - 2 * (x * x + z * z)
    r[..., 1, 2] = 2 * (y * z - w * x)
    r[..., 2, 0] = 2 * (x * z - w * y)
    r[..., 2, 1] = 2 * (y * z + w * x)
    r[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return r


def dcm_to_quat(r: np.ndarray) -> np.ndarray:
    """Unit quaternion(s) with ``w >= 0`` from rotation matrices of shape (3, 3) or (N, 3, 3)."""
    r = np.asarray(r, dtype=float)
    single = r.ndim == 2
    r = r.reshape(-1, 3, 3)
    tr = r[:, 0, 0] + r[:, 1, 1] + r[:, 2, 2]
    # Shepperd: take the largest of the four candidate pivots for accuracy.
    cand = np.stack([tr, r[:, 0, 0], r[:, 1, 1], r[:, 2, 2]], axis=1)
    k = np.argmax(cand, axis=1)
    q = np.empty((r.shape[0], 4))
    for pivot in range(4):
        m = k == pivot
        if not np.any(m):
            continue
        a = r[m]
        if pivot == 0:
            s = 2.0 * np.sqrt(1.0 + tr[m])
            q[m] = np.stack([0.25 * s, (a[:, 2, 1] - a[:, 1, 2]) / s,
                             (a[:, 0, 2] - a[:, 2, 0]) / s, (a[:, 1, 0] - a[:, 0, 1]) / s], axis=1)
        elif pivot == 1:
            s = 2.0 * np.sqrt(1.0 + a[:, 0, 0] - a[:, 1, 1] - a[:, 2, 2])
            q[m] = np.stack([(a[:, 2, 1] - a[:, 1, 2]) / s, 0.25 * s,
                             (a[:, 0, 1] + a[:, 1, 0]) / s, (a[:, 0, 2] + a[:, 2, 0]) / s], axis=1)
        elif pivot == 2:
            s = 2.0 * np.sqrt(1.0 + a[:, 1, 1] - a[:, 0, 0] - a[:, 2, 2])
            q[m] = np.stack([(a[:, 0, 2] - a[:, 2, 0]) / s, (a[:, 0, 1] + a[:, 1, 0]) / s,
                             0.25 * s, (a[:, 1, 2] + a[:, 2, 1]) / s], axis=1)
        else:
            s = 2.0 * np.sqrt(1.0 + a[:, 2, 2] - a[:, 0, 0] - a[:, 1, 1])
            q[m] = np.stack([(a[:, 1, 0] - a[:, 0, 1]) / s, (a[:, 0, 2] + a[:, 2, 0]) / s,
                             (a[:, 1, 2] + a[:, 2, 1]) / s, 0.25 * s], axis=1)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q[0] if single else q


def quat_from_axis_angle(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Unit quaternion rotating by ``angle_rad`` about ``axis`` (any length > 0)."""
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    return np.concatenate([[math.cos(angle_rad / 2)], math.sin(angle_rad / 2) * a])


def quat_angle_rad(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Rotation angle between attitudes ``p`` and ``q`` (shape (4,) or (N, 4)), in radians."""
    d = np.abs(np.sum(np.asarray(p) * np.asarray(q), axis=-1))
    return 2.0 * np.arccos(np.clip(d, 0.0, 1.0))


# --- float versions for the inner loop -------------------------------------------------------

Quat = tuple[float, float, float, float]
Vec3 = tuple[float, float, float]


def qmul_f(p: Quat, q: Quat) -> Quat:
    """Hamilton product of two float 4-tuples."""
    pw, px, py, pz = p
    qw, qx, qy, qz = q
    return (
        pw * qw - px * qx - py * qy - pz * qz,
        pw * qx + px * qw + py * qz - pz * qy,
        pw * qy - px * qz + py * qw + pz * qx,
        pw * qz + px * qy - py * qx + pz * qw,
    )


def dcm_f(q: Quat) -> tuple[float, float, float, float, float, float, float, float, float]:
    """The rotation matrix of ``quat_to_dcm`` for a float 4-tuple, row by row (r00, r01, ..., r22)."""
    w, x, y, z = q
    return (1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - w * z), 2.0 * (x * z + w * y),
            2.0 * (x * y + w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - w * x),
            2.0 * (x * z - w * y), 2.0 * (y * z + w * x), 1.0 - 2.0 * (x * x + y * y))


def qconj_f(q: Quat) -> Quat:
    """Conjugate of a float 4-tuple quaternion."""
    return (q[0], -q[1], -q[2], -q[3])


def qrot_f(q: Quat, v: Vec3) -> Vec3:
    """Rotate body vector ``v`` into the inertial frame: ``q ⊗ v ⊗ q*``."""
    w, x, y, z = q
    vx, vy, vz = v
    # t = 2 (q_vec × v); v' = v + w t + q_vec × t
    tx = 2.0 * (y * vz - z * vy)
    ty = 2.0 * (z * vx - x * vz)
    tz = 2.0 * (x * vy - y * vx)
    return (
        vx + w * tx + y * tz - z * ty,
        vy + w * ty + z * tx - x * tz,
        vz + w * tz + x * ty - y * tx,
    )


def qnormalize_f(q: Quat) -> Quat:
    """Unit quaternion with the same direction, scalar part made non-negative."""
    n = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    if q[0] < 0:
        n = -n
    return (q[0] / n, q[1] / n, q[2] / n, q[3] / n)


def rotvec_from_quat_f(q: Quat) -> Vec3:
    """Rotation vector (axis × angle, rad) of a unit quaternion, shortest way round."""
    w, x, y, z = q
    if w < 0:
        w, x, y, z = -w, -x, -y, -z
    s = math.sqrt(x * x + y * y + z * z)
    if s < 1e-12:
        return (2.0 * x, 2.0 * y, 2.0 * z)
    k = 2.0 * math.atan2(s, w) / s
    return (k * x, k * y, k * z)


def quat_from_rotvec_f(v: Vec3) -> Quat:
    """Unit quaternion of rotation vector ``v`` (axis × angle, rad)."""
    vx, vy, vz = v
    a = math.sqrt(vx * vx + vy * vy + vz * vz)
    if a < 1e-9:
        # second-order series keeps the norm to 1e-18
        return qnormalize_f((1.0 - a * a / 8.0, 0.5 * vx, 0.5 * vy, 0.5 * vz))
    s = math.sin(0.5 * a) / a
    return (math.cos(0.5 * a), s * vx, s * vy, s * vz)
