"""Monitoring over HTTP: the latest scoring runs' batch drift and the realized performance from
ingested outcomes, both read from the customer store (scope `customers`, 503 without one), and
the registry's champion, challenger and previous champion (503 when MLflow does not answer)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, HTTPException, Request, Response

from churn_api.drift import THRESHOLDS
from churn_api.errors import InvalidRequestError
from churn_api.hotpath import authorize
from churn_api.monitoring_models import DriftHistory, ModelsView, PerformanceHistory
from churn_api.openapi import errors, hand_checked
from churn_api.registry import RegistryUnavailableError
from churn_api.registry_aliases import read_aliases_async
from churn_api.scorer import LoadedModel
from churn_api.scoring.performance import ALL_MONTHS
from churn_api.store.errors import StoreError
from churn_api.store.queries import RUNS_MAX
from churn_api.store.service import CustomerStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

router = APIRouter()
log = logging.getLogger("churn_api.monitoring")
DEFAULT_RUNS = 20
ROC_AUC_DROP = 0.05  # docs/monitoring.md: realized ROC-AUC this far under the holdout alerts
HOLDOUT_METRICS = ("roc_auc", "pr_auc", "brier", "log_loss", "f1", "precision", "recall")
RUNS = {
    "name": "runs",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1, "maximum": RUNS_MAX, "default": DEFAULT_RUNS},
    "description": "how many of the latest scoring runs",
}


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


async def _store_call(request: Request, fn: Any, *args: Any) -> Any:
    """fn(engine, *args) off the event loop; every store problem is a 503 saying what it is."""
    store: CustomerStore = request.app.state.customer_store
    try:
        return await store.call(fn, *args)
    except StoreError as exc:
        log.warning("%s", exc, extra={"event": "store_error", "error": type(exc).__name__})
        raise HTTPException(503, detail=str(exc)) from None


# The SQL (store.monitoring_reads, SQLAlchemy) is imported in the store's thread by the first
# call (or by warmup.py), never at start and never on the event loop.
def _drift_history(engine: Engine, runs: int) -> list[dict[str, Any]]:
    from churn_api.store import monitoring_reads

    return monitoring_reads.drift_history(engine, runs)


def _latest_performance(engine: Engine) -> dict[str, Any]:
    from churn_api.store import monitoring_reads

    return monitoring_reads.latest_performance(engine)


def _no_query(request: Request) -> None:
    if request.query_params:
        raise InvalidRequestError(
            [{"field": name, "message": "Unknown query parameter"} for name in request.query_params]
        )


def _runs(request: Request) -> int:
    params = request.query_params
    unknown = [name for name in params if name != "runs"]
    if unknown:
        raise InvalidRequestError(
            [{"field": name, "message": "Unknown query parameter"} for name in unknown]
        )
    text = params.get("runs")
    if text is None:
        return DEFAULT_RUNS
    if not text.strip().isdigit() or not 1 <= int(text) <= RUNS_MAX:
        raise InvalidRequestError(
            [{"field": "runs", "message": f"must be a whole number from 1 to {RUNS_MAX}"}]
        )
    return int(text)


def _score_bins(model: LoadedModel | None) -> dict[str, Any] | None:
    if model is None or model.reference is None or model.reference.score is None:
        return None
    score = model.reference.score
    return {"edges": list(score.edges), "frequencies": list(score.frequencies)}


@router.get(
    "/monitoring/drift",
    response_model=DriftHistory,
    tags=["monitoring"],
    responses=errors(401, 403, 422, 503),
    openapi_extra=hand_checked(None, RUNS),
)
async def drift(request: Request) -> Response:
    """Batch drift of the latest scoring runs against their model's training reference:
    per-field PSI, KS / chi-square, missing and unseen values, the score's PSI, thresholds."""
    authorize(request, "customers")
    runs = _runs(request)
    found = await _store_call(request, _drift_history, runs)
    model: LoadedModel | None = request.app.state.store.current
    served = model.meta.version if model is not None else None
    bins = _score_bins(model)
    for run in found:
        run["model_name"], run["model_version"] = run["model"]["name"], run["model"]["version"]
        same = model is not None and run["model"] == {"name": model.meta.name, "version": served}
        run["reference_score"] = bins if same else None
    return _json(
        {
            "thresholds": THRESHOLDS,
            "model_version": served,
            "reference_score": bins,
            "runs": found,
        }
    )


def _holdout(model: LoadedModel | None) -> dict[str, float]:
    if model is None:
        return {}
    found = model.contract.metrics
    return {
        k: float(v)  # type: ignore[arg-type]
        for k in HOLDOUT_METRICS
        if isinstance(v := found.get(k), int | float) and not isinstance(v, bool)
    }


@router.get(
    "/monitoring/performance",
    response_model=PerformanceHistory,
    tags=["monitoring"],
    responses=errors(401, 403, 422, 503),
    openapi_extra=hand_checked(),
)
async def performance(request: Request) -> Response:
    """Realized performance of the scores made before each ingested outcome, per model version
    and month (and over every month), beside the served model's training holdout metrics."""
    authorize(request, "customers")
    _no_query(request)
    found = await _store_call(request, _latest_performance)
    model: LoadedModel | None = request.app.state.store.current
    holdout = _holdout(model)
    rows = [r | {"computed_at": found["computed_at"]} for r in found["rows"]]
    return _json(
        {
            "computed_at": found["computed_at"],
            "model_version": model.meta.version if model is not None else None,
            "holdout_roc_auc": holdout.get("roc_auc"),
            "holdout": holdout,
            "roc_auc_drop_alert": ROC_AUC_DROP,
            "rows": [r for r in rows if r["month"] != ALL_MONTHS],
            "overall": [r for r in rows if r["month"] == ALL_MONTHS],
        }
    )


@router.get(
    "/monitoring/models",
    response_model=ModelsView,
    tags=["monitoring"],
    responses=errors(401, 403, 422, 503),
    openapi_extra=hand_checked(),
)
async def models(request: Request) -> Response:
    """The served model and the registry's champion, challenger and previous champion: each
    version, when and why it got its alias (or was replaced), and when it was registered."""
    authorize(request, "customers")
    _no_query(request)
    store = request.app.state.store
    settings = store.settings
    model: LoadedModel | None = store.current
    served = None
    if model is not None:
        meta = model.meta
        served = {"version": meta.version, "alias": meta.alias, "degraded": meta.degraded}
    body: dict[str, Any] = {"model_name": settings.model_name, "served": served}
    if settings.model_uri:
        return _json(body | {"registry": "not used (MODEL_URI)", "aliases": None})
    try:
        aliases = await read_aliases_async(store.registry, float(settings.mlflow_http_timeout))
    except RegistryUnavailableError as exc:
        log.warning("%s", exc, extra={"event": "registry_error"})
        raise HTTPException(503, detail=f"MLflow model registry unavailable: {exc}") from None
    return _json(body | {"registry": "MLflow model registry", "aliases": aliases})
