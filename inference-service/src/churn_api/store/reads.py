"""Reading the customer store: one customer with its history, the ranked call list, the base's
profit curve. Every function is blocking (run it off the event loop), uses one connection and
raises StoreUnavailableError / StoreSchemaError, never a driver error."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, bindparam, case, func, select, text

from churn_api.store.engine import store_errors
from churn_api.store.queries import HISTORY_MAX, SORTS, CallListQuery, ListCache
from churn_api.store.schema import customers, scores, scoring_runs

# A budget in money can buy more calls than a LIMIT holds (bigint); no list is that long.
MAX_BUDGET_ROWS = 2**62
# Plain str keys: SQLAlchemy's column names are a str subclass that JSON encoders slow on.
_LIST_NAMES = (
    "customer_id",
    "churn_probability",
    "churn",
    "risk_band",
    "expected_value",
    "customer_value",
    "value_source",
    "contract",
    "tenure",
    "reasons",
    "model_version",
    "scored_at",
)
_LIST_COLUMNS = tuple(customers.c[name] for name in _LIST_NAMES)
_SCORE_NAMES = (
    "churn_probability",
    "churn",
    "risk_band",
    "expected_value",
    "model_name",
    "model_version",
    "scored_at",
    "snapshot_date",
    "run_id",
)
# One round trip for a lookup: the customer's row, joined to its history rows (newest first).
_LOOKUP = (
    select(
        *(customers.c[n] for n in ("customer_id", "attributes", "customer_value", "value_source")),
        customers.c.reasons,
        *(customers.c[n] for n in _SCORE_NAMES),
        *(scores.c[n].label(f"h_{n}") for n in _SCORE_NAMES),
    )
    .select_from(customers.outerjoin(scores, scores.c.customer_id == customers.c.customer_id))
    .order_by(scores.c.snapshot_date.desc(), scores.c.scored_at.desc(), scores.c.id.desc())
    .limit(HISTORY_MAX)
    .where(customers.c.customer_id == bindparam("cid"))
)
_DRIVER_SQL: dict[str, tuple[str, dict[str, Any]]] = {}


def _driver_sql(dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """The lookup compiled once for PostgreSQL, with its default parameters."""
    if dialect.name not in _DRIVER_SQL:
        compiled = _LOOKUP.compile(dialect=dialect)
        _DRIVER_SQL[dialect.name] = (compiled.string, dict(compiled.params))
    return _DRIVER_SQL[dialect.name]


def _iso(value: datetime | date | None) -> str | None:
    """ISO text; SQLite returns naive datetimes, which the writers stored as UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat() if value is not None else None


def _score(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "churn_probability": values["churn_probability"],
        "churn": values["churn"],
        "risk_band": values["risk_band"],
        "expected_value": values["expected_value"],
        "model": {"name": values["model_name"], "version": values["model_version"]},
        "scored_at": _iso(values["scored_at"]),
        "snapshot_date": _iso(values["snapshot_date"]),
        "run_id": values["run_id"],
    }


def get_customer(engine: Engine, customer_id: str) -> dict[str, Any] | None:
    """Attributes, the latest score (with stored reasons, maybe None) and the history, newest
    first (at most HISTORY_MAX entries); None for an unknown id."""
    with store_errors(str(engine.url)), engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Precompiled SQL: half SQLAlchemy's cost per lookup (measured); psycopg already
            # decodes JSONB and timestamps. SQLite needs the typed path (JSON is text there).
            sql, defaults = _driver_sql(conn.dialect)
            rows = conn.exec_driver_sql(sql, {**defaults, "cid": customer_id}).all()
        else:
            rows = conn.execute(_LOOKUP, {"cid": customer_id}).all()
    if not rows:
        return None
    first = rows[0]
    latest = _score({n: getattr(first, n) for n in _SCORE_NAMES})
    history = [
        _score({n: getattr(row, f"h_{n}") for n in _SCORE_NAMES})
        for row in rows
        if row.h_run_id is not None
    ]
    return {
        "customer_id": first.customer_id,
        "snapshot_date": latest["snapshot_date"],
        "attributes": first.attributes,
        "customer_value": first.customer_value,
        "value_source": first.value_source,
        "latest": {**latest, "reasons": first.reasons},
        "history": history,
    }


