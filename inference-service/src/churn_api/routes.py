"""HTTP routes: thin wrappers over the model store, the model and the metrics."""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from churn_api import __version__
from churn_api.predictor import LoadedModel, ModelRejectedError
from churn_api.schemas import (
    BatchResponse,
    ErrorResponse,
    Liveness,
    ModelInfo,
    Prediction,
    Readiness,
    ReloadResponse,
    parse_choice,
    parse_flag,
)
from churn_api.security import Authenticator, AuthError, Principal

router = APIRouter()
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "HS256 JWT with scope 'predict' or 'admin' (`churn-api token --scope ...`)",
}

_JSON = "application/json"
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing, malformed or expired token"},
    403: {"model": ErrorResponse, "description": "Token lacks the scope"},
    413: {"model": ErrorResponse, "description": "Body larger than MAX_BODY_BYTES"},
    422: {"model": ErrorResponse, "description": "Invalid input; each error names the field"},
    503: {"model": ErrorResponse, "description": "No model loaded yet"},
}


SORTS = ("none", "risk", "expected_value")
_EXPLAIN = {
    "name": "explain",
    "in": "query",
    "required": False,
    "schema": {"type": "boolean", "default": False},
    "description": "add the top 5 reasons",
}
_EXPLAIN_ROWS = {**_EXPLAIN, "description": "add the top 5 reasons per row"}
_SORT = {
    "name": "sort",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": list(SORTS), "default": "none"},
    "description": "ok rows first, highest first; then failed rows in input order",
}


def _extra(body_schema: str | None = None) -> dict[str, Any]:
    """OpenAPI for what the routes check by hand: the bearer token and the request body."""
    extra: dict[str, Any] = {"security": [{"bearer": []}]}
    if body_schema:
        # Bodies are validated by the loaded model's own request model (its categories can
        # change with a new version), so the schema is filled in by main.openapi().
        extra["requestBody"] = {
            "required": True,
            "content": {_JSON: {"schema": {"$ref": f"#/components/schemas/{body_schema}"}}},
        }
    return extra


def _json(data: Any, status: int = 200) -> Response:
    return Response(pydantic_core.to_json(data), status_code=status, media_type=_JSON)


def authorize(request: Request, scope: str) -> Principal:
    """The caller if it holds `scope` (everyone when auth is off), else 401/403.

    Called first by the secured routes rather than declared with Depends: FastAPI's dependency
    solving costs more than the rest of a single-row prediction. OpenAPI documents the scheme
    through each route's `_extra()` and main.openapi()'s securitySchemes.
    """
    auth: Authenticator = request.app.state.auth
    try:
        return auth.authorize(request.headers.get("authorization"), scope)
    except AuthError as exc:
        raise HTTPException(
            exc.status,
            detail=[{"field": "Authorization", "message": exc.message}],
            headers={"WWW-Authenticate": "Bearer"} if exc.status == 401 else None,
        ) from None


def current_model(request: Request) -> LoadedModel:
    """The served model, or 503 while none is loaded."""
    model: LoadedModel | None = request.app.state.store.current
    if model is None:
        raise HTTPException(503, detail=f"No model loaded yet: {request.app.state.store.detail}")
    request.state.model_version = model.meta.version
    return model


@router.get("/", response_model=Liveness, tags=["health"])
async def liveness() -> Response:
    """Liveness for the load balancer: no model work, 200 even while the model loads."""
    return _json({"service": "telco-churn-api", "version": __version__, "status": "ok"})


@router.get(
    "/health/ready",
    response_model=Readiness,
    tags=["health"],
    responses={503: {"model": Readiness, "description": "Not ready yet"}},
)
async def readiness(request: Request) -> Response:
    """200 once a model is loaded and its golden examples reproduce; 503 before."""
    store = request.app.state.store
    if store.current is None:
        return _json({"ready": False, "model_version": None, "detail": store.detail}, 503)
    return _json({"ready": True, "model_version": store.current.meta.version, "detail": None})


@router.get("/model", response_model=ModelInfo, tags=["model"], responses={503: _ERRORS[503]})
async def model_info(request: Request) -> Response:
    """The served model: provenance, metrics, threshold, bands and the input schema."""
    model = current_model(request)
    m, c = model.meta, model.contract
    return _json(
        {
            "name": m.name,
            "version": m.version,
            "alias": m.alias,
            "run_id": m.run_id,
            "source": m.source,
            "loaded_at": m.loaded_at,
            "trained_at": c.training.get("trained_at"),
            "metrics": c.metrics,
            "threshold": c.threshold.model_dump(),
            "risk_bands": [b.model_dump() for b in c.risk_bands],
            "input_schema": {
                "fields": [f.model_dump(exclude_none=True) for f in c.fields],
                "id_field": c.id_field,
            },
            "stale": m.stale,
            "detail": m.detail,
        }
    )


@router.post(
    "/predict",
    response_model=Prediction,
    tags=["predict"],
    responses={k: _ERRORS[k] for k in (401, 403, 413, 422, 503)},
    openapi_extra={**_extra("Customer"), "parameters": [_EXPLAIN]},
)
async def predict(
    request: Request,
) -> Response:
    """Score one customer; missing fields take the training default and are listed as imputed."""
    authorize(request, "predict")
    # Query parameters are read by hand too (declared in openapi_extra): a FastAPI Query
    # parameter costs as much as scoring the customer.
    explain = parse_flag(request.query_params.get("explain"), "explain")
    model = current_model(request)
    body = await request.body()
    result = model.score_one(model.validate_one(body), explain)
    request.app.state.metrics.scored_one(result["risk_band"], result["churn_probability"])
    return _json(result)


@router.post(
    "/predict/batch",
    response_model=BatchResponse,
    tags=["predict"],
    responses={k: _ERRORS[k] for k in (401, 403, 413, 422, 503)},
    openapi_extra={**_extra("BatchRequest"), "parameters": [_EXPLAIN_ROWS, _SORT]},
)
async def predict_batch(request: Request) -> Response:
    """Score up to 10,000 customers; invalid rows get their own errors without failing the rest."""
    authorize(request, "predict")
    explain = parse_flag(request.query_params.get("explain"), "explain")
    sort = parse_choice(request.query_params.get("sort"), "sort", SORTS)
    model = current_model(request)
    body = await request.body()
    # Off the event loop: a 10k-row batch must not stall single-row requests.
    answer = await run_in_threadpool(model.answer_batch, body, explain, sort)
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
    responses={k: _ERRORS[k] for k in (401, 403, 503)},
    openapi_extra=_extra(),
)
async def reload(
    request: Request,
) -> Response:
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
            "detail": model.meta.detail,
        }
    )
