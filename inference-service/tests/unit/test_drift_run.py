"""A scoring run's drift columns: each partition's valid rows as the `Customer` model reads them
(suspect rows validated one by one included), unknown categories of rejected rows counted, and
the run's report equal to drift.compare on the validated values; the SVG chart; MLflow without
a tracking URI."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from churn_api import drift
from churn_api.drift import NULL_CODE, DriftReport, FieldDrift
from churn_api.reference import Reference
from churn_api.scorer import LoadedModel
from churn_api.scoring.drift_chart import drift_svg
from churn_api.scoring.drift_run import OTHER_VALUES, merge_unseen, run_drift
from churn_api.scoring.job import PartitionScorer
from churn_api.scoring.mlflow_monitor import log_run

NUMERIC = ("tenure", "MonthlyCharges", "TotalCharges")
TEXT = {"customerID": pa.string(), "SeniorCitizen": pa.string(), "tenure": pa.string()}


def batch(records: list[dict[str, Any]]) -> pa.RecordBatch:
    names = ["customerID", "gender", "SeniorCitizen", "tenure", "Contract", "MonthlyCharges"]
    types = {"gender": pa.string(), "Contract": pa.string(), "MonthlyCharges": pa.float64()}
    types |= TEXT
    return pa.record_batch(
        [pa.array([r.get(n) for r in records], type=types[n]) for n in names], names=names
    )


def as_text(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SeniorCitizen and tenure as a CSV carries them: the model validates those rows."""
    keys = ("SeniorCitizen", "tenure")
    return [{**r, **{k: None if r.get(k) is None else str(r[k]) for k in keys}} for r in records]


def decoded(model: LoadedModel, name: str, column: np.ndarray) -> list[Any]:
    spec = next(s for s in model.contract.fields if s.name == name)
    if spec.kind == "numeric":
        return [None if np.isnan(v) else float(v) for v in column.tolist()]
    return [None if c == NULL_CODE else spec.categories[c] for c in column.tolist()]


def test_columns_are_the_validated_values(
    tiny_model: LoadedModel, tiny_records: list[dict[str, Any]]
) -> None:
    records = as_text(tiny_records[:30])
    records[2]["tenure"] = None  # missing stays missing
    records[3]["Contract"] = "Weekly"  # rejected: unknown category
    records[4]["Contract"] = "Weekly"
    records[5]["gender"] = "\x00" * 100  # rejected, named safely and shortly
    records[6]["MonthlyCharges"] = -5.0  # rejected, but not for a category
    result = PartitionScorer(tiny_model, "none").score(batch(records), 1)
    assert [r.row for r in result.rejected] == [4, 5, 6, 7]
    part = result.drift
    assert part is not None
    for name, column in part.columns.items():
        assert len(column) == 26
        want = [a.get(name) for a in result.rows.attributes]
        if name in NUMERIC:
            want = [None if w is None else float(w) for w in want]
        assert decoded(tiny_model, name, column) == want, name
    assert part.unseen == {"Contract": {"Weekly": 2}, "gender": {"?" * 64: 1}}


def test_merge_unseen_bounds_the_values_kept() -> None:
    parts = [{"Contract": {f"v{k}": k + 1 for k in range(15)}}, {"Contract": {"v0": 100}}]
    parts.append({"Contract": {f"w{k}": 1 for k in range(10)}})
    merged = merge_unseen(parts)["Contract"]
    assert len(merged) == 20 and merged["v0"] == 101
    assert sum(merged.values()) == 101 + sum(range(2, 16)) + 10
    assert merged[OTHER_VALUES] > 0


def test_run_report_equals_compare_on_the_values(
    tiny_model: LoadedModel, tiny_records: list[dict[str, Any]]
) -> None:
    values = {
        "tenure": np.array([r["tenure"] for r in tiny_records], dtype=float),
        "Contract": [r["Contract"] for r in tiny_records],
    }
    reference = Reference.model_validate(
        {
            "format": 1,
            "rows": 100,
            "computed_on": "test",
            "fields": {
                "tenure": {
                    "kind": "numeric",
                    "count": 100,
                    "missing_rate": 0.0,
                    "edges": [12.0, 36.0],
                    "frequencies": [0.3, 0.4, 0.3],
                    "quantiles": np.linspace(0, 72, 101).tolist(),
                },
                "Contract": {
                    "kind": "categorical",
                    "count": 100,
                    "missing_rate": 0.0,
                    "categories": ["Month-to-month", "One year", "Two year"],
                    "frequencies": [0.5, 0.25, 0.25],
                },
            },
            "score": {
                "edges": [0.5],
                "frequencies": [0.6, 0.4],
                "quantiles": np.linspace(0, 1, 101).tolist(),
            },
        }
    )
    scorer = PartitionScorer(tiny_model, "none")
    halves = [tiny_records[:150], tiny_records[150:]]
    results = [scorer.score(batch(as_text(h)), 1) for h in halves]
    scores = np.concatenate([np.asarray(r.rows.churn_probability) for r in results])
    ours = run_drift(reference, [r.drift for r in results], scores).report
    theirs = drift.compare(reference, values, scores)
    assert len(ours.rows) == 2 and ours.n == len(tiny_records)
    for a, b in zip(ours.rows, theirs.rows, strict=True):
        assert (a.field, a.n, a.unseen) == (b.field, b.n, b.unseen)
        assert a.psi == pytest.approx(b.psi) and a.p_value == pytest.approx(b.p_value)
    assert ours.score_psi == pytest.approx(theirs.score_psi)


def test_the_chart_names_the_most_drifted_fields_escaped() -> None:
    rows = [FieldDrift(f"f{k}", "numeric", 10, k / 20, None, None, 0.0, 0.0) for k in range(12)]
    rows.append(FieldDrift("<b&>", "categorical", 10, 0.9, None, None, 0.0, 0.0))
    rows.append(FieldDrift("none", "numeric", 0, None, None, None, None, 0.0))
    svg = drift_svg(DriftReport(rows, 0.05, None, 10).rows, 0.05, "t & <x>")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "&lt;b&amp;&gt;" in svg and "<b&>" not in svg and "t &amp; &lt;x&gt;" in svg
    assert ">f11</text>" in svg and ">f2</text>" not in svg  # ten bars, highest PSI first
    assert svg.count('fill="#d62728"') == 8  # over 0.2: 0.9 and f5 (0.25) .. f11 (0.55)
    assert "score PSI 0.050" in svg and "watch 0.1" in svg and "drift 0.2" in svg


def test_no_tracking_uri_is_said_not_raised() -> None:
    logged = log_run(None, "x", {"a": 1.0}, {}, {}, {})
    assert logged.logged is False and logged.error == "MLFLOW_TRACKING_URI is not set"
