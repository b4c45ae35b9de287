"""Holdout evaluation: metrics, slices, behavioural checks, field importance; baseline beside."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from churn_training import features
from churn_training.baseline import Baseline
from churn_training.contract import EncodingContract, Threshold
from churn_training.data import records
from churn_training.decision import Economics, expected_value, value_curve
from churn_training.pyfunc_model import Bundle

# More tenure may raise risk by at most this much (absolute probability) before the check fails;
# it only absorbs calibration steps, since the booster itself is monotone in tenure.
TENURE_TOLERANCE = 0.01
TENURE_STEP_MONTHS = 12
TENURE_BANDS = [(0, 12, "0-12 months"), (13, 24, "13-24 months"), (25, 48, "25-48 months")]

ProbabilityFn = Callable[[list[dict[str, Any]]], np.ndarray]


def metrics(y: np.ndarray, p: np.ndarray, threshold: float, econ: Economics) -> dict[str, float]:
    """Ranking, calibration and decision metrics at the threshold."""
    predicted = (p >= threshold).astype(int)
    both_classes = len(np.unique(y)) == 2
    result = {
        "n": float(len(y)),
        "churn_rate": float(y.mean()),
        "accuracy": float(accuracy_score(y, predicted)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "brier": float(brier_score_loss(y, p)),
        "expected_value": expected_value(y, p, threshold, econ),
        "expected_value_per_customer": expected_value(y, p, threshold, econ) / len(y),
    }
    if both_classes:
        result |= {
            "roc_auc": float(roc_auc_score(y, p)),
            "pr_auc": float(average_precision_score(y, p)),
            "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        }
    return result


def tenure_band(tenure: pd.Series) -> pd.Series:
    bands = pd.Series("49+ months", index=tenure.index)
    for low, high, name in TENURE_BANDS:
        bands[(tenure >= low) & (tenure <= high)] = name
    return bands


def slice_metrics(
    frame: pd.DataFrame, y: np.ndarray, p: np.ndarray, threshold: float, econ: Economics
) -> pd.DataFrame:
    """The same metrics per contract type, tenure band, senior citizen and internet service."""
    keys = {
        "Contract": frame["Contract"],
        "tenure_band": tenure_band(frame["tenure"]),
        "SeniorCitizen": frame["SeniorCitizen"].astype(str),
        "InternetService": frame["InternetService"],
    }
    rows = []
    for name, values in keys.items():
        for value in sorted(values.unique()):
            mask = (values == value).to_numpy()
            rows.append(
                {"slice": name, "value": value, **metrics(y[mask], p[mask], threshold, econ)}
            )
    return pd.DataFrame(rows)


@dataclass
class BehaviourResult:
    name: str
    customers: int
    violations: int
    max_increase: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.violations == 0


def _counterfactual(
    name: str,
    records: list[dict[str, Any]],
    change: Callable[[dict[str, Any]], dict[str, Any]],
    probability: ProbabilityFn,
    tolerance: float,
) -> BehaviourResult:
    if not records:
        return BehaviourResult(name, 0, 0, 0.0, tolerance)
    before = probability(records)
    after = probability([change(dict(r)) for r in records])
    increase = after - before
    return BehaviourResult(
        name=name,
        customers=len(records),
        violations=int((increase > tolerance).sum()),
        max_increase=float(max(increase.max(), 0.0)),
        tolerance=tolerance,
    )


def behavioural_checks(frame: pd.DataFrame, probability: ProbabilityFn) -> list[BehaviourResult]:
    """Invariants a retention team relies on, checked on real customers."""
    records = frame.drop(columns=["Churn"], errors="ignore").to_dict(orient="records")
    month_to_month = [r for r in records if r["Contract"] == "Month-to-month"]
    return [
        _counterfactual(
            "two_year_contract_does_not_raise_risk",
            month_to_month,
            lambda r: r | {"Contract": "Two year"},
            probability,
            1e-9,
        ),
        _counterfactual(
            "more_tenure_does_not_raise_risk",
            records,
            lambda r: r | {"tenure": r["tenure"] + TENURE_STEP_MONTHS},
            probability,
            TENURE_TOLERANCE,
        ),
    ]


def field_importance(booster: xgb.Booster, contract: EncodingContract) -> pd.Series:
    """Total gain summed from one-hot columns back to the original input fields."""
    gain = booster.get_score(importance_type="total_gain")
    totals: dict[str, float] = {f.name: 0.0 for f in contract.fields}
    for j, feature in enumerate(contract.encoded_features):
        totals[feature.field] += gain.get(f"f{j}", gain.get(feature.name, 0.0))
    series = pd.Series(totals)
    return (series / series.sum()).sort_values(ascending=False)


@dataclass(frozen=True)
class HoldoutEvaluation:
    """The candidate's scores and metrics on the holdout, beside the baseline's."""

    y: np.ndarray
    probability: np.ndarray
    metrics: dict[str, float]
    slices: pd.DataFrame
    behaviour: list[BehaviourResult]
    importance: pd.Series
    value_curve: pd.DataFrame
    baseline_probability: np.ndarray
    baseline_metrics: dict[str, float]


def evaluate_holdout(
    bundle: Bundle,
    contract: EncodingContract,
    threshold: Threshold,
    baseline: Baseline,
    holdout: pd.DataFrame,
    econ: Economics,
) -> HoldoutEvaluation:
    """Score the holdout with the bundle itself: exactly what pyfunc and the API compute."""
    y = features.labels(holdout)
    p = bundle.probability(records(holdout))
    holdout_metrics = metrics(y, p, threshold.value, econ)
    holdout_metrics["expected_value_at_f1_threshold"] = expected_value(
        y, p, threshold.f1_optimal, econ
    )
    p_baseline = baseline.probability(holdout)
    return HoldoutEvaluation(
        y=y,
        probability=p,
        metrics=holdout_metrics,
        slices=slice_metrics(holdout, y, p, threshold.value, econ),
        behaviour=behavioural_checks(holdout, bundle.probability),
        importance=field_importance(bundle.booster, contract),
        value_curve=value_curve(y, p, econ),
        baseline_probability=p_baseline,
        baseline_metrics=metrics(y, p_baseline, baseline.threshold.value, econ),
    )
