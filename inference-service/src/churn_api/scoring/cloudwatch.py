"""CloudWatch custom metrics of a scoring run and of ingested outcomes (docs/monitoring.md).

When CLOUDWATCH_NAMESPACE is set (terraform/scoring.tf sets TelcoChurn/Monitoring), churn-score
publishes what the CloudWatch alarms of terraform/monitoring_alarms.tf watch: the same meanings
as the Prometheus rules (docker/monitoring/alerts.yml). boto3 is imported only here, only then:
the API never needs it. Publishing never fails a run: the result says what happened.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from churn_api.drift import DriftReport

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from churn_api.scorer import LoadedModel

NAMESPACE_ENV = "CLOUDWATCH_NAMESPACE"
BATCH = 1000  # metric data per PutMetricData call (the API's limit)
MAX_DIMENSION_CHARS = 255


@dataclass(frozen=True)
class Published:
    """What a publish call did: how many data points, or why none."""

    namespace: str | None
    count: int = 0
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "published": self.count, "error": self.error}


def _point(
    name: str, value: float | None, at: dt.datetime, unit: str = "None", **dimensions: str
) -> list[dict[str, Any]]:
    """One MetricDatum, or none for a value that is missing or not finite."""
    if value is None or not math.isfinite(value):
        return []
    datum: dict[str, Any] = {"MetricName": name, "Value": float(value), "Timestamp": at}
    datum["Unit"] = unit
    if dimensions:
        datum["Dimensions"] = [
            {"Name": k, "Value": str(v)[:MAX_DIMENSION_CHARS]} for k, v in dimensions.items()
        ]
    return [datum]


def run_metrics(
    report: DriftReport | None,
    model_version: str,
    trained_at: str | None,
    holdout_roc_auc: float | None,
    realized: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """A scoring run's data points: drift (the alarms read MaxFeaturePSI and ScorePSI), the
    served model's age and holdout ROC-AUC, and its latest realized ROC-AUC (one timestamp, so
    the RealizedPerformanceDrop alarm compares the two in one period).

    `realized`: the store's performance row of this model version over every month, if any.
    """
    at = now or dt.datetime.now(dt.UTC)
    data: list[dict[str, Any]] = []
    if report is not None:
        psis = [r.psi for r in report.rows if r.psi is not None]
        data += _point("MaxFeaturePSI", max(psis) if psis else None, at)
        data += _point("ScorePSI", report.score_psi, at)
        data += _point("DriftRows", float(report.n), at, "Count")
        for row in report.rows:
            data += _point("FeaturePSI", row.psi, at, Field=row.field)
    if trained_at:
        try:
            trained = dt.datetime.fromisoformat(trained_at)
        except ValueError:
            trained = None
        if trained is not None and trained.tzinfo is not None:
            data += _point("ModelAgeDays", (at - trained).total_seconds() / 86400, at)
    data += _point("HoldoutROCAUC", holdout_roc_auc, at)
    if realized is not None and holdout_roc_auc is not None:
        data += _point("RealizedROCAUC", realized.get("roc_auc"), at)
    data += _point("HoldoutROCAUC", holdout_roc_auc, at, ModelVersion=model_version)
    return data


def outcome_metrics(
    performance: Sequence[Mapping[str, Any]], now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Realized metrics per model version over every month (month 'all'), for dashboards."""
    at = now or dt.datetime.now(dt.UTC)
    data: list[dict[str, Any]] = []
    for row in performance:
        if row.get("month") != "all":
            continue
        version = str(row.get("model_version"))
        for key, name in (
            ("roc_auc", "RealizedROCAUC"),
            ("pr_auc", "RealizedPRAUC"),
            ("brier", "RealizedBrier"),
            ("top_decile_precision", "RealizedTopDecilePrecision"),
        ):
            data += _point(name, row.get(key), at, ModelVersion=version)
    return data


def publish(
    data: Sequence[Mapping[str, Any]], namespace: str | None = None, client: Any = None
) -> Published:
    """PutMetricData in batches into `namespace` (default: $CLOUDWATCH_NAMESPACE; unset: off)."""
    namespace = namespace or os.environ.get(NAMESPACE_ENV) or None
    if namespace is None:
        return Published(None, error=f"{NAMESPACE_ENV} is not set")
    if not data:
        return Published(namespace)
    if client is None:
        try:
            import boto3  # only where it is installed (the scorer image)
        except ImportError:
            return Published(namespace, error="boto3 is not installed: nothing published")
        client = boto3.client("cloudwatch")
    done = 0
    try:
        for start in range(0, len(data), BATCH):
            chunk = list(data[start : start + BATCH])
            client.put_metric_data(Namespace=namespace, MetricData=chunk)
            done += len(chunk)
    except Exception as exc:  # botocore's errors; a run's scores are already stored
        return Published(namespace, done, f"{type(exc).__name__}: {exc}")
    return Published(namespace, done)


def publish_run(
    engine: Engine, model: LoadedModel, report: DriftReport | None
) -> dict[str, Any] | None:
    """What `churn-score run` publishes after its drift report (None when CLOUDWATCH_NAMESPACE
    is unset): the report, the model's age and holdout, its latest realized ROC-AUC."""
    if not os.environ.get(NAMESPACE_ENV):
        return None
    from churn_api.store.engine import StoreError
    from churn_api.store.monitoring_reads import latest_performance
    from churn_api.store_gauges import realized_by_version

    try:
        rows = latest_performance(engine)["rows"]
    except StoreError:
        rows = []  # the drift and age still go out
    version = model.meta.version
    realized = realized_by_version([r for r in rows if r["model_name"] == model.meta.name])
    holdout = model.contract.metrics.get("roc_auc")
    data = run_metrics(
        report,
        version,
        model.contract.training.get("trained_at"),
        float(holdout) if isinstance(holdout, int | float) else None,
        realized.get(version),
    )
    return publish(data).as_dict()


def publish_outcomes(performance: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """What `churn-score outcomes` publishes (None when CLOUDWATCH_NAMESPACE is unset)."""
    if not os.environ.get(NAMESPACE_ENV):
        return None
    return publish(outcome_metrics(performance)).as_dict()
