"""Serving benchmark: churn-api vs `mlflow models serve` vs a validate-only floor, on one model.

Each server runs one worker pinned to one core (taskset), wrk runs on the other core with a Lua
body script. For each server and concurrency (1, 8, 32) it prints requests/s, p50/p99 latency
and the server's CPU milliseconds per request (from /proc), then the ratios, cold start time,
resident memory, and the in-process latency of a 10,000-row batch.

    uv run --frozen python benchmarks/serve_bench.py --model-dir DIR [--duration 10]

Without --model-dir a model is trained first with churn-train's default budget (what `make run`
serves), so the batch figure reflects a real champion's tree count; --trials makes it quicker.
churn-api runs as deployed: JWT auth on, metrics on, one JSON log line per request, from a
virtualenv holding only the API's locked runtime dependencies (as in its Docker image: no pandas
or scikit-learn, which xgboost would import). The floor runs from the same virtualenv.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LUA = Path(__file__).with_suffix(".lua")
SECRET = "bench-secret-bench-secret-bench-secret"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def tree_pids(pid: int) -> list[int]:
    """pid and all its descendants."""
    out = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            out += tree_pids(int(child))
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process tree."""
    total = 0
    for p in tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def rss_mb(pid: int) -> float:
    """Resident memory of a process tree in MB."""
    total = 0
    for p in tree_pids(pid):
        try:
            text = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        m = re.search(r"VmRSS:\s+(\d+) kB", text)
        total += int(m.group(1)) if m else 0
    return total / 1024


