"""Customer store benchmark: lookup by id and the call list through churn-api, 1M customers in
PostgreSQL.

Starts a throw-away PostgreSQL (tests/testkit.start_postgres: fsync off, which only matters
for the write figure), writes N synthetic customers with the store's own bulk upsert
(store.writes.write_partition; attributes drawn per field from the model's contract, scores
drawn at random: this measures the store and the routes, not the model), then one churn-api
worker (uvicorn, pinned to one core, the API's runtime-only virtualenv as in its image) and
wrk on the other core with a Lua script that asks for a random customer per request.
PostgreSQL is not pinned. Prints the write rate, lookups' p50/p99 at concurrency 8 (targets:
p99 < 10 ms) and the call list's first page (target < 50 ms).

    uv run --frozen python benchmarks/lookup_bench.py [--rows 1000000] [--model-dir DIR]

Without --model-dir a model is trained first (churn-train --no-publish --trials 1); with one,
MODEL_PUBLIC_KEYS[_FILE] must verify it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET = "bench-secret-bench-secret-bench-secret"
PARTITION = 50_000
LUA = """
math.randomseed(os.time())
local n = tonumber(os.getenv("ROWS"))
local auth = os.getenv("AUTH")
local fixed = os.getenv("FIXED_PATH")
local ids = {}
local ids_file = os.getenv("IDS_FILE")
if ids_file ~= "" then
  for line in io.lines(ids_file) do ids[#ids + 1] = line end
end
request = function()
  local path = fixed
  if #ids > 0 then
    path = "/customers/" .. ids[math.random(1, #ids)]
  elseif path == "" then
    path = string.format("/customers/BENCH-%09d", math.random(0, n - 1))
  end
  return wrk.format("GET", path, {["Authorization"] = auth})
end
done = function(summary, latency, requests)
  io.write(string.format("NON200 %d\\n", summary.errors.status))
end
"""


def synthetic_rows(contract: dict[str, Any], start: int, n: int, rng: np.random.Generator) -> Any:
    """ScoredRows of n customers: attributes per the contract's fields, random scores."""
    from churn_api import value
    from churn_api.contract import Threshold
    from churn_api.store.writes import ScoredRows

    columns: dict[str, list[Any]] = {}
    tenure = rng.integers(0, 73, n)
    monthly = np.round(rng.uniform(18, 120, n), 2)
    for spec in contract["fields"]:
        name = spec["name"]
        if name == "tenure":
            columns[name] = tenure.tolist()
        elif name == "MonthlyCharges":
            columns[name] = monthly.tolist()
        elif name == "TotalCharges":
            columns[name] = [
                None if t == 0 else round(m * t, 2) for t, m in zip(tenure, monthly, strict=True)
            ]
        elif spec.get("categories"):
            cats = spec["categories"]
            columns[name] = [cats[k] for k in rng.integers(0, len(cats), n)]
        else:
            low, high = spec.get("minimum", 0), min(spec.get("maximum", 100), 1000)
            columns[name] = rng.uniform(low, high, n).round(2).tolist()
    ids = [f"BENCH-{k:09d}" for k in range(start, start + n)]
    names = list(columns)
    attributes = [
        {"customerID": cid, **dict(zip(names, vals, strict=True))}
        for cid, vals in zip(ids, zip(*columns.values(), strict=True), strict=True)
    ]
    p = rng.beta(1.2, 3.0, n)
    values, sources = value.customer_values(None, monthly)
    threshold = Threshold.model_validate(contract["threshold"])
    ev = value.expected_values(p, values, threshold)
    bands = np.array([b["name"] for b in contract["risk_bands"]])
    uppers = np.array([b["upper"] for b in contract["risk_bands"]])
    band = bands[np.minimum(np.searchsorted(uppers, p, side="right"), len(bands) - 1)]
    top = p > np.quantile(p, 0.9)  # reasons stored for the top decile, as churn-score does
    reason = [
        {
            "field": "Contract",
            "value": "Month-to-month",
            "contribution": 0.8,
            "effect": "raises",
            "text": "Contract = Month-to-month raises risk",
        }
    ] * 5
    return (
        ScoredRows(
            customer_id=ids,
            attributes=attributes,
            customer_value=values,
            value_source=sources,
            contract=columns.get("Contract", [None] * n),
            tenure=tenure.astype(float),
            churn_probability=p,
            churn=p >= threshold.value,
            risk_band=band.tolist(),
            expected_value=ev,
            reasons=[reason if t else None for t in top],
        ),
        p,
        ev,
    )


def fill_store(url: str, contract: dict[str, Any], rows: int, ids_file: Path) -> float:
    """Migrate and write `rows` customers; returns rows/s of the writes. The ids whose reasons
    are stored (the top decile) go to `ids_file`, one a line."""
    from churn_api import value
    from churn_api.store import make_engine, migrate
    from churn_api.store.writes import RunRecord, finish_run, start_run, write_partition

    migrate(url)
    engine = make_engine(url, timeout_s=600)
    run = RunRecord("bench://synthetic", date.today(), contract["model_name"], "bench")
    start_run(engine, run)
    rng = np.random.default_rng(7)
    all_p, all_ev, spent = [], [], 0.0
    for start in range(0, rows, PARTITION):
        scored, p, ev = synthetic_rows(contract, start, min(PARTITION, rows - start), rng)
        scored.scored_at = datetime.now(UTC)
        t0 = time.perf_counter()
        write_partition(engine, run, scored)
        spent += time.perf_counter() - t0
        with ids_file.open("a") as handle:
            handle.writelines(
                f"{cid}\n"
                for cid, why in zip(scored.customer_id, scored.reasons, strict=True)
                if why is not None
            )
        all_p.append(p)
        all_ev.append(ev)
        print(f"\r  written {start + len(p):,} / {rows:,}", end="", flush=True)
    print()
    curves = value.base_profit_curves(
        np.concatenate(all_p), np.concatenate(all_ev), contract["threshold"].get("offer_cost", 0)
    )
    counts = {"rows_read": rows, "rows_scored": rows, "rows_rejected": 0}
    finish_run(engine, run.run_id, counts, "succeeded", curves)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "VACUUM ANALYZE customers"
        )
    engine.dispose()
    return rows / spent


def wrk_run(url: str, env: dict[str, str], connections: int, duration: int, core: int) -> dict:
    """wrk pinned to `core`: requests/s, p50 and p99 in ms."""
    import re

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
        env["LUA_FILE"],
        url,
    ]
    full = {**os.environ, **env}
    subprocess.run([*cmd[:6], "-d2s", *cmd[7:]], env=full, capture_output=True, check=True)
    out = subprocess.run(cmd, env=full, capture_output=True, text=True, check=True).stdout
    bad = int(re.search(r"NON200 (\d+)", out).group(1))  # type: ignore[union-attr]
    if bad:
        raise RuntimeError(f"{bad} non-200 answers\n{out}")

    def pct(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        number, unit = float(m.group(1)), m.group(2)
        return number / 1000 if unit == "us" else number * 1000 if unit == "s" else number

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": pct("50"), "p99": pct("99"), "requests": done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--model-dir", type=Path, help="an MLflow model directory (churn-train)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts"), str(ROOT / "benchmarks")]
    from serve_bench import api_only_bin, cpu_seconds, signing_keys, start
    from testkit import free_port, fresh_database, start_postgres

    work = Path(tempfile.mkdtemp(prefix="lookup-bench-"))
    keys = signing_keys(work / "keys")
    model_dir = args.model_dir
    if model_dir is None:
        model_dir = work / "model"
        print("training a model (churn-train --no-publish --trials 1) ...", flush=True)
        subprocess.run(
            [
                str(BIN / "churn-train"),
                "--quiet",
                "--trials",
                "1",
                "--no-publish",
                "--model-dir",
                str(model_dir),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, **keys},
        )
    contract = json.loads(next(model_dir.rglob("feature_contract.json")).read_text())
    cores = sorted(os.sched_getaffinity(0))
    client_core, server_core = cores[0], cores[-1]
    pg = start_postgres()
    api = None
    try:
        url = fresh_database(pg.url, "customers")
        print(
            f"writing {args.rows:,} customers to PostgreSQL (write_partition, "
            f"{PARTITION:,} per partition) ...",
            flush=True,
        )
        t0 = time.perf_counter()
        ids_file = work / "stored-reasons.txt"
        write_rate = fill_store(url, contract, args.rows, ids_file)
        print(
            f"  {write_rate:,.0f} rows/s in the upserts ({time.perf_counter() - t0:.0f} s "
            "with generation and VACUUM ANALYZE)"
        )
        port = free_port()
        env = {
            "MODEL_URI": str(model_dir),
            "JWT_PREDICT_SECRET": SECRET,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "MODEL_CACHE_DIR": str(work / "cache"),
            "DATABASE_URL": url,
        }
        if args.model_dir is None:  # else MODEL_PUBLIC_KEYS[_FILE] come from the environment
            env["MODEL_PUBLIC_KEYS_FILE"] = keys["MODEL_PUBLIC_KEYS_FILE"]
        api, cold = start(
            "churn-api",
            [str(api_only_bin() / "churn-api")],
            env,
            f"http://127.0.0.1:{port}/health/ready",
            work / "api.log",
            server_core,
        )
        token = subprocess.run(
            [
                str(BIN / "churn-api"),
                "token",
                "--scope",
                "customers",
                "--issuer",
                "churn-ui",
                "--ttl",
                "3600",
            ],
            env={**os.environ, "JWT_PREDICT_SECRET": SECRET},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        lua = work / "lookup.lua"
        lua.write_text(LUA)
        base = {
            "LUA_FILE": str(lua),
            "ROWS": str(args.rows),
            "AUTH": f"Bearer {token}",
            "IDS_FILE": "",
            "FIXED_PATH": "",
        }
        base_url = f"http://127.0.0.1:{port}"
        print(
            f"churn-api ready in {cold:.1f} s; wrk on core {client_core}, API on core "
            f"{server_core}, PostgreSQL unpinned, {args.duration} s per run"
        )
        results = []
        stored = {"IDS_FILE": str(ids_file)}
        first_page = {"FIXED_PATH": "/customers?limit=50"}
        for name, extra, conns in (
            ("lookup, reasons stored (top decile)", stored, 8),
            ("lookup, reasons stored (top decile)", stored, 1),
            ("lookup, any id (90 % live reasons)", {}, 8),
            ("lookup, any id (90 % live reasons)", {}, 1),
            ("call list, first page (limit=50)", first_page, 8),
            ("call list, first page (limit=50)", first_page, 1),
            ("call list, band=high, page 3", {"FIXED_PATH": "/customers?band=high&offset=100"}, 8),
            ("call list, budget_calls=1000", {"FIXED_PATH": "/customers?budget_calls=1000"}, 8),
        ):
            cpu0 = cpu_seconds(api.pid)
            r = wrk_run(base_url + "/", {**base, **extra}, conns, args.duration, client_core)
            cpu_ms = (cpu_seconds(api.pid) - cpu0) * 1000 / max(r["requests"], 1)
            results.append((name, conns, r))
            print(
                f"  {name:36s} c={conns}: {r['rps']:6.0f} req/s  p50 {r['p50']:6.2f} ms  "
                f"p99 {r['p99']:6.2f} ms  API CPU {cpu_ms:.2f} ms/req",
                flush=True,
            )
        lookup = results[0][2]["p99"]
        first = results[4][2]["p99"]
        print(f"machine load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
        print(
            f"targets: lookup p99 {lookup:.2f} ms (< 10 ms: "
            f"{'met' if lookup < 10 else 'NOT met'}); call list first page p99 {first:.2f} ms "
            f"(< 50 ms: {'met' if first < 50 else 'NOT met'})"
        )
    finally:
        if api is not None:
            import signal

            os.killpg(api.pid, signal.SIGTERM)
            api.wait(timeout=30)
        pg.stop()


if __name__ == "__main__":
    main()
