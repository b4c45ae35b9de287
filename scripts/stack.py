"""Local process stack behind `make train` and `make run`: MLflow on SQLite, trainer, API, UI.

`train`: start a local MLflow server (unless MLFLOW_TRACKING_URI is set), train and publish, stop.
`run`:   the same server, train only when the registry has no champion yet, score the IBM
         customer base into the customer store when it holds no scored base yet (in the
         background: the API starts meanwhile and the call list fills when the run ends), then
         serve the API and the UI until Ctrl-C, which stops every process cleanly.

State (MLflow's SQLite database and artifacts, and the customer store, a SQLite file unless
DATABASE_URL is set) lives in --state-dir ($CHURN_STACK_DIR, default .cache/mlflow) and the
dataset in $CHURN_CACHE_DIR (default .cache/data), so a second `make run` reuses the champion,
the scored base and the data. Arguments it does not know go to churn-train.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import requests
import stack_store

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("CHURN_STACK_DIR") or ROOT / ".cache" / "mlflow")
DATA_CACHE = Path(os.environ.get("CHURN_CACHE_DIR") or ROOT / ".cache" / "data")
BIN = Path(sys.executable).parent
MODEL_NAME = os.environ.get("MODEL_NAME", "telco-churn")
MODEL_ALIAS = os.environ.get("MODEL_ALIAS", "champion")


class Stack:
    """Child processes started in order and stopped in reverse order.

    Servers must keep running (one that exits stops the stack); a job (the scorer) may end:
    its exit is reported once, and a failed job leaves the servers running.
    """

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.jobs: set[str] = set()
        self.reported: set[str] = set()

    def start(
        self, name: str, cmd: Sequence[str], env: dict[str, str] | None = None, *, job: bool = False
    ) -> None:
        print(f"stack: starting {name}: {' '.join(cmd)}", flush=True)
        process = subprocess.Popen(
            list(cmd), env={**os.environ, **(env or {})}, start_new_session=True
        )
        self.children.append((name, process))
        if job:
            self.jobs.add(name)

    def check(self) -> None:
        for name, process in self.children:
            if process.poll() is None:
                continue
            if name not in self.jobs:
                raise RuntimeError(f"{name} exited with code {process.returncode}")
            if name not in self.reported:
                self.reported.add(name)
                if process.returncode == 0:
                    print(f"stack: {name} finished", flush=True)
                else:
                    print(
                        f"stack: {name} failed with exit code {process.returncode} (see its "
                        "output above); the API and the UI keep running",
                        file=sys.stderr,
                        flush=True,
                    )

    def stop(self) -> None:
        for name, process in reversed(self.children):
            if process.poll() is None:
                print(f"stack: stopping {name}", flush=True)
                os.killpg(process.pid, signal.SIGTERM)
        for _name, process in reversed(self.children):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.children.clear()


def wait_http(
    url: str, alive: Callable[[], None] | None = None, timeout: float = 180.0, every: float = 0.3
) -> None:
    """Poll an HTTP endpoint until it answers 200; `alive` raises early if the server died.

    The one polling loop of the repository: the launcher passes `Stack.check`, the tests
    (tests/testkit.py) a check on their own process.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None:
            alive()
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(every)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")


