"""groundstation.pointing: rotator commands for synthetic passes -- cable wrap, keyhole, flip, slew limits.

Passes are generated analytically (:func:`synthetic_pass`): a circular orbit over a spherical,
non-rotating Earth, so the rates near zenith are a real LEO pass's (an 88 degree pass at 500 km turns
its azimuth at ~24 deg/s), on a 1 s grid with the elevation slightly negative at both ends.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundstation.pointing import (
    HAMLIB_DUMMY,
    PointingPlan,
    RotatorLimits,
    angle_between_deg,
    plan_pass,
    time_to_reach,
)

R_EARTH_KM = 6371.0
MU_KM3_S2 = 398600.4418
EPS = 1e-9  # rounding allowed on rate checks (degrees)

FLIPPER = dataclasses.replace(HAMLIB_DUMMY, max_el_deg=180.0)  # the dummy's ranges, elevation to 180
ZERO_360 = dataclasses.replace(HAMLIB_DUMMY, min_az_deg=0.0, max_az_deg=360.0)


def synthetic_pass(peak_el_deg: float, culmination_az_deg: float, *, heading: int = 1, alt_km: float = 500.0,
                   step_s: float = 1.0, margin_s: float = 3.0,
                   t0_s: float = 1000.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t_s, az_deg, el_deg), each (N,), of a circular-orbit pass culminating at ``peak_el_deg`` towards
    ``culmination_az_deg`` and moving to its right (heading +1) or left (-1), horizon to horizon plus
    ``margin_s`` each side."""
    a_km = R_EARTH_KM + alt_km
    el0 = np.radians(peak_el_deg)
    beta = np.pi / 2 - el0 - np.arcsin(R_EARTH_KM * np.cos(el0) / a_km)  # station to orbit plane (central angle)
    horizon = np.pi / 2 - np.arcsin(R_EARTH_KM / a_km)  # central angle at elevation 0
    theta_h = np.arccos(np.cos(horizon) / np.cos(beta))
    n_rad_s = np.sqrt(MU_KM3_S2 / a_km**3)
    half_s = np.floor((theta_h / n_rad_s + margin_s) / step_s) * step_s
    t = np.arange(-half_s, half_s + step_s / 2, step_s)
    theta = n_rad_s * t
    side, ahead = np.radians(culmination_az_deg), np.radians(culmination_az_deg + 90.0 * heading)
    s = np.array([np.sin(side), np.cos(side), 0.0])  # east, north, up
    d = np.array([np.sin(ahead), np.cos(ahead), 0.0])
    z = np.array([0.0, 0.0, 1.0])
    rho = (a_km * np.cos(theta)[:, None] * (np.cos(beta) * z + np.sin(beta) * s)
           + a_km * np.sin(theta)[:, None] * d - R_EARTH_KM * z)
    el = np.degrees(np.arcsin(rho[:, 2] / np.linalg.norm(rho, axis=1)))
    az = np.degrees(np.arctan2(rho[:, 0], rho[:, 1])) % 360.0
    return t - t[0] + t0_s, az, el


def max_rate(t: np.ndarray, x: np.ndarray) -> float:
    return float(np.max(np.abs(np.diff(x)) / np.diff(t)))


def check_invariants(plan: PointingPlan, t: np.ndarray, az: np.ndarray, el: np.ndarray,
                     limits: RotatorLimits) -> None:
    """What every plan promises: inside the limits, within the rates, its error the true sky angle."""
    assert np.all((plan.cmd_az_deg >= limits.min_az_deg) & (plan.cmd_az_deg <= limits.max_az_deg))
    assert np.all((plan.cmd_el_deg >= limits.min_el_deg) & (plan.cmd_el_deg <= limits.max_el_deg))
    if plan.mode == "normal":
        assert np.all(plan.cmd_el_deg <= 90.0) and not plan.flipped.any()
    dt = np.diff(t)
    assert np.all(np.abs(np.diff(plan.cmd_az_deg)) <= limits.az_slew_rate_deg_s * dt + EPS)
    assert np.all(np.abs(np.diff(plan.cmd_el_deg)) <= limits.el_slew_rate_deg_s * dt + EPS)
    np.testing.assert_allclose(plan.error_deg, angle_between_deg(plan.cmd_az_deg, plan.cmd_el_deg, az, el),
                               atol=1e-9)
    assert plan.max_error_deg == pytest.approx(plan.error_deg.max())
    assert np.all(plan.error_deg >= plan.limit_error_deg - 1e-6)  # rates can only add to the limits' error
    assert (plan.preposition_az_deg, plan.preposition_el_deg) == (plan.cmd_az_deg[0], plan.cmd_el_deg[0])
    assert plan.cmd_az_deg.shape == plan.cmd_el_deg.shape == plan.error_deg.shape == t.shape


