"""Guidance: modes, ground targets, pass windows and attitude references along a time grid.

A reference is an attitude history (body -> GCRS quaternions) sampled on the
control grid, with its angular velocity and acceleration in reference-body
axes obtained by central differences of the sampled attitude (second-order
accurate; at 10 Hz the truncation error is ~1e-8 rad/s for a 0.9 °/s
zenith pass). Each law is a function of time only, so a whole block of
references is computed in one vectorised call and the control loop indexes.

Pointing laws (primary body axis on a direction, a secondary body axis as
close as possible to a second direction, solved by TRIAD):

* nadir: boresight to the geocentric nadir, panel normal toward the velocity;
* sun pointing: panel normal to the sun, boresight as close to nadir as
  allowed (keeps the star tracker on −Z looking at the sky);
* inertial hold: a fixed quaternion;
* target tracking: boresight on the line of sight to a WGS84 point, the
  secondary constraint either along-track (``"velocity"``, the default, as a
  push-broom imager wants) or the panel normal toward the sun (``"sun"``);
  the sun constraint blends into along-track as the sun comes within ~30° of
  the line of sight (or its opposite), where it cannot fix the roll -- the
  roll about the boresight can still need a fast (up to the slew-rate cap)
  half turn there, which is why it is not the default.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from .environment import EnvironmentSamples, Orbit, geodetic_to_itrs_m, geodetic_up_itrs
from .quaternion import dcm_to_quat, quat_conjugate, quat_multiply

__all__ = [
    "Mode",
    "Target",
    "PassWindow",
    "Reference",
    "triad_dcm",
    "nadir_dcm",
    "sun_dcm",
    "tracking_dcm",
    "reference_from_dcm",
    "target_geometry",
    "find_windows",
]


class Mode(enum.IntEnum):
    """ADCS modes; the integer is what housekeeping carries."""

    DETUMBLE = 1
    SUN_POINTING = 2
    NADIR = 3
    INERTIAL_HOLD = 4
    TARGET_TRACKING = 5


@dataclass(frozen=True)
class Target:
    """A point on the ground to image: WGS84 latitude/longitude/height and how to image it."""

    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    min_elevation_deg: float = 10.0
    dwell_s: float | None = None  # None: the whole window above min_elevation_deg
    secondary: str = "velocity"  # "velocity" (along-track) or "sun" (panels toward the sun)

    def __post_init__(self) -> None:
        if not -90.0 <= self.lat_deg <= 90.0:
            raise ValueError(f"target {self.name!r}: latitude {self.lat_deg} outside -90..90 deg")
        if self.secondary not in ("sun", "velocity"):
            raise ValueError(f"target {self.name!r}: secondary {self.secondary!r} must be 'sun' or 'velocity'")

    def itrs_m(self) -> np.ndarray:
        """ITRS position (3,), metres."""
        return geodetic_to_itrs_m(self.lat_deg, self.lon_deg, self.alt_m)


@dataclass(frozen=True)
class PassWindow:
    """An interval in which a target sees the spacecraft above its minimum elevation."""

    target: Target
    start_s: float
    end_s: float
    max_elevation_deg: float
    max_elevation_s: float

    @property
    def duration_s(self) -> float:
        """Length of the window."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Reference:
    """Reference attitude on grid points: q (N, 4) body->GCRS, rate and acceleration (N, 3) in reference axes."""

    q: np.ndarray
    omega_rad_s: np.ndarray
    alpha_rad_s2: np.ndarray


SUN_BLEND_SIN = math.sin(math.radians(30.0))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def triad_dcm(primary: np.ndarray, secondary: np.ndarray, primary_body, secondary_body) -> np.ndarray:
    """DCMs (N, 3, 3), body -> GCRS, putting ``primary_body`` on ``primary`` and ``secondary_body`` toward ``secondary``."""
    pb = _unit(np.asarray(primary_body, dtype=float))
    sb = np.asarray(secondary_body, dtype=float)
    t2 = _unit(np.cross(pb, sb))
    body = np.stack([pb, t2, np.cross(pb, t2)], axis=1)  # columns
    p = _unit(np.asarray(primary, dtype=float))
    c = np.cross(p, np.asarray(secondary, dtype=float))
    t2i = _unit(c)
    inert = np.stack([p, t2i, np.cross(p, t2i)], axis=-1)
    return inert @ body.T


def nadir_dcm(env: EnvironmentSamples, *, boresight_body, panel_body) -> np.ndarray:
    """Nadir-pointing DCMs: boresight to -r, panel normal toward the velocity."""
    return triad_dcm(-env.r_m, env.v_m_s, boresight_body, panel_body)


def sun_dcm(env: EnvironmentSamples, *, boresight_body, panel_body) -> np.ndarray:
    """Sun-pointing DCMs: panel normal to the sun, boresight toward nadir."""
    return triad_dcm(env.sun_unit, -env.r_m, panel_body, boresight_body)


