"""The Model health page's logic without Streamlit: drift per field and run, the score
distribution against the training reference, realized performance, and the plain-words
summaries and empty states."""

from __future__ import annotations

import itertools

import pandas as pd

from churn_ui.api.health_models import (
    DriftHistory,
    DriftRun,
    DriftThresholds,
    PerformanceHistory,
    ScoreBins,
)
from churn_ui.wording import label, pct

SCORE_FIELD = "__score__"  # the API's row name for the score's own PSI
NO_RUN = (
    "No scoring run yet: drift is measured each time the customer base is scored "
    "(`churn-score run --customers PATH_OR_URL`)."
)
NO_OUTCOMES = (
    "No outcomes ingested yet: realized performance appears once what really happened is "
    "loaded with `churn-score outcomes --labels PATH_OR_URL` (customer ID, churned yes/no, date)."
)
NO_REFERENCE = (
    "The served model carries no training reference (reference.json): its score distribution "
    "cannot be compared."
)
REFERENCE = "Training reference"
LATEST = "Latest scoring run"
HOLDOUT = "Training holdout"
# How far realized ROC-AUC may fall below the training holdout before it is an alert
# (the RealizedPerformanceDrop rule, docs/monitoring.md).
ROC_AUC_TOLERANCE = 0.05
METRICS: dict[str, str] = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "brier": "Brier score",
    "calibration_error": "Calibration error",
    "top_decile_precision": "Precision in the top decile",
}
STATUS_TEXT = {"drift": "Drifted", "watch": "Watch", "ok": "Stable", "none": "Not measured"}


def when_text(stamp: str | None) -> str:
    """An ISO time as '30 November 2026, 08:00 UTC' ('unknown' when absent)."""
    when = pd.to_datetime(stamp, utc=True, errors="coerce", format="ISO8601") if stamp else None
    if when is None or pd.isna(when):
        return stamp or "unknown"
    return when.strftime("%d %B %Y, %H:%M UTC")


def field_status(psi: float | None, thresholds: DriftThresholds) -> str:
    """'drift' above the drift limit, 'watch' above the watch limit, else 'ok' ('none': no PSI)."""
    if psi is None:
        return "none"
    if psi > thresholds.field_psi_drift:
        return "drift"
    return "watch" if psi > thresholds.field_psi_watch else "ok"


def score_status(psi: float | None, thresholds: DriftThresholds) -> str:
    """'drift' when the score's PSI is over its limit, else 'ok' ('none': no PSI)."""
    if psi is None:
        return "none"
    return "drift" if psi > thresholds.score_psi_drift else "ok"


def run_time(run: DriftRun) -> pd.Timestamp | None:
    """When the run was made (UTC, naive for Vega-Lite); the snapshot date when that is all."""
    stamp = run.created_at or run.snapshot_date
    when = pd.to_datetime(stamp, utc=True, errors="coerce", format="ISO8601") if stamp else None
    return None if when is None or pd.isna(when) else when.tz_convert(None)


def run_label(run: DriftRun) -> str:
    """'2026-11-30 08:00 UTC' (or the snapshot date, or the run id when it has neither)."""
    when = run_time(run)
    return when.strftime("%Y-%m-%d %H:%M UTC") if when is not None else run.run_id


def field_rows(run: DriftRun) -> list:
    """The run's field rows, without the score's own row."""
    return [f for f in run.fields if f.field != SCORE_FIELD]


def drift_frame(history: DriftHistory) -> pd.DataFrame:
    """PSI per field per run, oldest run first: when, run, field, psi, status."""
    rows = []
    for run in reversed(history.runs):  # the API lists newest first
        when, name = run_time(run), run_label(run)
        for f in field_rows(run):
            if f.psi is not None:
                status = STATUS_TEXT[field_status(f.psi, history.thresholds)]
                rows.append(
                    {
                        "when": when,
                        "run": name,
                        "field": label(f.field),
                        "psi": f.psi,
                        "status": status,
                    }
                )
    return pd.DataFrame(rows, columns=["when", "run", "field", "psi", "status"])


