"""GitHub workflows: pinned actions, least privilege, concurrency, uv caching, release wiring."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from infra_hcl import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("name", ["ci.yml", "release.yml", "train.yml"])
def test_actions_are_pinned_by_full_commit_sha(name: str) -> None:
    uses = [step["uses"] for step in _steps(_load(name)) if "uses" in step]
    assert uses
    for action in uses:
        assert PINNED.match(action), f"{name}: {action} is not pinned to a commit SHA"
    text = (WORKFLOWS / name).read_text()
    for line in text.splitlines():
        if "uses:" in line:
            assert re.search(r"# v\d", line), f"{name}: pin without a version comment: {line}"


@pytest.mark.parametrize("name", ["ci.yml", "release.yml", "train.yml"])
def test_least_privilege_permissions_and_concurrency(name: str) -> None:
    workflow = _load(name)
    assert workflow["permissions"] == {"contents": "read"}
    assert "group" in workflow["concurrency"]
    for job_name, job in workflow["jobs"].items():
        permissions = job.get("permissions", {})
        assert set(permissions) <= {"contents", "id-token"}, job_name
        if "id-token" in permissions:
            assert job.get("environment") == "production", f"{job_name}: OIDC outside the env"


def test_ci_covers_lint_tests_e2e_terraform_and_dockerfiles() -> None:
    workflow = _load("ci.yml")
    assert set(workflow["on"]) == {"push", "pull_request"}
    assert workflow["concurrency"]["cancel-in-progress"] is True
    runs = "\n".join(step.get("run", "") for step in _steps(workflow))
    for command in ("ruff check", "ruff format --check", "pytest", "-m e2e", "docker compose",
                    "terraform validate", "make lint-infra", "pytest tests/infra"):  # fmt: skip
        assert command in runs, command
    matrix = workflow["jobs"]["test"]["strategy"]["matrix"]["package"]
    assert set(matrix) == {"training", "inference-service", "ui-service"}
    for step in _steps(workflow):
        if step.get("uses", "").startswith("astral-sh/setup-uv@"):
            assert step["with"]["enable-cache"] is True
            assert step["with"]["cache-dependency-glob"] == "uv.lock"


def test_release_builds_every_image_tagged_by_sha_and_version() -> None:
    workflow = _load("release.yml")
    assert workflow["on"]["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    images = workflow["jobs"]["images"]
    include = images["strategy"]["matrix"]["include"]
    assert {i["image"]: i["dockerfile"] for i in include} == {
        "churn-api": "inference-service/Dockerfile",
        "churn-ui": "ui-service/Dockerfile",
        "churn-trainer": "training/Dockerfile",
        "churn-mlflow": "docker/mlflow/Dockerfile",
        "churn-scorer": "inference-service/Dockerfile",
        "churn-postgres": "docker/postgres/Dockerfile",
    }
    # The scorer is the API Dockerfile's scorer stage; the API image is its default stage.
    assert {i["image"]: i.get("target") for i in include if i.get("target")} == {
        "churn-scorer": "scorer"
    }
    steps = {s["uses"].split("@")[0]: s for s in images["steps"] if "uses" in s}
    login = steps["docker/login-action"]["with"]
    assert login == {
        "username": "${{ secrets.DOCKERHUB_USERNAME }}",
        "password": "${{ secrets.DOCKERHUB_TOKEN }}",
    }
    tags = steps["docker/metadata-action"]["with"]["tags"]
    assert "type=sha,format=long" in tags
    assert "type=semver,pattern={{version}}" in tags
    build = steps["docker/build-push-action"]["with"]
    assert build["context"] == "."  # Dockerfiles copy paths relative to the repository root
    assert build["target"] == "${{ matrix.target }}"
    assert build["push"] is True


def test_release_deploys_only_with_an_oidc_role_and_fails_on_rollback() -> None:
    deploy = _load("release.yml")["jobs"]["deploy"]
    assert deploy["needs"] == "images"
    assert deploy["if"] == "vars.AWS_DEPLOY_ROLE_ARN != ''"
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    credentials = next(
        s for s in deploy["steps"] if "configure-aws-credentials" in s.get("uses", "")
    )
    assert set(credentials["with"]) == {"role-to-assume", "aws-region"}  # no access keys
    runs = [s["run"] for s in deploy["steps"] if "run" in s]
    for service in ("api", "ui", "mlflow"):
        assert any(f'deploy --cluster "$CLUSTER" --service {service}' in r for r in runs)
    assert any("register --family" in r for r in runs)


def test_release_builds_then_deploys_the_pushed_digest_not_a_tag() -> None:
    workflow = _load("release.yml")
    images = workflow["jobs"]["images"]["steps"]
    build = next(s for s in images if s.get("uses", "").startswith("docker/build-push-action@"))
    record = next(s for s in images if s.get("name") == "Record the pushed digest")
    # The digest is the build step's own output, written under the matrix image's name ...
    assert record["env"]["DIGEST"] == "${{ steps." + build["id"] + ".outputs.digest }}"
    assert record["env"]["IMAGE"] == "${{ matrix.image }}"
    assert "^sha256:[0-9a-f]{64}$" in record["run"]
    upload = next(s for s in images if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["name"] == "digest-${{ matrix.image }}"
    assert upload["with"]["if-no-files-found"] == "error"
    assert images.index(build) < images.index(record) < images.index(upload)

    # ... and the deploy job turns each into <repository>@sha256:<digest>.
    deploy = workflow["jobs"]["deploy"]
    assert "TAG" not in deploy["env"]
    download = next(
        s for s in deploy["steps"] if s.get("uses", "").startswith("actions/download-artifact@")
    )
    assert download["with"] == {"pattern": "digest-*", "path": "digests", "merge-multiple": True}
    resolve = next(s for s in deploy["steps"] if s.get("name") == "Image references by digest")
    assert "$REGISTRY/$image@$digest" in resolve["run"]
    steps = deploy["steps"]
    assert steps.index(download) < steps.index(resolve)
    expected = {"mlflow": "$MLFLOW_IMAGE", "trainer": "$TRAINER_IMAGE", "api": "$API_IMAGE",
                "ui": "$UI_IMAGE", "scorer": "$SCORER_IMAGE",
                "store-bootstrap": "$POSTGRES_IMAGE"}  # fmt: skip
    ecs_steps = [s for s in steps if "ecs_deploy.py" in s.get("run", "")]
    assert len(ecs_steps) == 8
    # Dask's client (the scorer) and its cluster run the same image: Dask wants equal versions.
    dask = [s["run"] for s in ecs_steps if "--service dask-" in s["run"]]
    assert len(dask) == 2 and all('--image "$SCORER_IMAGE"' in run for run in dask)
    for step in ecs_steps:
        assert steps.index(resolve) < steps.index(step)
        image = step["run"].split("--image ", 1)[1].split()[0].strip('"')
        assert image in expected.values(), step["run"]
        assert ":$TAG" not in step["run"] and "github.sha" not in step["run"]
    assert {s["run"].split("--image ", 1)[1].split()[0].strip('"') for s in ecs_steps} == set(
        expected.values()
    )


def test_train_is_manual_and_never_interpolates_inputs_into_shell() -> None:
    workflow = _load("train.yml")
    assert set(workflow["on"]) == {"workflow_dispatch"}
    for step in _steps(workflow):
        assert "${{ inputs." not in step.get("run", "")
    runs = "\n".join(step.get("run", "") for step in _steps(workflow))
    assert "ecs_deploy.py" in runs


def test_release_dockerfiles_exist() -> None:
    include = _load("release.yml")["jobs"]["images"]["strategy"]["matrix"]["include"]
    missing = [i["dockerfile"] for i in include if not Path(ROOT / i["dockerfile"]).exists()]
    assert not missing, f"release.yml builds Dockerfiles that do not exist: {missing}"
