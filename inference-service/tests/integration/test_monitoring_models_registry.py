"""GET /monitoring/models of a `churn-api` process reading the session's real MLflow registry:
the champion the training job published (with the `champion_since` it tagged), a challenger
registered beside it, and a 503 naming MLflow once the registry cannot be reached."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.integration
MODEL = "telco-churn"
REASON = "worse than the champion: ROC-AUC 0.70 < 0.84 (integration test)"


@pytest.fixture
def challenger(mlflow_server: str) -> Iterator[str]:
    """A second version of the champion's model as `challenger`, tagged as the training job tags
    one the gate turned down; the alias as it was is put back afterwards."""
    client = MlflowClient(mlflow_server)
    try:
        before: str | None = str(client.get_model_version_by_alias(MODEL, "challenger").version)
    except MlflowException:
        before = None
    version = str(
        # Its artifacts are never read: the route reports aliases, it loads nothing.
        client.create_model_version(
            MODEL, source=f"s3://bucket/{MODEL}/challenger-stand-in"
        ).version
    )
    client.set_registered_model_alias(MODEL, "challenger", version)
    client.set_model_version_tag(MODEL, version, "challenger_since", "2026-11-30T09:15:00+00:00")
    client.set_model_version_tag(MODEL, version, "challenger_reason", REASON)
    yield version
    if before is None:
        client.delete_registered_model_alias(MODEL, "challenger")
    else:
        client.set_registered_model_alias(MODEL, "challenger", before)


def test_champion_and_challenger_from_the_registry(
    mlflow_server: str, challenger: str, api_factory: Any
) -> None:
    client = MlflowClient(mlflow_server)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    api = api_factory({"MLFLOW_TRACKING_URI": mlflow_server})
    r = requests.get(api.url + "/monitoring/models", timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_name"] == MODEL and body["registry"] == "MLflow model registry"
    assert body["served"] == {
        "version": str(champion.version),
        "alias": "champion",
        "degraded": False,
    }
    held = body["aliases"]["champion"]
    assert held["version"] == str(champion.version)
    # Written by the training job's publish (champion_alias.move_champion), read back as is.
    assert held["since"] == champion.tags["champion_since"]
    assert datetime.fromisoformat(held["since"]).tzinfo is not None
    assert held["reason"] == champion.tags["champion_reason"] and held["reason"]
    assert datetime.fromisoformat(held["created_at"]).tzinfo is not None
    assert body["aliases"]["challenger"] == {
        "version": challenger,
        "since": "2026-11-30T09:15:00+00:00",
        "reason": REASON,
        "created_at": body["aliases"]["challenger"]["created_at"],
    }
    try:
        previous = str(client.get_model_version_by_alias(MODEL, "previous-champion").version)
    except MlflowException:
        previous = None
    got = body["aliases"]["previous-champion"]
    assert (got and got["version"]) == previous
    assert mlflow_server.split("//")[1] not in r.text


def test_registry_unreachable_is_a_503_naming_mlflow(
    mlflow_server: str, api_factory: Any, proxy_for: Any
) -> None:
    proxy = proxy_for(mlflow_server)
    api = api_factory({"MLFLOW_TRACKING_URI": proxy.url, "MLFLOW_HTTP_TIMEOUT": "3"})
    assert requests.get(api.url + "/monitoring/models", timeout=30).status_code == 200
    proxy.stop()
    started = time.monotonic()
    r = requests.get(api.url + "/monitoring/models", timeout=30)
    assert r.status_code == 503, r.text
    assert "MLflow" in r.json()["detail"]
    assert proxy.url.split("//")[1] not in r.text and "127.0.0.1" not in r.text
    assert time.monotonic() - started < 10
    # The model in memory still serves while the registry is away.
    assert requests.post(api.url + "/predict", json={"tenure": 3}, timeout=10).status_code == 200
