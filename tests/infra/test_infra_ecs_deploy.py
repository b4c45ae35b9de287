"""The release/train helper against a fake `aws` CLI (AWS is the only thing mocked)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from infra_hcl import ROOT

SCRIPT = ROOT / ".github" / "scripts" / "ecs_deploy.py"

# A stand-in for the AWS CLI: reads a scenario from $FAKE_AWS_STATE, records every call, and
# answers describe-services from a list of successive service states.
FAKE_AWS = r"""#!/usr/bin/env python3
import json, os, sys
path = os.environ["FAKE_AWS_STATE"]
state = json.load(open(path))
args = [a for a in sys.argv[1:] if a not in ("--output", "json")]
state["calls"].append(args)
op = args[1]
def arg(name):
    return args[args.index(name) + 1]
if op == "describe-services":
    i = min(state["polls"], len(state["services"]) - 1)
    state["polls"] += 1
    out = {"services": [state["services"][i]]} if state["services"] else {"services": []}
elif op == "describe-task-definition":
    out = {"taskDefinition": state["task_definition"]}
elif op == "register-task-definition":
    body = json.loads(arg("--cli-input-json"))
    state["registered"] = body
    out = {"taskDefinition": {"taskDefinitionArn": state["new_arn"]}}
elif op == "update-service":
    out = {"service": {}}
elif op == "run-task":
    out = state["run_task"]
elif op == "describe-tasks":
    out = state["describe_tasks"]
else:
    print(f"unexpected call {args}", file=sys.stderr); sys.exit(2)
