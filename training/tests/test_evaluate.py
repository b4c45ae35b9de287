"""Holdout metrics, slices, behavioural checks and field importance, on fixed inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn_training import evaluate, features
from churn_training.data import load_dataset
from churn_training.decision import Economics

ECON = Economics()


@pytest.fixture(scope="module")
def customers(dataset_csv: Path) -> pd.DataFrame:
    return load_dataset(str(dataset_csv), dataset_csv.parent).frame.drop(columns=["Churn"])


def test_metrics_at_the_threshold() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    m = evaluate.metrics(y, p, 0.5, ECON)
    assert m["n"] == 4.0 and m["churn_rate"] == 0.5
    assert m["precision"] == 0.5 and m["recall"] == 0.5 and m["accuracy"] == 0.5
    assert m["roc_auc"] == 0.75
    assert m["expected_value_per_customer"] == m["expected_value"] / 4


def test_one_class_slice_has_no_ranking_metrics() -> None:
    m = evaluate.metrics(np.array([0, 0]), np.array([0.2, 0.7]), 0.5, ECON)
    assert "roc_auc" not in m and "log_loss" not in m and m["recall"] == 0.0


def test_slices_cover_contract_tenure_senior_and_internet(customers: pd.DataFrame) -> None:
    frame = customers.head(300)
    p = np.linspace(0.01, 0.99, len(frame))
    y = (p > 0.5).astype(int)
    slices = evaluate.slice_metrics(frame, y, p, 0.5, ECON)
    assert set(slices["slice"]) == {"Contract", "tenure_band", "SeniorCitizen", "InternetService"}
    for _, group in slices.groupby("slice"):
        assert group["n"].sum() == len(frame)
    assert set(evaluate.tenure_band(pd.Series([0, 12, 13, 48, 49]))) == {
        "0-12 months",
        "13-24 months",
        "25-48 months",
        "49+ months",
    }


def test_behavioural_checks_pass_a_sensible_model(customers: pd.DataFrame) -> None:
    def sensible(records: list[dict]) -> np.ndarray:
        return np.array(
            [(0.1 if r["Contract"] == "Two year" else 0.5) - r["tenure"] / 1000 for r in records]
        )

    results = evaluate.behavioural_checks(customers.head(500), sensible)
    assert all(r.passed for r in results) and all(r.customers > 0 for r in results)


def test_behavioural_checks_catch_a_model_that_breaks_them(customers: pd.DataFrame) -> None:
    """The evaluation checks themselves must be able to fail."""

    def perverse(records: list[dict]) -> np.ndarray:
        return np.array(
            [0.9 if r["Contract"] == "Two year" else r["tenure"] / 200 for r in records]
        )

    results = {r.name: r for r in evaluate.behavioural_checks(customers.head(500), perverse)}
    assert not results["two_year_contract_does_not_raise_risk"].passed
    assert not results["more_tenure_does_not_raise_risk"].passed


class _FakeBooster:
    """Gain per encoded column, as xgboost names them (f0, f1, ...)."""

    def __init__(self, gain: dict[str, float]) -> None:
        self.gain = gain

    def get_score(self, importance_type: str) -> dict[str, float]:
        assert importance_type == "total_gain"
        return self.gain


def test_field_importance_sums_one_hot_columns(customers: pd.DataFrame) -> None:
    contract = features.encoding_contract(customers.assign(Churn="No").head(500), "m")
    names = [f.name for f in contract.encoded_features]
    gain = {
        f"f{names.index('tenure')}": 2.0,
        f"f{names.index('Contract=Two year')}": 1.0,
        f"f{names.index('Contract=Month-to-month')}": 1.0,
    }
    importance = evaluate.field_importance(_FakeBooster(gain), contract)  # type: ignore[arg-type]
    assert importance["tenure"] == 0.5 and importance["Contract"] == 0.5
    assert importance.sum() == pytest.approx(1.0) and len(importance) == len(contract.fields)
