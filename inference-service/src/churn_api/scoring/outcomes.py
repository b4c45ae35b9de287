"""`churn-score outcomes`: ingest what really happened, then the realized performance of the
scores made before it, stored, logged to MLflow and returned as the command's summary.

Flow: labels.read_labels (rows checked) -> the store's known customers (unknown ones rejected)
-> outcomes upserted -> every stored outcome joined to its candidate scores -> performance.py
keeps each outcome's latest score made before it and computes the metrics per model version and
month -> stored as one computation -> MLflow run (kind `outcomes`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from churn_api.scoring import performance
from churn_api.scoring.cloudwatch import publish_outcomes
from churn_api.scoring.labels import Labels, read_labels
from churn_api.scoring.mlflow_monitor import Logged, log_run, performance_metrics
from churn_api.scoring.model import ScoreSettings
from churn_api.store.engine import StoreError, database_url_default, make_engine, migrate
from churn_api.store.monitoring_reads import known_customers, outcome_count, outcome_scores
from churn_api.store.monitoring_writes import upsert_outcomes, write_performance

REJECTED_SAMPLE_MAX = 100


class OutcomesFailedError(Exception):
    """The store could not take the outcomes: exit 1."""


@dataclass
class OutcomesRequest:
    labels: str
    database_url: str | None = None
    migrate: bool = True
    mlflow: bool = True
    today: dt.date | None = None  # the day after which an outcome date is "in the future"
    settings: ScoreSettings | None = None


def ingest_outcomes(request: OutcomesRequest) -> dict[str, Any]:
    """Ingest and evaluate; the summary. LabelsError: a file that cannot be read (exit 2)."""
    settings = request.settings or ScoreSettings()
    url = (
        request.database_url
        or (settings.database_url.get_secret_value() if settings.database_url else None)
        or database_url_default()
    )
    labels = read_labels(request.labels, request.today, settings.max_download_bytes)
    engine = make_engine(url, timeout_s=settings.database_timeout_seconds)
    try:
        if request.migrate:
            migrate(engine)
        known = known_customers(engine, [o.customer_id for o in labels.outcomes])
        kept = _reject_unknown(labels, known)
        now = dt.datetime.now(dt.UTC)
        upsert_outcomes(
            engine,
            [
                {
                    "customer_id": o.customer_id,
                    "churned": o.churned,
                    "outcome_date": o.outcome_date,
                    "ingested_at": now,
                    "source": labels.uri,
                }
                for o in kept
            ],
        )
        joined = performance.latest_before(outcome_scores(engine))
        rows = performance.realized(joined)
        write_performance(
            engine, [r | {"computed_at": now, "labels_uri": labels.uri} for r in rows]
        )
        stored = outcome_count(engine)
    except StoreError as exc:
        raise OutcomesFailedError(str(exc)) from None
    finally:
        engine.dispose()
    evaluated = len({(j.customer_id, j.outcome_date) for j in joined})
    summary = {
        "status": "succeeded",
        "labels": labels.uri,
        "labels_sha256": labels.sha256,
        "rows_read": labels.rows_read,
        "rows_ingested": len(kept),
        "rows_rejected": len(labels.rejected),
        "rejected_by_reason": labels.by_reason,
        "rejected_sample": labels.rejected[:REJECTED_SAMPLE_MAX],
        "outcomes_in_store": stored,
        "outcomes_evaluated": evaluated,
        "outcomes_without_earlier_score": stored - evaluated,
        "computed_at": now.isoformat(),
        "performance": rows,
    }
    logged = _log(settings, summary) if request.mlflow else Logged(False, error="--no-mlflow")
    summary["mlflow"] = logged.as_dict()
    published = publish_outcomes(rows)  # with CLOUDWATCH_NAMESPACE only
    if published is not None:
        summary["cloudwatch"] = published
    return summary


def _reject_unknown(labels: Labels, known: set[str]) -> list[Any]:
    kept = []
    for o in labels.outcomes:
        if o.customer_id in known:
            kept.append(o)
        else:
            reason = ("unknown_customer", "unknown customer id (not in the customer store)")
            labels.reject(o.row, o.customer_id, [reason])
    labels.rejected.sort(key=lambda r: r["row"])
    return kept


def _log(settings: ScoreSettings, summary: dict[str, Any]) -> Logged:
    counts = {
        "rows_read": summary["rows_read"],
        "rows_ingested": summary["rows_ingested"],
        "rows_rejected": summary["rows_rejected"],
        "outcomes_evaluated": summary["outcomes_evaluated"],
    }
    metrics = {k: float(v) for k, v in counts.items()} | performance_metrics(summary["performance"])
    metrics |= {f"rejected.{k}": float(v) for k, v in summary["rejected_by_reason"].items()}
    return log_run(
        settings.mlflow_tracking_uri,
        f"outcomes {summary['computed_at'][:10]}",
        metrics,
        {"labels_uri": summary["labels"], "labels_sha256": summary["labels_sha256"] or ""},
        {"run_kind": "outcomes", "labels_sha256": summary["labels_sha256"] or ""},
        {"outcomes/performance.json": json.dumps(summary["performance"], indent=1)},
        settings.mlflow_http_timeout,
        settings.mlflow_http_max_retries,
    )
