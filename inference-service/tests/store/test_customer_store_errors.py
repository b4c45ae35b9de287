"""/customers* when the store is missing, empty, dead or goes away mid-run: a 503 that says
which, in bounded time, never a hang or a 500; and the request log never names a customer."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from testkit import PostgresServer, fresh_database, start_postgres

from churn_api.store import make_engine, migrate

ROUTES = (("GET", "/customers/0001-SYN"), ("GET", "/customers"), ("POST", "/customers/x/predict"))


def _all_503(client: TestClient, apis: Any, message: str) -> None:
    for method, path in ROUTES:
        start = time.monotonic()
        r = client.request(method, path, headers=apis.ui())
        assert time.monotonic() - start < 15, path
        assert r.status_code == 503, (path, r.text)
        assert message in r.json()["detail"], r.json()


def test_no_store_configured(apis: Any) -> None:
    for client in apis.client(apis.settings()):
        _all_503(client, apis, "No customer store configured: set DATABASE_URL")
        assert client.get("/health/ready").json()["store"] == "not configured"
        assert client.get("/openapi.json").json()["paths"]["/customers"]["get"]


def test_store_without_schema_then_migrated_on_first_use(apis: Any) -> None:
    url = f"sqlite:///{apis.tmp / 'empty.db'}"
    for client in apis.client(apis.settings(database_url=url)):
        _all_503(client, apis, "customer store has no schema: run `churn-score migrate`")
        assert client.get("/health/ready").json()["store"] == "unavailable"
    settings = apis.settings(database_url=url)
    settings.database_migrate = True
    for client in apis.client(settings):
        r = client.get("/customers", headers=apis.ui())
        assert r.status_code == 200 and r.json()["total"] == 0


def test_dead_store_port(apis: Any) -> None:
    url = "postgresql+psycopg://churn:not-to-be-shown@127.0.0.1:9/customers"
    settings = apis.settings(database_url=url, database_timeout_seconds=1)
    for client in apis.client(settings):
        _all_503(client, apis, "customer store unavailable")
        r = client.get("/customers", headers=apis.ui())
        assert "not-to-be-shown" not in r.text
        assert client.get("/health/ready").json()["store"] == "unavailable"
        assert client.post("/predict", json={}, headers=apis.ui()).status_code == 200


@pytest.mark.integration
def test_postgres_stopped_mid_run(
    apis: Any,
    load: Any,
    tiny_records: list[dict[str, Any]],
) -> None:
    server: PostgresServer = start_postgres()
    try:
        url = fresh_database(server.url)
        migrate(url)
        engine = make_engine(url)
        load(engine, tiny_records[:10])
        engine.dispose()
        settings = apis.settings(database_url=url, database_timeout_seconds=2)
        for client in apis.client(settings):
            cid = tiny_records[0]["customerID"]
            assert client.get(f"/customers/{cid}", headers=apis.ui()).status_code == 200
            server.stop()
            _all_503(client, apis, "customer store unavailable")
            assert client.get("/health/ready").status_code == 200  # the model still serves
    finally:
        server.stop()


def test_request_log_names_the_route_not_the_customer(
    apis: Any, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{apis.tmp / 's.db'}"
    migrate(url)
    secret_id = "PERSONAL-7590-VHVEG"
    for client in apis.client(apis.settings(database_url=url)):
        capfd.readouterr()
        with caplog.at_level(logging.DEBUG, logger="churn_api"):
            client.get(f"/customers/{secret_id}", headers=apis.ui())
            client.post(f"/customers/{secret_id}/predict", json={"tenure": 2}, headers=apis.ui())
        out = capfd.readouterr()
    logged = out.out + out.err
    assert '"route":"/customers/{customer_id}"' in logged
    assert '"route":"/customers/{customer_id}/predict"' in logged
    assert secret_id not in logged
    assert not [
        r for r in caplog.records if r.name.startswith("churn_api") and secret_id in str(r.__dict__)
    ]


@pytest.mark.integration
def test_connections_the_server_closed_are_replaced(
    apis: Any, postgres_url: str, load: Any, tiny_records: list[dict[str, Any]]
) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    url = fresh_database(postgres_url)
    migrate(url)
    engine = make_engine(url)
    load(engine, tiny_records[:5])
    engine.dispose()
    cid = tiny_records[0]["customerID"]
    for client in apis.client(apis.settings(database_url=url)):
        assert client.get(f"/customers/{cid}", headers=apis.ui()).status_code == 200
        admin = make_url(postgres_url)
        with psycopg.connect(
            host=admin.host,
            port=admin.port,
            user=admin.username,
            password=admin.password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                (make_url(url).database,),
            ).fetchone()
        assert killed is not None and killed[0] >= 1
        assert client.get(f"/customers/{cid}", headers=apis.ui()).status_code == 200
