"""The Model health page's logic on hand-made monitoring bodies: statuses against the PSI
limits, drift per field and run in time order (the score's own row apart), the latest run's
table and summary, score bins against the reference, realized performance and its alert."""

from __future__ import annotations

import pandas as pd
import pytest
from health_fakes import DRIFT_RUNS, HOLDOUT, PERFORMANCE_ROWS, REFERENCE_SCORE, THRESHOLDS

from churn_ui.api.health_models import DriftHistory, DriftThresholds, PerformanceHistory, ScoreBins
from churn_ui.health_charts import (
    drift_chart,
    latest_drift_chart,
    performance_chart,
    score_distribution_chart,
)
from churn_ui.health_view import (
    NO_RUN,
    REFERENCE,
    SCORED,
    bin_labels,
    drift_frame,
    drift_summary,
    field_status,
    latest_frame,
    latest_score_frequencies,
    latest_table,
    most_moved,
    run_label,
    score_frame,
    score_status,
    versions_in_service,
    when_text,
)
from churn_ui.performance_view import (
    METRICS,
    NO_OUTCOMES,
    holdout_for,
    overall_text,
    performance_frame,
    performance_summary,
    performance_table,
)

LIMITS = DriftThresholds()


def _drift(**changes: object) -> DriftHistory:
    body = {"thresholds": THRESHOLDS, "reference_score": REFERENCE_SCORE, "runs": DRIFT_RUNS}
    return DriftHistory.model_validate(body | changes)


def _performance(**changes: object) -> PerformanceHistory:
    body = {"rows": PERFORMANCE_ROWS, "holdout_roc_auc": HOLDOUT["roc_auc"], "holdout": HOLDOUT}
    return PerformanceHistory.model_validate(body | changes)


@pytest.mark.parametrize(
    ("psi", "expected"),
    [(None, "none"), (0.0, "ok"), (0.1, "ok"), (0.1001, "watch"), (0.2, "watch"), (0.21, "drift")],
)
def test_ui_field_status_follows_the_limits(psi: float | None, expected: str) -> None:
    assert field_status(psi, LIMITS) == expected


def test_ui_score_status_has_its_own_limit() -> None:
    assert score_status(0.11, LIMITS) == "drift"
    assert score_status(0.1, LIMITS) == "ok"
    assert score_status(0.15, DriftThresholds(score_psi_drift=0.2)) == "ok"
    assert score_status(None, LIMITS) == "none"


def test_ui_drift_frame_is_oldest_first_without_the_score_row() -> None:
    frame = drift_frame(_drift())
    assert list(frame["run"]) == ["2026-11-23 08:00 UTC"] * 3 + ["2026-11-30 08:00 UTC"] * 3
    assert list(frame["field"]) == ["Months as a customer", "Monthly charges", "Contract"] * 2
    assert list(frame["psi"]) == [0.01, 0.03, 0.02, 0.02, 0.15, 0.41]
    assert list(frame["status"])[3:] == ["Stable", "Watch", "Drifted"]
    assert frame["when"].is_monotonic_increasing and frame["when"].dt.tz is None


def test_ui_latest_run_and_the_fields_that_moved_most() -> None:
    frame = drift_frame(_drift())
    latest = latest_frame(frame)
    assert list(latest["field"]) == ["Contract", "Monthly charges", "Months as a customer"]
    assert set(latest["run_id"]) == {"run-2"}
    # Two fields: the ones with the highest PSI in any run, with every run's rows.
    moved = most_moved(frame, top=2)
    assert set(moved["field"]) == {"Contract", "Monthly charges"} and len(moved) == 4
    assert latest_frame(drift_frame(_drift(runs=[]))).empty


def test_ui_versions_in_service_from_the_runs() -> None:
    older = DRIFT_RUNS[1] | {"run_id": "run-0", "created_at": "2026-11-16T08:00:00+00:00"}
    runs = [DRIFT_RUNS[0], DRIFT_RUNS[1] | {"model_version": "6"}, older | {"model_version": "6"}]
    assert versions_in_service(_drift(runs=runs)) == [
        "version 7: 1 scoring run(s), 2026-11-30 08:00 UTC",
        "version 6: 2 scoring run(s), 2026-11-16 08:00 UTC to 2026-11-23 08:00 UTC",
    ]
    assert versions_in_service(_drift(runs=[])) == []


