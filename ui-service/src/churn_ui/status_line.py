"""The status line at the top of every page: is the API reachable and which model answers."""

from __future__ import annotations

import streamlit as st

from churn_ui.api.errors import ApiError, ApiTimeoutError, ApiUnreachableError
from churn_ui.connection import client, settings


def render_status() -> None:
    """One line: is the API reachable and which model answers."""
    api = client()
    try:
        ready = api.readiness(timeout=settings().status_timeout)
    except ApiUnreachableError:
        st.error(
            f"Scoring service unreachable at {api.base_url}. Scoring is unavailable.",
            icon=":material/cloud_off:",
        )
        return
    except ApiTimeoutError:
        st.warning(
            "The scoring service is responding slowly. Results may take a while.",
            icon=":material/hourglass_top:",
        )
        return
    except ApiError as exc:
        st.warning(exc.message, icon=":material/warning:")
        return
    if ready.ready:
        st.caption(
            ":material/check_circle: Scoring service reachable · "
            f"model version **{ready.model_version}** · {api.base_url}"
        )
    else:
        st.warning(
            "The scoring service is running but has no model loaded yet"
            + (f" ({ready.detail})" if ready.detail else "")
            + ". Scoring will work once it is ready.",
            icon=":material/hourglass_top:",
        )
