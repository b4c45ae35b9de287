"""The customer store: attributes and scores of the customer base (SQLAlchemy Core).

The names below are loaded on first access, so that importing a light submodule (errors,
queries, service) does not import SQLAlchemy: the API starts without it (service.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from churn_api.store.engine import database_url_default, make_engine, migrate
    from churn_api.store.errors import StoreError, StoreSchemaError, StoreUnavailableError
    from churn_api.store.writes import (
        RunRecord,
        ScoredRows,
        finish_run,
        start_run,
        write_partition,
    )

_WHERE = {
    "RunRecord": "writes",
    "ScoredRows": "writes",
    "StoreError": "errors",
    "StoreSchemaError": "errors",
    "StoreUnavailableError": "errors",
    "database_url_default": "engine",
    "finish_run": "writes",
    "make_engine": "engine",
    "migrate": "engine",
    "start_run": "writes",
    "write_partition": "writes",
}
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


def __getattr__(name: str) -> Any:
    """Load one of __all__ from its module (PEP 562)."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
