"""The frame (`app.py`) through AppTest with nothing listening at the API's address: every page
gets the status line exactly once, from the frame, and its own plain-words failure.

No server is started (AppTest runs the script in this process); the pages against live APIs
are in test_ui_app_pages.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import churn_ui

APP = str(Path(churn_ui.__file__).with_name("app.py"))
PAGES = [
    ("app_pages/score.py", "Score a customer", "Could not load the form from the scoring service"),
    ("app_pages/batch.py", "Batch scoring", "Could not reach the scoring service"),
    ("app_pages/model.py", "About the model", "Could not load the model details"),
]


def _messages(at: AppTest) -> list[str]:
    return [str(e.value) for kind in ("error", "warning", "caption") for e in getattr(at, kind)]


def test_ui_frame_draws_the_status_line_once_on_every_page(
    monkeypatch: pytest.MonkeyPatch, closed_port_url: str
) -> None:
    monkeypatch.setenv("API_BASE_URL", closed_port_url)
    monkeypatch.setenv("CONNECT_RETRIES", "0")
    monkeypatch.delenv("API_TOKEN", raising=False)
    monkeypatch.delenv("API_PREDICT_SECRET", raising=False)
    at = AppTest.from_file(APP, default_timeout=60).run()
    for page, title, failure in PAGES:
        at.switch_page(page).run()
        assert not at.exception, page
        assert [t.value for t in at.title] == [title]
        messages = _messages(at)
        status = [m for m in messages if m.startswith("Scoring service unreachable at")]
        assert status == [
            f"Scoring service unreachable at {closed_port_url}. Scoring is unavailable."
        ], page
        assert any(m.startswith(failure) and "cannot be reached" in m for m in messages), page
