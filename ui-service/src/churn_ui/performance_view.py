"""The Model health page's realized-performance logic without Streamlit: metrics per model
version and month of the score, the latest month against the training holdout (and whether it
fell far enough to alert), and the empty state before any outcomes."""

from __future__ import annotations

import pandas as pd

from churn_ui.api.health_models import PerformanceHistory

NO_OUTCOMES = (
    "No outcomes ingested yet: realized performance appears once what really happened is "
    "loaded with `churn-score outcomes --labels PATH_OR_URL` (customer ID, churned yes/no, date)."
)
HOLDOUT = "Training holdout"
METRICS: dict[str, str] = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "brier": "Brier score",
    "calibration_error": "Calibration error",
    "top_decile_precision": "Precision in the top decile",
}


def month_start(month: str) -> pd.Timestamp | None:
    """'2026-11' as the first day of that month (None when it is not a month)."""
    when = pd.to_datetime(month, format="%Y-%m", errors="coerce")
    return None if pd.isna(when) else when


def performance_frame(history: PerformanceHistory) -> pd.DataFrame:
    """Realized metrics as long rows: month, model version, metric, value, customers."""
    rows = [
        {
            "month": month_start(r.month),
            "model_version": f"version {r.model_version}",
            "metric": name,
            "value": getattr(r, key),
            "n": r.n,
        }
        for r in sorted(history.rows, key=lambda r: (r.month, r.model_version))
        for key, name in METRICS.items()
        if getattr(r, key) is not None
    ]
    return pd.DataFrame(rows, columns=["month", "model_version", "metric", "value", "n"])


def performance_table(history: PerformanceHistory) -> pd.DataFrame:
    """One row per model version and month, newest month first."""
    ordered = sorted(history.rows, key=lambda r: (r.month, r.model_version), reverse=True)
    return pd.DataFrame(
        [
            {
                "Month": r.month,
                "Model version": r.model_version,
                "Customers": r.n,
                "Churned": r.positives,
                **{name: getattr(r, key) for key, name in METRICS.items()},
            }
            for r in ordered
        ],
        columns=["Month", "Model version", "Customers", "Churned", *METRICS.values()],
    )


def overall_text(history: PerformanceHistory) -> str | None:
    """Each model version over every month: ROC-AUC on how many customers."""
    parts = [
        f"version {r.model_version}: ROC-AUC {r.roc_auc:.3f} on {r.n:,} customers"
        for r in sorted(history.overall, key=lambda r: r.model_version)
        if r.roc_auc is not None
    ]
    return "Over every month: " + "; ".join(parts) + "." if parts else None


def holdout_roc_auc(history: PerformanceHistory) -> float | None:
    """The served model's ROC-AUC on its training holdout."""
    if history.holdout_roc_auc is not None:
        return history.holdout_roc_auc
    return history.holdout.get("roc_auc")


def holdout_for(history: PerformanceHistory, metric: str) -> float | None:
    """The training holdout's value of a measure named as in `METRICS` (None if not given)."""
    key = next((k for k, name in METRICS.items() if name == metric), None)
    if key == "roc_auc":
        return holdout_roc_auc(history)
    return history.holdout.get(key) if key else None


def performance_summary(history: PerformanceHistory) -> tuple[str, bool]:
    """The latest month's ROC-AUC against the holdout, and whether it fell too far (an alert)."""
    if not history.rows:
        return NO_OUTCOMES, False
    latest = max(history.rows, key=lambda r: (r.month, r.n))
    text = (
        f"Latest month {latest.month} (model version {latest.model_version}, "
        f"{latest.n:,} customers with an outcome"
        + (f", {latest.positives:,} churned" if latest.positives is not None else "")
        + ")"
    )
    holdout = holdout_roc_auc(history)
    if latest.roc_auc is None:
        return text + ": ROC-AUC not measurable (only one outcome class).", False
    text += f": ROC-AUC **{latest.roc_auc:.3f}**"
    if holdout is None:
        return text + ".", False
    gap = latest.roc_auc - holdout
    text += f" against {holdout:.3f} on the training holdout ({gap:+.3f})"
    # The API's limit, the RealizedPerformanceDrop alert's (docs/monitoring.md).
    if gap < -history.roc_auc_drop_alert:
        limit = history.roc_auc_drop_alert
        return text + f": more than {limit:g} below it, consider retraining.", True
    return text + ".", False
