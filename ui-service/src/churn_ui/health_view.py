"""The Model health page's drift logic without Streamlit: PSI per field and scoring run against
the limits, the latest run's table and summary, the score distribution against the training
reference, the registry's champion and challenger, and their empty states (realized
performance: performance_view)."""

from __future__ import annotations

import itertools

import pandas as pd

from churn_ui.api.health_models import (
    AliasHeld,
    DriftHistory,
    DriftRun,
    DriftThresholds,
    ModelsView,
    ScoreBins,
)
from churn_ui.wording import label, pct, plain

SCORE_FIELD = "__score__"  # the API's row name for the score's own PSI
NO_RUN = (
    "No scoring run yet: drift is measured each time the customer base is scored "
    "(`churn-score run --customers PATH_OR_URL`)."
)
NO_REFERENCE = (
    "The served model carries no training reference (reference.json): its score distribution "
    "cannot be compared."
)
REFERENCE = "Training reference"
SCORED = "Scoring run"
TREND_FIELDS = 8  # fields drawn in the trend over runs; the table holds every one
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
                        "run_id": run.run_id,
                        "when": when,
                        "run": name,
                        "field": label(f.field),
                        "psi": f.psi,
                        "status": status,
                    }
                )
    return pd.DataFrame(rows, columns=["run_id", "when", "run", "field", "psi", "status"])


def latest_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The newest run's rows of `drift_frame`, most drifted first."""
    if frame.empty:
        return frame
    newest = frame[frame["run_id"] == frame["run_id"].iloc[-1]]
    return newest.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)


REASON_CHARS = 300  # a reason longer than this is cut in the line (the registry keeps it whole)
NO_REGISTRY = (
    "The scoring service loads a local model folder (MODEL_URI), not a registry version: there "
    "is no champion, challenger or promotion time to show."
)


def _reason(reason: str | None) -> str:
    if not reason:
        return "no reason recorded"
    cut = reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…"
    return plain(cut)


def _held(held: AliasHeld, role: str) -> str:
    since = f"since {when_text(held.since)}" if held.since else "since: not recorded"
    return f"version **{plain(held.version)}**, {role} {since}. Why: {_reason(held.reason)}"


def alias_lines(view: ModelsView) -> list[str]:
    """Markdown lines: the champion and challenger with since when and why, the previous
    champion with when and by which version it was replaced; each says so when unset."""
    aliases = view.aliases
    if aliases is None:
        return []
    champion = aliases.champion
    challenger = aliases.challenger
    previous = aliases.previous_champion
    lines = [
        "**Champion:** "
        + (_held(champion, "champion") if champion else "none: no version holds `champion`."),
        "**Challenger:** "
        + (
            _held(challenger, "challenger")
            if challenger
            else "none: the promotion gate has not turned down a trained model."
        ),
    ]
    if previous is None:
        lines.append("**Previous champion:** none: the champion has not been replaced yet.")
    else:
        by = f" by version {plain(previous.replaced_by)}" if previous.replaced_by else ""
        when = f" on {when_text(previous.replaced_at)}" if previous.replaced_at else ""
        lines.append(
            f"**Previous champion:** version **{plain(previous.version)}**, replaced{by}{when}."
        )
    return lines


def most_moved(frame: pd.DataFrame, top: int = TREND_FIELDS) -> pd.DataFrame:
    """The rows of the `top` fields with the highest PSI in any run (a readable trend chart)."""
    peak = frame.groupby("field", sort=False)["psi"].max()
    keep = set(peak.sort_values(ascending=False, kind="stable").index[:top])
    return frame[frame["field"].isin(keep)].reset_index(drop=True)


def versions_in_service(history: DriftHistory) -> list[str]:
    """Per model version, its first and last of the listed scoring runs, newest version first:
    when each began scoring the base (promotion times: alias_lines)."""
    seen: dict[str, list[DriftRun]] = {}
    for run in reversed(history.runs):  # oldest first
        if run.model_version:
            seen.setdefault(run.model_version, []).append(run)
    lines = []
    for version, runs in sorted(seen.items(), key=lambda kv: run_label(kv[1][-1]), reverse=True):
        first, last = run_label(runs[0]), run_label(runs[-1])
        span = first if len(runs) == 1 else f"{first} to {last}"
        lines.append(f"version {version}: {len(runs)} scoring run(s), {span}")
    return lines


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
    """'< 10%', '10–20%', ..., '≥ 90%' for inner edges on probabilities (short: they sit
    under narrow bars)."""
    if not edges:
        return ["all scores"]

    def p(x: float) -> str:
        return f"{x * 100:.1f}".removesuffix(".0")

    inner = [f"{p(a)}–{p(b)}%" for a, b in itertools.pairwise(edges)]
    return [f"< {p(edges[0])}%", *inner, f"≥ {p(edges[-1])}%"]


def latest_score_frequencies(history: DriftHistory) -> tuple[DriftRun, list[float]] | None:
    """The newest run the served model made, with its score shares over the reference's bins.

    The API gives a run its reference bins only when the served model made it: another
    model's shares are over other bins and are never set beside this reference."""
    reference = history.reference_score
    if reference is None:
        return None
    for run in history.runs:
        shares = run.score_frequencies
        same_bins = run.reference_score is not None and run.reference_score.edges == reference.edges
        if shares is not None and same_bins and len(shares) == len(reference.frequencies):
            return run, shares
    return None


def score_frame(reference: ScoreBins, current: list[float] | None) -> pd.DataFrame:
    """Share of customers per score bin: the training reference and, if given, a scoring run."""
    labels = bin_labels(reference.edges)
    rows = [
        {"bin": name, "order": i, "source": REFERENCE, "share": share}
        for i, (name, share) in enumerate(zip(labels, reference.frequencies, strict=False))
    ]
    if current is not None:
        rows += [
            {"bin": name, "order": i, "source": SCORED, "share": share}
            for i, (name, share) in enumerate(zip(labels, current, strict=False))
        ]
    return pd.DataFrame(rows, columns=["bin", "order", "source", "share"])
