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
import sys
from pathlib import Path

import pytest
from e2e_helpers import clean_env
from testkit import ROOT

pytestmark = pytest.mark.e2e

CHECK_JSONSCHEMA_VERSION = "0.39.0"  # the same pin as .github/scripts/lint-infra.sh
LONG_RUNNING = ("mlflow", "api", "ui", "proxy", "postgres")
# Built here, all hardened.
OURS = ("secrets", "mlflow", "trainer", "api", "ui", "proxy", "postgres", "scorer")
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
    for name in ("trainer", "scorer"):
        assert services[name].get("restart", "no") == "no", name
        assert "healthcheck" not in services[name], name


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
    # The UI and the API read the same generated predict-only secret, even on a fresh clone
    # without .env; the API trusts the operator's admin key by its public half only.
    api_command = " ".join(services["api"]["command"])
    ui_command = " ".join(services["ui"]["command"])
    assert "JWT_PREDICT_SECRET=$$(cat /run/secrets/jwt_predict_secret)" in api_command
    assert "API_PREDICT_SECRET=$$(cat /run/secrets/api_predict_secret)" in ui_command
    assert services["api"]["environment"]["JWT_ADMIN_PUBLIC_KEYS_FILE"] == (
        "/run/secrets/jwt-admin-public-keys.pem"
    )
    for name in ("api", "ui"):
        text = json.dumps(services[name])
        assert "JWT_SECRET" not in text and "CHURN_DEV_MODE" not in text, name
    assert api_command.endswith("exec churn-api") and ui_command.endswith("exec churn-ui")
    api_health = " ".join(services["api"]["healthcheck"]["test"])
    assert "/health/ready" in api_health
    assert "/ui/_stcore/health" in " ".join(services["ui"]["healthcheck"]["test"])


