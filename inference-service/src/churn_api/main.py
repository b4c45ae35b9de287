"""App factory, OpenAPI with the loaded model's schema, and the `churn-api` console entry."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from churn_api import __version__
from churn_api.logs import configure_logging
from churn_api.metrics import Metrics
from churn_api.middleware import RequestMiddleware
from churn_api.model_store import ModelStore
from churn_api.predictor import LoadedModel
from churn_api.routes import BEARER, router
from churn_api.schemas import InvalidRequestError
from churn_api.security import Authenticator, mint_token
from churn_api.settings import Settings, get_settings

log = logging.getLogger("churn_api")

DESCRIPTION = """Scores Telco customers with the MLflow champion model (calibrated XGBoost).

Every field of a customer is optional: a missing field takes the training default and is listed
in `imputed_fields`. Unknown fields, unknown categories, out-of-range numbers, NaN and Infinity
are rejected with a 422 naming the field. With `JWT_SECRET` set, `/predict*` need a bearer token
with scope `predict` and `/admin/*` scope `admin` (`churn-api token --scope predict`).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI app; the model loads in the background once the app starts."""
    settings = settings or get_settings()
    store = ModelStore(settings)
    metrics = Metrics()
    auth = Authenticator(
        settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
        settings.jwt_algorithm,
    )
    store.on_swap(metrics.model_swapped)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not auth.enabled:
            log.warning(
                "JWT_SECRET is not set: authentication is OFF and every endpoint is open",
                extra={"event": "auth_disabled"},
            )
        # Long-lived startup objects need not be scanned by every GC pass.
        gc.freeze()
        await store.start()
        try:
            yield
        finally:
            await store.stop()

    app = FastAPI(
        title="Telco churn API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Metrics are Prometheus (/metrics); FastAPI's native OpenTelemetry hooks would only
        # check for an unconfigured provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.store = store
    app.state.metrics = metrics
    app.state.auth = auth
    # The routes join the app's own list: include_router() would wrap them in a router that is
    # matched twice per request, which costs more than a single-row prediction's encoding.
    app.router.routes.extend(router.routes)
    app.add_middleware(RequestMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    _install_error_handlers(app)
    _install_openapi(app, store)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidRequestError)
    async def invalid(_request: Request, exc: InvalidRequestError) -> JSONResponse:
        return JSONResponse({"detail": exc.errors}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_params(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )


def _install_openapi(app: FastAPI, store: ModelStore) -> None:
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        model = store.current
        key = model.meta.version if model else ""
        if key in cache:
            return cache[key]  # type: ignore[no-any-return]
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(_request_schemas(model))
        components["securitySchemes"] = {"bearer": BEARER}
        _add_examples(schema, model)
        if model is not None:
            cache.clear()
            cache[key] = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _request_schemas(model: LoadedModel | None) -> dict[str, Any]:
    if model is None:
        customer: dict[str, Any] = {
            "type": "object",
            "title": "Customer",
            "description": "Fields come from the loaded model; none is loaded yet.",
        }
    else:
        customer = model.Customer.model_json_schema(ref_template="#/components/schemas/{model}")
        customer.pop("$defs", None)
    max_rows = model.max_batch_rows if model else 10_000
    batch = {
        "type": "object",
        "title": "BatchRequest",
        "additionalProperties": False,
        "required": ["customers"],
        "properties": {
            "customers": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_rows,
                "items": {"$ref": "#/components/schemas/Customer"},
            }
        },
    }
    return {"Customer": customer, "BatchRequest": batch}


def _add_examples(schema: dict[str, Any], model: LoadedModel | None) -> None:
    if model is None:
        return
    golden = [ex["input"] for ex in model.golden.get("examples", [])][:3]
    single = {
        "dataset_row": {"summary": "A dataset row as is", "value": golden[0]},
        "partial": {
            "summary": "Only some fields (the rest are imputed)",
            "value": {"tenure": 12, "MonthlyCharges": 70.5},
        },
    }
    batch = {"three_rows": {"summary": "Three customers", "value": {"customers": golden}}}
    for path, examples in (("/predict", single), ("/predict/batch", batch)):
        content = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        content["examples"] = examples


def run(argv: list[str] | None = None) -> None:
    """`churn-api` (serve) or `churn-api token --scope predict`."""
    parser = argparse.ArgumentParser(prog="churn-api", description="Telco churn inference API")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="start the API (the default)")
    token = sub.add_parser("token", help="print a signed JWT (reads JWT_SECRET)")
    token.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=["predict", "admin"],
        help="repeat for several scopes",
    )
    token.add_argument("--ttl", type=int, default=3600, help="seconds until expiry")
    token.add_argument("--sub", default="churn-api-cli", help="subject claim")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.command == "token":
        if settings.jwt_secret is None:
            parser.exit(2, "churn-api token: JWT_SECRET is not set\n")
        print(mint_token(settings.jwt_secret.get_secret_value(), args.scope, args.ttl, args.sub))
        return
    serve(settings)


def serve(settings: Settings) -> None:
    """Run uvicorn: one worker, our JSON request log instead of the access log."""
    import uvicorn

    configure_logging(settings.log_level)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        timeout_keep_alive=settings.timeout_keep_alive,
        timeout_graceful_shutdown=settings.timeout_graceful_shutdown,
        access_log=False,
        log_config=None,
        server_header=False,
    )


if __name__ == "__main__":
    sys.exit(run())
