"""Watching the model on the process stack (`make run`): live and batch drift, outcomes.

A fresh stack trains a champion and serves it. Then a base is scored (the IBM customers, dated
two days ago) and a drifted base (synthetic customers where 70 % of the one- and two-year
contracts became month-to-month, 55 % -> 86 % of customers, and charges +30 %); the API's live
window sees the same shift through /predict/batch. /metrics must show the live gauges
(churn_feature_psi) and the batch ones (churn_batch_feature_psi) over 0.2 on the shifted fields
only, MLflow's telco-churn-monitoring experiment must hold the runs' drift, and outcomes
ingested today must give the realized metrics of the scores made before them.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import requests
from e2e_helpers import clean_env, wait_until
from test_e2e_stack import RunningStack, kill_leftovers, start_stack
from testkit import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

BIN = Path(sys.executable).parent
IBM = ROOT / ".cache" / "data" / "telco_customer_churn.csv"
SHIFTED = {"Contract", "MonthlyCharges", "TotalCharges"}
# The scores' PSI moves with them; every other field must stay under the watch level.
NOT_SHIFTED_MAX = 0.1


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    state = tmp_path_factory.mktemp("monitoring-stack")
    # The API computes its live drift every second here (60 s by default).
    os.environ["DRIFT_INTERVAL_SECONDS"] = "1"
    try:
        running = start_stack(state, state / "stack.log")
    finally:
        del os.environ["DRIFT_INTERVAL_SECONDS"]
    try:
        wait_until(
            "the stack's first scoring finished",
            lambda: "stack: scorer finished" in running.output(),
            timeout=900,
            alive=running.alive,
        )
        yield running
    finally:
        kill_leftovers(running)


def churn_score(stack: RunningStack, *args: str) -> dict[str, Any]:
    """`churn-score ARGS --json` against the stack's store, MLflow and signing key."""
    env = clean_env(
        DATABASE_URL=f"sqlite:///{stack.state / 'churn-store.db'}",
        MLFLOW_TRACKING_URI=stack.mlflow,
        MODEL_PUBLIC_KEYS_FILE=str(stack.state / "keys" / "signing-key.pub.pem"),
    )
    done = subprocess.run(
        # synth always prints its JSON line; the other commands print it with --json.
        [str(BIN / "churn-score"), *args, *(["--json"] if args[0] != "synth" else [])],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def shift(table: pa.Table, seed: int = 7) -> pa.Table:
    """70 % of the longer contracts turned month-to-month (55 % -> 86 % of customers; merely
    doubling the odds, 71 %, is a PSI of 0.11: watch, not drift), charges raised 30 %."""
    rng = np.random.default_rng(seed)
    contract = table.column("Contract").to_pylist()
    moved = [
        "Month-to-month" if c != "Month-to-month" and rng.random() < 0.7 else c for c in contract
    ]
    table = table.set_column(
        table.schema.get_field_index("Contract"), "Contract", pa.array(moved, pa.string())
    )
    for name in ("MonthlyCharges", "TotalCharges"):
        raised = pc.round(pc.multiply(table.column(name), 1.3), 2)
        table = table.set_column(table.schema.get_field_index(name), name, raised)
    return table


def metrics(api: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in requests.get(f"{api}/metrics", timeout=10).text.splitlines():
        if line.startswith("churn_") and not line.startswith("churn_api_"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def psi_by_field(values: dict[str, float], gauge: str) -> dict[str, float]:
    prefix = f'{gauge}{{field="'
    return {k[len(prefix) : -2]: v for k, v in values.items() if k.startswith(prefix)}


def assert_drift_on_the_shifted_fields(psi: dict[str, float], what: str) -> None:
    assert len(psi) >= 19, f"{what}: {psi}"
    for name in ("Contract", "MonthlyCharges"):
        assert psi[name] > 0.2, f"{what}: {name} {psi}"
    others = {k: v for k, v in psi.items() if k not in SHIFTED}
    assert max(others.values()) < NOT_SHIFTED_MAX, f"{what}: {others}"


def records(path: Path) -> list[dict[str, Any]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_e2e_drift_gauges_monitoring_runs_and_realized_performance(
    stack: RunningStack, tmp_path: Path
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    # A base scored two days ago: the IBM customers.
    base = churn_score(
        stack,
        "run",
        "--customers",
        str(IBM),
        "--drop-columns",
        "Churn",
        "--snapshot-date",
        (today - dt.timedelta(days=2)).isoformat(),
        "--no-progress",
    )
    assert base["drift"]["stored"] is True and base["drift"]["mlflow"]["logged"], base["drift"]
    assert base["drift"]["drifted"] == [], base["drift"]

    # A drifted base today: synthetic customers, shifted with pyarrow.
    synth = tmp_path / "synth.parquet"
    churn_score(stack, "synth", "--rows", "5000", "--out", str(synth), "--seed", "3")
    drifted = tmp_path / "drifted.parquet"
    pq.write_table(shift(pq.read_table(synth)), drifted)
    run = churn_score(stack, "run", "--customers", str(drifted), "--no-progress")
    assert {"Contract", "MonthlyCharges"} <= set(run["drift"]["drifted"]), run["drift"]
    assert run["drift"]["mlflow"]["logged"], run["drift"]

    # The batch gauges (the store's latest run), refreshed every second.
    wait_until(
        "churn_batch_feature_psi of the drifted run on /metrics",
        lambda: (
            psi_by_field(metrics(stack.api), "churn_batch_feature_psi").get("Contract", 0) > 0.2
        ),
        timeout=60,
        alive=stack.alive,
    )
    values = metrics(stack.api)
    assert_drift_on_the_shifted_fields(psi_by_field(values, "churn_batch_feature_psi"), "batch")
    assert values["churn_batch_score_psi"] > 0.0

    # Live: the API's window sees the same shift in what it scores.
    table = shift(pq.read_table(synth, columns=None)).to_pylist()
    for start in range(0, len(table), 1000):
        answer = requests.post(
            f"{stack.api}/predict/batch",
            json={"customers": table[start : start + 1000]},
            timeout=60,
        )
        assert answer.status_code == 200 and answer.json()["failed"] == 0, answer.text[:500]
    wait_until(
        "churn_feature_psi over the window of the drifted rows",
        lambda: (
            metrics(stack.api).get("churn_drift_window_rows") == 5000
            and psi_by_field(metrics(stack.api), "churn_feature_psi").get("Contract", 0) > 0.2
        ),
        timeout=60,
        alive=stack.alive,
    )
    values = metrics(stack.api)
    assert_drift_on_the_shifted_fields(psi_by_field(values, "churn_feature_psi"), "live")
    assert values["churn_score_psi"] > 0.0
    unknown = requests.post(f"{stack.api}/predict", json={"Contract": "Weekly"}, timeout=10)
    assert unknown.status_code == 422
    assert metrics(stack.api)['churn_unseen_category_total{field="Contract"}'] == 1

    # MLflow: the monitoring experiment holds both runs' drift, newest first.
    experiment = requests.get(
        f"{stack.mlflow}/api/2.0/mlflow/experiments/get-by-name",
        params={"experiment_name": "telco-churn-monitoring"},
        timeout=10,
    )
    assert experiment.status_code == 200, experiment.text
    runs = requests.post(
        f"{stack.mlflow}/api/2.0/mlflow/runs/search",
        json={
            "experiment_ids": [experiment.json()["experiment"]["experiment_id"]],
            "order_by": ["attributes.start_time DESC"],
            "max_results": 10,
        },
        timeout=10,
    ).json()["runs"]
    drift_runs = [
        r
        for r in runs
        if {t["key"]: t["value"] for t in r["data"]["tags"]}.get("run_kind") == "drift"
    ]
    assert len(drift_runs) >= 3, runs  # the stack's first scoring, the base, the drifted base
    newest = {m["key"]: m["value"] for m in drift_runs[0]["data"]["metrics"]}
    assert newest["psi.Contract"] > 0.2 and newest["psi.gender"] < NOT_SHIFTED_MAX, newest

    # Outcomes today, for the IBM customers scored two days ago.
    labels = tmp_path / "outcomes.csv"
    with labels.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customerID", "churned", "outcome_date"])
        for row in records(IBM):
            writer.writerow([row["customerID"], row["Churn"].lower(), today.isoformat()])
    outcomes = churn_score(stack, "outcomes", "--labels", str(labels))
    assert outcomes["rows_ingested"] == 7043 and outcomes["rows_rejected"] == 0, outcomes
    assert outcomes["outcomes_evaluated"] == 7043, outcomes
    wait_until(
        "churn_realized_roc_auc on /metrics",
        lambda: any(k.startswith("churn_realized_roc_auc") for k in metrics(stack.api)),
        timeout=60,
        alive=stack.alive,
    )
    values = metrics(stack.api)
    realized = values['churn_realized_roc_auc{model_version="1"}']
    holdout = values['churn_holdout_roc_auc{model_version="1"}']
    # Scores of the very customers the model learned from, partly: at least its holdout's level.
    assert 0.75 < realized <= 1.0 and realized > holdout - 0.05, (realized, holdout)
    performance = requests.get(f"{stack.api}/monitoring/performance", timeout=10)
    assert performance.status_code == 200, performance.text
