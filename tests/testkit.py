"""Test helpers shared by every package's tests: free ports, real server processes, the CLI.

Importable as `testkit` (pytest puts `tests/` on the path, see pyproject.toml).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import stack  # scripts/stack.py: the launcher's helpers

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Small enough for a test session, large enough to be a real search.
TEST_TRIALS = "3"
# churn-api's authentication settings (docs/api.md): a test that starts or configures an API
# drops what the developer's shell holds and sets only what it means to test.
API_AUTH_VARIABLES = (
    "CHURN_DEV_MODE",
    "JWT_SECRET",
    "JWT_ALGORITHM",
    "JWT_ALGORITHMS",
    "JWT_PREDICT_SECRET",
    "JWT_ADMIN_PUBLIC_KEYS",
    "JWT_ADMIN_PUBLIC_KEYS_FILE",
    "JWT_PREDICT_PUBLIC_KEYS",
    "JWT_PREDICT_PUBLIC_KEYS_FILE",
    "JWT_ISSUERS",
    "JWT_AUDIENCE",
    "JWT_MAX_LIFETIME_SECONDS",
)


def dataset_records(csv_path: Path) -> list[dict[str, object]]:
    """Every dataset row as a typed JSON-ready record, as a client posts it (no Churn; a blank
    TotalCharges -> null)."""
    import csv

    rows: list[dict[str, object]] = []
    with csv_path.open(newline="") as handle:
        for raw in csv.DictReader(handle):
            row: dict[str, object] = dict(raw)
            row.pop("Churn", None)
            row["tenure"] = int(raw["tenure"])
            row["SeniorCitizen"] = int(raw["SeniorCitizen"])
            row["MonthlyCharges"] = float(raw["MonthlyCharges"])
            total = raw["TotalCharges"].strip()
            row["TotalCharges"] = float(total) if total else None
            rows.append(row)
    return rows


def write_signing_keys(folder: Path) -> tuple[Path, Path]:
    """A fresh ECDSA P-256 key pair as the trainer and the API read them (PEM files).

    Returns (private key, public key). The format is docs/model-bundle.md's "Signature".
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private = folder / "signing-key.pem"
    public = folder / "signing-key.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen | None = None, timeout: float = 120) -> None:
    """Poll until the URL answers 200 (stack.wait_http); fail fast if `process` died."""

    def alive() -> None:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")

    stack.wait_http(url, alive, timeout=timeout)


def default_sigint() -> None:
    """`preexec_fn` for a child that must see Ctrl-C as a terminal user would.

    A background job of a non-interactive shell (CI's `bash .ci/run &`) inherits SIGINT ignored,
    and so would every process the tests start.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
    if os.environ.get("CHURN_NO_SERVERS"):
        raise RuntimeError(f"a unit test tried to start a server ({cmd[0]}): mark it integration")
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
        {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # as every server the project starts
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
    if os.environ.get("CHURN_NO_SERVERS") and "--fetch-only" not in args:
        raise RuntimeError("a unit test tried to train a model: mark it integration")
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