# --- the pieces --------------------------------------------------------------------------------------------

def test_angle_between_known_values_scalars_and_arrays() -> None:
    assert angle_between_deg(0.0, 0.0, 90.0, 0.0) == pytest.approx(90.0)
    assert angle_between_deg(10.0, 0.0, 190.0, 0.0) == pytest.approx(180.0)
    assert angle_between_deg(123.0, 90.0, 321.0, 90.0) == pytest.approx(0.0, abs=1e-12)  # zenith has no azimuth
    assert angle_between_deg(0.0, 45.0, 0.0, 50.0) == pytest.approx(5.0)
    assert isinstance(angle_between_deg(0.0, 0.0, 1.0, 0.0), float)
    rng = np.random.default_rng(7)
    az, el = rng.uniform(0, 360, 50), rng.uniform(-10, 90, 50)
    # a flipped antenna, (az + 180, 180 - el), points where (az, el) does
    np.testing.assert_allclose(angle_between_deg(az, el, az + 180.0, 180.0 - el), 0.0, atol=1e-6)
    # near zenith an azimuth error costs little: 2*asin(cos(el)*sin(delta_az/2)), about delta_az*cos(el)
    exact = np.degrees(2 * np.arcsin(np.cos(np.radians(88.0)) * np.sin(np.radians(5.0))))
    assert angle_between_deg(0.0, 88.0, 10.0, 88.0) == pytest.approx(exact, rel=1e-9)
    assert exact == pytest.approx(10.0 * np.cos(np.radians(88.0)), rel=2e-3)
    out = angle_between_deg(az, el, 0.0, 90.0)  # broadcasts against a scalar
    assert out.shape == (50,) and np.allclose(out, 90.0 - el)


def test_time_to_reach_moves_both_axes_at_once_and_never_across_the_stop() -> None:
    assert time_to_reach(0.0, 0.0, 60.0, 30.0, HAMLIB_DUMMY) == pytest.approx(10.0)
    assert time_to_reach(0.0, 0.0, 6.0, 60.0, HAMLIB_DUMMY) == pytest.approx(10.0)
    assert time_to_reach(350.0, 10.0, 10.0, 10.0, ZERO_360) == pytest.approx(340.0 / 6.0)  # the long way round
    with pytest.raises(ValueError, match=r"to_az_deg=400.0: must be inside .*0.0..360.0"):
        time_to_reach(0.0, 0.0, 400.0, 0.0, ZERO_360)
    with pytest.raises(ValueError, match=r"from_el_deg=95.0: .*0.0..90.0"):
        time_to_reach(0.0, 95.0, 0.0, 0.0, HAMLIB_DUMMY)


