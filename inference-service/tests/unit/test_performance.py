"""Realized performance metrics against hand-computed values (ties included), and the join of
each outcome to the latest score made before it, never after."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from scipy import stats

from churn_api.scoring import performance as perf

Y = [0, 0, 1, 1]
P = [0.1, 0.4, 0.35, 0.8]


def test_metrics_by_hand() -> None:
    # Pairs (churner, stayer): 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4 -> 3 of 4.
    assert perf.roc_auc(Y, P) == pytest.approx(0.75)
    # From the top: 0.8 (hit: precision 1, recall 1/2), 0.4 (miss), 0.35 (hit: 2/3, recall 1).
    assert perf.pr_auc(Y, P) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert perf.brier(Y, P) == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    # One row per bin: the mean |p - y|.
    assert perf.calibration_error(Y, P) == pytest.approx((0.1 + 0.4 + 0.65 + 0.2) / 4)
    # ceil(10 % of 4) = 1 row: the 0.8, a churner.
    assert perf.top_decile_precision(Y, P) == 1.0
    row = perf.metrics(Y, P)
    assert row["n"] == 4 and row["positives"] == 2


def test_ties() -> None:
    y, p = [1, 0, 1, 0], [0.5, 0.5, 0.5, 0.2]
    # Churners 0.5, 0.5 against stayers 0.5 (half) and 0.2 (win): (0.5 + 1) * 2 / 4.
    assert perf.roc_auc(y, p) == pytest.approx(0.75)
    # The tied 0.5s are one threshold: precision 2/3 at recall 1.
    assert perf.pr_auc(y, p) == pytest.approx(2 / 3)
    # Every order of tied rows gives the same answers.
    for order in ([3, 2, 1, 0], [1, 0, 3, 2]):
        ys, ps = np.array(y)[order], np.array(p)[order]
        assert perf.roc_auc(ys, ps) == pytest.approx(0.75)
        assert perf.pr_auc(ys, ps) == pytest.approx(2 / 3)
    # Top decile of 10 rows is 1 row; two rows tie at the top, one a churner: 0.5 either way.
    y10 = [1, 0, 1, 1, 0, 0, 0, 0, 0, 0]
    p10 = [0.9, 0.9, 0.5, 0.4, 0.3, 0.2, 0.2, 0.1, 0.1, 0.1]
    assert perf.top_decile_precision(y10, p10) == pytest.approx(0.5)
    assert perf.top_decile_precision(y10[::-1], p10[::-1]) == pytest.approx(0.5)
    # All in one bin: |mean p - churn rate| = |0.15 - 0.25|.
    assert perf.calibration_error([1, 0, 0, 0], [0.15] * 4) == pytest.approx(0.1)
    # p = 1.0 lands in the last bin, not an 11th.
    assert perf.calibration_error([1, 1], [1.0, 0.95]) == pytest.approx(0.025)


def test_roc_auc_matches_mann_whitney_on_random_data() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.round(rng.random(500) * 0.5 + y * 0.2, 2)  # rounded: many ties
    u = stats.mannwhitneyu(p[y == 1], p[y == 0]).statistic
    assert perf.roc_auc(y, p) == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()))


def test_undefined_metrics_are_none() -> None:
    assert perf.roc_auc([1, 1], [0.2, 0.3]) is None
    assert perf.pr_auc([0, 0], [0.2, 0.3]) is None
    assert perf.metrics([], [])["brier"] is None
    with pytest.raises(ValueError, match="0 or 1"):
        perf.roc_auc([2, 0], [0.1, 0.2])


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_each_outcome_takes_the_latest_score_before_it_never_after() -> None:
    outcome = date(2026, 10, 15)

    def row(snapshot: date, p: float, version: str = "1", scored: datetime | None = None) -> tuple:
        return ("C1", outcome, True, "telco-churn", version, snapshot, scored or _at(snapshot), p)

    candidates = [
        row(date(2026, 9, 1), 0.2),
        row(date(2026, 10, 1), 0.6),  # the latest before the outcome: this one counts
        row(date(2026, 10, 15), 0.7),  # the outcome's own day: not before it
        row(date(2026, 11, 1), 0.9),  # after the outcome
        # An older snapshot scored after the outcome (a backfill): never counts.
        row(date(2026, 10, 10), 0.8, scored=_at(date(2026, 10, 20))),
        row(date(2026, 9, 15), 0.3, version="2"),  # another version keeps its own latest
    ]
    joined = perf.latest_before(candidates)
    chosen = {j.model_version: (j.snapshot_date, j.churn_probability) for j in joined}
    assert chosen == {"1": (date(2026, 10, 1), 0.6), "2": (date(2026, 9, 15), 0.3)}
    # Order of the candidates does not matter.
    again = perf.latest_before(candidates[::-1])
    assert {j.model_version: j.churn_probability for j in again} == {"1": 0.6, "2": 0.3}


def test_realized_groups_by_version_and_month_of_the_score() -> None:
    def joined(cid: str, churned: bool, p: float, month: int, version: str = "1") -> perf.Joined:
        return perf.Joined(cid, date(2026, 12, 1), churned, "m", version, date(2026, month, 3), p)

    rows = perf.realized(
        [
            joined("A", True, 0.8, 9),
            joined("B", False, 0.1, 9),
            joined("C", True, 0.3, 10),
            joined("D", False, 0.6, 10),
            joined("A", True, 0.7, 10, "2"),
        ]
    )
    key = {(r["model_version"], r["month"]): r for r in rows}
    assert list(key) == [
        ("1", "2026-09"),
        ("1", "2026-10"),
        ("1", "all"),
        ("2", "2026-10"),
        ("2", "all"),
    ]
    assert key[("1", "2026-09")]["roc_auc"] == 1.0
    assert key[("1", "2026-10")]["roc_auc"] == 0.0
    assert key[("1", "all")]["n"] == 4 and key[("1", "all")]["roc_auc"] == pytest.approx(0.75)
    assert key[("2", "all")]["roc_auc"] is None and key[("2", "all")]["positives"] == 1
