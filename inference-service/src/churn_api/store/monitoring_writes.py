"""Writing monitoring results: a scoring run's drift report, outcomes (idempotent upserts on
(customer, outcome date)) and a realized-performance computation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete
from sqlalchemy.dialects import postgresql, sqlite

from churn_api.drift import SCORE_FIELD, DriftReport
from churn_api.store.engine import store_errors
from churn_api.store.monitoring_schema import drift_reports, outcomes, performance

_CHUNK = 1000


def drift_rows(
    run_id: str,
    report: DriftReport,
    unseen_rejected: Mapping[str, Mapping[str, int]] | None = None,
    created_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The drift_reports rows of a run: one per field, and the score's ("__score__").

    unseen_rejected: per field, values of rows the run rejected for an unknown category; they
    are added to the field's unseen counts (the valid rows never hold one).
    """
    at = created_at or datetime.now(UTC)
    extra = unseen_rejected or {}
    rows = []
    for r in report.rows:
        unseen = dict(r.unseen)
        for value, count in extra.get(r.field, {}).items():
            unseen[value] = unseen.get(value, 0) + int(count)
        rows.append(
            {
                "run_id": run_id,
                "field": r.field,
                "kind": r.kind,
                "n": r.n,
                "psi": r.psi,
                "statistic": r.statistic,
                "p_value": r.p_value,
                "missing_rate": r.missing_rate,
                "missing_rate_reference": r.missing_rate_reference,
                "unseen": unseen,
                "frequencies": None,
                "created_at": at,
            }
        )
    rows.append(
        {
            "run_id": run_id,
            "field": SCORE_FIELD,
            "kind": "score",
            "n": report.n,
            "psi": report.score_psi,
            "statistic": None,
            "p_value": None,
            "missing_rate": None,
            "missing_rate_reference": None,
            "unseen": {},
            "frequencies": report.score_frequencies,
            "created_at": at,
        }
    )
    return rows


def _insert(engine: Engine) -> Any:
    name = engine.dialect.name
    if name not in ("postgresql", "sqlite"):
        raise ValueError(f"unsupported database {name!r}")
    return postgresql.insert if name == "postgresql" else sqlite.insert


def write_drift(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    """Replace the drift rows of the runs in `rows` (a re-written report replaces the old)."""
    run_ids = sorted({r["run_id"] for r in rows})
    with store_errors(str(engine.url)), engine.begin() as conn:
        conn.execute(delete(drift_reports).where(drift_reports.c.run_id.in_(run_ids)))
        if rows:
            conn.execute(drift_reports.insert(), list(rows))


def upsert_outcomes(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    """Insert outcomes {customer_id, churned, outcome_date, ingested_at, source}; an outcome
    already stored for the same customer and date is replaced (re-ingesting is idempotent)."""
    insert = _insert(engine)
    stmt = insert(outcomes)
    stmt = stmt.on_conflict_do_update(
        index_elements=[outcomes.c.customer_id, outcomes.c.outcome_date],
        set_={name: stmt.excluded[name] for name in ("churned", "ingested_at", "source")},
    )
    with store_errors(str(engine.url)), engine.begin() as conn:
        for start in range(0, len(rows), _CHUNK):
            conn.execute(stmt, list(rows[start : start + _CHUNK]))


def write_performance(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    """Append one computation's rows (they share computed_at)."""
    if not rows:
        return
    with store_errors(str(engine.url)), engine.begin() as conn:
        conn.execute(performance.insert(), list(rows))
