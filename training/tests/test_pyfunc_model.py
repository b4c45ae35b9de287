"""The pyfunc model: calibration and scoring code, and the logged model loaded and served."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from testkit import free_port, start_process, stop_process, wait_http

from churn_training.bundle import single_bundle_in
from churn_training.pyfunc_model import GOLDEN_FILE, Bundle, apply_calibration


def test_apply_calibration() -> None:
    raw = np.array([0.0, 0.25, 0.5, 1.0])
    isotonic = {"method": "isotonic", "x": [0.0, 0.5, 1.0], "y": [0.1, 0.3, 0.9]}
    np.testing.assert_allclose(apply_calibration(isotonic, raw), [0.1, 0.2, 0.3, 0.9])
    identity = {"method": "sigmoid", "a": 1.0, "b": 0.0}
    np.testing.assert_allclose(apply_calibration(identity, raw[1:3]), raw[1:3])
    assert apply_calibration({"method": "none"}, raw) is raw
    with pytest.raises(ValueError, match="unknown calibration method 'beta'"):
        apply_calibration({"method": "beta"}, raw)


@pytest.fixture(scope="module")
def bundle(trained_model_dir: Path) -> Bundle:
    return Bundle.load(single_bundle_in(trained_model_dir))


@pytest.mark.integration
def test_golden_examples_reproduce_in_bundle_and_pyfunc(trained_model_dir: Path, bundle: Bundle):
    golden = json.loads((single_bundle_in(trained_model_dir) / "golden_examples.json").read_text())
    inputs = [e["input"] for e in golden["examples"]]
    expected = np.array([e["probability"] for e in golden["examples"]])
    assert len(inputs) >= 20 and any(len(i) < 5 for i in inputs)
    np.testing.assert_allclose(bundle.probability(inputs), expected, atol=golden["tolerance"])
    pyfunc = mlflow.pyfunc.load_model(str(trained_model_dir))
    out = pyfunc.predict(pd.DataFrame(inputs))
    np.testing.assert_allclose(out["churn_probability"].to_numpy(), expected, atol=1e-6)
    threshold = bundle.contract["threshold"]["value"]
    assert (out["churn"].to_numpy() == (expected >= threshold)).all()


@pytest.mark.integration
def test_mlflow_models_serve_reproduces_golden_examples(trained_model_dir: Path, tmp_path: Path):
    golden = json.loads((single_bundle_in(trained_model_dir) / GOLDEN_FILE).read_text())
    port = free_port()
    mlflow_bin = str(Path(sys.executable).parent / "mlflow")
    cmd = [mlflow_bin, "models", "serve", "-m", str(trained_model_dir), "--env-manager", "local"]
    # `mlflow models serve` starts uvicorn by name: the virtualenv's bin/ must be on PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    server = start_process(
        [*cmd, "-h", "127.0.0.1", "-p", str(port)], tmp_path / "serve.log", {"PATH": path}
    )
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
