"""Image benchmark: size, `docker run` -> ready time and resident memory of each compose image.

For each image docker-compose.yml names (churn-api, churn-scorer, churn-ui, churn-trainer,
churn-mlflow) it prints the size; for the services, the time from `docker run` until their
health route answers 200 (several runs: median and max; "started" is when `docker run -d`
returned, i.e. the container's share) and the container's memory 1 s after ready (docker
stats); for the one-shot jobs, `docker run --rm IMAGE --help` until it exits.

The API starts three ways, each as compose runs it (read-only root, no capabilities, its keys
and secrets in the environment), with the model cache on a mounted volume:
  cached             the cache holds the verified champion; MLflow answers the alias
  cached, no MLflow  the same cache, MLflow unreachable: the last verified champion (degraded)
  registry           an empty cache: resolve the alias, download, verify (signature, golden)
The champion comes from a local MLflow server (the dev environment's, SQLite, proxied
artifacts) that the bench fills first: churn-train --trials N, signed with a fresh key pair.

    uv run --frozen python benchmarks/image_bench.py [--runs 5] [--trials 10] [--build]

Images are whatever `docker compose build` made (--build runs it first; a missing image is
built). Containers use the host network: the API reaches the bench's MLflow on 127.0.0.1
(MLflow refuses unknown Host headers) and every service listens on a free port.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SERVICES = ("api", "scorer", "ui", "trainer", "mlflow")
JOBS = {"scorer": "churn-score", "trainer": "churn-train"}
# Every long-running container, as compose's x-hardened runs it.
HARDENED = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true"]
API_CACHE = "/home/app/.cache/churn-api"
SETTLE_S = 1.0  # memory is read this long after ready (the API's warm-up imports included)


@dataclass
class Run:
    """One `docker run` until ready."""

    started_s: float  # `docker run -d` returned
    ready_s: float  # the health route answered 200
    rss_mb: float


def docker(*args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    """A docker CLI call's stdout."""
    result = subprocess.run(
        ["docker", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}: {result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


def compose_images() -> dict[str, str]:
    """Service -> image name, as `docker compose config` resolves them."""
    config = json.loads(docker("compose", "config", "--format", "json"))
    return {name: config["services"][name]["image"] for name in SERVICES}


def ensure_images(images: dict[str, str], build: bool) -> None:
    """`docker compose build` the services whose image is missing (all of them with build)."""
    missing = [s for s, image in images.items() if build or not image_exists(image)]
    if missing:
        print(f"docker compose build {' '.join(missing)} ...", flush=True)
        subprocess.run(["docker", "compose", "build", *missing], cwd=ROOT, check=True)


def image_exists(image: str) -> bool:
    return bool(docker("image", "inspect", "--format", "{{.Id}}", image, check=False))


def image_mb(image: str) -> float:
    """The image's size as `docker images` shows it (MB, 10^6 bytes)."""
    return int(docker("image", "inspect", "--format", "{{.Size}}", image)) / 1e6


def memory_mb(container: str) -> float:
    """The container's memory use as `docker stats` reports it (MB)."""
    used = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", container).split("/")[0]
    match = re.match(r"\s*([\d.]+)\s*([kKMG]i?B)", used)
    if not match:
        return float("nan")
    unit = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9}
    return float(match.group(1)) * unit[match.group(2)] / 1e6


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


def run_until_ready(
    image: str, url: str, env: dict[str, str], options: list[str], command: list[str]
) -> Run:
    """`docker run -d` with the environment (values passed by name, never on the command
    line), then poll url until 200; memory SETTLE_S later; the container is removed."""
    names = [arg for name in env for arg in ("-e", name)]
    t0 = time.perf_counter()
    container = docker(
        "run", "-d", "--network", "host", *HARDENED, *options, *names, image, *command, env=env
    )
    started = time.perf_counter() - t0
    try:
        deadline = time.monotonic() + 120
        while not healthy(url):
            state = docker(
                "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", container
            )
            if time.monotonic() > deadline or not state.startswith(("running", "created")):
                logs = subprocess.run(
                    ["docker", "logs", "--tail", "40", container], capture_output=True, text=True
                )
                raise RuntimeError(f"{image} not ready ({state}):\n{logs.stdout}{logs.stderr}")
            time.sleep(0.01)
        ready = time.perf_counter() - t0
        time.sleep(SETTLE_S)
        return Run(started, ready, memory_mb(container))
    finally:
        docker("rm", "-f", "-v", container, check=False)


def job_seconds(image: str, entrypoint: str) -> float:
    """`docker run --rm IMAGE --help` until it exits: the job's start without its work."""
    t0 = time.perf_counter()
    docker(
        "run", "--rm", "--network", "none", *HARDENED, "--entrypoint", entrypoint, image, "--help"
    )
    return time.perf_counter() - t0


def writable_dir(parent: Path, name: str) -> Path:
    """A host folder the containers' user (10001) can write: a mounted volume."""
    folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=parent))
    folder.chmod(0o777)
    return folder