@pytest.mark.parametrize(("change", "message"), [
    ({"min_az_deg": 500.0}, r"min_az_deg=500.0, max_az_deg=450.0: need -360 <= min_az_deg < max_az_deg <= 720"),
    ({"max_az_deg": 800.0}, r"max_az_deg <= 720"),
    ({"min_el_deg": 95.0}, r"min_el_deg=95.0: allowed -90 <= min_el_deg < 90"),
    ({"max_el_deg": 200.0}, r"max_el_deg=200.0: allowed .*<= 180"),
    ({"az_slew_rate_deg_s": 0.0}, r"az_slew_rate_deg_s=0.0: a slew rate must be > 0"),
    ({"el_slew_rate_deg_s": -1.0}, r"el_slew_rate_deg_s=-1.0"),
    ({"park_az_deg": 500.0}, r"park_az_deg=500.0: must be inside min_az_deg..max_az_deg \(-180.0..450.0\)"),
    ({"park_el_deg": -5.0}, r"park_el_deg=-5.0: must be inside min_el_deg..max_el_deg \(0.0..90.0\)"),
    ({"min_az_deg": float("nan")}, r"min_az_deg=nan: give a finite number"),
])
def test_limits_refuse_nonsense_naming_the_field_and_range(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(HAMLIB_DUMMY, **change)


def test_plan_refuses_bad_input_naming_the_field_and_range() -> None:
    t, az, el = synthetic_pass(30.0, 90.0)
    with pytest.raises(ValueError, match=r"same shape \(N,\)"):
        plan_pass(t, az[:-1], el, HAMLIB_DUMMY)
    with pytest.raises(ValueError, match=r"t_s must be one-dimensional"):
        plan_pass(t.reshape(1, -1), az, el, HAMLIB_DUMMY)
    backwards = t.copy()
    backwards[5] = backwards[4]
    with pytest.raises(ValueError, match=r"t_s must increase strictly: t_s\[5\]"):
        plan_pass(backwards, az, el, HAMLIB_DUMMY)
    with pytest.raises(ValueError, match=r"el_deg\[3\] is nan: every sample must be finite"):
        plan_pass(t, az, np.where(np.arange(t.size) == 3, np.nan, el), HAMLIB_DUMMY)
    with pytest.raises(ValueError, match=r"az_deg\[0\]=-10.0: allowed 0..360 .*np.mod\(az_deg, 360\)"):
        plan_pass(t, np.r_[-10.0, az[1:]], el, HAMLIB_DUMMY)
    with pytest.raises(ValueError, match=r"mode='flip' needs a rotator with max_el_deg >= 180; this one has 90.0"):
        plan_pass(t, az, el, HAMLIB_DUMMY, mode="flip")
    with pytest.raises(ValueError, match=r"mode='sideways': give 'auto', 'normal' or 'flip'"):
        plan_pass(t, az, el, HAMLIB_DUMMY, mode="sideways")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"current_az_deg=500.0: must be inside"):
        plan_pass(t, az, el, HAMLIB_DUMMY, current_az_deg=500.0)


def test_the_synthetic_pass_is_what_it_claims() -> None:
    t, az, el = synthetic_pass(88.0, 90.0)
    assert el.max() == pytest.approx(88.0, abs=1e-6)
    assert el[0] < 0 and el[-1] < 0 and el[0] > -0.5  # just below the horizon at both ends
    assert np.all(np.diff(t) == 1.0) and 600 < t.size < 800  # ~11 minutes at 500 km
    assert 20.0 < max_rate(t, np.unwrap(az, period=360.0)) < 30.0  # the keyhole


# --- passes ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("culmination_az_deg", [0.0, 45.0, 135.0, 200.0, 300.0])
@pytest.mark.parametrize("heading", [1, -1])
def test_a_30_degree_pass_is_followed_to_the_limits_error(culmination_az_deg: float, heading: int) -> None:
    t, az, el = synthetic_pass(30.0, culmination_az_deg, heading=heading)
    plan = plan_pass(t, az, el, HAMLIB_DUMMY)
    check_invariants(plan, t, az, el, HAMLIB_DUMMY)
    assert plan.mode == "normal" and plan.unwind_idx.size == 0
    np.testing.assert_allclose(plan.error_deg, plan.limit_error_deg, atol=1e-6)
    assert plan.error_deg[el >= 0.0].max() < 1e-6  # only below the horizon, where min_el_deg stops it
    assert plan.error_deg.max() == pytest.approx(-el.min(), abs=1e-6)


def test_an_88_degree_pass_in_normal_mode_at_6_deg_s_reports_its_keyhole() -> None:
    """hamlib's dummy (6 deg/s): the azimuth cannot turn at the pass's ~24 deg/s, so the plan starts
    early and finishes late; the worst error, 3.19 degrees here, is near zenith and reported."""
    t, az, el = synthetic_pass(88.0, 90.0)
    plan = plan_pass(t, az, el, HAMLIB_DUMMY)
    check_invariants(plan, t, az, el, HAMLIB_DUMMY)
    assert plan.mode == "normal" and plan.unwind_idx.size == 0
    assert 2.5 < plan.max_error_deg < 4.0
    limited = plan.slew_limited_idx
    assert 0 < limited.size < 60 and np.all(el[limited] > 60.0)  # the error budget is the keyhole's
    assert el[np.argmax(plan.error_deg)] > 80.0
    rest = np.setdiff1d(np.arange(t.size), limited)
    np.testing.assert_allclose(plan.error_deg[rest], plan.limit_error_deg[rest], atol=1e-6)
    # look-ahead: the command leads the target before culmination, not only lags after it
    peak = int(np.argmax(el))
    assert limited.min() < peak - 3 and limited.max() > peak + 3
    assert plan.max_az_rate_deg_s <= 6.0 + EPS < max_rate(t, np.unwrap(az, period=360.0)) / 3


