"""Batch drift of churn-score runs with the trained champion: the IBM base against its own
model's reference (no drift), a shifted synthetic base (drift on exactly the shifted fields,
unknown categories counted), the monitoring run in a real MLflow server with its metrics and
SVG chart, and a run that succeeds (and says so) when MLflow is down."""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import testkit
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from churn_api.drift import FIELD_PSI_WATCH, SCORE_FIELD
from churn_api.main import create_app
from churn_api.scoring.cli import main
from churn_api.scoring.mlflow_monitor import CHART, EXPERIMENT
from churn_api.scoring.synth import synthesize
from churn_api.settings import Settings
from churn_api.store.monitoring_schema import drift_reports
from churn_api.store.schema import customers

pytestmark = pytest.mark.integration
SHIFTED = {"Contract", "MonthlyCharges", "TotalCharges"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MODEL_URI", "DATABASE_URL", "MLFLOW_TRACKING_URI", "MODEL_PUBLIC_KEYS"):
        monkeypatch.delenv(name, raising=False)


def score(
    customers: Path, model: Path, url: str, capsys: pytest.CaptureFixture[str], *more: str
) -> tuple[int, str]:
    code = main(
        [
            "run",
            "--no-progress",
            "--customers",
            str(customers),
            "--model-uri",
            str(model),
            "--database-url",
            url,
            "--drop-columns",
            "Churn",
            "--reasons",
            "none",
            *more,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    return code, out


def stored_drift(url: str, run_id: str) -> dict[str, dict[str, Any]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(drift_reports).where(drift_reports.c.run_id == run_id))
        found = {r.field: dict(r._mapping) for r in rows}
    engine.dispose()
    return found


def test_the_ibm_base_does_not_drift_from_its_own_reference(
    tmp_path: Path,
    dataset_csv: Path,
    trained_model_dir: Path,
    mlflow_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The reference is the training split, which the IBM base includes: every PSI is small.
    The monitoring run is in MLflow with every field's metrics and the chart."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    _, out = score(dataset_csv, trained_model_dir, url, capsys, "--json")
    summary = json.loads(out)
    drift = summary["drift"]
    assert drift["status"] == "ok" and drift["stored"] is True, drift
    assert drift["watched"] == [] and drift["drifted"] == []
    assert drift["n"] == summary["rows_scored"] == 7043
    assert drift["score_psi"] < 0.1
    rows = stored_drift(url, summary["run_id"])
    fields = {name for name in rows if name != SCORE_FIELD}
    assert len(fields) == 19 and SCORE_FIELD in rows
    assert max(r["psi"] for r in rows.values()) < 0.1
    assert rows[SCORE_FIELD]["psi"] == pytest.approx(drift["score_psi"])
    assert rows["TotalCharges"]["missing_rate"] == pytest.approx(11 / 7043)

    logged = drift["mlflow"]
    assert logged["logged"] is True and logged["experiment"] == EXPERIMENT, logged
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    run = client.get_run(logged["run_id"])
    assert run.data.tags["run_kind"] == "drift"
    assert run.data.tags["scoring_run_id"] == summary["run_id"]
    assert run.data.params["snapshot_sha256"] == summary["snapshot_sha256"]
    assert run.data.params["snapshot_uri"] == str(dataset_csv.resolve())
    assert run.data.params["model_version"] == summary["model"]["version"]
    metrics = run.data.metrics
    for name in fields:
        assert metrics[f"psi.{name}"] == pytest.approx(rows[name]["psi"])
        assert f"p_value.{name}" in metrics and f"missing.{name}" in metrics
    assert metrics["unseen.Contract"] == 0
    assert metrics["score_psi"] == pytest.approx(drift["score_psi"])
    with tempfile.TemporaryDirectory() as folder:
        svg = Path(client.download_artifacts(run.info.run_id, CHART, folder)).read_text()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    top = max(fields, key=lambda f: rows[f]["psi"])
    assert f">{top}</text>" in svg

    # The API serving the same model reads the run back, with the reference's score bins.
    settings = Settings(
        model_uri=str(trained_model_dir),
        churn_dev_mode=True,
        database_url=url,
        model_cache_dir=tmp_path / "cache",
        model_refresh_seconds=0,
        drift_interval_seconds=0.1,
    )
    with TestClient(create_app(settings)) as api:
        deadline = time.monotonic() + 60
        while api.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        body = api.get("/monitoring/drift").json()
        [served] = body["runs"]
        assert served["run_id"] == summary["run_id"]
        assert body["model_version"] == summary["model"]["version"]
        assert body["reference_score"] is not None
        assert served["reference_score"] == body["reference_score"]
        assert len(served["score_frequencies"]) == len(body["reference_score"]["frequencies"])
        perf = api.get("/monitoring/performance").json()
        assert perf["holdout_roc_auc"] > 0.8 and perf["rows"] == []
        while "\nchurn_batch_score_psi " not in (text := api.get("/metrics").text):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert f'churn_holdout_roc_auc{{model_version="{body["model_version"]}"}}' in text


def shift_base(path: Path, rng: np.random.Generator, unknown: int) -> None:
    """Month-to-month contracts' odds doubled, charges raised 30 %, and `unknown` rows with a
    payment method the model never saw."""
    table = pq.read_table(path)
    contract = np.array(table.column("Contract").to_pylist(), dtype=object)
    monthly = contract == "Month-to-month"
    p = monthly.mean()
    target = round(2 * p / (1 + p) * len(contract))
    convert = rng.choice(np.flatnonzero(~monthly), target - monthly.sum(), replace=False)
    contract[convert] = "Month-to-month"
    payment = np.array(table.column("PaymentMethod").to_pylist(), dtype=object)
    payment[:unknown] = "Crypto wallet"
    for name, values in (
        ("Contract", pa.array(contract.tolist(), pa.string())),
        ("PaymentMethod", pa.array(payment.tolist(), pa.string())),
        ("MonthlyCharges", pc.round(pc.multiply(table.column("MonthlyCharges"), 1.3), 2)),
        ("TotalCharges", pc.round(pc.multiply(table.column("TotalCharges"), 1.3), 2)),
    ):
        table = table.set_column(table.column_names.index(name), name, values)
    pq.write_table(table, path)


def test_a_shifted_base_drifts_on_exactly_the_shifted_fields(
    tmp_path: Path,
    dataset_csv: Path,
    trained_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = tmp_path / "base.parquet"
    synthesize(6000, str(base), str(dataset_csv), seed=4)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _, out = score(base, trained_model_dir, url, capsys, "--json", "--no-mlflow")
    calm = json.loads(out)["drift"]
    shift_base(base, np.random.default_rng(8), unknown=25)
    _, out = score(base, trained_model_dir, url, capsys, "--json", "--no-mlflow")
    summary = json.loads(out)
    drift = summary["drift"]
    rows = stored_drift(url, summary["run_id"])
    # PSI judges (p-values on thousands of rows flag the synthetic base's own jitter of
    # tenure): the shifted fields are over the watch line, every other one far under it.
    psi = {name: r["psi"] for name, r in rows.items() if name != SCORE_FIELD}
    moved = {name for name, value in psi.items() if value > FIELD_PSI_WATCH}
    assert max(v for name, v in psi.items() if name not in SHIFTED) < 0.02, psi
    assert all(rows[name]["p_value"] < 1e-6 for name in SHIFTED)
    assert moved == SHIFTED, moved
    assert drift["drifted"] == ["MonthlyCharges"]
    assert drift["status"] == "drift" and drift["mlflow"]["error"] == "--no-mlflow"
    assert calm["status"] == "ok" and calm["watched"] == [], calm
    # Rows with an unknown category are rejected by the run and counted as unseen.
    assert summary["rows_rejected"] == 25
    assert drift["unseen_rejected"] == {"PaymentMethod": 25}
    assert rows["PaymentMethod"]["unseen"] == {"Crypto wallet": 25}


def test_mlflow_down_the_run_still_succeeds_and_says_so(
    tmp_path: Path,
    dataset_csv: Path,
    trained_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = tmp_path / "base.parquet"
    synthesize(500, str(base), str(dataset_csv), seed=5)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{testkit.free_port()}")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _, out = score(base, trained_model_dir, url, capsys)
    assert "not logged to MLflow (MLflow unreachable" in out
    assert "drift report stored" in out
    engine = create_engine(url)
    with engine.connect() as conn:
        assert len(conn.execute(select(drift_reports)).all()) == 20
    engine.dispose()


def test_outcomes_ingest_is_logged_to_mlflow(
    tmp_path: Path,
    dataset_csv: Path,
    trained_model_dir: Path,
    mlflow_server: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Score a base as of a past month, learn what happened since, see the realized metrics
    in the store's summary and in the monitoring experiment."""
    base = tmp_path / "base.parquet"
    synthesize(800, str(base), str(dataset_csv), seed=6)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    _, out = score(
        base,
        trained_model_dir,
        url,
        capsys,
        "--json",
        "--no-mlflow",
        "--snapshot-date",
        "2026-09-01",
    )
    version = json.loads(out)["model"]["version"]
    engine = create_engine(url)
    with engine.connect() as conn:
        scored = conn.execute(select(customers.c.customer_id, customers.c.churn_probability)).all()
    engine.dispose()
    rng = np.random.default_rng(2)
    today = datetime.now(UTC).date()
    labels = tmp_path / "labels.csv"
    lines = [f"{cid},{'Yes' if rng.random() < p else 'No'},{today}" for cid, p in scored]
    labels.write_text("customerID,churned,outcome_date\n" + "\n".join(lines) + "\n")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    code = main(["outcomes", "--labels", str(labels), "--database-url", url, "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["rows_ingested"] == 800
    rows = {r["month"]: r for r in summary["performance"]}
    assert set(rows) == {"2026-09", "all"}
    # Labels drawn from the model's own probabilities: it ranks them well.
    assert rows["2026-09"]["roc_auc"] > 0.7
    logged = summary["mlflow"]
    assert logged["logged"] is True, logged
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    run = client.get_run(logged["run_id"])
    assert run.data.tags["run_kind"] == "outcomes"
    assert run.data.metrics[f"roc_auc.{version}.2026-09"] == pytest.approx(
        rows["2026-09"]["roc_auc"]
    )
    assert run.data.metrics[f"top_decile_precision.{version}"] == pytest.approx(
        rows["all"]["top_decile_precision"]
    )
    assert run.data.metrics["rows_ingested"] == 800
    assert client.get_experiment(run.info.experiment_id).name == EXPERIMENT
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(run.info.run_id, "outcomes/performance.json", folder)
        assert json.loads(Path(path).read_text()) == summary["performance"]


def test_a_dask_run_reports_the_same_drift(
    tmp_path: Path,
    dataset_csv: Path,
    trained_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The drift columns travel back from the workers with each partition's summary."""
    base = tmp_path / "base.parquet"
    synthesize(3000, str(base), str(dataset_csv), seed=7)
    shift_base(base, np.random.default_rng(1), unknown=5)
    found = []
    for name, more in (("local", []), ("dask", ["--scheduler", "local:1"])):
        url = f"sqlite:///{tmp_path / name}.db"
        _, out = score(
            base,
            trained_model_dir,
            url,
            capsys,
            "--json",
            "--no-mlflow",
            "--partition-rows",
            "700",
            *more,
        )
        run_id = json.loads(out)["run_id"]
        found.append(
            {
                f: (r["n"], r["psi"], r["p_value"], r["missing_rate"], r["unseen"])
                for f, r in stored_drift(url, run_id).items()
            }
        )
    local, dask = found
    assert local.keys() == dask.keys() and len(local) == 20
    for field, values in local.items():
        assert dask[field][0] == values[0] and dask[field][4] == values[4], field
        assert dask[field][1:4] == pytest.approx(values[1:4], nan_ok=True), field
    assert local["PaymentMethod"][4] == {"Crypto wallet": 5}
