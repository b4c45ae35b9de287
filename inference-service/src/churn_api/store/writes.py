"""Writing scoring runs to the customer store: idempotent bulk upserts (PostgreSQL, SQLite).

Per partition, in one transaction: each customer's row (attributes and the LATEST score) is
upserted unless the store already holds a newer snapshot of that customer, and each score is
upserted into the history keyed by (customer, snapshot date, model name, model version), so a
re-run updates in place and a new model version adds a row. The statements are bulk.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, update

from churn_api.store.bulk import write_postgresql, write_sqlite
from churn_api.store.engine import store_errors
from churn_api.store.records import RunRecord, ScoredRows
from churn_api.store.schema import scoring_runs

REJECTED_SAMPLE_MAX = 100
_WRITERS = {"postgresql": write_postgresql, "sqlite": write_sqlite}


def write_partition(engine: Engine, run: RunRecord, rows: ScoredRows) -> None:
    """Upsert one scored partition (one transaction); StoreUnavailableError on failure."""
    rows.check()
    if not len(rows):
        return
    name = engine.dialect.name
    if name not in _WRITERS:
        raise ValueError(f"unsupported database {name!r}")
    with store_errors(str(engine.url)), engine.begin() as conn:
        _WRITERS[name](conn, run, rows)


def start_run(engine: Engine, run: RunRecord) -> None:
    """Record a run as "running" before its first partition is written."""
    with store_errors(str(engine.url)), engine.begin() as conn:
        conn.execute(
            scoring_runs.insert().values(
                run_id=run.run_id,
                snapshot_uri=run.snapshot_uri,
                snapshot_sha256=run.snapshot_sha256,
                snapshot_date=run.snapshot_date,
                model_name=run.model_name,
                model_version=run.model_version,
                engine=run.engine,
                status="running",
                started_at=run.started_at,
                rows_read=0,
                rows_scored=0,
                rows_rejected=0,
            )
        )


def finish_run(
    engine: Engine,
    run_id: str,
    counts: Mapping[str, int],
    status: str,
    profit_curve: dict[str, Any] | None = None,
    *,
    rejected_sample: list[dict[str, Any]] | None = None,
    detail: str | None = None,
) -> None:
    """Close a run: counts (rows_read, rows_scored, rows_rejected), "succeeded" or "failed".

    profit_curve: the base's curves as the call list shows them, i.e.
    {"by_expected_value": value.profit_curve(...), "by_churn_probability": ..., "offer_cost"}
    (value.base_profit_curves builds it). rejected_sample: the first rejected rows
    ({"row", "customer_id", "errors"}), at most REJECTED_SAMPLE_MAX are kept.
    """
    if status not in ("succeeded", "failed"):
        raise ValueError(f"status must be 'succeeded' or 'failed', not {status!r}")
    unknown = set(counts) - {"rows_read", "rows_scored", "rows_rejected"}
    if unknown:
        raise ValueError(f"unknown counts: {sorted(unknown)}")
    values: dict[str, Any] = {
        "status": status,
        "finished_at": datetime.now(UTC),
        **{k: int(v) for k, v in counts.items()},
        "detail": detail,
    }
    # Left out rather than None: None would be stored as JSON null, not SQL NULL.
    if profit_curve is not None:
        values["profit_curve"] = profit_curve
    if rejected_sample is not None:
        values["rejected_sample"] = rejected_sample[:REJECTED_SAMPLE_MAX]
    with store_errors(str(engine.url)), engine.begin() as conn:
        result = conn.execute(
            update(scoring_runs).where(scoring_runs.c.run_id == run_id).values(**values)
        )
        if result.rowcount == 0:
            raise ValueError(f"no scoring run {run_id!r} (start_run first)")
