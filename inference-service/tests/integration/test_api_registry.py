"""Integration: loading from a real MLflow registry by alias, cache fallback, alias flips."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration


def _wait(predicate: Any, timeout: float = 60, step: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError("condition not met")


def _model(api: Any) -> dict[str, Any]:
    r = requests.get(api.url + "/model", timeout=10)
    return r.json() if r.status_code == 200 else {}


def test_serves_the_published_champion(
    mlflow_server: str, api_factory: Any, trained_model_dir: Path
) -> None:
    from mlflow.tracking import MlflowClient

    champion = MlflowClient(mlflow_server).get_model_version_by_alias("telco-churn", "champion")
    api = api_factory({"MLFLOW_TRACKING_URI": mlflow_server})
    info = _model(api)
    assert (info["version"], info["alias"], info["source"]) == (
        str(champion.version),
        "champion",
        "registry",
    )
    assert "run_id" not in info  # issue 12: no run ids to unauthenticated callers
    assert info["stale"] is False
    assert (info["signature"], info["degraded"]) == ("verified", False)
    golden = json.loads(next(trained_model_dir.rglob("golden_examples.json")).read_text())
    for ex in golden["examples"][:5]:
        body = requests.post(api.url + "/predict", json=ex["input"]).json()
        assert abs(body["churn_probability"] - ex["probability"]) <= 1e-6
        assert body["model"] == {
            "name": "telco-churn",
            "version": str(champion.version),
            "alias": "champion",
        }


def test_alias_flip_is_picked_up_without_failed_requests(
    mlflow_factory: Any, registry_for: Any, api_factory: Any, trained_model_dir: Path
) -> None:
    server = mlflow_factory()
    registry = registry_for(server.uri)
    v1 = registry.publish(trained_model_dir)
    polling = api_factory({"MLFLOW_TRACKING_URI": server.uri, "MODEL_REFRESH_SECONDS": "1"})
    manual = api_factory({"MLFLOW_TRACKING_URI": server.uri, "MODEL_REFRESH_SECONDS": "0"})
    assert _model(polling)["version"] == _model(manual)["version"] == v1

    statuses: list[int] = []
    versions: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                r = session.post(polling.url + "/predict", json={"tenure": 2}, timeout=10)
                statuses.append(r.status_code)
                if r.status_code == 200:
                    versions.append(r.json()["model"]["version"])

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        v2 = registry.publish(trained_model_dir, threshold=0.999)
        _wait(lambda: _model(polling).get("version") == v2, timeout=60)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert statuses
    assert set(statuses) == {200}
    assert versions[0] == v1
    assert versions[-1] == v2
    # once swapped, never back: the swap is atomic
    assert versions == sorted(versions, key=lambda v: (v != v1, v))
    after = requests.post(polling.url + "/predict", json={"tenure": 2}).json()
    assert after["threshold"] == 0.999

    # without the refresh loop, the admin reload picks the new champion up
    assert _model(manual)["version"] == v1
    r = requests.post(manual.url + "/admin/reload")
    assert r.json() == {
        "reloaded": True,
        "version": v2,
        "previous_version": v1,
        "signature": "verified",
        "degraded": False,
        "detail": None,
    }
    assert _model(manual)["version"] == v2

    # a new version that fails its golden examples is refused; the old one keeps serving
    v3 = registry.publish(trained_model_dir, corrupt_golden=True)
    r = requests.post(manual.url + "/admin/reload")
    assert r.status_code == 503
    assert "golden example" in r.json()["detail"]
    assert _model(manual)["version"] == v2
    _wait(lambda: any(rec.get("event") == "model_load_failed" for rec in polling.log_records()))
    assert _model(polling)["version"] == v2
    assert requests.post(polling.url + "/predict", json={}).status_code == 200
    assert v3 != v2


def test_mlflow_down_at_start_serves_the_cache_and_recovers(
    mlflow_factory: Any,
    registry_for: Any,
    proxy_for: Any,
    api_factory: Any,
    trained_model_dir: Path,
) -> None:
    server = mlflow_factory()
    version = registry_for(server.uri).publish(trained_model_dir)
    proxy = proxy_for(server.uri)
    env = {
        "MLFLOW_TRACKING_URI": proxy.url,
        "MODEL_RETRY_SECONDS": "0.5",
        "MODEL_REFRESH_SECONDS": "1",
    }
    first = api_factory(env)
    assert _model(first)["source"] == "registry"
    first.stop()

    proxy.stop()  # MLflow unreachable from here on
    second = api_factory(env)
    info = _model(second)
    assert (info["version"], info["source"], info["stale"]) == (version, "cache", True)
    assert "unreachable" in info["detail"]
    assert proxy.url.split("//")[1] not in info["detail"]  # no internal address
    assert requests.post(second.url + "/predict", json={"tenure": 5}).status_code == 200
    assert "churn_api_model_stale 1.0" in requests.get(second.url + "/metrics").text

    proxy.start()
    info = _wait(lambda: (m := _model(second)) and m["source"] == "registry" and m)
    assert (info["version"], info["stale"], info["detail"]) == (version, False, None)


def test_mlflow_down_without_cache_stays_503_and_keeps_retrying(
    mlflow_factory: Any,
    registry_for: Any,
    proxy_for: Any,
    api_factory: Any,
    trained_model_dir: Path,
) -> None:
    server = mlflow_factory()
    version = registry_for(server.uri).publish(trained_model_dir)
    proxy = proxy_for(server.uri)
    proxy.stop()
    api = api_factory({"MLFLOW_TRACKING_URI": proxy.url, "MODEL_RETRY_SECONDS": "0.5"}, ready=False)
    _wait(
        lambda: (
            (x := requests.get(api.url + "/health/ready")).status_code == 503
            and "no cached model" in x.json()["detail"]
            and x.json()
        )
    )
    assert requests.post(api.url + "/predict", json={}).status_code == 503
    assert requests.get(api.url + "/").status_code == 200
    assert api.process.poll() is None
    proxy.start()
    assert api.wait_ready(timeout=60)["model_version"] == version


# Loads the champion as the API does, in a fresh interpreter where `import mlflow` fails.
NO_MLFLOW = """
import importlib.abc, json, sys

class NoMlflow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "mlflow" or name.startswith("mlflow."):
            raise ImportError(f"{name} is not in the API image")

sys.meta_path.insert(0, NoMlflow())
from churn_api.model_store import ModelStore
from churn_api.registry_aliases import read_aliases
from churn_api.settings import Settings

store = ModelStore(Settings(churn_dev_mode=True))
model = store.refresh_once()
aliases = read_aliases(store.registry)
print(json.dumps({
    "version": model.meta.version,
    "source": model.meta.source,
    "signature": model.meta.signature,
    "degraded": model.meta.degraded,
    "champion": aliases["champion"]["version"],
    "mlflow": sorted(m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")),
}))
"""


def test_the_champion_loads_without_the_mlflow_package(mlflow_server: str, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from mlflow.tracking import MlflowClient

    champion = MlflowClient(mlflow_server).get_model_version_by_alias("telco-churn", "champion")
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": mlflow_server,
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
        "MODEL_URI": "",
    }
    out = subprocess.run(
        [sys.executable, "-c", NO_MLFLOW], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got == {
        "version": str(champion.version),
        "source": "registry",
        "signature": "verified",
        "degraded": False,
        "champion": str(champion.version),
        "mlflow": [],
    }
