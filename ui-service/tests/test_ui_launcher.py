"""The `churn-ui` launcher's command line (built and checked, never started: no port opened)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from churn_ui.launcher import streamlit_args
from churn_ui.settings import UISettings


def test_ui_launcher_serves_under_ui_headless_without_telemetry() -> None:
    args = streamlit_args(UISettings(host="127.0.0.1", port=8765))
    assert args[1:4] == ["-m", "streamlit", "run"] and args[4].endswith("churn_ui/app.py")
    entry = Path(args[4])
    assert entry.is_file()
    assert {p.name for p in (entry.parent / "app_pages").glob("*.py")} == {
        "call_list.py",
        "customer.py",
        "score.py",
        "batch.py",
        "model.py",
        "model_health.py",
    }
    assert not (entry.parent / "pages").exists()  # Streamlit would auto-discover it
    assert {
        "--server.port=8765",
        "--server.address=127.0.0.1",
        "--server.baseUrlPath=ui",
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--client.showErrorDetails=none",
    } <= set(args)


def test_ui_launcher_sets_streamlits_upload_limit_from_the_setting() -> None:
    # The browser refuses a larger file before uploading it; the page checks again.
    assert "--server.maxUploadSize=10" in streamlit_args(UISettings())
    args = streamlit_args(UISettings(max_upload_mb=3))
    assert [a for a in args if a.startswith("--server.maxUploadSize")] == [
        "--server.maxUploadSize=3"
    ]


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
