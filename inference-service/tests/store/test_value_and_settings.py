"""value.py's arithmetic, the customer store settings and `churn-api token --scope customers`."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from churn_api import value
from churn_api.cli import run
from churn_api.contract import Threshold
from churn_api.settings import Settings, authenticator

GOOD_SECRET = "value-test-secret-value-test-secret-01"


def test_customer_values_prefer_their_own_then_the_proxy() -> None:
    values, sources = value.customer_values([300.0, None, None, ""], [10.0, 20.0, None, 1.5])
    assert values.tolist() == [300.0, 240.0, 0.0, 18.0]
    assert sources == ["customer_value", "12 x MonthlyCharges", "none", "12 x MonthlyCharges"]
    values, sources = value.customer_values(None, np.array([50.0]))
    assert values.tolist() == [600.0] and sources == ["12 x MonthlyCharges"]


def test_expected_value_uses_each_customers_value() -> None:
    t = Threshold(value=0.3, offer_cost=50.0, offer_success_rate=0.3, saved_customer_value=500)
    ev = value.expected_values(np.array([0.5, 0.5]), np.array([1000.0, 100.0]), t)
    assert ev.tolist() == pytest.approx([0.5 * 0.3 * 1000 - 50, 0.5 * 0.3 * 100 - 50])


def test_profit_curve_marks_the_best_k() -> None:
    ev = [40.0, 10.0, 5.0, -2.0, -30.0]
    curve = value.profit_curve(ev)
    assert curve["best_k"] == 3 and curve["best_expected_value"] == 55.0
    assert [p["expected_value"] for p in curve["points"]] == [0, 40, 50, 55, 53, 23]
    big = value.profit_curve(np.linspace(5, -5, 100_001), points=50)
    assert len(big["points"]) <= 51 and big["points"][-1]["k"] == 100_001
    assert big["best_k"] in [p["k"] for p in big["points"]]
    assert value.profit_curve([])["best_k"] == 0


def test_base_profit_curves_rank_two_ways() -> None:
    p = np.array([0.9, 0.2, 0.6])
    ev = np.array([1.0, 30.0, -4.0])
    curves = value.base_profit_curves(p, ev, 50.0)
    assert curves["by_expected_value"]["best_k"] == 2  # 30 + 1
    assert [x["expected_value"] for x in curves["by_churn_probability"]["points"]] == [0, 1, -3, 27]
    assert curves["offer_cost"] == 50.0


def test_budget_calls() -> None:
    assert value.budget_calls(None, None, 50.0) is None
    assert value.budget_calls(10, None, 50.0) == 10
    assert value.budget_calls(None, 275.0, 50.0) == 5
    assert value.budget_calls(3, 275.0, 50.0) == 3
    assert value.budget_calls(None, 300.0, 0.0) is None  # free offers: money is no limit


def test_database_settings() -> None:
    assert Settings(churn_dev_mode=True).database_url is None
    assert Settings(churn_dev_mode=True, database_url=" ").database_url is None
    with pytest.raises(ValidationError, match="unsupported database 'mysql'") as caught:
        Settings(churn_dev_mode=True, database_url="mysql://u:pw-secret@h/db")
    assert "pw-secret" not in str(caught.value)
    with pytest.raises(ValidationError, match="max_page_size"):
        Settings(churn_dev_mode=True, max_page_size=0)


def test_cli_mints_customers_tokens_with_the_uis_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JWT_PREDICT_SECRET", GOOD_SECRET)
    run(["token", "--scope", "predict", "--scope", "customers", "--issuer", "churn-ui"])
    token = capsys.readouterr().out.strip()
    auth = authenticator(Settings(jwt_predict_secret=GOOD_SECRET))
    assert auth.authorize(f"Bearer {token}", "customers").scopes == {"predict", "customers"}
    with pytest.raises(SystemExit):
        run(["token", "--scope", "customers", "--scope", "admin"])
    assert "'admin' needs --key" in capsys.readouterr().err