json.dump(state, open(path, "w"))
print(json.dumps(out))
"""

OLD = "arn:aws:ecs:us-east-1:1:task-definition/churn-api:7"
NEW = "arn:aws:ecs:us-east-1:1:task-definition/churn-api:8"
TASK_DEFINITION = {
    "taskDefinitionArn": OLD,
    "revision": 7,
    "status": "ACTIVE",
    "family": "churn-api",
    "requiresAttributes": [],
    "compatibilities": ["FARGATE"],
    "registeredAt": "2025-01-01",
    "containerDefinitions": [{"name": "api", "image": "docker.io/x/churn-api:old"}],
}


def _service(task_definition: str, deployments: list[dict[str, Any]]) -> dict[str, Any]:
    return {"serviceName": "api", "taskDefinition": task_definition, "deployments": deployments}


def _dep(task_definition: str, status: str, rollout: str) -> dict[str, str]:
    return {"taskDefinition": task_definition, "status": status, "rolloutState": rollout}


def _settled(task_definition: str) -> dict[str, Any]:
    return _service(task_definition, [_dep(task_definition, "PRIMARY", "COMPLETED")])


def _run(tmp_path: Path, state: dict[str, Any], *args: str) -> tuple[int, dict[str, Any], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "aws"
    fake.write_text(FAKE_AWS.replace("/usr/bin/env python3", sys.executable, 1))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    state_file = tmp_path / "state.json"
    state.setdefault("calls", [])
    state.setdefault("polls", 0)
    state_file.write_text(json.dumps(state))
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_AWS_STATE": str(state_file),
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60
    )
    return done.returncode, json.loads(state_file.read_text()), done.stdout + done.stderr


DIGEST = "sha256:" + "ab" * 32
IMAGE = f"docker.io/x/churn-api@{DIGEST}"
DEPLOY = ("deploy", "--cluster", "churn", "--service", "api", "--container", "api",
          "--image", IMAGE, "--poll", "0", "--timeout", "5")  # fmt: skip


def test_deploy_registers_the_new_image_and_succeeds_when_ecs_completes(tmp_path: Path) -> None:
    state = {
        "task_definition": TASK_DEFINITION,
        "new_arn": NEW,
        "services": [
            _settled(OLD),
            _service(NEW, [
                _dep(NEW, "PRIMARY", "IN_PROGRESS"),
                _dep(OLD, "ACTIVE", "COMPLETED"),
            ]),
            _settled(NEW),
        ],
    }  # fmt: skip
    code, after, output = _run(tmp_path, state, *DEPLOY)
    assert code == 0, output
    registered = after["registered"]
    assert registered["containerDefinitions"][0]["image"] == IMAGE
    for field in ("taskDefinitionArn", "revision", "status", "registeredAt", "compatibilities"):
        assert field not in registered
    update = next(c for c in after["calls"] if c[1] == "update-service")
    assert update[update.index("--task-definition") + 1] == NEW
    assert "completed" in output


def test_deploy_fails_when_the_circuit_breaker_rolls_back(tmp_path: Path) -> None:
    state = {
        "task_definition": TASK_DEFINITION,
        "new_arn": NEW,
        "services": [
            _settled(OLD),
            _service(OLD, [
                _dep(OLD, "PRIMARY", "IN_PROGRESS"),
                _dep(NEW, "ACTIVE", "FAILED"),
            ]),
        ],
    }  # fmt: skip
    code, _, output = _run(tmp_path, state, *DEPLOY)
    assert code == 1
    assert "rolled back" in output


def test_deploy_fails_when_the_new_deployment_disappears(tmp_path: Path) -> None:
    state = {
        "task_definition": TASK_DEFINITION,
        "new_arn": NEW,
        "services": [
            _settled(OLD),
        ],
    }  # fmt: skip
    code, _, output = _run(tmp_path, state, *DEPLOY)
    assert code == 1
    assert "rolled back" in output


def test_deploy_times_out_instead_of_waiting_forever(tmp_path: Path) -> None:
    in_progress = _service(NEW, [
        _dep(NEW, "PRIMARY", "IN_PROGRESS"),
        _dep(OLD, "ACTIVE", "COMPLETED"),
    ])  # fmt: skip
    state = {"task_definition": TASK_DEFINITION, "new_arn": NEW,
             "services": [_service(OLD, []), in_progress]}  # fmt: skip
    args = list(DEPLOY)
    args[args.index("--timeout") + 1] = "1"
    code, _, output = _run(tmp_path, state, *args)
    assert code == 1
    assert "not finished" in output


def test_deploy_rejects_an_unknown_container(tmp_path: Path) -> None:
    state = {"task_definition": TASK_DEFINITION, "new_arn": NEW, "services": [_service(OLD, [])]}
    args = list(DEPLOY)
    args[args.index("--container") + 1] = "web"
    code, _, output = _run(tmp_path, state, *args)
    assert code == 1
    assert "no container 'web'" in output


def _run_task_state(exit_code: int) -> dict[str, Any]:
    task = "arn:aws:ecs:us-east-1:1:task/churn/abc"
    return {
        "run_task": {"tasks": [{"taskArn": task}], "failures": []},
        "describe_tasks": {"tasks": [{
            "taskArn": task, "lastStatus": "STOPPED", "stoppedReason": "Essential container exited",
            "containers": [{"name": "trainer", "exitCode": exit_code}],
        }]},
    }  # fmt: skip


RUN = ("run", "--cluster", "churn", "--family", "churn-trainer", "--container", "trainer",
       "--subnets", "subnet-a,subnet-b", "--security-group", "sg-1", "--poll", "0",
       "--env", "DATA_SOURCE=s3://bucket/x.csv")  # fmt: skip


@pytest.mark.parametrize(("exit_code", "expected"), [(0, 0), (3, 1)])
def test_run_task_reports_the_trainer_exit_code(
    tmp_path: Path, exit_code: int, expected: int
) -> None:
    code, after, output = _run(tmp_path, _run_task_state(exit_code), *RUN)
    assert code == expected, output
    run = next(c for c in after["calls"] if c[1] == "run-task")
    network = json.loads(run[run.index("--network-configuration") + 1])
    assert network["awsvpcConfiguration"] == {
        "subnets": ["subnet-a", "subnet-b"],
        "securityGroups": ["sg-1"],
        "assignPublicIp": "DISABLED",
    }
    overrides = json.loads(run[run.index("--overrides") + 1])
    assert overrides["containerOverrides"][0]["environment"] == [
        {"name": "DATA_SOURCE", "value": "s3://bucket/x.csv"}
    ]
    if exit_code:
        assert "exit code 3" in output


def test_run_rejects_malformed_env(tmp_path: Path) -> None:
    args = [*RUN[:-1], "NOEQUALS"]
    code, _, output = _run(tmp_path, _run_task_state(0), *args)
    assert code == 1
    assert "NAME=VALUE" in output


@pytest.mark.parametrize(
    "image",
    [
        "docker.io/x/churn-api:abc",  # a tag, movable after the build
        "docker.io/x/churn-api:abc@" + DIGEST,  # tag and digest: which one was meant?
        "docker.io/x/churn-api@sha256:abc",  # truncated digest
        "docker.io/x/churn-api@md5:" + "ab" * 16,
        "docker.io/x/churn-api",
    ],
)
def test_deploy_and_register_refuse_images_not_pinned_by_digest(tmp_path: Path, image: str) -> None:
    state = {"task_definition": TASK_DEFINITION, "new_arn": NEW, "services": [_settled(OLD)]}
    for command in (
        ["deploy", "--cluster", "churn", "--service", "api", "--container", "api"],
        ["register", "--family", "churn-api", "--container", "api"],
    ):
        code, after, output = _run(tmp_path, dict(state), *command, "--image", image)
        assert code == 1, output
        assert "pinned by digest" in output
        assert after["calls"] == []  # refused before touching AWS


def test_register_accepts_a_registry_with_a_port(tmp_path: Path) -> None:
    image = f"registry.example.com:5000/team/churn-api@{DIGEST}"
    state = {"task_definition": TASK_DEFINITION, "new_arn": NEW, "services": []}
    args = ("register", "--family", "churn-api", "--container", "api", "--image", image)
    code, after, output = _run(tmp_path, state, *args)
    assert code == 0, output
    assert after["registered"]["containerDefinitions"][0]["image"] == image
