"""HTTP routes: thin wrappers over the model store, the model and the metrics."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

import pydantic_core
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from starlette.routing import request_response

from churn_api import __version__
from churn_api.bundle import ModelRejectedError
from churn_api.errors import InvalidRequestError
from churn_api.hotpath import authorize, current_model, parse_choice, parse_flag, query_value
from churn_api.openapi import EXPLAIN, EXPLAIN_ROWS, SORT, errors, hand_checked
from churn_api.responses import (
    SORTS,
    BatchResponse,
    Liveness,
    ModelInfo,
    Prediction,
    Readiness,
    ReloadResponse,
    model_info_body,
)


class HandRoute(APIRoute):
    """A route whose endpoint reads the request itself (hotpath.py) and returns a Response.

    FastAPI still documents it (response models, openapi.py's hand-checked parameters), but a
    request goes straight to the endpoint, as Starlette calls one: FastAPI's request handler
    would only find no body, parameters or dependencies to solve, and an empty response to
    merge, at a cost close to a single-row prediction's scoring. Any other endpoint signature,
    or a route with dependencies (its own or its router's), keeps FastAPI's handler.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if takes_only_the_request(endpoint) and not self.dependant.dependencies:
            self.app = request_response(endpoint)


def takes_only_the_request(endpoint: Callable[..., Any]) -> bool:
    """True for `async def endpoint(request: Request) -> Response`."""
    signature = inspect.signature(endpoint, eval_str=True)
    params = list(signature.parameters.values())
    return (
        inspect.iscoroutinefunction(endpoint)
        and len(params) == 1
        and params[0].annotation is Request
        and params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        and signature.return_annotation is Response
    )


router = APIRouter(route_class=HandRoute)


class StoreReadiness(Readiness):
    """GET /health/ready body, with the customer store's state."""

    store: Literal["ok", "unavailable", "not configured"] = Field(
        description="the customer store (DATABASE_URL); does not affect `ready`"
    )


_JSON = "application/json"


def _json(data: Any, status: int = 200) -> Response:
    return Response(pydantic_core.to_json(data), status_code=status, media_type=_JSON)


@router.get("/", response_model=Liveness, tags=["health"])
async def liveness(request: Request) -> Response:
    """Liveness for the load balancer: no model work, 200 even while the model loads."""
    return _json({"service": "telco-churn-api", "version": __version__, "status": "ok"})


@router.get(
    "/health/ready",
    response_model=StoreReadiness,
    tags=["health"],
    responses={503: {"model": StoreReadiness, "description": "Not ready yet"}},
)
async def readiness(request: Request) -> Response:
    """200 once a model is loaded and its golden examples reproduce; 503 before. The customer
    store's state is reported, and never fails readiness (the model routes work without it)."""
    store = request.app.state.store
    # Said on every probe, so nobody mistakes a development API for a guarded one.
    extra = {
        "dev_mode": request.app.state.settings.churn_dev_mode,
        "store": await request.app.state.customer_store.status(),
    }
    if store.current is None:
        body = {"ready": False, "model_version": None, "detail": store.public_detail}
        return _json({**body, **extra}, 503)
    body = {"ready": True, "model_version": store.current.meta.version, "detail": None}
    return _json({**body, **extra})


@router.get("/model", response_model=ModelInfo, tags=["model"], responses=errors(503))
async def model_info(request: Request) -> Response:
    """The served model: provenance, metrics, threshold, bands and the input schema."""
    model = current_model(request)
    return _json(model_info_body(model.meta, model.contract))


@router.post(
    "/predict",
    response_model=Prediction,
    tags=["predict"],
    responses=errors(401, 403, 413, 422, 429, 503),
    openapi_extra=hand_checked("Customer", EXPLAIN),
)
async def predict(request: Request) -> Response:
    """Score one customer; missing fields take the training default and are listed as imputed."""
    authorize(request, "predict")
    explain = parse_flag(query_value(request, "explain"), "explain")
    model = current_model(request)
    body = await request.body()
    state = request.app.state
    try:
        if len(body) <= model.customers.limits.inline_bytes:
            customer = model.customers.validate_one(body)
        else:  # off the event loop, admitted like a batch (admission.py)
            customer = await state.admission.run(model.customers.validate_large, body)
    except InvalidRequestError as exc:
        state.live_drift.refused(model, exc.errors)  # counts unknown categories
        raise
    result = model.score_one(customer, explain)
    p = result["churn_probability"]
    state.metrics.scored_one(result["risk_band"], p)
    state.live_drift.record_one(model, customer.__dict__, p)
    return _json(result)


@router.post(
    "/predict/batch",
    response_model=BatchResponse,
    tags=["predict"],
    responses=errors(401, 403, 413, 422, 429, 503),
    openapi_extra=hand_checked("BatchRequest", EXPLAIN_ROWS, SORT),
)
async def predict_batch(request: Request) -> Response:
    """Score up to MAX_BATCH_ROWS (10,000) customers; invalid rows get their own errors without
    failing the rest."""
    authorize(request, "predict")
    explain = parse_flag(query_value(request, "explain"), "explain")
    sort = parse_choice(query_value(request, "sort"), "sort", SORTS)
    model = current_model(request)
    body = await request.body()
    # Off the event loop (a 10k-row batch must not stall single rows), a bounded number at once.
    live = request.app.state.live_drift
    answer = await request.app.state.admission.run(
        model.answer_batch, body, explain, sort, live.record_batch
    )
    metrics = request.app.state.metrics
    if answer.succeeded:
        metrics.scored(model.band_names, answer.bands, answer.probabilities)
    metrics.batch_rows.labels("ok").inc(answer.succeeded)
    metrics.batch_rows.labels("error").inc(answer.failed)
    return Response(answer.json, media_type=_JSON)


@router.get(
    "/metrics",
    tags=["operations"],
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text"}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


@router.post(
    "/admin/reload",
    response_model=ReloadResponse,
    tags=["operations"],
    responses=errors(401, 403, 503),
    openapi_extra=hand_checked(),
)
async def reload(request: Request) -> Response:
    """Re-resolve the alias (or re-read MODEL_URI) now and swap in the result."""
    authorize(request, "admin")
    store = request.app.state.store
    try:
        model, previous = await store.reload()
    except ModelRejectedError as exc:
        raise HTTPException(503, detail=f"Reload refused the model: {exc}") from None
    except Exception as exc:
        raise HTTPException(503, detail=f"Reload failed: {type(exc).__name__}: {exc}") from None
    request.state.model_version = model.meta.version
    return _json(
        {
            "reloaded": True,
            "version": model.meta.version,
            "previous_version": previous,
            "signature": model.meta.signature,
            "degraded": model.meta.degraded,
            "detail": model.meta.detail,
        }
    )
