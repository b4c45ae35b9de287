"""Writing scoring runs to the customer store: idempotent bulk upserts (PostgreSQL, SQLite).

Per partition, in one transaction: each customer's row (attributes and the LATEST score) is
upserted unless the store already holds a newer snapshot of that customer, and each score is
upserted into the history keyed by (customer, snapshot date, model name, model version), so a
re-run updates in place and a new model version adds a row.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, update
from sqlalchemy.dialects import postgresql, sqlite

from churn_api.store.engine import store_errors
from churn_api.store.schema import customers, scores, scoring_runs

# SQLite allows 32,766 bound parameters per statement; 16 columns x 1,000 rows stays below.
_CHUNK = 1000
REJECTED_SAMPLE_MAX = 100


@dataclass
class RunRecord:
    """One `churn-score run`: what was scored, with which model and engine."""

    snapshot_uri: str  # credentials stripped by the caller
    snapshot_date: date
    model_name: str
    model_version: str
    engine: str = "local"  # "local" | "dask"
    snapshot_sha256: str | None = None
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class ScoredRows:
    """One scored partition, column-wise (lists or 1-d ndarrays of equal length).

    attributes: the validated values as /predict sees them (blank -> None, imputed fields NOT
    filled in); reasons: a list of reasons or None per row; scored_at: when it was scored.
    """

    customer_id: Sequence[str]
    attributes: Sequence[dict[str, Any]]
    customer_value: Sequence[float] | np.ndarray
    value_source: Sequence[str]
    contract: Sequence[str | None]
    tenure: Sequence[float | None] | np.ndarray
    churn_probability: Sequence[float] | np.ndarray
    churn: Sequence[bool] | np.ndarray
    risk_band: Sequence[str]
    expected_value: Sequence[float] | np.ndarray
    reasons: Sequence[list[dict[str, Any]] | None]
    scored_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __len__(self) -> int:
        return len(self.customer_id)

    def check(self) -> None:
        """ValueError unless every column has one value per customer."""
        n = len(self.customer_id)
        for name in (
            "attributes",
            "customer_value",
            "value_source",
            "contract",
            "tenure",
            "churn_probability",
            "churn",
            "risk_band",
            "expected_value",
            "reasons",
        ):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"ScoredRows.{name} has {len(getattr(self, name))} values, not {n}"
                )


def _plain(values: Sequence[Any] | np.ndarray) -> list[Any]:
    """Python scalars (drivers do not adapt numpy types); NaN -> None."""
    items = values.tolist() if isinstance(values, np.ndarray) else list(values)
    return [None if isinstance(v, float) and v != v else v for v in items]


def _records(run: RunRecord, rows: ScoredRows) -> tuple[list[dict], list[dict]]:
    """The customers rows and the scores rows of a partition."""
    ids = [str(c) for c in rows.customer_id]
    prob = _plain(rows.churn_probability)
    churn = [bool(c) for c in _plain(rows.churn)]
    ev = _plain(rows.expected_value)
    value = _plain(rows.customer_value)
    tenure = _plain(rows.tenure)
    at = rows.scored_at
    common = {
        "model_name": run.model_name,
        "model_version": run.model_version,
        "run_id": run.run_id,
        "snapshot_date": run.snapshot_date,
        "scored_at": at,
    }
    customer_rows, score_rows = [], []
    for k, cid in enumerate(ids):
        score = {
            "customer_id": cid,
            "churn_probability": prob[k],
            "churn": churn[k],
            "risk_band": str(rows.risk_band[k]),
            "expected_value": ev[k],
            "reasons": rows.reasons[k],
            **common,
        }
        score_rows.append(score)
        customer_rows.append(
            {
                **score,
                "attributes": rows.attributes[k],
                "customer_value": value[k],
                "value_source": str(rows.value_source[k]),
                "contract": rows.contract[k],
                "tenure": tenure[k],
            }
        )
    return customer_rows, score_rows


def _insert(engine: Engine) -> Any:
    name = engine.dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise ValueError(f"unsupported database {name!r}")


def _upserts(engine: Engine) -> tuple[Any, Any]:
    """(customers upsert, scores upsert) statements for the engine's dialect."""
    insert = _insert(engine)
    c = insert(customers)
    keep = {
        col.name: c.excluded[col.name] for col in customers.columns if col.name != "customer_id"
    }
    # An older snapshot scored later never replaces the newer one a customer already has.
    customers_stmt = c.on_conflict_do_update(
        index_elements=[customers.c.customer_id],
        set_=keep,
        where=customers.c.snapshot_date <= c.excluded.snapshot_date,
    )
    s = insert(scores)
    scores_stmt = s.on_conflict_do_update(
        index_elements=[
            scores.c.customer_id,
            scores.c.snapshot_date,
            scores.c.model_name,
            scores.c.model_version,
        ],
        set_={
            name: s.excluded[name]
            for name in (
                "run_id",
                "churn_probability",
                "churn",
                "risk_band",
                "expected_value",
                "reasons",
                "scored_at",
            )
        },
    )
    return customers_stmt, scores_stmt


def write_partition(engine: Engine, run: RunRecord, rows: ScoredRows) -> None:
    """Upsert one scored partition (one transaction); StoreUnavailableError on failure."""
    rows.check()
    if not len(rows):
        return
    customer_rows, score_rows = _records(run, rows)
    customers_stmt, scores_stmt = _upserts(engine)
    with store_errors(str(engine.url)), engine.begin() as conn:
        for start in range(0, len(customer_rows), _CHUNK):
            # Customers first: every score row's customer must exist (foreign key).
            conn.execute(customers_stmt, customer_rows[start : start + _CHUNK])
            conn.execute(scores_stmt, score_rows[start : start + _CHUNK])


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
