"""UI settings from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from churn_ui.settings import UISettings


def test_ui_settings_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API_BASE_URL", "API_TOKEN", "API_JWT_SECRET", "PORT", "HOST"):
        monkeypatch.delenv(name, raising=False)
    defaults = UISettings()
    assert defaults.api_base_url == "http://localhost:8000"
    assert defaults.port == 8501
    assert defaults.api_token is None and defaults.api_jwt_secret is None

    monkeypatch.setenv("API_BASE_URL", "http://api:8000/")
    monkeypatch.setenv("API_TOKEN", "")  # compose's "unset"
    monkeypatch.setenv("API_JWT_SECRET", "s3cret")
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("REQUEST_TIMEOUT", "2.5")
    configured = UISettings()
    assert configured.api_base_url == "http://api:8000"
    assert configured.api_token is None
    assert configured.api_jwt_secret is not None
    assert "s3cret" not in repr(configured)
    assert (configured.port, configured.host) == (9000, "127.0.0.1")
    assert configured.request_timeout == 2.5


def test_ui_settings_upload_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_UPLOAD_MB", "MAX_UPLOAD_ROWS"):
        monkeypatch.delenv(name, raising=False)
    defaults = UISettings()
    assert (defaults.max_upload_mb, defaults.max_upload_rows) == (10, 50_000)
    monkeypatch.setenv("MAX_UPLOAD_MB", "2")
    monkeypatch.setenv("MAX_UPLOAD_ROWS", "1000")
    assert (UISettings().max_upload_mb, UISettings().max_upload_rows) == (2, 1000)
    monkeypatch.setenv("MAX_UPLOAD_MB", "0")
    with pytest.raises(ValidationError, match="max_upload_mb"):
        UISettings()
    monkeypatch.setenv("MAX_UPLOAD_MB", "2")
    monkeypatch.setenv("MAX_UPLOAD_ROWS", "0")
    with pytest.raises(ValidationError, match="max_upload_rows"):
        UISettings()


def test_ui_settings_reject_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_BASE_URL", "api:8000")
    with pytest.raises(ValidationError, match="http:// or https://"):
        UISettings()
    monkeypatch.setenv("API_BASE_URL", "http://api:8000")
    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        UISettings()
