"""The MLflow server on ECS: sized to its task, job runner off, basic auth with three identities."""

from __future__ import annotations

import json
import re

import pytest
from infra_hcl import TERRAFORM, Module, when

IDENTITY_SECRETS = {
    "MLFLOW_AUTH_ADMIN_USERNAME": ("admin", "username"),
    "MLFLOW_AUTH_ADMIN_PASSWORD": ("admin", "password"),
    "MLFLOW_TRAINER_USERNAME": ("trainer", "username"),
    "MLFLOW_TRAINER_PASSWORD": ("trainer", "password"),
    "MLFLOW_API_USERNAME": ("api", "username"),
    "MLFLOW_API_PASSWORD": ("api", "password"),
}


def _environment(root: Module) -> dict[str, str]:
    return when(root.locals["mlflow_environment"], "local.create_mlflow")


def test_job_execution_is_off_in_the_environment_and_the_server_command(root: Module) -> None:
    assert root.modules["mlflow"]["environment"] == "${local.mlflow_environment}"
    assert _environment(root)["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    command = root.locals["mlflow_server_command"]
    assert "export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false" in command
    assert root.modules["mlflow"]["command"] == ["${local.mlflow_server_command}"]


def test_server_runs_the_image_entrypoint_with_basic_auth(root: Module) -> None:
    command = root.locals["mlflow_server_command"]
    assert command.rstrip("}").endswith('"exec mlflow-entrypoint --app-name basic-auth"]) : null')
    # The DB password is expanded by the container's shell, never rendered by Terraform.
    assert "$${DB_PASSWORD}" in command
    assert "sslmode=require" in command


def test_workers_follow_the_task_cpu(root: Module) -> None:
    # One worker per 0.5 vCPU: 512 units -> 1, 1024 -> 2, 2048 -> 4.
    assert root.locals["mlflow_workers"] == "${max(1, floor(var.mlflow_cpu / 512))}"
    assert _environment(root)["MLFLOW_WORKERS"] == "${tostring(local.mlflow_workers)}"


def test_default_memory_holds_the_measured_footprint_of_the_default_workers(root: Module) -> None:
    (validation,) = root.variables["mlflow_memory"]["validation"]
    condition = validation["condition"]
    assert condition == "${var.mlflow_memory >= 300 + 350 * max(1, floor(var.mlflow_cpu / 512))}"
    cpu, memory = root.default("mlflow_cpu"), root.default("mlflow_memory")
    workers = max(1, cpu // 512)
    # 0.3 GB base + 350 MB per worker, measured with job execution off (PITFALLS.md).
    assert memory >= 300 + 350 * workers


def test_mlflow_task_gets_the_admin_and_user_credentials_as_secrets(root: Module) -> None:
    secrets = when(root.locals["mlflow_secrets"], "local.create_mlflow")
    assert secrets["DB_PASSWORD"] == "${aws_secretsmanager_secret.db[0].arn}"
    for name, (identity, key) in IDENTITY_SECRETS.items():
        assert secrets[name] == f'${{aws_secretsmanager_secret.mlflow["{identity}"].arn}}:{key}::'
    assert set(secrets) == {"DB_PASSWORD", *IDENTITY_SECRETS}
    environment = json.dumps(_environment(root))
    assert "PASSWORD" not in environment and "random_password" not in environment


def test_identities_are_generated_json_secrets(root: Module) -> None:
    identities = when(root.locals["mlflow_identities"], "local.create_mlflow")
    assert set(identities) == {"admin", "trainer", "api"}
    password = root.resource("random_password", "mlflow")
    assert password["for_each"] == "${local.mlflow_identities}"
    assert password["length"] >= 32
    version = root.resource("aws_secretsmanager_secret_version", "mlflow")
    assert "username = each.key" in version["secret_string"]
    assert "random_password.mlflow[each.key].result" in version["secret_string"]


@pytest.mark.parametrize(("service", "identity"), [("trainer", "trainer"), ("api", "api")])
def test_trainer_and_api_authenticate_with_their_own_identity(
    root: Module, service: str, identity: str
) -> None:
    # "<arn> == null ? {} : {...}": no secret (external MLflow without auth) sends nothing.
    expression = root.locals[f"mlflow_{identity}_credentials"]
    match = re.fullmatch(r"\$\{(.+?) \? \{\} : \{(.*)\}\}", expression, re.DOTALL)
    assert match and match.group(1) == f"local.mlflow_{identity}_secret_arn == null"
    credentials = match.group(2)
    for name, key in (
        ("MLFLOW_TRACKING_USERNAME", "username"),
        ("MLFLOW_TRACKING_PASSWORD", "password"),
    ):
        assert f'{name} = "${{local.mlflow_{identity}_secret_arn}}:{key}::"' in credentials
    arn = root.locals[f"mlflow_{identity}_secret_arn"]
    assert arn == (
        f'${{local.create_mlflow ? aws_secretsmanager_secret.mlflow["{identity}"].arn'
        f" : var.external_mlflow_{identity}_secret_arn}}"
    )
    secrets = root.modules[service]["secrets"]
    assert f"local.mlflow_{identity}_credentials" in secrets
    # Never plain environment.
    assert "MLFLOW_TRACKING_PASSWORD" not in json.dumps(root.modules[service].get("environment"))


def test_readme_documents_the_names_the_mlflow_image_reads(root: Module) -> None:
    readme = (TERRAFORM / "README.md").read_text()
    environment = _environment(root)
    for name in [*IDENTITY_SECRETS, *environment, "MLFLOW_TRACKING_USERNAME"]:
        if name.startswith("MLFLOW_"):
            assert name in readme, f"terraform/README.md does not document {name}"
