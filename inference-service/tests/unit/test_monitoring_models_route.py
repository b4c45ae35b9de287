"""GET /monitoring/models in process (TestClient on create_app(), lifespan not run: the served
model is set by hand) over a fake MLflow registry client: aliases with their promotion tags,
unset aliases, MLflow down or hanging (503 naming MLflow, no URL or credential), MODEL_URI,
scopes and unknown query parameters."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from churn_api.main import create_app
from churn_api.mlflow_rest import ModelVersion, RegistryUnavailableError
from churn_api.monitoring_models import ModelsView
from churn_api.scorer import LoadedModel
from churn_api.security import mint_token
from churn_api.settings import Settings

SECRET = "unit-test-secret-unit-test-secret-0123"
SECRET_URL = "http://admin:hunter2@mlflow.internal:5000/api/2.0/mlflow/registered-models/alias"
CREATED = 1_790_000_000_000  # 2026-09-21T14:13:20+00:00 in milliseconds


class FakeRegistryClient:
    """MlflowRest's alias_versions and model_version over a dict alias -> (version, tags)."""

    def __init__(self, aliases: dict[str, tuple[str, dict[str, str]]]) -> None:
        self.aliases = aliases
        self.calls: list[tuple[str, str]] = []

    def alias_versions(self, name: str) -> dict[str, str]:
        self.calls.append((name, "*"))
        return {alias: version for alias, (version, _) in self.aliases.items()}

    def model_version(self, name: str, version: str) -> ModelVersion:
        self.calls.append((name, version))
        tags = next(tags for number, tags in self.aliases.values() if number == version)
        return ModelVersion(version=version, run_id=None, tags=tags, creation_timestamp=CREATED)


class DownClient:
    def alias_versions(self, name: str) -> None:
        raise RegistryUnavailableError(f"GET {SECRET_URL}: [Errno 111] Connection refused")


class CrashingClient:
    def alias_versions(self, name: str) -> None:
        raise ConnectionError(f"Max retries exceeded with url: {SECRET_URL} (Connection refused)")


class HangingClient:
    def __init__(self) -> None:
        self.release = threading.Event()

    def alias_versions(self, name: str) -> None:
        self.release.wait(30)
        raise RegistryUnavailableError("too late")


def _settings(tmp_path: Path, **more: Any) -> Settings:
    base: dict[str, Any] = {
        "mlflow_tracking_uri": "http://admin:hunter2@mlflow.internal:5000",
        "jwt_predict_secret": SECRET,
        "model_cache_dir": tmp_path / "cache",
        "mlflow_http_timeout": 1,
    }
    return Settings(**(base | more))


def _headers(*scopes: str) -> dict[str, str]:
    token = mint_token(SECRET, list(scopes or ("predict", "customers")), 60, "ui", "churn-ui")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def app(tmp_path: Path, tiny_model: LoadedModel) -> FastAPI:
    app = create_app(_settings(tmp_path))
    app.state.store.current = tiny_model.with_meta(version="7", alias="champion", source="registry")
    return app


def _with(app: FastAPI, registry_client: Any) -> TestClient:
    """A TestClient of `app` whose registry answers through `registry_client`."""
    app.state.store.registry.client = registry_client
    return TestClient(app)


CHAMPION_TAGS = {
    "champion_since": "2026-10-02T08:00:00+00:00",
    "champion_reason": "ROC-AUC 0.851 beats the champion's 0.842 (see http://mlflow.internal:5000/x)",
}
CHALLENGER_TAGS = {
    "challenger_since": "2026-10-09T08:00:00+00:00",
    "challenger_reason": "worse than the champion: ROC-AUC 0.80 < 0.851",
}
PREVIOUS_TAGS = {"replaced_at": "2026-10-02T08:00:00+00:00", "replaced_by": "7"}


