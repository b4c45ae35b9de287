"""The bearer token source: fixed, or minted from the predict secret and renewed early."""

from __future__ import annotations

import time

import jwt

from churn_ui.api.tokens import TokenSource
from churn_ui.settings import UISettings

SECRET = "a-generated-looking-predict-secret-0123456789"


def test_ui_token_source_renews_before_expiry() -> None:
    assert TokenSource().header() == {}
    assert TokenSource(token="abc").header() == {"Authorization": "Bearer abc"}
    tokens = TokenSource(secret=SECRET, ttl_seconds=300)
    first = tokens.token()
    assert first is not None and tokens.token() == first  # reused while fresh
    assert tokens._minted is not None
    tokens._minted = ("stale-token", time.time() + 50)  # only 50 s of 300 left: renew
    renewed = tokens.token()
    assert renewed != "stale-token"
    assert tokens._minted[1] > time.time() + 250


def test_ui_tokens_carry_predict_customers_issuer_audience_and_a_short_life() -> None:
    source = TokenSource.from_settings(
        UISettings(api_predict_secret=SECRET, api_token_ttl_seconds=600, churn_dev_mode=False)
    )
    token = source.token()
    assert token is not None and jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="churn-api")
    # The UI's secret is trusted for scoring and the customer pages, never for admin.
    assert claims["scope"].split() == ["predict", "customers"]
    assert (claims["iss"], claims["aud"], claims["sub"]) == ("churn-ui", "churn-api", "churn-ui")
    assert claims["exp"] - claims["iat"] == 600
    fixed = TokenSource.from_settings(UISettings(api_token="t0k", api_predict_secret=SECRET))
    assert fixed.header() == {"Authorization": "Bearer t0k"}
