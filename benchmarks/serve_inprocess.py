"""In-process serving figures, steady whatever the machine's load: where a 10,000-row batch's time
goes, stage by stage, and the CPU one request costs through the whole ASGI app (auth, metrics
and logs on) beside the validate-only floor's.

serve_bench.py prints these after its wrk runs; alone (no servers, no wrk):

    uv run --frozen python benchmarks/serve_inprocess.py --model-dir DIR

A --model-dir from churn-train comes with MODEL_PUBLIC_KEYS_FILE (the key pair's public half).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-bench-secret-bench-secret"


def batch_records(records: list[dict[str, Any]], n: int = 10_000) -> bytes:
    """A batch body of `n` dataset rows."""
    return json.dumps({"customers": (records * (n // len(records) + 1))[:n]}).encode()


def load(model_dir: Path, threads: int) -> Any:
    """The model as the service loads it, its batch booster on `threads` threads."""
    from churn_api.bundle import ModelMeta
    from churn_api.scorer import load_model

    meta = ModelMeta("telco-churn", "bench", None, None, "local", "")
    return load_model(model_dir, meta, batch_threads=threads)


def batch_stages(model: Any, body: bytes, rounds: int = 12) -> dict[str, float]:
    """Median ms of each stage of POST /predict/batch's work on `body`, run one after the other
    as LoadedModel.answer_batch and the route run them (the result must be the same bytes)."""
    from churn_api.live_drift import LiveDrift, LiveWindow
    from churn_api.logs import RequestLog
    from churn_api.metrics import Metrics
    from churn_api.responses import batch_body
    from churn_api.scorer import gc_paused

    metrics = Metrics()
    live = LiveDrift(LiveWindow(10_000), metrics, 60.0)
    log = RequestLog("churn_api.request")
    times: dict[str, list[float]] = {}
    expected = model.answer_batch(body).json
    for _ in range(rounds + 2):
        clock = _Clock(times)
        with gc_paused():
            model.batches._check_structure(body)
            clock("guard: byte counts")
            structs = model.customers.batch_decoder.decode(body).customers
            clock("JSON decode + validation (msgspec)")
            batch = model.batches.parse_structs(structs)
            clock("columns + column checks")
            X, imputed = model.encoder.encode_columns(batch.columns, batch.checked)
            clock("encode (one-hot)")
            raw = model.batch_booster.inplace_predict(X, validate_features=False)
            clock("predict (xgboost)")
            probs = model.calibrate(raw)
            bands = model.band_index(probs)
            clock("calibration + bands")
            n = len(batch.ids)
            rows = model.predictions.batch_rows(
                model.ref_json, range(n), batch.ids, probs.tolist(), bands.tolist(), imputed,
                [None] * n,
            )  # fmt: skip
            clock("response rows")
            out = orjson.dumps(batch_body(model.ref_json, n, rows, batch.errors))
            clock("serialisation (orjson)")
            del structs, batch, rows
        clock("objects freed, GC resumed")
        answer = model.answer_batch(body)  # what live drift records (timed alone below)
        clock.restart()
        metrics.scored(model.band_names, answer.bands, answer.probabilities)
        metrics.batch_rows.labels("ok").inc(answer.succeeded)
        clock("metrics")
        live.record_batch(model, answer)
        clock("live drift window")
        stdout, sys.stdout = sys.stdout, io.StringIO()
        try:
            log.emit({"event": "request", "route": "/predict/batch", "status": 200})
        finally:
            sys.stdout = stdout
        clock("request log line")
        assert out == expected, "the stages no longer build what answer_batch does"
    whole = []
    for _ in range(rounds + 2):
        t0 = time.perf_counter()
        model.answer_batch(body)
        whole.append((time.perf_counter() - t0) * 1000)
    medians = {k: statistics.median(v[2:]) for k, v in times.items()}
    medians["answer_batch (body bytes -> response bytes)"] = statistics.median(whole[2:])
    medians["best answer_batch"] = min(whole)
    return medians


class _Clock:
    """Adds the time since the previous call to times[stage]."""

    def __init__(self, times: dict[str, list[float]]) -> None:
        self.times = times
        self.restart()

    def restart(self) -> None:
        self.t = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.times.setdefault(stage, []).append((now - self.t) * 1000)
        self.t = now


def api_app(model_dir: Path, public_keys_file: str | None, cache_dir: Path) -> Any:
    """churn-api's app as deployed (auth on, metrics, the JSON request log), not started."""
    from churn_api.logs import configure_logging
    from churn_api.main import create_app
    from churn_api.settings import Settings

    configure_logging("INFO")
    settings = Settings(
        model_uri=str(model_dir),
        jwt_predict_secret=SECRET,
        model_public_keys_file=public_keys_file,
        model_cache_dir=cache_dir,
        model_refresh_seconds=0,
    )
    return create_app(settings)


