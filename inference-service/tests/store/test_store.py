"""The customer store on SQLite and on a real PostgreSQL: migrations, idempotent writes,
history, "latest" ordering, lookup and the call list's filters, sort, pages and budget."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from churn_api.store import StoreSchemaError, StoreUnavailableError, make_engine, migrate
from churn_api.store.engine import has_schema, redact_url
from churn_api.store.reads import CallListQuery, call_list, get_customer
from churn_api.store.schema import customers, scores, scoring_runs


def _count(engine: Any, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_migrate_on_an_empty_database_then_again_is_a_no_op(store_url: str) -> None:
    engine = make_engine(store_url)
    assert not has_schema(engine)
    migrate(store_url)
    assert has_schema(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"customers", "scores", "scoring_runs", "alembic_version"} <= tables
    migrate(store_url)  # at head already
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [("0002",)]
    names = {i["name"] for i in inspect(engine).get_indexes("customers")}
    assert {"ix_customers_expected_value", "ix_customers_band_expected_value"} <= names
    engine.dispose()


def test_reads_without_schema_say_to_migrate(store_url: str) -> None:
    engine = make_engine(store_url)
    with pytest.raises(StoreSchemaError, match="churn-score migrate"):
        get_customer(engine, "x")
    engine.dispose()


def test_same_snapshot_and_model_twice_gives_the_same_rows(
    engine: Any, load: Any, tiny_records: list[dict[str, Any]]
) -> None:
    records = tiny_records[:60]
    load(engine, records)
    first = get_customer(engine, records[0]["customerID"])
    with engine.connect() as conn:
        before = sorted(conn.execute(select(scores.c.customer_id, scores.c.churn_probability)))
    load(engine, records)
    assert _count(engine, customers) == 60
    assert _count(engine, scores) == 60  # updated in place
    assert _count(engine, scoring_runs) == 2
    with engine.connect() as conn:
        after = sorted(conn.execute(select(scores.c.customer_id, scores.c.churn_probability)))
    assert after == before
    again = get_customer(engine, records[0]["customerID"])
    assert again["attributes"] == first["attributes"]
    assert len(again["history"]) == 1


def test_a_new_model_version_adds_history_newest_first(
    engine: Any, load: Any, tiny_records: list[dict[str, Any]]
) -> None:
    records = tiny_records[:20]
    old = load(engine, records, version="1")
    new = load(engine, records, version="2")
    assert _count(engine, scores) == 40
    found = get_customer(engine, records[3]["customerID"])
    assert found["latest"]["model"] == {"name": "telco-churn", "version": "2"}
    assert found["latest"]["run_id"] == new.run_id
    assert [h["model"]["version"] for h in found["history"]] == ["2", "1"]
    assert [h["run_id"] for h in found["history"]] == [new.run_id, old.run_id]


def test_an_older_snapshot_scored_later_does_not_replace_the_latest(
    engine: Any, load: Any, tiny_records: list[dict[str, Any]]
) -> None:
    record = dict(tiny_records[0], Contract="Two year")
    load(engine, [record], snapshot_date=date(2026, 11, 8))
    older = dict(record, Contract="Month-to-month")
    load(engine, [older], snapshot_date=date(2026, 10, 1), version="2")
    found = get_customer(engine, record["customerID"])
    assert found["snapshot_date"] == "2026-11-08"
    assert found["attributes"]["Contract"] == "Two year"
    assert found["latest"]["model"]["version"] == "1"
    assert [h["snapshot_date"] for h in found["history"]] == ["2026-11-08", "2026-10-01"]
    newer = dict(record, Contract="One year")
    load(engine, [newer], snapshot_date=date(2026, 11, 15))
    assert get_customer(engine, record["customerID"])["attributes"]["Contract"] == "One year"


def test_lookup_has_attributes_latest_with_reasons_and_history(
    engine: Any, load: Any, tiny_records: list[dict[str, Any]], tiny_model: Any
) -> None:
    record = tiny_records[5]
    load(engine, [record])
    found = get_customer(engine, record["customerID"])
    expected = tiny_model.score_one(tiny_model.customers.validate_one(record), explain=True)
    assert found["customer_id"] == record["customerID"]
    assert found["attributes"]["tenure"] == record["tenure"]
    latest = found["latest"]
    assert latest["churn_probability"] == pytest.approx(expected["churn_probability"], abs=1e-12)
    assert latest["risk_band"] == expected["risk_band"]
    assert latest["reasons"] == expected["reasons"] and latest["reasons"]
    assert latest["scored_at"].endswith("+00:00")
    assert get_customer(engine, "nobody-has-this-id") is None


def _ids(engine: Any, **query: Any) -> list[str]:
    return [c["customer_id"] for c in call_list(engine, CallListQuery(**query))["customers"]]


def test_call_list_sorts_filters_and_pages(
    engine: Any, load: Any, tiny_records: list[dict[str, Any]]
) -> None:
    load(engine, tiny_records[:200])
    everyone = call_list(engine, CallListQuery(limit=500))
    assert everyone["total"] == 200
    rows = everyone["customers"]
    evs = [r["expected_value"] for r in rows]
    assert evs == sorted(evs, reverse=True)
    assert [r["rank"] for r in rows] == list(range(1, 201))
    by_p = call_list(engine, CallListQuery(limit=500, sort="churn_probability"))["customers"]
    ps = [r["churn_probability"] for r in by_p]
    assert ps == sorted(ps, reverse=True)
    # Pages tile the list with no overlap or gap, ties included.
    pages = [_ids(engine, limit=30, offset=k) for k in range(0, 200, 30)]
    assert [cid for page in pages for cid in page] == [r["customer_id"] for r in rows]
    high = call_list(engine, CallListQuery(band="high", limit=500))
    assert high["total"] == sum(r["risk_band"] == "high" for r in rows) > 0
    assert {r["risk_band"] for r in high["customers"]} == {"high"}
    monthly = call_list(
        engine, CallListQuery(contract="Month-to-month", min_tenure=5, max_tenure=40, limit=500)
    )
    assert monthly["total"] > 0
    for r in monthly["customers"]:
        assert r["contract"] == "Month-to-month" and 5 <= r["tenure"] <= 40
    expected = [
        r["customer_id"]
        for r in rows
        if r["contract"] == "Month-to-month" and r["tenure"] is not None and 5 <= r["tenure"] <= 40
    ]
    assert [r["customer_id"] for r in monthly["customers"]] == expected


def test_call_list_budget_and_profit_curve(
    engine: Any, load: Any, tiny_records: list[dict[str, Any]]
) -> None:
    load(engine, tiny_records[:100])
    full = call_list(engine, CallListQuery(limit=100))
    found = call_list(engine, CallListQuery(limit=10, budget_calls=7))
    top7 = sum(r["expected_value"] for r in full["customers"][:7])
    assert found["budget_expected_value"] == pytest.approx(top7)
    assert [r["within_budget"] for r in found["customers"]] == [True] * 7 + [False] * 3
    curve = found["profit_curve"]["by_expected_value"]
    evs = [r["expected_value"] for r in full["customers"]]
    best = max(range(101), key=lambda k: sum(evs[:k]))
    assert curve["best_k"] == best
    assert curve["best_expected_value"] == pytest.approx(sum(evs[:best]))
    assert call_list(engine, CallListQuery())["customers"][0]["within_budget"] is None


def test_a_dead_store_is_unavailable_without_its_password() -> None:
    url = "postgresql+psycopg://churn:hunter2-secret@127.0.0.1:9/customers"
    engine = make_engine(url, timeout_s=1)
    with pytest.raises(StoreUnavailableError) as caught:
        get_customer(engine, "x")
    message = str(caught.value)
    assert message.startswith("customer store unavailable")
    assert "hunter2" not in message and "***" in redact_url(url)
