"""The app factory: settings, model store, metrics and auth wired into one FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from churn_api import __version__
from churn_api.admission import Admission, default_limit
from churn_api.customer_routes import router as customer_router
from churn_api.errors import install_error_handlers
from churn_api.live_drift import LiveDrift, LiveWindow
from churn_api.metrics import Metrics
from churn_api.middleware import RequestMiddleware
from churn_api.model_store import ModelStore
from churn_api.monitoring_routes import router as monitoring_router
from churn_api.openapi import install_openapi
from churn_api.routes import router
from churn_api.security import Authenticator, secret_problem
from churn_api.settings import Settings, authenticator, get_settings
from churn_api.store.service import CustomerStore
from churn_api.store_gauges import StoreGauges
from churn_api.warmup import deferred_modules, warm_up

log = logging.getLogger("churn_api")

DESCRIPTION = """Scores Telco customers with the MLflow champion model (calibrated XGBoost).

Every field of a customer is optional: a missing field takes the training default and is listed
in `imputed_fields`. Unknown fields, unknown categories, out-of-range numbers, NaN and Infinity
are rejected with a 422 naming the field. `/predict*` need a bearer token with scope `predict`
and `/admin/*` scope `admin`: ES256 or HS256 JWTs with `sub`, `iss`, `aud`, `iat` and `exp`;
`admin` only from an operator's key (`churn-api token --scope admin --key PATH`).

`/customers*` read the customer store (DATABASE_URL) that `churn-score run` fills: they need
scope `customers` (operators' keys and the UI's secret), answer 503 without a store, and never
log attributes or customer ids.
`/monitoring/*` read the same store: batch drift of the latest scoring runs and the realized
performance of ingested outcomes (scope `customers`, 503 without a store).
"""


def warn_about_auth(settings: Settings, auth: Authenticator) -> None:
    """Loud log lines for what only CHURN_DEV_MODE allows."""
    if not settings.churn_dev_mode:
        return
    secret = settings.jwt_predict_secret
    problem = secret_problem(secret.get_secret_value()) if secret else None
    message = (
        "CHURN_DEV_MODE is on and no token key is set: authentication is OFF, every endpoint "
        "(including /admin/reload) is open. Never run this way outside a developer machine."
        if not auth.enabled
        else f"CHURN_DEV_MODE is on: JWT_PREDICT_SECRET {problem} and is accepted anyway."
        if problem
        else "CHURN_DEV_MODE is on (authentication is configured and enforced)."
    )
    log.warning(message, extra={"event": "dev_mode", "auth_enabled": auth.enabled})


def customer_store(settings: Settings) -> CustomerStore:
    """The customer store the settings name (not connected yet)."""
    url = settings.database_url.get_secret_value() if settings.database_url else None
    return CustomerStore(
        url, timeout_s=settings.database_timeout_seconds, migrate=settings.database_migrate
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the FastAPI app; the model loads in the background once the app starts."""
    settings = settings or get_settings()
    store = ModelStore(settings)
    admission = Admission(
        settings.max_concurrent_batches or default_limit(settings.batch_memory_mb)
    )
    metrics = Metrics()
    live = LiveDrift(
        LiveWindow(settings.drift_window_rows), metrics, settings.drift_interval_seconds
    )
    auth = authenticator(settings)
    store.on_swap(metrics.model_swapped)
    # No connection yet: the engine is created (and the schema checked) on first use.
    customers = customer_store(settings)
    gauges = StoreGauges(metrics.registry, customers, store, settings.drift_interval_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warn_about_auth(settings, auth)
        # Long-lived startup objects need not be scanned by every GC pass.
        gc.freeze()
        await store.start()
        live.start()
        # The store's first read waits for the model too: it would compete with the load.
        deferred = deferred_modules(auth.enabled, customers.configured)
        warming = asyncio.create_task(warm_up(store, deferred, gauges.start), name="warm-up")
        try:
            yield
        finally:
            warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warming
            await gauges.stop()
            await live.stop()
            await store.stop()
            admission.shutdown()
            customers.close()

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
    app.state.live_drift = live
    app.state.auth = auth
    app.state.admission = admission
    app.state.customer_store = customers
    app.state.store_gauges = gauges
    metrics.batches_in_flight.set_function(lambda: admission.in_flight)
    metrics.batches_limit.set(admission.limit)
    # The routes join the app's own list: include_router() would wrap them in a router that is
    # matched twice per request, which costs more than a single-row prediction's encoding.
    app.router.routes.extend(router.routes)
    app.router.routes.extend(customer_router.routes)
    app.router.routes.extend(monitoring_router.routes)
    app.add_middleware(RequestMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    install_error_handlers(app)
    install_openapi(app, store, settings.max_batch_rows)
    return app