def asgi_cpu_us(
    app: Any, path: str, body: bytes, headers: list[tuple[bytes, bytes]], requests: int
) -> tuple[float, float]:
    """(median, best) CPU µs per POST `path` through the app's ASGI interface, lifespan run,
    over 7 rounds of `requests`; every answer must be a 200."""

    async def one() -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)  # the client never disconnects
            return {"type": "http.disconnect"}

        status: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        await app(scope, receive, send)
        assert status == [200], status

    async def run() -> list[float]:
        async with app.router.lifespan_context(app):
            store = getattr(app.state, "store", None)
            deadline = time.monotonic() + 120
            while store is not None and store.current is None:
                assert time.monotonic() < deadline, store.public_detail
                await asyncio.sleep(0.05)
            for _ in range(max(requests // 5, 2)):
                await one()
            rounds = []
            for _ in range(7):
                c0 = time.process_time()
                for _ in range(requests):
                    await one()
                rounds.append((time.process_time() - c0) * 1e6 / requests)
            return rounds

    stdout, sys.stdout = sys.stdout, open(os.devnull, "w")  # noqa: SIM115 (the request log)
    try:
        rounds = asyncio.run(run())
    finally:
        sys.stdout.close()
        sys.stdout = stdout
    return statistics.median(rounds), min(rounds)


def print_batch_stages(model_dir: Path, records: list[dict[str, Any]], threads: list[int]) -> None:
    """The per-stage table of a 10,000-row batch, one column per xgboost thread count."""
    body = batch_records(records)
    columns = {t: batch_stages(load(model_dir, t), body) for t in threads}
    print(f"\n10,000-row batch in process, median ms per stage ({len(body) / 1e6:.1f} MB body)")
    print(f"  {'stage':<46}" + "".join(f"{f'{t} thread(s)':>13}" for t in threads))
    for stage in columns[threads[0]]:
        print(f"  {stage:<46}" + "".join(f"{columns[t][stage]:>13.2f}" for t in threads))


def print_asgi_cpu(
    model_dir: Path, records: list[dict[str, Any]], floor: Callable[[], Any], work: Path
) -> None:
    """CPU per request through the ASGI app, churn-api beside the floor, no HTTP server."""
    from churn_api.security import mint_token

    token = mint_token(SECRET, ["predict"], 3600, "bench", issuer="churn-ui")
    keys = os.environ.get("MODEL_PUBLIC_KEYS_FILE")
    auth = [(b"content-type", b"application/json"), (b"authorization", f"Bearer {token}".encode())]
    one = json.dumps(records[0]).encode()
    api = asgi_cpu_us(api_app(model_dir, keys, work / "cache-1"), "/predict", one, auth, 3000)
    base = asgi_cpu_us(floor(), "/predict", one, auth[:1], 3000)
    batch = asgi_cpu_us(
        api_app(model_dir, keys, work / "cache-2"), "/predict/batch", batch_records(records),
        auth, 10,
    )  # fmt: skip
    print("\nCPU per request through the ASGI app in process (no HTTP server), median (best)")
    print(f"  churn-api /predict        {api[0]:8.1f} µs ({api[1]:.1f})  auth, metrics, log line")
    print(f"  floor /predict            {base[0]:8.1f} µs ({base[1]:.1f})")
    print(f"  churn-api / floor         {api[0] / base[0]:8.2f} x")
    print(
        f"  churn-api /predict/batch  {batch[0] / 1000:8.1f} ms ({batch[1] / 1000:.1f}) 10,000 rows"
    )


def main() -> None:
    """The in-process figures alone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=ROOT / ".cache/data/telco_customer_churn.csv")
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts"), str(Path(__file__).parent)]
    import tempfile

    from serve_bench import floor_app
    from testkit import dataset_records

    records = dataset_records(args.data)
    print_batch_stages(args.model_dir, records, sorted({1, len(os.sched_getaffinity(0))}))
    with tempfile.TemporaryDirectory(prefix="serve-inprocess-") as work:
        print_asgi_cpu(args.model_dir, records, lambda: floor_app(str(args.model_dir)), Path(work))


if __name__ == "__main__":
    main()
