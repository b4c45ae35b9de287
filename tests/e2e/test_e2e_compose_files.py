"""The compose file is valid (Compose's own parser and the compose-spec schema) and keeps the
rules the system relies on: health checks, restart policies, start order, the proxy's port."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from e2e_helpers import clean_env
from testkit import ROOT

pytestmark = pytest.mark.e2e

CHECK_JSONSCHEMA_VERSION = "0.39.0"  # the same pin as .github/scripts/lint-infra.sh
LONG_RUNNING = ("mlflow", "api", "ui", "proxy")


def uv() -> list[str]:
    if os.environ.get("UV"):
        return shlex.split(os.environ["UV"])
    return [found] if (found := shutil.which("uv")) else ["python3", "-m", "uv"]


@pytest.fixture(scope="module")
def config() -> dict:
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI on PATH: cannot run `docker compose config`")
    # A fresh clone: no .env and nothing set in the shell.
    env = clean_env(COMPOSE_DISABLE_ENV_FILE="1")
    result = subprocess.run(
        ["docker", "compose", "-f", "docker-compose.yml", "config", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    if result.returncode != 0 and "is not a docker command" in result.stderr:
        pytest.skip("the docker compose v2 plugin is missing")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_e2e_compose_file_matches_the_compose_spec() -> None:
    result = subprocess.run(
        [
            *uv(),
            "tool",
            "run",
            "--from",
            f"check-jsonschema=={CHECK_JSONSCHEMA_VERSION}",
            "check-jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            "docker-compose.yml",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_e2e_compose_long_running_services_have_health_and_restart(config: dict) -> None:
    services = config["services"]
    for name in LONG_RUNNING:
        assert services[name]["restart"] == "unless-stopped", name
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    assert services["trainer"].get("restart", "no") == "no"
    assert "healthcheck" not in services["trainer"]


def test_e2e_compose_start_order_and_routing(config: dict) -> None:
    services = config["services"]
    assert services["trainer"]["depends_on"]["mlflow"]["condition"] == "service_healthy"
    api_deps = services["api"]["depends_on"]
    assert api_deps["trainer"]["condition"] == "service_completed_successfully"
    assert api_deps["mlflow"]["condition"] == "service_healthy"
    assert services["ui"]["environment"]["API_BASE_URL"] == "http://api:8000"
    (port,) = services["proxy"]["ports"]
    assert (port["target"], port["published"], port["host_ip"]) == (80, "80", "127.0.0.1")
    # The UI and the API share the JWT secret, even on a fresh clone without .env.
    assert (
        services["ui"]["environment"]["API_JWT_SECRET"]
        == services["api"]["environment"]["JWT_SECRET"]
    )
    api_health = " ".join(services["api"]["healthcheck"]["test"])
    assert "/health/ready" in api_health
    assert "/ui/_stcore/health" in " ".join(services["ui"]["healthcheck"]["test"])
    assert "postgres" not in services, "the postgres profile must stay off by default"


def test_e2e_compose_env_example_documents_every_setting() -> None:
    example = (ROOT / ".env.example").read_text()
    compose_file = (ROOT / "docker-compose.yml").read_text()
    for variable in ("JWT_SECRET", "HTTP_PORT", "BIND_ADDRESS", "CHURN_TRIALS", "MLFLOW_UI_PORT"):
        assert f"${{{variable}" in compose_file, variable
        assert f"{variable}=" in example, f"{variable} missing from .env.example"
    assert Path(ROOT / ".gitignore").read_text().count(".env") >= 1
