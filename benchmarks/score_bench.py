"""churn-score benchmark: a synthetic base from Parquet to the store, against bare scoring.

Synthesizes 1,000,000 customers (`churn-score synth`) to Parquet, then measures side by side,
each in its own process (peak RSS = the process tree's, sampled every 0.1 s):
- bare: the booster alone in one process: read the Parquet, one-hot encode with pyarrow,
  `inplace_predict` (no validation, calibration, reasons or writes): the floor;
- no write: `churn-score run` in process with the store's upserts replaced by a no-op (the
  cost of churn-score's own stages);
- local: `churn-score run` end to end in process (read, validate, score, reasons for the top
  decile, write to SQLite);
- dask: the same on a local Dask cluster of 2 workers;
- local at 2,000,000 rows: streaming partitions keep the peak memory flat as rows grow;
- with --postgres-url, into PostgreSQL too: in process, on Dask with this process writing,
  and on Dask with each worker writing its partitions (--workers-write).
Rows/s per stage come from the run summary (on Dask the stage seconds are summed over the
workers). Target: end to end >= half the bare throughput.
Run: `uv run python benchmarks/score_bench.py [--rows N] [--model-dir DIR] [--postgres-url URL]`.
Without --model-dir it trains a quick unsigned model (`churn-train --no-publish --trials 1`).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STAGES = ("read", "validate", "score", "reasons", "write")


def train_quick_model(directory: Path) -> Path:
    """A one-trial model of the bench's own, unsigned (it is never served)."""
    model_dir = directory / "model"
    if model_dir.exists():
        return model_dir
    env = {**os.environ, "ALLOW_UNSIGNED_MODELS": "true"}
    for key in ("MODEL_SIGNING_KEY_FILE", "MODEL_SIGNING_KEY", "MODEL_SIGNING_KMS_KEY_ID"):
        env.pop(key, None)
    cmd = [str(BIN / "churn-train"), "--quiet", "--no-publish", "--trials", "1"]
    cmd += ["--model-dir", str(model_dir)]
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return model_dir


def synth(rows: int, out: Path) -> Path:
    if not out.exists():
        cmd = [str(BIN / "churn-score"), "synth", "--rows", str(rows), "--out", str(out)]
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return out


def fresh_database(url: str) -> str:
    """CREATE DATABASE on the server of `url` (SQLAlchemy form); the new database's URL."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"score_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
        autocommit=True,
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(database=name).render_as_string(hide_password=False)


# -- children: one measurement each, printed as JSON -------------------------------------------


def bare(snapshot: Path, model_dir: Path) -> dict[str, Any]:
    """Read + encode + inplace_predict only, 50,000 rows at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    import xgboost as xgb

    from churn_api.bundle import find_bundle
    from churn_api.contract import FeatureContract

    bundle = find_bundle(model_dir)
    contract = FeatureContract.model_validate_json((bundle / "feature_contract.json").read_text())
    booster = xgb.Booster()
    booster.load_model(str(bundle / "booster.ubj"))
    seconds = dict.fromkeys(("read", "encode", "predict"), 0.0)
    rows = 0
    started = time.perf_counter()
    batches = pq.ParquetFile(snapshot).iter_batches(batch_size=50_000)
    while True:
        t0 = time.perf_counter()
        batch = next(batches, None)
        t1 = time.perf_counter()
        seconds["read"] += t1 - t0
        if batch is None:
            break
        X = np.empty((batch.num_rows, len(contract.encoded_features)), dtype=np.float32)
        for i, feature in enumerate(contract.encoded_features):
            column = batch.column(feature.field)
            if feature.category is None:
                X[:, i] = pc.fill_null(column.cast(pa.float64()), np.nan).to_numpy()
            else:
                hit = pc.equal(column, pa.scalar(feature.category))
                X[:, i] = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
        t2 = time.perf_counter()
        booster.inplace_predict(X, validate_features=False)
        seconds["encode"] += t2 - t1
        seconds["predict"] += time.perf_counter() - t2
        rows += batch.num_rows
    return {"rows": rows, "seconds": time.perf_counter() - started, "stage_seconds": seconds}


