"""churn-score's partition scoring: the API's validation and scores, bad rows reported with
their snapshot row and kept out, reasons for whom they are asked."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from churn_api.scorer import LoadedModel
from churn_api.scoring.job import PartitionScorer

FIELDS = ["gender", "SeniorCitizen", "tenure", "Contract", "MonthlyCharges", "TotalCharges"]
TYPES = {
    "customerID": pa.string(),
    "gender": pa.string(),
    "SeniorCitizen": pa.int64(),
    "tenure": pa.int64(),
    "Contract": pa.string(),
    "MonthlyCharges": pa.float64(),
    "TotalCharges": pa.float64(),
}


def batch_of(
    records: list[dict[str, Any]], types: dict[str, pa.DataType] | None = None
) -> pa.RecordBatch:
    types = types or TYPES
    names = list(types)
    return pa.record_batch(
        [pa.array([r.get(n) for r in records], type=types[n]) for n in names], names=names
    )


def predict(model: LoadedModel, record: dict[str, Any]) -> dict[str, Any]:
    """What /predict answers for a record (the API's single-row path)."""
    return model.score_one(model.customers.validate_one(record), explain=True)


def test_every_row_gets_the_probability_predict_gives(
    tiny_model: LoadedModel, tiny_records: list[dict[str, Any]]
) -> None:
    result = PartitionScorer(tiny_model, "all").score(batch_of(tiny_records), 1)
    assert result.rejected == []
    assert len(result.rows) == result.read == len(tiny_records)
    for k, record in enumerate(tiny_records):
        expected = predict(tiny_model, record)
        assert result.rows.customer_id[k] == record["customerID"]
        assert abs(result.rows.churn_probability[k] - expected["churn_probability"]) <= 1e-6
        assert result.rows.risk_band[k] == expected["risk_band"]
        assert bool(result.rows.churn[k]) == expected["churn"]
        assert result.rows.reasons[k] == expected["reasons"]


def test_attributes_are_the_validated_values_with_missing_left_none(
    tiny_model: LoadedModel, tiny_records: list[dict[str, Any]]
) -> None:
    result = PartitionScorer(tiny_model, "none").score(batch_of(tiny_records), 1)
    for record, attributes in zip(tiny_records, result.rows.attributes, strict=True):
        validated = tiny_model.customers.validate_one(record).__dict__
        assert attributes == {f: validated[f] for f in FIELDS}
        assert (
            predict(tiny_model, {**attributes, "customerID": "x"})["churn_probability"]
            == (predict(tiny_model, record)["churn_probability"])
        )


def test_value_is_the_customers_own_else_twelve_months_of_charges(tiny_model: LoadedModel) -> None:
    records = [
        {"customerID": "A", "MonthlyCharges": 50.0, "customer_value": 1000.0},
        {"customerID": "B", "MonthlyCharges": 50.0, "customer_value": None},
    ]
    types = {**TYPES, "customer_value": pa.float64()}
    rows = PartitionScorer(tiny_model).score(batch_of(records, types), 1).rows
    assert list(rows.customer_value) == [1000.0, 600.0]
    assert list(rows.value_source) == ["customer_value", "12 x MonthlyCharges"]
    t = tiny_model.contract.threshold
    for k in range(2):
        expected = rows.churn_probability[k] * t.offer_success_rate * rows.customer_value[k]
        assert math.isclose(rows.expected_value[k], expected - t.offer_cost)


def test_bad_rows_are_reported_with_their_row_and_reason_and_kept_out(
    tiny_model: LoadedModel,
) -> None:
    good = {"customerID": "OK-1", "gender": "Female", "tenure": 5, "Contract": "One year"}
    records = [
        good,
        {"customerID": "BAD-1", "gender": "Robot"},
        {"customerID": "BAD-2", "tenure": "-5"},
        {"customerID": None, "tenure": 3},
        {"customerID": "  ", "tenure": 3},
        {"customerID": "a\x00b", "tenure": 3},
        {"customerID": "X" * 65, "tenure": 3},
        {"customerID": "BAD-3", "MonthlyCharges": "NaN"},
        {"customerID": "BAD-4", "tenure": "many", "customer_value": "-3"},
        {"customerID": "OK-2", "TotalCharges": " ", "tenure": "0", "SeniorCitizen": "1"},
    ]
    text = dict.fromkeys([*TYPES, "customer_value"], pa.string())
    as_text = [{k: None if v is None else str(v) for k, v in r.items()} for r in records]
    result = PartitionScorer(tiny_model).score(batch_of(as_text, text), 101)
    assert list(result.rows.customer_id) == ["OK-1", "OK-2"]
    assert result.read == 10 and len(result.rejected) == 8
    by_row = {r.row: r for r in result.rejected}
    assert sorted(by_row) == [102, 103, 104, 105, 106, 107, 108, 109]
    assert by_row[102].customer_id == "BAD-1"
    assert [e["field"] for e in by_row[102].errors] == ["gender"]
    assert by_row[103].errors[0]["field"] == "tenure"
    assert by_row[104].errors[0] == {"field": "customerID", "message": "Field required"}
    assert "non-blank" in by_row[105].errors[0]["message"]
    assert "control" in by_row[106].errors[0]["message"]
    assert "64" in by_row[107].errors[0]["message"]
    assert by_row[108].errors[0]["field"] == "MonthlyCharges"
    assert {e["field"] for e in by_row[109].errors} == {"tenure", "customer_value"}
    # Text cells read as the API reads them: "0"/"1" categories, a blank number is missing.
    ok2 = result.rows.attributes[1]
    assert (ok2["SeniorCitizen"], ok2["tenure"], ok2["TotalCharges"]) == (1, 0, None)
    assert (
        abs(
            result.rows.churn_probability[1] - predict(tiny_model, records[-1])["churn_probability"]
        )
        <= 1e-6
    )


def test_duplicates_named_by_the_survey_are_rejected(tiny_model: LoadedModel) -> None:
    records = [{"customerID": "A"}, {"customerID": "B"}, {"customerID": "A"}]
    result = PartitionScorer(tiny_model).score(batch_of(records), 11, {13: 11})
    assert list(result.rows.customer_id) == ["A", "B"]
    [rejected] = result.rejected
    assert rejected.row == 13
    assert rejected.errors[0]["message"] == "duplicate customerID 'A': first seen at row 11"


def test_an_integer_id_column_becomes_text(tiny_model: LoadedModel) -> None:
    result = PartitionScorer(tiny_model).score(
        batch_of([{"customerID": 7}], {"customerID": pa.int64()}), 1
    )
    assert list(result.rows.customer_id) == ["7"]


@pytest.mark.parametrize(("mode", "expected"), [("all", 400), ("none", 0)])
def test_reasons_for_all_or_none(
    tiny_model: LoadedModel, tiny_records: list[dict[str, Any]], mode: str, expected: int
) -> None:
    rows = PartitionScorer(tiny_model, mode).score(batch_of(tiny_records), 1).rows
    assert sum(r is not None for r in rows.reasons) == expected


def test_top_decile_reasons_cover_the_top_by_value_and_by_probability(
    tiny_model: LoadedModel, tiny_records: list[dict[str, Any]]
) -> None:
    rows = PartitionScorer(tiny_model).score(batch_of(tiny_records), 1).rows
    has = np.array([r is not None for r in rows.reasons])
    top_ev = np.argsort(-np.asarray(rows.expected_value), kind="stable")[:40]
    top_p = np.argsort(-np.asarray(rows.churn_probability), kind="stable")[:40]
    assert has[top_ev].all() and has[top_p].all()
    assert 40 <= has.sum() <= 80


def test_unknown_reasons_mode_is_refused(tiny_model: LoadedModel) -> None:
    with pytest.raises(ValueError, match="reasons"):
        PartitionScorer(tiny_model, "some")


def test_odd_column_types_are_rejected_row_by_row_never_a_crash(tiny_model: LoadedModel) -> None:
    import datetime as dt

    batch = pa.record_batch(
        [
            pa.array(["A", "B", "C"]),
            pa.array([["Male"], ["Female"], None], type=pa.list_(pa.string())),
            pa.array([True, False, None]),
            pa.array([dt.datetime(2026, 1, 1), None, None], type=pa.timestamp("s")),
            pa.array(["One year", "Two year", None]).dictionary_encode(),
            pa.array([20.5, 30.25, None], type=pa.float32()),
            pa.array([1, 2, None], type=pa.int32()),
        ],
        names=[
            "customerID",
            "gender",
            "tenure",
            "TotalCharges",
            "Contract",
            "MonthlyCharges",
            "SeniorCitizen",
        ],
    )
    result = PartitionScorer(tiny_model).score(batch, 1)
    assert result.read == 3
    by_row = {r.row: {e["field"] for e in r.errors} for r in result.rejected}
    assert by_row[1] >= {"gender", "tenure", "TotalCharges"}
    assert by_row[2] >= {"gender", "tenure", "SeniorCitizen"}
    assert list(result.rows.customer_id) == ["C"]
    attributes = result.rows.attributes[0]
    assert attributes["Contract"] is None and attributes["MonthlyCharges"] is None
