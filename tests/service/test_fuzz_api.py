"""Schemathesis against the service's own OpenAPI document, over HTTP to a real server on
the committed models (model control on): for every operation, generated requests (valid
and invalid) must never get a 5xx, a status or content type the document does not
declare, or a body that breaks its own schema; and the service must still serve
afterwards. Requests per operation and the statuses seen are printed (pytest -s)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.server import Server, start, stop

pytestmark = pytest.mark.slow

EXAMPLES = 50  # generated requests per operation in the fuzzing phase (plus coverage cases)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SEEN: dict[str, Counter[int]] = defaultdict(Counter)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start(tmp_path_factory.mktemp("fuzz"), ATTNSERVE_MODEL_CONTROL="true")
    yield s
    stop(s)


@pytest.fixture(scope="module")
def api(server: Server) -> Any:
    loaded = schemathesis.openapi.from_url(f"{server.url}/openapi.json")

    @loaded.hook("after_call")
    def _count(context: object, case: schemathesis.Case, response: Any) -> None:
        SEEN[case.operation.label][response.status_code] += 1

    return loaded


schema = schemathesis.pytest.from_fixture("api")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_survives_generated_requests(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)


def test_the_service_still_serves_after_the_fuzzing(server: Server) -> None:
    """Runs after the generated requests (same module, defined after them)."""
    assert SEEN, "the fuzzing did not run first"
    for name in ("sentiment", "en-fr"):  # the fuzzer may have unloaded them (model control on)
        r = httpx.post(f"{server.url}/v2/repository/models/{name}/load", timeout=60)
        assert r.status_code == 200, r.text
    r = httpx.post(f"{server.url}/v1/classify", json={"texts": ["A fine film."]})
    assert r.status_code == 200, r.text
    r = httpx.post(f"{server.url}/v1/translate", json={"texts": ["Save changes"]})
    assert r.status_code == 200, r.text
    assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200
    total = sum(sum(c.values()) for c in SEEN.values())
    print(f"\nschemathesis: {len(SEEN)} operations, {total} requests")
    for label, statuses in sorted(SEEN.items()):
        print(
            f"  {label}: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}"
        )
