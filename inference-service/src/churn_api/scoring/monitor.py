"""After a scoring run: its drift report against the model's reference, stored beside the run
and logged to MLflow; what happened is the run summary's "drift" section."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Engine

from churn_api.drift import FIELD_PSI_WATCH
from churn_api.scorer import LoadedModel
from churn_api.scoring.drift_run import PartitionDrift, RunDrift, run_drift
from churn_api.scoring.mlflow_monitor import Logged, log_drift
from churn_api.scoring.model import ScoreSettings
from churn_api.store.engine import StoreError
from churn_api.store.monitoring_writes import drift_rows, write_drift
from churn_api.store.writes import RunRecord

NO_REFERENCE = "no reference in this model"


def record_drift(
    engine: Engine,
    model: LoadedModel,
    run: RunRecord,
    parts: list[PartitionDrift],
    scores: np.ndarray,
    settings: ScoreSettings,
    use_mlflow: bool = True,
) -> tuple[dict[str, Any], RunDrift | None]:
    """The summary's drift section, and the report (None when the model has no reference).

    Neither the store nor MLflow failing here fails the run: its scores are already written;
    the section says what was not kept."""
    if model.reference is None:
        return {"status": NO_REFERENCE, "stored": False, "mlflow": None}, None
    drift = run_drift(model.reference, parts, scores)
    report = drift.report
    watched = sorted(
        (r for r in report.rows if r.psi is not None and r.psi > FIELD_PSI_WATCH),
        key=lambda r: (-(r.psi or 0.0), r.field),
    )
    section: dict[str, Any] = {
        "status": "drift" if report.drifted() or report.score_status == "drift" else "ok",
        "n": report.n,
        "score_psi": report.score_psi,
        "score_status": report.score_status,
        "drifted": report.drifted(),
        "watched": [{"field": r.field, "psi": r.psi, "status": r.status} for r in watched],
        "unseen_rejected": {k: sum(v.values()) for k, v in drift.unseen_rejected.items()},
        "stored": False,
    }
    try:
        write_drift(engine, drift_rows(run.run_id, report, drift.unseen_rejected))
        section["stored"] = True
    except StoreError as exc:
        section["store_error"] = str(exc)
    if use_mlflow:
        logged = log_drift(
            settings.mlflow_tracking_uri,
            drift,
            {
                "scoring_run_id": run.run_id,
                "snapshot_uri": run.snapshot_uri,
                "snapshot_sha256": run.snapshot_sha256,
                "snapshot_date": run.snapshot_date.isoformat(),
                "model_name": run.model_name,
                "model_version": run.model_version,
            },
            settings.mlflow_http_timeout,
            settings.mlflow_http_max_retries,
        )
    else:
        logged = Logged(False, error="--no-mlflow")
    section["mlflow"] = logged.as_dict()
    return section, drift
