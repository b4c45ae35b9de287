"""The client's monitoring calls against a fake transport: paths, query, the `customers` token
scope, answers parsed, and 404 (an older API) / 403 / 422 / 503 mapped to errors that say what
happened."""

from __future__ import annotations

import jwt
import pytest
import requests
from health_fakes import DRIFT_RUNS, HOLDOUT, PERFORMANCE_ROWS, REFERENCE_SCORE, THRESHOLDS
from ui_fakes import FAKE_URL, FakeTransport

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.errors import (
    ApiForbiddenError,
    ApiInvalidInputError,
    ApiNotFoundError,
    ApiProtocolError,
    ApiStoreUnavailableError,
)
from churn_ui.api.tokens import TokenSource

SECRET = "a-generated-looking-predict-secret-0123456789"


@pytest.fixture
def client(transport: FakeTransport) -> ChurnApiClient:
    session = requests.Session()
    session.mount("http://", transport)
    return ChurnApiClient(FAKE_URL, TokenSource(secret=SECRET), session=session, retry_backoff=0)


def test_ui_client_reads_drift_with_a_customers_token(
    client: ChurnApiClient, transport: FakeTransport
) -> None:
    body = {"thresholds": THRESHOLDS, "reference_score": REFERENCE_SCORE, "runs": DRIFT_RUNS}
    transport.answers.append((200, body | {"something_new": [1, 2]}))
    history = client.drift(runs=5)
    (sent,) = transport.sent
    assert (sent.method, sent.path_url) == ("GET", "/monitoring/drift?runs=5")
    token = sent.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="churn-api")
    assert "customers" in claims["scope"].split()
    assert [r.run_id for r in history.runs] == ["run-2", "run-1"]
    assert history.thresholds.field_psi_drift == 0.2
    contract = next(f for f in history.runs[0].fields if f.field == "Contract")
    assert (contract.psi, contract.unseen) == (0.41, {"Three year": 12})
    assert history.reference_score is not None and len(history.reference_score.edges) == 9


def test_ui_client_drift_defaults_and_minimal_body(
    client: ChurnApiClient, transport: FakeTransport
) -> None:
    # Only what is required: the limits fall back to docs/monitoring.md's.
    transport.answers.append((200, {"runs": [{"run_id": "r"}]}))
    history = client.drift()
    assert transport.sent[0].path_url == "/monitoring/drift?runs=20"
    assert history.thresholds.field_psi_watch == 0.1 and history.reference_score is None
    assert history.runs[0].fields == [] and history.runs[0].score_psi is None


def test_ui_client_reads_performance(client: ChurnApiClient, transport: FakeTransport) -> None:
    transport.answers.append(
        (200, {"rows": PERFORMANCE_ROWS, "holdout_roc_auc": 0.845, "holdout": HOLDOUT})
    )
    history = client.performance()
    (sent,) = transport.sent
    assert (sent.method, sent.path_url) == ("GET", "/monitoring/performance")
    assert "Authorization" in sent.headers
    assert [(r.model_version, r.month, r.roc_auc) for r in history.rows] == [
        ("6", "2026-09", 0.83),
        ("7", "2026-10", 0.80),
        ("7", "2026-11", 0.76),
    ]
    assert history.holdout_roc_auc == 0.845 and history.holdout["brier"] == 0.135


def test_ui_client_monitoring_errors_say_what_happened(
    client: ChurnApiClient, transport: FakeTransport
) -> None:
    transport.answers += [
        (404, {"detail": "Not Found"}),
        (403, {"detail": "Token lacks the 'customers' scope"}),
        (422, {"detail": [{"field": "runs", "message": "must be 1 to 200"}]}),
        (503, {"detail": "No customer store configured: set DATABASE_URL"}),
        (200, {"rows": [{"model_version": "7"}]}),  # month and n missing
    ]
    with pytest.raises(ApiNotFoundError, match="no monitoring pages"):
        client.drift()
    with pytest.raises(ApiForbiddenError, match="'customers' permission"):
        client.performance()
    with pytest.raises(ApiInvalidInputError) as invalid:
        client.drift(runs=0)
    assert [e.field for e in invalid.value.errors] == ["runs"]
    with pytest.raises(ApiStoreUnavailableError, match="set DATABASE_URL"):
        client.performance()
    with pytest.raises(ApiProtocolError, match="does not understand"):
        client.performance()
