"""churn_api.features: checked values -> float32 rows, one at a time or column by column."""

from __future__ import annotations

from typing import Any

import numpy as np

from churn_api.batch import BatchParser
from churn_api.contract import FeatureContract
from churn_api.customer import CustomerValidator
from churn_api.features import Encoder


def test_encoding_is_full_one_hot_in_contract_order(contract: FeatureContract) -> None:
    enc = Encoder(contract)
    row, imputed, used = enc.encode_one({"SeniorCitizen": 1, "tenure": 5, "Contract": "Two year"})
    assert row.dtype == np.float32
    assert row.tolist() == [[0.0, 1.0, 5.0, 0.0, 0.0, 1.0, np.float32(1397.47)]]
    assert imputed == ["TotalCharges"]
    assert used["TotalCharges"] == 1397.47


def test_missing_and_null_take_defaults(contract: FeatureContract) -> None:
    enc = Encoder(contract)
    row, imputed, _ = enc.encode_one({"Contract": None})
    assert imputed == ["SeniorCitizen", "tenure", "Contract", "TotalCharges"]
    assert row[0, 0] == 1.0
    assert row[0, 2] == 29.0
    assert row[0, 3] == 1.0


def test_imputation_rule_gives_new_customers_zero_total(contract_data: dict[str, Any]) -> None:
    """Training reads a blank TotalCharges at tenure 0 as 0, so serving must too."""
    rule = {"field": "TotalCharges", "when_field": "tenure", "equals": 0, "value": 0.0}
    ruled = FeatureContract.model_validate(contract_data | {"imputation_rules": [rule]})
    enc = Encoder(ruled)
    _, imputed, used = enc.encode_one({"tenure": 0})
    assert used["TotalCharges"] == 0.0
    assert "TotalCharges" in imputed
    assert enc.encode_one({"tenure": 3})[2]["TotalCharges"] == 1397.47
    assert enc.encode_one({"tenure": 0, "TotalCharges": 5.0})[2]["TotalCharges"] == 5.0
    rows = [{"tenure": 0}, {"tenure": 4}, {"tenure": 0, "TotalCharges": 9.0}]
    batch = BatchParser(CustomerValidator(ruled, 100)).parse_rows(rows)
    assert not batch.errors
    X, _ = enc.encode_columns(batch.columns, batch.checked)
    total = [f.name for f in ruled.encoded_features].index("TotalCharges")
    assert X[:, total].tolist() == [0.0, np.float32(1397.47), 9.0]


def test_batch_encoding_matches_single_rows(contract: FeatureContract) -> None:
    enc = Encoder(contract)
    validator = CustomerValidator(contract, 100)
    rows: list[Any] = [
        {"SeniorCitizen": 1, "tenure": 5, "Contract": "One year", "TotalCharges": 20.5},
        {"tenure": 7.0},
        {"SeniorCitizen": "1", "TotalCharges": " "},  # CSV text: goes the per-row way
        {"Contract": "Three year"},
        {"tenure": -1},
        {"tenure": float("nan")},
        {"Contarct": "One year"},
        "not an object",
        {"tenure": 12.5},
        {"TotalCharges": 10**400},
    ]
    batch = BatchParser(validator).parse_rows(rows)
    X, imputed = enc.encode_columns(batch.columns, batch.checked)
    positions = [k for k in range(len(rows)) if k not in batch.errors]
    assert positions == [0, 1, 2]
    assert sorted(batch.errors) == [3, 4, 5, 6, 7, 8, 9]
    assert sorted(batch.checked) == [2]  # only the CSV text needed the per-row model
    for k in positions:
        checked = validator.validate_row(rows[k])
        assert isinstance(checked, dict)
        one, one_imputed, _ = enc.encode_one(checked)
        assert X[k].tolist() == one[0].tolist()
        assert list(imputed[k]) == one_imputed
    assert imputed[2] == ["tenure", "Contract", "TotalCharges"]


def test_a_row_rounds_each_value_to_float32_as_numpy_items_do(contract: FeatureContract) -> None:
    enc = Encoder(contract)
    rng = np.random.default_rng(5)
    totals = [*rng.uniform(0, 100_000, 500).tolist(), 0.1, 1397.47, 99_999.99, 3, 0]
    tenures = rng.integers(0, 121, len(totals)).tolist()
    for total, tenure in zip(totals, tenures, strict=True):
        row, _, _ = enc.encode_one({"TotalCharges": total, "tenure": tenure, "Contract": None})
        expected = np.zeros(7, dtype=np.float32)
        expected[[0, 3]] = 1.0  # the defaults' levels
        expected[2], expected[6] = tenure, total  # numpy's own item assignment
        assert row.shape == (1, 7) and row.dtype == np.float32
        assert row[0].tobytes() == expected.tobytes(), (total, tenure)
