"""The client's customer-store calls against live `churn-api` processes: one with a store
holding the IBM base (scored by `churn-score run`), one secured without a store."""

from __future__ import annotations

import time

import jwt
import pytest

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.errors import (
    ApiForbiddenError,
    ApiInvalidInputError,
    ApiNotFoundError,
    ApiStoreUnavailableError,
)
from churn_ui.api.tokens import TokenSource
from churn_ui.call_list_view import CallListQuery
from churn_ui.settings import UISettings

pytestmark = pytest.mark.integration

SECRET = "ui-tests-secret-0123456789abcdef0123456789"  # same as conftest.SECRET
KNOWN_ID = "7590-VHVEG"  # the IBM data's first customer


@pytest.fixture(scope="module")
def store(store_api: str) -> ChurnApiClient:
    return ChurnApiClient(store_api, timeout=60)


def test_ui_client_readiness_reports_the_store(store: ChurnApiClient, api: ChurnApiClient) -> None:
    ready = store.readiness()
    assert ready.store == "ok" and ready.has_store
    plain = api.readiness()
    assert plain.store == "not configured" and not plain.has_store


def test_ui_client_reads_a_stored_customer_and_scores_a_what_if(store: ChurnApiClient) -> None:
    record = store.customer(KNOWN_ID)
    assert record.customer_id == KNOWN_ID
    assert record.attributes["Contract"] == "Month-to-month" and record.attributes["tenure"] == 1
    assert record.history and record.history[0].churn_probability == record.latest.churn_probability
    assert record.latest.reasons  # stored or computed live, always present
    result = store.what_if(KNOWN_ID, {"Contract": "Two year"})
    assert result.overrides == {"Contract": "Two year"}
    assert result.baseline.churn_probability == pytest.approx(record.latest.churn_probability)
    assert result.delta == pytest.approx(
        result.what_if.churn_probability - result.baseline.churn_probability
    )
    assert result.delta < 0  # a two-year contract keeps a one-month customer better


def test_ui_client_call_list_pages_and_budget(store: ChurnApiClient) -> None:
    first = store.call_list(CallListQuery(page_size=25).params())
    second = store.call_list(CallListQuery(page_size=25, page=2).params())
    assert [r.rank for r in first.customers + second.customers] == list(range(1, 51))
    values = [r.expected_value for r in first.customers + second.customers]
    assert values == sorted(values, reverse=True)
    assert first.profit_curve is not None and first.profit_curve.by_expected_value.best_k > 0
    query = CallListQuery(band="high", contract="Month-to-month", budget_mode="calls", budget=10)
    high = store.call_list(query.params())
    assert {r.risk_band for r in high.customers} == {"high"}
    assert {r.contract for r in high.customers} == {"Month-to-month"}
    assert high.budget is not None and high.budget.calls == 10
    assert [r.within_budget for r in high.customers[:11]] == [True] * 10 + [False]


def test_ui_client_store_errors_name_the_field_or_the_id(store: ChurnApiClient) -> None:
    with pytest.raises(ApiNotFoundError, match="NO-SUCH-CUSTOMER"):
        store.customer("NO-SUCH-CUSTOMER")
    with pytest.raises(ApiInvalidInputError) as too_long:
        store.customer("x" * 65)
    assert [e.field for e in too_long.value.errors] == ["customer_id"]
    with pytest.raises(ApiInvalidInputError) as bad_limit:
        store.call_list({"limit": "0"})
    assert [e.field for e in bad_limit.value.errors] == ["limit"]
    with pytest.raises(ApiInvalidInputError) as bad_field:
        store.what_if(KNOWN_ID, {"Contarct": "Two year"})
    assert "Contarct" in [e.field for e in bad_field.value.errors]


def test_ui_minted_token_reaches_the_customer_routes(secured_api: str) -> None:
    # Secured and without a store: the UI's token passes auth (so 503, not 403).
    client = ChurnApiClient.from_settings(
        UISettings(api_base_url=secured_api, api_predict_secret=SECRET)
    )
    with pytest.raises(ApiStoreUnavailableError, match="DATABASE_URL"):
        client.call_list({})
    now = int(time.time())
    claims = {"sub": "t", "iss": "churn-ui", "aud": "churn-api", "iat": now, "exp": now + 60}
    predict_only = jwt.encode({**claims, "scope": "predict"}, SECRET, "HS256")
    with pytest.raises(ApiForbiddenError, match="'customers' permission"):
        ChurnApiClient(secured_api, TokenSource(token=predict_only)).customer(KNOWN_ID)
