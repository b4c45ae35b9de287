"""The customer store: attributes and scores of the customer base (SQLAlchemy Core)."""

from churn_api.store.engine import (
    StoreError,
    StoreSchemaError,
    StoreUnavailableError,
    database_url_default,
    make_engine,
    migrate,
)
from churn_api.store.writes import RunRecord, ScoredRows, finish_run, start_run, write_partition

__all__ = [
    "RunRecord",
    "ScoredRows",
    "StoreError",
    "StoreSchemaError",
    "StoreUnavailableError",
    "database_url_default",
    "finish_run",
    "make_engine",
    "migrate",
    "start_run",
    "write_partition",
]
