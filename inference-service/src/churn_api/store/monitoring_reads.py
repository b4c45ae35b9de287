"""Reading monitoring results: the latest runs' drift, the current realized performance, and
what an outcomes ingest needs (known customers, each outcome's candidate scores). Blocking:
run off the event loop; StoreUnavailableError / StoreSchemaError, never a driver error."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from churn_api.drift import SCORE_FIELD, SCORE_PSI_DRIFT, field_status
from churn_api.store.engine import store_errors
from churn_api.store.monitoring_schema import drift_reports, outcomes, performance
from churn_api.store.queries import RUNS_MAX
from churn_api.store.schema import customers, scores, scoring_runs

_CHUNK = 1000
_STREAM = 10_000
_RUN_NAMES = (
    "run_id",
    "status",
    "started_at",
    "finished_at",
    "snapshot_uri",
    "snapshot_sha256",
    "snapshot_date",
    "model_name",
    "model_version",
    "rows_scored",
    "rows_rejected",
)
_FIELD_NAMES = (
    "field",
    "kind",
    "n",
    "psi",
    "statistic",
    "p_value",
    "missing_rate",
    "missing_rate_reference",
    "unseen",
)
_PERFORMANCE_NAMES = (
    "model_name",
    "model_version",
    "month",
    "n",
    "positives",
    "roc_auc",
    "pr_auc",
    "brier",
    "calibration_error",
    "top_decile_precision",
    "labels_uri",
)


def iso(value: datetime | date | None) -> str | None:
    """ISO text; SQLite returns naive datetimes, which the writers stored as UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat() if value is not None else None


def drift_history(engine: Engine, runs: int = 20) -> list[dict[str, Any]]:
    """The latest `runs` scoring runs that have a drift report, newest first, each with its
    fields' drift (most drifted first), its score PSI and score bin shares."""
    runs = max(1, min(int(runs), RUNS_MAX))
    latest = (
        select(scoring_runs.c.run_id)
        .where(scoring_runs.c.run_id.in_(select(drift_reports.c.run_id).distinct()))
        .order_by(scoring_runs.c.started_at.desc(), scoring_runs.c.run_id)
        .limit(runs)
    )
    with store_errors(str(engine.url)), engine.connect() as conn:
        run_rows = conn.execute(
            select(*(scoring_runs.c[n] for n in _RUN_NAMES))
            .where(scoring_runs.c.run_id.in_(latest))
            .order_by(scoring_runs.c.started_at.desc(), scoring_runs.c.run_id)
        ).all()
        drift = conn.execute(
            select(drift_reports).where(drift_reports.c.run_id.in_([r.run_id for r in run_rows]))
        ).all()
    fields: dict[str, list[dict[str, Any]]] = {r.run_id: [] for r in run_rows}
    score: dict[str, Any] = {}
    for d in drift:
        if d.field == SCORE_FIELD:
            score[d.run_id] = d
            continue
        row = {name: getattr(d, name) for name in _FIELD_NAMES}
        row["unseen"] = row["unseen"] or {}
        row["status"] = field_status(d.psi)
        fields[d.run_id].append(row)
    out = []
    for r in run_rows:
        entry = {name: getattr(r, name) for name in _RUN_NAMES}
        for name in ("started_at", "finished_at", "snapshot_date"):
            entry[name] = iso(entry[name])
        ranked = sorted(fields[r.run_id], key=lambda f: (-(f["psi"] or 0.0), f["field"]))
        s = score.get(r.run_id)
        score_psi = s.psi if s is not None else None
        entry |= {
            "model": {"name": entry.pop("model_name"), "version": entry.pop("model_version")},
            "created_at": iso(s.created_at) if s is not None else None,
            "n": s.n if s is not None else None,
            "score_psi": score_psi,
            "score_status": "drift"
            if score_psi is not None and score_psi > SCORE_PSI_DRIFT
            else "ok",
            "score_frequencies": s.frequencies if s is not None else None,
            "drifted": [f["field"] for f in ranked if f["status"] == "drift"],
            "fields": ranked,
        }
        out.append(entry)
    return out


def latest_performance(engine: Engine) -> dict[str, Any]:
    """The latest realized-performance computation: {computed_at, rows} (rows empty if none)."""
    with store_errors(str(engine.url)), engine.connect() as conn:
        at = conn.execute(select(func.max(performance.c.computed_at))).scalar()
        if at is None:
            return {"computed_at": None, "rows": []}
        rows = conn.execute(
            select(*(performance.c[n] for n in _PERFORMANCE_NAMES))
            .where(performance.c.computed_at == at)
            .order_by(performance.c.model_name, performance.c.model_version, performance.c.month)
        ).all()
    return {
        "computed_at": iso(at),
        "rows": [{n: getattr(r, n) for n in _PERFORMANCE_NAMES} for r in rows],
    }


def known_customers(engine: Engine, ids: Iterable[str]) -> set[str]:
    """The ids among `ids` that the store holds."""
    wanted = sorted(set(ids))
    found: set[str] = set()
    with store_errors(str(engine.url)), engine.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found.update(
                conn.execute(
                    select(customers.c.customer_id).where(customers.c.customer_id.in_(chunk))
                ).scalars()
            )
    return found


def outcome_scores(engine: Engine) -> Iterator[tuple[Any, ...]]:
    """Every stored outcome with each score of its customer whose snapshot is older than the
    outcome: (customer_id, outcome_date, churned, model_name, model_version, snapshot_date,
    scored_at, churn_probability), streamed (a base's worth of outcomes never sits in memory
    as rows). performance.latest_before keeps the latest one made in time."""
    query = select(
        outcomes.c.customer_id,
        outcomes.c.outcome_date,
        outcomes.c.churned,
        scores.c.model_name,
        scores.c.model_version,
        scores.c.snapshot_date,
        scores.c.scored_at,
        scores.c.churn_probability,
    ).select_from(
        outcomes.join(
            scores,
            (scores.c.customer_id == outcomes.c.customer_id)
            & (scores.c.snapshot_date < outcomes.c.outcome_date),
        )
    )
    with store_errors(str(engine.url)), engine.connect() as conn:
        for row in conn.execution_options(yield_per=_STREAM).execute(query):
            yield tuple(row)


def outcome_count(engine: Engine) -> int:
    """How many outcomes the store holds."""
    with store_errors(str(engine.url)), engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outcomes)).scalar() or 0)