def start_mlflow(stack: Stack, host: str, port: int, state: Path) -> str:
    state.mkdir(parents=True, exist_ok=True)
    stack.start(
        "mlflow",
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{state / 'mlflow.db'}",
            "--artifacts-destination",
            str(state / "artifacts"),
            "--serve-artifacts",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        # Without this MLflow 3.17 also starts a job runner with seven huey consumers, about
        # as much memory again as the server itself (shared/PITFALLS.md, measured here).
        {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    uri = f"http://{host}:{port}"
    wait_http(f"{uri}/health", stack.check)
    print(f"stack: MLflow at {uri}", flush=True)
    return uri


def has_champion(tracking_uri: str) -> bool:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient(tracking_uri).get_model_version_by_alias(MODEL_NAME, MODEL_ALIAS)
    except MlflowException:
        return False
    return True


def signing_keys(state: Path) -> dict[str, str]:
    """The model-signing key pair of this state dir, made by `churn-train keygen` on first use.

    The trainer signs what it publishes with the private key and the API serves only what that
    key signed (docs/model-bundle.md, "Signature"). Keys already in the environment win (the
    tests export their own; on AWS the trainer signs with KMS).
    """
    if "MODEL_SIGNING_KEY_FILE" in os.environ or "MODEL_SIGNING_KMS_KEY_ID" in os.environ:
        return {}
    folder = state / "keys"
    private, public = folder / "signing-key.pem", folder / "signing-key.pub.pem"
    if not private.is_file():
        subprocess.run([str(BIN / "churn-train"), "keygen", "--out", str(folder)], check=True)
        print(f"stack: new model-signing key pair in {folder}", flush=True)
    return {"MODEL_SIGNING_KEY_FILE": str(private), "MODEL_PUBLIC_KEYS_FILE": str(public)}


def train(tracking_uri: str, extra: Sequence[str], keys: dict[str, str]) -> None:
    cmd = [str(BIN / "churn-train"), "--tracking-uri", tracking_uri, *extra]
    print(f"stack: training: {' '.join(cmd)}", flush=True)
    # The dataset cache does not depend on the working directory: a second run reuses it.
    env = {**os.environ, "CHURN_CACHE_DIR": str(DATA_CACHE), **keys}
    env.pop("MODEL_PUBLIC_KEYS_FILE", None)  # the trainer holds the private half only
    subprocess.run(cmd, check=True, env=env)


def score_base(stack: Stack, tracking_uri: str, keys: dict[str, str], url: str) -> None:
    """On first start, score the IBM customer base into the store as a background job."""
    cmd = stack_store.first_scoring(BIN, DATA_CACHE, url)
    if cmd is None:
        print("stack: the customer store holds a scored base; reusing it", flush=True)
        return
    model_keys = {k: v for k, v in keys.items() if k == "MODEL_PUBLIC_KEYS_FILE"}
    # The database URL travels in the environment only, never on a command line.
    env = {"DATABASE_URL": url, "MLFLOW_TRACKING_URI": tracking_uri, **model_keys}
    stack.start("scorer", cmd, env, job=True)


# The local stack has no login and no token (it says so): both services run in the clearly
# named development mode, the only way churn-api starts without token keys.
DEV_MODE = {"CHURN_DEV_MODE": "true"}


def serve(
    stack: Stack,
    tracking_uri: str,
    args: argparse.Namespace,
    keys: dict[str, str],
    database_url: str,
) -> None:
    api = f"http://{args.host}:{args.api_port}"
    stack.start(
        "api",
        [str(BIN / "churn-api")],
        {
            "MLFLOW_TRACKING_URI": tracking_uri,
            "HOST": args.host,
            "PORT": str(args.api_port),
            "DATABASE_URL": database_url,
            **DEV_MODE,
            **{k: v for k, v in keys.items() if k == "MODEL_PUBLIC_KEYS_FILE"},
        },
    )
    wait_http(f"{api}/health/ready", stack.check)
    stack.start(
        "ui",
        [str(BIN / "churn-ui")],
        {"API_BASE_URL": api, "HOST": args.host, "PORT": str(args.ui_port), **DEV_MODE},
    )
    ui = f"http://{args.host}:{args.ui_port}/ui"
    wait_http(f"{ui}/_stcore/health", stack.check)
    print(
        "\nstack: ready\n"
        f"  API      {api}/docs  (POST {api}/predict, GET {api}/customers)\n"
        f"  UI       {ui}\n"
        f"  MLflow   {tracking_uri}\n"
        f"  Store    {stack_store.redact(database_url)}\n"
        + (
            "No login and no token (CHURN_DEV_MODE): anyone on this machine can use these "
            "(loopback only).\n"
            "For the locked-down system use `docker compose up` (docs/docker.md).\n"
            if args.host in ("127.0.0.1", "localhost", "::1")
            else f"WARNING: listening on {args.host} with no login and no token (CHURN_DEV_MODE).\n"
        )
        + "Ctrl-C stops everything.\n",
        flush=True,
    )
    while True:
        stack.check()
        time.sleep(1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("mode", choices=["train", "run"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--mlflow-port", type=int, default=5000)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--ui-port", type=int, default=8501)
    parser.add_argument("--retrain", action="store_true", help="run: train even with a champion")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=STATE,
        help="MLflow's database and artifacts (default: $CHURN_STACK_DIR or .cache/mlflow)",
    )
    args, train_args = parser.parse_known_args(argv)  # the rest goes to churn-train
    args.train_args = [a for a in train_args if a != "--"]

    stack = Stack()

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Installed explicitly for SIGINT too: a launcher started in the background by a
    # non-interactive shell inherits SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler, so Ctrl-C (or `kill -INT`) would do nothing.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        tracking_uri = os.environ.get("MLFLOW_TRACKING_URI") or start_mlflow(
            stack, args.host, args.mlflow_port, args.state_dir.resolve()
        )
        keys = signing_keys(args.state_dir.resolve())
        if args.mode == "train" or args.retrain or not has_champion(tracking_uri):
            train(tracking_uri, args.train_args, keys)
        else:
            print(f"stack: {MODEL_NAME}@{MODEL_ALIAS} exists; reusing it", flush=True)
        if args.mode == "run":
            database_url = stack_store.store_url(args.state_dir.resolve())
            score_base(stack, tracking_uri, keys, database_url)
            serve(stack, tracking_uri, args, keys, database_url)
    except KeyboardInterrupt:
        print("\nstack: interrupted", flush=True)
    except (subprocess.CalledProcessError, RuntimeError, TimeoutError) as exc:
        print(f"stack: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        # A second Ctrl-C while stopping must not leave children behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
