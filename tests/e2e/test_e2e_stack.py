"""`make run`'s launcher end to end: MLflow, training, API and UI as local processes.

The first start trains a champion (a short real search) into a fresh state directory, serves it
and must answer the golden examples through the API and the UI's health under /ui, and scores
the IBM customer base into the embedded store so that the call list is populated; Ctrl-C must
leave no process behind. The second start must reuse that champion, the scored base and the
data.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from e2e_helpers import (
    answers_200,
    champion_golden_examples,
    clean_env,
    command_line,
    descendants,
    still_running,
    wait_until,
)
from testkit import ROOT, TEST_TRIALS, default_sigint, free_port

# The first start trains (a short search) before serving.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1200)]

IBM_CUSTOMERS = 7043  # rows of the IBM Telco file, every one valid for /predict


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    log: Path
    state: Path
    mlflow: str
    api: str
    ui: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"stack exited with {self.process.returncode}:\n{self.output()}")


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MLflow state directory for both starts, never the developer's .cache/mlflow."""
    return tmp_path_factory.mktemp("stack-state")


def start_stack(state: Path, log: Path) -> RunningStack:
    ports = {name: free_port() for name in ("mlflow", "api", "ui")}
    handle = log.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "scripts" / "stack.py"),
            "run",
            "--state-dir",
            str(state),
            "--mlflow-port",
            str(ports["mlflow"]),
            "--api-port",
            str(ports["api"]),
            "--ui-port",
            str(ports["ui"]),
            # Passed through to churn-train: small enough for a test, still a real search.
            "--trials",
            TEST_TRIALS,
            "--quiet",
        ],
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=clean_env(PYTHONUNBUFFERED="1"),
        preexec_fn=default_sigint,
    )
    stack = RunningStack(
        process,
        log,
        state,
        mlflow=f"http://127.0.0.1:{ports['mlflow']}",
        api=f"http://127.0.0.1:{ports['api']}",
        ui=f"http://127.0.0.1:{ports['ui']}",
    )
    wait_until(
        "the stack printed 'stack: ready'",
        lambda: "stack: ready" in stack.output(),
        timeout=900,
        alive=stack.alive,
    )
    return stack


