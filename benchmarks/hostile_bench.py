"""Hostile-input benchmark: churn-api against the worst bodies that fit MAX_BODY_BYTES.

Starts `churn-api` (a real uvicorn process on a free port) on a signed model, then:
1. for each hostile shape (unknown keys, deep nesting, long strings, rows full of problems...):
   its answer time, status and size, and the latency of GET / polled every 5 ms meanwhile
   (p50 / max over the polls made during the request);
2. its resident memory (VmRSS from /proc, sampled every 20 ms) idle and with as many
   concurrent 10,000-row explained batches as admission control allows, and the answer to
   one more batch sent while they run (429).
Targets (issue 11): hostile answer < 1 s, liveness < 50 ms, memory < half the 1 GiB task.

    .venv/bin/python benchmarks/hostile_bench.py [--model-dir DIR] [--max-batches N]

Model: --model-dir (a churn-train model directory; its signing key's public half must be in
MODEL_PUBLIC_KEYS[_FILE]), else .cache/bench-model, else a small bundle built and signed here
the way the API's tests build theirs (no training).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MB = 1024 * 1024
TASK_MB = 1024


def post(url: str, body: bytes, timeout: float = 120) -> tuple[int, bytes, dict[str, str]]:
    """POST a JSON body; (status, body, headers with lower-case names) whatever the status."""
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), {k.lower(): v for k, v in exc.headers.items()}


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory (or its peak, VmHWM) of one process in MB."""
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(rf"{field}:\s+(\d+) kB", text)
    return int(m.group(1)) / 1024 if m else 0.0


