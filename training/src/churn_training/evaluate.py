"""Holdout metrics, slices, the business threshold, behavioural checks and plots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

THRESHOLD_GRID = np.round(np.arange(0.01, 1.0, 0.01), 2)
# More tenure may raise risk by at most this much (absolute probability) before the check fails;
# it only absorbs calibration steps, since the booster itself is monotone in tenure.
TENURE_TOLERANCE = 0.01
TENURE_STEP_MONTHS = 12
TENURE_BANDS = [(0, 12, "0-12 months"), (13, 24, "13-24 months"), (25, 48, "25-48 months")]

ProbabilityFn = Callable[[list[dict[str, Any]]], np.ndarray]


@dataclass(frozen=True)
class Economics:
    """What a retention offer costs and what it saves."""

    offer_cost: float = 50.0
    saved_customer_value: float = 500.0
    offer_success_rate: float = 0.3

    @classmethod
    def from_threshold(cls, threshold: dict[str, Any]) -> Economics:
        """The economics a model's threshold was chosen with (stored beside it)."""
        return cls(**{name: threshold[name] for name in cls.__dataclass_fields__})


def expected_value(y: np.ndarray, p: np.ndarray, threshold: float, econ: Economics) -> float:
    """Realised value of offering to everyone at or above the threshold, on labelled data."""
    offered = p >= threshold
    saved = float(y[offered].sum()) * econ.offer_success_rate * econ.saved_customer_value
    return saved - float(offered.sum()) * econ.offer_cost


def value_curve(y: np.ndarray, p: np.ndarray, econ: Economics) -> pd.DataFrame:
    rows = []
    for t in THRESHOLD_GRID:
        predicted = (p >= t).astype(int)
        rows.append(
            {
                "threshold": float(t),
                "expected_value": expected_value(y, p, float(t), econ),
                "f1": float(f1_score(y, predicted, zero_division=0)),
                "offers": int(predicted.sum()),
            }
        )
    return pd.DataFrame(rows)


def choose_threshold(y: np.ndarray, p: np.ndarray, econ: Economics) -> dict[str, Any]:
    """The threshold with the highest expected value, and the F1-optimal one beside it."""
    curve = value_curve(y, p, econ)
    best_ev = curve.loc[curve["expected_value"].idxmax()]
    best_f1 = curve.loc[curve["f1"].idxmax()]
    return {
        "value": float(best_ev["threshold"]),
        "strategy": "expected_value",
        "f1_optimal": float(best_f1["threshold"]),
        **asdict(econ),
    }


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


def field_importance(booster: Any, contract: dict[str, Any]) -> pd.Series:
    """Total gain summed from one-hot columns back to the original input fields."""
    gain = booster.get_score(importance_type="total_gain")
    totals: dict[str, float] = {f["name"]: 0.0 for f in contract["fields"]}
    for j, feature in enumerate(contract["encoded_features"]):
        totals[feature["field"]] += gain.get(f"f{j}", gain.get(feature["name"], 0.0))
    series = pd.Series(totals)
    return (series / series.sum()).sort_values(ascending=False)


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plots(
    out_dir: Path,
    y: np.ndarray,
    p: np.ndarray,
    baseline_p: np.ndarray,
    threshold: dict[str, Any],
    curve: pd.DataFrame,
    importance: pd.Series,
) -> list[Path]:
    """ROC, PR, calibration, confusion matrix, field importance and value-by-threshold PNGs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(5, 5))
    for label, scores in (("XGBoost", p), ("Logistic regression", baseline_p)):
        fpr, tpr, _ = roc_curve(y, scores)
        ax.plot(fpr, tpr, label=f"{label} (AUC {roc_auc_score(y, scores):.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC (holdout)")
    ax.legend(loc="lower right")
    paths.append(_save(fig, out_dir / "roc_curve.png"))

    fig, ax = plt.subplots(figsize=(5, 5))
    for label, scores in (("XGBoost", p), ("Logistic regression", baseline_p)):
        precision, recall, _ = precision_recall_curve(y, scores)
        ax.plot(recall, precision, label=f"{label} (AP {average_precision_score(y, scores):.3f})")
    ax.axhline(y.mean(), color="k", ls="--", lw=0.8)
    ax.set(xlabel="Recall", ylabel="Precision", title="Precision-recall (holdout)")
    ax.legend(loc="upper right")
    paths.append(_save(fig, out_dir / "precision_recall_curve.png"))

    fig, ax = plt.subplots(figsize=(5, 5))
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
    ax.plot(predicted, observed, "o-", label="XGBoost (calibrated)")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="Perfect calibration")
    ax.set(xlabel="Predicted probability", ylabel="Observed churn rate", title="Calibration")
    ax.legend(loc="upper left")
    paths.append(_save(fig, out_dir / "calibration_curve.png"))

    fig, ax = plt.subplots(figsize=(4.5, 4))
    matrix = confusion_matrix(y, (p >= threshold["value"]).astype(int), labels=[0, 1])
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=12)
    ax.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["Stays", "Churns"],
        yticklabels=["Stays", "Churns"],
        xlabel="Predicted",
        ylabel="Actual",
        title=f"Confusion matrix at {threshold['value']:.2f}",
    )
    paths.append(_save(fig, out_dir / "confusion_matrix.png"))

    fig, ax = plt.subplots(figsize=(6, 5))
    importance.iloc[::-1].plot.barh(ax=ax)
    ax.set(xlabel="Share of total gain", title="Feature importance by input field")
    paths.append(_save(fig, out_dir / "feature_importance.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(curve["threshold"], curve["expected_value"])
    ax.axvline(threshold["value"], color="g", ls="--", label=f"chosen {threshold['value']:.2f}")
    ax.axvline(
        threshold["f1_optimal"],
        color="r",
        ls=":",
        label=f"F1-optimal {threshold['f1_optimal']:.2f}",
    )
    ax.set(
        xlabel="Threshold", ylabel="Expected retention value", title="Value by threshold (holdout)"
    )
    ax.legend()
    paths.append(_save(fig, out_dir / "expected_value_by_threshold.png"))
    return paths
