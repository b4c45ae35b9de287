"""The holdout report's PNGs: ROC, PR, calibration, confusion matrix, importance, value curve."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from churn_training.contract import Threshold


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_plots(
    out_dir: Path,
    y: np.ndarray,
    p: np.ndarray,
    baseline_p: np.ndarray,
    threshold: Threshold,
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
    matrix = confusion_matrix(y, (p >= threshold.value).astype(int), labels=[0, 1])
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
        title=f"Confusion matrix at {threshold.value:.2f}",
    )
    paths.append(_save(fig, out_dir / "confusion_matrix.png"))

    fig, ax = plt.subplots(figsize=(6, 5))
    importance.iloc[::-1].plot.barh(ax=ax)
    ax.set(xlabel="Share of total gain", title="Feature importance by input field")
    paths.append(_save(fig, out_dir / "feature_importance.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(curve["threshold"], curve["expected_value"])
    ax.axvline(threshold.value, color="g", ls="--", label=f"chosen {threshold.value:.2f}")
    ax.axvline(
        threshold.f1_optimal,
        color="r",
        ls=":",
        label=f"F1-optimal {threshold.f1_optimal:.2f}",
    )
    ax.set(
        xlabel="Threshold", ylabel="Expected retention value", title="Value by threshold (holdout)"
    )
    ax.legend()
    paths.append(_save(fig, out_dir / "expected_value_by_threshold.png"))
    return paths
