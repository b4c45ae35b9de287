"""Realized performance: each outcome joined to the latest score made before it, and the
metrics of those scores per model version and month (numpy only).

A score counts for an outcome when its snapshot date is before the outcome date and it was
made (scored_at, UTC) no later than the outcome date: a score of data from after the outcome,
or made after it (a backfill with a model that may have learned the outcome), never counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

ECE_BINS = 10
TOP_SHARE = 0.10
ALL_MONTHS = "all"
METRICS = ("roc_auc", "pr_auc", "brier", "calibration_error", "top_decile_precision")


def _arrays(y: Sequence[Any] | np.ndarray, p: Sequence[Any] | np.ndarray) -> tuple[Any, Any]:
    labels = np.asarray(y, dtype=np.float64)
    probs = np.asarray(p, dtype=np.float64)
    if labels.shape != probs.shape or labels.ndim != 1:
        raise ValueError(f"labels {labels.shape} and probabilities {probs.shape} differ")
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    return labels, probs


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing their average rank."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    average = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(average, ends - starts)
    return ranks


def roc_auc(y: Sequence[Any] | np.ndarray, p: Sequence[Any] | np.ndarray) -> float | None:
    """Mann-Whitney: P(score of a churner > score of a stayer), ties counting one half;
    None unless both classes are present."""
    labels, probs = _arrays(y, p)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    rank_sum = float(_ranks(probs)[labels == 1].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def pr_auc(y: Sequence[Any] | np.ndarray, p: Sequence[Any] | np.ndarray) -> float | None:
    """Average precision: sum over distinct thresholds (high to low) of the recall gained times
    the precision there; tied scores form one threshold. None without a churner."""
    labels, probs = _arrays(y, p)
    positives = labels.sum()
    if positives == 0:
        return None
    order = np.argsort(-probs, kind="stable")
    ordered, hits = probs[order], labels[order]
    last = np.r_[ordered[1:] != ordered[:-1], True]  # the last row of each tied group
    tp = np.cumsum(hits)[last]
    seen = np.flatnonzero(last) + 1.0
    precision = tp / seen
    recall = tp / positives
    gained = np.diff(np.r_[0.0, recall])
    return float(np.sum(gained * precision))


def brier(y: Sequence[Any] | np.ndarray, p: Sequence[Any] | np.ndarray) -> float | None:
    labels, probs = _arrays(y, p)
    return float(np.mean((probs - labels) ** 2)) if len(labels) else None


def calibration_error(
    y: Sequence[Any] | np.ndarray, p: Sequence[Any] | np.ndarray, bins: int = ECE_BINS
) -> float | None:
    """Expected calibration error: over equal-width probability bins ([0, 0.1), ... [0.9, 1]),
    the share of rows in the bin times |mean probability - churn rate|."""
    labels, probs = _arrays(y, p)
    if not len(labels):
        return None
    index = np.clip((probs * bins).astype(np.int64), 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    gap = np.abs(
        np.bincount(index, probs, minlength=bins) - np.bincount(index, labels, minlength=bins)
    )
    return float(gap.sum() / count.sum())


def top_decile_precision(
    y: Sequence[Any] | np.ndarray, p: Sequence[Any] | np.ndarray, share: float = TOP_SHARE
) -> float | None:
    """The churn rate among the ceil(10 %) highest probabilities (the call list's top decile by
    churn_probability). Rows tied with the cut's score are taken in proportion (the expected
    precision of any order among them), so the answer never depends on row order."""
    labels, probs = _arrays(y, p)
    n = len(labels)
    if n == 0:
        return None
    k = max(1, math.ceil(n * share))
    cut = np.sort(probs)[::-1][k - 1]
    above = probs > cut
    tied = probs == cut
    from_tied = k - int(above.sum())
    hits = labels[above].sum() + from_tied * labels[tied].sum() / tied.sum()
    return float(hits / k)


def metrics(y: Sequence[Any] | np.ndarray, p: Sequence[Any] | np.ndarray) -> dict[str, Any]:
    """Every realized metric of one group, with its size and churners."""
    labels, probs = _arrays(y, p)
    return {
        "n": len(labels),
        "positives": int(labels.sum()),
        "roc_auc": roc_auc(labels, probs),
        "pr_auc": pr_auc(labels, probs),
        "brier": brier(labels, probs),
        "calibration_error": calibration_error(labels, probs),
        "top_decile_precision": top_decile_precision(labels, probs),
    }


@dataclass(frozen=True, slots=True)
class Joined:
    """An outcome with the score that counts for it (one per model version)."""

    customer_id: str
    outcome_date: date
    churned: bool
    model_name: str
    model_version: str
    snapshot_date: date
    churn_probability: float


def _utc_date(at: datetime) -> date:
    """The UTC date of a stored time (SQLite gives naive datetimes, written as UTC)."""
    return (at if at.tzinfo is None else at.astimezone(UTC)).date()


def latest_before(candidates: Iterable[Sequence[Any]]) -> list[Joined]:
    """From (customer_id, outcome_date, churned, model_name, model_version, snapshot_date,
    scored_at, churn_probability) rows, each outcome's latest score per model version among
    those with snapshot_date < outcome_date made no later than the outcome date."""
    best: dict[tuple[Any, ...], tuple[tuple[Any, Any], Joined]] = {}
    for cid, when, churned, name, version, snap, scored_at, prob in candidates:
        if not snap < when or _utc_date(scored_at) > when:
            continue
        key = (cid, when, name, version)
        rank = (snap, scored_at)  # one database: all naive (SQLite) or all aware
        held = best.get(key)
        if held is None or rank > held[0]:
            best[key] = (rank, Joined(cid, when, bool(churned), name, version, snap, prob))
    return [joined for _, joined in best.values()]


def realized(joined: Sequence[Joined]) -> list[dict[str, Any]]:
    """Metrics per (model name, version, month of the score's snapshot), and per version over
    every month (month 'all'), ordered by version and month."""
    groups: dict[tuple[str, str, str], list[Joined]] = {}
    for j in joined:
        month = f"{j.snapshot_date.year:04d}-{j.snapshot_date.month:02d}"
        groups.setdefault((j.model_name, j.model_version, month), []).append(j)
        groups.setdefault((j.model_name, j.model_version, ALL_MONTHS), []).append(j)
    rows = []
    for (name, version, month), items in sorted(groups.items()):
        y = np.array([j.churned for j in items], dtype=np.float64)
        p = np.array([j.churn_probability for j in items], dtype=np.float64)
        rows.append({"model_name": name, "model_version": version, "month": month} | metrics(y, p))
    return rows
