"""An API failure shown to the user in plain words, each rejected field named."""

from __future__ import annotations

import logging

import streamlit as st

from churn_ui.api.errors import (
    ApiError,
    ApiInvalidInputError,
    ApiNotFoundError,
    ApiNotReadyError,
    ApiStoreUnavailableError,
    ApiTimeoutError,
    ApiUnreachableError,
)
from churn_ui.wording import named

log = logging.getLogger("churn_ui")


def show_error(exc: ApiError, doing: str = "") -> None:
    """An API failure in plain words, with each rejected field named."""
    prefix = f"Could not {doing}. " if doing else ""
    if isinstance(exc, ApiInvalidInputError):
        st.error(prefix + "Some of the input was not accepted:")
        for error in exc.errors:
            st.markdown(f"- **{named(error.field)}**: {error.message}")
        return
    # Passing conditions (the service or its store will be back): a warning, not an error.
    transient = ApiNotReadyError | ApiStoreUnavailableError | ApiTimeoutError | ApiUnreachableError
    if isinstance(exc, transient):
        st.warning(prefix + exc.message)
    else:
        st.error(prefix + exc.message)
    # A not-found message names the customer ID: personal data stays out of the log.
    shown = type(exc).__name__ if isinstance(exc, ApiNotFoundError) else exc.message
    log.info("API error shown to the user: %s", shown)
