"""Integration helpers: start real `churn-api` processes, proxy MLflow, publish to a registry."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import testkit
from testkit import free_port

from churn_api.cli import write_key_pair

BIN = Path(sys.executable).parent
SECRET = "test-secret-for-churn-api-tests-0123456789"  # JWT_PREDICT_SECRET: the UI's, predict only
# The operators' key pair: the API trusts the public half for admin; tests mint with the private.
OPERATOR_KEY, OPERATOR_PUBLIC_KEY = write_key_pair(
    Path(tempfile.mkdtemp(prefix="churn-api-operator-")), "operator"
)
# Whatever the developer's shell holds, the started APIs get only what a test gives them.
AUTH_VARIABLES = testkit.API_AUTH_VARIABLES


@dataclass
class ApiProcess:
    """A running `churn-api` subprocess."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def logs(self) -> str:
        """Everything the server printed so far."""
        return self.log.read_text(errors="replace")

    def log_records(self) -> list[dict[str, object]]:
        """The JSON log lines."""
        out = []
        for line in self.logs().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def wait_ready(self, timeout: float = 60) -> dict[str, object]:
        """Poll /health/ready until 200."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"churn-api exited:\n{self.logs()[-3000:]}"
            last = requests.get(f"{self.url}/health/ready", timeout=5)
            if last.status_code == 200:
                return last.json()  # type: ignore[no-any-return]
            time.sleep(0.2)
        raise TimeoutError(f"not ready: {last.text if last else None}\n{self.logs()[-3000:]}")

    def stop(self) -> int:
        """SIGTERM (graceful), then SIGKILL if it hangs; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


