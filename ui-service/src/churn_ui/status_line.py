"""The status line at the top of every page: is the API reachable, which model answers, and is
there a customer store (which decides whether the customer pages are shown)."""

from __future__ import annotations

import streamlit as st

from churn_ui.api.errors import ApiError, ApiTimeoutError, ApiUnreachableError
from churn_ui.api.models import Readiness
from churn_ui.connection import client, settings

STORE_KEY = "_store_configured"  # the last answer, kept while the API cannot be asked

Status = Readiness | ApiError


def check_status() -> Status:
    """`GET /health/ready` (short timeout), or the error that prevented an answer."""
    try:
        return client().readiness(timeout=settings().status_timeout)
    except ApiError as exc:
        return exc


def store_configured(status: Status) -> bool:
    """Whether the API reports a customer store; while it cannot be asked, the last answer."""
    if isinstance(status, Readiness):
        st.session_state[STORE_KEY] = status.has_store
    return bool(st.session_state.get(STORE_KEY, False))


def render_status(status: Status) -> None:
    """One line: is the API reachable and which model answers; a warning if the store is down."""
    base_url = client().base_url
    if isinstance(status, ApiUnreachableError):
        st.error(
            f"Scoring service unreachable at {base_url}. Scoring is unavailable.",
            icon=":material/cloud_off:",
        )
        return
    if isinstance(status, ApiTimeoutError):
        st.warning(
            "The scoring service is responding slowly. Results may take a while.",
            icon=":material/hourglass_top:",
        )
        return
    if isinstance(status, ApiError):
        st.warning(status.message, icon=":material/warning:")
        return
    if status.ready:
        st.caption(
            ":material/check_circle: Scoring service reachable · "
            f"model version **{status.model_version}** · {base_url}"
            + (" · customer store connected" if status.store == "ok" else "")
        )
    else:
        st.warning(
            "The scoring service is running but has no model loaded yet"
            + (f" ({status.detail})" if status.detail else "")
            + ". Scoring will work once it is ready.",
            icon=":material/hourglass_top:",
        )
    if status.store == "unavailable":
        st.warning(
            "The customer store is unavailable right now: the call list and customer pages "
            "cannot load. Scoring single customers and batch files still works.",
            icon=":material/database:",
        )