def test_every_alias_with_when_and_why(app: FastAPI) -> None:
    fake = FakeRegistryClient(
        {
            "champion": ("7", CHAMPION_TAGS),
            "challenger": ("8", CHALLENGER_TAGS),
            "previous-champion": ("5", PREVIOUS_TAGS),
        }
    )
    client = _with(app, fake)
    r = client.get("/monitoring/models", headers=_headers())
    assert r.status_code == 200, r.text
    body = r.json()
    ModelsView.model_validate(body)
    assert body["model_name"] == "telco-churn"
    assert body["registry"] == "MLflow model registry"
    assert body["served"] == {"version": "7", "alias": "champion", "degraded": False}
    created = "2026-09-21T14:13:20+00:00"
    assert body["aliases"] == {
        "champion": {
            "version": "7",
            "since": "2026-10-02T08:00:00+00:00",
            "reason": "ROC-AUC 0.851 beats the champion's 0.842 (see <url>)",
            "created_at": created,
        },
        "challenger": {
            "version": "8",
            "since": "2026-10-09T08:00:00+00:00",
            "reason": "worse than the champion: ROC-AUC 0.80 < 0.851",
            "created_at": created,
        },
        "previous-champion": {
            "version": "5",
            "replaced_at": "2026-10-02T08:00:00+00:00",
            "replaced_by": "7",
            "created_at": created,
        },
    }
    # One read of the aliases, then each version once.
    assert sorted(fake.calls) == [("telco-churn", v) for v in ("*", "5", "7", "8")]


def test_unset_aliases_and_untagged_versions_are_null(app: FastAPI) -> None:
    # A champion promoted before the tags existed: its version, no since/reason.
    client = _with(app, FakeRegistryClient({"champion": ("3", {})}))
    body = client.get("/monitoring/models", headers=_headers()).json()
    assert body["aliases"] == {
        "champion": {
            "version": "3",
            "since": None,
            "reason": None,
            "created_at": "2026-09-21T14:13:20+00:00",
        },
        "challenger": None,
        "previous-champion": None,
    }


@pytest.mark.parametrize("down", [DownClient, CrashingClient])
def test_mlflow_down_is_a_503_naming_mlflow_without_url_or_credentials(
    app: FastAPI, down: type
) -> None:
    client = _with(app, down())
    r = client.get("/monitoring/models", headers=_headers())
    assert r.status_code == 503
    assert "MLflow" in r.text
    for secret in ("hunter2", "admin", "mlflow.internal", "5000", "http"):
        assert secret not in r.text


def test_two_aliases_on_one_version_read_it_once(app: FastAPI) -> None:
    fake = FakeRegistryClient({"champion": ("7", CHAMPION_TAGS), "challenger": ("7", {})})
    body = _with(app, fake).get("/monitoring/models", headers=_headers()).json()
    assert body["aliases"]["champion"]["version"] == body["aliases"]["challenger"]["version"] == "7"
    assert sorted(fake.calls) == [("telco-churn", "*"), ("telco-churn", "7")]


def test_a_hanging_registry_is_a_503_within_the_timeout(app: FastAPI) -> None:
    hanging = HangingClient()
    client = _with(app, hanging)
    try:
        started = time.monotonic()
        r = client.get("/monitoring/models", headers=_headers())
        elapsed = time.monotonic() - started
    finally:
        hanging.release.set()
    assert r.status_code == 503 and "MLflow" in r.text and "1 s" in r.text
    assert elapsed < 5


def test_no_model_loaded_yet_still_answers_the_registry(app: FastAPI) -> None:
    app.state.store.current = None
    client = _with(app, FakeRegistryClient({}))
    body = client.get("/monitoring/models", headers=_headers()).json()
    assert body["served"] is None
    assert body["aliases"] == {"champion": None, "challenger": None, "previous-champion": None}


def test_model_uri_answers_without_the_registry(
    tmp_path: Path, tiny_model: LoadedModel, tiny_model_dir: Path
) -> None:
    app = create_app(_settings(tmp_path, model_uri=str(tiny_model_dir), mlflow_tracking_uri=None))
    app.state.store.current = tiny_model
    client = _with(app, DownClient())  # never asked
    r = client.get("/monitoring/models", headers=_headers())
    assert r.status_code == 200, r.text
    body = r.json()
    ModelsView.model_validate(body)
    assert body["registry"] == "not used (MODEL_URI)" and body["aliases"] is None
    assert body["served"] == {"version": "tiny", "alias": None, "degraded": False}


def test_scope_and_query_are_checked(app: FastAPI) -> None:
    client = _with(app, FakeRegistryClient({}))
    assert client.get("/monitoring/models").status_code == 401
    assert client.get("/monitoring/models", headers=_headers("predict")).status_code == 403
    r = client.get("/monitoring/models?runs=3", headers=_headers())
    assert r.status_code == 422 and "runs" in r.text
