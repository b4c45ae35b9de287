"""Serving benchmark: churn-api vs `mlflow models serve` vs a validate-only floor, on one model.

Each server runs one worker pinned to one core (taskset), wrk runs on the other core with a Lua
body script. For each server and concurrency (1, 8, 32) it prints requests/s, p50/p99 latency
and the server's CPU milliseconds per request (from /proc), then the ratios, cold start time and
resident memory. Then one task as ECS would run it: as many uvicorn workers as vCPUs, unpinned,
with requests/s per vCPU and per GB of resident memory (wrk shares those cores). Last, the
in-process figures (serve_inprocess.py): a 10,000-row batch stage by stage, and the CPU of one
request through the ASGI app beside the floor's, which the machine's load moves far less.

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
from serve_inprocess import print_asgi_cpu, print_batch_stages

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


def rss_mb(pid: int, tree: bool = True) -> float:
    """Resident memory of a process tree (or of the process alone) in MB."""
    total = 0
    for p in tree_pids(pid) if tree else [pid]:
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
    name: str,
    cmd: list[str],
    env: dict[str, str],
    ready_url: str,
    log: Path,
    core: int | None,
    answers: int = 1,
) -> tuple[subprocess.Popen[bytes], float]:
    """Start pinned to `core` (None: any core); cold start = spawn until ready_url has answered
    200 `answers` times in a row (several workers: each must be ready)."""
    t0 = time.perf_counter()
    pin = [] if core is None else ["taskset", "-c", str(core)]
    process = subprocess.Popen(
        [*pin, *cmd],
        env={**os.environ, **env, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 180
    ready, elapsed = 0, 0.0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(ready_url, timeout=2) as r:
                if r.status == 200:
                    elapsed = elapsed or time.perf_counter() - t0
                    ready += 1
                    if ready >= answers:
                        return process, elapsed
                    continue
        except OSError:
            pass
        ready, elapsed = 0, 0.0
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


def wrk(
    server: Server, connections: int, duration: int, core: int | None, work: Path
) -> dict[str, Any]:
    """Run wrk pinned to `core` (None: any core); returns req/s, p50/p99 (ms) and server CPU ms
    per request."""
    body_file = work / f"{server.name}.json"
    body_file.write_bytes(server.body)
    env = {**os.environ, "BODY_FILE": str(body_file), "AUTH": server.auth}
    cmd = [
        *(["taskset", "-c", str(core)] if core is not None else []),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(LUA),
        server.url + server.path,
    ]
    warm = [a if not a.startswith("-d") else "-d2s" for a in cmd]
    subprocess.run(warm, env=env, capture_output=True, check=True)
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


# Packages whose wheels vendor shared libraries (*.libs/): a copy that was stripped in place
# fails at import ("ELF load command address/offset not page-aligned").
VENDORED_LIBS = ("numpy", "scipy", "xgboost-cpu", "psycopg-binary")


def api_only_bin() -> Path:
    """bin/ of a virtualenv synced like the API image (`uv sync --package telco-churn-api`).

    Files are copied, not hard-linked from uv's cache: a link shares its bytes with every other
    environment made from that cache, and one of them stripped in place (an image experiment)
    breaks them all. If the copy still fails to import, the vendored-library wheels are
    fetched again (uv's own cache entries were the stripped ones).
    """
    venv = ROOT / ".cache" / "serve-bench-api-venv"
    uv = shutil.which("uv")
    cmd = [uv] if uv else [sys.executable, "-m", "uv"]
    sync = [*cmd, "sync", "--frozen", "--no-dev", "--package", "telco-churn-api", "--quiet"]
    sync += ["--link-mode", "copy"]
    smoke = [str(venv / "bin" / "python"), "-c", "import numpy, scipy.special, xgboost"]
    refetch = [f"--refresh-package={p}" for p in VENDORED_LIBS]
    for extra in ([], ["--reinstall", *refetch]):
        result = subprocess.run(
            [*sync, *extra],
            env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cannot build the API-only virtualenv:\n{result.stderr[-2000:]}")
        imported = subprocess.run(smoke, capture_output=True, text=True, check=False)
        if imported.returncode == 0:
            return venv / "bin"
    raise RuntimeError(f"the API-only virtualenv does not import:\n{imported.stderr[-2000:]}")


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


def worker_app() -> Any:
    """churn-api's app for one uvicorn worker, as `churn-api` builds it (settings from the
    environment, the JSON request log); uvicorn --workers imports it in every process."""
    from churn_api.logs import configure_logging
    from churn_api.main import create_app
    from churn_api.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)


def serve_workers(port: int, workers: int) -> None:
    """uvicorn with `workers` processes, with the options `churn-api` runs one with."""
    import uvicorn

    from churn_api.settings import get_settings

    settings = get_settings()
    uvicorn.run(
        "serve_bench:worker_app",
        factory=True,
        app_dir=str(Path(__file__).parent),
        workers=workers,
        host="127.0.0.1",
        port=port,
        timeout_keep_alive=settings.timeout_keep_alive,
        access_log=False,
        log_config=None,
        server_header=False,
    )


def one_task(
    api_bin: Path, env: dict[str, str], body: bytes, auth: str, args: Any, work: Path
) -> None:
    """One task sized as ECS would run it: a uvicorn worker per vCPU, nothing pinned."""
    from testkit import free_port

    vcpus = len(os.sched_getaffinity(0))
    port = free_port()
    cmd = [str(api_bin / "python"), __file__, "--serve-workers", str(port), str(vcpus)]
    url = f"http://127.0.0.1:{port}"
    proc, cold = start(
        "churn-api-task", cmd, {**env, "PORT": str(port)}, f"{url}/health/ready",
        work / "task.log", None, answers=4 * vcpus,
    )  # fmt: skip
    task = Server("churn-api-task", url, "/predict", body, auth, proc, cold)
    try:
        check(task)
        print(
            f"\none task: {vcpus} uvicorn workers = {vcpus} vCPUs, nothing pinned; wrk (one "
            f"thread) shares the same {vcpus} cores, so these are lower bounds for a task whose "
            "cores serve only the API"
        )
        print(
            f"{'conc':>5}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}"
            f"{'req/s/vCPU':>12}{'req/s/GB':>10}{'RSS MB':>8}"
        )
        for c in sorted({8, 32, *(int(x) for x in args.connections.split(",") if int(x) > 1)}):
            r = wrk(task, c, args.duration, None, work)
            rss = rss_mb(proc.pid)
            print(
                f"{c:>5}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['cpu_ms']:>12.3f}"
                f"{r['rps'] / vcpus:>12.0f}{r['rps'] / (rss / 1024):>10.0f}{rss:>8.0f}",
                flush=True,
            )
        each = " + ".join(f"{rss_mb(p, tree=False):.0f}" for p in tree_pids(proc.pid))
        print(
            f"  resident memory {rss_mb(proc.pid):.0f} MB: uvicorn's supervisor, then its "
            f"children (multiprocessing's helper, the workers): {each} MB; ready {cold:.2f} s "
            "after spawn (every worker answering)"
        )
    finally:
        task.stop()


def side_by_side(
    api_bin: Path,
    api_env: dict[str, str],
    model_dir: Path,
    records: list[dict[str, Any]],
    auth: str,
    args: Any,
    work: Path,
) -> None:
    """churn-api, `mlflow models serve` and the floor, one pinned worker each, wrk beside."""
    from testkit import free_port

    cores = sorted(os.sched_getaffinity(0))
    client_core, server_core = cores[0], cores[-1]
    one = json.dumps(records[0]).encode()
    servers: list[Server] = []
    try:
        port = free_port()
        proc, cold = start(
            "churn-api",
            [str(api_bin / "churn-api")],
            {**api_env, "PORT": str(port)},
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
                auth,
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
        "--parts", default="wrk,task,inprocess", help="any of wrk, task and inprocess"
    )
    parser.add_argument(
        "--serve-floor", nargs=2, metavar=("PORT", "MODEL_DIR"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--serve-workers", nargs=2, type=int, metavar=("PORT", "N"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_workers:
        serve_workers(*args.serve_workers)
        return
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
    from testkit import dataset_records

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
    api_env = {
        "MODEL_URI": str(model_dir),
        "JWT_PREDICT_SECRET": SECRET,
        **{k: v for k, v in keys.items() if k == "MODEL_PUBLIC_KEYS_FILE"},
        "HOST": "127.0.0.1",
        "MODEL_CACHE_DIR": str(work / "cache"),
    }
    parts = set(args.parts.split(","))
    if "wrk" in parts:
        side_by_side(api_bin, api_env, model_dir, records, f"Bearer {token}", args, work)
    if "task" in parts:
        one_task(api_bin, api_env, one, f"Bearer {token}", args, work)
    if "inprocess" in parts:
        os.environ.update({k: v for k, v in keys.items() if k == "MODEL_PUBLIC_KEYS_FILE"})
        print_batch_stages(model_dir, records, sorted({1, len(os.sched_getaffinity(0))}))
        print_asgi_cpu(model_dir, records, lambda: floor_app(str(model_dir)), work)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
