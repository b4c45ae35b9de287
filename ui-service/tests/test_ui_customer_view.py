"""The Customer page's logic (customer_view) and its history chart, without Streamlit."""

from __future__ import annotations

from typing import Any

import pytest

from churn_ui.api.models import CustomerRecord, ModelInfo, WhatIf
from churn_ui.customer_view import (
    attribute_rows,
    change_text,
    clean_id,
    delta_text,
    history_frame,
    id_problem,
    overrides,
    same_value,
    value_caption,
    value_delta_text,
    when_text,
)
from churn_ui.store_charts import history_chart

ATTRIBUTES: dict[str, Any] = {
    "Contract": "Month-to-month",
    "tenure": 5,
    "MonthlyCharges": 70.35,
    "SeniorCitizen": 0,
    "TotalCharges": None,
    "Extra": "kept",
}


def _score(p: float, version: str, when: str) -> dict[str, Any]:
    return {
        "churn_probability": p,
        "churn": p >= 0.4,
        "risk_band": "high" if p >= 0.6 else "medium",
        "expected_value": 10 * p,
        "model": {"name": "telco-churn", "version": version},
        "scored_at": f"{when}T08:00:00+00:00",
        "snapshot_date": when,
        "run_id": f"run-{version}",
    }


def _record(**extra: Any) -> CustomerRecord:
    latest = _score(0.71, "7", "2026-11-30") | {"reasons": None, "reasons_source": "unavailable"}
    body = {
        "customer_id": "7590-VHVEG",
        "snapshot_date": "2026-11-30",
        "attributes": ATTRIBUTES,
        "customer_value": 844.2,
        "value_source": "12 x MonthlyCharges",
        "latest": latest,
        "history": [_score(0.71, "7", "2026-11-30"), _score(0.52, "6", "2026-11-23")],
    }
    return CustomerRecord.model_validate(body | extra)


@pytest.mark.parametrize(
    ("raw", "cleaned"), [(None, None), ("", None), ("   ", None), (" 7590-VHVEG\n", "7590-VHVEG")]
)
def test_ui_customer_id_is_trimmed(raw: str | None, cleaned: str | None) -> None:
    assert clean_id(raw) == cleaned


def test_ui_customer_id_problems_are_named_before_any_request() -> None:
    assert id_problem("7590-VHVEG") is None
    assert id_problem("x" * 64) is None
    assert id_problem("x" * 65) == "A customer ID has at most 64 characters."
    assert "control characters" in (id_problem("a\tb") or "")


def test_ui_customer_attributes_in_the_model_order_then_the_rest(small_info: ModelInfo) -> None:
    rows = attribute_rows(_record(), small_info.fields)
    assert list(rows["Field"]) == [
        "Months as a customer",
        "Monthly charges",
        "Senior citizen (65+)",
        "Contract",
        "Total charged so far",
        "Extra",
    ]
    assert list(rows["Value"]) == [
        "5 months",
        "$70.35",
        "No",
        "Month-to-month",
        "not given",
        "kept",
    ]
    assert value_caption(_record()) == (
        "Customer value $844.20 (estimated as 12 × monthly charges)."
    )
    own = _record(value_source="customer_value", customer_value=1200.0)
    assert value_caption(own) == "Customer value $1,200.00 (customer_value)."


def test_ui_customer_history_newest_first_and_its_chart() -> None:
    record = _record()
    frame = history_frame(record)
    assert list(frame["Model version"]) == ["7", "6"]
    assert list(frame["Churn probability"]) == [0.71, 0.52]
    assert list(frame["Risk band"]) == ["High risk", "Medium risk"]
    assert list(frame["Scored at"]) == ["2026-11-30 08:00 UTC", "2026-11-23 08:00 UTC"]
    spec = history_chart(record).to_dict()
    (rows,) = spec["datasets"].values()
    assert [r["probability"] for r in rows] == [0.71, 0.52]
    assert rows[0]["when"].startswith("2026-11-30T08:00:00")


def test_ui_what_if_overrides_are_only_the_changed_fields() -> None:
    edited = dict(ATTRIBUTES) | {"tenure": 5.0, "MonthlyCharges": 70.35000000001}
    assert overrides(ATTRIBUTES, edited) == {}  # same numbers, another type or rounding
    edited |= {"Contract": "One year", "tenure": 24, "TotalCharges": 120.0}
    assert overrides(ATTRIBUTES, edited) == {
        "Contract": "One year",
        "tenure": 24,
        "TotalCharges": 120.0,
    }
    # Clearing a stored value is a change too: the API then imputes it.
    assert overrides(ATTRIBUTES, {"MonthlyCharges": None}) == {"MonthlyCharges": None}
    assert same_value(0, 0) and not same_value(0, 1) and not same_value(True, 1.0)
    assert not same_value("1", 1)


def test_ui_what_if_result_in_words() -> None:
    def prediction(p: float, ev: float) -> dict[str, Any]:
        model = {"name": "telco-churn", "version": "7"}
        return {"churn_probability": p, "churn": p >= 0.4, "threshold": 0.4,
                "risk_band": "high", "expected_value": ev, "model": model}  # fmt: skip

    result = WhatIf.model_validate(
        {
            "customer_id": "A",
            "overrides": {"Contract": "One year", "tenure": 24},
            "baseline": prediction(0.71, 50.0),
            "what_if": prediction(0.2, 5.5),
            "delta": 0.2 - 0.71,
        }
    )
    assert delta_text(result) == "-51.0 points"
    assert value_delta_text(result) == "-$44.50"
    assert change_text(result.overrides) == "Contract = One year, Months as a customer = 24 months"


def test_ui_timestamps_in_utc_words() -> None:
    assert when_text("2026-11-30T09:21:10.639392+00:00") == "2026-11-30 09:21 UTC"
    assert when_text("2026-11-30T10:21:10+01:00") == "2026-11-30 09:21 UTC"
    assert when_text(None) == "not known"
    assert when_text("yesterday") == "yesterday"
