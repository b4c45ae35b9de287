"""The typed API client against live `churn-api` processes, including every error mapping."""

from __future__ import annotations

import time

import jwt
import pytest

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.errors import (
    ApiForbiddenError,
    ApiInvalidInputError,
    ApiNotReadyError,
    ApiPayloadTooLargeError,
    ApiTimeoutError,
    ApiUnauthorizedError,
    ApiUnreachableError,
)
from churn_ui.api.tokens import TokenSource
from churn_ui.settings import UISettings

pytestmark = pytest.mark.integration

SECRET = "ui-tests-secret-0123456789abcdef0123456789"  # same as conftest.SECRET
CUSTOMER = {
    "customerID": "TEST-0001",
    "gender": "Female",
    "SeniorCitizen": 0,
    "Partner": "No",
    "Dependents": "No",
    "tenure": 2,
    "PhoneService": "Yes",
    "MultipleLines": "No",
    "InternetService": "Fiber optic",
    "OnlineSecurity": "No",
    "OnlineBackup": "No",
    "DeviceProtection": "No",
    "TechSupport": "No",
    "StreamingTV": "No",
    "StreamingMovies": "No",
    "Contract": "Month-to-month",
    "PaperlessBilling": "Yes",
    "PaymentMethod": "Electronic check",
    "MonthlyCharges": 80.0,
    "TotalCharges": 160.0,
}


def test_ui_client_model_info_is_typed(api: ChurnApiClient) -> None:
    info = api.model_info()
    names = [f.name for f in info.fields]
    assert len(names) == 19
    assert {"Contract", "tenure", "PaymentMethod"} <= set(names)
    assert {f.group for f in info.fields} == {"account", "services", "billing"}
    contract = next(f for f in info.fields if f.name == "Contract")
    assert contract.categories == ["Month-to-month", "One year", "Two year"]
    assert 0 < info.threshold.value < 1
    assert info.risk_bands[-1].upper == 1.0
    assert api.readiness().model_version == info.version


def test_ui_client_predict_with_reasons(api: ChurnApiClient) -> None:
    prediction = api.predict(CUSTOMER, explain=True)
    assert 0.0 <= prediction.churn_probability <= 1.0
    assert prediction.churn == (prediction.churn_probability >= prediction.threshold)
    assert prediction.customerID == "TEST-0001"
    assert prediction.imputed_fields == []
    assert prediction.reasons is not None and 1 <= len(prediction.reasons) <= 5
    assert {r.effect for r in prediction.reasons} <= {"raises", "lowers"}
    # A two-year contract lowers the risk of the same customer: the client sends what it's given.
    longer = api.predict({**CUSTOMER, "Contract": "Two year"}, explain=False)
    assert longer.churn_probability < prediction.churn_probability
    assert longer.reasons is None


def test_ui_client_batch_keeps_row_errors(api: ChurnApiClient) -> None:
    result = api.predict_batch([CUSTOMER, {**CUSTOMER, "tenure": -3}, {"Contract": "Weekly"}])
    assert (result.count, result.succeeded, result.failed) == (3, 1, 2)
    ok, negative, weekly = sorted(result.results, key=lambda r: r.row)
    assert ok.ok and ok.prediction is not None
    assert not negative.ok and negative.errors and negative.errors[0].field == "tenure"
    assert not weekly.ok and weekly.errors and weekly.errors[0].field == "Contract"


def test_ui_client_422_names_the_fields(api: ChurnApiClient) -> None:
    with pytest.raises(ApiInvalidInputError) as caught:
        api.predict({**CUSTOMER, "tenure": -1, "Contarct": "One year"})
    fields = {e.field for e in caught.value.errors}
    assert {"tenure", "Contarct"} <= fields
    assert caught.value.status == 422
    assert "tenure" in caught.value.message and "Contarct" in caught.value.message


def test_ui_client_down_is_unreachable_after_retries(closed_port_url: str) -> None:
    client = ChurnApiClient(closed_port_url, connect_retries=2, retry_backoff=0.05)
    with pytest.raises(ApiUnreachableError) as caught:
        client.predict(CUSTOMER)
    assert closed_port_url in caught.value.message
    assert "cannot be reached" in caught.value.message
    assert "Traceback" not in caught.value.message


def test_ui_client_slow_api_times_out(silent_server: str) -> None:
    client = ChurnApiClient(silent_server, timeout=0.5, connect_retries=2)
    with pytest.raises(ApiTimeoutError) as caught:
        client.model_info()
    assert "did not answer within 0.5 seconds" in caught.value.message


def test_ui_client_503_while_no_model(not_ready_api: str) -> None:
    client = ChurnApiClient(not_ready_api, timeout=30)
    ready = client.readiness()
    assert ready.ready is False and ready.detail
    with pytest.raises(ApiNotReadyError, match="no model loaded yet"):
        client.model_info()
    with pytest.raises(ApiNotReadyError) as caught:
        client.predict(CUSTOMER)
    assert caught.value.status == 503


def test_ui_client_401_without_token(secured_api: str) -> None:
    client = ChurnApiClient(secured_api, timeout=30)
    with pytest.raises(ApiUnauthorizedError) as caught:
        client.predict(CUSTOMER)
    assert caught.value.status == 401
    assert "Missing bearer token" in caught.value.message
    assert "API_TOKEN or API_PREDICT_SECRET" in caught.value.message
    # The open endpoints stay open.
    assert client.model_info().version


def test_ui_client_401_with_a_token_signed_by_another_secret(secured_api: str) -> None:
    client = ChurnApiClient(secured_api, TokenSource(secret="not-the-api-secret-at-all-xxxxxx"))
    with pytest.raises(ApiUnauthorizedError, match="Invalid token"):
        client.predict(CUSTOMER)


def test_ui_client_403_without_predict_scope(secured_api: str) -> None:
    now = int(time.time())
    claims = {"sub": "t", "iss": "churn-ui", "aud": "churn-api", "iat": now, "exp": now + 60}
    admin_only = jwt.encode({**claims, "scope": "admin"}, SECRET, "HS256")
    client = ChurnApiClient(secured_api, TokenSource(token=admin_only))
    with pytest.raises(ApiForbiddenError, match="'predict' permission"):
        client.predict(CUSTOMER)


def test_ui_client_mints_a_predict_customers_token_from_the_secret(secured_api: str) -> None:
    settings = UISettings(api_base_url=secured_api, api_predict_secret=SECRET)
    client = ChurnApiClient.from_settings(settings)
    assert client.predict(CUSTOMER).customerID == "TEST-0001"
    token = client.tokens.token()
    assert token is not None
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="churn-api")
    assert claims["scope"] == "predict customers" and claims["sub"] == "churn-ui"
    assert (claims["iss"], claims["aud"]) == ("churn-ui", "churn-api")
    assert claims["exp"] - claims["iat"] == settings.api_token_ttl_seconds
    assert 0 < claims["exp"] - time.time() <= settings.api_token_ttl_seconds


def test_ui_client_413_for_a_body_over_the_limit(secured_api: str) -> None:
    client = ChurnApiClient.from_settings(
        UISettings(api_base_url=secured_api, api_predict_secret=SECRET)
    )
    with pytest.raises(ApiPayloadTooLargeError, match="too large"):
        client.predict_batch([CUSTOMER] * 60)
