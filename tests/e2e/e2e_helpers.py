"""Helpers shared by the end-to-end tests: ports, polling, process trees, golden examples."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

MODEL_NAME = "telco-churn"


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(
    what: str, probe: Callable[[], bool], timeout: float, alive: Callable[[], None] | None = None
) -> None:
    """Poll `probe` until it is true; `alive` raises when the thing being waited for died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None:
            alive()
        try:
            if probe():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{what} not true after {timeout:.0f} s")


def answers_200(url: str) -> Callable[[], bool]:
    return lambda: requests.get(url, timeout=3).status_code == 200


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a live process, None when it is gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    state, ppid, start = fields[0], int(fields[1]), fields[19]
    if state in {"Z", "X"}:
        return None
    return ppid, start


def descendants(pid: int) -> dict[int, str]:
    """Every live descendant of `pid`, as pid -> start time (to tell a reused pid apart)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        info = _stat(int(entry.name))
        if info is not None:
            children.setdefault(info[0], []).append(int(entry.name))
            starts[int(entry.name)] = info[1]
    found: dict[int, str] = {}
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        if child in starts and child not in found:
            found[child] = starts[child]
            todo.extend(children.get(child, []))
    return found


def still_running(processes: dict[int, str]) -> list[int]:
    """The processes of a `descendants` snapshot that are still alive."""
    alive = []
    for pid, start in processes.items():
        info = _stat(pid)
        if info is not None and info[1] == start:
            alive.append(pid)
    return alive


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "?"


def champion_golden_examples(tracking_uri: str) -> dict[str, Any]:
    """The golden examples inside the registry's current champion (the training job's own)."""
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    # Every URI explicit: `models:/` URIs would resolve through the process-wide registry URI
    # (and open ./mlflow.db when none is set).
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    version = client.get_model_version_by_alias(MODEL_NAME, "champion")
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    with tempfile.TemporaryDirectory() as tmp:
        local = download_artifacts(
            artifact_uri=logged.artifact_location, dst_path=tmp, tracking_uri=tracking_uri
        )
        paths = list(Path(local).rglob("golden_examples.json"))
        assert len(paths) == 1, f"expected one golden_examples.json, got {paths}"
        return json.loads(paths[0].read_text())


def champion_pyfunc(tracking_uri: str, folder: Path) -> tuple[str, Any]:
    """(version, MLflow's own pyfunc model) of the registry's current champion, loaded in this
    process from artifacts downloaded into `folder`."""
    import mlflow.pyfunc
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    version = client.get_model_version_by_alias(MODEL_NAME, "champion")
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    local = download_artifacts(
        artifact_uri=logged.artifact_location, dst_path=str(folder), tracking_uri=tracking_uri
    )
    return version.version, mlflow.pyfunc.load_model(local)


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without anything that would point a child at another server."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "MLFLOW_TRACKING_URI",
            "JWT_SECRET",
            "API_TOKEN",
            "API_JWT_SECRET",
            # The session's keys and modes: a stack makes and uses its own.
            "MODEL_SIGNING_KEY_FILE",
            "MODEL_PUBLIC_KEYS_FILE",
            "JWT_PREDICT_SECRET",
            "JWT_ADMIN_PUBLIC_KEYS",
            "JWT_ADMIN_PUBLIC_KEYS_FILE",
            "API_PREDICT_SECRET",
            "CHURN_DEV_MODE",
            # The customer store: a stack uses its own.
            "DATABASE_URL",
            "DATABASE_MIGRATE",
        }
    }
    env.update(extra)
    return env