def test_an_88_degree_pass_flips_through_zenith_on_a_flip_rotator() -> None:
    t, az, el = synthetic_pass(88.0, 90.0)
    normal = plan_pass(t, az, el, FLIPPER, mode="normal")
    plan = plan_pass(t, az, el, FLIPPER)
    check_invariants(plan, t, az, el, FLIPPER)
    assert plan.mode == "flip" and 0 < plan.flipped.sum() < t.size  # flipped on one side of culmination
    assert plan.max_error_deg < normal.max_error_deg
    assert plan.max_error_deg < 2.0 + 0.05  # about the pass's zenith distance, at culmination
    assert plan.cmd_el_deg.min() < 1.0 and plan.cmd_el_deg.max() > 179.0  # horizon to horizon over the top
    # the azimuth stays near the pass's plane: a span of tens of degrees instead of normal mode's 180
    target_rate = max_rate(t, np.unwrap(az, period=360.0))
    assert np.ptp(plan.cmd_az_deg) < 60.0 and np.ptp(normal.cmd_az_deg) > 170.0
    assert plan.max_az_rate_deg_s <= 6.0 + EPS < target_rate / 3


@pytest.mark.parametrize("peak_el_deg", [80.0, 85.0, 88.0, 89.5, 90.0])
def test_the_flip_costs_at_most_the_zenith_distance(peak_el_deg: float) -> None:
    t, az, el = synthetic_pass(peak_el_deg, 200.0, heading=-1)
    plan = plan_pass(t, az, el, FLIPPER, mode="flip")
    check_invariants(plan, t, az, el, FLIPPER)
    assert plan.max_error_deg <= max(90.0 - peak_el_deg, plan.limit_error_deg.max()) + 0.05


def test_a_fast_rotator_tracks_an_overhead_pass_in_normal_mode() -> None:
    """Above the flip threshold, auto flies the flip only when it does better: at 30 deg/s normal mode
    follows the 88 degree pass exactly, where the flip would still miss by its zenith distance."""
    fast = dataclasses.replace(FLIPPER, az_slew_rate_deg_s=30.0)
    t, az, el = synthetic_pass(88.0, 90.0)
    plan = plan_pass(t, az, el, fast)
    check_invariants(plan, t, az, el, fast)
    assert plan.mode == "normal"
    np.testing.assert_allclose(plan.error_deg, plan.limit_error_deg, atol=1e-6)
    assert plan_pass(t, az, el, fast, mode="flip").max_error_deg > 1.5


def test_a_north_crossing_pass_needs_no_unwinding_on_minus_180_to_450() -> None:
    t, az, el = synthetic_pass(30.0, 0.0)  # culminates due north: azimuth ~286 -> 0 -> ~74
    assert az.max() > 350 and az.min() < 10
    plan = plan_pass(t, az, el, HAMLIB_DUMMY)
    check_invariants(plan, t, az, el, HAMLIB_DUMMY)
    assert plan.unwind_idx.size == 0 and plan.slew_limited_idx.size == 0
    assert np.all(np.abs(np.diff(plan.cmd_az_deg)) < 2.0)  # continuous through north
    np.testing.assert_allclose(plan.error_deg, plan.limit_error_deg, atol=1e-6)


