"""Property-based fuzzing from the service's own OpenAPI schema (schemathesis).

Every operation is called with generated valid and invalid inputs; the response must never be a
5xx and must match the documented status codes, content types and schemas.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.integration

MIN_REQUESTS = 1000
_calls: list[int] = []


@pytest.fixture(scope="module")
def api_schema(secured_api: Any) -> Any:
    return schemathesis.openapi.from_url(secured_api.url + "/openapi.json")


@pytest.fixture(scope="module", autouse=True)
def _enough_requests() -> Iterator[None]:
    yield
    assert len(_calls) >= MIN_REQUESTS, f"only {len(_calls)} fuzzed requests"


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_5xx_and_responses_match_the_schema(case: Any, tokens: dict[str, str]) -> None:
    scope = "admin" if case.path.startswith("/admin") else "predict"
    _calls.append(1)
    case.call_and_validate(headers={"Authorization": f"Bearer {tokens[scope]}"})
