"""Log runs, the model and its evidence to MLflow; register it; set the alias promotion chose."""

from __future__ import annotations

import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import requests
import xgboost as xgb
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, DataType, Schema
from mlflow.types.schema import AnyType

from churn_training import champion_alias, promotion, pyfunc_model
from churn_training.bundle import (
    BUNDLE_DIR,
    MODEL_CARD_FILE,
    BundleNotFoundError,
    single_bundle_in,
)
from churn_training.champion_alias import Judge
from churn_training.contract import FeatureContract
from churn_training.data import records
from churn_training.outcome import TrainingOutcome
from churn_training.pyfunc_model import CONTRACT_FILE, Bundle
from churn_training.registry_lock import LockError, whoami
from churn_training.settings import TrainSettings

MODEL_ARTIFACT = "model"
# The pyfunc model finds its bundle under this artifact name (`context.artifacts`).
BUNDLE_ARTIFACT = BUNDLE_DIR


class PublishError(Exception):
    """MLflow could not be reached or refused the model; the message is for a person."""


@dataclass
class PublishResult:
    """What the CLI prints as its last JSON line."""

    run_id: str
    baseline_run_id: str
    model_uri: str
    version: str
    alias: str
    promoted: bool
    reason: str
    previous_champion: str | None = None


def check_tracking_server(uri: str, timeout: float = 10.0) -> None:
    """Fail fast, before any training, when an HTTP tracking server does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        requests.get(uri.rstrip("/") + "/health", timeout=timeout).raise_for_status()
    except requests.RequestException as exc:
        raise PublishError(f"MLflow tracking server {uri} is not reachable: {exc}") from exc


def signature(contract: FeatureContract) -> ModelSignature:
    """Every input optional (defaults fill gaps), as in the API."""
    # Numbers are typed `any`: MLflow refuses int64 for a double column and float64 (what a
    # column with a gap becomes) for a long one; the model casts them itself, as the API does.
    types = {"string": DataType.string, "integer": AnyType(), "number": AnyType()}
    inputs = [ColSpec(DataType.string, contract.id_field, required=False)]
    inputs += [ColSpec(types[f.dtype], f.name, required=False) for f in contract.fields]
    outputs = [ColSpec("double", "churn_probability"), ColSpec("boolean", "churn")]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def _model_kwargs(outcome: TrainingOutcome) -> dict[str, Any]:
    example = pd.DataFrame(records(outcome.holdout.head(3)))
    return {
        "python_model": str(Path(pyfunc_model.__file__)),
        "artifacts": {BUNDLE_ARTIFACT: str(outcome.bundle_dir)},
        "signature": signature(outcome.contract),
        "input_example": example,
        "pip_requirements": [
            f"mlflow=={mlflow.__version__}",
            f"xgboost=={xgb.__version__}",
            f"pandas=={pd.__version__}",
            f"numpy=={np.__version__}",
        ],
    }


def save_local(outcome: TrainingOutcome, path: Path) -> Path:
    """Write the MLflow model directory to disk (air-gapped use, tests) without a server."""
    mlflow.pyfunc.save_model(str(path), **_model_kwargs(outcome))
    return path


def _log_baseline(outcome: TrainingOutcome) -> str:
    with mlflow.start_run(run_name="logistic-regression-baseline") as run:
        mlflow.set_tags({"role": "baseline", "data_sha256": outcome.dataset.sha256})
        mlflow.log_params(outcome.baseline_params)
        mlflow.log_metrics({f"holdout_{k}": v for k, v in outcome.baseline_metrics.items()})
        return run.info.run_id


@dataclass(frozen=True)
class CandidateRun:
    """The candidate's MLflow run and the URI of the model logged in it."""

    run_id: str
    model_uri: str


