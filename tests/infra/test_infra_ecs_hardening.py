"""Container runtime hardening in modules/ecs-service and the paths each service may write."""

from __future__ import annotations

import re
from typing import Any

import pytest
from infra_hcl import ROOT, Module

SERVICES = {
    "api": "inference-service/Dockerfile",
    "ui": "ui-service/Dockerfile",
    "trainer": "training/Dockerfile",
    "mlflow": "docker/mlflow/Dockerfile",
    # The scorer target of the API's Dockerfile runs the scorer and the Dask cluster.
    "scorer": "inference-service/Dockerfile",
    "dask_scheduler": "inference-service/Dockerfile",
    "dask_workers": "inference-service/Dockerfile",
    "store_bootstrap": "docker/postgres/Dockerfile",
}
ECS_VOLUME_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def _writable_paths(root: Module) -> dict[str, list[str]]:
    """local.writable_paths with the one local it refers to resolved."""
    cache_root = root.locals["api_model_cache_root"]
    return {
        name: [p.replace("${local.api_model_cache_root}", cache_root) for p in paths]
        for name, paths in root.locals["writable_paths"].items()
    }


def _volume_name(path: str) -> str:
    """Python twin of the module's trim(replace(path, "/[^A-Za-z0-9]+/", "-"), "-")."""
    return re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-")


def test_container_root_filesystem_is_read_only_with_all_capabilities_dropped(
    service_module: Module,
) -> None:
    base = service_module.locals["container_base"]
    assert base["readonlyRootFilesystem"] is True
    assert base["linuxParameters"]["capabilities"] == {"drop": ["ALL"]}
    assert base["linuxParameters"]["initProcessEnabled"] is True
    assert "privileged" not in base
    assert "add" not in base["linuxParameters"]["capabilities"]
    # The task definition is built from container_base, and nothing later overrides it.
    container = service_module.locals["container"]
    assert container.startswith("${merge(local.container_base,")
    for key in ("readonlyRootFilesystem", "linuxParameters", "privileged", "memory"):
        assert f"{key} =" not in container, key
    task = service_module.resource("aws_ecs_task_definition", "this")
    assert task["container_definitions"] == "${jsonencode([local.container])}"


def test_container_has_hard_and_soft_memory_limits_inside_the_task(
    service_module: Module,
) -> None:
    base = service_module.locals["container_base"]
    assert base["memory"] == "${local.memory_limit}"
    assert base["memoryReservation"] == "${local.memory_reservation}"
    assert service_module.locals["memory_limit"] == "${var.memory - local.sidecar_memory}"
    # Room for the Service Connect proxy only where there is one.
    assert service_module.locals["sidecar_memory"] == "${var.service_connect == null ? 0 : 128}"
    assert service_module.locals["memory_reservation"] == "${floor(local.memory_limit / 2)}"


def test_writable_paths_are_task_volumes_on_fargate_ephemeral_storage(
    service_module: Module,
) -> None:
    base = service_module.locals["container_base"]
    assert "local.writable_volumes" in base["mountPoints"]
    assert "readOnly = false" in base["mountPoints"]
    task = service_module.resource("aws_ecs_task_definition", "this")
    (volume,) = [d["volume"] for d in task["dynamic"] if "volume" in d]
    assert volume["for_each"] == "${local.writable_volumes}"
    # A bare name: no host path, no EFS or Docker volume driver.
    assert volume["content"][0] == {"name": "${volume.key}"}
    assert service_module.default("writable_paths") == ["/tmp"]
    validation = service_module.variables["writable_paths"]["validation"][0]["condition"]
    assert 'startswith(p, "/")' in validation


def test_user_variable_refuses_root(service_module: Module) -> None:
    condition = service_module.variables["user"]["validation"][0]["condition"]
    pattern = re.search(r'regex\("(.+?)", var\.user\)', condition)
    assert pattern, condition
    regex = re.compile(pattern.group(1))
    for user in ("0", "0:0", "root", "root:root"):
        assert regex.search(user), user
    for user in ("10001:10001", "10001", "app"):
        assert not regex.search(user), user


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_service_runs_as_the_images_non_root_user(root: Module, service: str) -> None:
    call = root.modules[service]
    assert call["user"] == "${local.image_user}"
    assert call["writable_paths"] == f"${{local.writable_paths.{service}}}"
    user = root.locals["image_user"]
    assert not user.startswith(("0:", "root"))
    dockerfile = (ROOT / SERVICES[service]).read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] == user, f"{SERVICES[service]} runs as {users}, ECS as {user}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_writable_paths_give_valid_distinct_volume_names(root: Module, service: str) -> None:
    paths = _writable_paths(root)[service]
    assert "/tmp" in paths
    names = [_volume_name(p) for p in paths]
    assert all(ECS_VOLUME_NAME.match(n) for n in names), names
    assert len(set(names)) == len(names), names


def test_trainer_work_dir_and_cache_are_writable(root: Module) -> None:
    dockerfile = (ROOT / SERVICES["trainer"]).read_text()
    workdir = re.findall(r"^WORKDIR\s+(\S+)", dockerfile, re.M)[-1]
    cache = re.search(r"CHURN_CACHE_DIR=(\S+)", dockerfile)
    assert cache, "training/Dockerfile no longer sets CHURN_CACHE_DIR"
    paths = _writable_paths(root)["trainer"]
    assert workdir in paths and cache.group(1) in paths


def _declared_volumes(dockerfile: str) -> set[str]:
    volumes: set[str] = set()
    for spec in re.findall(r"^VOLUME\s+(.+)$", dockerfile, re.M):
        volumes.update(re.findall(r"/[^\s\"',\]]+", spec))
    return volumes


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_images_declare_their_writable_paths_as_volumes(root: Module, service: str) -> None:
    """ECS gives a task volume the image's owner and mode only for paths declared with VOLUME."""
    declared = _declared_volumes((ROOT / SERVICES[service]).read_text())
    missing = set(_writable_paths(root)[service]) - declared
    assert not missing, f"{SERVICES[service]} lacks VOLUME for {sorted(missing)}"


def test_no_task_runs_privileged_or_with_docker_security_options(service_module: Module) -> None:
    text: Any = service_module.locals["container"]
    assert "dockerSecurityOptions" not in text  # not supported on Fargate; see module comment