def publish_champion(work: Path, data: Path, trials: int) -> tuple[str, str, object]:
    """A local MLflow server holding telco-churn@champion, trained and signed here.

    Returns its URI, the public key PEM that verifies the champion, and the server (stop it)."""
    from serve_bench import signing_keys
    from testkit import start_mlflow

    keys = signing_keys(work / "keys")
    server = start_mlflow(work / "mlflow")
    print(f"training a champion (churn-train --trials {trials}) into {server.uri} ...", flush=True)
    env = {**os.environ, "MODEL_SIGNING_KEY_FILE": keys["MODEL_SIGNING_KEY_FILE"]}
    env.pop("MLFLOW_TRACKING_URI", None)
    result = subprocess.run(
        [
            str(BIN / "churn-train"),
            "--quiet",
            "--data",
            str(data),
            "--trials",
            str(trials),
            "--tracking-uri",
            server.uri,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        server.stop()
        raise RuntimeError(f"churn-train failed:\n{result.stderr[-3000:]}")
    return server.uri, Path(keys["MODEL_PUBLIC_KEYS_FILE"]).read_text(), server


def admin_public_pem() -> str:
    """An operator's public key (JWT_ADMIN_PUBLIC_KEYS), as compose gives the API one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


def api_runs(
    image: str,
    runs: int,
    work: Path,
    mlflow_uri: str,
    model_pem: str,
    stop_mlflow: Callable[[], None],
) -> dict[str, list[Run]]:
    """The API's three starts (see the module docstring); MLflow is stopped for the last."""
    base = {
        "JWT_PREDICT_SECRET": secrets.token_hex(32),
        "JWT_ADMIN_PUBLIC_KEYS": admin_public_pem(),
        "MODEL_PUBLIC_KEYS": model_pem,
        "MODEL_NAME": "telco-churn",
        "MODEL_ALIAS": "champion",
        "HOST": "127.0.0.1",
        "LOG_LEVEL": "INFO",
    }

    def start(cache: Path, uri: str) -> Run:
        from testkit import free_port

        port = free_port()
        return run_until_ready(
            image,
            f"http://127.0.0.1:{port}/health/ready",
            {**base, "PORT": str(port), "MLFLOW_TRACKING_URI": uri},
            ["--tmpfs", "/tmp:size=64m", "-v", f"{cache}:{API_CACHE}"],
            [],
        )

    out: dict[str, list[Run]] = {"registry": [], "cached": [], "cached, no MLflow": []}
    for _ in range(runs):
        out["registry"].append(start(writable_dir(work, "api-cache"), mlflow_uri))
    cache = writable_dir(work, "api-cache")
    start(cache, mlflow_uri)  # fills the cache: not measured
    for _ in range(runs):
        out["cached"].append(start(cache, mlflow_uri))
    # The cache is per tracking URI: the same URI, with the server stopped.
    stop_mlflow()
    for _ in range(runs):
        out["cached, no MLflow"].append(start(cache, mlflow_uri))
    return out


def ui_run(image: str) -> Run:
    from testkit import free_port

    port = free_port()
    return run_until_ready(
        image,
        f"http://127.0.0.1:{port}/ui/_stcore/health",
        {
            "API_BASE_URL": "http://127.0.0.1:8000",
            "API_PREDICT_SECRET": secrets.token_hex(32),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "LOG_LEVEL": "INFO",
        },
        [
            "--tmpfs",
            "/tmp:size=256m",
            "--tmpfs",
            "/home/app/.streamlit:uid=10001,gid=10001,mode=0700,size=16m",
        ],
        [],
    )


def mlflow_run(image: str) -> Run:
    """A fresh tracking server with basic auth, as compose starts it (its first start: the
    database and the three identities are created)."""
    from testkit import free_port

    port = free_port()
    return run_until_ready(
        image,
        f"http://127.0.0.1:{port}/health",
        {
            "MLFLOW_HOST": "127.0.0.1",
            "MLFLOW_PORT": str(port),
            "MLFLOW_WORKERS": "1",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "MLFLOW_AUTH_ADMIN_PASSWORD": secrets.token_hex(16),
            "MLFLOW_TRAINER_PASSWORD": secrets.token_hex(16),
            "MLFLOW_API_PASSWORD": secrets.token_hex(16),
        },
        ["--tmpfs", "/tmp:size=256m"],
        ["--app-name", "basic-auth"],
    )


def summary(label: str, runs: list[Run]) -> str:
    ready = [r.ready_s for r in runs]
    started = [r.started_s for r in runs]
    rss = [r.rss_mb for r in runs]
    return (
        f"{label:<36}{len(runs):>5}{statistics.median(ready):>10.2f}{max(ready):>8.2f}"
        f"{statistics.median(started):>10.2f}{statistics.median(rss):>9.0f}"
    )


def repeat(fn: Callable[[], Run], runs: int) -> list[Run]:
    return [fn() for _ in range(runs)]


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="starts per image and way")
    parser.add_argument("--trials", type=int, default=10, help="tuning trials of the champion")
    parser.add_argument("--data", type=Path, default=ROOT / ".cache/data/telco_customer_churn.csv")
    parser.add_argument("--build", action="store_true", help="docker compose build first")
    args = parser.parse_args()
    if not shutil.which("docker"):
        sys.exit("docker is missing")
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts")]  # testkit: the local MLflow
    images = compose_images()
    ensure_images(images, args.build)
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)", flush=True)
    work = Path(tempfile.mkdtemp(prefix="image-bench-"))
    uri, model_pem, server = publish_champion(work, args.data, args.trials)
    try:
        print("\nimage sizes (MB)")
        for image in images.values():
            print(f"  {image:<28}{image_mb(image):>8.0f}")
        print(f"\ndocker run -> ready, {args.runs} runs (s), memory {SETTLE_S:g} s after ready")
        print(f"{'':<36}{'runs':>5}{'median':>10}{'max':>8}{'started':>10}{'MB':>9}")
        for way, runs in api_runs(
            images["api"],
            args.runs,
            work,
            uri,
            model_pem,
            server.stop,  # type: ignore[attr-defined]
        ).items():
            print(summary(f"{images['api']} {way}", runs), flush=True)
        print(summary(images["ui"], repeat(lambda: ui_run(images["ui"]), args.runs)), flush=True)
        print(summary(images["mlflow"], repeat(lambda: mlflow_run(images["mlflow"]), args.runs)))
        print("\none-shot jobs: docker run --rm IMAGE --help until it exits (s)")
        for service, entrypoint in JOBS.items():
            times = [job_seconds(images[service], entrypoint) for _ in range(args.runs)]
            median, worst = statistics.median(times), max(times)
            print(f"  {images[service]:<28}median {median:.2f}  max {worst:.2f}")
    finally:
        server.stop()  # type: ignore[attr-defined]
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
