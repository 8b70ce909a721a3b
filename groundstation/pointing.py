"""Rotator pointing for a pass, sans-IO: look angles in, az-el rotator commands (the kind rotctld takes) out.

:func:`plan_pass` takes a pass's times ``t_s`` and the satellite's azimuth ``az_deg`` (0..360, north 0,
east 90) and elevation ``el_deg``, all shape (N,), and a :class:`RotatorLimits`; it returns a
:class:`PointingPlan`: commands ``cmd_az_deg``/``cmd_el_deg`` on the same grid, always inside the
limits and never faster than the slew rates between consecutive samples, the pre-position (the first
command) and park, and the pointing error per sample -- the great-circle angle on the sky between where
the antenna points and where the satellite is (:func:`angle_between_deg`). Nothing here reads a clock
or talks to a rotator: the caller sends ``P az el`` at each ``t_s`` (or :meth:`PointingPlan.position_at`).

Commandable coordinates. A rotator's azimuth range may exceed 360 (hamlib's dummy -180..450, a G-5500
0..450): one direction then has two commandable azimuths, and going from 350 to 10 the long way round
is a 340 degree move -- the rotator cannot cross its stop. A rotator with ``max_el_deg`` 180 can "flip":
(az + 180, 180 - el) points where (az, el) does, over the top. So a plan is a choice of representative
for every sample, and :func:`time_to_reach` measures moves in commandable coordinates, both axes at once.

Choices made here, each with its reason:

* Cable wrap. The pass's azimuth is unwrapped (no 360 jumps inside a pass), then shifted by whole turns,
  az + k*360: among the shifts that keep the whole pass inside [min_az, max_az] the planner takes the one
  the rotator reaches soonest from where it is (``current_az_deg``/``current_el_deg``, by default the park
  position; :func:`time_to_reach`), then the one farthest from the stops. If no shift fits (a pass through
  north on a 0..360 rotator), the samples off the range are moved by a whole turn into it -- so nothing
  outside the limits is ever commanded -- choosing the shift with the fewest such unwinds, then the fewest
  samples moved; the samples where the track jumps a turn are ``unwind_idx``, and the ~360 degree slew
  there shows in ``error_deg``. A rotator with less than 360 degrees of azimuth cannot point everywhere:
  there the nearest stop is commanded and the error reported.
* Keyhole. Near zenith the azimuth of an overhead pass turns at about omega/tan(zenith distance): on an
  88 degree pass at 500 km ~25 deg/s, far beyond a 6 deg/s rotator. Whatever the mode, the command is
  rate limited (below) and the resulting error reported; near zenith an azimuth error costs little,
  about delta_az*cos(el) on the sky, which is why the error stays a few degrees.
* Flip. Flipping the *whole* pass, (az + 180, 180 - el) at every sample, leaves the azimuth rate as it
  was (the whole track is only turned by 180 degrees): it moves a north crossing to the south, so it is
  what a 0..360 flip rotator uses against the cable wrap, and the planner considers it for that. Against
  the keyhole the flip is made at culmination: the samples before the highest one are flipped and those
  after it are not (or the reverse, whichever suits the cable wrap), so the azimuth stays near the pass's
  plane all along and the elevation sweeps through 90 from one horizon to the other; the cost is at most
  about the pass's zenith distance (90 - peak) at culmination, where the representation changes. It is
  considered when the rotator can flip (``max_el_deg`` >= 180) and the peak is at least
  ``flip_above_el_deg`` (default 75). Rather than trusting the threshold alone, ``mode="auto"`` plans both
  and flies the flip only when it unwinds less, or as little with a smaller maximum error: with a fast
  azimuth a 75 degree pass is tracked exactly in normal mode while the flip would cost ~15 degrees.
  ``mode="normal"`` or ``"flip"`` forces one. In normal mode the elevation command stays at or below 90.
* Slew limits and look-ahead. Each axis is planned as a min-max problem: the command may start moving
  before the target does, so that the largest sky error over the pass is as small as the rates allow (an
  unwind or a keyhole is met half early, half late, instead of only late as a rate-limited follower
  would). It is solved exactly for a bound: the set of positions within the bound at each sample is an
  interval, the positions reachable from the past and those from which the future can be met are running
  max/min sums (O(N)), and a bisection finds the smallest bound for which they meet. Events are then
  taken one by one, worst first: the run of samples the worst one keeps off their ideal point is fixed
  at its bound and the rest of the pass is bisected again (up to 8 events), so an unwind does not
  license sloppy tracking through a keyhole elsewhere in the pass. The final command is a greedy pass
  that stays as close to the ideal point as those sets allow. Elevation is planned first (its
  rate is rarely the problem), then azimuth against the exact sky error given the elevation command; then
  elevation again given the azimuth (with the azimuth lagging near zenith the best elevation moves towards
  90) and azimuth again, and the better of the two rounds, by maximum error, is kept.
* Reporting. ``error_deg`` is computed from the final commands, whatever the planner believed;
  ``limit_error_deg`` is what an infinitely fast rotator would still miss (elevation below ``min_el_deg``
  at the ends of a pass, azimuths beyond a short rotator's stops); ``slew_limited_idx`` are the samples
  where the command is off its ideal point because a rate does not let it be there -- the error budget
  near zenith, or an unwind.

Limits of the model: the rotator is taken to move at its full rate at once (no acceleration) and to be
where it was commanded at each sample; the grid must be fine enough that the azimuth moves less than 180
degrees between samples (unwrapping needs it; 1 s is ample below ~89.9 degrees of elevation); rates are
one number per axis.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import Final, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "FLIP_ABOVE_EL_DEG",
    "HAMLIB_DUMMY",
    "PointingPlan",
    "RotatorLimits",
    "angle_between_deg",
    "plan_pass",
    "time_to_reach",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
Mode = Literal["normal", "flip"]

#: Default peak elevation (degrees) from which a flip-capable rotator considers the flip at culmination.
FLIP_ABOVE_EL_DEG: Final = 75.0

_LEVELS: Final = 8  # events (runs of samples) given their own min-max bound, worst first
_BISECT_DEG: Final = 1e-6  # bisection precision on the error bound
_CRIT_DEG: Final = 1e-4  # a sample needing within this of the level's bound is fixed at it
_FEAS_DEG: Final = 1e-9  # slack for the reachable-set test (rounding of the running sums)
_IDEAL_DEG: Final = 1e-6  # a command farther than this from its ideal point is slew limited
_ROUNDS: Final = 2  # elevation-then-azimuth rounds (the second with the elevation given the azimuth)
_MAX_TURNS: Final = 3  # whole turns tried when folding an azimuth into the range (|az| <= 720)


@dataclass(frozen=True, slots=True)
class RotatorLimits:
    """An az-el rotator: commandable ranges (degrees), slew rates (degrees per second), park position."""

    min_az_deg: float
    max_az_deg: float
    min_el_deg: float
    max_el_deg: float
    az_slew_rate_deg_s: float
    el_slew_rate_deg_s: float
    park_az_deg: float
    park_el_deg: float

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"{f.name}={value!r}: give a finite number")
        if not -360.0 <= self.min_az_deg < self.max_az_deg <= 720.0:
            raise ValueError(f"min_az_deg={self.min_az_deg}, max_az_deg={self.max_az_deg}: need "
                             "-360 <= min_az_deg < max_az_deg <= 720")
        if not -90.0 <= self.min_el_deg < 90.0:
            raise ValueError(f"min_el_deg={self.min_el_deg}: allowed -90 <= min_el_deg < 90")
        if not self.min_el_deg < self.max_el_deg <= 180.0:
            raise ValueError(f"max_el_deg={self.max_el_deg}: allowed min_el_deg ({self.min_el_deg}) < "
                             "max_el_deg <= 180 (90 normally, 180 for a rotator that flips over the top)")
        for name in ("az_slew_rate_deg_s", "el_slew_rate_deg_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}={getattr(self, name)}: a slew rate must be > 0 deg/s")
        if not self.min_az_deg <= self.park_az_deg <= self.max_az_deg:
            raise ValueError(f"park_az_deg={self.park_az_deg}: must be inside min_az_deg..max_az_deg "
                             f"({self.min_az_deg}..{self.max_az_deg})")
        if not self.min_el_deg <= self.park_el_deg <= self.max_el_deg:
            raise ValueError(f"park_el_deg={self.park_el_deg}: must be inside min_el_deg..max_el_deg "
                             f"({self.min_el_deg}..{self.max_el_deg})")

    @property
    def can_flip(self) -> bool:
        """Whether the elevation reaches 180, so (az + 180, 180 - el) is commandable."""
        return self.max_el_deg >= 180.0


#: hamlib's dummy rotator (rotators/dummy/rot_dummy.c, caps 20220531.0): -180..450, 0..90, simulated at
#: 360 degrees a minute on both axes, parked at (0, 0).
HAMLIB_DUMMY: Final = RotatorLimits(min_az_deg=-180.0, max_az_deg=450.0, min_el_deg=0.0, max_el_deg=90.0,
                                    az_slew_rate_deg_s=6.0, el_slew_rate_deg_s=6.0,
                                    park_az_deg=0.0, park_el_deg=0.0)


@overload
def angle_between_deg(az1_deg: float, el1_deg: float, az2_deg: float, el2_deg: float) -> float: ...
@overload
def angle_between_deg(az1_deg: ArrayLike, el1_deg: ArrayLike, az2_deg: ArrayLike,
                      el2_deg: ArrayLike) -> FloatArray | float: ...
def angle_between_deg(az1_deg: ArrayLike, el1_deg: ArrayLike, az2_deg: ArrayLike,
                      el2_deg: ArrayLike) -> FloatArray | float:
    """Great-circle angle on the sky (degrees, 0..180) between two directions; arrays broadcast, el may pass 90."""
    a1, e1, a2, e2 = (np.radians(np.asarray(x, dtype=np.float64)) for x in (az1_deg, el1_deg, az2_deg, el2_deg))
    # unit vectors (east, north, up); atan2 of |cross| and dot stays accurate near 0 and 180 degrees
    x1, y1, z1 = np.cos(e1) * np.sin(a1), np.cos(e1) * np.cos(a1), np.sin(e1)
    x2, y2, z2 = np.cos(e2) * np.sin(a2), np.cos(e2) * np.cos(a2), np.sin(e2)
    cross = np.sqrt((y1 * z2 - z1 * y2) ** 2 + (z1 * x2 - x1 * z2) ** 2 + (x1 * y2 - y1 * x2) ** 2)
    angle = np.degrees(np.arctan2(cross, x1 * x2 + y1 * y2 + z1 * z2))
    return float(angle) if angle.ndim == 0 else angle


def _check_position(name: str, az_deg: float, el_deg: float, limits: RotatorLimits) -> None:
    if not (math.isfinite(az_deg) and limits.min_az_deg <= az_deg <= limits.max_az_deg):
        raise ValueError(f"{name}_az_deg={az_deg}: must be inside the rotator's min_az_deg..max_az_deg "
                         f"({limits.min_az_deg}..{limits.max_az_deg}), in its own (commandable) azimuths")
    if not (math.isfinite(el_deg) and limits.min_el_deg <= el_deg <= limits.max_el_deg):
        raise ValueError(f"{name}_el_deg={el_deg}: must be inside the rotator's min_el_deg..max_el_deg "
                         f"({limits.min_el_deg}..{limits.max_el_deg})")


def time_to_reach(from_az_deg: float, from_el_deg: float, to_az_deg: float, to_el_deg: float,
                  limits: RotatorLimits) -> float:
    """Seconds to slew between two commandable positions, both axes at once (no short cut across a stop)."""
    _check_position("from", from_az_deg, from_el_deg, limits)
    _check_position("to", to_az_deg, to_el_deg, limits)
    return _travel_s(from_az_deg, from_el_deg, to_az_deg, to_el_deg, limits)


def _travel_s(from_az: float, from_el: float, to_az: float, to_el: float, limits: RotatorLimits) -> float:
    return max(abs(to_az - from_az) / limits.az_slew_rate_deg_s, abs(to_el - from_el) / limits.el_slew_rate_deg_s)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class PointingPlan:
    """Rotator commands for one pass; every array is shape (N,) on the pass's grid ``t_s`` unless noted."""

    mode: Mode  # "flip" when some samples are commanded as (az + 180, 180 - el)
    limits: RotatorLimits
    t_s: FloatArray
    cmd_az_deg: FloatArray  # inside min_az_deg..max_az_deg, within az_slew_rate_deg_s between samples
    cmd_el_deg: FloatArray  # inside min_el_deg..max_el_deg (..90 in normal mode), within el_slew_rate_deg_s
    ideal_az_deg: FloatArray  # where an infinitely fast rotator would be, on the same wrap and representation
    ideal_el_deg: FloatArray
    flipped: NDArray[np.bool_]  # samples commanded in the flipped representation
    error_deg: FloatArray  # sky angle from where the antenna points to the satellite
    limit_error_deg: FloatArray  # the part of it no slew rate could remove (the ideal point's error)
    max_error_deg: float
    slew_limited_idx: IntArray  # (L,) samples where a rate keeps the command off its ideal point
    unwind_idx: IntArray  # (M,) samples where the track jumps a whole turn to stay inside the azimuth range
    preposition_az_deg: float  # the first command: be there at t_s[0]
    preposition_el_deg: float
    park_az_deg: float  # where to go after the last sample
    park_el_deg: float
    park_time_s: float  # slew time from the last command to park

    def preposition_time_s(self, from_az_deg: float, from_el_deg: float) -> float:
        """Seconds to slew from a (commandable) position to the pre-position; start that long before AOS."""
        return time_to_reach(from_az_deg, from_el_deg, self.preposition_az_deg, self.preposition_el_deg,
                             self.limits)

    @overload
    def position_at(self, t_s: float) -> tuple[float, float]: ...
    @overload
    def position_at(self, t_s: ArrayLike) -> tuple[FloatArray | float, FloatArray | float]: ...
    def position_at(self, t_s: ArrayLike) -> tuple[FloatArray | float, FloatArray | float]:
        """Commanded (az_deg, el_deg) at scalar or array ``t_s``: linear between samples, held outside them."""
        # linear interpolation keeps both the limits (convex) and the rates (slopes between samples)
        t = np.asarray(t_s, dtype=np.float64)
        az = np.interp(t, self.t_s, self.cmd_az_deg)
        el = np.interp(t, self.t_s, self.cmd_el_deg)
        return (float(az), float(el)) if t.ndim == 0 else (az, el)

    @property
    def max_az_rate_deg_s(self) -> float:
        """Fastest commanded azimuth move between consecutive samples (deg/s)."""
        return _max_rate(self.t_s, self.cmd_az_deg)

    @property
    def max_el_rate_deg_s(self) -> float:
        """Fastest commanded elevation move between consecutive samples (deg/s)."""
        return _max_rate(self.t_s, self.cmd_el_deg)


