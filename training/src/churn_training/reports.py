"""The report folder of a run: holdout scores, slices, value curve, importance, checks, plots."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from churn_training.contract import Threshold
from churn_training.data import TARGET
from churn_training.evaluate import HoldoutEvaluation
from churn_training.plots import save_plots

HOLDOUT_PREDICTIONS = "holdout_predictions.csv"
SLICE_METRICS = "slice_metrics.csv"
VALUE_CURVE = "expected_value_by_threshold.csv"
FIELD_IMPORTANCE = "field_importance.csv"
BEHAVIOUR_CHECKS = "behaviour_checks.json"
TUNING_HISTORY = "tuning_history.json"


def write_reports(
    report_dir: Path,
    holdout: pd.DataFrame,
    evaluation: HoldoutEvaluation,
    threshold: Threshold,
    tune_history: list[dict[str, Any]],
) -> None:
    """Write the six tables and the six plots every run logs under `report/`."""
    report_dir.mkdir(parents=True, exist_ok=True)
    save_plots(
        report_dir,
        evaluation.y,
        evaluation.probability,
        evaluation.baseline_probability,
        threshold,
        evaluation.value_curve,
        evaluation.importance,
    )
    # The evaluation's own scores, so any server can be checked against them row by row.
    holdout.drop(columns=[TARGET]).assign(churn_probability=evaluation.probability).to_csv(
        report_dir / HOLDOUT_PREDICTIONS, index=False
    )
    evaluation.slices.to_csv(report_dir / SLICE_METRICS, index=False)
    evaluation.value_curve.to_csv(report_dir / VALUE_CURVE, index=False)
    evaluation.importance.rename("share_of_gain").to_csv(report_dir / FIELD_IMPORTANCE)
    checks = [asdict(b) | {"passed": b.passed} for b in evaluation.behaviour]
    (report_dir / BEHAVIOUR_CHECKS).write_text(json.dumps(checks, indent=2))
    (report_dir / TUNING_HISTORY).write_text(json.dumps(tune_history, indent=2, default=str))
