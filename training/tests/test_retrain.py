"""`churn-train --monitoring-run-id RUN`: the promotion gate's decision and reason end up as tags
on the monitoring run; a failed retraining says so there too; a bad run id costs no training."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from testkit import TEST_TRIALS, last_json_line, start_mlflow

from churn_training import cli, retrain
from churn_training.publish import PublishResult

MONITORING = "telco-churn-monitoring"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A local SQLite tracking store (no server) with the monitoring experiment."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('retrain') / 'mlflow.db'}"
    MlflowClient(uri).create_experiment(MONITORING)
    return uri


def _run(uri: str, experiment: str = MONITORING) -> str:
    client = MlflowClient(uri)
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    return client.create_run(experiment_id, tags={"run_kind": "drift"}).info.run_id


def _tags(uri: str, run_id: str) -> dict[str, str]:
    return MlflowClient(uri).get_run(run_id).data.tags


def _result(candidate_run: str, promoted: bool) -> PublishResult:
    return PublishResult(
        run_id=candidate_run,
        baseline_run_id="b",
        model_uri="models:/m-1",
        version="7",
        alias="champion" if promoted else "challenger",
        promoted=promoted,
        reason="worse than the champion on the same holdout: ROC-AUC 0.80 < champion 0.85"
        if not promoted
        else "not worse than the champion",
    )


@pytest.mark.parametrize("promoted", [True, False])
def test_the_gate_decision_is_tagged_on_the_monitoring_run(store: str, promoted: bool) -> None:
    monitoring, candidate = _run(store), _run(store, "Default")
    written = retrain.record_decision(store, monitoring, _result(candidate, promoted))
    tags = _tags(store, monitoring)
    expected = {
        "retrain.decision": "promoted" if promoted else "not_promoted",
        "retrain.reason": _result(candidate, promoted).reason,
        "retrain.model_version": "7",
        "retrain.alias": "champion" if promoted else "challenger",
        "retrain.training_run_id": candidate,
    }
    assert written == expected
    assert {k: v for k, v in tags.items() if k.startswith("retrain.")} == expected
    assert tags["run_kind"] == "drift"  # the run's own tags stay
    assert _tags(store, candidate)["monitoring_run_id"] == monitoring


def test_a_failure_is_tagged_and_a_long_reason_is_cut(store: str) -> None:
    monitoring = _run(store)
    retrain.record_failure(store, monitoring, "data error: " + "x" * 9000)
    tags = _tags(store, monitoring)
    assert tags["retrain.decision"] == "failed"
    assert tags["retrain.reason"].startswith("data error: x")
    assert len(tags["retrain.reason"]) == retrain.MAX_TAG_CHARS
    assert "retrain.model_version" not in tags


def test_the_monitoring_run_is_checked_before_anything(store: str) -> None:
    assert retrain.check_monitoring_run(store, _run(store)) == MONITORING
    with pytest.raises(retrain.UnknownRunError, match="'0123456789abcdef' does not exist"):
        retrain.check_monitoring_run(store, "0123456789abcdef")
    with pytest.raises(retrain.RetrainError, match="cannot tag monitoring run"):
        retrain.record_failure(store, "0123456789abcdef", "x")


def test_latest_is_the_newest_monitoring_run(tmp_path: Path) -> None:
    """What an alarm starts: it carries no run id, the newest monitoring run raised it."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(uri).create_experiment(MONITORING)
    with pytest.raises(retrain.UnknownRunError, match="has no run"):
        retrain.resolve_monitoring_run(uri, "latest")
    _run(uri)
    time.sleep(0.01)  # start times are milliseconds
    newest = _run(uri)
    assert retrain.resolve_monitoring_run(uri, "latest") == newest
    assert retrain.resolve_monitoring_run(uri, "0123456789abcdef") == "0123456789abcdef"


def test_cli_refuses_a_monitoring_run_without_publishing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--no-publish", "--model-dir", str(tmp_path / "m"), "--monitoring-run-id", "abc"]
    assert cli.main(args) == cli.EXIT_USAGE
    assert "--monitoring-run-id needs publishing" in capsys.readouterr().err


def test_cli_unknown_monitoring_run_fails_before_the_data_is_read(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "missing.csv")
    args = ["--tracking-uri", store, "--data", missing, "--monitoring-run-id", "0123456789abcdef"]
    assert cli.main(args) == cli.EXIT_USAGE
    err = " ".join(capsys.readouterr().err.split())  # rich wraps lines
    assert "monitoring run '0123456789abcdef' does not exist" in err
    assert "data error" not in err


def test_cli_data_error_is_tagged_on_the_monitoring_run(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monitoring = _run(store)
    missing = str(tmp_path / "missing.csv")
    args = ["--tracking-uri", store, "--data", missing, "--monitoring-run-id", monitoring]
    assert cli.main(args) == cli.EXIT_DATA
    assert "data error" in " ".join(capsys.readouterr().err.split())
    tags = _tags(store, monitoring)
    assert tags["retrain.decision"] == "failed"
    assert tags["retrain.reason"] == f"data error: data file {missing} does not exist"


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tracking server of its own: this test registers versions the session's must not see."""
    server = start_mlflow(tmp_path_factory.mktemp("retrain-server"))
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.mark.integration
def test_a_retraining_goes_through_the_gate_and_tags_its_monitoring_run(
    fresh_server: str, dataset_csv: Path, train_cli
) -> None:
    """Two retrainings on the same data: the first model is promoted (no champion yet); the
    second goes through the same gate against it, and each decision lands on its own run."""
    client = MlflowClient(fresh_server)
    experiment_id = client.create_experiment(MONITORING)
    for _ in range(2):
        monitoring = client.create_run(experiment_id, tags={"run_kind": "drift"}).info.run_id
        result = train_cli(
            "--data", str(dataset_csv), "--trials", TEST_TRIALS, "--tracking-uri", fresh_server,
            "--monitoring-run-id", monitoring,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        published = last_json_line(result.stdout)
        tags = client.get_run(monitoring).data.tags
        assert tags["retrain.decision"] == ("promoted" if published["promoted"] else "not_promoted")
        assert tags["retrain.reason"] == published["reason"]
        assert tags["retrain.model_version"] == published["version"]
        assert tags["retrain.training_run_id"] == published["run_id"]
        version = client.get_model_version("telco-churn", published["version"])
        assert version.tags["promotion_reason"] == published["reason"]  # the gate's own record
        assert client.get_run(published["run_id"]).data.tags["monitoring_run_id"] == monitoring
    assert json.loads(json.dumps(tags))  # plain strings, as the UI reads them