def target_geometry(env: EnvironmentSamples, target: Target) -> tuple[np.ndarray, np.ndarray]:
    """Line of sight spacecraft -> target (N, 3) in GCRS, metres, and the spacecraft's elevation seen from the target (deg)."""
    rt = np.einsum("nji,j->ni", env.gcrs_to_itrs, target.itrs_m())
    up = np.einsum("nji,j->ni", env.gcrs_to_itrs, geodetic_up_itrs(target.lat_deg, target.lon_deg))
    los = rt - env.r_m
    el = np.degrees(np.arcsin(np.clip(np.sum(-los * up, axis=1) / np.linalg.norm(los, axis=1), -1.0, 1.0)))
    return los, el


def tracking_dcm(env: EnvironmentSamples, target: Target, *, boresight_body, panel_body) -> np.ndarray:
    """Target-tracking DCMs: boresight on the target, the secondary constraint as the target asks."""
    los, _ = target_geometry(env, target)
    u = _unit(los)
    v = env.v_m_s
    if target.secondary == "sun":
        # Where the sun lines up with the line of sight the sun constraint has no
        # roll to give; blend in the along-track direction as the sun's component
        # across the line of sight shrinks, so the reference roll turns smoothly
        # instead of spinning through the singularity.
        s = env.sun_unit
        s_perp = s - np.sum(s * u, axis=1, keepdims=True) * u
        vu = _unit(v)
        v_perp = vu - np.sum(vu * u, axis=1, keepdims=True) * u
        mag = np.linalg.norm(s_perp, axis=1, keepdims=True)
        w = np.exp(-((mag / SUN_BLEND_SIN) ** 2))
        return triad_dcm(u, (1.0 - w) * s_perp + w * v_perp, boresight_body, panel_body)
    return triad_dcm(u, v, boresight_body, panel_body)


def reference_from_dcm(dcm: np.ndarray, dt_s: float) -> Reference:
    """Reference for the N-2 interior points of DCMs sampled every ``dt_s`` (first and last are margins)."""
    q = dcm_to_quat(dcm)
    # make the sequence sign-continuous so differences are small rotations
    flip = np.sign(np.sum(q[1:] * q[:-1], axis=1))
    flip[flip == 0] = 1.0
    q[1:] *= np.cumprod(flip)[:, None]
    d = quat_multiply(quat_conjugate(q[:-1]), q[1:])  # rotation from k to k+1, body axes
    s = np.linalg.norm(d[:, 1:], axis=1)
    ang = 2.0 * np.arctan2(s, d[:, 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(s > 1e-15, ang / s, 2.0)
    step_rate = d[:, 1:] * k[:, None] / dt_s  # mean rate over each interval
    omega = 0.5 * (step_rate[:-1] + step_rate[1:])
    alpha = (step_rate[1:] - step_rate[:-1]) / dt_s
    return Reference(q[1:-1], omega, alpha)


def find_windows(orbit: Orbit, target: Target, *, start_s: float, duration_s: float, coarse_s: float = 20.0) -> list[PassWindow]:
    """Windows with the spacecraft above the target's minimum elevation in [start_s, start_s + duration_s]."""
    t = np.arange(start_s, start_s + duration_s + coarse_s, coarse_s)
    el = _elevation_deg(orbit, target, t) - target.min_elevation_deg
    above = el > 0
    windows = []
    edges = np.flatnonzero(np.diff(above.astype(int)))
    rises = [i for i in edges if not above[i]]
    sets = [i for i in edges if above[i]]
    starts = ([None] if above[0] else []) + rises
    for i0 in starts:
        i1 = next((s for s in sets if i0 is None or s > i0), None)
        t_rise = t[0] if i0 is None else _refine(orbit, target, t[i0], t[i0 + 1])
        t_set = t[-1] if i1 is None else _refine(orbit, target, t[i1], t[i1 + 1])
        fine = np.linspace(t_rise, t_set, max(3, int((t_set - t_rise) / 1.0)))
        fe = _elevation_deg(orbit, target, fine)
        j = int(np.argmax(fe))
        windows.append(PassWindow(target, float(t_rise), float(t_set), float(fe[j]), float(fine[j])))
    return windows


def _elevation_deg(orbit: Orbit, target: Target, t_s: np.ndarray) -> np.ndarray:
    r, _ = orbit.position_gcrs_m(t_s)
    rot = orbit.gcrs_to_itrs(t_s)
    r_itrs = np.einsum("nij,nj->ni", rot, r)
    los = r_itrs - target.itrs_m()
    up = geodetic_up_itrs(target.lat_deg, target.lon_deg)
    return np.degrees(np.arcsin(los @ up / np.linalg.norm(los, axis=1)))


def _refine(orbit: Orbit, target: Target, t_lo: float, t_hi: float) -> float:
    """Time of the min-elevation crossing in [t_lo, t_hi], to ~1 ms (two dense passes + interpolation)."""
    for n in (41, 41):
        t = np.linspace(t_lo, t_hi, n)
        e = _elevation_deg(orbit, target, t) - target.min_elevation_deg
        i = int(np.flatnonzero(np.diff(np.sign(e)))[0])
        t_lo, t_hi = t[i], t[i + 1]
        e_lo, e_hi = e[i], e[i + 1]
    return float(t_lo + (t_hi - t_lo) * e_lo / (e_lo - e_hi))