def test_e2e_compose_customer_store_and_scorer(config: dict) -> None:
    """PostgreSQL in the default profile, built here; the scorer after the trainer; the API
    reads the store with the read-only role, the scorer writes with the other."""
    services = config["services"]
    postgres = services["postgres"]
    assert "profiles" not in postgres, "the customer store is part of the default stack"
    assert "image" in postgres and postgres["build"]["dockerfile"] == "docker/postgres/Dockerfile"
    dockerfile = (ROOT / "docker/postgres/Dockerfile").read_text()
    assert re.findall(r"^FROM\s+(\S+)", dockerfile, re.M) == ["debian:bookworm-slim"]
    assert re.findall(r"^USER\s+(\S+)", dockerfile, re.M) == ["10001:10001"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert "ports" not in postgres, "the store is reachable inside the network only"
    assert _mounts(postgres)["/var/lib/postgresql/data"]["type"] == "volume"

    scorer = services["scorer"]
    assert scorer["build"]["target"] == "scorer"
    assert scorer["build"]["dockerfile"] == "inference-service/Dockerfile"
    deps = scorer["depends_on"]
    assert deps["trainer"]["condition"] == "service_completed_successfully"
    assert deps["postgres"]["condition"] == "service_healthy"
    assert deps["mlflow"]["condition"] == "service_healthy"
    script = " ".join(scorer["entrypoint"])
    # Migrate, then score the verified IBM file with the label column dropped.
    assert script.index("churn-score migrate") < script.index("exec churn-score run")
    assert "--drop-columns Churn" in script and "ibm_customers.py" in script
    assert "churn_writer:$$(cat /run/secrets/database_password)" in script
    assert _mounts(scorer)["/data"]["read_only"] is True
    assert scorer["environment"]["MLFLOW_TRACKING_USERNAME"] == "api"  # read-only identity
    # The console opens on the call list: the UI waits for the scored base.
    ui_scorer = services["ui"]["depends_on"]["scorer"]
    assert ui_scorer["condition"] == "service_completed_successfully"

    api_command = " ".join(services["api"]["command"])
    assert "churn_reader:$$(cat /run/secrets/database_password)@postgres:5432/churn_store" in (
        api_command
    )
    assert "DATABASE_URL" in api_command.split("export", 1)[1]
    assert "DATABASE_MIGRATE" not in json.dumps(services["api"]), "the API never migrates here"


def test_e2e_compose_store_roles_write_and_read_only() -> None:
    """init.sql: the writer owns the database; the reader may connect and SELECT only."""
    sql = (ROOT / "docker/postgres/init.sql").read_text()
    assert "CREATE DATABASE churn_store OWNER churn_writer;" in sql
    assert "ALTER ROLE churn_reader SET default_transaction_read_only = on;" in sql
    grants = [line for line in sql.splitlines() if "churn_reader" in line and "GRANT" in line]
    assert grants and all(re.search(r"GRANT (CONNECT|USAGE|SELECT) ", g) for g in grants), grants
    assert not re.search(r"GRANT (ALL|INSERT|UPDATE|DELETE|CREATE)\b[^;]*churn_reader", sql)
    hba = (ROOT / "docker/postgres/pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line and not line.startswith("#")]
    assert ["local", "all", "postgres", "peer"] in rules
    assert all(rule[-1] in {"peer", "scram-sha-256"} for rule in rules), rules
    assert not any(rule[0] == "host" and "postgres" in rule[2].split(",") for rule in rules)


def test_e2e_compose_scorer_checks_the_trainers_dataset_hashes() -> None:
    """docker/scorer/ibm_customers.py repeats churn_training's constants (no shared code)."""
    scorer = (ROOT / "docker/scorer/ibm_customers.py").read_text()
    training = (ROOT / "training/src/churn_training/data.py").read_text()
    for name in (
        "IBM_WHEEL",
        "IBM_WHEEL_SHA256",
        "IBM_CSV_MEMBER",
        "IBM_CSV_SHA256",
        "IBM_CSV_NAME",
    ):
        pattern = re.compile(rf"^{name} = (.+)$", re.M)
        ours, theirs = pattern.search(scorer), pattern.search(training)
        assert ours and theirs and ours.group(1) == theirs.group(1), name


def test_e2e_compose_proxy_routes_customers_to_the_api() -> None:
    conf = (ROOT / "docker/proxy/nginx.conf").read_text()
    block = re.search(r"location ~ \^/customers\(/\|\$\) \{(.*?)\n        \}", conf, re.S)
    assert block, "no location for /customers and /customers/*"
    body = block.group(1)
    assert "proxy_pass http://api;" in body and "limit_req zone=customers" in body
    assert "$not_json_write" in body
    assert "auth_basic" not in body, "the API checks the token, as on /predict"


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
    # JWT_SECRET is passed only to be refused (generate.py); no value from the repository.
    assert generator["environment"]["JWT_SECRET"] == ""
    shares = {
        "mlflow": "secrets-mlflow",
        "trainer": "secrets-trainer",
        "api": "secrets-api",
        "ui": "secrets-ui",
        "proxy": "secrets-proxy",
        "postgres": "secrets-postgres",
        "scorer": "secrets-scorer",
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


def _generate(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """docker/secrets/generate.py on this machine, with `root` for its volumes."""
    return subprocess.run(
        [sys.executable, str(ROOT / "docker/secrets/generate.py"), *args],
        env={
            **clean_env(),
            "SECRETS_ROOT": str(root),
            "SERVICE_UID": str(os.getuid()),
            "JWT_SECRET": "",
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )


def test_e2e_compose_token_keys_never_let_the_ui_mint_admin(tmp_path: Path) -> None:
    """The generated shares, checked by the API's own authenticator: the operator's admin token
    from `secrets show --admin-token` is admin; anything the UI's secret signs is not."""
    pytest.importorskip("cryptography")
    import jwt

    from churn_api.security import AuthError, mint_token
    from churn_api.settings import Settings, authenticator

    for share in ("api", "ui", "postgres", "scorer"):
        (tmp_path / share).mkdir()
    (tmp_path / "ui" / "jwt_secret").write_text("the old shared secret, left from before")
    done = _generate(tmp_path)
    assert done.returncode == 0, done.stderr
    api, ui = tmp_path / "api", tmp_path / "ui"
    assert sorted(p.name for p in ui.iterdir()) == ["api_predict_secret"]
    assert "jwt_secret" not in {p.name for p in api.iterdir()}
    assert "PRIVATE" not in "".join(p.read_text() for p in api.iterdir() if p.suffix == ".pem")
    assert (tmp_path / "master" / "jwt-admin-key.pem").is_file()
    assert len((ui / "api_predict_secret").read_text()) == 64
    # The store: the API holds the reader's password, the scorer the writer's, never both.
    postgres, scorer = tmp_path / "postgres", tmp_path / "scorer"
    assert sorted(p.name for p in postgres.iterdir()) == ["reader_password", "writer_password"]
    reader, writer = (postgres / f"{r}_password" for r in ("reader", "writer"))
    assert (api / "database_password").read_text() == reader.read_text()
    assert (scorer / "database_password").read_text() == writer.read_text()
    assert reader.read_text() != writer.read_text() and len(writer.read_text()) >= 32
    assert "signing-key.pem" not in {p.name for p in scorer.iterdir()}

    shown = _generate(tmp_path, "show", "--admin-token")
    assert shown.returncode == 0, shown.stderr
    admin = shown.stdout.strip()
    settings = Settings(
        jwt_predict_secret=(api / "jwt_predict_secret").read_text(),
        jwt_admin_public_keys_file=api / "jwt-admin-public-keys.pem",
        churn_dev_mode=False,
    )
    auth = authenticator(settings)
    assert auth.authorize(f"Bearer {admin}", "admin").sub == "compose-operator"
    claims = jwt.decode(admin, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 900

    ui_secret = (ui / "api_predict_secret").read_text()
    from_ui = mint_token(ui_secret, ["predict", "admin"], 300, "ui", issuer="churn-ui")
    assert auth.authorize(f"Bearer {from_ui}", "predict").scopes == {"predict"}
    with pytest.raises(AuthError) as refused:
        auth.authorize(f"Bearer {from_ui}", "admin")
    assert refused.value.status == 403

    assert "--ttl must be" in _generate(tmp_path, "show", "--admin-token", "--ttl", "90000").stderr
    old = _generate(tmp_path, JWT_SECRET="an-old-shared-secret-from-a-dot-env-file")
    assert old.returncode != 0 and "JWT_SECRET is no longer used" in old.stderr
