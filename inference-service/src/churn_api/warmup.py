"""What the start defers until the model is served: the imports only requests need (token
checks, the customer store's SQL), then the store's background reads.

They cost about a third of the start (PyJWT ~0.1 s, SQLAlchemy ~0.2 s), and on two vCPUs
every import competes with the model load for the interpreter. Deferred, /health/ready
answers 200 without them; imported here, in a thread, the first requests do not pay them.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from churn_api.model_store import ModelStore

log = logging.getLogger("churn_api.warmup")
# Imported by the first token check (security.py).
TOKEN_MODULES = ("jwt",)
# Imported by the first store call (store/service.py and the routes' store functions).
STORE_MODULES = (
    "churn_api.store.engine",
    "churn_api.store.reads",
    "churn_api.store.monitoring_reads",
)
# A model that does not load must not hold back the rest for long.
READY_WAIT_S = 10.0
POLL_S = 0.02


def deferred_modules(auth_enabled: bool, store_configured: bool) -> tuple[str, ...]:
    """The modules the first requests of this configuration would import."""
    return (TOKEN_MODULES if auth_enabled else ()) + (STORE_MODULES if store_configured else ())


def import_all(names: Iterable[str]) -> None:
    """Import each module (a no-op for one already imported)."""
    for name in names:
        importlib.import_module(name)


async def warm_up(
    models: ModelStore,
    modules: tuple[str, ...],
    then: Callable[[], None] | None = None,
    ready_wait_s: float = READY_WAIT_S,
) -> None:
    """Once a model is served (or after ready_wait_s), import `modules` off the event loop,
    then call `then` (the store gauges' start) on the loop. Never raises but CancelledError."""
    deadline = time.monotonic() + ready_wait_s
    while models.current is None and time.monotonic() < deadline:
        await asyncio.sleep(POLL_S)
    started = time.perf_counter()
    try:
        await asyncio.to_thread(import_all, modules)
    except ImportError as exc:  # the request that needs it will raise it again, with context
        log.error("warm-up import failed: %s", exc, extra={"event": "warmup_failed"})
    else:
        log.debug(
            "warm-up imports done",
            extra={"event": "warmup", "seconds": round(time.perf_counter() - started, 3)},
        )
    if then is not None:
        then()