def _max_rate(t_s: FloatArray, x: FloatArray) -> float:
    return float(np.max(np.abs(np.diff(x)) / np.diff(t_s))) if len(t_s) > 1 else 0.0


# --- candidates: representation (normal / flipped samples) and cable wrap --------------------------------

@dataclass(frozen=True, slots=True)
class _Track:
    """The target in commandable coordinates for one representation and cable wrap."""

    mode: Mode
    flipped: NDArray[np.bool_]
    az_deg: FloatArray  # target azimuth, folded into the range (outside only where no turn reaches it)
    el_deg: FloatArray  # target elevation in command coordinates (180 - el where flipped)
    el_lo_deg: float
    el_hi_deg: float
    unwind_idx: IntArray
    n_folded: int
    n_unreachable: int
    rank: int  # preference among equally good candidates (lower first)
    travel_s: float
    margin_deg: float

    def key(self) -> tuple[int, int, int, int, float, float]:
        """Sort key: fewest unwinds, unreachable and folded samples, preference, soonest reached, most margin."""
        return (len(self.unwind_idx), self.n_unreachable, self.n_folded, self.rank, self.travel_s,
                -self.margin_deg)


def _wrap180(x: FloatArray) -> FloatArray:
    return (x + 180.0) % 360.0 - 180.0