def test_ui_drift_frame_skips_unmeasured_fields_and_empty_history() -> None:
    run = DRIFT_RUNS[0] | {"fields": [{"field": "tenure", "psi": None}]}
    assert drift_frame(_drift(runs=[run])).empty
    assert drift_frame(_drift(runs=[])).empty


def test_ui_latest_table_is_most_drifted_first() -> None:
    table = latest_table(_drift().runs[0], LIMITS)
    assert list(table["Field"]) == ["Contract", "Monthly charges", "Months as a customer"]
    assert list(table["Status"]) == ["Drifted", "Watch", "Stable"]
    assert table["Unseen categories"][0] == "Three year (12)"
    assert table["Missing now"][0] == "0.0%"


def test_ui_drift_summary_names_drifted_and_watched_fields() -> None:
    text = drift_summary(_drift())
    assert text.startswith(
        "Latest scoring run 2026-11-30 08:00 UTC (7,043 customers, model version 7): "
    )
    assert "**1 field(s) drifted** (PSI over 0.2): Contract." in text
    assert "To watch (PSI over 0.1): Monthly charges." in text
    assert "**The score distribution drifted** (PSI 0.120)." in text
    calm = drift_summary(_drift(runs=DRIFT_RUNS[1:]))
    assert "no field drifted (every PSI at most 0.2)." in calm
    assert "The score distribution is stable (PSI 0.010)." in calm and "To watch" not in calm
    assert drift_summary(_drift(runs=[])) == NO_RUN


def test_ui_run_label_falls_back_to_the_snapshot_then_the_id() -> None:
    run = _drift().runs[0]
    assert run_label(run.model_copy(update={"created_at": None})) == "2026-11-30 00:00 UTC"
    bare = run.model_copy(update={"created_at": None, "snapshot_date": None})
    assert run_label(bare) == "run-2"
    assert when_text("2026-11-30T08:00:00+00:00") == "30 November 2026, 08:00 UTC"
    assert when_text(None) == "unknown" and when_text("soon") == "soon"


def test_ui_score_bins_label_every_bin() -> None:
    assert bin_labels([0.25, 0.5]) == ["< 25%", "25–50%", "≥ 50%"]
    assert bin_labels([0.0312, 0.1]) == ["< 3.1%", "3.1–10%", "≥ 10%"]
    assert bin_labels([]) == ["all scores"]


def test_ui_score_frame_puts_the_latest_run_beside_the_reference() -> None:
    history = _drift()
    latest = latest_score_frequencies(history)
    assert latest is not None and latest[0].run_id == "run-2"
    frame = score_frame(ScoreBins.model_validate(REFERENCE_SCORE), latest[1])
    assert list(frame["source"]) == [REFERENCE] * 10 + [SCORED] * 10
    assert frame.groupby("source")["share"].sum().round(9).to_dict() == {REFERENCE: 1, SCORED: 1}
    assert frame["bin"].iloc[0] == "< 10%" and frame["bin"].iloc[9] == "≥ 90%"
    only_reference = score_frame(ScoreBins.model_validate(REFERENCE_SCORE), None)
    assert set(only_reference["source"]) == {REFERENCE}


def test_ui_score_frequencies_only_of_the_served_models_bins() -> None:
    # Another model's run (the API gives it no reference bins, or other ones) is skipped.
    other = DRIFT_RUNS[0] | {"model_version": "6", "reference_score": None}
    latest = latest_score_frequencies(_drift(runs=[other, DRIFT_RUNS[1]]))
    assert latest is not None and latest[0].run_id == "run-1"
    moved = {"edges": [0.5], "frequencies": [0.5, 0.5]}
    assert (
        latest_score_frequencies(_drift(runs=[DRIFT_RUNS[0] | {"reference_score": moved}])) is None
    )
    short = DRIFT_RUNS[0] | {"score_frequencies": [0.5, 0.5]}
    assert latest_score_frequencies(_drift(runs=[short])) is None
    assert latest_score_frequencies(_drift(reference_score=None)) is None


