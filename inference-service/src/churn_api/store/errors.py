"""The customer store's errors a caller can act on, without SQLAlchemy (the web layer imports
them at start; the driver code that raises them is imported on first use)."""

from __future__ import annotations


class StoreError(Exception):
    """A customer store problem the API answers with 503."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached or did not answer in time."""


class StoreSchemaError(StoreError):
    """The store is reachable but has no (or an old) schema."""
