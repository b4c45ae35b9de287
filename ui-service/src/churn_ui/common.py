"""Streamlit helpers shared by every page: the API client, the model info, status and errors."""

from __future__ import annotations

import hashlib
import json
import logging

import streamlit as st
from pydantic import SecretStr

from churn_ui.client import (
    ApiError,
    ApiInvalidInputError,
    ApiNotReadyError,
    ApiTimeoutError,
    ApiUnreachableError,
    ChurnApiClient,
    ModelInfo,
)
from churn_ui.settings import UISettings, get_settings
from churn_ui.wording import named

log = logging.getLogger("churn_ui")

MODEL_INFO_KEY = "_model_info_last"


@st.cache_resource(show_spinner=False)
def _client_for(key: str, _settings: UISettings) -> ChurnApiClient:
    """One pooled client per distinct configuration (`key` is a digest of it)."""
    return ChurnApiClient.from_settings(_settings)


def settings() -> UISettings:
    """The UI settings (read from the environment on each run)."""
    return get_settings()


def client() -> ChurnApiClient:
    """The API client for the current settings."""
    current = settings()
    values = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in current
    }
    key = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
    return _client_for(key, current)


@st.cache_data(ttl=30, show_spinner=False)
def _model_info(base_url: str, _client: ChurnApiClient) -> ModelInfo:
    # Keyed by the base URL; errors are not cached, so a recovered API is seen at once.
    return _client.model_info()


def model_info() -> ModelInfo:
    """`GET /model` (cached for 30 s); the last good answer is kept for when the API goes away."""
    api = client()
    info = _model_info(api.base_url, api)
    st.session_state[MODEL_INFO_KEY] = info
    return info


def model_info_or_last(doing: str) -> ModelInfo | None:
    """`GET /model`; if the API fails, the error is shown (as failing to `doing`) and the answer
    fetched earlier in this session, if any, stands in."""
    try:
        return model_info()
    except ApiError as exc:
        show_error(exc, doing)
        return st.session_state.get(MODEL_INFO_KEY)


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


def show_error(exc: ApiError, doing: str = "") -> None:
    """An API failure in plain words, with each rejected field named."""
    prefix = f"Could not {doing}. " if doing else ""
    if isinstance(exc, ApiInvalidInputError):
        st.error(prefix + "Some of the input was not accepted:")
        for error in exc.errors:
            st.markdown(f"- **{named(error.field)}**: {error.message}")
        return
    if isinstance(exc, ApiNotReadyError | ApiTimeoutError | ApiUnreachableError):
        st.warning(prefix + exc.message)
    else:
        st.error(prefix + exc.message)
    log.info("API error shown to the user: %s", exc.message)
