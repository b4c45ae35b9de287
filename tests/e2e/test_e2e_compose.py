"""`docker compose up` end to end on a real Docker engine: the system as it runs on AWS.

From nothing: build, start (the trainer publishes a champion), then through the proxy on the
host's port 80 (the load balancer's stand-in): an authenticated prediction that reproduces the
model's golden examples, the UI's health and its websocket under /ui. Then a second training
run whose promoted model the running API picks up without a restart. Always `down -v`.

Skipped, with the reason, when no Docker engine answers (`docker info`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from e2e_helpers import (
    champion_golden_examples,
    clean_env,
    port_is_free,
    wait_until,
)
from testkit import ROOT, TEST_TRIALS, free_port
from websockets.sync.client import connect

# The first test also builds and starts the stack (module fixture): a cold build takes minutes.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(2400)]

# Small enough for CI, still a real search; the first run must produce a champion.
TRIALS = os.environ.get("E2E_CHURN_TRIALS", TEST_TRIALS)
UP_TIMEOUT = 1500  # A cold build of the five images on two cores, then the first training.


def docker_engine() -> str | None:
    """Why Docker cannot be used here, or None when an engine and Compose v2 answer."""
    if shutil.which("docker") is None:
        return "no docker CLI on PATH"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return f"`docker info` failed: {(info.stderr or info.stdout).strip()[:300]}"
    compose = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, check=False
    )
    if compose.returncode != 0:
        return "the docker compose v2 plugin is missing"
    return None


def compose_files() -> list[str]:
    """docker-compose.yml, plus the override file named by E2E_COMPOSE_OVERRIDE, if any."""
    files = ["-f", str(ROOT / "docker-compose.yml")]
    if override := os.environ.get("E2E_COMPOSE_OVERRIDE"):
        files += ["-f", override]
    return files


@dataclass
class Compose:
    """One compose project, isolated by name, ports and secret."""

    project: str
    env: dict[str, str]
    http: str
    mlflow: str
    log: Path
    ran: list[str] = field(default_factory=list)

    def run(
        self, *args: str, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = ["docker", "compose", "-p", self.project, *compose_files(), *args]
        started = time.monotonic()
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=self.env, cwd=ROOT
        )
        took = time.monotonic() - started
        with self.log.open("a") as handle:
            handle.write(f"\n$ {' '.join(cmd)}  # exit {result.returncode} in {took:.0f} s\n")
            handle.write(result.stdout[-20000:] + result.stderr[-20000:])
        self.ran.append(f"{' '.join(args[:3])}: {took:.0f} s")
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker compose {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n{self.logs()}"
            )
        return result

    def logs(self) -> str:
        result = subprocess.run(
            ["docker", "compose", "-p", self.project, *compose_files(), "logs", "--tail", "60"],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
            cwd=ROOT,
            check=False,
        )
        return f"--- compose logs ---\n{result.stdout[-6000:]}"

    def container(self, service: str) -> dict:
        cid = self.run("ps", "-q", service).stdout.strip()
        assert cid, f"no container for {service}"
        inspect = subprocess.run(
            ["docker", "inspect", cid], capture_output=True, text=True, check=True
        )
        return json.loads(inspect.stdout)[0]


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compose]:
    reason = docker_engine()
    if reason is not None:
        pytest.skip(f"compose end-to-end test needs a Docker engine: {reason}")
    wanted = int(os.environ.get("E2E_HTTP_PORT", "80"))
    http_port = wanted if port_is_free(wanted) else free_port()
    mlflow_port = free_port()
    env = clean_env(
        JWT_SECRET=secrets.token_hex(32),
        CHURN_TRIALS=TRIALS,
        MODEL_REFRESH_SECONDS="2",
        HTTP_PORT=str(http_port),
        MLFLOW_UI_PORT=str(mlflow_port),
        BIND_ADDRESS="127.0.0.1",
    )
    stack = Compose(
        project=f"churn-e2e-{uuid.uuid4().hex[:8]}",
        env=env,
        http=f"http://127.0.0.1:{http_port}",
        mlflow=f"http://127.0.0.1:{mlflow_port}",
        log=tmp_path_factory.mktemp("compose") / "compose.log",
    )
    started = time.monotonic()
    try:
        stack.run("up", "--build", "--wait", "--wait-timeout", "600", timeout=UP_TIMEOUT)
        yield stack
    finally:
        stack.run("down", "-v", "--remove-orphans", "--timeout", "20", timeout=300, check=False)
        print(
            f"\ncompose e2e: {time.monotonic() - started:.0f} s in total "
            f"({'; '.join(stack.ran)}); log {stack.log}"
        )


def token(stack: Compose, scope: str) -> str:
    """A token minted inside the API container from the secret compose gave it."""
    minted = stack.run("exec", "-T", "api", "churn-api", "token", "--scope", scope, timeout=60)
    return minted.stdout.strip().splitlines()[-1]


def test_e2e_compose_serves_through_the_proxy(compose: Compose) -> None:
    liveness = requests.get(f"{compose.http}/", timeout=5)
    assert liveness.status_code == 200 and liveness.json()["service"] == "telco-churn-api"
    # The listener rule is /ui and /ui/* only: /uix belongs to the API (its JSON 404).
    other = requests.get(f"{compose.http}/uix", timeout=5)
    assert other.status_code == 404 and other.headers["content-type"].startswith("application/json")

    golden = champion_golden_examples(compose.mlflow)
    example = golden["examples"][0]
    unauthenticated = requests.post(f"{compose.http}/predict", json=example["input"], timeout=10)
    assert unauthenticated.status_code == 401, unauthenticated.text

    headers = {"Authorization": f"Bearer {token(compose, 'predict')}"}
    for example in golden["examples"][:5]:
        response = requests.post(
            f"{compose.http}/predict", json=example["input"], headers=headers, timeout=10
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["churn_probability"] == pytest.approx(
            example["probability"], abs=max(golden["tolerance"], 1e-6)
        )
        assert body["model"] == {"name": "telco-churn", "version": "1", "alias": "champion"}


def test_e2e_compose_ui_and_websocket_through_the_proxy(compose: Compose) -> None:
    health = requests.get(f"{compose.http}/ui/_stcore/health", timeout=5)
    assert health.status_code == 200 and health.text.strip() == "ok", health.text
    page = requests.get(f"{compose.http}/ui/", timeout=5)
    assert page.status_code == 200 and "<html" in page.text.lower()

    ws_url = compose.http.replace("http://", "ws://") + "/ui/_stcore/stream"
    # connect() fails unless the answer is "101 Switching Protocols" with the right accept key.
    with connect(ws_url, open_timeout=10, close_timeout=5) as websocket:
        assert websocket.response is not None and websocket.response.status_code == 101
        # Frames flow both ways through the proxy: Streamlit's server answers a ping.
        assert websocket.ping().wait(timeout=5)


def test_e2e_compose_api_image_is_lean(compose: Compose) -> None:
    probe = (
        "import importlib.util as u, json; "
        "print(json.dumps([m for m in ('pandas', 'sklearn', 'matplotlib') if u.find_spec(m)]))"
    )
    found = compose.run("exec", "-T", "api", "python", "-c", probe, timeout=60).stdout
    assert json.loads(found.strip().splitlines()[-1]) == []


def test_e2e_compose_retrain_is_promoted_and_picked_up(compose: Compose) -> None:
    before = compose.container("api")
    trained = compose.run("run", "--rm", "-T", "trainer", "--quiet", timeout=900)
    result = json.loads(trained.stdout.strip().splitlines()[-1])
    # Same data and seed: the new version equals the champion, so the gate promotes it.
    assert result["promoted"] is True and result["alias"] == "champion", result
    assert result["version"] == "2", result

    def picked_up() -> bool:
        model = requests.get(f"{compose.http}/model", timeout=5)
        return model.status_code == 200 and model.json()["version"] == "2"

    wait_until("the API serves version 2", picked_up, timeout=120)
    headers = {"Authorization": f"Bearer {token(compose, 'predict')}"}
    example = champion_golden_examples(compose.mlflow)["examples"][0]
    response = requests.post(
        f"{compose.http}/predict", json=example["input"], headers=headers, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.json()["model"]["version"] == "2"

    after = compose.container("api")
    assert after["Id"] == before["Id"], "the API container was replaced"
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"], "the API was restarted"
    assert after["RestartCount"] == 0
