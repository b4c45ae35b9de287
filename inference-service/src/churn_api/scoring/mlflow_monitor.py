"""Monitoring runs in MLflow (experiment `telco-churn-monitoring`): a scoring run's drift and an
outcomes ingest's realized performance, as metrics, params, tags and artifacts. MLflow being
unreachable never fails the job: the result says why nothing was logged."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from churn_api.scoring.drift_chart import drift_svg
from churn_api.scoring.drift_run import RunDrift

EXPERIMENT = "telco-churn-monitoring"
CHART = "drift/most_drifted_fields.svg"


@dataclass(frozen=True)
class Logged:
    """What happened in MLflow: the run's id, or why nothing was logged."""

    logged: bool
    run_id: str | None = None
    experiment: str = EXPERIMENT
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "logged": self.logged,
            "run_id": self.run_id,
            "experiment": self.experiment,
            "error": self.error,
        }


def _client(tracking_uri: str, timeout_s: int, retries: int) -> Any:
    # Bound MLflow's own retries (default: minutes of backoff) so "down" is noticed quickly.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(timeout_s))
    # MLflow prints "View run ... at" on stdout, which holds the command's summary (--json).
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri)


def log_run(
    tracking_uri: str | None,
    run_name: str,
    metrics: Mapping[str, float | None],
    params: Mapping[str, Any],
    tags: Mapping[str, str],
    artifacts: Mapping[str, str],
    timeout_s: int = 10,
    retries: int = 1,
) -> Logged:
    """One finished run in the monitoring experiment; artifacts: path -> text."""
    if not tracking_uri:
        return Logged(False, error="MLFLOW_TRACKING_URI is not set")
    from mlflow.entities import Metric, Param

    try:
        client = _client(tracking_uri, timeout_s, retries)
        found = client.get_experiment_by_name(EXPERIMENT)
        experiment_id = found.experiment_id if found else client.create_experiment(EXPERIMENT)
        run = client.create_run(experiment_id, run_name=run_name, tags=dict(tags))
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[
                Metric(key, float(value), now, 0)
                for key, value in metrics.items()
                if value is not None
            ],
            params=[Param(key, str(value)[:6000]) for key, value in params.items()],
        )
        for path, text in artifacts.items():
            client.log_text(run_id, text, path)
        client.set_terminated(run_id)
    except Exception as exc:  # an unreachable or refusing server: the job goes on
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return Logged(False, error=f"MLflow unreachable or refused: {first[:300]}")
    return Logged(True, run_id=run_id)


def drift_metrics(drift: RunDrift) -> dict[str, float | None]:
    """psi.<field>, p_value.<field>, missing.<field>, unseen.<field>, score_psi, rows, drifted."""
    out: dict[str, float | None] = {}
    for row in drift.report.rows:
        out[f"psi.{row.field}"] = row.psi
        out[f"p_value.{row.field}"] = row.p_value
        out[f"missing.{row.field}"] = row.missing_rate
        if row.kind == "categorical":
            out[f"unseen.{row.field}"] = float(drift.unseen_total(row.field))
    out["score_psi"] = drift.report.score_psi
    out["rows"] = float(drift.report.n)
    out["drifted_fields"] = float(len(drift.report.drifted()))
    return out


def log_drift(
    tracking_uri: str | None,
    drift: RunDrift,
    run: Mapping[str, Any],
    timeout_s: int = 10,
    retries: int = 1,
) -> Logged:
    """A scoring run's drift: `run` holds scoring_run_id, snapshot_uri (no credentials),
    snapshot_sha256, snapshot_date, model_name, model_version."""
    tags = {
        "run_kind": "drift",
        "scoring_run_id": str(run["scoring_run_id"]),
        "model_name": str(run["model_name"]),
        "model_version": str(run["model_version"]),
        "snapshot_sha256": str(run.get("snapshot_sha256") or ""),
    }
    title = f"{run['model_name']} v{run['model_version']}: snapshot {run['snapshot_date']}"
    report = drift.report.as_dict() | {"unseen_rejected": drift.unseen_rejected}
    return log_run(
        tracking_uri,
        f"drift {run['snapshot_date']} v{run['model_version']}",
        drift_metrics(drift),
        {**run, "run_kind": "drift"},
        tags,
        {
            CHART: drift_svg(drift.report.rows, drift.report.score_psi, title),
            "drift/report.json": json.dumps(report, indent=1, default=str),
        },
        timeout_s,
        retries,
    )


def performance_metrics(rows: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """<metric>.<version>.<month> per row (month 'all': <metric>.<version>)."""
    out: dict[str, float | None] = {}
    names = ("roc_auc", "pr_auc", "brier", "calibration_error", "top_decile_precision", "n")
    for row in rows:
        suffix = row["model_version"] + ("" if row["month"] == "all" else f".{row['month']}")
        for name in names:
            value = row[name]
            out[f"{name}.{suffix}"] = None if value is None else float(value)
    return out
