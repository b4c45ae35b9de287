"""The bundle folder: found by one rule, scored by the pyfunc code, golden examples from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from churn_training import bundle, features
from churn_training.bundle import BundleNotFoundError, single_bundle_in
from churn_training.contract import ScoringContract, SigmoidCalibration, Threshold
from churn_training.data import load_dataset
from churn_training.pipeline import RISK_BANDS
from churn_training.pyfunc_model import CONTRACT_FILE, apply_calibration


def test_exactly_one_bundle_is_found(tmp_path: Path) -> None:
    with pytest.raises(BundleNotFoundError, match=r"holds 0 feature_contract\.json files"):
        single_bundle_in(tmp_path)
    one = tmp_path / "artifacts" / "churn_model"
    one.mkdir(parents=True)
    (one / CONTRACT_FILE).write_text("{}")
    assert single_bundle_in(tmp_path) == one
    (tmp_path / CONTRACT_FILE).write_text("{}")  # a shallower one does not win: it is ambiguous
    with pytest.raises(BundleNotFoundError, match="holds 2"):
        single_bundle_in(tmp_path)


@pytest.fixture(scope="module")
def train(dataset_csv: Path) -> pd.DataFrame:
    return load_dataset(str(dataset_csv), dataset_csv.parent).frame.head(400)


def test_scorer_and_golden_examples(train: pd.DataFrame, tmp_path: Path) -> None:
    """A ten-round booster is enough to check the wiring: file, contract and calibration."""
    encoding = features.encoding_contract(train, "telco-churn")
    X, y = features.encode_frame(encoding, train), features.labels(train)
    model = xgb.XGBClassifier(n_estimators=10, max_depth=2, n_jobs=1).fit(X, y)
    contract = ScoringContract.extending(
        encoding,
        calibration=SigmoidCalibration(a=0.8, b=-0.1),
        threshold=Threshold(
            value=0.3,
            f1_optimal=0.4,
            offer_cost=50.0,
            saved_customer_value=500.0,
            offer_success_rate=0.3,
        ),
        risk_bands=RISK_BANDS,
    )
    bundle.save_booster(model, tmp_path)
    scorer = bundle.scorer(tmp_path, contract)
    raw = model.predict_proba(X[:20])[:, 1].astype(np.float64)
    expected = apply_calibration(contract.calibration.model_dump(), raw)
    np.testing.assert_allclose(scorer.probability(train.head(20).to_dict("records")), expected)

    golden = bundle.golden_examples(train, scorer, count=5)
    inputs = [e["input"] for e in golden["examples"]]
    assert len(inputs) == 5 + len(bundle.PARTIAL_GOLDEN_INPUTS)
    assert [i["customerID"] for i in inputs[:5]] == sorted(train["customerID"])[:5]
    assert all("Churn" not in i for i in inputs)
    np.testing.assert_allclose(
        [e["probability"] for e in golden["examples"]], scorer.probability(inputs)
    )
