"""The API's handle on the customer store: a lazily created engine, the schema check (or
migration, with DATABASE_MIGRATE), and store calls run off the event loop with a deadline.

SQLAlchemy and the driver are imported with the first engine (or by warmup.py once the model
is served): they cost a fifth of the API's start, and a store is optional."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from churn_api.store.errors import StoreError, StoreSchemaError, StoreUnavailableError
from churn_api.store.queries import ListCache

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("churn_api.store")
T = TypeVar("T")
NOT_CONFIGURED = "No customer store configured: set DATABASE_URL"
STATUS_DEADLINE_S = 2.0


class StoreNotConfiguredError(StoreError):
    """DATABASE_URL is not set."""


class CustomerStore:
    """Everything the routes need from the store, each call bounded by `timeout_s`."""

    def __init__(
        self, url: str | None, timeout_s: float = 5.0, migrate: bool = False, threads: int = 8
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.migrate = migrate
        self.threads = threads
        self._engine: Engine | None = None
        self._reader: Engine | None = None
        self._schema_ok = False
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.list_cache = ListCache()

    @property
    def configured(self) -> bool:
        return self.url is not None

    def engine(self) -> Engine:
        """The reading engine, created on first use; the schema checked (or migrated) once.

        Reads run in autocommit: each is one statement, so BEGIN/ROLLBACK would only add
        round trips (and the API never writes)."""
        if self.url is None:
            raise StoreNotConfiguredError(NOT_CONFIGURED)
        from churn_api.store.engine import has_schema, make_engine, migrate, redact_url

        with self._lock:
            if self._engine is None:
                self._engine = make_engine(
                    self.url, timeout_s=self.timeout_s, pool_size=self.threads
                )
            engine = self._engine
            if not self._schema_ok:
                if self.migrate:
                    log.info("migrating the customer store %s", redact_url(self.url))
                    migrate(engine)
                elif not has_schema(engine):
                    raise StoreSchemaError(
                        "customer store has no schema: run `churn-score migrate`"
                    )
                self._schema_ok = True
                self._reader = engine.execution_options(isolation_level="AUTOCOMMIT")
            assert self._reader is not None
            return self._reader

    def call_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(engine, *args) in the calling thread, retried once on a connection the server
        had closed (a restarted store: the pool is then refilled)."""
        engine = self.engine()
        try:
            return fn(engine, *args)
        except StoreUnavailableError as exc:
            from sqlalchemy.exc import DBAPIError

            cause = exc.__cause__
            if isinstance(cause, DBAPIError) and cause.connection_invalidated:
                return fn(engine, *args)
            raise

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(engine, *args) on the store's threads; StoreUnavailableError past the deadline."""
        if self.url is None:
            raise StoreNotConfiguredError(NOT_CONFIGURED)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="churn-store")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self.call_sync, fn, *args)
        # The driver's own timeouts end the thread's work; this bounds the answer regardless.
        deadline = self.timeout_s * 2 + 1
        try:
            return await asyncio.wait_for(future, deadline)
        except TimeoutError:
            raise StoreUnavailableError(
                f"customer store unavailable: no answer within {deadline:g} s"
            ) from None

    async def status(self) -> str:
        """ "ok", "unavailable" (unreachable, or no schema) or "not configured"."""
        if self.url is None:
            return "not configured"
        try:
            # A probe must answer quickly even when the store hangs.
            await asyncio.wait_for(self.call(_ping), min(self.timeout_s, STATUS_DEADLINE_S))
        except (StoreError, TimeoutError):
            return "unavailable"
        return "ok"

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = self._reader = None
            self._schema_ok = False


def _ping(engine: Engine) -> None:
    """reads.ping, imported in the store's thread (never on the event loop)."""
    from churn_api.store.reads import ping

    ping(engine)