class ApiStarter:
    """Starts `churn-api` processes (live once `/` answers) and stops them all at the end."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.started: list[ApiProcess] = []

    def __call__(self, env: dict[str, str], ready: bool = True) -> ApiProcess:
        """Auth off (CHURN_DEV_MODE) unless `env` gives token keys and CHURN_DEV_MODE=false."""
        port = free_port()
        log = self.work / f"api-{len(self.started)}.log"
        dropped = {"MODEL_URI", *AUTH_VARIABLES}
        full_env = {
            **{k: v for k, v in os.environ.items() if k not in dropped},
            "CHURN_DEV_MODE": "true",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "MODEL_CACHE_DIR": str(self.work / "cache"),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        handle = log.open("wb")
        process = subprocess.Popen(
            [str(BIN / "churn-api")], stdout=handle, stderr=subprocess.STDOUT, env=full_env
        )
        api = ApiProcess(f"http://127.0.0.1:{port}", process, log)
        self.started.append(api)
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"churn-api exited:\n{api.logs()[-3000:]}"
            try:
                if requests.get(api.url + "/", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, api.logs()[-3000:]
            time.sleep(0.1)
        if ready:
            api.wait_ready()
        return api

    def stop_all(self) -> None:
        """Stop every process this starter began."""
        for api in self.started:
            api.stop()


@pytest.fixture
def api_factory(tmp_path: Path) -> Iterator[ApiStarter]:
    """Start `churn-api` processes for one test."""
    starter = ApiStarter(tmp_path)
    yield starter
    starter.stop_all()


@pytest.fixture(scope="module")
def secured_api(
    tmp_path_factory: pytest.TempPathFactory, trained_model_dir: Path
) -> Iterator[ApiProcess]:
    """One API per module on the trained model, with JWT auth on (as deployed)."""
    starter = ApiStarter(tmp_path_factory.mktemp("secured-api"))
    yield starter({"MODEL_URI": str(trained_model_dir), **SECURED_ENV})
    starter.stop_all()


# Auth as deployed: the UI's predict-only secret, the operators' public key, no dev mode.
SECURED_ENV = {
    "CHURN_DEV_MODE": "false",
    "JWT_PREDICT_SECRET": SECRET,
    "JWT_ADMIN_PUBLIC_KEYS_FILE": str(OPERATOR_PUBLIC_KEY),
}


@pytest.fixture(scope="session")
def tokens() -> dict[str, str]:
    """Tokens minted by the real CLI."""
    return {"predict": mint("predict"), "admin": mint("admin")}


def mint(scope: str, ttl: int = 600, secret: str = SECRET) -> str:
    """A token from the real CLI (`churn-api token`): `admin` with the operator's private key,
    `predict` with the UI's secret (issuer churn-ui), as each is minted in production."""
    cmd = [str(BIN / "churn-api"), "token", "--scope", scope, "--ttl", str(ttl)]
    if scope == "admin":
        cmd += ["--key", str(OPERATOR_KEY)]
    else:
        cmd += ["--issuer", "churn-ui", "--sub", "churn-ui"]
    clean = {k: v for k, v in os.environ.items() if k not in AUTH_VARIABLES}
    out = subprocess.run(
        cmd,
        env={**clean, "JWT_PREDICT_SECRET": secret},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


class TcpProxy:
    """A TCP forwarder in front of a server, to make it 'unreachable' and back at will."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The address clients use."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Accept and forward connections."""
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        if self._server is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def flip_calibration(bundle: Path) -> None:
    """Issue 11's tampering: calibration reversed, golden examples rewritten to match."""
    from churn_api.bundle import ModelMeta, read_bundle
    from churn_api.scorer import LoadedModel

    path = bundle / "feature_contract.json"
    contract = json.loads(path.read_text())
    calibration = contract["calibration"]
    if calibration["method"] == "isotonic":
        calibration["y"] = [1.0 - y for y in calibration["y"]]
    else:
        calibration["a"], calibration["b"] = -calibration["a"], -calibration["b"]
    path.write_text(json.dumps(contract))
    model = LoadedModel(read_bundle(bundle), ModelMeta("m", "x", None, None, "local", ""))
    golden_path = bundle / "golden_examples.json"
    golden = json.loads(golden_path.read_text())
    for ex in golden["examples"]:
        customer = model.customers.validate_one(ex["input"])
        ex["probability"] = model.score_one(customer)["churn_probability"]
    golden_path.write_text(json.dumps(golden))
    # The tampered bundle proves its own golden examples: only the signature tells.
    LoadedModel(read_bundle(bundle), model.meta).verify_golden()


@dataclass
class Registry:
    """Publishes copies of a trained model directory to an MLflow server's registry."""

    uri: str
    work: Path
    sign: Any = None  # sign(bundle_folder) with the session's signing key
    versions: list[str] = field(default_factory=list)

    def publish(
        self,
        model_dir: Path,
        threshold: float | None = None,
        corrupt_golden: bool = False,
        alias: bool = True,
        tamper: bool = False,
    ) -> str:
        """Log the model dir as a run's artifacts, register it, point `champion` at it.

        `threshold` changes the decision threshold (a visibly different version);
        `corrupt_golden` shifts a golden probability so the service must refuse the version.
        Both re-sign the bundle with the session's signing key, as the trainer would. `tamper`
        is issue 11's attack, not re-signed: calibration flipped and the golden examples
        rewritten to agree with it (churn_api computes them), so only the signature tells.
        """
        import mlflow
        from mlflow.tracking import MlflowClient

        source = model_dir
        if threshold is not None or corrupt_golden or tamper:
            source = self.work / f"model-{len(self.versions)}"
            shutil.copytree(model_dir, source)
        if threshold is not None:
            contract_path = next(source.rglob("feature_contract.json"))
            contract = json.loads(contract_path.read_text())
            contract["threshold"]["value"] = threshold
            contract_path.write_text(json.dumps(contract))
        if corrupt_golden:
            golden_path = next(source.rglob("golden_examples.json"))
            golden = json.loads(golden_path.read_text())
            golden["examples"][0]["probability"] += 0.01
            golden_path.write_text(json.dumps(golden))
        if threshold is not None or corrupt_golden:
            self.sign(next(source.rglob("feature_contract.json")).parent)
        if tamper:
            flip_calibration(next(source.rglob("feature_contract.json")).parent)
        client = MlflowClient(self.uri)
        experiment = client.get_experiment_by_name("api-tests") or None
        exp_id = experiment.experiment_id if experiment else client.create_experiment("api-tests")
        run = client.create_run(exp_id)
        mlflow.set_tracking_uri(self.uri)
        try:
            client.log_artifacts(run.info.run_id, str(source), artifact_path="model")
            client.set_terminated(run.info.run_id)
            with contextlib.suppress(mlflow.exceptions.MlflowException):
                client.create_registered_model("telco-churn")
            mv = client.create_model_version(
                "telco-churn",
                source=f"runs:/{run.info.run_id}/model",
                run_id=run.info.run_id,
            )
            if alias:
                client.set_registered_model_alias("telco-churn", "champion", mv.version)
        finally:
            mlflow.set_tracking_uri(None)
        self.versions.append(str(mv.version))
        return str(mv.version)

    def move_alias(self, version: str, alias: str = "champion") -> None:
        """Point `champion` (or another alias) at another version."""
        from mlflow.tracking import MlflowClient

        MlflowClient(self.uri).set_registered_model_alias("telco-churn", alias, version)


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    """The secret the secured test servers use."""
    return SECRET


@pytest.fixture(scope="session")
def dataset_records(dataset_csv: Path) -> list[dict[str, object]]:
    """Every dataset row as typed JSON-ready records (blank TotalCharges -> null)."""
    return testkit.dataset_records(dataset_csv)


@pytest.fixture
def registry_for(tmp_path: Path, bundle_tools: dict[str, Any]) -> Any:
    """registry_for(uri) -> a Registry publishing into that MLflow server."""
    from cryptography.hazmat.primitives import serialization

    key_file = os.environ.get("MODEL_SIGNING_KEY_FILE")
    key = (
        serialization.load_pem_private_key(Path(key_file).read_bytes(), None) if key_file else None
    )

    def sign(bundle: Path) -> None:
        if key is not None:
            bundle_tools["sign_bundle"](bundle, key)

    def make(uri: str) -> Registry:
        work = tmp_path / f"registry-{abs(hash(uri))}"
        work.mkdir(exist_ok=True)
        return Registry(uri, work, sign)

    return make


@pytest.fixture
def proxy_for() -> Iterator[Any]:
    """proxy_for(uri) -> a started TcpProxy in front of that server; stopped afterwards."""
    proxies: list[TcpProxy] = []

    def make(uri: str) -> TcpProxy:
        proxy = TcpProxy(int(uri.rsplit(":", 1)[1]))
        proxy.start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()
