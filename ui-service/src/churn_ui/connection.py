"""The scoring service as Streamlit runs see it: one pooled client per configuration and the
model info (cached 30 s, with the last good answer kept for when the API goes away)."""

from __future__ import annotations

import hashlib
import json

import streamlit as st
from pydantic import SecretStr

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.errors import ApiError
from churn_ui.api.models import ModelInfo
from churn_ui.error_display import show_error
from churn_ui.settings import UISettings, get_settings

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
