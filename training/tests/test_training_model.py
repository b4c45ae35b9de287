"""Behavioural and reproducibility tests of the model the training job produced."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from churn_training import evaluate
from churn_training.bundle import single_bundle_in
from churn_training.data import load_dataset
from churn_training.pyfunc_model import Bundle

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bundle(trained_model_dir: Path) -> Bundle:
    return Bundle.load(single_bundle_in(trained_model_dir))


@pytest.fixture(scope="module")
def customers(dataset_csv: Path) -> pd.DataFrame:
    return load_dataset(str(dataset_csv), dataset_csv.parent).frame.drop(columns=["Churn"])


def test_golden_examples_reproduce_in_bundle_and_pyfunc(trained_model_dir: Path, bundle: Bundle):
    golden = json.loads((single_bundle_in(trained_model_dir) / "golden_examples.json").read_text())
    inputs = [e["input"] for e in golden["examples"]]
    expected = np.array([e["probability"] for e in golden["examples"]])
    assert len(inputs) >= 20 and any(len(i) < 5 for i in inputs)
    np.testing.assert_allclose(bundle.probability(inputs), expected, atol=golden["tolerance"])
    pyfunc = mlflow.pyfunc.load_model(str(trained_model_dir))
    out = pyfunc.predict(pd.DataFrame(inputs))
    np.testing.assert_allclose(out["churn_probability"].to_numpy(), expected, atol=1e-6)
    threshold = bundle.contract["threshold"]["value"]
    assert (out["churn"].to_numpy() == (expected >= threshold)).all()


def test_two_year_contract_never_raises_risk(bundle: Bundle, customers: pd.DataFrame) -> None:
    monthly = customers[customers["Contract"] == "Month-to-month"].to_dict(orient="records")
    before = bundle.probability(monthly)
    after = bundle.probability([r | {"Contract": "Two year"} for r in monthly])
    assert len(monthly) > 3000
    assert (after <= before + 1e-9).all()
    assert after.mean() < before.mean() - 0.05  # and it lowers risk materially on average


def test_more_tenure_does_not_raise_risk(bundle: Bundle, customers: pd.DataFrame) -> None:
    records = customers.to_dict(orient="records")
    before = bundle.probability(records)
    after = bundle.probability([r | {"tenure": r["tenure"] + 12} for r in records])
    assert (after - before <= evaluate.TENURE_TOLERANCE).all()


def test_behavioural_checks_catch_a_model_that_breaks_them(customers: pd.DataFrame) -> None:
    """The evaluation checks themselves must be able to fail."""

    def perverse(records: list[dict]) -> np.ndarray:
        return np.array(
            [0.9 if r["Contract"] == "Two year" else r["tenure"] / 200 for r in records]
        )

    results = {r.name: r for r in evaluate.behavioural_checks(customers.head(500), perverse)}
    assert not results["two_year_contract_does_not_raise_risk"].passed
    assert not results["more_tenure_does_not_raise_risk"].passed


def test_probabilities_are_calibrated(bundle: Bundle, dataset_csv: Path) -> None:
    frame = load_dataset(str(dataset_csv), dataset_csv.parent).frame
    p = bundle.probability(frame.drop(columns=["Churn"]).to_dict(orient="records"))
    y = (frame["Churn"] == "Yes").to_numpy()
    assert abs(p.mean() - y.mean()) < 0.02
    high, low = p >= 0.6, p < 0.2
    assert y[high].mean() > 0.55 and y[low].mean() < 0.15


def test_bundle_carries_threshold_bands_and_metrics(bundle: Bundle) -> None:
    contract = bundle.contract
    threshold = contract["threshold"]
    assert threshold["strategy"] == "expected_value"
    assert 0 < threshold["value"] < 1 and 0 < threshold["f1_optimal"] < 1
    assert [b["name"] for b in contract["risk_bands"]] == ["low", "medium", "high"]
    assert contract["calibration"]["method"] in {"isotonic", "sigmoid"}
    for key in ("roc_auc", "pr_auc", "brier", "log_loss", "accuracy", "precision", "recall", "f1"):
        assert 0 < contract["metrics"][key] < 1
    assert contract["training"]["xgboost_version"] == __import__("xgboost").__version__
