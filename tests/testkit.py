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


@dataclass
class PostgresServer:
    """A throw-away PostgreSQL cluster: `url` is its admin database, with a password."""

    url: str
    root: Path
    process: subprocess.Popen
    port: int

    def stop(self) -> None:
        """Fast shutdown (SIGINT: open client connections do not hold it up)."""
        import shutil

        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin (Debian's layout), installing it when we may."""
    import shutil

    def found() -> Path | None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
        return bins[-1].parent if bins else None

    if found() is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
            env=env,
            check=False,
            capture_output=True,
        )
    return found()


def start_postgres(user: str = "nobody") -> PostgresServer:
    """initdb + postgres on a free port as a non-root user, sockets in its own temp dir.

    Root cannot run postgres, so as root the cluster belongs to `user` (runuser). Raises
    pytest's Skipped with the reason when PostgreSQL is missing and cannot be installed.
    """
    import secrets
    import tempfile
    import time

    import pytest

    if os.environ.get("CHURN_NO_SERVERS"):
        raise RuntimeError("a unit test tried to start PostgreSQL: mark it integration")
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL is not installed (/usr/lib/postgresql/*/bin) and cannot be installed "
            "without root: `apt-get install postgresql`"
        )
    root = Path(tempfile.mkdtemp(prefix="churn-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        as_user = ["runuser", "-u", user, "--"]
    password = secrets.token_hex(16)
    pwfile = root / "pw"
    pwfile.write_text(password)
    if as_user:
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    data = root / "data"
    init = subprocess.run(
        [
            *as_user,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "churn",
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    pwfile.unlink()
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr[-2000:]}")
    port = free_port()
    # A test cluster: durability off (fsync), everything else as shipped.
    process = start_process(
        [
            *as_user,
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(root),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ],
        root / "postgres.log",
    )
    url = f"postgresql+psycopg://churn:{password}@127.0.0.1:{port}/postgres"
    server = PostgresServer(url=url, root=root, process=process, port=port)
    deadline = time.monotonic() + 60
    while True:
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-t", "1"],
            capture_output=True,
            check=False,
        )
        if ready.returncode == 0:
            return server
        if process.poll() is not None or time.monotonic() > deadline:
            log = (root / "postgres.log").read_text(errors="replace")[-3000:]
            server.stop()
            raise RuntimeError(f"postgres did not start: {log}")
        time.sleep(0.2)


def fresh_database(postgres_url: str, name: str | None = None) -> str:
    """CREATE DATABASE on the cluster; returns the new database's URL (same credentials)."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    name = name or f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database,
        autocommit=True,
        connect_timeout=5,
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)
