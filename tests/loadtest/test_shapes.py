"""Load shapes and pacing from the environment: what each setting does, and clear refusals.
(locust itself is not imported here: it monkey-patches the process with gevent; the smoke
run drives the real locust.)"""

from __future__ import annotations

import pytest

from loadtest.shapes import Plan, plan


def test_no_shape_leaves_locust_flags_in_charge() -> None:
    assert plan({}) == Plan(shape="", wait_s=0.0)
    assert plan({"LOADTEST_WAIT_S": "0.5"}).wait_s == 0.5
    with pytest.raises(ValueError, match="locust's -u/-r/-t"):
        plan({}).tick(0)


def test_step_shape_adds_users_each_step_then_stops() -> None:
    p = plan(
        {
            "LOADTEST_SHAPE": "step",
            "LOADTEST_STEP_USERS": "5",
            "LOADTEST_STEP_SECONDS": "10",
            "LOADTEST_STEPS": "3",
        }
    )
    ticks = [p.tick(t) for t in (0, 9.9, 10, 25, 30)]
    assert ticks == [(5, 5.0), (5, 5.0), (10, 5.0), (15, 5.0), None]


def test_constant_shape_holds_its_users_for_its_time_at_its_rate() -> None:
    p = plan(
        {
            "LOADTEST_SHAPE": "constant",
            "LOADTEST_USERS": "8",
            "LOADTEST_SECONDS": "20",
            "LOADTEST_RATE": "40",
        }
    )
    assert [p.tick(t) for t in (0, 19, 21)] == [(8, 8.0), (8, 8.0), None]
    assert p.per_user_rate == 5.0  # 40 requests/s over 8 users


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOADTEST_SHAPE": "ramp"}, "LOADTEST_SHAPE must be one of"),
        ({"LOADTEST_SHAPE": "step", "LOADTEST_STEPS": "x"}, "LOADTEST_STEPS must be a number"),
        ({"LOADTEST_SHAPE": "constant", "LOADTEST_USERS": "0"}, "LOADTEST_USERS must be"),
        ({"LOADTEST_SHAPE": "constant", "LOADTEST_RATE": "-3"}, "LOADTEST_RATE must be"),
        ({"LOADTEST_WAIT_S": "soon"}, "LOADTEST_WAIT_S must be a number 0 or more"),
    ],
)
def test_bad_settings_are_refused_with_the_variable_named(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        plan(env)
