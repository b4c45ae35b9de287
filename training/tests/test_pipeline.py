"""The shared champion run's output: its model behaves and its bundle is complete."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from churn_training import evaluate
from churn_training.bundle import single_bundle_in
from churn_training.contract import read_contract, to_json
from churn_training.data import load_dataset
from churn_training.pyfunc_model import CONTRACT_FILE, Bundle

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bundle(trained_model_dir: Path) -> Bundle:
    return Bundle.load(single_bundle_in(trained_model_dir))


@pytest.fixture(scope="module")
def customers(dataset_csv: Path) -> pd.DataFrame:
    return load_dataset(str(dataset_csv), dataset_csv.parent).frame.drop(columns=["Churn"])


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


def test_contract_file_is_the_typed_contract(trained_model_dir: Path) -> None:
    """The file the run wrote parses with the typed model and writes back byte for byte."""
    path = single_bundle_in(trained_model_dir) / CONTRACT_FILE
    contract = read_contract(path)
    assert to_json(contract) == path.read_text()
    assert contract.metrics["cv_roc_auc"] > 0.8 and contract.training.rows == 7043


def test_bundle_holds_the_documented_files(trained_model_dir: Path) -> None:
    names = {p.name for p in single_bundle_in(trained_model_dir).iterdir()}
    assert names == {
        "booster.ubj",
        "feature_contract.json",
        "golden_examples.json",
        "model_card.md",
        "reference.json",  # the training split's distributions, for drift
        "signature.json",  # written last, by the session's signing key
    }
