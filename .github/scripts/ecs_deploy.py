#!/usr/bin/env python3
"""Roll a new image onto ECS with the AWS CLI and report the outcome truthfully.

deploy   register a task-definition revision with the new image, update the service, wait
         until the deployment completes; exit 1 if ECS rolled it back or it timed out.
register only register the revision (the trainer: its schedule runs the latest revision).
run      run the trainer task once and, unless --no-wait, fail if it exits non-zero.

Images are taken only by digest (`<repository>@sha256:<64 hex>`): a tag can be moved after
the build, a digest names exactly the image that was built and tested.

Only the standard library and the `aws` CLI (preinstalled on GitHub runners) are used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from typing import Any

# Fields describe-task-definition returns that register-task-definition does not accept.
READ_ONLY_FIELDS = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
)


# repository (with registry and namespace) @ sha256 digest; no tag in between.
IMAGE_BY_DIGEST = re.compile(r"^[a-z0-9][a-z0-9._/:-]*[a-z0-9]@sha256:[0-9a-f]{64}$")


class DeployError(RuntimeError):
    """A deployment or task run that did not succeed."""


def require_digest(image: str) -> str:
    """Return the image reference if it is pinned by digest; fail otherwise."""
    repository = image.split("@", 1)[0]
    if not IMAGE_BY_DIGEST.match(image) or ":" in repository.rsplit("/", 1)[-1]:
        raise DeployError(
            f"--image must be pinned by digest (<repository>@sha256:<64 hex>), got {image!r}: "
            "a tag can be moved after the build"
        )
    return image


def aws(*args: str) -> dict[str, Any]:
    """Run one AWS CLI call and return its JSON output."""
    command = ["aws", *args, "--output", "json"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DeployError(f"{' '.join(command[:3])} failed: {result.stderr.strip()}")
    return json.loads(result.stdout or "{}")


def register(family: str, container: str, image: str, env: dict[str, str] | None = None) -> str:
    """Register a copy of the family's latest revision with a new image; return its ARN."""
    require_digest(image)
    current = aws("ecs", "describe-task-definition", "--task-definition", family)
    definition = current["taskDefinition"]
    for field in READ_ONLY_FIELDS:
        definition.pop(field, None)
    names = [c["name"] for c in definition["containerDefinitions"]]
    if container not in names:
        raise DeployError(f"task definition {family} has no container {container!r} ({names})")
    for spec in definition["containerDefinitions"]:
        if spec["name"] == container:
            spec["image"] = image
            if env:
                merged = {e["name"]: e["value"] for e in spec.get("environment", [])} | env
                spec["environment"] = [{"name": k, "value": v} for k, v in sorted(merged.items())]
    registered = aws("ecs", "register-task-definition", "--cli-input-json", json.dumps(definition))
    arn = registered["taskDefinition"]["taskDefinitionArn"]
    print(f"registered {arn} with {image}")
    return arn


def describe_service(cluster: str, service: str) -> dict[str, Any]:
    """Return the service description or fail when it does not exist."""
    found = aws("ecs", "describe-services", "--cluster", cluster, "--services", service)
    services = found.get("services", [])
    if not services:
        raise DeployError(f"service {service} not found in cluster {cluster}")
    return services[0]


def deployment_outcome(service: dict[str, Any], task_definition: str) -> str | None:
    """'completed', 'rolled back' or None while the deployment of task_definition runs."""
    ours = [d for d in service.get("deployments", []) if d["taskDefinition"] == task_definition]
    if not ours:
        # ECS removed our deployment: the service went back to an earlier revision.
        return "rolled back"
    deployment = ours[0]
    state = deployment.get("rolloutState")
    if state == "FAILED":
        return "rolled back"
    settled = len(service["deployments"]) == 1 and service.get("taskDefinition") == task_definition
    if state == "COMPLETED" and deployment.get("status") == "PRIMARY" and settled:
        return "completed"
    return None