def _fold(track: FloatArray, lo: float, hi: float) -> tuple[FloatArray, IntArray, NDArray[np.bool_]]:
    """``track`` with each azimuth outside [lo, hi] moved by the fewest whole turns into it (or nearest it)."""
    turns = np.arange(-_MAX_TURNS, _MAX_TURNS + 1)[:, None]
    cand = track[None, :] + 360.0 * turns
    dist = np.maximum(np.maximum(lo - cand, cand - hi), 0.0)
    pick = np.argmin(np.where(dist > 0.0, 10.0 * _MAX_TURNS + dist, np.abs(turns)), axis=0)
    cols = np.arange(track.size)
    return cand[pick, cols], turns[pick, 0], dist[pick, cols] > 0.0


def _tracks(az: FloatArray, el: FloatArray, limits: RotatorLimits, *, kind: str, rank: int,
            start_az: float, start_el: float) -> list[_Track]:
    """Every cable wrap of one representation: 'normal', 'whole' (all flipped), 'first'/'second' (half)."""
    n = az.size
    peak = int(np.argmax(el))
    idx = np.arange(n)
    flipped = {"normal": np.zeros(n, bool), "whole": np.ones(n, bool),
               "first": idx < peak, "second": idx > peak}[kind]
    raw = np.where(flipped, az + 180.0, az)
    if kind in ("first", "second"):
        # centre the track on its mean azimuth, the pass's plane: the half-turn jump at culmination then
        # goes through that azimuth, which the rotator holds while the elevation sweeps through 90
        axis = math.degrees(math.atan2(float(np.mean(np.sin(np.radians(raw)))),
                                       float(np.mean(np.cos(np.radians(raw))))))
        base = axis + _wrap180(raw - axis)
    else:
        base = np.unwrap(raw, period=360.0)
    te = np.where(flipped, 180.0 - el, el)
    mode: Mode = "normal" if kind == "normal" else "flip"
    el_lo, el_hi = limits.min_el_deg, (min(limits.max_el_deg, 90.0) if mode == "normal" else limits.max_el_deg)
    lo, hi = limits.min_az_deg, limits.max_az_deg
    k_min = math.floor((lo - float(base.max())) / 360.0)
    k_max = math.ceil((hi - float(base.min())) / 360.0)
    out = []
    for k in range(k_min, k_max + 1):
        folded, turns, unreachable = _fold(base + 360.0 * k, lo, hi)
        ideal_az0 = min(max(float(folded[0]), lo), hi)
        ideal_el0 = min(max(float(te[0]), el_lo), el_hi)
        out.append(_Track(
            mode=mode, flipped=flipped, az_deg=folded, el_deg=te, el_lo_deg=el_lo, el_hi_deg=el_hi,
            unwind_idx=np.flatnonzero(np.diff(turns)) + 1, n_folded=int(np.count_nonzero(turns)),
            n_unreachable=int(np.count_nonzero(unreachable)), rank=rank,
            travel_s=_travel_s(start_az, start_el, ideal_az0, ideal_el0, limits),
            margin_deg=float(min(np.min(folded - lo), np.min(hi - folded)))))
    return out


