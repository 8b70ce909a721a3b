"""The contact plan on board: CONTACT_ADD / CONTACT_CLEAR, the transmitter on only inside windows, kept across reboot."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.pus import FailureCode
from spacecraft.contactplan import MAX_WINDOWS, ContactPlan, ContactPlanError, Window

from .harness import T0, boot, of_kind


def test_windows_are_kept_in_order_and_looked_up() -> None:
    plan = ContactPlan([Window(300.0, 400.0, 9600.0), Window(100.0, 200.0, 19200.0, station=2)])
    assert [w.aos_tai_s for w in plan.windows] == [100.0, 300.0]
    assert plan.window_at(99.9) is None and plan.window_at(100.0).rate_bps == 19200.0
    assert plan.window_at(250.0) is None and plan.window_at(399.9).rate_bps == 9600.0 and plan.window_at(400.0) is None
    assert plan.next_window(250.0).aos_tai_s == 300.0 and plan.next_window(400.0) is None
    assert Window(0.0, 10.0, 9600.0).budget_octets == 12_000
    assert plan.expire(250.0) == 1 and len(plan) == 1
    assert ContactPlan.from_saved(plan.as_saved()).windows == plan.windows
    assert len(ContactPlan.from_saved([[1, 2, 3], "x", [5.0, 4.0, 1.0, 0], None])) == 0  # unreadable: dropped


def test_overlaps_full_plans_and_bad_windows_are_refused_by_field() -> None:
    plan = ContactPlan([Window(100.0, 200.0, 9600.0)])
    for w in (Window(150.0, 250.0, 9600.0), Window(50.0, 101.0, 9600.0), Window(120.0, 130.0, 9600.0)):
        with pytest.raises(ContactPlanError, match="AOS: .* overlaps 100..200"):
            plan.add(w)
    plan.add(Window(200.0, 210.0, 9600.0))  # touching is not overlapping
    with pytest.raises(ContactPlanError, match="RATE_BPS"):
        plan.add(Window(300.0, 310.0, 0.0))
    with pytest.raises(ContactPlanError, match="DURATION"):
        plan.add(Window(300.0, 300.0, 9600.0))
    full = ContactPlan([Window(10.0 * k, 10.0 * k + 5, 9600.0) for k in range(MAX_WINDOWS)])
    with pytest.raises(ContactPlanError, match="holds 64 windows"):
        full.add(Window(1e6, 1e6 + 1, 9600.0))


@given(st.lists(st.tuples(st.floats(0, 1e4), st.floats(0.1, 500), st.floats(1, 1e6)), max_size=80))
@settings(max_examples=150, deadline=None)
def test_a_plan_never_holds_overlapping_windows(items: list[tuple[float, float, float]]) -> None:
    plan = ContactPlan()
    for aos, length, rate in items:
        try:
            plan.add(Window(aos, aos + length, rate))
        except ContactPlanError:
            pass
    ws = plan.windows
    assert len(ws) <= MAX_WINDOWS
    assert all(a.los_tai_s <= b.aos_tai_s for a, b in zip(ws, ws[1:]))


def test_contact_commands_gate_the_transmitter_and_survive_a_reboot(tmp_path: Path) -> None:
    obc, g = boot(tmp_path)
    g.drain()
    assert obc.transmitter(T0 + 10) == 0.0  # no plan: always on, at the process's rate
    aos = int(T0) + 100
    g.send(g.tc("CONTACT_ADD", AOS=aos, DURATION=60, RATE_BPS=19200, STATION=1), 1.0)
    g.send(g.tc("CONTACT_ADD", AOS=aos + 600, DURATION=30, RATE_BPS=9600), 1.0)
    g.send(g.tc("CONTACT_ADD", AOS=aos + 30, DURATION=60, RATE_BPS=9600), 1.0)  # overlaps the first
    tms = g.drain()
    assert len(of_kind(tms, 1, 7)) == 2
    (failed,) = of_kind(tms, 1, 4)
    assert failed.body.failure.code == FailureCode.FUNCTION_FAILED
    assert obc.transmitter(T0 + 50) is None  # a window ahead, none now: off
    assert obc.transmitter(aos + 10.0) == 19200.0
    assert obc.transmitter(aos + 300.0) is None and obc.transmitter(aos + 610.0) == 9600.0
    assert obc.transmitter(aos + 700.0) == 0.0  # the plan has run out: on again, never silent for want of one
    assert obc.counters()["contact_plan"]["windows"] == 2
    # the plan is in the state file: a reboot keeps it
    obc2, _ = boot(tmp_path)
    assert [w.rate_bps for w in obc2.contacts.windows] == [19200.0, 9600.0]
    g2 = type(g)(obc2)
    g2.send(g2.tc("CONTACT_CLEAR"), 2.0)
    assert obc2.transmitter(T0 + 50) == 0.0 and len(obc2.contacts) == 0