def churn_score(
    snapshot: Path,
    model_dir: Path,
    url: str,
    scheduler: str | None,
    write: bool = True,
    workers_write: bool = False,
) -> dict[str, Any]:
    from churn_api.scoring import runner
    from churn_api.scoring.runner import RunRequest, score_snapshot

    if not write:  # everything but the store's upserts: what churn-score itself costs
        runner.write_partition = lambda *_args: None  # type: ignore[assignment]

    request = RunRequest(
        customers=str(snapshot),
        model_uri=str(model_dir),
        database_url=url,
        scheduler=scheduler,
        workers_write=workers_write,
    )
    started = time.perf_counter()
    summary = score_snapshot(request)
    summary["seconds"] = time.perf_counter() - started
    summary["rows"] = summary["rows_read"]
    return summary


def child(args: argparse.Namespace) -> None:
    os.environ["ALLOW_UNSIGNED_MODELS"] = "true"
    if args.child == "bare":
        result = bare(args.snapshot, args.model_dir)
    else:
        scheduler = "local:2" if args.child.startswith("dask") else None
        write = args.child != "nowrite"
        workers_write = args.child == "dask-workers-write"
        result = churn_score(
            args.snapshot, args.model_dir, args.url, scheduler, write, workers_write
        )
    print(json.dumps(result, default=str))


# -- parent ----------------------------------------------------------------------------------


def measure(mode: str, snapshot: Path, model_dir: Path, url: str = "") -> dict[str, Any]:
    """Run one child; its JSON result plus the peak RSS of its process tree."""
    import psutil

    cmd = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--snapshot",
        str(snapshot),
        "--model-dir",
        str(model_dir),
        "--url",
        url,
    ]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    parent = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{err.decode()[-3000:]}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["peak_rss_mb"] = peak / 1e6
    return result


def row(label: str, result: dict[str, Any]) -> str:
    rows, seconds = result["rows"], result["seconds"]
    stage = result.get("stage_seconds", {})
    rates = " ".join(
        f"{rows / stage[s] / 1000:>8.0f}k" if stage.get(s) else f"{'-':>9}" for s in STAGES
    )
    return (
        f"{label:<24} {rows:>9,} {seconds:>8.1f} {rows / seconds:>10,.0f} {rates} "
        f"{result['peak_rss_mb']:>8,.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--large-rows", type=int, default=2_000_000, help="0 skips it")
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "score-bench")
    parser.add_argument(
        "--postgres-url", help="also write into PostgreSQL: a fresh database per run on this server"
    )
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    model_dir = args.model_dir or train_quick_model(args.workdir)
    base = synth(args.rows, args.workdir / f"base-{args.rows}.parquet")

    def sqlite(name: str) -> str:
        path = args.workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"

    results = [("bare booster", measure("bare", base, model_dir))]
    results.append(("churn-score, no write", measure("nowrite", base, model_dir, sqlite("none"))))
    if not args.no_sqlite:
        results.append(("churn-score local", measure("local", base, model_dir, sqlite("local"))))
        if not args.no_dask:
            dask = measure("dask", base, model_dir, sqlite("dask"))
            results.append(("churn-score dask x2", dask))
    if args.postgres_url:
        pg = functools.partial(fresh_database, args.postgres_url)
        results.append(("local -> PG", measure("local", base, model_dir, pg())))
        if not args.no_dask:
            results.append(("dask x2 -> PG", measure("dask", base, model_dir, pg())))
            workers = measure("dask-workers-write", base, model_dir, pg())
            results.append(("dask x2 workers write PG", workers))
    if args.large_rows:
        large = synth(args.large_rows, args.workdir / f"base-{args.large_rows}.parquet")
        results.append(
            ("churn-score local 2x rows", measure("local", large, model_dir, sqlite("large")))
        )
    header = " ".join(f"{s:>9}" for s in STAGES)
    print(f"{'':<24} {'rows':>9} {'wall s':>8} {'rows/s':>10} {header} {'peak MB':>8}")
    for label, result in results:
        print(row(label, result))
    floor = results[0][1]["rows"] / results[0][1]["seconds"]
    for label, result in results[1:]:
        share = result["rows"] / result["seconds"] / floor
        print(f"{label}: end to end {share:.0%} of bare scoring (target >= 50%)")


if __name__ == "__main__":
    main()
