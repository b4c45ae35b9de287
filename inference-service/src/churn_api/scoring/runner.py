"""One `churn-score run`, start to end: open the snapshot, load and verify the model, refuse
unknown columns, survey the ids, record the run, score and write every partition (in process or
on Dask), then close the run with its counts and the base's profit curves."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from churn_api import value
from churn_api.scorer import LoadedModel
from churn_api.scoring.cloudwatch import publish_run
from churn_api.scoring.cluster import StoreTarget, dask_client, run_dask, ship
from churn_api.scoring.engine import STAGES, Totals, run_local
from churn_api.scoring.job import PartitionScorer
from churn_api.scoring.model import ModelUnavailableError, ScoreSettings, load_scoring_model
from churn_api.scoring.monitor import record_drift
from churn_api.scoring.snapshot import KNOWN_EXTRAS, Snapshot, SnapshotError
from churn_api.scoring.survey import survey
from churn_api.store.engine import StoreError, database_url_default, make_engine, migrate
from churn_api.store.writes import RunRecord, ScoredRows, finish_run, start_run, write_partition


class RunFailedError(Exception):
    """The run could not finish (model, store or cluster); `summary` when it had started."""

    def __init__(self, message: str, summary: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class RunRequest:
    """What `churn-score run` was asked to do."""

    customers: str
    model_uri: str | None = None
    database_url: str | None = None
    scheduler: str | None = None
    snapshot_date: dt.date | None = None
    drop_columns: list[str] = field(default_factory=list)
    reasons: str = "top-decile"
    partition_rows: int = 50_000
    migrate: bool = True
    workers_write: bool = False
    mlflow: bool = True  # log the run's drift to MLflow's monitoring experiment
    settings: ScoreSettings | None = None


def score_snapshot(
    request: RunRequest, progress: Callable[[int, int | None], None] | None = None
) -> dict[str, Any]:
    """Run it; the summary. SnapshotError: bad input (exit 2); RunFailedError: exit 1."""
    settings = request.settings or ScoreSettings()
    if request.model_uri:
        settings = settings.model_copy(update={"model_uri": request.model_uri})
    url = (
        request.database_url
        or (settings.database_url.get_secret_value() if settings.database_url else None)
        or database_url_default()
    )
    with Snapshot(request.customers, settings.max_download_bytes) as snapshot:
        try:
            model = load_scoring_model(settings)
        except ModelUnavailableError as exc:
            raise RunFailedError(f"no model to score with: {exc}") from None
        columns = _columns(snapshot, model, request.drop_columns)
        found = survey(snapshot, model.contract.id_field)
        date = _snapshot_date(found.date, request.snapshot_date)
        engine = make_engine(url, timeout_s=settings.database_timeout_seconds)
        if request.workers_write and (not request.scheduler or engine.dialect.name == "sqlite"):
            engine.dispose()
            raise SnapshotError("--workers-write needs --scheduler and a PostgreSQL store")
        try:
            if request.migrate:
                migrate(engine)
            run = RunRecord(
                snapshot_uri=snapshot.uri,
                snapshot_date=date,
                model_name=model.meta.name,
                model_version=model.meta.version,
                engine="dask" if request.scheduler else "local",
                snapshot_sha256=snapshot.sha256,
            )
            start_run(engine, run)
        except StoreError as exc:
            engine.dispose()
            raise RunFailedError(str(exc)) from None
        try:
            return _score(
                request, settings, snapshot, model, columns, found.duplicates, engine, run, progress
            )
        finally:
            engine.dispose()


def _score(
    request: RunRequest,
    settings: ScoreSettings,
    snapshot: Snapshot,
    model: LoadedModel,
    columns: list[str],
    duplicates: dict[int, int],
    engine: Any,
    run: RunRecord,
    progress: Callable[[int, int | None], None] | None,
) -> dict[str, Any]:
    def write(rows: ScoredRows) -> None:
        write_partition(engine, run, rows)

    def tick(done: int) -> None:
        if progress is not None:
            progress(done, snapshot.rows)

    started = time.perf_counter()
    totals = Totals()
    batches = snapshot.batches(request.partition_rows, columns)
    try:
        if request.scheduler:
            target = None
            if request.workers_write:
                # local:N workers are ours: they get the URL; a cluster's use their own.
                local = request.scheduler.startswith("local:")
                url = engine.url.render_as_string(hide_password=False) if local else None
                target = StoreTarget(url, settings.database_timeout_seconds, run)
            with dask_client(request.scheduler) as client:
                shipment = ship(
                    model,
                    settings.public_keys_pem(),
                    settings.allow_unsigned_models,
                    request.reasons,
                )
                run_dask(client, shipment, batches, duplicates, write, tick, totals, target)
        else:
            scorer = PartitionScorer(model, request.reasons)
            run_local(scorer, batches, duplicates, write, tick, totals)
        p, ev = totals.arrays()
        curves = value.base_profit_curves(p, ev, model.contract.threshold.offer_cost)
    except Exception as exc:
        detail = f"{type(exc).__name__}: {exc}"[:2000]
        summary = _summary(run, snapshot, totals, time.perf_counter() - started, "failed")
        # The store may be what failed: the run then stays "running" there, and we say why.
        with contextlib.suppress(StoreError):
            finish_run(
                engine,
                run.run_id,
                _counts(totals),
                "failed",
                rejected_sample=totals.rejected_sample,
                detail=detail,
            )
        if isinstance(exc, SnapshotError):
            raise
        raise RunFailedError(detail, summary) from exc
    elapsed = time.perf_counter() - started
    try:
        finish_run(
            engine,
            run.run_id,
            _counts(totals),
            "succeeded",
            curves,
            rejected_sample=totals.rejected_sample,
        )
    except StoreError as exc:
        raise RunFailedError(str(exc), _summary(run, snapshot, totals, elapsed, "failed")) from None
    summary = _summary(run, snapshot, totals, elapsed, "succeeded", request.workers_write)
    summary["drift"], drift = record_drift(
        engine, model, run, totals.drift, p, settings, use_mlflow=request.mlflow
    )
    # With CLOUDWATCH_NAMESPACE: what the AWS alarms read (terraform/monitoring_alarms.tf).
    published = publish_run(engine, model, drift.report if drift is not None else None)
    if published is not None:
        summary["cloudwatch"] = published
    summary["profit_curve"] = {
        key: {k: curves[key][k] for k in ("best_k", "best_expected_value")}
        for key in ("by_expected_value", "by_churn_probability")
    }
    return summary


def _columns(snapshot: Snapshot, model: LoadedModel, drop: list[str]) -> list[str]:
    """The columns to read; SnapshotError naming unknown ones, or a missing id column."""
    id_field = model.contract.id_field
    known = [id_field, *model.customers.field_names, *KNOWN_EXTRAS]
    unknown = snapshot.unknown_columns(known, drop)
    if unknown:
        raise SnapshotError(
            f"unknown columns {unknown}: the snapshot's columns are the model's fields, "
            f"{id_field}, customer_value and snapshot_date; pass --drop-columns "
            f"{','.join(unknown)} to ignore them"
        )
    if id_field not in snapshot.columns or id_field in drop:
        raise SnapshotError(f"the snapshot has no {id_field} column: every customer needs an id")
    return [c for c in snapshot.columns if c in known and c not in drop and c != "snapshot_date"]


def _snapshot_date(column: dt.date | None, given: dt.date | None) -> dt.date:
    if column is not None and given is not None and column != given:
        raise SnapshotError(
            f"--snapshot-date {given} disagrees with the snapshot_date column ({column})"
        )
    return column or given or dt.datetime.now(dt.UTC).date()


def _counts(totals: Totals) -> dict[str, int]:
    return {
        "rows_read": totals.read,
        "rows_scored": totals.scored,
        "rows_rejected": totals.rejected,
    }


def _summary(
    run: RunRecord,
    snapshot: Snapshot,
    totals: Totals,
    elapsed: float,
    status: str,
    workers_write: bool = False,
) -> dict[str, Any]:
    rates = {
        stage: (totals.read / seconds if seconds > 0 else None)
        for stage, seconds in totals.seconds.items()
    }
    return {
        "status": status,
        "run_id": run.run_id,
        "snapshot": snapshot.uri,
        "snapshot_sha256": snapshot.sha256,
        "snapshot_date": run.snapshot_date.isoformat(),
        "model": {"name": run.model_name, "version": run.model_version},
        "engine": run.engine,
        "workers_write": workers_write,
        "rows_read": totals.read,
        "rows_scored": totals.scored,
        "rows_rejected": totals.rejected,
        "seconds": round(elapsed, 3),
        "rows_per_second": totals.read / elapsed if elapsed > 0 else None,
        "stage_seconds": {s: round(totals.seconds[s], 3) for s in STAGES},
        "stage_rows_per_second": rates,
        "rejected_sample": totals.rejected_sample[:20],
    }