def _rate(value: float | None) -> str:
    return "" if value is None else pct(value)


def latest_table(run: DriftRun, thresholds: DriftThresholds) -> pd.DataFrame:
    """The latest run's fields, most drifted first, with their tests and missing rates."""
    fields = sorted(field_rows(run), key=lambda f: -(f.psi if f.psi is not None else -1.0))
    return pd.DataFrame(
        [
            {
                "Field": label(f.field),
                "PSI": f.psi,
                "Status": STATUS_TEXT[field_status(f.psi, thresholds)],
                "Test p-value": f.p_value,
                "Missing now": _rate(f.missing_rate),
                "Missing in training": _rate(f.missing_rate_reference),
                "Unseen categories": ", ".join(f"{k} ({v:,})" for k, v in f.unseen.items()),
            }
            for f in fields
        ],
        columns=[
            "Field",
            "PSI",
            "Status",
            "Test p-value",
            "Missing now",
            "Missing in training",
            "Unseen categories",
        ],
    )


def drift_summary(history: DriftHistory) -> str:
    """One paragraph on the latest run: drifted and watched fields, and the score."""
    if not history.runs:
        return NO_RUN
    run, limits = history.runs[0], history.thresholds
    fields = sorted(field_rows(run), key=lambda f: -(f.psi or 0.0))
    drifted = [label(f.field) for f in fields if field_status(f.psi, limits) == "drift"]
    watched = [label(f.field) for f in fields if field_status(f.psi, limits) == "watch"]
    about = [f"{run.n:,} customers"] if run.n is not None else []
    if run.model_version:
        about.append(f"model version {run.model_version}")
    head = f"Latest scoring run {run_label(run)}" + (f" ({', '.join(about)})" if about else "")
    if drifted:
        body = f"**{len(drifted)} field(s) drifted** (PSI over {limits.field_psi_drift:g}): "
        body += ", ".join(drifted) + "."
    else:
        body = f"no field drifted (every PSI at most {limits.field_psi_drift:g})."
    if watched:
        body += f" To watch (PSI over {limits.field_psi_watch:g}): {', '.join(watched)}."
    score = score_status(run.score_psi, limits)
    if score == "drift":
        body += f" **The score distribution drifted** (PSI {run.score_psi:.3f})."
    elif score == "ok":
        body += f" The score distribution is stable (PSI {run.score_psi:.3f})."
    return f"{head}: {body}"


def bin_labels(edges: list[float]) -> list[str]:
    """'below 10%', '10%–20%', ..., '90% and above' for inner edges on probabilities."""
    if not edges:
        return ["all scores"]
    inner = [f"{pct(a, 1)}–{pct(b, 1)}" for a, b in itertools.pairwise(edges)]
    return [f"below {pct(edges[0], 1)}", *inner, f"{pct(edges[-1], 1)} and above"]


def latest_score_frequencies(history: DriftHistory) -> tuple[DriftRun, list[float]] | None:
    """The newest run that carries its score shares over the reference's bins, if any."""
    if history.reference_score is None:
        return None
    bins = len(history.reference_score.frequencies)
    for run in history.runs:
        if run.score_frequencies is not None and len(run.score_frequencies) == bins:
            return run, run.score_frequencies
    return None


def score_frame(reference: ScoreBins, current: list[float] | None) -> pd.DataFrame:
    """Share of customers per score bin: the training reference and, if given, the latest run."""
    labels = bin_labels(reference.edges)
    rows = [
        {"bin": name, "order": i, "source": REFERENCE, "share": share}
        for i, (name, share) in enumerate(zip(labels, reference.frequencies, strict=False))
    ]
    if current is not None:
        rows += [
            {"bin": name, "order": i, "source": LATEST, "share": share}
            for i, (name, share) in enumerate(zip(labels, current, strict=False))
        ]
    return pd.DataFrame(rows, columns=["bin", "order", "source", "share"])


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
    if gap < -ROC_AUC_TOLERANCE:
        return text + f": more than {ROC_AUC_TOLERANCE:g} below it, consider retraining.", True
    return text + ".", False
