"""The client's customer-store calls against a fake transport: paths, query, body, token
scope, answers parsed, and 404 / 422 / 403 / 503 mapped to errors that say what happened.
Nothing the customer store returns reaches the log."""

from __future__ import annotations

import json
import logging
from typing import Any

import jwt
import pytest
import requests
from ui_fakes import FAKE_URL, FakeTransport

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.errors import (
    ApiForbiddenError,
    ApiInvalidInputError,
    ApiNotFoundError,
    ApiNotReadyError,
    ApiProtocolError,
    ApiStoreUnavailableError,
)
from churn_ui.api.tokens import TokenSource

SECRET = "a-generated-looking-predict-secret-0123456789"
MODEL = {"name": "telco-churn", "version": "7"}
SCORE = {
    "churn_probability": 0.71,
    "churn": True,
    "risk_band": "high",
    "expected_value": 42.0,
    "model": MODEL,
    "scored_at": "2026-11-30T08:00:00+00:00",
    "snapshot_date": "2026-11-30",
    "run_id": "r1",
}
RECORD = {
    "customer_id": "7590-VHVEG",
    "snapshot_date": "2026-11-30",
    "attributes": {"Contract": "Month-to-month", "tenure": 1, "TotalCharges": None},
    "customer_value": 358.2,
    "value_source": "12 x MonthlyCharges",
    "latest": SCORE
    | {
        "reasons": [{"field": "tenure", "value": 1, "contribution": 0.8, "effect": "raises"}],
        "reasons_source": "live",
        "reasons_model": MODEL,
    },
    "history": [SCORE],
}
PREDICTION = {
    "churn_probability": 0.71,
    "churn": True,
    "threshold": 0.4,
    "risk_band": "high",
    "expected_value": 42.0,
    "customer_value": 358.2,
    "model": MODEL,
}


@pytest.fixture
def client(transport: FakeTransport) -> ChurnApiClient:
    session = requests.Session()
    session.mount("http://", transport)
    return ChurnApiClient(FAKE_URL, TokenSource(secret=SECRET), session=session, retry_backoff=0)


def _body(request: requests.PreparedRequest) -> Any:
    assert request.body is not None
    return json.loads(request.body)


def test_ui_client_reads_a_customer_with_a_customers_token(
    client: ChurnApiClient, transport: FakeTransport
) -> None:
    transport.answers.append((200, RECORD))
    record = client.customer("7590-VHVEG")
    (sent,) = transport.sent
    assert (sent.method, sent.url) == ("GET", f"{FAKE_URL}/customers/7590-VHVEG")
    token = sent.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="churn-api")
    assert set(claims["scope"].split()) == {"predict", "customers"}
    assert record.attributes["TotalCharges"] is None and record.latest.reasons_source == "live"
    assert record.latest.reasons and record.latest.reasons[0].field == "tenure"
    assert [h.model.version for h in record.history] == ["7"]


def test_ui_client_escapes_the_id_as_one_path_segment(
    client: ChurnApiClient, transport: FakeTransport
) -> None:
    transport.answers += [(200, RECORD), (200, RECORD)]
    client.customer("../model?x=1#y")
    client.customer("a/b c")
    assert [r.path_url for r in transport.sent] == [
        "/customers/..%2Fmodel%3Fx%3D1%23y",
        "/customers/a%2Fb%20c",
    ]


def test_ui_client_call_list_sends_the_query(
    client: ChurnApiClient, transport: FakeTransport
) -> None:
    page = {"total": 0, "limit": 25, "offset": 0, "sort": "expected_value", "filters": {},
            "customers": [], "budget": None, "profit_curve": None}  # fmt: skip
    transport.answers.append((200, page))
    result = client.call_list({"limit": "25", "offset": "0", "band": "high"})
    (sent,) = transport.sent
    assert sent.path_url == "/customers?limit=25&offset=0&band=high"
    assert "Authorization" in sent.headers
    assert result.total == 0 and result.profit_curve is None


def test_ui_client_what_if_posts_only_the_overrides(
    client: ChurnApiClient, transport: FakeTransport
) -> None:
    answer = {"customer_id": "C-1", "overrides": {"Contract": "Two year"},
              "baseline": PREDICTION, "what_if": PREDICTION | {"churn_probability": 0.2},
              "delta": 0.2 - 0.71}  # fmt: skip
    transport.answers.append((200, answer))
    result = client.what_if("C-1", {"Contract": "Two year"})
    (sent,) = transport.sent
    assert (sent.method, sent.path_url) == ("POST", "/customers/C-1/predict")
    assert _body(sent) == {"Contract": "Two year"}
    assert result.delta == pytest.approx(-0.51) and result.what_if.churn_probability == 0.2


def test_ui_client_customer_errors_say_what_happened(
    client: ChurnApiClient, transport: FakeTransport
) -> None:
    transport.answers += [
        (404, {"detail": "No customer with customerID 'NOPE'"}),
        (404, {"detail": "Not Found"}),
        (422, {"detail": [{"field": "customer_id", "message": "at most 64 characters"}]}),
        (403, {"detail": "Token lacks the 'customers' scope"}),
        (503, {"detail": "No customer store configured: set DATABASE_URL"}),
        (503, {"detail": "customer store unavailable: connection refused"}),
        (503, {"detail": "No model loaded yet: starting"}),
    ]
    with pytest.raises(ApiNotFoundError, match=r"^No customer with customerID 'NOPE'$"):
        client.customer("NOPE")
    with pytest.raises(ApiNotFoundError, match="no customer pages"):
        client.customer("X")  # an API from before the store
    with pytest.raises(ApiInvalidInputError) as invalid:
        client.customer("x" * 65)
    assert [e.field for e in invalid.value.errors] == ["customer_id"]
    with pytest.raises(ApiForbiddenError, match="'customers' permission"):
        client.call_list({})
    with pytest.raises(ApiStoreUnavailableError, match="set DATABASE_URL"):
        client.call_list({})
    with pytest.raises(ApiStoreUnavailableError, match="connection refused"):
        client.customer("C-1")
    with pytest.raises(ApiNotReadyError, match="no model loaded"):
        client.what_if("C-1", {})


def test_ui_client_never_logs_customer_data(
    client: ChurnApiClient, transport: FakeTransport, caplog: pytest.LogCaptureFixture
) -> None:
    broken = RECORD | {"attributes": {"Contract": ["secret-list"]}, "customer_value": "SECRET"}
    transport.answers += [
        (200, broken),
        requests.ConnectionError("connect to http://api.test/customers/7590-VHVEG refused"),
        requests.ConnectionError("again"),
        requests.ConnectionError("and again"),
    ]
    with caplog.at_level(logging.DEBUG, logger="churn_ui.client"):
        with pytest.raises(ApiProtocolError):
            client.customer("7590-VHVEG")
        with pytest.raises(Exception, match="cannot be reached"):
            client.customer("7590-VHVEG")
    logged = caplog.text
    assert "/customers/{customer_id}" in logged
    for secret in ("7590-VHVEG", "secret-list", "SECRET", "Month-to-month"):
        assert secret not in logged
