"""Load shapes and pacing, chosen by LOADTEST_SHAPE (plain Python: the locustfile turns a
Plan into locust's LoadTestShape and wait_time, so this module never imports locust):

- ``""`` (default): locust's own ``-u``/``-r``/``-t``; each user sends its next request
  LOADTEST_WAIT_S (± 50 %) after the last answer (0: at once, a closed loop at full speed).
- ``step``: LOADTEST_STEPS steps of LOADTEST_STEP_USERS more users, each step
  LOADTEST_STEP_SECONDS long — where does latency bend?
- ``constant``: LOADTEST_RATE requests per second in all, spread over LOADTEST_USERS
  users (each paced by locust's ``constant_throughput``), for LOADTEST_SECONDS. A user
  whose answers come slower than its pace falls behind: give it enough users (at least
  rate × p99 latency in seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SHAPES = ("", "step", "constant")


def _number(env: Mapping[str, str], name: str, default: str, *, zero_ok: bool = False) -> float:
    raw = env.get(name, default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0 or (value == 0 and not zero_ok):
        floor = "0 or more" if zero_ok else "above 0"
        raise ValueError(f"{name} must be a number {floor}, got {raw!r}")
    return value


@dataclass(frozen=True)
class Plan:
    shape: str = ""
    users: int = 32  # constant: users in all; step: users added each step
    seconds: float = 120.0  # constant: run time; step: time per step
    steps: int = 4
    rate: float = 20.0  # constant: requests per second in all
    wait_s: float = 0.0  # no shape: think time between a user's requests

    def tick(self, run_time: float) -> tuple[int, float] | None:
        """(users, spawn rate) at run_time, or None to stop (locust's LoadTestShape.tick)."""
        if self.shape == "step":
            step = int(run_time // self.seconds)
            if step >= self.steps:
                return None
            return (step + 1) * self.users, float(self.users)
        if self.shape == "constant":
            return None if run_time > self.seconds else (self.users, float(self.users))
        raise ValueError("without LOADTEST_SHAPE, locust's -u/-r/-t set the load")

    @property
    def per_user_rate(self) -> float:
        return self.rate / self.users


def plan(env: Mapping[str, str]) -> Plan:
    """The shape and pacing the environment asks for; a clear ValueError when it is wrong."""
    shape = env.get("LOADTEST_SHAPE", "")
    if shape not in SHAPES:
        raise ValueError(f"LOADTEST_SHAPE must be one of {list(SHAPES)}, got {shape!r}")
    if shape == "step":
        return Plan(
            shape,
            users=int(_number(env, "LOADTEST_STEP_USERS", "8")),
            seconds=_number(env, "LOADTEST_STEP_SECONDS", "30"),
            steps=int(_number(env, "LOADTEST_STEPS", "4")),
        )
    if shape == "constant":
        return Plan(
            shape,
            users=int(_number(env, "LOADTEST_USERS", "32")),
            seconds=_number(env, "LOADTEST_SECONDS", "120"),
            rate=_number(env, "LOADTEST_RATE", "20"),
        )
    return Plan(wait_s=_number(env, "LOADTEST_WAIT_S", "0", zero_ok=True))
