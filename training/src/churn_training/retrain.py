"""`churn-train --monitoring-run-id RUN`: record the promotion gate's answer on the monitoring run.

A drift or performance alert starts a retraining (docs/monitoring.md); the retrained model goes
through the same promotion gate as any other, and the gate's decision and reason are written
as tags on the monitoring run that asked for it, so the run shows what the alert led to.
"""

from __future__ import annotations

import requests
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churn_training.publish import PublishResult

DECISION_TAG = "retrain.decision"  # promoted | not_promoted | failed
REASON_TAG = "retrain.reason"
VERSION_TAG = "retrain.model_version"
ALIAS_TAG = "retrain.alias"
TRAINING_RUN_TAG = "retrain.training_run_id"
# Written on the candidate run: the monitoring run that asked for this training.
MONITORING_RUN_TAG = "monitoring_run_id"
MAX_TAG_CHARS = 5000  # below MLflow's limit on a tag value


class RetrainError(Exception):
    """The monitoring run cannot be read or written; the message is for a person."""


class UnknownRunError(RetrainError):
    """No run has the monitoring run id that was given."""


def _client(tracking_uri: str | None) -> MlflowClient:
    return MlflowClient(tracking_uri or None)


MONITORING_EXPERIMENT = "telco-churn-monitoring"
LATEST = "latest"


def resolve_monitoring_run(tracking_uri: str | None, run_id: str) -> str:
    """`latest` -> the newest run of the monitoring experiment; any other id as given.

    An alarm (CloudWatch, Alertmanager) carries no MLflow run id, but the run that raised it is
    the newest one: churn-score logs a monitoring run for every scoring and outcomes ingest.
    """
    if run_id != LATEST:
        return run_id
    client = _client(tracking_uri)
    try:
        experiment = client.get_experiment_by_name(MONITORING_EXPERIMENT)
        runs = (
            client.search_runs(
                [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
            )
            if experiment is not None
            else []
        )
    except (MlflowException, requests.RequestException) as exc:
        raise RetrainError(f"cannot read the experiment {MONITORING_EXPERIMENT!r}: {exc}") from exc
    if not runs:
        raise UnknownRunError(f"--monitoring-run-id latest: {MONITORING_EXPERIMENT!r} has no run")
    return str(runs[0].info.run_id)


def check_monitoring_run(tracking_uri: str | None, run_id: str) -> str:
    """The monitoring run's experiment name; RetrainError when the run does not exist.

    Checked before training, so a mistyped run id costs nothing.
    """
    client = _client(tracking_uri)
    try:
        run = client.get_run(run_id)
        experiment = client.get_experiment(run.info.experiment_id)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise UnknownRunError(f"monitoring run {run_id!r} does not exist") from None
        raise RetrainError(f"cannot read monitoring run {run_id!r}: {exc}") from exc
    except requests.RequestException as exc:
        raise RetrainError(f"cannot read monitoring run {run_id!r}: {exc}") from exc
    return experiment.name if experiment is not None else run.info.experiment_id


def _set_tags(tracking_uri: str | None, run_id: str, tags: dict[str, str]) -> dict[str, str]:
    client = _client(tracking_uri)
    tags = {key: value[:MAX_TAG_CHARS] for key, value in tags.items()}
    try:
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
    except (MlflowException, requests.RequestException, OSError) as exc:
        raise RetrainError(f"cannot tag monitoring run {run_id!r}: {exc}") from exc
    return tags


def decision_tags(result: PublishResult) -> dict[str, str]:
    """The gate's decision as the monitoring run's tags."""
    return {
        DECISION_TAG: "promoted" if result.promoted else "not_promoted",
        REASON_TAG: result.reason,
        VERSION_TAG: result.version,
        ALIAS_TAG: result.alias,
        TRAINING_RUN_TAG: result.run_id,
    }


def record_decision(
    tracking_uri: str | None, monitoring_run_id: str, result: PublishResult
) -> dict[str, str]:
    """Tag the monitoring run with the gate's decision, and the candidate run with the link."""
    tags = _set_tags(tracking_uri, monitoring_run_id, decision_tags(result))
    _set_tags(tracking_uri, result.run_id, {MONITORING_RUN_TAG: monitoring_run_id})
    return tags


def record_failure(tracking_uri: str | None, monitoring_run_id: str, reason: str) -> dict[str, str]:
    """Tag the monitoring run: the retraining failed before the gate could decide, and why."""
    return _set_tags(tracking_uri, monitoring_run_id, {DECISION_TAG: "failed", REASON_TAG: reason})