def test_a_north_crossing_pass_on_0_to_360_unwinds_inside_the_limits_and_says_so() -> None:
    t, az, el = synthetic_pass(30.0, 0.0)
    plan = plan_pass(t, az, el, ZERO_360)
    check_invariants(plan, t, az, el, ZERO_360)
    assert plan.mode == "normal" and plan.unwind_idx.size == 1
    assert abs(az[plan.unwind_idx[0]] - 0.0) < 5.0 or abs(az[plan.unwind_idx[0]] - 360.0) < 5.0
    assert np.isin(plan.unwind_idx, plan.slew_limited_idx).all()
    # a 360 degree slew at 6 deg/s: a minute off target, reported (about 90 - el: it waits at zenith)
    assert 30.0 < plan.max_error_deg < 90.0
    assert plan.slew_limited_idx.size > 50


def test_a_flip_rotator_moves_the_north_crossing_south_instead_of_unwinding() -> None:
    limits = dataclasses.replace(ZERO_360, max_el_deg=180.0)
    t, az, el = synthetic_pass(30.0, 0.0)
    plan = plan_pass(t, az, el, limits)
    check_invariants(plan, t, az, el, limits)
    assert plan.mode == "flip" and plan.flipped.all() and plan.unwind_idx.size == 0
    assert np.all(plan.cmd_el_deg >= 90.0)  # over the top for the whole pass
    np.testing.assert_allclose(plan.error_deg, plan.limit_error_deg, atol=1e-6)


def test_a_south_crossing_pass_unwinds_on_minus_180_to_180() -> None:
    limits = dataclasses.replace(HAMLIB_DUMMY, max_az_deg=180.0)
    north = synthetic_pass(30.0, 0.0)
    south = synthetic_pass(30.0, 180.0)
    assert plan_pass(*north, limits).unwind_idx.size == 0
    plan = plan_pass(*south, limits)
    check_invariants(plan, *south, limits)
    assert plan.unwind_idx.size == 1


def test_an_unwind_does_not_spoil_a_keyhole_elsewhere_in_the_pass() -> None:
    """An 88 degree pass rising near north on a 0..360 rotator unwinds at ~23 degrees of elevation; near
    zenith it is still tracked as well as the same pass without the unwind."""
    t, az, el = synthetic_pass(88.0, 89.0, heading=-1)
    wrapped = plan_pass(t, az, el, ZERO_360)
    free = plan_pass(t, az, el, HAMLIB_DUMMY)
    check_invariants(wrapped, t, az, el, ZERO_360)
    assert wrapped.unwind_idx.size == 1 and el[wrapped.unwind_idx[0]] < 40.0 and free.unwind_idx.size == 0
    high = el > 60.0
    assert wrapped.error_deg[high].max() == pytest.approx(free.error_deg[high].max(), abs=0.05)


def test_the_wrap_is_the_one_reached_soonest_from_where_the_rotator_is() -> None:
    limits = dataclasses.replace(HAMLIB_DUMMY, min_az_deg=0.0, max_az_deg=720.0)
    t, az, el = synthetic_pass(20.0, 180.0)  # azimuth ~110..250: fits at +0 and at +360
    near = plan_pass(t, az, el, limits)  # from park, 0
    far = plan_pass(t, az, el, limits, current_az_deg=600.0, current_el_deg=0.0)
    assert near.cmd_az_deg.max() < 360.0 and far.cmd_az_deg.min() > 360.0
    np.testing.assert_allclose(far.cmd_az_deg - near.cmd_az_deg, 360.0)
    assert far.preposition_time_s(600.0, 0.0) < far.preposition_time_s(0.0, 0.0)


def test_preposition_park_and_position_at() -> None:
    t, az, el = synthetic_pass(45.0, 100.0)
    plan = plan_pass(t, az, el, HAMLIB_DUMMY)
    assert plan.preposition_time_s(0.0, 0.0) == pytest.approx(
        time_to_reach(0.0, 0.0, plan.preposition_az_deg, plan.preposition_el_deg, HAMLIB_DUMMY))
    assert plan.park_time_s == pytest.approx(
        time_to_reach(plan.cmd_az_deg[-1], plan.cmd_el_deg[-1], 0.0, 0.0, HAMLIB_DUMMY))
    assert (plan.park_az_deg, plan.park_el_deg) == (0.0, 0.0)
    a, e = plan.position_at(float(t[0]) - 100.0)  # scalar: floats; before AOS, the pre-position
    assert isinstance(a, float) and (a, e) == (plan.preposition_az_deg, plan.preposition_el_deg)
    mid_az, mid_el = plan.position_at(t[:-1] + 0.5)  # array: halfway between samples
    np.testing.assert_allclose(mid_az, (plan.cmd_az_deg[:-1] + plan.cmd_az_deg[1:]) / 2)
    np.testing.assert_allclose(mid_el, (plan.cmd_el_deg[:-1] + plan.cmd_el_deg[1:]) / 2)
    assert plan.position_at(float(t[-1]) + 5.0) == (plan.cmd_az_deg[-1], plan.cmd_el_deg[-1])
    with pytest.raises(ValueError):
        plan.cmd_az_deg[0] = 1.0  # the plan's arrays are read-only