def test_ui_performance_frame_and_table() -> None:
    history = _performance()
    frame = performance_frame(history)
    roc = frame[frame["metric"] == METRICS["roc_auc"]]
    assert list(roc["value"]) == [0.83, 0.80, 0.76]
    assert list(roc["model_version"]) == ["version 6", "version 7", "version 7"]
    assert list(roc["month"]) == list(pd.to_datetime(["2026-09-01", "2026-10-01", "2026-11-01"]))
    assert len(frame) == 3 * len(METRICS)
    table = performance_table(history)
    assert list(table["Month"]) == ["2026-11", "2026-10", "2026-09"]
    assert table["ROC-AUC"][0] == 0.76 and table["Churned"][0] == 330


def test_ui_performance_summary_alerts_below_the_holdout() -> None:
    text, alert = performance_summary(_performance())
    assert alert
    assert text.startswith(
        "Latest month 2026-11 (model version 7, 1,200 customers with an outcome, 330 churned)"
    )
    assert "ROC-AUC **0.760** against 0.845 on the training holdout (-0.085)" in text
    assert "consider retraining" in text
    text, alert = performance_summary(_performance(rows=PERFORMANCE_ROWS[:2]))
    assert not alert and text.endswith("(-0.045).")
    text, alert = performance_summary(_performance(holdout_roc_auc=None, holdout={}))
    assert not alert and text.endswith("ROC-AUC **0.760**.")
    one_class = [PERFORMANCE_ROWS[2] | {"roc_auc": None}]
    text, alert = performance_summary(_performance(rows=one_class))
    assert not alert and "not measurable" in text
    assert performance_summary(_performance(rows=[])) == (NO_OUTCOMES, False)
    # The API's own limit decides.
    text, alert = performance_summary(_performance(roc_auc_drop_alert=0.1))
    assert not alert and text.endswith("(-0.085).")


def test_ui_overall_per_model_version() -> None:
    overall = [
        PERFORMANCE_ROWS[2] | {"month": "all", "n": 2300, "roc_auc": 0.78},
        PERFORMANCE_ROWS[0] | {"month": "all", "roc_auc": None},
    ]
    assert overall_text(_performance(overall=overall)) == (
        "Over every month: version 7: ROC-AUC 0.780 on 2,300 customers."
    )
    assert overall_text(_performance()) is None


def test_ui_holdout_per_measure() -> None:
    history = _performance()
    assert holdout_for(history, "ROC-AUC") == 0.845
    assert holdout_for(history, "Brier score") == 0.135
    assert holdout_for(history, "Precision in the top decile") is None
    assert holdout_for(_performance(holdout_roc_auc=None), "ROC-AUC") == 0.845


def test_ui_health_charts_draw_the_limits() -> None:
    spec = drift_chart(drift_frame(_drift()), LIMITS).to_dict()
    rules = [layer for layer in spec["layer"] if layer["mark"].get("type") == "rule"]
    assert len(rules) == 2
    values = str(spec.get("datasets"))
    assert "watch (0.1)" in values and "drift (0.2)" in values
    latest = latest_drift_chart(latest_frame(drift_frame(_drift())), LIMITS).to_dict()
    rules = [layer for layer in latest["layer"] if layer["mark"].get("type") == "rule"]
    assert [r["encoding"]["x"]["field"] for r in rules] == ["psi", "psi"]
    assert "watch (0.1)" in str(latest.get("datasets"))
    frame = score_frame(ScoreBins.model_validate(REFERENCE_SCORE), [0.1] * 10)
    assert score_distribution_chart(frame).to_dict()["layer"][0]["mark"]["type"] == "bar"
    perf = performance_chart(performance_frame(_performance()), "ROC-AUC", 0.845).to_dict()
    assert "training holdout (0.845)" in str(perf.get("datasets"))
    no_line = performance_chart(performance_frame(_performance()), "Brier score", None).to_dict()
    assert len(no_line["layer"]) == 1
