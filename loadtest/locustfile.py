"""Load tests for attnserve: realistic mixes drawn from the test splits.

    locust -f loadtest/locustfile.py -H http://127.0.0.1:8000                 # web UI
    locust -f loadtest/locustfile.py -H http://127.0.0.1:8000 --headless \\
        -u 32 -r 8 -t 2m --csv reports/run --html reports/run.html          # headless

Environment:
  LOADTEST_DATA   folder holding sentiment/test.jsonl and en-fr/test.jsonl (`attnserve data`;
                  default ./data); without it, a few built-in sentences are used (said at start)
  LOADTEST_MIX    task weights, e.g. "classify_short=4,classify_long=2,translate_greedy=2,
                  translate_beam=1,attention=1,v2_classify=2,v2_translate=1" (the default);
                  0 turns a task off
  LOADTEST_SHAPE  "" (locust's -u/-r/-t), "step" or "constant"; with their settings
                  LOADTEST_WAIT_S, LOADTEST_STEP_USERS, LOADTEST_STEP_SECONDS, LOADTEST_STEPS,
                  LOADTEST_RATE, LOADTEST_USERS, LOADTEST_SECONDS (see loadtest/shapes.py)
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Mapping
from pathlib import Path

from locust import HttpUser, LoadTestShape, between, constant, constant_throughput, events, task

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mix import Corpus, weights
from shapes import plan

CORPUS = Corpus.load(Path(os.environ.get("LOADTEST_DATA", "data")))
WEIGHTS = weights(os.environ.get("LOADTEST_MIX", ""))
PLAN = plan(os.environ)


@events.init.add_listener
def _say_what_is_sent(**_: object) -> None:
    where = (
        "built-in sentences (LOADTEST_DATA has no test splits)"
        if CORPUS.synthetic
        else (
            f"{len(CORPUS.short_reviews) + len(CORPUS.long_reviews)} reviews and "
            f"{len(CORPUS.sources)} English sources from the test splits"
        )
    )
    print(f"attnserve load test: {where}; mix {WEIGHTS}", flush=True)


def _v2_text(texts: list[str]) -> dict[str, object]:
    return {"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}


class AttnserveUser(HttpUser):
    """One client: each task is one request; the mix is LOADTEST_MIX."""

    if PLAN.shape == "constant":
        wait_time = constant_throughput(PLAN.per_user_rate)
    elif PLAN.wait_s:
        wait_time = between(PLAN.wait_s / 2, PLAN.wait_s * 1.5)
    else:
        wait_time = constant(0)

    def _post(self, path: str, body: Mapping[str, object], name: str) -> None:
        """One request; anything but a 200 is a failure that names the status and message."""
        with self.client.post(path, json=body, name=name, catch_response=True) as r:
            if r.status_code == 200:
                r.success()
            else:
                r.failure(f"{name}: {r.status_code} {r.text[:200]}")

    @task(WEIGHTS["classify_short"])
    def classify_short(self) -> None:
        body = {"texts": [random.choice(CORPUS.short_reviews)]}
        self._post("/v1/classify", body, "classify short")

    @task(WEIGHTS["classify_long"])
    def classify_long(self) -> None:
        body = {"texts": [random.choice(CORPUS.long_reviews)], "truncate": True}
        self._post("/v1/classify", body, "classify long")

    @task(WEIGHTS["translate_greedy"])
    def translate_greedy(self) -> None:
        body = {"texts": [random.choice(CORPUS.sources)], "beam_size": 1, "truncate": True}
        self._post("/v1/translate", body, "translate greedy")

    @task(WEIGHTS["translate_beam"])
    def translate_beam(self) -> None:
        body = {"texts": [random.choice(CORPUS.sources)], "beam_size": 4, "truncate": True}
        self._post("/v1/translate", body, "translate beam 4")

    @task(WEIGHTS["attention"])
    def attention(self) -> None:
        body = {"model": "sentiment", "text": random.choice(CORPUS.short_reviews), "truncate": True}
        self._post("/v1/attention", body, "attention")

    @task(WEIGHTS["v2_classify"])
    def v2_classify(self) -> None:
        body = {"inputs": [_v2_text(random.sample(CORPUS.short_reviews, 2))]}
        self._post("/v2/models/sentiment/infer", body, "v2 infer sentiment")

    @task(WEIGHTS["v2_translate"])
    def v2_translate(self) -> None:
        body = {
            "inputs": [_v2_text([random.choice(CORPUS.sources)])],
            "parameters": {"beam_size": 2},
        }
        self._post("/v2/models/en-fr/infer", body, "v2 infer en-fr")


if PLAN.shape:
    # locust runs the LoadTestShape subclass it finds in the locustfile
    class PlannedShape(LoadTestShape):
        def tick(self) -> tuple[int, float] | None:
            return PLAN.tick(self.get_run_time())