# --- properties over random passes and rotators --------------------------------------------------------

passes = st.tuples(
    st.one_of(st.floats(1.0, 90.0), st.sampled_from([88.0, 89.9, 90.0])),  # peak elevation
    st.floats(0.0, 360.0, exclude_max=True),  # culmination azimuth
    st.sampled_from([1, -1]),  # heading
    st.floats(300.0, 1200.0),  # altitude, km
    st.sampled_from([0.5, 1.0, 2.0]),  # grid step, s
)


@st.composite
def rotators(draw: st.DrawFn) -> RotatorLimits:
    min_az = draw(st.one_of(st.sampled_from([-180.0, -90.0, 0.0]), st.floats(-360.0, 0.0)))
    max_az = min(min_az + draw(st.one_of(st.sampled_from([360.0, 450.0, 630.0]), st.floats(300.0, 720.0))), 720.0)
    min_el = draw(st.one_of(st.just(0.0), st.floats(-10.0, 10.0)))
    max_el = draw(st.one_of(st.sampled_from([90.0, 180.0]), st.floats(min_el + 30.0, 180.0)))
    return RotatorLimits(min_az, max_az, min_el, max_el, draw(st.floats(0.5, 30.0)), draw(st.floats(0.5, 30.0)),
                         park_az_deg=min_az + draw(st.floats(0.0, 1.0)) * (max_az - min_az),
                         park_el_deg=min_el + draw(st.floats(0.0, 1.0)) * (max_el - min_el))


@settings(max_examples=60, deadline=None)
@given(passes, rotators(), st.sampled_from(["auto", "normal", "flip"]))
def test_any_plan_stays_inside_the_limits_and_rates(p: tuple, limits: RotatorLimits, mode: str) -> None:
    peak, culmination, heading, alt_km, step_s = p
    t, az, el = synthetic_pass(peak, culmination, heading=heading, alt_km=alt_km, step_s=step_s)
    if mode == "flip" and not limits.can_flip:
        mode = "auto"
    plan = plan_pass(t, az, el, limits, mode=mode)  # type: ignore[arg-type]
    check_invariants(plan, t, az, el, limits)
    if limits.max_az_deg - limits.min_az_deg >= np.ptp(np.unwrap(az, period=360.0)) + 360.0:
        assert plan.unwind_idx.size == 0  # room for the whole pass on some wrap


@settings(max_examples=40, deadline=None)
@given(passes.filter(lambda p: p[0] < 60.0), rotators(), st.floats(10.0, 30.0), st.floats(10.0, 30.0))
def test_a_low_pass_with_ample_rates_is_within_a_tenth_of_a_degree(p: tuple, limits: RotatorLimits,
                                                                   az_rate: float, el_rate: float) -> None:
    peak, culmination, heading, alt_km, step_s = p
    limits = dataclasses.replace(limits, max_az_deg=min(limits.min_az_deg + 540.0, 720.0),
                                 az_slew_rate_deg_s=az_rate, el_slew_rate_deg_s=el_rate,
                                 park_az_deg=limits.min_az_deg, max_el_deg=max(limits.max_el_deg, 60.0))
    t, az, el = synthetic_pass(peak, culmination, heading=heading, alt_km=alt_km, step_s=step_s)
    plan = plan_pass(t, az, el, limits)
    check_invariants(plan, t, az, el, limits)
    assert plan.unwind_idx.size == 0
    assert plan.error_deg[el >= limits.min_el_deg].max(initial=0.0) < 0.1
    assert np.all(plan.error_deg <= plan.limit_error_deg + 0.1)
