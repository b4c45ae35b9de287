"""Customer store fixtures: one store per test on SQLite (in process) and on a real PostgreSQL
(the session cluster of the root conftest.py, one database per test: `integration`), and a
scorer of records with the tiny model, independent of churn-score."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from testkit import fresh_database

from churn_api import value
from churn_api.main import create_app
from churn_api.scorer import LoadedModel
from churn_api.security import mint_token
from churn_api.settings import Settings
from churn_api.store import RunRecord, ScoredRows, make_engine, migrate
from churn_api.store.writes import finish_run, start_run, write_partition

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
_serial = itertools.count()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no schema) on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return fresh_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(store_url: str) -> Iterator[Any]:
    """A migrated store's engine."""
    migrate(store_url)
    engine = make_engine(store_url, timeout_s=5)
    yield engine
    engine.dispose()


def score(
    model: LoadedModel,
    records: list[dict[str, Any]],
    reasons: bool = True,
    scored_at: datetime | None = None,
) -> ScoredRows:
    """ScoredRows for records, scored as /predict scores them (one by one, by the book)."""
    customers = [model.customers.validate_one(r) for r in records]
    results = [model.score_one(c, explain=reasons) for c in customers]
    p = np.array([r["churn_probability"] for r in results])
    values, sources = value.customer_values(
        [r.get("customer_value") for r in records],
        [c.__dict__["MonthlyCharges"] for c in customers],
    )
    ev = value.expected_values(p, values, model.contract.threshold)
    attrs = [{k: v for k, v in c.__dict__.items()} for c in customers]
    return ScoredRows(
        customer_id=[a["customerID"] for a in attrs],
        attributes=attrs,
        customer_value=values,
        value_source=sources,
        contract=[a.get("Contract") for a in attrs],
        tenure=np.array([np.nan if a["tenure"] is None else a["tenure"] for a in attrs]),
        churn_probability=p,
        churn=np.array([r["churn"] for r in results]),
        risk_band=[r["risk_band"] for r in results],
        expected_value=ev,
        reasons=[r["reasons"] for r in results],
        scored_at=scored_at or datetime.now(UTC),
    )


Load = Callable[..., RunRecord]


@pytest.fixture
def load(tiny_model: LoadedModel) -> Load:
    """load(engine, records, snapshot_date=..., version=..., reasons=...) -> the run written."""

    def run(
        engine: Any,
        records: list[dict[str, Any]],
        snapshot_date: date = date(2026, 11, 1),
        version: str = "1",
        reasons: bool = True,
        curve: bool = True,
    ) -> RunRecord:
        rows = score(tiny_model, records, reasons)
        record = RunRecord(
            snapshot_uri=f"file:///snapshots/{next(_serial)}.parquet",
            snapshot_date=snapshot_date,
            model_name="telco-churn",
            model_version=version,
        )
        start_run(engine, record)
        write_partition(engine, record, rows)
        curves = value.base_profit_curves(
            np.asarray(rows.churn_probability),
            np.asarray(rows.expected_value),
            tiny_model.contract.threshold.offer_cost,
        )
        counts = {"rows_read": len(rows), "rows_scored": len(rows), "rows_rejected": 0}
        finish_run(engine, record.run_id, counts, "succeeded", curves if curve else None)
        return record

    return run


class Apis:
    """The app over a store, as deployed: auth on (the UI's secret: predict and customers;
    an operator's key; a client program's predict-only key), the tiny signed bundle."""

    SECRET = "unit-test-secret-unit-test-secret-0123"
    OPERATOR = ec.generate_private_key(ec.SECP256R1())
    CLIENT_PROGRAM = ec.generate_private_key(ec.SECP256R1())

    def __init__(self, tmp: Path, model_dir: Path, pem: str) -> None:
        self.tmp, self.model_dir, self.pem = tmp, model_dir, pem

    @staticmethod
    def public(key: ec.EllipticCurvePrivateKey) -> str:
        return (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def settings(self, **more: Any) -> Settings:
        return Settings(
            model_uri=str(self.model_dir),
            jwt_predict_secret=self.SECRET,
            jwt_admin_public_keys=self.public(self.OPERATOR),
            jwt_predict_public_keys=self.public(self.CLIENT_PROGRAM),
            model_public_keys=self.pem,
            model_public_keys_file=None,
            model_cache_dir=self.tmp / "cache",
            model_refresh_seconds=0,
            model_retry_seconds=0.05,
            **more,
        )

    @staticmethod
    def client(settings: Settings) -> Iterator[TestClient]:
        """A TestClient (lifespan included) once the model is ready."""
        with TestClient(create_app(settings)) as client:
            deadline = time.monotonic() + 30
            while client.get("/health/ready").status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            yield client

    def ui(self, *scopes: str) -> dict[str, str]:
        """Headers with a UI token (default scopes: predict customers)."""
        scopes = scopes or ("predict", "customers")
        token = mint_token(self.SECRET, list(scopes), 60, "ui", "churn-ui")
        return {"Authorization": f"Bearer {token}"}

    def bearer(self, key: Any, *scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(key, list(scopes), 60, 'someone')}"}


@pytest.fixture
def apis(tmp_path: Path, tiny_model_dir: Path, trusted_pem: str) -> Apis:
    return Apis(tmp_path, tiny_model_dir, trusted_pem)
