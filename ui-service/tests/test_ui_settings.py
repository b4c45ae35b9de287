"""UI settings from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from churn_ui.settings import UISettings

AUTH = ("API_TOKEN", "API_PREDICT_SECRET", "API_JWT_SECRET", "CHURN_DEV_MODE")
SECRET = "a-generated-looking-predict-secret-0123456789"


def test_ui_settings_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API_BASE_URL", "PORT", "HOST", *AUTH):
        monkeypatch.delenv(name, raising=False)
    defaults = UISettings()
    assert defaults.api_base_url == "http://localhost:8000"
    assert defaults.port == 8501
    assert defaults.api_token is None and defaults.api_predict_secret is None

    monkeypatch.setenv("API_BASE_URL", "http://api:8000/")
    monkeypatch.setenv("API_TOKEN", "")  # compose's "unset"
    monkeypatch.setenv("API_PREDICT_SECRET", SECRET)
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("REQUEST_TIMEOUT", "2.5")
    configured = UISettings()
    assert configured.api_base_url == "http://api:8000"
    assert configured.api_token is None
    assert configured.api_predict_secret is not None
    assert SECRET not in repr(configured)
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


def test_ui_settings_refuse_weak_and_removed_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AUTH:
        monkeypatch.delenv(name, raising=False)
    for weak in ("s3cret", "x" * 40):
        monkeypatch.setenv("API_PREDICT_SECRET", weak)
        with pytest.raises(ValidationError, match=r"API_PREDICT_SECRET must be 32\+ bytes") as e:
            UISettings()
        assert weak not in str(e.value), "a refused secret is never echoed"
    monkeypatch.setenv("CHURN_DEV_MODE", "true")
    assert UISettings().api_predict_secret is not None  # development only
    monkeypatch.delenv("API_PREDICT_SECRET")
    # An old configuration fails loudly, naming the new setting.
    monkeypatch.setenv("API_JWT_SECRET", SECRET)
    with pytest.raises(ValidationError, match=r"API_JWT_SECRET is no longer read.*API_PREDICT"):
        UISettings()
    with pytest.raises(ValidationError, match="less than or equal to 3600"):
        UISettings(api_token_ttl_seconds=7200, api_jwt_secret=None)
