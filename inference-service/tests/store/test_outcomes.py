"""`churn-score outcomes` over a store (SQLite and PostgreSQL): bad rows reported with row and
reason and counted, outcomes joined to the latest score made before them, the realized
performance stored and shown by /monitoring/performance's reads; re-ingesting is idempotent."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from churn_api.scoring import performance as perf
from churn_api.scoring.cli import main
from churn_api.scoring.labels import LabelsError, read_labels
from churn_api.scoring.outcomes import OutcomesRequest, ingest_outcomes
from churn_api.store import RunRecord, ScoredRows
from churn_api.store.monitoring_reads import latest_performance
from churn_api.store.monitoring_schema import outcomes
from churn_api.store.writes import start_run, write_partition

TODAY = date(2026, 11, 30)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)


def write_scores(
    engine: Any, ids: list[str], p: list[float], snapshot: date, version: str = "1"
) -> None:
    """Scores with known probabilities, made the day after their snapshot."""
    run = RunRecord("file:///s.parquet", snapshot, "telco-churn", version)
    start_run(engine, run)
    n = len(ids)
    rows = ScoredRows(
        customer_id=ids,
        attributes=[{"tenure": 1}] * n,
        customer_value=np.full(n, 100.0),
        value_source=["monthly_charges"] * n,
        contract=["Month-to-month"] * n,
        tenure=np.ones(n),
        churn_probability=np.array(p),
        churn=np.array(p) >= 0.5,
        risk_band=["high"] * n,
        expected_value=np.zeros(n),
        reasons=[None] * n,
        scored_at=datetime(snapshot.year, snapshot.month, snapshot.day, tzinfo=UTC)
        + timedelta(days=1),
    )
    write_partition(engine, run, rows)


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(["customerID,churned,outcome_date", *lines]) + "\n")
    return path


def test_bad_rows_are_reported_with_row_and_reason_and_counted(
    engine: Any, store_url: str, tmp_path: Path
) -> None:
    write_scores(engine, ["A", "B", "C"], [0.9, 0.2, 0.6], date(2026, 9, 1))
    labels = write_csv(
        tmp_path / "labels.csv",
        [
            "A,Yes,2026-10-01",  # row 1: fine
            "B,no,2026-10-01",  # row 2: fine (any case)
            "ZZZ,Yes,2026-10-01",  # row 3: unknown customer
            "C,Yes,2027-01-01",  # row 4: in the future
            "C,maybe,2026-10-01",  # row 5: not yes/no
            "C,1,2026-10-01",  # row 6: 1 is not guessed to mean yes
            "C,Yes,01/10/2026",  # row 7: not a date
            "C,Yes,",  # row 8: no date
            ",Yes,2026-10-01",  # row 9: no id
            "A,No,2026-10-01",  # row 10: the same customer and date as row 1
            "C,YES,2026-10-02",  # row 11: fine
        ],
    )
    summary = ingest_outcomes(
        OutcomesRequest(str(labels), database_url=store_url, mlflow=False, today=TODAY)
    )
    assert summary["rows_read"] == 11
    assert summary["rows_ingested"] == 3 and summary["rows_rejected"] == 8
    rejected = {r["row"]: r for r in summary["rejected_sample"]}
    assert sorted(rejected) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert rejected[3]["reasons"] == ["unknown customer id (not in the customer store)"]
    assert rejected[3]["customer_id"] == "ZZZ"
    assert "in the future" in rejected[4]["reasons"][0]
    assert rejected[5]["reasons"] == ["churned 'maybe' is not yes or no"]
    assert rejected[6]["reasons"] == ["churned '1' is not yes or no"]
    assert "is not a date (YYYY-MM-DD)" in rejected[7]["reasons"][0]
    assert rejected[8]["reasons"] == ["no outcome date"]
    assert rejected[9]["reasons"] == ["no customer id"]
    assert rejected[10]["reasons"] == ["the same customer and date as row 1"]
    assert summary["rejected_by_reason"] == {
        "missing_id": 1,
        "bad_label": 2,
        "bad_date": 2,
        "future_date": 1,
        "duplicate": 1,
        "unknown_customer": 1,
    }
    with engine.connect() as conn:
        stored = conn.execute(select(outcomes.c.customer_id, outcomes.c.churned)).all()
    assert sorted(stored) == [("A", True), ("B", False), ("C", True)]
    assert summary["mlflow"]["error"] == "--no-mlflow"


def test_outcomes_join_the_latest_score_before_them(
    engine: Any, store_url: str, tmp_path: Path
) -> None:
    ids = ["A", "B", "C", "D"]
    write_scores(engine, ids, [0.1, 0.2, 0.3, 0.4], date(2026, 8, 1))
    write_scores(engine, ids, [0.9, 0.2, 0.6, 0.3], date(2026, 9, 1))  # the ones that count
    write_scores(engine, ids, [0.0, 1.0, 0.0, 1.0], date(2026, 10, 20))  # after: never
    labels = write_csv(
        tmp_path / "labels.csv",
        ["A,Yes,2026-10-01", "B,No,2026-10-01", "C,No,2026-10-01", "D,Yes,2026-10-01"],
    )
    summary = ingest_outcomes(
        OutcomesRequest(str(labels), database_url=store_url, mlflow=False, today=TODAY)
    )
    expected = perf.metrics([1, 0, 0, 1], [0.9, 0.2, 0.6, 0.3])
    rows = {r["month"]: r for r in summary["performance"]}
    assert set(rows) == {"2026-09", "all"}
    for name, value in expected.items():
        assert rows["2026-09"][name] == pytest.approx(value), name
    assert rows["2026-09"]["roc_auc"] == pytest.approx(0.75)
    assert summary["outcomes_evaluated"] == 4 and summary["outcomes_without_earlier_score"] == 0
    stored = latest_performance(engine)
    assert {r["month"]: r["roc_auc"] for r in stored["rows"]} == {
        "2026-09": pytest.approx(0.75),
        "all": pytest.approx(0.75),
    }
    # Again: the same outcomes (upserted, not doubled), a new computation replaces the last.
    again = ingest_outcomes(
        OutcomesRequest(str(labels), database_url=store_url, mlflow=False, today=TODAY)
    )
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outcomes)).scalar() == 4
    assert again["performance"] == summary["performance"]
    assert latest_performance(engine)["computed_at"] == again["computed_at"]


def test_an_outcome_before_every_score_is_counted_not_evaluated(
    engine: Any, store_url: str, tmp_path: Path
) -> None:
    write_scores(engine, ["A"], [0.7], date(2026, 10, 1))
    labels = write_csv(tmp_path / "labels.csv", ["A,Yes,2026-09-01"])
    summary = ingest_outcomes(
        OutcomesRequest(str(labels), database_url=store_url, mlflow=False, today=TODAY)
    )
    assert summary["rows_ingested"] == 1 and summary["performance"] == []
    assert summary["outcomes_without_earlier_score"] == 1


def test_parquet_labels_with_typed_columns(tmp_path: Path) -> None:
    path = tmp_path / "labels.parquet"
    table = pa.table(
        {
            "customer_id": ["A", "B", "C"],
            "Churn": [True, False, None],
            "date": pa.array([date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)]),
        }
    )
    pq.write_table(table, path)
    labels = read_labels(str(path), TODAY)
    assert [(o.customer_id, o.churned, o.outcome_date) for o in labels.outcomes] == [
        ("A", True, date(2026, 10, 1)),
        ("B", False, date(2026, 10, 2)),
    ]
    assert labels.rejected == [{"row": 3, "customer_id": "C", "reasons": ["no churned label"]}]


def test_files_that_cannot_be_outcomes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("customerID,label,outcome_date\nA,Yes,2026-10-01\n")
    with pytest.raises(LabelsError, match=r"no churned column \(churned or Churn\)"):
        read_labels(str(bad), TODAY)
    both = tmp_path / "both.csv"
    both.write_text("customerID,customer_id,churned,date\nA,A,Yes,2026-10-01\n")
    with pytest.raises(LabelsError, match="both customerID and customer_id"):
        read_labels(str(both), TODAY)
    with pytest.raises(LabelsError, match="--labels"):
        read_labels("ftp://example.com/labels.csv", TODAY)


def test_the_cli(
    engine: Any, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_scores(engine, ["A", "B"], [0.8, 0.3], date(2026, 9, 1))
    today = datetime.now(UTC).date()
    labels = write_csv(
        tmp_path / "labels.csv", [f"A,Yes,{today}", f"B,No,{today}", "Q,No,2026-01-01"]
    )
    args = ["outcomes", "--labels", str(labels), "--database-url", store_url, "--no-mlflow"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "ingested 2, rejected 1 (unknown_customer 1)" in out
    assert "rejected row 3 (Q): unknown customer id" in out
    assert "telco-churn v1 2026-09: n 2 churned 1, ROC-AUC 1.000" in out
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows_ingested"] == 2 and summary["performance"][0]["roc_auc"] == 1.0
    bad = tmp_path / "bad.csv"
    bad.write_text("id,churned,date\n")
    assert main(["outcomes", "--labels", str(bad), "--database-url", store_url]) == 2
    assert "no customer id column" in capsys.readouterr().err
