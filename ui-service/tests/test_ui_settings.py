"""Settings from the environment, the launcher's command line and the plain-words formatting."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from pydantic import ValidationError

from churn_ui.client import Reason, TokenSource
from churn_ui.launcher import streamlit_args
from churn_ui.settings import UISettings
from churn_ui.wording import decision_text, money, named, reason_text, value_text


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


def test_ui_settings_reject_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_BASE_URL", "api:8000")
    with pytest.raises(ValidationError, match="http:// or https://"):
        UISettings()
    monkeypatch.setenv("API_BASE_URL", "http://api:8000")
    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(ValidationError, match="port"):
        UISettings()


def test_ui_launcher_serves_under_ui_headless_without_telemetry() -> None:
    args = streamlit_args(UISettings(host="127.0.0.1", port=8765))
    assert args[1:4] == ["-m", "streamlit", "run"] and args[4].endswith("churn_ui/app.py")
    assert {
        "--server.port=8765",
        "--server.address=127.0.0.1",
        "--server.baseUrlPath=ui",
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--client.showErrorDetails=none",
    } <= set(args)


def test_ui_launcher_refuses_a_bad_configuration() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from churn_ui.launcher import main; main([])"],
        env={"API_BASE_URL": "nowhere", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "invalid configuration" in done.stderr and "API_BASE_URL" in done.stderr


def test_ui_token_source_renews_before_expiry() -> None:
    assert TokenSource().header() == {}
    assert TokenSource(token="abc").header() == {"Authorization": "Bearer abc"}
    tokens = TokenSource(secret="x" * 32, ttl_seconds=300)
    first = tokens.token()
    assert first is not None and tokens.token() == first  # reused while fresh
    assert tokens._minted is not None
    tokens._minted = ("stale-token", time.time() + 50)  # only 50 s of 300 left: renew
    renewed = tokens.token()
    assert renewed != "stale-token"
    assert tokens._minted[1] > time.time() + 250


def test_ui_wording_is_plain() -> None:
    reason = Reason(field="tenure", value=2, contribution=0.5, effect="raises")
    assert reason_text(reason) == "Months as a customer: 2 months raises the risk"
    lowers = Reason(field="Contract", value="Two year", contribution=-0.9, effect="lowers")
    assert reason_text(lowers) == "Contract: Two year lowers the risk"
    assert value_text("SeniorCitizen", 1) == "Yes"
    assert value_text("MonthlyCharges", 70.5) == "$70.50"
    assert money(-50) == "-$50.00"
    assert named("tenure") == "Months as a customer (tenure)" and named("Contract") == "Contract"
    assert named("NewFieldName") == "New field name (NewFieldName)"
    assert "recommend a retention offer" in decision_text(0.37, 0.37)
    assert "no retention offer needed" in decision_text(0.369, 0.37)
