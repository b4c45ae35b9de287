"""/monitoring/drift and /monitoring/performance in process (TestClient on create_app() with
the tiny signed bundle) over a store on SQLite and a real PostgreSQL; the store-backed gauges
on /metrics; scopes, bad parameters, and 503 without a store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from churn_api.drift import THRESHOLDS, DriftReport, FieldDrift
from churn_api.monitoring_models import DriftHistory, PerformanceHistory
from churn_api.store.monitoring_writes import drift_rows, write_drift, write_performance


def _report(contract_psi: float, score_psi: float) -> DriftReport:
    rows = [
        FieldDrift("tenure", "numeric", 100, 0.05, 0.04, 0.6, 0.0, 0.0),
        FieldDrift("Contract", "categorical", 100, contract_psi, 30.0, 1e-6, 0.0, 0.0, {}),
        FieldDrift("MonthlyCharges", "numeric", 100, 0.15, 0.1, 0.01, 0.02, 0.0),
    ]
    return DriftReport(rows, score_psi, [0.5, 0.5], 100)


def _performance(at: datetime) -> list[dict[str, Any]]:
    base = {"model_name": "telco-churn", "n": 50, "positives": 10, "pr_auc": 0.5, "brier": 0.1}
    base |= {"calibration_error": 0.05, "top_decile_precision": 0.6, "labels_uri": "/l.csv"}
    return [
        base | {"model_version": "1", "month": "2026-09", "roc_auc": 0.81, "computed_at": at},
        base | {"model_version": "1", "month": "2026-10", "roc_auc": 0.70, "computed_at": at},
        base | {"model_version": "1", "month": "all", "roc_auc": 0.75, "computed_at": at},
    ]


@pytest.fixture
def filled(engine: Any, load: Any, tiny_records: list[dict[str, Any]]) -> list[str]:
    """Two runs with drift reports (the second drifted on Contract), one computation of
    realized performance superseded by a later one. Returns the run ids, oldest first."""
    first = load(engine, tiny_records[:50], snapshot_date=date(2026, 9, 1))
    second = load(engine, tiny_records[50:100], snapshot_date=date(2026, 10, 1))
    write_drift(engine, drift_rows(first.run_id, _report(0.01, 0.02)))
    write_drift(engine, drift_rows(second.run_id, _report(0.45, 0.3), {"Contract": {"Weekly": 3}}))
    now = datetime.now(UTC)
    stale = [r | {"roc_auc": 0.1} for r in _performance(now - timedelta(days=1))]
    write_performance(engine, stale)
    write_performance(engine, _performance(now))
    return [first.run_id, second.run_id]


@pytest.fixture
def api(apis: Any, filled: list[str], store_url: str) -> Iterator[TestClient]:
    yield from apis.client(apis.settings(database_url=store_url))


def test_drift_runs_newest_first_with_fields_ranked(
    api: TestClient, apis: Any, filled: list[str]
) -> None:
    r = api.get("/monitoring/drift", headers=apis.ui())
    assert r.status_code == 200, r.text
    body = r.json()
    DriftHistory.model_validate(body)
    assert body["thresholds"] == THRESHOLDS
    assert body["model_version"].startswith("local-") and body["reference_score"] is None
    assert [run["run_id"] for run in body["runs"]] == filled[::-1]
    latest = body["runs"][0]
    assert [f["field"] for f in latest["fields"]] == ["Contract", "MonthlyCharges", "tenure"]
    assert [f["status"] for f in latest["fields"]] == ["drift", "watch", "ok"]
    assert latest["drifted"] == ["Contract"]
    assert latest["fields"][0]["unseen"] == {"Weekly": 3}
    assert latest["score_psi"] == pytest.approx(0.3) and latest["score_status"] == "drift"
    assert latest["score_frequencies"] == [0.5, 0.5] and latest["n"] == 100
    assert latest["model"] == {"name": "telco-churn", "version": "1"}
    assert latest["model_version"] == "1" and latest["snapshot_date"] == "2026-10-01"
    assert "__score__" not in {f["field"] for f in latest["fields"]}
    assert body["runs"][1]["drifted"] == [] and body["runs"][1]["score_status"] == "ok"
    one = api.get("/monitoring/drift?runs=1", headers=apis.ui()).json()
    assert [run["run_id"] for run in one["runs"]] == [filled[1]]


def test_performance_latest_computation_by_month_and_overall(api: TestClient, apis: Any) -> None:
    r = api.get("/monitoring/performance", headers=apis.ui())
    assert r.status_code == 200, r.text
    body = r.json()
    PerformanceHistory.model_validate(body)
    assert [(row["month"], row["roc_auc"]) for row in body["rows"]] == [
        ("2026-09", 0.81),
        ("2026-10", 0.70),
    ]
    assert [(row["month"], row["roc_auc"]) for row in body["overall"]] == [("all", 0.75)]
    assert body["holdout_roc_auc"] == 0.8 and body["holdout"]["roc_auc"] == 0.8
    assert body["model_version"].startswith("local-") and body["roc_auc_drop_alert"] == 0.05
    assert body["computed_at"] == body["rows"][0]["computed_at"]


def test_store_gauges_on_metrics(api: TestClient) -> None:
    deadline = time.monotonic() + 10
    text = ""
    while "churn_batch_score_psi" not in text:
        assert time.monotonic() < deadline, text
        time.sleep(0.05)
        text = api.get("/metrics").text
    assert 'churn_batch_feature_psi{field="Contract"} 0.45' in text
    assert "churn_batch_score_psi 0.3" in text
    # The latest month with a ROC-AUC, of the latest computation only.
    assert 'churn_realized_roc_auc{model_version="1"} 0.7' in text
    assert 'churn_realized_top_decile_precision{model_version="1"} 0.6' in text
    assert 'churn_holdout_roc_auc{model_version="local-' in text
    assert "churn_monitoring_store_up 1.0" in text


@pytest.mark.parametrize("query", ["runs=0", "runs=201", "runs=abc", "runs=-1", "limit=3"])
def test_bad_parameters_are_named(api: TestClient, apis: Any, query: str) -> None:
    r = api.get(f"/monitoring/drift?{query}", headers=apis.ui())
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == query.split("=")[0]
    r = api.get("/monitoring/performance?runs=1", headers=apis.ui())
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "runs"


def test_scope_customers_is_needed(api: TestClient, apis: Any) -> None:
    for path in ("/monitoring/drift", "/monitoring/performance"):
        assert api.get(path).status_code == 401
        assert api.get(path, headers=apis.ui("predict")).status_code == 403
        assert api.get(path, headers=apis.bearer(apis.CLIENT_PROGRAM, "predict")).status_code == 403
        assert api.get(path, headers=apis.bearer(apis.OPERATOR, "customers")).status_code == 200


def test_without_a_store_503(apis: Any) -> None:
    for client in apis.client(apis.settings()):
        for path in ("/monitoring/drift", "/monitoring/performance"):
            r = client.get(path, headers=apis.ui())
            assert r.status_code == 503
            assert "DATABASE_URL" in str(r.json()["detail"])
        assert "\nchurn_batch_score_psi " not in client.get("/metrics").text


def test_an_empty_store_answers_empty(apis: Any, engine: Any, store_url: str) -> None:
    for client in apis.client(apis.settings(database_url=store_url)):
        drift = client.get("/monitoring/drift", headers=apis.ui()).json()
        assert drift["runs"] == [] and drift["thresholds"] == THRESHOLDS
        perf = client.get("/monitoring/performance", headers=apis.ui()).json()
        assert perf["rows"] == [] and perf["overall"] == [] and perf["computed_at"] is None


def test_openapi_documents_the_routes(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/monitoring/drift", "/monitoring/performance"):
        assert paths[path]["get"]["security"] == [{"bearer": []}]
    names = [p["name"] for p in paths["/monitoring/drift"]["get"]["parameters"]]
    assert names == ["runs"]


def test_a_store_without_schema_is_503_and_store_up_0(apis: Any, tmp_path: Any) -> None:
    settings = apis.settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    for client in apis.client(settings):
        r = client.get("/monitoring/drift", headers=apis.ui())
        assert r.status_code == 503 and "churn-score migrate" in r.json()["detail"]
        deadline = time.monotonic() + 10
        while "churn_monitoring_store_up 0.0" not in client.get("/metrics").text:
            assert time.monotonic() < deadline
            time.sleep(0.05)