def _log_candidate(outcome: TrainingOutcome, baseline_run_id: str) -> CandidateRun:
    with mlflow.start_run(run_name="xgboost-candidate") as run:
        mlflow.set_tags(
            {
                "role": "candidate",
                "baseline_run_id": baseline_run_id,
                "data_sha256": outcome.dataset.sha256,
                "data_source": outcome.dataset.source,
                "calibration": outcome.calibration.method,
                "behaviour_checks": "passed" if outcome.behaviour_passed else "failed",
            }
        )
        mlflow.log_params({k: str(v) for k, v in outcome.params.items()})
        threshold = outcome.contract.threshold
        mlflow.log_params(
            {
                "threshold": threshold.value,
                "threshold_f1_optimal": threshold.f1_optimal,
                "offer_cost": threshold.offer_cost,
                "saved_customer_value": threshold.saved_customer_value,
                "offer_success_rate": threshold.offer_success_rate,
                "trials": len(outcome.tune_history),
                "data_sha256": outcome.dataset.sha256,
            }
        )
        mlflow.log_metrics({f"holdout_{k}": v for k, v in outcome.metrics.items()})
        mlflow.log_metrics({f"baseline_{k}": v for k, v in outcome.baseline_metrics.items()})
        mlflow.log_metrics(
            {f"calibration_brier_{k}": v for k, v in outcome.calibration.brier.items()}
        )
        mlflow.log_metrics({f"time_{k}": v for k, v in outcome.timings.items()})
        for row in outcome.slices.itertuples():
            for metric in ("roc_auc", "brier", "recall", "precision", "n"):
                value = getattr(row, metric, None)
                if value is not None and value == value:
                    name = re.sub(r"[^\w\-. :/]", "_", f"slice_{row.slice}_{row.value}_{metric}")
                    mlflow.log_metric(name, float(value))
        for check in outcome.behaviour:
            mlflow.log_metric(f"behaviour_{check.name}_violations", check.violations)
        dataset = mlflow.data.from_pandas(
            outcome.dataset.frame,
            source=outcome.dataset.location,
            targets="Churn",
            name="telco-customer-churn",
            digest=outcome.dataset.sha256[:16],
        )
        mlflow.log_input(dataset, context="training")
        mlflow.log_artifacts(str(outcome.report_dir), artifact_path="report")
        mlflow.log_artifact(str(outcome.bundle_dir / CONTRACT_FILE))
        mlflow.log_artifact(str(outcome.bundle_dir / MODEL_CARD_FILE))
        info = mlflow.pyfunc.log_model(name=MODEL_ARTIFACT, **_model_kwargs(outcome))
        return CandidateRun(run.info.run_id, info.model_uri)


def _champion_at(client: MlflowClient, name: str, version: str, dst: Path) -> promotion.Champion:
    """The champion's bundle, downloaded by the version number the gate resolved (never by
    alias: the alias may move between resolving and downloading)."""
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{name}/{version}", dst_path=str(dst)
    )
    try:
        return promotion.Champion(version, Bundle.load(single_bundle_in(Path(local))))
    except BundleNotFoundError as exc:
        raise PublishError(f"the champion version {version}: {exc}") from exc


def _judge(client: MlflowClient, outcome: TrainingOutcome, settings: TrainSettings) -> Judge:
    def judge(champion_version: str | None) -> promotion.GateDecision:
        if champion_version is None:
            return promotion.decide(outcome, None, settings)
        with tempfile.TemporaryDirectory() as tmp:
            current = _champion_at(client, settings.model_name, champion_version, Path(tmp))
            return promotion.decide(outcome, current, settings)

    return judge


def publish(outcome: TrainingOutcome, settings: TrainSettings) -> PublishResult:
    """Log both runs, register a new version and give it `champion` or `challenger`."""
    if settings.tracking_uri:
        mlflow.set_tracking_uri(settings.tracking_uri)
    try:
        mlflow.set_experiment(settings.experiment_name)
        baseline_run_id = _log_baseline(outcome)
        candidate = _log_candidate(outcome, baseline_run_id)
        version = str(mlflow.register_model(candidate.model_uri, settings.model_name).version)
    except (MlflowException, requests.RequestException, OSError) as exc:
        raise PublishError(f"publishing to MLflow failed: {exc}") from exc

    client = MlflowClient()
    name, run_id = settings.model_name, candidate.run_id
    holder = whoami(f"churn-train run {run_id}")
    try:
        move = champion_alias.promote(
            client, settings, version, _judge(client, outcome, settings), holder
        )
        tags = {
            "run_id": run_id,
            "promotion": "champion" if move.promoted else "challenger",
            "promotion_reason": move.reason,
            "roc_auc": f"{outcome.metrics['roc_auc']:.6f}",
            "threshold": str(outcome.contract.threshold.value),
        }
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
        client.set_tag(run_id, "promotion", tags["promotion"])
        client.set_tag(run_id, "promotion_reason", move.reason)
        client.set_tag(run_id, "model_version", version)
    except (LockError, champion_alias.PromotionError) as exc:
        raise PublishError(f"version {version} is registered but has no alias: {exc}") from exc
    except (MlflowException, requests.RequestException, OSError) as exc:
        raise PublishError(f"promoting version {version} failed: {exc}") from exc
    return PublishResult(
        run_id,
        baseline_run_id,
        candidate.model_uri,
        version,
        move.alias,
        move.promoted,
        move.reason,
        move.previous_champion,
    )


def as_dict(result: PublishResult) -> dict[str, Any]:
    return asdict(result)
