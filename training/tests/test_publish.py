"""Publishing against a real MLflow server: runs, artifacts, registry, alias and the gate."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from churn_training import publish
from churn_training.bundle import single_bundle_in
from churn_training.contract import read_contract
from churn_training.publish import signature
from churn_training.pyfunc_model import GOLDEN_FILE
from churn_training.settings import TrainSettings

MODEL = "telco-churn"
# A deliberately weak booster: stumps that see a fifth of the features, big leaves.
WORSE_PARAMS = {
    "max_depth": 1,
    "learning_rate": 0.01,
    "colsample_bytree": 0.2,
    "min_child_weight": 400,
}


@pytest.fixture(scope="module")
def client(champion) -> MlflowClient:
    mlflow.set_tracking_uri(champion.uri)
    return MlflowClient(champion.uri)


@pytest.mark.integration
def test_first_model_is_registered_as_champion(champion, client: MlflowClient) -> None:
    assert champion.result["promoted"] is True
    assert champion.result["alias"] == "champion"
    version = client.get_model_version_by_alias(MODEL, "champion")
    assert version.version == champion.result["version"]
    assert version.run_id == champion.result["run_id"]
    assert version.tags["promotion"] == "champion"
    assert "first model" in version.tags["promotion_reason"]


@pytest.mark.integration
def test_run_has_metrics_params_and_dataset(champion, client: MlflowClient) -> None:
    run = client.get_run(champion.result["run_id"])
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "telco-churn"
    metrics = run.data.metrics
    for key in ("roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "brier", "log_loss"):
        assert 0 < metrics[f"holdout_{key}"] < 1
    assert any(k.startswith("slice_Contract_Two year_") for k in metrics)
    assert any(k.startswith("slice_tenure_band_") for k in metrics)
    assert metrics["behaviour_two_year_contract_does_not_raise_risk_violations"] == 0
    assert run.data.params["data_sha256"] == run.data.tags["data_sha256"]
    assert float(run.data.params["threshold"]) > 0
    inputs = run.inputs.dataset_inputs
    assert inputs and inputs[0].dataset.name == "telco-customer-churn"


@pytest.mark.integration
def test_run_artifacts(champion, client: MlflowClient, tmp_path: Path) -> None:
    run_id = champion.result["run_id"]
    names = {a.path for a in client.list_artifacts(run_id)}
    assert {"feature_contract.json", "model_card.md", "report"} <= names
    report = {Path(a.path).name for a in client.list_artifacts(run_id, "report")}
    for plot in (
        "roc_curve.png",
        "precision_recall_curve.png",
        "calibration_curve.png",
        "confusion_matrix.png",
        "feature_importance.png",
        "expected_value_by_threshold.png",
    ):
        assert plot in report
    card = Path(client.download_artifacts(run_id, "model_card.md", str(tmp_path))).read_text()
    assert "Logistic-regression baseline" in card and "Behavioural checks" in card


@pytest.mark.integration
def test_baseline_logged_as_its_own_run(champion, client: MlflowClient) -> None:
    run = client.get_run(champion.result["baseline_run_id"])
    assert run.data.tags["role"] == "baseline"
    assert 0.8 < run.data.metrics["holdout_roc_auc"] < 0.9


@pytest.mark.integration
def test_champion_loads_with_pyfunc_from_the_registry(champion, client: MlflowClient) -> None:
    # `client` points MLflow's process-wide tracking URI at the champion's server.
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    golden = json.loads((single_bundle_in(champion.model_dir) / GOLDEN_FILE).read_text())
    out = model.predict(pd.DataFrame([e["input"] for e in golden["examples"]]))
    expected = [e["probability"] for e in golden["examples"]]
    assert out["churn_probability"].tolist() == pytest.approx(expected, abs=1e-6)


@pytest.mark.integration
def test_worse_model_does_not_take_champion(
    champion, client: MlflowClient, dataset_csv: Path, train_cli
) -> None:
    result = train_cli(
        "--data",
        str(dataset_csv),
        "--tracking-uri",
        champion.uri,
        "--params",
        json.dumps(WORSE_PARAMS),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["promoted"] is False and outcome["alias"] == "challenger"
    assert "worse than the champion" in outcome["reason"] and "ROC-AUC" in outcome["reason"]
    assert (
        client.get_model_version_by_alias(MODEL, "champion").version == champion.result["version"]
    )
    challenger = client.get_model_version_by_alias(MODEL, "challenger")
    assert challenger.version == outcome["version"] != champion.result["version"]
    assert challenger.tags["promotion"] == "challenger"


@pytest.mark.integration
def test_bad_data_publishes_nothing(
    champion, client: MlflowClient, tmp_path: Path, train_cli
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("customerID,gender\n1,Female\n")
    experiment = client.get_experiment_by_name("telco-churn")
    runs_before = len(client.search_runs([experiment.experiment_id]))
    versions_before = len(client.search_model_versions(f"name='{MODEL}'"))
    result = train_cli("--data", str(bad), "--tracking-uri", champion.uri)
    assert result.returncode == 2
    assert "missing columns" in result.stderr and "Traceback" not in result.stderr
    assert len(client.search_runs([experiment.experiment_id])) == runs_before
    assert len(client.search_model_versions(f"name='{MODEL}'")) == versions_before


@pytest.mark.integration
def test_unreachable_tracking_server_fails_fast(dataset_csv: Path, train_cli) -> None:
    result = train_cli("--data", str(dataset_csv), "--tracking-uri", "http://127.0.0.1:9")
    assert result.returncode == 3
    assert "not reachable" in result.stderr and "Traceback" not in result.stderr
    assert "customers" not in result.stderr  # it stopped before even loading the data


def test_signature_makes_every_input_optional() -> None:
    contract = read_contract(Path(__file__).parent / "fixtures" / "feature_contract_v1.json")
    inputs = signature(contract).inputs
    assert inputs.input_names() == ["customerID", *(f.name for f in contract.fields)]
    assert all(not spec.required for spec in inputs.inputs)
    assert signature(contract).outputs.input_names() == ["churn_probability", "churn"]


def test_the_gate_downloads_the_champion_by_version(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Never `@champion`: the alias may have moved since the gate resolved it."""
    asked: list[str] = []

    def download(artifact_uri: str, dst_path: str) -> str:
        asked.append(artifact_uri)
        return str(tmp_path)  # holds no bundle

    monkeypatch.setattr(publish.mlflow.artifacts, "download_artifacts", download)
    judge = publish._judge(None, None, TrainSettings())  # type: ignore[arg-type]
    with pytest.raises(publish.PublishError, match="the champion version 7"):
        judge("7")
    assert asked == ["models:/telco-churn/7"]
