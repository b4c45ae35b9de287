"""Connections to the customer store: the default URL, engines with timeouts, migrations,
and driver errors turned into the ones a caller can act on (errors.py, re-exported here)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, NoSuchTableError, SQLAlchemyError

from churn_api.store.errors import StoreError, StoreSchemaError, StoreUnavailableError

__all__ = [
    "StoreError",
    "StoreSchemaError",
    "StoreUnavailableError",
    "database_url_default",
    "has_schema",
    "make_engine",
    "migrate",
    "redact_url",
    "store_errors",
]

DEFAULT_SQLITE = Path(".cache") / "churn-store.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
REQUIRED_TABLES = ("scoring_runs", "customers", "scores")
# "relation ... does not exist" (PostgreSQL) / "no such table" (SQLite).
_MISSING_TABLE = re.compile(r"no such table|relation .* does not exist|UndefinedTable", re.I)


def database_url_default() -> str:
    """A SQLite file under the working directory's .cache/ (make run's embedded store)."""
    return f"sqlite:///{DEFAULT_SQLITE}"


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable database URL>"


def make_engine(url: str, *, timeout_s: float = 5.0, pool_size: int = 8) -> Engine:
    """An engine whose connects and statements are bounded by `timeout_s`.

    PostgreSQL: connect_timeout and statement_timeout; no pre-ping (a round trip per request):
    CustomerStore retries once on a connection the server closed. SQLite: WAL (readers never
    wait for the scorer), busy_timeout, foreign keys on. A SQLite file's folder is created.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, connect_args={"timeout": timeout_s, "check_same_thread": False}
        )
        busy_ms = int(timeout_s * 1000)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed,
            pool_recycle=3600,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=timeout_s,
            connect_args={
                "connect_timeout": max(1, math.ceil(timeout_s)),
                "options": f"-c statement_timeout={int(timeout_s * 1000)}",
                "application_name": "churn-store",
            },
        )
    raise ValueError(f"DATABASE_URL: unsupported database {backend!r} (use postgresql or sqlite)")


@contextmanager
def store_errors(url: str | None = None) -> Iterator[None]:
    """Turn driver errors into StoreSchemaError / StoreUnavailableError, with no credentials."""
    try:
        yield
    except NoSuchTableError as exc:
        raise StoreSchemaError(_schema_message()) from exc
    except DBAPIError as exc:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        if _MISSING_TABLE.search(text) or _MISSING_TABLE.search(type(exc.orig).__name__):
            raise StoreSchemaError(_schema_message()) from exc
        raise StoreUnavailableError(_unavailable(text, url)) from exc
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise StoreUnavailableError(_unavailable(str(exc), url)) from exc


def _schema_message() -> str:
    return "customer store has no schema: run `churn-score migrate`"


def _unavailable(text: str, url: str | None) -> str:
    first = text.strip().splitlines()[0] if text.strip() else "no answer"
    if url:
        password = make_url(url).password
        if password:
            first = first.replace(str(password), "***")
    where = f" ({redact_url(url)})" if url else ""
    return f"customer store unavailable{where}: {first[:300]}"


def has_schema(engine: Engine) -> bool:
    """Whether every table of the schema exists (no migration is run)."""
    with store_errors(str(engine.url)):
        names = set(inspect(engine).get_table_names())
    return all(t in names for t in REQUIRED_TABLES)


def migrate(url_or_engine: str | Engine, *, timeout_s: float = 30.0) -> None:
    """`alembic upgrade head` on the store (a no-op when it is already at head)."""
    from alembic import command
    from alembic.config import Config

    engine = (
        make_engine(url_or_engine, timeout_s=timeout_s)
        if isinstance(url_or_engine, str)
        else url_or_engine
    )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store_errors(str(engine.url)), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    if isinstance(url_or_engine, str):
        engine.dispose()
