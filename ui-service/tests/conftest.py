"""UI test fixtures: a fake HTTP transport and a small schema for unit tests; extra live
`churn-api` processes (secured, never ready) for integration tests.

The plain live API (`api_server`, auth off, real trained model) comes from the root conftest.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from testkit import free_port, stop_process

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.models import ModelInfo

# The helpers live next to this file under a name no other package uses.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ui_fakes import FAKE_URL, FakeTransport

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
SECRET = "ui-tests-secret-0123456789abcdef0123456789"
# Small enough that a few dozen customers exceed it, so 413 handling is exercised for real.
SMALL_BODY_BYTES = 4096


@pytest.fixture
def transport() -> FakeTransport:
    """An empty fake transport; tests queue its answers."""
    return FakeTransport()


@pytest.fixture
def fake_client(transport: FakeTransport) -> ChurnApiClient:
    """A client whose every request goes to `transport` (no socket is opened)."""
    session = requests.Session()
    session.mount("http://", transport)
    return ChurnApiClient(FAKE_URL, session=session, retry_backoff=0.0)


@pytest.fixture(scope="session")
def small_info() -> ModelInfo:
    """A `GET /model` answer with four fields, shaped like the real one."""
    return ModelInfo.model_validate(
        {
            "name": "telco-churn",
            "version": "7",
            "threshold": {"value": 0.4, "strategy": "expected_value"},
            "risk_bands": [
                {"name": "low", "upper": 0.3},
                {"name": "medium", "upper": 0.6},
                {"name": "high", "upper": 1.0},
            ],
            "input_schema": {
                "id_field": "customerID",
                "fields": [
                    {"name": "tenure", "kind": "numeric", "dtype": "integer", "minimum": 0},
                    {"name": "MonthlyCharges", "kind": "numeric", "dtype": "number"},
                    {
                        "name": "SeniorCitizen",
                        "kind": "categorical",
                        "dtype": "integer",
                        "categories": [0, 1],
                    },
                    {
                        "name": "Contract",
                        "kind": "categorical",
                        "dtype": "string",
                        "categories": ["Month-to-month", "One year", "Two year"],
                    },
                ],
            },
        }
    )


@dataclass
class Server:
    """A server subprocess in its own process group."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """SIGTERM the group, SIGKILL if it hangs."""
        stop_process(self.process)


def start_server(
    cmd: list[str], env: dict[str, str], log: Path, url: str, probe: str, timeout: float = 120
) -> Server:
    """Start a server and wait until `probe` answers (any HTTP status)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k != "MODEL_URI" and not k.startswith(("JWT_", "API_", "CHURN_DEV_MODE"))
    }
    process = subprocess.Popen(
        cmd,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**clean, "PYTHONUNBUFFERED": "1", **env},
        start_new_session=True,
        cwd=ROOT,
    )
    server = Server(url, process, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            requests.get(probe, timeout=2)
            return server
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise TimeoutError(f"{probe} not answering:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)


def start_api(root: Path, env: dict[str, str], wait_ready: bool = True) -> Server:
    """A real `churn-api` on a free port; auth off (CHURN_DEV_MODE) unless `env` sets keys."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(
        [str(BIN / "churn-api")],
        {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "MODEL_CACHE_DIR": str(root / "cache"),
            "MODEL_REFRESH_SECONDS": "0",
            "CHURN_DEV_MODE": "true",
            **env,
        },
        root / "api.log",
        url,
        f"{url}/",
    )
    if wait_ready:
        deadline = time.monotonic() + 120
        while requests.get(f"{url}/health/ready", timeout=5).status_code != 200:
            if time.monotonic() > deadline or server.process.poll() is not None:
                server.stop()
                raise RuntimeError(server.log.read_text(errors="replace")[-3000:])
            time.sleep(0.3)
    return server


@pytest.fixture(scope="session")
def secured_api(tmp_path_factory: pytest.TempPathFactory, trained_model_dir: Path) -> Iterator[str]:
    """A live API with JWT auth on and a small body limit (for 401/403/413)."""
    server = start_api(
        tmp_path_factory.mktemp("ui-secured-api"),
        {
            "MODEL_URI": str(trained_model_dir),
            # As deployed: the UI's predict-only secret, no dev mode.
            "CHURN_DEV_MODE": "false",
            "JWT_PREDICT_SECRET": SECRET,
            "MAX_BODY_BYTES": str(SMALL_BODY_BYTES),
        },
    )
    yield server.url
    server.stop()


def populate_store(database_url: str, customers_csv: Path, model_dir: Path, log: Path) -> None:
    """Score the IBM base into the store with `churn-score run` (a subprocess: the UI package
    never imports churn_api), the way `make run` fills it on first start."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MODEL_URI", "DATABASE_URL") and not k.startswith(("JWT_", "API_"))
    }
    cmd = [str(BIN / "churn-score"), "run", "--customers", str(customers_csv)]
    cmd += ["--drop-columns", "Churn", "--model-uri", str(model_dir)]
    cmd += ["--database-url", database_url, "--no-progress"]
    with log.open("wb") as out:
        done = subprocess.run(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, timeout=900
        )
    if done.returncode != 0:
        raise RuntimeError(f"churn-score run failed:\n{log.read_text(errors='replace')[-3000:]}")


@pytest.fixture(scope="session")
def store_api(
    tmp_path_factory: pytest.TempPathFactory, trained_model_dir: Path, dataset_csv: Path
) -> Iterator[str]:
    """A live API (auth off) with a customer store: a SQLite file holding the IBM base scored
    by `churn-score run` with the trained model."""
    root = tmp_path_factory.mktemp("ui-store-api")
    database_url = f"sqlite:///{root / 'store.db'}"
    populate_store(database_url, dataset_csv, trained_model_dir, root / "churn-score.log")
    server = start_api(root, {"MODEL_URI": str(trained_model_dir), "DATABASE_URL": database_url})
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def not_ready_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A live API whose MODEL_URI is an empty folder: it runs but never becomes ready."""
    root = tmp_path_factory.mktemp("ui-not-ready-api")
    empty = root / "empty-model"
    empty.mkdir()
    server = start_api(
        root, {"MODEL_URI": str(empty), "MODEL_RETRY_SECONDS": "30"}, wait_ready=False
    )
    yield server.url
    server.stop()


@pytest.fixture
def closed_port_url() -> str:
    """An address where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP endpoint that accepts connections and never answers (a hung API)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for conn in accepted:
        conn.close()
    sock.close()


@pytest.fixture
def api(api_server: str) -> Iterator[ChurnApiClient]:
    """A client of the plain live API."""
    client = ChurnApiClient(api_server, timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="session")
def live_info(api_server: str) -> ModelInfo:
    """`GET /model` of the plain live API."""
    return ChurnApiClient(api_server).model_info()


@pytest.fixture(scope="session")
def sample_rows(dataset_csv: Path) -> list[str]:
    """The dataset header and its first 40 rows, as CSV text lines."""
    with dataset_csv.open(encoding="utf-8") as handle:
        return [next(handle).rstrip("\n") for _ in range(41)]
