"""The logged model is servable by `mlflow models serve` and returns the golden probabilities."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import requests
from testkit import free_port, start_process, stop_process, wait_http

pytestmark = pytest.mark.integration


def test_mlflow_models_serve_reproduces_golden_examples(trained_model_dir: Path, tmp_path: Path):
    golden = json.loads(next(trained_model_dir.rglob("golden_examples.json")).read_text())
    port = free_port()
    mlflow_bin = str(Path(sys.executable).parent / "mlflow")
    cmd = [mlflow_bin, "models", "serve", "-m", str(trained_model_dir), "--env-manager", "local"]
    server = start_process([*cmd, "-h", "127.0.0.1", "-p", str(port)], tmp_path / "serve.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", server, timeout=120)
        records = [e["input"] for e in golden["examples"]]
        response = requests.post(
            f"http://127.0.0.1:{port}/invocations",
            json={"dataframe_records": records},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        predictions = response.json()["predictions"]
        assert [p["churn_probability"] for p in predictions] == pytest.approx(
            [e["probability"] for e in golden["examples"]], abs=1e-6
        )
    finally:
        stop_process(server)
