"""Faults under load, against real processes: MLflow, the registry and `churn-api`.

For a minute, 16 clients score customers without pause while the champion alias moves twice, a
tampered version (a consistent bundle: its golden examples still agree, only its signature does
not) is published, made champion and reloaded by hand, and MLflow is killed and started again.
Every request must succeed, and no answer may come from the tampered version.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from testkit import (
    BIN,
    dataset_records,
    free_port,
    start_mlflow,
    start_process,
    stop_process,
    wait_http,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

MODEL = "telco-churn"
LOAD_SECONDS = 60
CLIENTS = 16


def publish(uri: str, model_dir: Path, champion: bool = True) -> str:
    """Log a model directory as a run's artifacts, register it, optionally make it champion."""
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("faults")
    exp_id = experiment.experiment_id if experiment else client.create_experiment("faults")
    run = client.create_run(exp_id)
    client.log_artifacts(run.info.run_id, str(model_dir), artifact_path="model")
    client.set_terminated(run.info.run_id)
    with contextlib.suppress(mlflow.exceptions.MlflowException):
        client.create_registered_model(MODEL)
    version = client.create_model_version(
        MODEL, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
    ).version
    if champion:
        client.set_registered_model_alias(MODEL, "champion", version)
    return str(version)


def tampered_copy(model_dir: Path, work: Path) -> Path:
    """The trained model with a threshold nobody trained: still consistent with its own golden
    examples (the threshold moves no probability), so only its signature gives it away."""
    copy = work / "tampered"
    shutil.copytree(model_dir, copy)
    contract_path = next(copy.rglob("feature_contract.json"))
    contract = json.loads(contract_path.read_text())
    contract["threshold"]["value"] = 0.99
    contract_path.write_text(json.dumps(contract))
    return copy


@dataclass
class Load:
    """CLIENTS threads posting /predict until stopped; every answer is recorded."""

    url: str
    bodies: list[bytes]
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    versions: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def client(self, k: int) -> None:
        session = requests.Session()
        n = k
        while not self.stop.is_set():
            body = self.bodies[n % len(self.bodies)]
            n += CLIENTS
            t0 = time.perf_counter()
            try:
                answer = session.post(
                    f"{self.url}/predict",
                    data=body,
                    headers={"content-type": "application/json"},
                    timeout=10,
                )
                elapsed = time.perf_counter() - t0
                version = answer.json()["model"]["version"] if answer.status_code == 200 else None
            except (requests.RequestException, ValueError, KeyError) as exc:
                with self.lock:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            with self.lock:
                if version is None:
                    self.failures.append(f"{answer.status_code}: {answer.text[:200]}")
                else:
                    self.latencies.append(elapsed)
                    self.versions[version] += 1

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        threads = [threading.Thread(target=self.client, args=(k,)) for k in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=30)


def wait_for(what: str, probe: Callable[[], bool], timeout: float = 60) -> float:
    """Seconds until `probe()` held; fails after `timeout`."""
    t0 = time.monotonic()
    while not probe():
        assert time.monotonic() - t0 < timeout, f"{what}: not within {timeout} s"
        time.sleep(0.2)
    return round(time.monotonic() - t0, 1)