class Poller:
    """GET / every 5 ms on one keep-alive connection; latencies by start time."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import http.client

        host, port = self.url.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        while not self._stop.is_set():
            t0 = time.monotonic()
            conn.request("GET", "/")
            conn.getresponse().read()
            self.samples.append((t0, time.monotonic() - t0))
            time.sleep(0.005)

    def during(self, start: float, end: float) -> list[float]:
        """Latencies (s) of the polls that started in [start, end]."""
        return [lat for t, lat in self.samples if start <= t <= end]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def hostile_bodies(limit: int) -> dict[str, tuple[str, bytes]]:
    """The worst bodies we could build within `limit` bytes, by shape."""
    room = limit - 1024
    unique = b"{" + b",".join(b'"k%d":0' % i for i in range(room // 8)) + b"}"
    unique = unique[: unique.rfind(b",", 0, room)] + b"}"
    typo_rows = [{f"Contrac{i}_{j}": 0 for j in range(25)} | {"tenure": "x"} for i in range(9000)]
    few_keys = [{f"k{j}": True for j in range(60)} for _ in range(8000)]
    # The costliest body the structure check lets through: keys distinct across the whole body
    # (a parser caches repeated keys), 64 per object, as many rows as fit.
    distinct = [{f"{i}_{j}": 0 for j in range(64)} for i in range(min(10_000, room // (64 * 13)))]
    return {
        "predict: 100k unknown keys (issue 11)": (
            "/predict",
            json.dumps({f"k{i}": 0 for i in range(100_000)}).encode(),
        ),
        "predict: 8 MB of unknown keys": ("/predict", unique),
        "predict: 8 MB of one key repeated": (
            "/predict",
            b"{" + b",".join([b'"tenure":true'] * (room // 14)) + b"}",
        ),
        "predict: 8 MB deep nesting": (
            "/predict",
            b'{"Churn":' + b"[" * (room // 2) + b"]" * (room // 2) + b"}",
        ),
        "predict: 8 MB of empty objects": (
            "/predict",
            b'{"Churn":[' + b",".join([b"{}"] * (room // 3)) + b"]}",
        ),
        "predict: 8 MB string": ("/predict", b'{"customerID":"' + b"x" * room + b'"}'),
        "batch: 8 MB deep nesting": (
            "/predict/batch",
            b'{"customers":[{"Churn":' + b"[" * (room // 2) + b"]" * (room // 2) + b"}]}",
        ),
        "batch: 2.8M empty rows": (
            "/predict/batch",
            b'{"customers":[' + b",".join([b"{}"] * (room // 3)) + b"]}",
        ),
        "batch: 9,000 rows of 26 problems (typos)": (
            "/predict/batch",
            json.dumps({"customers": typo_rows}).encode(),
        ),
        "batch: 8,000 rows of 60 unknown keys": (
            "/predict/batch",
            json.dumps({"customers": few_keys}).encode(),
        ),
        "batch: rows of 64 keys, all distinct": (
            "/predict/batch",
            json.dumps({"customers": distinct}, separators=(",", ":")).encode(),
        ),
        "batch: one row of 8 MB of keys": (
            "/predict/batch",
            b'{"customers":[' + unique[: unique.rfind(b",", 0, room - 20)] + b"}]}",
        ),
        "batch: not UTF-8": ("/predict/batch", b'{"customers":[{"gender":"\xff\xfe"}]}'),
    }


def tiny_bundle(work: Path) -> tuple[Path, str]:
    """A small bundle built and signed the way the API's tests do (their conftest.py)."""
    path = ROOT / "inference-service" / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location("api_test_bundle", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model_dir = module.write_bundle(work / "model", booster=module.train_booster(2000, 300))
    return model_dir, module.TEST_PUBLIC_PEM


def records(n: int, data: Path, tiny: bool) -> list[dict[str, Any]]:
    """n client records the model accepts: synthetic ones for the tiny bundle (its contract has
    a few of the fields), else dataset rows when the CSV is there."""
    if data.is_file() and not tiny:
        sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts")]
        from testkit import dataset_records

        rows = dataset_records(data)
    else:
        path = ROOT / "inference-service" / "tests" / "conftest.py"
        spec = importlib.util.spec_from_file_location("api_test_bundle", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        rows = module.synthetic_records(1000)
    return (rows * (n // len(rows) + 1))[:n]


def start_api(env: dict[str, str], work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """churn-api on a free port, ready (model verified)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = work / "api.log"
    process = subprocess.Popen(
        [str(BIN / "churn-api")],
        # Auth off (development mode): the bench measures input handling, not tokens.
        env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "CHURN_DEV_MODE": "true", **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        try:
            with urllib.request.urlopen(url + "/health/ready", timeout=2) as r:
                if r.status == 200:
                    return process, url
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(log.read_text()[-3000:])


def metric(url: str, name: str) -> float:
    text = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
    m = re.search(rf"^{name} ([\d.e+]+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else float("nan")


def run_hostile(url: str, limit: int) -> None:
    poller = Poller(url)
    time.sleep(0.5)
    print(
        f"{'shape':44} {'status':>6} {'answer s':>9} {'bytes':>9} {'live p50 ms':>11} "
        f"{'live max ms':>11} {'polls':>5}"
    )
    for name, (path, body) in hostile_bodies(limit).items():
        assert len(body) <= limit, name
        t0 = time.monotonic()
        status, answer, _ = post(url + path, body)
        elapsed = time.monotonic() - t0
        time.sleep(0.02)
        lat = poller.during(t0, t0 + elapsed) or [float("nan")]  # nan: answered between polls
        print(
            f"{name:44} {status:>6} {elapsed:>9.3f} {len(answer):>9} "
            f"{statistics.median(lat) * 1000:>11.1f} {max(lat) * 1000:>11.1f} {len(lat):>5}",
            flush=True,
        )
    poller.stop()


def run_memory(url: str, pid: int, rows: list[dict[str, Any]]) -> None:
    limit = int(metric(url, "churn_api_batches_limit"))
    body = json.dumps({"customers": rows}).encode()
    idle = rss_mb(pid)
    alone_t0 = time.monotonic()
    status, answer, _ = post(url + "/predict/batch?explain=true", body)
    alone = time.monotonic() - alone_t0
    failed = json.loads(answer).get("failed")
    assert status == 200 and failed == 0, f"the memory batch must score: {status}, {failed} failed"
    print(
        f"\nMAX_CONCURRENT_BATCHES in effect: {limit}; one 10,000-row explained batch: "
        f"{status} in {alone:.2f} s; RSS idle {idle:.0f} MB",
        flush=True,
    )
    peak = [rss_mb(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak.append(rss_mb(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with ThreadPoolExecutor(limit + 1) as pool:
        futures = [
            pool.submit(post, url + "/predict/batch?explain=true", body) for _ in range(limit)
        ]
        deadline = time.monotonic() + 30
        while metric(url, "churn_api_batches_in_flight") < limit and time.monotonic() < deadline:
            time.sleep(0.01)
        extra_status, extra_body, extra_headers = post(url + "/predict/batch?explain=true", body)
        statuses = [f.result()[0] for f in futures]
    done.set()
    sampler.join()
    print(
        f"{limit} concurrent explained batches: statuses {statuses}; RSS peak "
        f"{max(peak):.0f} MB (VmHWM {rss_mb(pid, 'VmHWM'):.0f} MB), "
        f"{max(peak) - idle:.0f} MB over idle; target < {TASK_MB // 2} MB",
        flush=True,
    )
    print(
        f"one more while they ran: {extra_status} Retry-After="
        f"{extra_headers.get('retry-after')} {extra_body[:160].decode(errors='replace')}"
    )


def main() -> None:
    """Start the API, run both parts, stop it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="a signed churn-train model directory")
    parser.add_argument("--data", type=Path, default=ROOT / ".cache/data/telco_customer_churn.csv")
    parser.add_argument("--max-batches", type=int, help="MAX_CONCURRENT_BATCHES (default: its own)")
    parser.add_argument("--max-body-mb", type=float, default=8.0, help="MAX_BODY_BYTES in MiB")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hostile-bench-"))
    env = {
        "MODEL_CACHE_DIR": str(work / "cache"),
        "MAX_BODY_BYTES": str(int(args.max_body_mb * MB)),
    }
    model_dir = args.model_dir
    if model_dir is None and (ROOT / ".cache" / "bench-model").is_dir():
        model_dir = ROOT / ".cache" / "bench-model"
    tiny = model_dir is None
    if model_dir is None:
        model_dir, pem = tiny_bundle(work)
        env["MODEL_PUBLIC_KEYS"] = pem
    env["MODEL_URI"] = str(model_dir)
    if args.max_batches:
        env["MAX_CONCURRENT_BATCHES"] = str(args.max_batches)
    process, url = start_api(env, work)
    try:
        print(f"churn-api pid {process.pid} at {url}, model {model_dir}", flush=True)
        run_hostile(url, int(args.max_body_mb * MB))
        run_memory(url, process.pid, records(10_000, args.data, tiny))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
