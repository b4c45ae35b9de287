"""The pyfunc model's column-wise encoding equals the per-record rule of docs/model-bundle.md.

The reference below is the straightforward per-record encoder the model used before it was
vectorised (issue 13): one dict per customer, one field at a time. Odd inputs (missing columns,
None/NaN/pd.NA/"", tenure 0 without TotalCharges, numbers as strings, SeniorCitizen as text or
bools) must encode to the same matrix, score to the same probability within 1e-12, and fail
with the same error for the same first bad cell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from churn_training.bundle import single_bundle_in
from churn_training.pyfunc_model import Bundle, apply_calibration, encode_records


def _reference_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def reference_encode(contract: Mapping[str, Any], records: list[Mapping[str, Any]]) -> np.ndarray:
    """One record at a time: defaults, then imputation rules, then full one-hot."""
    fields = {f["name"]: f for f in contract["fields"]}
    features = contract["encoded_features"]
    matrix = np.zeros((len(records), len(features)), dtype=np.float32)
    for i, record in enumerate(records):
        values, missing = {}, []
        for name, spec in fields.items():
            value = record.get(name)
            if _reference_missing(value):
                value = spec["default"]
                missing.append(name)
            elif spec["kind"] == "numeric":
                value = float(value)
            elif spec["dtype"] == "integer":
                value = int(value)
            values[name] = value
        for rule in contract.get("imputation_rules", []):
            if rule["field"] in missing and values[rule["when_field"]] == rule["equals"]:
                values[rule["field"]] = rule["value"]
        for j, feature in enumerate(features):
            value = values[feature["field"]]
            if "category" in feature:
                matrix[i, j] = 1.0 if value == feature["category"] else 0.0
            else:
                matrix[i, j] = value
    return matrix


def _field(name: str, kind: str, dtype: str, default: Any, categories: list | None = None):
    spec = {"name": name, "kind": kind, "dtype": dtype, "default": default}
    return spec | ({"categories": categories} if categories is not None else {})


FIELDS = [
    _field("gender", "categorical", "string", "Male", ["Female", "Male"]),
    _field("SeniorCitizen", "categorical", "integer", 0, [0, 1]),
    _field("tenure", "numeric", "integer", 29),
    _field("Contract", "categorical", "string", "Month-to-month", ["Month-to-month", "One year"]),
    _field("TotalCharges", "numeric", "number", 1397.475),
]
CONTRACT: dict[str, Any] = {
    "fields": FIELDS,
    "encoded_features": [
        {"name": f"{f['name']}={c}" if "categories" in f else f["name"], "field": f["name"]}
        | ({"category": c} if "categories" in f else {})
        for f in FIELDS
        for c in f.get("categories", [None])
    ],
    "imputation_rules": [
        {"field": "TotalCharges", "when_field": "tenure", "equals": 0, "value": 0}
    ],
    "calibration": {"method": "isotonic", "x": [0.0, 0.3, 0.7, 1.0], "y": [0.02, 0.2, 0.75, 0.97]},
}

ODD_RECORDS: list[dict[str, Any]] = [
    {},
    {"tenure": 0},
    {"tenure": "0", "TotalCharges": ""},
    {"tenure": " 0 ", "TotalCharges": "   "},
    {"tenure": 0.0, "TotalCharges": None},
    {"tenure": -0.0, "TotalCharges": float("nan")},
    {"tenure": None, "TotalCharges": float("nan")},
    {"tenure": 0, "TotalCharges": "19.5"},
    {"tenure": "12", "TotalCharges": " 845.5 ", "SeniorCitizen": "1"},
    {"tenure": "1e1", "TotalCharges": "nan", "SeniorCitizen": " 0 "},
    {"tenure": 3.5, "TotalCharges": "inf", "SeniorCitizen": 1.0},
    {"SeniorCitizen": True, "gender": " Male", "Contract": "Weekly"},
    {"SeniorCitizen": "", "gender": "", "Contract": None},
    {"SeniorCitizen": float("nan"), "gender": 1, "Contract": "One year"},
    {"SeniorCitizen": 2, "gender": "Female", "customerID": "x-1", "Churn": "Yes", "junk": [1]},
    {"tenure": np.float64(0.0), "TotalCharges": np.float64("nan"), "SeniorCitizen": np.int64(1)},
    {"tenure": 60, "TotalCharges": 7000, "Contract": "One year", "gender": "Female"},
]


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    """A small booster on the synthetic contract, so probabilities are compared too."""
    rng = np.random.default_rng(7)
    x = rng.random((400, len(CONTRACT["encoded_features"]))).astype(np.float32)
    x[:, [0, 1, 2, 3, 5, 6]] = x[:, [0, 1, 2, 3, 5, 6]] > 0.5
    x[:, 4] *= 72
    x[:, 7] *= 8000
    y = (x[:, 4] < 20).astype(int) ^ (rng.random(400) < 0.2)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
        xgb.DMatrix(x, label=y),
        num_boost_round=20,
    )
    return Bundle(booster=booster, contract=CONTRACT)


def _reference_probability(bundle: Bundle, records: list[Mapping[str, Any]]) -> np.ndarray:
    raw = bundle.booster.inplace_predict(reference_encode(bundle.contract, records))
    return apply_calibration(bundle.contract["calibration"], np.asarray(raw, dtype=np.float64))


def test_records_encode_as_the_per_record_reference(bundle: Bundle) -> None:
    matrix = encode_records(CONTRACT, ODD_RECORDS)
    expected = reference_encode(CONTRACT, ODD_RECORDS)
    np.testing.assert_array_equal(matrix, expected)
    # First-month customers without TotalCharges: nothing billed; a given value is kept.
    assert (matrix[[1, 2, 3, 4, 5], 7] == 0.0).all() and matrix[7, 7] == np.float32(19.5)
    assert matrix[6, 7] == np.float32(1397.475) and matrix[6, 4] == 29.0
    assert math.isnan(matrix[9, 7]) and matrix[10, 7] == np.inf
    np.testing.assert_allclose(
        bundle.probability(ODD_RECORDS),
        _reference_probability(bundle, ODD_RECORDS),
        rtol=0,
        atol=1e-12,
    )


def test_frames_encode_as_their_records_did(bundle: Bundle) -> None:
    """What pyfunc passes: a DataFrame, columns in any order, some absent, gaps of every kind."""
    frame = pd.DataFrame(ODD_RECORDS[:-3] * 3).drop(columns=["Contract"])
    frame = frame[list(reversed(frame.columns))]
    frame.loc[4, "gender"] = pd.NA
    frame["SeniorCitizen"] = frame["SeniorCitizen"].astype(object)
    frame.loc[5, "SeniorCitizen"] = np.float32(1.0)
    records = frame.to_dict(orient="records")
    np.testing.assert_array_equal(
        encode_records(CONTRACT, frame), reference_encode(CONTRACT, records)
    )
    got, want = bundle.probability(frame), _reference_probability(bundle, records)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "columns",
    [
        {"tenure": [0.0, np.nan, 5.0], "TotalCharges": [np.nan, np.nan, 80.25]},
        {"tenure": pd.array([0, None, 7], dtype="Int64"), "SeniorCitizen": [True, False, True]},
        {"tenure": np.array([0, 3, 0], dtype=np.int32), "SeniorCitizen": [1.0, np.nan, 0.0]},
        {"gender": pd.Categorical(["Female", None, "Male"]), "tenure": ["0", "", "4"]},
        {"gender": pd.array(["Female", None, " "], dtype="str"), "TotalCharges": [None, "1", "2"]},
        {"SeniorCitizen": pd.array([1, None, 0], dtype="Int64"), "Contract": [None] * 3},
    ],
)
def test_typed_columns_encode_as_their_records_did(bundle: Bundle, columns: dict) -> None:
    frame = pd.DataFrame(columns)
    records = frame.to_dict(orient="records")
    np.testing.assert_array_equal(
        encode_records(CONTRACT, frame), reference_encode(CONTRACT, records)
    )
    got, want = bundle.probability(frame), _reference_probability(bundle, records)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_an_empty_input_gives_an_empty_matrix() -> None:
    assert encode_records(CONTRACT, []).shape == (0, len(CONTRACT["encoded_features"]))
    assert encode_records(CONTRACT, pd.DataFrame()).shape == (0, len(CONTRACT["encoded_features"]))


@pytest.mark.parametrize(
    ("records", "field", "row"),
    [
        ([{"tenure": 1}, {"SeniorCitizen": "yes"}, {"TotalCharges": "abc"}], "SeniorCitizen", 1),
        ([{"tenure": 1}, {"TotalCharges": "abc"}, {"SeniorCitizen": "yes"}], "TotalCharges", 1),
        ([{"tenure": "x", "TotalCharges": "y"}], "tenure", 0),
        ([{"SeniorCitizen": "1.0"}], "SeniorCitizen", 0),
        ([{"SeniorCitizen": float("inf")}], "SeniorCitizen", 0),
        ([{}, {"tenure": [3]}], "tenure", 1),
        ([{"gender": pd.NA, "TotalCharges": "abc"}], "TotalCharges", 0),
        ([{}, {"gender": pd.NA}], "gender", 1),
    ],
)
def test_bad_values_fail_as_the_reference_does_naming_field_and_row(
    records: list[dict[str, Any]], field: str, row: int
) -> None:
    with pytest.raises(Exception) as reference:
        reference_encode(CONTRACT, records)
    with pytest.raises(type(reference.value)) as got:
        encode_records(CONTRACT, records)
    assert type(got.value) is type(reference.value)
    assert str(got.value) == f"{field} (row {row}): {reference.value}"


@pytest.mark.integration
def test_dataset_rows_with_gaps_score_as_the_reference(trained_model_dir: Path) -> None:
    """The real contract on the CSV text with cells blanked, nulled and columns dropped."""
    bundle = Bundle.load(single_bundle_in(trained_model_dir))
    frame = pd.read_csv(
        next(Path(__file__).resolve().parents[2].glob(".cache/data/telco_customer_churn.csv")),
        dtype=str,
        keep_default_na=False,
    )
    rng = np.random.default_rng(13)
    frame = frame.astype(object)
    for column in ["tenure", "TotalCharges", "Contract", "SeniorCitizen", "MonthlyCharges"]:
        frame.loc[rng.random(len(frame)) < 0.1, column] = rng.choice(["", None, np.nan])
    frame.loc[rng.random(len(frame)) < 0.05, "tenure"] = "0"
    frame = frame.drop(columns=["InternetService"]).sample(frac=1.0, axis=1, random_state=3)
    records = frame.to_dict(orient="records")
    expected = _reference_probability(bundle, records)
    np.testing.assert_allclose(bundle.probability(frame), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(bundle.probability(records), expected, rtol=0, atol=1e-12)
    out = mlflow.pyfunc.load_model(str(trained_model_dir)).predict(frame)
    np.testing.assert_allclose(out["churn_probability"].to_numpy(), expected, atol=1e-6)