# --- min-max rate-limited tracking of one axis -----------------------------------------------------------

def _reachable(t: FloatArray, lo: FloatArray, hi: FloatArray, rate: float) -> tuple[FloatArray, FloatArray]:
    """Per sample, the positions in [lo, hi] on some path through every sample's [lo, hi] at ``rate``."""
    # reachable from the past: max_j<=i (lo_j - rate*(t_i - t_j)) .. min_j<=i (hi_j + rate*(t_i - t_j)),
    # running max/min of lo + rate*t and hi - rate*t; from the future likewise, backwards. The result is
    # empty somewhere (lo > hi) exactly when no path exists.
    rt = rate * t
    f_lo = np.maximum.accumulate(lo + rt) - rt
    f_hi = np.minimum.accumulate(hi - rt) + rt
    b_lo = np.maximum.accumulate((lo - rt)[::-1])[::-1] + rt
    b_hi = np.minimum.accumulate((hi + rt)[::-1])[::-1] - rt
    return np.maximum(f_lo, b_lo), np.minimum(f_hi, b_hi)


class _Axis:
    """One axis to plan: the ideal position, the error of a position and the positions within a bound."""

    centre: FloatArray  # the position the error is symmetric about (set by the subclass)

    def __init__(self, ideal: FloatArray, lo: float, hi: float) -> None:
        self.ideal, self.lo, self.hi = ideal, lo, hi

    def error(self, c: FloatArray) -> FloatArray:
        raise NotImplementedError

    def half_width(self, bound: FloatArray) -> FloatArray:
        """Per sample, how far from ``centre`` a position may be within ``bound`` (>= 180: anywhere)."""
        raise NotImplementedError

    def tube(self, bound: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Per sample, the interval of positions within ``bound`` of error (always holding the ideal one)."""
        w = self.half_width(bound)
        anywhere = (w >= 180.0) | (bound >= 180.0)
        lo = np.where(anywhere, self.lo, np.maximum(self.centre - w, self.lo))
        hi = np.where(anywhere, self.hi, np.minimum(self.centre + w, self.hi))
        return np.minimum(lo, self.ideal), np.maximum(hi, self.ideal)


class _Elevation(_Axis):
    """Elevation given the azimuth command: the error is R*cos(ce - psi) in cosine (a vertical great circle)."""

    def __init__(self, te: FloatArray, delta_az: FloatArray, lo: float, hi: float) -> None:
        te_r, d_r = np.radians(te), np.radians(delta_az)
        a, b = np.sin(te_r), np.cos(te_r) * np.cos(d_r)
        self.r = np.hypot(a, b)
        # best elevation for this azimuth, on the branch nearest the target's own elevation
        self.centre = te + _wrap180(np.degrees(np.arctan2(a, b)) - te)
        super().__init__(np.clip(self.centre, lo, hi), lo, hi)

    def error(self, c: FloatArray) -> FloatArray:
        return np.degrees(np.arccos(np.clip(self.r * np.cos(np.radians(c - self.centre)), -1.0, 1.0)))

    def half_width(self, bound: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.cos(np.radians(bound)) / self.r
        w = np.degrees(np.arccos(np.clip(ratio, -1.0, 1.0)))
        return np.where(self.r < 1e-12, np.where(bound >= 90.0, 180.0, 0.0), np.where(ratio > 1.0, 0.0, w))


class _Azimuth(_Axis):
    """Azimuth given the elevation command: cos(error) = S + P*cos(ca - ta)."""

    def __init__(self, ta: FloatArray, te: FloatArray, ce: FloatArray, lo: float, hi: float) -> None:
        te_r, ce_r = np.radians(te), np.radians(ce)
        self.s, self.p = np.sin(te_r) * np.sin(ce_r), np.cos(te_r) * np.cos(ce_r)
        self.centre = ta
        super().__init__(np.clip(ta, lo, hi), lo, hi)

    def error(self, c: FloatArray) -> FloatArray:
        return np.degrees(np.arccos(np.clip(self.s + self.p * np.cos(np.radians(c - self.centre)), -1.0, 1.0)))

    def half_width(self, bound: FloatArray) -> FloatArray:
        cb = np.cos(np.radians(bound))
        positive = self.p > 1e-12
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (cb - self.s) / self.p
        w = np.where(ratio > 1.0, 0.0, np.degrees(np.arccos(np.clip(ratio, -1.0, 1.0))))
        # P <= 0 (target and command either side of zenith): azimuth 0 off is the worst, so either every
        # azimuth is within the bound or (conservatively) only the ideal one
        w_flat = np.where(self.s + self.p >= cb, 180.0, 0.0)
        return np.where(positive, w, w_flat)


def _greedy(t: FloatArray, rate: float, ideal: FloatArray, k_lo: FloatArray, k_hi: FloatArray) -> FloatArray:
    """Follow ``ideal`` as closely as the feasible sets [k_lo, k_hi] and ``rate`` allow, sample by sample."""
    step = (rate * np.diff(t)).tolist()
    ideal_l, lo_l, hi_l = ideal.tolist(), k_lo.tolist(), k_hi.tolist()
    prev = min(max(ideal_l[0], lo_l[0]), hi_l[0])
    out = [prev]
    for i in range(1, len(ideal_l)):
        s = step[i - 1]
        x = min(max(ideal_l[i], lo_l[i], prev - s), hi_l[i], prev + s)
        prev = min(max(x, prev - s), prev + s)  # the rate wins over rounding in the sets
        out.append(prev)
    return np.asarray(out)


def _track_axis(t: FloatArray, rate: float, axis: _Axis) -> FloatArray:
    """Rate-limited command for one axis: lexicographic min-max of the error, then greedy towards the ideal."""
    floor = axis.error(axis.ideal)
    fixed = np.zeros(t.size, bool)
    bound = np.full(t.size, 180.0)

    def with_free(eps: float) -> FloatArray:
        return np.where(fixed, bound, np.maximum(floor, eps))

    def feasible(b: FloatArray) -> bool:
        k_lo, k_hi = _reachable(t, *axis.tube(b), rate)
        return bool(np.all(k_lo <= k_hi + _FEAS_DEG))

    top = 180.0  # a bound that is feasible (anywhere in range, a constant position, is)
    for _ in range(_LEVELS):
        if feasible(with_free(0.0)):
            bound = with_free(0.0)
            break
        low = 0.0
        while top - low > _BISECT_DEG:
            mid = 0.5 * (low + top)
            if feasible(with_free(mid)):
                top = mid
            else:
                low = mid
        bound = with_free(top)
        k_lo, k_hi = _reachable(t, *axis.tube(bound), rate)
        need = axis.error(np.clip(axis.ideal, k_lo, np.maximum(k_lo, k_hi)))
        critical = ~fixed & (need >= top - _CRIT_DEG - 1e-3 * top)
        if not critical.any():
            critical[int(np.argmax(np.where(fixed, -1.0, need)))] = True
        # fix the whole event: the run of samples around the critical ones that the command at this bound
        # keeps off their ideal point (fixing only the peak would spend every level walking down one
        # unwind's error profile, and leave a keyhole elsewhere loose)
        off = np.abs(_greedy(t, rate, axis.ideal, k_lo, k_hi) - axis.ideal) > _IDEAL_DEG
        affected = critical | (~fixed & (off | (need > floor + _CRIT_DEG)))
        run = np.cumsum(np.r_[True, affected[1:] != affected[:-1]])
        fixed |= affected & np.isin(run, run[critical])
        if fixed.all():
            break
    k_lo, k_hi = _reachable(t, *axis.tube(bound), rate)
    return np.clip(_greedy(t, rate, axis.ideal, k_lo, k_hi), axis.lo, axis.hi)


def _fly(t: FloatArray, az: FloatArray, el: FloatArray, track: _Track,
         limits: RotatorLimits) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Commands (az, el) for a candidate and their sky error: two rounds of elevation then azimuth."""
    lo, hi = limits.min_az_deg, limits.max_az_deg
    best: tuple[FloatArray, FloatArray, FloatArray] | None = None
    delta = np.zeros(t.size)
    for _ in range(_ROUNDS):
        ce = _track_axis(t, limits.el_slew_rate_deg_s,
                         _Elevation(track.el_deg, delta, track.el_lo_deg, track.el_hi_deg))
        ca = _track_axis(t, limits.az_slew_rate_deg_s, _Azimuth(track.az_deg, track.el_deg, ce, lo, hi))
        err = np.asarray(angle_between_deg(ca, ce, az, el))
        if best is None or (err.max(), err.mean()) < (best[2].max(), best[2].mean()):
            best = (ca, ce, err)
        if err.max() <= _IDEAL_DEG:
            break
        delta = ca - track.az_deg
    return best  # type: ignore[return-value]  # the loop runs at least once


# --- the plan ---------------------------------------------------------------------------------------------

def _as_samples(name: str, x: ArrayLike) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be one-dimensional with at least one sample, shape (N,); got shape {a.shape}")
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}] is {a[bad[0]]}: every sample must be finite")
    return a


