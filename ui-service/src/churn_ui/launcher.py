"""`churn-ui`: run the Streamlit app under /ui, headless, without telemetry."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from churn_ui.settings import UISettings

APP = Path(__file__).with_name("app.py")
BASE_PATH = "ui"


def streamlit_args(settings: UISettings) -> list[str]:
    """The `streamlit run` command line for these settings."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        f"--server.port={settings.port}",
        f"--server.address={settings.host}",
        f"--server.baseUrlPath={BASE_PATH}",
        "--server.headless=true",
        # The browser refuses a larger file before sending it; the page checks again.
        f"--server.maxUploadSize={settings.max_upload_mb}",
        # The file watcher costs CPU and is useless in a deployed app.
        "--server.fileWatcherType=none",
        "--server.runOnSave=false",
        "--browser.gatherUsageStats=false",
        # Users see plain-words messages; tracebacks only go to the server log.
        "--client.showErrorDetails=none",
        "--client.toolbarMode=viewer",
        "--global.developmentMode=false",
        "--theme.base=light",
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Replace this process with Streamlit so signals (Ctrl-C, SIGTERM) reach it directly."""
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] in ("-h", "--help"):
        print(
            "churn-ui: serves the churn console at http://HOST:PORT/ui\n"
            "Environment: API_BASE_URL, API_TOKEN or API_PREDICT_SECRET, HOST, PORT, "
            "REQUEST_TIMEOUT, BATCH_CHUNK_ROWS, MAX_UPLOAD_MB, MAX_UPLOAD_ROWS"
        )
        return
    try:
        settings = UISettings()
    except ValueError as exc:
        sys.exit(f"churn-ui: invalid configuration: {exc}")
    args = streamlit_args(settings)
    print(
        f"churn-ui: http://{settings.host}:{settings.port}/{BASE_PATH} "
        f"(API {settings.api_base_url})",
        flush=True,
    )
    os.execv(sys.executable, args)
