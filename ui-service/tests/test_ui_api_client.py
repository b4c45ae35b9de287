"""The API client against a fake transport: requests sent, answers parsed, failures mapped.

No socket is opened; the same client against live `churn-api` processes is in
test_ui_api_client_live.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from ui_fakes import FAKE_URL, FakeTransport

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.errors import (
    ApiForbiddenError,
    ApiInvalidInputError,
    ApiNotReadyError,
    ApiPayloadTooLargeError,
    ApiProtocolError,
    ApiTimeoutError,
    ApiUnauthorizedError,
    ApiUnreachableError,
)
from churn_ui.api.tokens import TokenSource

MODEL_REF = {"name": "telco-churn", "version": "7", "alias": "champion"}
PREDICTION = {
    "customerID": "C-1",
    "churn_probability": 0.71,
    "churn": True,
    "threshold": 0.4,
    "risk_band": "high",
    "expected_value": 12.5,
    "model": MODEL_REF,
    "reasons": [{"field": "tenure", "value": 2, "contribution": 0.8, "effect": "raises"}],
}


def _body(request: requests.PreparedRequest) -> Any:
    assert request.body is not None
    return json.loads(request.body)


def test_ui_client_predict_sends_the_customer_and_parses_the_answer(
    transport: FakeTransport,
) -> None:
    session = requests.Session()
    session.mount("http://", transport)
    client = ChurnApiClient(FAKE_URL + "/", TokenSource(token="t0k"), timeout=4, session=session)
    transport.answers.append((200, PREDICTION))

    prediction = client.predict({"customerID": "C-1", "tenure": 2}, explain=True)

    (sent,) = transport.sent
    assert (sent.method, sent.url) == ("POST", f"{FAKE_URL}/predict?explain=true")
    assert _body(sent) == {"customerID": "C-1", "tenure": 2}
    assert sent.headers["Authorization"] == "Bearer t0k"
    assert sent.headers["User-Agent"] == "churn-ui/0.1"
    assert transport.timeouts == [(3.0, 4)]  # (connect, read)
    assert prediction.churn_probability == 0.71 and prediction.model.version == "7"
    assert prediction.reasons and prediction.reasons[0].effect == "raises"


def test_ui_client_open_endpoints_carry_no_token(transport: FakeTransport) -> None:
    session = requests.Session()
    session.mount("http://", transport)
    client = ChurnApiClient(FAKE_URL, TokenSource(token="t0k"), session=session)
    transport.answers += [(503, {"ready": False, "detail": "loading"}), (200, {"ready": True})]
    assert client.readiness(timeout=1.5).detail == "loading"  # 503 still carries a body
    assert client.readiness().ready
    assert all("Authorization" not in r.headers for r in transport.sent)
    assert transport.timeouts[0] == (1.5, 1.5)


def test_ui_client_batch_sends_customers_and_keeps_row_errors(
    fake_client: ChurnApiClient, transport: FakeTransport
) -> None:
    transport.answers.append(
        (
            200,
            {
                "model": MODEL_REF,
                "count": 2,
                "succeeded": 1,
                "failed": 1,
                "results": [
                    {"row": 0, "ok": True, "prediction": PREDICTION},
                    {"row": 1, "ok": False, "errors": [{"field": "tenure", "message": "< 0"}]},
                ],
            },
        )
    )
    result = fake_client.predict_batch([{"tenure": 2}, {"tenure": -1}], sort="risk")
    (sent,) = transport.sent
    assert sent.url == f"{FAKE_URL}/predict/batch?explain=false&sort=risk"
    assert _body(sent) == {"customers": [{"tenure": 2}, {"tenure": -1}]}
    ok, bad = result.results
    assert ok.prediction is not None and bad.errors and bad.errors[0].field == "tenure"


@pytest.mark.parametrize(
    ("status", "body", "error", "words"),
    [
        (401, {"detail": "Missing bearer token"}, ApiUnauthorizedError, "(Missing bearer token)"),
        (401, b"", ApiUnauthorizedError, "(no valid token)"),
        (403, {"detail": "scope"}, ApiForbiddenError, "'predict' permission"),
        (413, b"too big", ApiPayloadTooLargeError, "too large"),
        (503, {"detail": "no model"}, ApiNotReadyError, "no model loaded yet"),
        (500, b"<html>oops</html>", ApiProtocolError, "unexpected error (HTTP 500)"),
        (404, {"detail": "Not Found"}, ApiProtocolError, "unexpected error (HTTP 404)"),
    ],
)
def test_ui_client_maps_each_error_status(
    fake_client: ChurnApiClient,
    transport: FakeTransport,
    status: int,
    body: object,
    error: type[Exception],
    words: str,
) -> None:
    transport.answers.append((status, body))
    with pytest.raises(error) as caught:
        fake_client.predict({"tenure": 1})
    assert words in str(caught.value)
    assert getattr(caught.value, "status", None) == status


def test_ui_client_422_names_each_field(
    fake_client: ChurnApiClient, transport: FakeTransport
) -> None:
    detail = [
        {"field": "tenure", "message": "must be >= 0"},
        {"field": "Contarct", "message": "unknown field"},
    ]
    transport.answers.append((422, {"detail": detail}))
    with pytest.raises(ApiInvalidInputError) as caught:
        fake_client.predict({"tenure": -1, "Contarct": "x"})
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("tenure", "must be >= 0"),
        ("Contarct", "unknown field"),
    ]
    assert caught.value.message == (
        "Some input was not accepted: tenure: must be >= 0; Contarct: unknown field"
    )


def test_ui_client_retries_connection_errors_only(
    fake_client: ChurnApiClient, transport: FakeTransport
) -> None:
    refused = requests.ConnectionError("refused")
    transport.answers += [refused, refused, (200, {"ready": True, "model_version": "7"})]
    assert fake_client.readiness().model_version == "7"  # two retries, then the answer
    assert len(transport.sent) == 3

    transport.sent.clear()
    transport.answers += [refused, refused, refused]
    with pytest.raises(ApiUnreachableError) as caught:
        fake_client.readiness()
    assert len(transport.sent) == 3  # the first try and connect_retries=2
    assert FAKE_URL in caught.value.message and "cannot be reached" in caught.value.message

    transport.sent.clear()
    transport.answers.append(requests.ReadTimeout("slow"))
    with pytest.raises(ApiTimeoutError, match="did not answer within 15 seconds"):
        fake_client.predict({"tenure": 1})
    assert len(transport.sent) == 1  # the request may have reached the model: never repeated


def test_ui_client_refuses_a_body_that_breaks_the_contract(
    fake_client: ChurnApiClient, transport: FakeTransport
) -> None:
    transport.answers += [(200, b"not json"), (200, {"churn_probability": "high"})]
    for _ in range(2):
        with pytest.raises(ApiProtocolError, match="does not understand"):
            fake_client.predict({"tenure": 1})
