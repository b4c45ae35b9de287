"""The compose file is valid (Compose's own parser and the compose-spec schema) and keeps the
rules the system relies on: health checks, restart policies, start order, the proxy's port,
generated secrets handed out per service, MLflow guarded and unpublished, hardened runtimes."""

from __future__ import annotations

import json
import os
import re
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
OURS = ("secrets", "mlflow", "trainer", "api", "ui", "proxy")  # built here, all hardened
MLFLOW_UI_OVERRIDE = "docker/mlflow/publish-ui.yml"


def uv() -> list[str]:
    if os.environ.get("UV"):
        return shlex.split(os.environ["UV"])
    return [found] if (found := shutil.which("uv")) else ["python3", "-m", "uv"]


def compose_config(*files: str) -> dict:
    if shutil.which("docker") is None:
        pytest.skip("no docker CLI on PATH: cannot run `docker compose config`")
    # A fresh clone: no .env and nothing set in the shell.
    env = clean_env(COMPOSE_DISABLE_ENV_FILE="1")
    env = {k: v for k, v in env.items() if k not in {"COMPOSE_FILE", "COMPOSE_PROFILES"}}
    flags = [arg for name in ("docker-compose.yml", *files) for arg in ("-f", name)]
    result = subprocess.run(
        ["docker", "compose", *flags, "config", "--format", "json"],
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


@pytest.fixture(scope="module")
def config() -> dict:
    return compose_config()


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
    for name in ("mlflow", "trainer", "api", "ui", "proxy"):
        secrets = services[name]["depends_on"]["secrets"]
        assert secrets["condition"] == "service_completed_successfully", name
    api_deps = services["api"]["depends_on"]
    assert api_deps["trainer"]["condition"] == "service_completed_successfully"
    assert api_deps["mlflow"]["condition"] == "service_healthy"
    assert services["ui"]["environment"]["API_BASE_URL"] == "http://api:8000"
    (port,) = services["proxy"]["ports"]
    assert (port["target"], port["published"], port["host_ip"]) == (80, "80", "127.0.0.1")
    # The UI and the API read the same generated JWT secret, even on a fresh clone without .env.
    api_command = " ".join(services["api"]["command"])
    ui_command = " ".join(services["ui"]["command"])
    assert "JWT_SECRET=$$(cat /run/secrets/jwt_secret)" in api_command
    assert "API_JWT_SECRET=$$(cat /run/secrets/jwt_secret)" in ui_command
    assert api_command.endswith("exec churn-api") and ui_command.endswith("exec churn-ui")
    api_health = " ".join(services["api"]["healthcheck"]["test"])
    assert "/health/ready" in api_health
    assert "/ui/_stcore/health" in " ".join(services["ui"]["healthcheck"]["test"])
    assert "postgres" not in services, "the postgres profile must stay off by default"


def test_e2e_compose_env_example_documents_every_setting() -> None:
    example = (ROOT / ".env.example").read_text()
    compose_file = (ROOT / "docker-compose.yml").read_text()
    compose_file += (ROOT / MLFLOW_UI_OVERRIDE).read_text()
    for variable in (
        "JWT_SECRET",
        "CONSOLE_PASSWORD",
        "HTTP_PORT",
        "BIND_ADDRESS",
        "CHURN_TRIALS",
        "MLFLOW_UI_PORT",
    ):
        assert f"${{{variable}" in compose_file, variable
        assert f"{variable}=" in example, f"{variable} missing from .env.example"
    # Secrets in the example are empty: a value there would be a repository default.
    for line in example.splitlines():
        name, _, value = line.lstrip("# ").partition("=")
        if re.search(r"SECRET|PASSWORD", name) and " " not in name:
            assert value.strip() in ("", "<yours>"), line
    assert Path(ROOT / ".gitignore").read_text().count(".env") >= 1


def _mounts(service: dict) -> dict[str, dict]:
    return {volume["target"]: volume for volume in service.get("volumes", [])}


def test_e2e_compose_secrets_are_generated_and_handed_out_per_service(config: dict) -> None:
    services = config["services"]
    generator = services["secrets"]
    assert generator["network_mode"] == "none" and generator["cap_add"] == ["CHOWN"]
    assert generator["environment"]["JWT_SECRET"] == "", "no secret value from the repository"
    shares = {
        "mlflow": "secrets-mlflow",
        "trainer": "secrets-trainer",
        "api": "secrets-api",
        "ui": "secrets-ui",
        "proxy": "secrets-proxy",
    }
    for name, volume in shares.items():
        mount = _mounts(services[name])["/run/secrets"]
        assert (mount["source"], mount["read_only"]) == (volume, True), name
        assert _mounts(generator)[f"/secrets/{name}"]["source"] == volume
        others = [v["source"] for v in services[name].get("volumes", []) if v["type"] == "volume"]
        assert "secrets-master" not in others, name
        assert [v for v in others if v.startswith("secrets-")] == [volume], name
    assert services["trainer"]["environment"]["MODEL_SIGNING_KEY_FILE"] == (
        "/run/secrets/signing-key.pem"
    )
    assert services["api"]["environment"]["MODEL_PUBLIC_KEYS_FILE"] == (
        "/run/secrets/model-public-keys.pem"
    )
    assert services["trainer"]["environment"]["MLFLOW_TRACKING_USERNAME"] == "trainer"
    assert services["api"]["environment"]["MLFLOW_TRACKING_USERNAME"] == "api"


def test_e2e_compose_file_holds_no_default_secret() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    defaults = re.findall(r"\$\{(\w*(?:SECRET|PASSWORD|TOKEN)\w*):-([^}]*)\}", text)
    assert all(value == "" for _, value in defaults), defaults
    assert "insecure" not in text.lower()


def test_e2e_compose_mlflow_is_guarded_and_internal(config: dict) -> None:
    mlflow = config["services"]["mlflow"]
    assert "ports" not in mlflow, "MLflow is published only through the opt-in override"
    assert mlflow["command"] == ["--app-name", "basic-auth"]
    env = mlflow["environment"]
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert env["MLFLOW_WORKERS"] == "1"
    for name in ("MLFLOW_AUTH_ADMIN", "MLFLOW_TRAINER", "MLFLOW_API"):
        assert env[f"{name}_PASSWORD_FILE"].startswith("/run/secrets/"), name
    published = compose_config(MLFLOW_UI_OVERRIDE)["services"]["mlflow"]["ports"]
    assert [(p["host_ip"], p["target"]) for p in published] == [("127.0.0.1", 5000)]


def test_e2e_compose_containers_are_hardened(config: dict) -> None:
    services = config["services"]
    for name in OURS:
        service = services[name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert int(service["mem_limit"]) > 0, name
        assert any(t.split(":")[0] == "/tmp" for t in service.get("tmpfs", [])), name
    assert "cap_add" not in services["api"] and "cap_add" not in services["proxy"]