def test_e2e_faults_under_load_fail_no_request_and_never_serve_a_tampered_model(
    tmp_path: Path, trained_model_dir: Path, dataset_csv: Path
) -> None:
    state = tmp_path / "mlflow"
    port = free_port()
    mlflow = start_mlflow(state, port)
    api_process = None
    try:
        v1 = publish(mlflow.uri, trained_model_dir)
        v2 = publish(mlflow.uri, trained_model_dir, champion=False)
        api_port = free_port()
        url = f"http://127.0.0.1:{api_port}"
        api_process = start_process(
            [str(BIN / "churn-api")],
            tmp_path / "api.log",
            {
                "MLFLOW_TRACKING_URI": mlflow.uri,
                "MODEL_REFRESH_SECONDS": "1",
                "MODEL_CACHE_DIR": str(tmp_path / "cache"),
                "HOST": "127.0.0.1",
                "PORT": str(api_port),
                "CHURN_DEV_MODE": "true",  # auth is not what this test is about
            },
        )
        wait_http(f"{url}/health/ready", api_process, timeout=120)

        def served() -> str:
            return str(requests.get(f"{url}/model", timeout=5).json()["version"])

        bodies = [json.dumps(r).encode() for r in dataset_records(dataset_csv)[:500]]
        load = Load(url, bodies)
        events: dict[str, Any] = {}
        started = time.monotonic()
        with load.running():
            time.sleep(5)
            # 1. The alias moves: picked up without a restart.
            mlflow_client_alias(mlflow.uri, v2)
            events["alias to v2 picked up (s)"] = wait_for("v2 served", lambda: served() == v2)
            # 2. A tampered version is published, made champion and reloaded by hand.
            v3 = publish(mlflow.uri, tampered_copy(trained_model_dir, tmp_path))
            reload = requests.post(f"{url}/admin/reload", timeout=60)
            events["tampered reload"] = f"{reload.status_code}: {reload.text[:200]}"
            assert reload.status_code == 503 and "refused" in reload.text, reload.text
            assert "feature_contract.json" in reload.text, reload.text  # the altered file named
            time.sleep(3)
            assert served() == v2, "the tampered champion replaced the verified model"
            model = requests.get(f"{url}/model", timeout=5).json()
            assert model["degraded"] is True and model["degraded_reason"], model
            # 3. MLflow dies and comes back on the same port and database.
            mlflow.stop()
            time.sleep(8)
            assert served() == v2
            mlflow = start_mlflow(state, port)
            # 4. After the restart the alias moves again, to a verified version.
            mlflow_client_alias(mlflow.uri, v1)
            events["alias to v1 after restart picked up (s)"] = wait_for(
                "v1 served", lambda: served() == v1
            )
            assert requests.get(f"{url}/model", timeout=5).json()["degraded"] is False
            time.sleep(max(0.0, LOAD_SECONDS - (time.monotonic() - started)))
        duration = time.monotonic() - started

        total = len(load.latencies) + len(load.failures)
        figures = {
            "seconds": round(duration, 1),
            "requests": total,
            "failed": len(load.failures),
            "requests/s": round(total / duration),
            "p50 ms": round(statistics.median(load.latencies) * 1000, 2),
            "p99 ms": round(statistics.quantiles(load.latencies, n=100)[98] * 1000, 2),
            "answers by version": dict(load.versions),
            **events,
        }
        print("fault test figures: " + json.dumps(figures))
        assert not load.failures, f"{len(load.failures)} failed, first: {load.failures[:3]}"
        assert v3 not in load.versions, f"the tampered version {v3} answered: {figures}"
        assert set(load.versions) == {v1, v2}, figures
        assert total > 1000, figures
    finally:
        if api_process is not None:
            stop_process(api_process)
        mlflow.stop()


def mlflow_client_alias(uri: str, version: str, alias: str = "champion") -> None:
    """Point an alias (`champion` unless told) at a version."""
    from mlflow.tracking import MlflowClient

    MlflowClient(uri).set_registered_model_alias(MODEL, alias, version)


def test_e2e_a_refused_champion_at_start_serves_the_last_verified_version_degraded(
    tmp_path: Path, trained_model_dir: Path
) -> None:
    """A task that starts while the champion is tampered with still becomes ready: from its
    cache, else from `previous-champion`, and says it is degraded."""
    mlflow = start_mlflow(tmp_path / "mlflow")
    started: list[Any] = []

    def start_api(cache: Path) -> str:
        port = free_port()
        process = start_process(
            [str(BIN / "churn-api")],
            tmp_path / f"api-{len(started)}.log",
            {
                "MLFLOW_TRACKING_URI": mlflow.uri,
                "MODEL_CACHE_DIR": str(cache),
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "CHURN_DEV_MODE": "true",
            },
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health/ready", process, timeout=120)
        return url

    try:
        v1 = publish(mlflow.uri, trained_model_dir)
        first = start_api(tmp_path / "cache")
        assert requests.get(f"{first}/model", timeout=5).json()["version"] == v1
        stop_process(started.pop())
        v2 = publish(mlflow.uri, tampered_copy(trained_model_dir, tmp_path))
        mlflow_client_alias(mlflow.uri, v1, alias="previous-champion")
        # With the verified v1 in its cache, and with an empty cache (previous-champion).
        for cache in (tmp_path / "cache", tmp_path / "empty-cache"):
            url = start_api(cache)
            model = requests.get(f"{url}/model", timeout=5).json()
            assert model["version"] == v1 != v2 and model["degraded"] is True, model
            assert "altered" in model["degraded_reason"], model
            metrics = requests.get(f"{url}/metrics", timeout=5).text
            assert "churn_model_degraded 1.0" in metrics
            answer = requests.post(f"{url}/predict", json={"tenure": 3}, timeout=5).json()
            assert answer["model"]["version"] == v1
            stop_process(started.pop())
    finally:
        for process in started:
            stop_process(process)
        mlflow.stop()
