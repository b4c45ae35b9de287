"""Store revision 0002 on SQLite and PostgreSQL: an 0001 store with scores upgrades in place
(and back), a run's drift report is replaced when written again, outcomes are unique per
customer and date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import func, inspect, select

from churn_api.drift import SCORE_FIELD, DriftReport, FieldDrift
from churn_api.store import make_engine, migrate
from churn_api.store.engine import MIGRATIONS
from churn_api.store.monitoring_reads import drift_history
from churn_api.store.monitoring_schema import drift_reports, outcomes
from churn_api.store.monitoring_writes import drift_rows, upsert_outcomes, write_drift
from churn_api.store.schema import customers

MONITORING = {"drift_reports", "outcomes", "performance"}


def _alembic(engine: Any, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_an_0001_store_upgrades_in_place_and_back(
    store_url: str, load: Any, tiny_records: list[dict[str, Any]]
) -> None:
    engine = make_engine(store_url)
    try:
        _alembic(engine, "upgrade", "0001")
        assert not MONITORING & set(inspect(engine).get_table_names())
        load(engine, tiny_records[:10])
        migrate(engine)
        assert set(inspect(engine).get_table_names()) >= MONITORING
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(customers)).scalar() == 10
        _alembic(engine, "downgrade", "0001")
        names = set(inspect(engine).get_table_names())
        assert not MONITORING & names and "customers" in names
    finally:
        engine.dispose()


def test_a_report_written_again_replaces_the_last(
    engine: Any, load: Any, tiny_records: list[dict[str, Any]]
) -> None:
    run = load(engine, tiny_records[:5])
    first = DriftReport([FieldDrift("tenure", "numeric", 5, 0.5, 0.1, 0.2, 0.0, 0.0)], 0.3, None, 5)
    write_drift(engine, drift_rows(run.run_id, first))
    second = DriftReport(
        [FieldDrift("tenure", "numeric", 5, 0.01, 0.1, 0.2, 0.0, 0.0)], 0.0, None, 5
    )
    write_drift(engine, drift_rows(run.run_id, second))
    with engine.connect() as conn:
        rows = conn.execute(select(drift_reports.c.field, drift_reports.c.psi)).all()
    assert sorted(rows) == [(SCORE_FIELD, 0.0), ("tenure", 0.01)]
    [entry] = drift_history(engine, 5)
    assert entry["fields"][0]["status"] == "ok" and entry["score_status"] == "ok"


def test_outcomes_are_unique_per_customer_and_date(
    engine: Any, load: Any, tiny_records: list[dict[str, Any]]
) -> None:
    load(engine, tiny_records[:2])
    cid = tiny_records[0]["customerID"]
    at = datetime.now(UTC)

    def outcome(churned: bool, day: int) -> dict[str, Any]:
        when = date(2026, 10, day)
        return {
            "customer_id": cid,
            "churned": churned,
            "outcome_date": when,
            "ingested_at": at,
            "source": "/l.csv",
        }

    upsert_outcomes(engine, [outcome(True, 1), outcome(False, 2)])
    upsert_outcomes(engine, [outcome(False, 1)])
    with engine.connect() as conn:
        rows = conn.execute(
            select(outcomes.c.outcome_date, outcomes.c.churned).order_by(outcomes.c.outcome_date)
        ).all()
    assert rows == [(date(2026, 10, 1), False), (date(2026, 10, 2), False)]
