"""The time budget's plan: the schedule's steps fitted to the time left, as measured."""

from __future__ import annotations

import pytest

from models.train.loop import Plan


def test_without_a_budget_the_plan_is_the_profile_s_epochs() -> None:
    plan = Plan(total=30, budget_s=None, per_epoch=10)
    for i in range(29):
        assert not plan.stepped(float(i))
    assert plan.stepped(29.0) and plan.total == 30


def test_a_budget_fits_the_steps_to_the_measured_pace_and_sets_validations_aside() -> None:
    plan = Plan(total=10_000, budget_s=1000.0, per_epoch=100)
    clock = 0.0
    for _ in range(100):  # one second a step
        clock += 1.0
        plan.stepped(clock)
    assert plan.total == pytest.approx(1000, abs=5)  # no validation measured yet
    plan.validated(50.0)  # an epoch's validation took 50 s
    clock += 50.0
    # 850 s left: about 850 / (100 + 50) epochs of steps, each with its validation
    assert 600 <= plan.total <= 700
    while not plan.stepped(clock + 1.0):
        clock += 1.0
        if plan.done % 100 == 0:
            plan.validated(50.0)
            clock += 50.0
    assert clock + 50.0 <= 1000.0 + 60.0  # the last validation still fits, near enough


def test_a_budget_never_plans_more_than_the_profile_s_epochs() -> None:
    plan = Plan(total=120, budget_s=10_000.0, per_epoch=40)
    for i in range(60):
        plan.stepped(i * 0.01)
    assert plan.total == 120