def interrupt_and_check_clean(stack: RunningStack) -> None:
    """Ctrl-C (SIGINT to the launcher): it must exit 0 and every child must be gone."""
    children = descendants(stack.process.pid)
    names = " | ".join(command_line(pid) for pid in children)
    for needle in ("mlflow", "churn-api", "streamlit"):
        assert needle in names, f"{needle} is not a child of the launcher: {names}"
    stack.process.send_signal(signal.SIGINT)
    try:
        code = stack.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        pytest.fail(f"the launcher did not exit within 60 s of SIGINT:\n{stack.output()[-3000:]}")
    assert code == 0, stack.output()[-3000:]
    deadline = time.monotonic() + 5
    while (left := still_running(children)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, "left running: " + "; ".join(command_line(pid) for pid in left)


def kill_leftovers(stack: RunningStack) -> None:
    """After a failed assertion: never leave servers running on the machine."""
    children = descendants(stack.process.pid)
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGINT)
        try:
            stack.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stack.process.kill()
    for pid in still_running(children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def first_run(state_dir: Path, tmp_path: Path) -> Iterator[RunningStack]:
    stack = start_stack(state_dir, tmp_path / "stack-1.log")
    try:
        yield stack
    finally:
        kill_leftovers(stack)


def test_e2e_stack_trains_serves_and_stops_cleanly(first_run: RunningStack) -> None:
    stack = first_run
    out = stack.output()
    assert "stack: training" in out, out[-3000:]
    for url in (stack.api, f"{stack.ui}/ui", stack.mlflow):
        assert url in out, f"the launcher did not print {url}"
    # It says the local stack has no login, and it made its own model-signing keys.
    assert "No login and no token (CHURN_DEV_MODE)" in out
    # The API says loudly that it runs open, in development mode only.
    assert "CHURN_DEV_MODE is on and no token key is set" in out, out[-3000:]
    keys = stack.state / "keys"
    assert "new model-signing key pair" in out, out[-3000:]
    assert (keys / "signing-key.pem").stat().st_mode & 0o077 == 0, "private key readable by others"
    assert (keys / "signing-key.pub.pem").is_file()

    ready = requests.get(f"{stack.api}/health/ready", timeout=5)
    assert ready.status_code == 200 and ready.json()["ready"] is True, ready.text
    assert ready.json()["dev_mode"] is True  # the local stack is open, and says so

    golden = champion_golden_examples(stack.mlflow)
    for example in golden["examples"][:5]:
        response = requests.post(f"{stack.api}/predict", json=example["input"], timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["customerID"] == example["input"].get("customerID")
        assert body["churn_probability"] == pytest.approx(
            example["probability"], abs=max(golden["tolerance"], 1e-6)
        )
        assert body["model"]["alias"] == "champion"

    health = requests.get(f"{stack.ui}/ui/_stcore/health", timeout=5)
    assert health.status_code == 200 and health.text.strip() == "ok", health.text
    page = requests.get(f"{stack.ui}/ui/", timeout=5)
    assert page.status_code == 200 and "<html" in page.text.lower()

    # The first start scores the IBM base into the embedded store while the API starts.
    assert "stack: starting scorer" in out, out[-3000:]
    assert (stack.state / "churn-store.db").is_file()
    wait_until(
        "the scorer finished",
        lambda: "stack: scorer finished" in stack.output(),
        timeout=600,
        alive=stack.alive,
    )
    assert_call_list_populated(stack)

    interrupt_and_check_clean(stack)


def assert_call_list_populated(stack: RunningStack) -> None:
    """GET /customers (development mode: no token) ranks the whole IBM base."""
    ready = requests.get(f"{stack.api}/health/ready", timeout=5).json()
    assert ready["store"] == "ok", ready
    answer = requests.get(f"{stack.api}/customers", params={"limit": 20}, timeout=10)
    assert answer.status_code == 200, answer.text
    calls = answer.json()
    assert calls["total"] == IBM_CUSTOMERS, {k: v for k, v in calls.items() if k != "customers"}
    rows = calls["customers"]
    assert [row["rank"] for row in rows] == list(range(1, 21))
    values = [row["expected_value"] for row in rows]
    assert values == sorted(values, reverse=True), "the call list is ranked by expected value"
    assert all(0.0 <= row["churn_probability"] <= 1.0 for row in rows)
    assert rows[0]["reasons"], "the top of the list carries its reasons"
    customer = rows[0]["customer_id"]
    detail = requests.get(f"{stack.api}/customers/{customer}", timeout=10)
    assert detail.status_code == 200, detail.text
    assert detail.json()["latest"]["churn_probability"] == rows[0]["churn_probability"]


def test_e2e_stack_second_run_reuses_champion_and_data(state_dir: Path, tmp_path: Path) -> None:
    # Runs after the test above, in the state directory it left (module scope).
    assert (state_dir / "mlflow.db").is_file(), "the first start left no MLflow database"
    stack = start_stack(state_dir, tmp_path / "stack-2.log")
    try:
        out = stack.output()
        assert "exists; reusing it" in out, out[-3000:]
        assert "stack: training" not in out, out[-3000:]
        assert "new model-signing key pair" not in out, "the second start made new keys"
        model = requests.get(f"{stack.api}/model", timeout=5)
        assert model.status_code == 200 and model.json()["version"] == "1", model.text
        assert answers_200(f"{stack.ui}/ui/_stcore/health")()
        # The scored base survives: no second scoring run, the call list is there at once.
        assert "holds a scored base; reusing it" in out, out[-3000:]
        assert "stack: starting scorer" not in out, out[-3000:]
        assert_call_list_populated(stack)
        interrupt_and_check_clean(stack)
    finally:
        kill_leftovers(stack)
