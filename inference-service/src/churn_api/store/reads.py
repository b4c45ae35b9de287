"""Reading the customer store: one customer with its history, the ranked call list, the base's
profit curve. Every function is blocking (run it off the event loop) and raises
StoreUnavailableError / StoreSchemaError, never a driver error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, func, select, text

from churn_api.store.engine import store_errors
from churn_api.store.schema import customers, scores, scoring_runs

SORTS = ("expected_value", "churn_probability")
HISTORY_MAX = 200
_LIST_COLUMNS = (
    customers.c.customer_id,
    customers.c.churn_probability,
    customers.c.churn,
    customers.c.risk_band,
    customers.c.expected_value,
    customers.c.customer_value,
    customers.c.value_source,
    customers.c.contract,
    customers.c.tenure,
    customers.c.reasons,
    customers.c.model_version,
    customers.c.scored_at,
)


@dataclass(frozen=True)
class CallListQuery:
    """A validated call list request (customer_routes checks every value)."""

    limit: int = 50
    offset: int = 0
    sort: str = "expected_value"
    band: str | None = None
    contract: str | None = None
    min_tenure: float | None = None
    max_tenure: float | None = None
    budget_calls: int | None = None  # calls the budget buys (value.budget_calls), None = none

    def filters(self) -> dict[str, Any]:
        return {
            "band": self.band,
            "contract": self.contract,
            "min_tenure": self.min_tenure,
            "max_tenure": self.max_tenure,
        }


def _iso(value: datetime | date | None) -> str | None:
    """ISO text; SQLite returns naive datetimes, which the writers stored as UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat() if value is not None else None


def _score(row: Any) -> dict[str, Any]:
    return {
        "churn_probability": row.churn_probability,
        "churn": row.churn,
        "risk_band": row.risk_band,
        "expected_value": row.expected_value,
        "model": {"name": row.model_name, "version": row.model_version},
        "scored_at": _iso(row.scored_at),
        "snapshot_date": _iso(row.snapshot_date),
        "run_id": row.run_id,
    }


def get_customer(engine: Engine, customer_id: str) -> dict[str, Any] | None:
    """Attributes, the latest score (with stored reasons, maybe None) and the history, newest
    first (at most HISTORY_MAX entries); None for an unknown id."""
    with store_errors(str(engine.url)), engine.connect() as conn:
        row = conn.execute(select(customers).where(customers.c.customer_id == customer_id)).first()
        if row is None:
            return None
        history = conn.execute(
            select(scores)
            .where(scores.c.customer_id == customer_id)
            .order_by(scores.c.snapshot_date.desc(), scores.c.scored_at.desc(), scores.c.id.desc())
            .limit(HISTORY_MAX)
        ).all()
    return {
        "customer_id": row.customer_id,
        "snapshot_date": _iso(row.snapshot_date),
        "attributes": row.attributes,
        "customer_value": row.customer_value,
        "value_source": row.value_source,
        "latest": {**_score(row), "reasons": row.reasons},
        "history": [_score(h) for h in history],
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


def count(engine: Engine, query: CallListQuery) -> int:
    """How many customers match the filters."""
    with store_errors(str(engine.url)), engine.connect() as conn:
        stmt = select(func.count()).select_from(customers).where(*_where(query))
        return int(conn.execute(stmt).scalar_one())


def budget_value(engine: Engine, query: CallListQuery) -> float | None:
    """The expected value of calling the first `budget_calls` customers of the list."""
    if query.budget_calls is None:
        return None
    with store_errors(str(engine.url)), engine.connect() as conn:
        top = (
            select(customers.c.expected_value)
            .where(*_where(query))
            .order_by(*_order(query.sort))
            .limit(query.budget_calls)
            .subquery()
        )
        total = conn.execute(select(func.coalesce(func.sum(top.c.expected_value), 0.0))).scalar()
        return float(total or 0.0)


def call_list_page(engine: Engine, query: CallListQuery) -> list[dict[str, Any]]:
    """One page of the ranked list: rank (1-based over the whole list) and the row."""
    with store_errors(str(engine.url)), engine.connect() as conn:
        rows = conn.execute(
            select(*_LIST_COLUMNS)
            .where(*_where(query))
            .order_by(*_order(query.sort))
            .limit(query.limit)
            .offset(query.offset)
        ).all()
    page = []
    for k, row in enumerate(rows):
        rank = query.offset + k + 1
        item = dict(row._mapping)
        item["scored_at"] = _iso(item["scored_at"])
        budget = query.budget_calls
        page.append(
            {"rank": rank, **item, "within_budget": None if budget is None else rank <= budget}
        )
    return page


def latest_profit_curve(engine: Engine) -> dict[str, Any] | None:
    """The profit curves of the newest succeeded run that recorded them."""
    with store_errors(str(engine.url)), engine.connect() as conn:
        return conn.execute(
            select(scoring_runs.c.profit_curve)
            .where(scoring_runs.c.status == "succeeded", scoring_runs.c.profit_curve.is_not(None))
            .order_by(scoring_runs.c.finished_at.desc())
            .limit(1)
        ).scalar()


def data_version(engine: Engine) -> tuple[int, str | None]:
    """(runs, newest finish) of the store: changes whenever a scoring run starts or ends."""
    with store_errors(str(engine.url)), engine.connect() as conn:
        row = conn.execute(
            select(func.count(), func.max(scoring_runs.c.finished_at)).select_from(scoring_runs)
        ).one()
    return int(row[0]), _iso(row[1])


def ping(engine: Engine) -> None:
    """A round trip (SELECT 1); StoreUnavailableError when the store does not answer."""
    with store_errors(str(engine.url)), engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def call_list(engine: Engine, query: CallListQuery) -> dict[str, Any]:
    """The page, the total, the budget's expected value and the base's profit curves."""
    return {
        "customers": call_list_page(engine, query),
        "total": count(engine, query),
        "budget_expected_value": budget_value(engine, query),
        "profit_curve": latest_profit_curve(engine),
    }