@dataclass
class Server:
    """A server under test."""

    name: str
    url: str
    path: str
    body: bytes
    auth: str
    process: subprocess.Popen[bytes]
    cold_start_s: float

    def stop(self) -> None:
        """SIGTERM the process group."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start(
    name: str, cmd: list[str], env: dict[str, str], ready_url: str, log: Path, core: int
) -> tuple[subprocess.Popen[bytes], float]:
    """Start pinned to `core`; cold start = spawn until ready_url answers 200."""
    t0 = time.perf_counter()
    process = subprocess.Popen(
        ["taskset", "-c", str(core), *cmd],
        env={**os.environ, **env, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(ready_url, timeout=2) as r:
                if r.status == 200:
                    return process, time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"{name} not ready")


def check(server: Server) -> None:
    """One request must succeed before load is applied."""
    req = urllib.request.Request(
        server.url + server.path,
        data=server.body,
        headers={
            "Content-Type": "application/json",
            **({"Authorization": server.auth} if server.auth else {}),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200, r.status
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{server.name}: {exc.code} {exc.read()[:500]!r}") from None


def wrk(server: Server, connections: int, duration: int, core: int, work: Path) -> dict[str, Any]:
    """Run wrk pinned to `core`; returns req/s, p50/p99 (ms) and server CPU ms per request."""
    body_file = work / f"{server.name}.json"
    body_file.write_bytes(server.body)
    env = {**os.environ, "BODY_FILE": str(body_file), "AUTH": server.auth}
    cmd = [
        "taskset",
        "-c",
        str(core),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(LUA),
        server.url + server.path,
    ]
    subprocess.run([*cmd[:6], "-d2s", *cmd[7:]], env=env, capture_output=True, check=True)
    cpu0 = cpu_seconds(server.process.pid)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    cpu1 = cpu_seconds(server.process.pid)
    requests_done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = int(re.search(r"NON200 (\d+)", out).group(1))  # type: ignore[union-attr]
    if bad:
        raise RuntimeError(f"{server.name}: {bad} non-200 answers\n{out}")

    def pct(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": pct("50"),
        "p99": pct("99"),
        "cpu_ms": (cpu1 - cpu0) * 1000 / max(requests_done, 1),
    }


def api_only_bin() -> Path:
    """bin/ of a virtualenv synced like the API image (`uv sync --package telco-churn-api`)."""
    venv = ROOT / ".cache" / "serve-bench-api-venv"
    uv = shutil.which("uv")
    cmd = [uv] if uv else [sys.executable, "-m", "uv"]
    result = subprocess.run(
        [
            *cmd,
            "sync",
            "--frozen",
            "--no-dev",
            "--package",
            "telco-churn-api",
            "--no-install-package",
            "nvidia-nccl-cu12",
            "--quiet",
        ],
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"cannot build the API-only virtualenv:\n{result.stderr[-2000:]}")
    return venv / "bin"


def model_shape(model_dir: Path) -> str:
    """Trees and depth of the booster, which set the cost of a batch."""
    import xgboost as xgb

    from churn_api.bundle import find_bundle
    from churn_api.trees import TreeWalker

    booster = xgb.Booster(model_file=str(find_bundle(model_dir) / "booster.ubj"))
    walker = TreeWalker(booster)
    return f"{len(walker.roots)} trees, depth {walker.depth}"


def floor_app(model_dir: str) -> Any:
    """The floor: validate the same body with the same pydantic model, return a constant."""
    from churn_api.bundle import find_bundle
    from churn_api.contract import FeatureContract
    from churn_api.customer import build_customer_model

    contract = FeatureContract.model_validate_json(
        (find_bundle(Path(model_dir)) / "feature_contract.json").read_bytes()
    )
    Customer = build_customer_model(contract)
    app = FastAPI()
    constant = b'{"churn_probability": 0.5}'

    @app.get("/")
    async def live() -> Response:
        return Response(b'{"status": "ok"}', media_type="application/json")

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        Customer.model_validate_json(await request.body())
        return Response(constant, media_type="application/json")

    return app


def batch_latency(
    model_dir: Path, records: list[dict[str, object]], threads: int
) -> dict[str, float]:
    """In-process: 10,000-row body bytes -> validated, scored, serialised response bytes."""
    from churn_api.bundle import ModelMeta
    from churn_api.scorer import load_model

    model = load_model(
        model_dir, ModelMeta("telco-churn", "bench", None, None, "local", ""), batch_threads=threads
    )
    rows = (records * (10_000 // len(records) + 1))[:10_000]
    body = json.dumps({"customers": rows}).encode()
    times = []
    for _ in range(12):
        t0 = time.perf_counter()
        out = model.answer_batch(body).json  # what POST /predict/batch runs in its thread
        times.append((time.perf_counter() - t0) * 1000)
        assert out
    times = sorted(times[2:])
    return {"median_ms": statistics.median(times), "best_ms": times[0], "worst_ms": times[-1]}


def signing_keys(folder: Path) -> dict[str, str]:
    """A fresh key pair (churn-train keygen) as the trainer's and the API's settings."""
    subprocess.run(
        [str(BIN / "churn-train"), "keygen", "--out", str(folder)], check=True, capture_output=True
    )
    return {
        "MODEL_SIGNING_KEY_FILE": str(folder / "signing-key.pem"),
        "MODEL_PUBLIC_KEYS_FILE": str(folder / "signing-key.pub.pem"),
    }


def main() -> None:
    """Run the comparison and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="an MLflow model directory (churn-train)")
    parser.add_argument("--data", type=Path, default=ROOT / ".cache/data/telco_customer_churn.csv")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", default="1,8,32")
    parser.add_argument("--trials", type=int, help="tuning trials when training (default: its own)")
    parser.add_argument(
        "--serve-floor", nargs=2, metavar=("PORT", "MODEL_DIR"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_floor:
        import uvicorn

        uvicorn.run(
            floor_app(args.serve_floor[1]),
            host="127.0.0.1",
            port=int(args.serve_floor[0]),
            access_log=False,
            log_level="warning",
        )
        return
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")
    # The dev environment's test helpers (the floor above runs without them, in the API venv).
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts")]
    from testkit import dataset_records, free_port

    cores = sorted(os.sched_getaffinity(0))
    client_core, server_core = cores[0], cores[-1]
    work = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    # The API serves signed models only: the trainer signs with the private half, the API
    # verifies with the public one (a --model-dir must come with MODEL_PUBLIC_KEYS[_FILE]).
    keys = {} if "MODEL_SIGNING_KEY_FILE" in os.environ else signing_keys(work / "keys")
    model_dir = args.model_dir
    if model_dir is None:
        model_dir = work / "model"
        budget = ["--trials", str(args.trials)] if args.trials else []
        print(f"training a model (churn-train --no-publish {' '.join(budget)}) ...", flush=True)
        subprocess.run(
            [
                str(BIN / "churn-train"),
                "--quiet",
                "--data",
                str(args.data),
                *budget,
                "--no-publish",
                "--model-dir",
                str(model_dir),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, **keys},
        )
    records = dataset_records(args.data)
    one = json.dumps(records[0]).encode()
    print(f"model: {model_shape(model_dir)}", flush=True)
    api_bin = api_only_bin()

    token = subprocess.run(
        [str(BIN / "churn-api"), "token", "--scope", "predict", "--issuer", "churn-ui"],
        env={**os.environ, "JWT_PREDICT_SECRET": SECRET},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    servers: list[Server] = []
    try:
        port = free_port()
        proc, cold = start(
            "churn-api",
            [str(api_bin / "churn-api")],
            {
                "MODEL_URI": str(model_dir),
                "JWT_PREDICT_SECRET": SECRET,
                **{k: v for k, v in keys.items() if k == "MODEL_PUBLIC_KEYS_FILE"},
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "MODEL_CACHE_DIR": str(work / "cache"),
            },
            f"http://127.0.0.1:{port}/health/ready",
            work / "churn-api.log",
            server_core,
        )
        servers.append(
            Server(
                "churn-api",
                f"http://127.0.0.1:{port}",
                "/predict",
                one,
                f"Bearer {token}",
                proc,
                cold,
            )
        )
        port = free_port()
        proc, cold = start(
            "mlflow-serve",
            [
                str(BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                str(model_dir),
                "--env-manager",
                "local",
                "--host",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                "1",
            ],
            {},
            f"http://127.0.0.1:{port}/ping",
            work / "mlflow.log",
            server_core,
        )
        mlflow_body = json.dumps({"dataframe_records": [records[0]]}).encode()
        servers.append(
            Server(
                "mlflow-serve",
                f"http://127.0.0.1:{port}",
                "/invocations",
                mlflow_body,
                "",
                proc,
                cold,
            )
        )
        port = free_port()
        proc, cold = start(
            "floor",
            [str(api_bin / "python"), __file__, "--serve-floor", str(port), str(model_dir)],
            {},
            f"http://127.0.0.1:{port}/",
            work / "floor.log",
            server_core,
        )
        servers.append(Server("floor", f"http://127.0.0.1:{port}", "/predict", one, "", proc, cold))
        for server in servers:
            check(server)

        levels = [int(c) for c in args.connections.split(",")]
        results: dict[str, dict[int, dict[str, Any]]] = {}
        print(
            f"\nserver on core {server_core}, wrk on core {client_core}, "
            f"{args.duration} s per run, one single-row request body; churn-api and floor "
            f"from the API-only virtualenv {api_bin.parent}\n"
        )
        print(f"{'server':<14}{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}")
        for server in servers:
            results[server.name] = {}
            for c in levels:
                r = wrk(server, c, args.duration, client_core, work)
                results[server.name][c] = r
                print(
                    f"{server.name:<14}{c:>5}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
                    f"{r['cpu_ms']:>12.3f}",
                    flush=True,
                )
        print("\nratios (churn-api throughput / other)")
        for c in levels:
            api = results["churn-api"][c]["rps"]
            print(
                f"  c={c:<3} vs mlflow-serve x{api / results['mlflow-serve'][c]['rps']:.1f}"
                f"   vs floor {100 * api / results['floor'][c]['rps']:.0f} %"
            )
        print("\ncold start (spawn -> ready) and resident memory after the runs")
        for server in servers:
            rss = rss_mb(server.process.pid)
            print(f"  {server.name:<14}{server.cold_start_s:>7.2f} s {rss:>8.0f} MB")
    finally:
        for server in servers:
            server.stop()
    print("\n10,000-row batch in process (body bytes -> response bytes)")
    for threads in sorted({1, len(cores)}):
        b = batch_latency(model_dir, records, threads)
        print(
            f"  xgboost threads {threads}: median {b['median_ms']:.1f} ms, "
            f"best {b['best_ms']:.1f} ms, worst {b['worst_ms']:.1f} ms"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
