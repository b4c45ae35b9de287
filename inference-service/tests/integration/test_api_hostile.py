"""Integration: hostile bodies, concurrent batches and tampered models against real processes.

Issue 11's cases: a body of 100,000 unknown keys froze the worker 7.5 s (liveness waited
7.2 s); concurrent batches were unbounded; a tampered registered version was served; a broken
champion at start left the task unready.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

MB = 1024 * 1024


class LivenessProbe:
    """Polls GET / every few ms in a thread; latencies of the polls inside a time window."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[tuple[float, float]] = []  # (start, latency)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> LivenessProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _poll(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                start = time.monotonic()
                assert session.get(self.url + "/", timeout=10).status_code == 200
                self.samples.append((start, time.monotonic() - start))
                time.sleep(0.005)

    def during(self, start: float, end: float) -> list[float]:
        return [lat for t, lat in self.samples if start <= t <= end]


def _tiny_api(api_factory: Any, tiny_model_dir: Path, trusted_pem: str, **env: str) -> Any:
    return api_factory({"MODEL_URI": str(tiny_model_dir), "MODEL_PUBLIC_KEYS": trusted_pem, **env})


def _hostile_bodies() -> dict[str, tuple[str, bytes]]:
    limit = 8 * MB - 1024
    unique = b"{" + b",".join(b'"k%d":0' % i for i in range(700_000)) + b"}"
    rows = [{f"k{i}_{j}": 0 for j in range(25)} | {"tenure": "x"} for i in range(10_000)]
    return {
        "100k unknown keys (issue 11)": (
            "/predict",
            json.dumps({f"k{i}": 0 for i in range(100_000)}).encode(),
        ),
        "8 MB of unknown keys": ("/predict", unique[: unique.rfind(b",", 0, limit)] + b"}"),
        "8 MB deep nesting": (
            "/predict",
            b'{"Churn":' + b"[" * (limit // 2) + b"]" * (limit // 2) + b"}",
        ),
        "8 MB string": ("/predict", b'{"customerID":"' + b"x" * limit + b'"}'),
        "10,000 rows of 26 problems": ("/predict/batch", json.dumps({"customers": rows}).encode()),
        "one batch row of 700k keys": (
            "/predict/batch",
            b'{"customers":[' + unique[: unique.rfind(b",", 0, limit - 20)] + b"}]}",
        ),
    }


def test_hostile_bodies_are_4xx_at_once_and_liveness_keeps_answering(
    api_factory: Any, tiny_model_dir: Path, trusted_pem: str
) -> None:
    api = _tiny_api(api_factory, tiny_model_dir, trusted_pem)
    report = {}
    with LivenessProbe(api.url) as probe, requests.Session() as session:
        time.sleep(0.3)
        for name, (path, body) in _hostile_bodies().items():
            assert len(body) <= 8 * MB, name
            start = time.monotonic()
            r = session.post(api.url + path, data=body, timeout=30)
            elapsed = time.monotonic() - start
            lat = probe.during(start, start + elapsed)
            report[name] = (r.status_code, round(elapsed, 3), len(r.content), lat)
            assert r.status_code in (200, 422), (name, r.status_code, r.text[:300])
            if r.status_code == 422:
                assert len(r.content) < 10_000, name
            assert elapsed < 2.0, (name, elapsed)  # target < 1 s alone; the box is shared
        time.sleep(0.1)
    print({k: (s, t, n, max(lat, default=None)) for k, (s, t, n, lat) in report.items()})
    latencies = [x for *_, lat in report.values() for x in lat]
    assert len(latencies) >= 10
    assert statistics.median(latencies) < 0.05, report
    assert max(latencies) < 0.5, report  # one long C parse of 8 MB holds the interpreter


def _batch(url: str, rows: list[dict[str, Any]]) -> requests.Response:
    return requests.post(url + "/predict/batch?explain=true", json={"customers": rows}, timeout=120)


def test_concurrent_batches_beyond_the_limit_get_429(
    api_factory: Any, tiny_model_dir: Path, trusted_pem: str, tiny_records: list[dict[str, Any]]
) -> None:
    api = _tiny_api(api_factory, tiny_model_dir, trusted_pem, MAX_CONCURRENT_BATCHES="1")
    rows = (tiny_records * 25)[:10_000]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: _batch(api.url, rows), range(4)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses[0] == 200 and statuses[-1] == 429, statuses
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["detail"][0]["message"].startswith("1 batches already in flight")
    assert _batch(api.url, rows[:10]).status_code == 200  # the slot came back
    text = requests.get(api.url + "/metrics").text
    assert 'route="/predict/batch",status="429"' in text
    assert "churn_api_batches_in_flight 0.0" in text


def _model(api: Any) -> dict[str, Any]:
    return requests.get(api.url + "/model", timeout=10).json()  # type: ignore[no-any-return]


def test_a_tampered_version_is_refused_on_reload_and_the_previous_keeps_serving(
    mlflow_factory: Any, registry_for: Any, api_factory: Any, trained_model_dir: Path
) -> None:
    server = mlflow_factory()
    registry = registry_for(server.uri)
    v1 = registry.publish(trained_model_dir)
    api = api_factory({"MLFLOW_TRACKING_URI": server.uri, "MODEL_REFRESH_SECONDS": "0"})
    golden = json.loads(next(trained_model_dir.rglob("golden_examples.json")).read_text())
    high = max(golden["examples"], key=lambda ex: ex["probability"])
    before = requests.post(api.url + "/predict", json=high["input"]).json()["churn_probability"]
    assert _model(api)["signature"] == "verified"

    v2 = registry.publish(trained_model_dir, tamper=True)
    r = requests.post(api.url + "/admin/reload")
    assert r.status_code == 503
    assert f"champion version {v2} refused" in r.json()["detail"]
    assert "feature_contract.json altered" in r.json()["detail"]
    info = _model(api)
    assert (info["version"], info["degraded"]) == (v1, True)
    assert "feature_contract.json altered" in info["degraded_reason"]
    after = requests.post(api.url + "/predict", json=high["input"]).json()
    assert (after["churn_probability"], after["model"]["version"]) == (before, v1)
    assert "churn_model_degraded 1.0" in requests.get(api.url + "/metrics").text
    assert any(rec.get("event") == "model_refused" for rec in api.log_records())
    for text in (json.dumps(info), requests.get(api.url + "/health/ready").text):
        assert server.uri not in text and "run_id" not in text

    registry.move_alias(v1)  # the operator rolls back: healthy again
    r = requests.post(api.url + "/admin/reload")
    assert r.status_code == 200, r.text
    assert (_model(api)["degraded"], _model(api)["version"]) == (False, v1)


def test_a_broken_champion_at_start_serves_the_last_verified_version(
    mlflow_factory: Any, registry_for: Any, api_factory: Any, trained_model_dir: Path
) -> None:
    server = mlflow_factory()
    registry = registry_for(server.uri)
    v1 = registry.publish(trained_model_dir)
    env = {"MLFLOW_TRACKING_URI": server.uri, "MODEL_REFRESH_SECONDS": "0"}
    first = api_factory(env)
    assert _model(first)["version"] == v1
    first.stop()

    v2 = registry.publish(trained_model_dir, tamper=True)
    second = api_factory(env)  # same cache folder: v1 is there, verified before
    info = _model(second)
    assert (info["version"], info["source"], info["degraded"]) == (v1, "cache", True)
    assert f"champion version {v2} refused" in info["degraded_reason"]
    assert requests.post(second.url + "/predict", json={"tenure": 2}).status_code == 200
    assert "churn_model_degraded 1.0" in requests.get(second.url + "/metrics").text

    # A new task without that cache: the registry's previous-champion alias.
    registry.move_alias(v1, alias="previous-champion")
    third = api_factory({**env, "MODEL_CACHE_DIR": str(registry.work / "fresh-cache")})
    info = _model(third)
    assert (info["version"], info["alias"], info["degraded"]) == (v1, "previous-champion", True)