def deploy(args: argparse.Namespace) -> None:
    """Register the image, update the service and wait for the deployment's outcome."""
    require_digest(args.image)  # before any AWS call
    service = describe_service(args.cluster, args.service)
    family = service["taskDefinition"].rsplit("/", 1)[-1].split(":", 1)[0]
    arn = register(family, args.container, args.image)
    aws(
        "ecs", "update-service", "--cluster", args.cluster, "--service", args.service,
        "--task-definition", arn,
    )  # fmt: skip
    print(f"updating {args.service}; waiting up to {args.timeout}s")
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        time.sleep(args.poll)
        outcome = deployment_outcome(describe_service(args.cluster, args.service), arn)
        if outcome == "completed":
            print(f"{args.service}: deployment of {arn} completed")
            return
        if outcome == "rolled back":
            raise DeployError(
                f"{args.service}: deployment of {arn} failed and ECS rolled back "
                "(circuit breaker or rollback alarm); see the service events"
            )
    raise DeployError(f"{args.service}: deployment of {arn} not finished after {args.timeout}s")


def run_task(args: argparse.Namespace) -> None:
    """Run the trainer once; with waiting, fail unless its container exits 0."""
    overrides = {"containerOverrides": [{"name": args.container, "environment": [
        {"name": k, "value": v} for k, v in sorted(args.env.items())
    ]}]}  # fmt: skip
    network = {"awsvpcConfiguration": {
        "subnets": [s for s in args.subnets.split(",") if s],
        "securityGroups": [args.security_group],
        "assignPublicIp": "DISABLED",
    }}  # fmt: skip
    started = aws(
        "ecs", "run-task", "--cluster", args.cluster, "--launch-type", "FARGATE",
        "--task-definition", args.family, "--count", "1",
        "--network-configuration", json.dumps(network), "--overrides", json.dumps(overrides),
    )  # fmt: skip
    if started.get("failures") or not started.get("tasks"):
        raise DeployError(f"run-task failed: {started.get('failures')}")
    task_arn = started["tasks"][0]["taskArn"]
    print(f"started {task_arn}")
    if not args.wait:
        return
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        time.sleep(args.poll)
        task = aws("ecs", "describe-tasks", "--cluster", args.cluster, "--tasks", task_arn)
        tasks = task.get("tasks", [])
        if not tasks or tasks[0].get("lastStatus") != "STOPPED":
            continue
        containers = {c["name"]: c for c in tasks[0].get("containers", [])}
        exit_code = containers.get(args.container, {}).get("exitCode")
        reason = tasks[0].get("stoppedReason", "")
        if exit_code == 0:
            print(f"trainer finished (exit 0): {reason}")
            return
        raise DeployError(f"trainer stopped with exit code {exit_code}: {reason}")
    raise DeployError(f"trainer task {task_arn} still running after {args.timeout}s")


def parse_env(pairs: list[str]) -> dict[str, str]:
    """Turn NAME=VALUE arguments into a dict, rejecting malformed ones."""
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise DeployError(f"--env expects NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_deploy = sub.add_parser("deploy", help="roll an image onto a service and wait")
    p_deploy.add_argument("--cluster", required=True)
    p_deploy.add_argument("--service", required=True)
    p_deploy.add_argument("--container", required=True)
    p_deploy.add_argument("--image", required=True)
    p_deploy.add_argument("--timeout", type=int, default=1800)

    p_register = sub.add_parser("register", help="register a revision with a new image")
    p_register.add_argument("--family", required=True)
    p_register.add_argument("--container", required=True)
    p_register.add_argument("--image", required=True)

    p_run = sub.add_parser("run", help="run a task once")
    p_run.add_argument("--cluster", required=True)
    p_run.add_argument("--family", required=True)
    p_run.add_argument("--container", required=True)
    p_run.add_argument("--subnets", required=True, help="comma-separated subnet ids")
    p_run.add_argument("--security-group", required=True)
    p_run.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    p_run.add_argument("--no-wait", dest="wait", action="store_false")
    p_run.add_argument("--timeout", type=int, default=6600)

    for p in (p_deploy, p_run):
        p.add_argument("--poll", type=float, default=float(os.environ.get("ECS_POLL", "15")))

    args = parser.parse_args(argv)
    try:
        if args.command == "deploy":
            deploy(args)
        elif args.command == "register":
            register(args.family, args.container, args.image)
        else:
            args.env = parse_env(args.env)
            run_task(args)
    except DeployError as error:
        print(f"::error::{error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
