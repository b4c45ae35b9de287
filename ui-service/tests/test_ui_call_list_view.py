"""The call list's logic (call_list_view) and its profit-curve chart, without Streamlit."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from churn_ui.api.models import CallListPage, ProfitCurves, Reason
from churn_ui.call_list_view import (
    NO_REASON,
    CallListQuery,
    best_k_text,
    budget_text,
    export_csv,
    export_name,
    page_count,
    shown_range,
    table,
    top_reason,
)
from churn_ui.store_charts import curve_frame, profit_curve_chart


def _row(rank: int, customer_id: str, **extra: Any) -> dict[str, Any]:
    reasons = [
        {"field": "tenure", "value": 2, "contribution": 0.3, "effect": "raises"},
        {"field": "Contract", "value": "Month-to-month", "contribution": 0.9, "effect": "raises"},
        {"field": "TechSupport", "value": "Yes", "contribution": -1.2, "effect": "lowers"},
    ]
    return {
        "rank": rank,
        "customer_id": customer_id,
        "churn_probability": 0.9 - rank / 10,
        "churn": True,
        "risk_band": "high",
        "expected_value": 100.0 - rank,
        "customer_value": 840.0,
        "value_source": "12 x MonthlyCharges",
        "contract": "Month-to-month",
        "tenure": 2.0,
        "reasons": reasons,
        "model_version": "7",
        "scored_at": "2026-11-30T08:00:00+00:00",
        "within_budget": None,
        **extra,
    }


def _curve(best_k: int) -> dict[str, Any]:
    points = [{"k": k, "expected_value": float(k * (10 - k))} for k in range(11)]
    return {"points": points, "best_k": best_k, "best_expected_value": 25.0}


def _page(rows: list[dict[str, Any]], **extra: Any) -> CallListPage:
    body = {"total": 120, "limit": 50, "offset": 50, "sort": "expected_value", "filters": {}}
    return CallListPage.model_validate({**body, "customers": rows, **extra})


def test_ui_call_list_query_sends_only_what_is_set() -> None:
    assert CallListQuery().params() == {"limit": "50", "offset": "0", "sort": "expected_value"}
    query = CallListQuery(
        sort="churn_probability",
        band="high",
        contract="One year",
        min_tenure=0,
        max_tenure=12.5,
        page_size=25,
        page=3,
        budget_mode="calls",
        budget=250.0,
    )
    assert query.offset == 50
    assert query.params() == {
        "limit": "25",
        "offset": "50",
        "sort": "churn_probability",
        "band": "high",
        "contract": "One year",
        "min_tenure": "0",
        "max_tenure": "12.5",
        "budget_calls": "250",
    }
    money = CallListQuery(budget_mode="amount", budget=1234.5).params()
    assert money["budget_amount"] == "1234.5" and "budget_calls" not in money
    # A budget value left over from another mode is not sent.
    assert "budget_calls" not in CallListQuery(budget_mode="none", budget=5).params()


@pytest.mark.parametrize(("total", "size", "pages"), [(0, 50, 1), (50, 50, 1), (51, 50, 2)])
def test_ui_call_list_page_count(total: int, size: int, pages: int) -> None:
    assert page_count(total, size) == pages


def test_ui_top_reason_is_the_strongest_that_raises_the_risk() -> None:
    reasons = [Reason.model_validate(r) for r in _row(1, "A")["reasons"]]
    assert top_reason(reasons) == "Contract: Month-to-month raises the risk"
    lowering = [r for r in reasons if r.effect == "lowers"]
    assert top_reason(lowering) == "Tech support: Yes lowers the risk"
    assert top_reason(None) == NO_REASON and top_reason([]) == NO_REASON


def test_ui_call_list_table_keeps_the_api_ranking() -> None:
    page = _page([_row(51, "A-1"), _row(52, "B-2", reasons=None)])
    frame = table(page)
    assert list(frame.columns) == [
        "Rank",
        "Customer ID",
        "Churn probability",
        "Risk band",
        "Expected value",
        "Top reason",
    ]
    assert list(frame["Rank"]) == [51, 52] and list(frame["Customer ID"]) == ["A-1", "B-2"]
    assert list(frame["Risk band"]) == ["High risk", "High risk"]
    assert list(frame["Top reason"]) == ["Contract: Month-to-month raises the risk", NO_REASON]
    assert shown_range(page) == "Customers 51–52 of 120"
    assert shown_range(_page([])) == "No customers match these filters."
    budgeted = _page(
        [_row(1, "A", within_budget=True), _row(2, "B", within_budget=False)],
        budget={"calls": 1, "amount": 10.0, "expected_value": 99.0},
    )
    assert list(table(budgeted)["In budget"]) == [True, False]


def test_ui_call_list_csv_neutralises_formulas_and_keeps_numbers() -> None:
    page = _page([_row(1, '=HYPERLINK("http://x")'), _row(2, "@SUM(1)", contract="+1+1")])
    text = export_csv(page).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["customer_id"] for r in rows] == ['\'=HYPERLINK("http://x")', "'@SUM(1)"]
    assert rows[1]["contract"] == "'+1+1"
    assert float(rows[0]["churn_probability"]) == pytest.approx(0.8)
    assert rows[0]["top_reason"] == "Contract: Month-to-month raises the risk"
    assert rows[0]["rank"] == "1" and rows[0]["expected_value"] == "99.0"
    assert export_name(CallListQuery(band="high", contract="One year", page=2)) == (
        "call-list-expected_value-high-one-year-p2.csv"
    )


def test_ui_budget_and_best_k_in_words() -> None:
    assert budget_text(None) is None
    text = budget_text(
        _page([], budget={"calls": 250, "amount": 2500.0, "expected_value": 9e3}).budget
    )
    assert text == (
        "The budget pays for the top **250** calls ($2,500.00), worth $9,000.00 in expected value."
    )
    curves = {"by_expected_value": _curve(5), "by_churn_probability": _curve(4), "offer_cost": 10}
    by_value = _page([], profit_curve=curves)
    assert best_k_text(by_value) is not None and "top **5** customers" in best_k_text(by_value)
    by_probability = _page([], profit_curve=curves, sort="churn_probability")
    assert "top **4** customers" in (best_k_text(by_probability) or "")
    assert best_k_text(_page([])) is None


def test_ui_profit_curve_chart_marks_the_best_k_and_the_budget() -> None:
    curves = ProfitCurves.model_validate(
        {"by_expected_value": _curve(5), "by_churn_probability": _curve(4), "offer_cost": 10}
    )
    frame = curve_frame(curves)
    assert len(frame) == 22 and set(frame["ranking"]) == {
        "Ranked by expected value",
        "Ranked by churn probability",
    }
    spec = profit_curve_chart(curves, "expected_value", budget_calls=7).to_dict()
    datasets = [row for rows in spec["datasets"].values() for row in rows]
    labels = {row.get("label") for row in datasets}
    assert "best k = 5 (ranked by expected value)" in labels
    assert "budget: 7 calls" in labels
    spec = profit_curve_chart(curves, "churn_probability").to_dict()
    labels = {row.get("label") for rows in spec["datasets"].values() for row in rows}
    assert "best k = 4 (ranked by churn probability)" in labels
    assert not any(str(label).startswith("budget") for label in labels)