def _where(query: CallListQuery) -> list[Any]:
    conditions = []
    if query.band is not None:
        conditions.append(customers.c.risk_band == query.band)
    if query.contract is not None:
        conditions.append(customers.c.contract == query.contract)
    if query.min_tenure is not None:
        conditions.append(customers.c.tenure >= query.min_tenure)
    if query.max_tenure is not None:
        conditions.append(customers.c.tenure <= query.max_tenure)
    return conditions


def _order(sort: str) -> list[Any]:
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}")
    # customer_id breaks ties, so pages never overlap or skip (and the index covers it).
    return [customers.c[sort].desc(), customers.c.customer_id]


def _count(conn: Connection, query: CallListQuery) -> int:
    stmt = select(func.count()).select_from(customers).where(*_where(query))
    return int(conn.execute(stmt).scalar_one())


def _budget_value(conn: Connection, query: CallListQuery) -> float | None:
    """The expected value of calling the first `budget_calls` customers of the list."""
    if query.budget_calls is None:
        return None
    top = (
        select(customers.c.expected_value)
        .where(*_where(query))
        .order_by(*_order(query.sort))
        .limit(min(query.budget_calls, MAX_BUDGET_ROWS))
        .subquery()
    )
    total = conn.execute(select(func.coalesce(func.sum(top.c.expected_value), 0.0))).scalar()
    return float(total or 0.0)


def _page(conn: Connection, query: CallListQuery) -> list[dict[str, Any]]:
    """One page of the ranked list: rank (1-based over the whole list) and the row."""
    rows = conn.execute(
        select(*_LIST_COLUMNS)
        .where(*_where(query))
        .order_by(*_order(query.sort))
        .limit(query.limit)
        .offset(query.offset)
    ).all()
    page = []
    budget = query.budget_calls
    for k, row in enumerate(rows):
        rank = query.offset + k + 1
        item = dict(zip(_LIST_NAMES, row, strict=True))
        item["scored_at"] = _iso(item["scored_at"])
        item["within_budget"] = None if budget is None else rank <= budget
        page.append({"rank": rank, **item})
    return page


def _curve(conn: Connection) -> dict[str, Any] | None:
    return conn.execute(  # type: ignore[no-any-return]
        select(scoring_runs.c.profit_curve)
        .where(scoring_runs.c.status == "succeeded", scoring_runs.c.profit_curve.is_not(None))
        .order_by(scoring_runs.c.finished_at.desc())
        .limit(1)
    ).scalar()


def _version(conn: Connection) -> tuple[Any, ...] | None:
    """What changes whenever a run starts or ends; None while one is running."""
    running = func.sum(case((scoring_runs.c.status == "running", 1), else_=0))
    row = conn.execute(select(func.count(), func.max(scoring_runs.c.finished_at), running)).one()
    return None if row[2] else (row[0], row[1])


def latest_profit_curve(engine: Engine) -> dict[str, Any] | None:
    """The profit curves of the newest succeeded run that recorded them."""
    with store_errors(str(engine.url)), engine.connect() as conn:
        return _curve(conn)


def call_list(
    engine: Engine, query: CallListQuery, cache: ListCache | None = None
) -> dict[str, Any]:
    """The page, the total, the budget's expected value and the base's profit curves."""
    with store_errors(str(engine.url)), engine.connect() as conn:
        page = _page(conn, query)
        budget = _budget_value(conn, query)
        version = _version(conn) if cache is not None else None
        key = (query.band, query.contract, query.min_tenure, query.max_tenure)
        if cache is None or version is None:
            total, curve = _count(conn, query), _curve(conn)
        else:
            with cache.lock:
                if cache.version != version:
                    cache.version, cache.totals, cache.curve = version, {}, _curve(conn)
                curve = cache.curve
                total = cache.totals.get(key)
            if total is None:
                total = _count(conn, query)
                with cache.lock:
                    if cache.version == version:
                        cache.totals[key] = total
    return {
        "customers": page,
        "total": total,
        "budget_expected_value": budget,
        "profit_curve": curve,
    }


def ping(engine: Engine) -> None:
    """A round trip (SELECT 1); StoreUnavailableError when the store does not answer."""
    with store_errors(str(engine.url)), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
