"""The report folder: six tables and six plots from one holdout evaluation (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from churn_training import reports
from churn_training.contract import Threshold
from churn_training.decision import Economics, value_curve
from churn_training.evaluate import BehaviourResult, HoldoutEvaluation

PLOTS = {
    "roc_curve.png",
    "precision_recall_curve.png",
    "calibration_curve.png",
    "confusion_matrix.png",
    "feature_importance.png",
    "expected_value_by_threshold.png",
}


def test_write_reports(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 200
    p = rng.uniform(size=n)
    y = (rng.uniform(size=n) < p).astype(int)
    holdout = pd.DataFrame({"customerID": [f"c{i}" for i in range(n)], "tenure": range(n)})
    holdout["Churn"] = np.where(y == 1, "Yes", "No")
    behaviour = [BehaviourResult("more_tenure_does_not_raise_risk", n, 0, 0.0, 0.01)]
    evaluation = HoldoutEvaluation(
        y=y,
        probability=p,
        metrics={},
        slices=pd.DataFrame([{"slice": "Contract", "value": "One year", "n": 3.0}]),
        behaviour=behaviour,
        importance=pd.Series({"tenure": 0.7, "Contract": 0.3}),
        value_curve=value_curve(y, p, Economics()),
        baseline_probability=np.clip(p + 0.1, 0, 1),
        baseline_metrics={},
    )
    threshold = Threshold(
        value=0.3,
        f1_optimal=0.4,
        offer_cost=50.0,
        saved_customer_value=500.0,
        offer_success_rate=0.3,
    )
    history = [{"number": 0, "value": 0.8, "state": "COMPLETE"}]
    report_dir = tmp_path / "report"
    reports.write_reports(report_dir, holdout, evaluation, threshold, history)

    names = {path.name for path in report_dir.iterdir()}
    tables = {
        reports.HOLDOUT_PREDICTIONS,
        reports.SLICE_METRICS,
        reports.VALUE_CURVE,
        reports.FIELD_IMPORTANCE,
        reports.BEHAVIOUR_CHECKS,
        reports.TUNING_HISTORY,
    }
    assert names == tables | PLOTS
    predictions = pd.read_csv(report_dir / reports.HOLDOUT_PREDICTIONS)
    assert "Churn" not in predictions and np.allclose(predictions["churn_probability"], p)
    checks = json.loads((report_dir / reports.BEHAVIOUR_CHECKS).read_text())
    assert checks[0]["passed"] is True and checks[0]["customers"] == n
    importance = pd.read_csv(report_dir / reports.FIELD_IMPORTANCE, index_col=0)
    assert importance["share_of_gain"].to_dict() == {"tenure": 0.7, "Contract": 0.3}
    assert json.loads((report_dir / reports.TUNING_HISTORY).read_text()) == history
    for plot in PLOTS:
        assert (report_dir / plot).read_bytes()[:4] == b"\x89PNG"