def _check_pass(t: FloatArray, az: FloatArray, el: FloatArray) -> None:
    if not t.shape == az.shape == el.shape:
        raise ValueError(f"t_s, az_deg and el_deg must have the same shape (N,); got {t.shape}, {az.shape}, {el.shape}")
    back = np.flatnonzero(np.diff(t) <= 0)
    if back.size:
        i = int(back[0]) + 1
        raise ValueError(f"t_s must increase strictly: t_s[{i}]={t[i]} after t_s[{i - 1}]={t[i - 1]}")
    out = np.flatnonzero((az < 0.0) | (az > 360.0))
    if out.size:
        raise ValueError(f"az_deg[{out[0]}]={az[out[0]]}: allowed 0..360 (north 0, east 90); "
                         "wrap with np.mod(az_deg, 360)")
    out = np.flatnonzero((el < -90.0) | (el > 90.0))
    if out.size:
        raise ValueError(f"el_deg[{out[0]}]={el[out[0]]}: allowed -90..90 above the horizon")


def plan_pass(t_s: ArrayLike, az_deg: ArrayLike, el_deg: ArrayLike, limits: RotatorLimits, *,
              current_az_deg: float | None = None, current_el_deg: float | None = None,
              mode: Literal["auto", "normal", "flip"] = "auto",
              flip_above_el_deg: float = FLIP_ABOVE_EL_DEG) -> PointingPlan:
    """Rotator commands for a pass's look angles ``t_s``, ``az_deg``, ``el_deg`` (each shape (N,)); see the module."""
    t = _as_samples("t_s", t_s)
    az = _as_samples("az_deg", az_deg)
    el = _as_samples("el_deg", el_deg)
    _check_pass(t, az, el)
    if mode not in ("auto", "normal", "flip"):
        raise ValueError(f"mode={mode!r}: give 'auto', 'normal' or 'flip'")
    if mode == "flip" and not limits.can_flip:
        raise ValueError(f"mode='flip' needs a rotator with max_el_deg >= 180; this one has {limits.max_el_deg}")
    if not (math.isfinite(flip_above_el_deg) and 0.0 <= flip_above_el_deg <= 90.0):
        raise ValueError(f"flip_above_el_deg={flip_above_el_deg}: allowed 0..90")
    start_az = limits.park_az_deg if current_az_deg is None else float(current_az_deg)
    start_el = limits.park_el_deg if current_el_deg is None else float(current_el_deg)
    _check_position("current", start_az, start_el, limits)

    t_rel = t - t[0]  # the running sums of rate*t keep their precision near zero

    def best(kinds: list[tuple[str, int]]) -> _Track:
        cands = [c for kind, rank in kinds
                 for c in _tracks(az, el, limits, kind=kind, rank=rank, start_az=start_az, start_el=start_el)]
        return min(cands, key=_Track.key)

    high = float(el.max()) >= flip_above_el_deg
    candidates: list[_Track] = []
    if mode != "flip":
        candidates.append(best([("normal", 0)]))
    if mode == "flip" or (mode == "auto" and limits.can_flip and (high or len(candidates[0].unwind_idx) > 0)):
        candidates.append(best([("first", 0), ("second", 0), ("whole", 1)] if high else [("whole", 0)]))
    flown = [(c, _fly(t_rel, az, el, c, limits)) for c in candidates]
    # fewest unwinds, then the smallest maximum error; a tie goes to normal mode (listed first)
    track, (cmd_az, cmd_el, err) = min(flown, key=lambda f: (len(f[0].unwind_idx), round(float(f[1][2].max()), 6)))

    ideal_az = np.clip(track.az_deg, limits.min_az_deg, limits.max_az_deg)
    # with the azimuth at a stop, the nearest point of that meridian may sit a little higher than the target
    ideal_el = _Elevation(track.el_deg, ideal_az - track.az_deg, track.el_lo_deg, track.el_hi_deg).ideal
    off = (np.abs(cmd_az - ideal_az) > _IDEAL_DEG) | (np.abs(cmd_el - ideal_el) > _IDEAL_DEG)
    last_az, last_el = float(cmd_az[-1]), float(cmd_el[-1])
    return PointingPlan(
        mode=track.mode, limits=limits, t_s=_readonly(t.copy()),
        cmd_az_deg=_readonly(cmd_az), cmd_el_deg=_readonly(cmd_el),
        ideal_az_deg=_readonly(ideal_az), ideal_el_deg=_readonly(ideal_el),
        flipped=_readonly(track.flipped.copy()),
        error_deg=_readonly(err),
        limit_error_deg=_readonly(np.asarray(angle_between_deg(ideal_az, ideal_el, az, el))),
        max_error_deg=float(err.max()),
        slew_limited_idx=_readonly(np.flatnonzero(off)),
        unwind_idx=_readonly(track.unwind_idx.copy()),
        preposition_az_deg=float(cmd_az[0]), preposition_el_deg=float(cmd_el[0]),
        park_az_deg=limits.park_az_deg, park_el_deg=limits.park_el_deg,
        park_time_s=_travel_s(last_az, last_el, limits.park_az_deg, limits.park_el_deg, limits),
    )
