"""Session fixtures shared by every package's tests: real servers and a real trained model.

The packages never import each other, so these fixtures drive them through their console
scripts (`churn-train`, `mlflow server`, ...) exactly as an operator would.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from testkit import (
    BIN,
    ROOT,
    TEST_TRIALS,
    MlflowServer,
    PostgresServer,
    free_port,
    last_json_line,
    run_train,
    start_mlflow,
    start_postgres,
    start_process,
    stop_process,
    wait_http,
    write_signing_keys,
)

_KEYS_DIR: Path | None = None


def _refuse_listening(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError(
        "a unit test tried to listen on a port: mark it `integration` (CHURN_NO_SERVERS is set by "
        "`make test-fast`)"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Guard `make test-fast`, then export one signing key pair for the session.

    With CHURN_NO_SERVERS=1 nothing in this process may listen on a port, and testkit refuses to
    start a server process, so a unit test that needs a server fails loudly instead of quietly
    slowing the fast suite down.

    One signing key pair per test session, exported before any process starts.

    Every `churn-train` the tests run signs with it and every `churn-api` verifies with it, as
    the trainer's KMS key and the API's MODEL_PUBLIC_KEYS do on AWS. Tests about refusing
    bundles make their own keys.
    """
    global _KEYS_DIR
    if os.environ.get("CHURN_NO_SERVERS"):
        socket.socket.listen = _refuse_listening  # type: ignore[method-assign]
    if "MODEL_SIGNING_KEY_FILE" in os.environ:
        return
    _KEYS_DIR = Path(tempfile.mkdtemp(prefix="churn-test-keys-"))
    private, public = write_signing_keys(_KEYS_DIR)
    os.environ["MODEL_SIGNING_KEY_FILE"] = str(private)
    os.environ["MODEL_PUBLIC_KEYS_FILE"] = str(public)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _KEYS_DIR is not None:
        shutil.rmtree(_KEYS_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL cluster per test session (testkit.start_postgres)."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """The session cluster's admin URL: give each module its own `testkit.fresh_database`."""
    return postgres_server.url


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
        # Auth off: dev mode and no token keys, whatever the shell holds (docs/api.md).
        "CHURN_DEV_MODE": "true",
        "JWT_PREDICT_SECRET": "",
        "JWT_ADMIN_PUBLIC_KEYS": "",
        "JWT_ADMIN_PUBLIC_KEYS_FILE": "",
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
