"""The bulk write path on SQLite and a real PostgreSQL (COPY on PostgreSQL): awkward text and
JSON round-trip, NaN/None are SQL NULL, JSON columns hold JSON, floats and times are exact, a
partition is one transaction and its errors are StoreUnavailableError without credentials."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from churn_api.store import RunRecord, ScoredRows, StoreUnavailableError
from churn_api.store.reads import get_customer
from churn_api.store.schema import customers, scores
from churn_api.store.writes import start_run, write_partition

AWKWARD = ["tab\there", "back\\slash", "line\nbreak\r\n", 'quote"s', "é ünï 😀", "\\N", ""]


def _rows(n: int, scored_at: datetime | None = None, **columns: Any) -> ScoredRows:
    ids = [f"C-{k:06d}" for k in range(n)]
    base: dict[str, Any] = {
        "customer_id": ids,
        "attributes": [
            {"customerID": c, "Contract": "One year", "tenure": k, "note": AWKWARD[k % 7]}
            for k, c in enumerate(ids)
        ],
        "customer_value": np.linspace(10.0, 900.0, n),
        "value_source": ["12 x MonthlyCharges"] * n,
        "contract": ["One year"] * n,
        "tenure": np.arange(n, dtype=float),
        "churn_probability": np.linspace(0.001, 0.999, n),
        "churn": np.linspace(0.001, 0.999, n) >= 0.5,
        "risk_band": ["low"] * n,
        "expected_value": np.linspace(-5.0, 50.0, n),
        "reasons": [[{"feature": "tenure", "text": AWKWARD[k % 7]}] for k in range(n)],
        "scored_at": scored_at or datetime.now(UTC),
    }
    return ScoredRows(**{**base, **columns})


def _run(engine: Any, snapshot_date: date = date(2026, 11, 1), version: str = "1") -> RunRecord:
    run = RunRecord("file:///s.parquet", snapshot_date, "telco-churn", version)
    start_run(engine, run)
    return run


def _scalar(engine: Any, stmt: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def test_awkward_text_and_json_round_trip(engine: Any) -> None:
    ids = [f"id-{k}-{text}" for k, text in enumerate(AWKWARD)]
    rows = _rows(len(ids))
    rows.customer_id = ids
    rows.contract = AWKWARD
    rows.risk_band = AWKWARD
    write_partition(engine, _run(engine), rows)
    for k, cid in enumerate(ids):
        found = get_customer(engine, cid)
        assert found is not None, cid
        assert found["customer_id"] == cid
        assert found["attributes"] == rows.attributes[k]
        assert found["latest"]["reasons"] == rows.reasons[k]
        assert found["latest"]["risk_band"] == AWKWARD[k]
        contract = select(customers.c.contract).where(customers.c.customer_id == cid)
        assert _scalar(engine, contract) == AWKWARD[k]


def test_nan_and_none_are_sql_null_and_json_columns_hold_json(engine: Any) -> None:
    rows = _rows(6)
    rows.tenure = np.array([1.0, np.nan, 3.0, np.nan, 5.0, 6.0])
    rows.contract = ["One year", None, "Two year", None, None, "One year"]
    rows.reasons = [None, [{"feature": "tenure"}], None, None, [], [{"feature": "x"}]]
    write_partition(engine, _run(engine), rows)
    null_count = func.count().filter  # count(*) FILTER (WHERE ...) on both backends
    assert _scalar(engine, select(null_count(customers.c.tenure.is_(None)))) == 2
    assert _scalar(engine, select(null_count(customers.c.contract.is_(None)))) == 3
    for table in (customers, scores):  # None is SQL NULL, not the JSON text 'null'
        assert _scalar(engine, select(null_count(table.c.reasons.is_(None)))) == 3
    typeof = func.jsonb_typeof if engine.dialect.name == "postgresql" else func.json_type
    kinds = select(typeof(customers.c.attributes), typeof(customers.c.reasons)).where(
        customers.c.customer_id == "C-000004"
    )
    with engine.connect() as conn:
        assert tuple(conn.execute(kinds).one()) == ("object", "array")


def test_numbers_and_times_are_stored_exactly(engine: Any) -> None:
    at = datetime(2026, 11, 30, 9, 15, 30, 123456, tzinfo=UTC)
    rows = _rows(5, scored_at=at.astimezone(timezone(timedelta(hours=-5))))
    rows.churn_probability = np.array([0.1 + 0.2, 1e-300, 0.5, 1 / 3, 0.999999999999])
    rows.churn = [False, False, True, False, True]
    run = _run(engine, snapshot_date=date(2026, 2, 28))
    write_partition(engine, run, rows)
    for k in range(5):
        found = get_customer(engine, f"C-{k:06d}")
        latest = found["latest"]
        assert latest["churn_probability"] == rows.churn_probability[k]
        assert latest["churn"] is rows.churn[k]
        assert latest["expected_value"] == rows.expected_value[k]
        assert datetime.fromisoformat(latest["scored_at"]) == at
        assert latest["snapshot_date"] == "2026-02-28"
        assert found["customer_value"] == rows.customer_value[k]


def test_a_large_partition_then_a_rerun_and_an_older_snapshot(engine: Any) -> None:
    n = 2500
    first = _rows(n, scored_at=datetime(2026, 11, 1, tzinfo=UTC))
    write_partition(engine, _run(engine, date(2026, 11, 8)), first)
    rerun = _rows(n, scored_at=datetime(2026, 11, 2, tzinfo=UTC))
    rerun.churn_probability = np.full(n, 0.25)
    write_partition(engine, _run(engine, date(2026, 11, 8)), rerun)
    older = _rows(n, scored_at=datetime(2026, 11, 3, tzinfo=UTC))
    write_partition(engine, _run(engine, date(2026, 10, 1)), older)
    assert _scalar(engine, select(func.count()).select_from(customers)) == n
    assert _scalar(engine, select(func.count()).select_from(scores)) == 2 * n  # two snapshots
    found = get_customer(engine, "C-001234")
    assert found["latest"]["churn_probability"] == 0.25  # the re-run replaced in place
    assert datetime.fromisoformat(found["latest"]["scored_at"]) == rerun.scored_at
    assert found["snapshot_date"] == "2026-11-08"  # the older snapshot did not replace it
    assert [h["snapshot_date"] for h in found["history"]] == ["2026-11-08", "2026-10-01"]


def test_a_failing_partition_writes_nothing_and_hides_the_password(engine: Any) -> None:
    rows = _rows(300)
    probability = np.linspace(0.1, 0.9, 300)
    probability[-1] = np.nan  # NOT NULL column: the whole partition must fail
    rows.churn_probability = probability
    with pytest.raises(StoreUnavailableError) as caught:
        write_partition(engine, _run(engine), rows)
    password = make_url(str(engine.url.render_as_string(hide_password=False))).password
    if password:
        assert str(password) not in str(caught.value)
    assert _scalar(engine, select(func.count()).select_from(customers)) == 0
    assert _scalar(engine, select(func.count()).select_from(scores)) == 0
    write_partition(engine, _run(engine), _rows(300))  # the connection is usable again
    assert _scalar(engine, select(func.count()).select_from(customers)) == 300
