"""`make train` on a real MLflow server that the Makefile starts: the result is in the registry."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from testkit import ROOT, free_port, start_mlflow

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_make_train_publishes_a_champion(tmp_path: Path, dataset_csv: Path) -> None:
    state = tmp_path / "stack"
    # As from a developer's shell: not inside the test run's virtualenv.
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    skip = {"MLFLOW_TRACKING_URI", "VIRTUAL_ENV", "PATH"}
    env = {
        **{k: v for k, v in os.environ.items() if k not in skip},
        "PATH": path,
        "CHURN_STACK_DIR": str(state),
        "CHURN_TRIALS": "3",
        "DATA_SOURCE": str(dataset_csv),
    }
    result = subprocess.run(
        ["make", "train", f"MLFLOW_PORT={free_port()}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "stack: stopping mlflow" in result.stdout

    # The server `make train` started is gone; a new one on the same state sees everything.
    server = start_mlflow(state)
    try:
        client = MlflowClient(server.uri)
        version = client.get_model_version_by_alias("telco-churn", "champion")
        run = client.get_run(version.run_id)
        assert client.get_experiment(run.info.experiment_id).name == "telco-churn"
        assert run.data.metrics["holdout_roc_auc"] > 0.8
        assert run.data.tags["role"] == "candidate"
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"feature_contract.json", "model_card.md", "report"} <= artifacts
        assert version.tags["promotion"] == "champion"
    finally:
        server.stop()
