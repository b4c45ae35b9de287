"""Session fixtures shared by every package's tests: real servers and a real trained model.

The packages never import each other, so these fixtures drive them through their console
scripts (`churn-train`, `mlflow server`, ...) exactly as an operator would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
# Small enough for a test session, large enough to be a real search.
TEST_TRIALS = "3"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen | None = None, timeout: float = 120) -> None:
    """Poll until the URL answers 200; fail fast with the server's output if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"server exited with {process.returncode}:\n{output[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout} s")


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_process(cmd: Sequence[str], log: Path, env: dict[str, str] | None = None):
    """Start a server in its own process group, output to a log file."""
    handle = log.open("wb")
    return subprocess.Popen(
        list(cmd),
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        cwd=ROOT,
    )


@dataclass
class MlflowServer:
    uri: str
    root: Path
    process: subprocess.Popen

    def stop(self) -> None:
        stop_process(self.process)


def start_mlflow(root: Path, port: int | None = None) -> MlflowServer:
    """A real `mlflow server` on SQLite with proxied artifacts, on a free port."""
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    process = start_process(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--serve-artifacts",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        root / "server.log",
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{uri}/health", timeout=120)
    except TimeoutError:
        stop_process(process)
        raise RuntimeError((root / "server.log").read_text()[-4000:]) from None
    return MlflowServer(uri=uri, root=root, process=process)


def run_train(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the training CLI; returns the completed process (stdout holds the JSON result)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [str(BIN / "churn-train"), "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
        check=False,
    )


def last_json_line(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def dataset_csv() -> Path:
    """The IBM Telco CSV, fetched and verified by the training CLI (cached in .cache/data)."""
    result = run_train("--fetch-only")
    assert result.returncode == 0, result.stderr
    path = ROOT / ".cache" / "data" / "telco_customer_churn.csv"
    assert path.is_file()
    return path


@dataclass
class Champion:
    """A tracking server with one published champion, and the same model saved locally."""

    server: MlflowServer
    model_dir: Path
    result: dict

    @property
    def uri(self) -> str:
        return self.server.uri


@pytest.fixture(scope="session")
def champion(tmp_path_factory: pytest.TempPathFactory, dataset_csv: Path) -> Iterator[Champion]:
    """Train once per session (a short real search) and publish to a real MLflow server."""
    root = tmp_path_factory.mktemp("mlflow-champion")
    server = start_mlflow(root / "server")
    model_dir = root / "model"
    result = run_train(
        "--data",
        str(dataset_csv),
        "--trials",
        TEST_TRIALS,
        "--tracking-uri",
        server.uri,
        "--model-dir",
        str(model_dir),
    )
    try:
        assert result.returncode == 0, result.stderr[-4000:]
        yield Champion(server=server, model_dir=model_dir, result=last_json_line(result.stdout))
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mlflow_server(champion: Champion) -> str:
    """Tracking URI of a real MLflow server whose registry has `telco-churn@champion`."""
    return champion.uri


@pytest.fixture(scope="session")
def trained_model_dir(champion: Champion) -> Path:
    """A local MLflow model directory (pyfunc + bundle), identical to the registered champion."""
    return champion.model_dir


@pytest.fixture(scope="session")
def train_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """The training CLI as a function: `train_cli("--data", path, ...)`."""
    return run_train


@pytest.fixture
def mlflow_factory(tmp_path: Path) -> Iterator[Callable[[], MlflowServer]]:
    """Fresh, empty MLflow servers for tests that change the registry; stopped afterwards."""
    servers: list[MlflowServer] = []

    def make() -> MlflowServer:
        server = start_mlflow(tmp_path / f"mlflow-{len(servers)}")
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory, trained_model_dir: Path) -> Iterator[str]:
    """Base URL of a running `churn-api` (auth off) serving the trained model, once ready."""
    root = tmp_path_factory.mktemp("api-server")
    port = free_port()
    env = {
        "MODEL_URI": str(trained_model_dir),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MODEL_CACHE_DIR": str(root / "cache"),
        "JWT_SECRET": "",
    }
    process = start_process([str(BIN / "churn-api")], root / "api.log", env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health/ready", process, timeout=120)
    except Exception:
        stop_process(process)
        raise
    yield url
    stop_process(process)
