"""The batch page (`app_pages/batch.py`) through AppTest against a small fake API served over
HTTP in this process: upload limits, the progress bar and a failure part-way. Quick, but the fake
listens on a port, so it is an integration test; the page against a live `churn-api` is in
test_ui_app_pages.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from streamlit.testing.v1 import AppTest
from ui_fakes import Answer, fake_batch_api, serve_api

import churn_ui
from churn_ui.api.models import ModelInfo

APP = str(Path(churn_ui.__file__).with_name("app.py"))
HEADER = "customerID,tenure,MonthlyCharges,SeniorCitizen,Contract"
pytestmark = pytest.mark.integration


def _file(rows: int) -> bytes:
    lines = [HEADER] + [f"C{i},{i},20,0,One year" for i in range(1, rows + 1)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def api_url(small_info: ModelInfo) -> Iterator[str]:
    """The fake API, healthy."""
    with serve_api(small_info.model_dump(mode="json"), fake_batch_api) as url:
        yield url


def _batch_page(monkeypatch: pytest.MonkeyPatch, url: str, **env: str) -> AppTest:
    monkeypatch.setenv("API_BASE_URL", url)
    monkeypatch.setenv("CONNECT_RETRIES", "0")
    for name in ("API_TOKEN", "API_PREDICT_SECRET", "MAX_UPLOAD_MB", "MAX_UPLOAD_ROWS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/batch.py").run()
    assert not at.exception
    return at


def _errors(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.error]


def _score_button(at: AppTest) -> list[object]:
    return [b for b in at.button if b.key == "batch_score"]


def test_ui_batch_page_refuses_a_file_over_the_size_limit(
    monkeypatch: pytest.MonkeyPatch, api_url: str
) -> None:
    at = _batch_page(monkeypatch, api_url, MAX_UPLOAD_MB="1")
    uploader = at.file_uploader(key="batch_file")
    assert uploader.proto.max_upload_size_mb == 1  # the browser refuses larger files itself
    data = _file(3) + b" " * (1024 * 1024)  # just over 1 MB

    uploader.upload("big.csv", data, "text/csv").run()  # as if the browser check was bypassed
    assert not at.exception
    assert _errors(at) == [
        "big.csv: The file is 1.1 MB; the limit is 1 MB per file. Split it into smaller files "
        "and upload them one at a time."
    ]
    assert not _score_button(at) and "batch_upload" not in at.session_state

    # The same check on the bytes the page scores (the test hook bypasses the uploader).
    at.file_uploader(key="batch_file").clear()
    at.session_state["batch_upload"] = ("hook.csv", data)
    at.run()
    assert any(e.startswith("hook.csv: The file is 1.1 MB; the limit is 1 MB") for e in _errors(at))
    assert not _score_button(at)


def test_ui_batch_page_refuses_a_file_over_the_row_limit(
    monkeypatch: pytest.MonkeyPatch, api_url: str
) -> None:
    at = _batch_page(monkeypatch, api_url, MAX_UPLOAD_ROWS="3")
    assert "3 customers a file" in at.file_uploader(key="batch_file").help
    at.file_uploader(key="batch_file").upload("long.csv", _file(4), "text/csv").run()
    assert not at.exception
    assert _errors(at) == [
        "long.csv: The file has 4 customer rows; the limit is 3 per file. Split it into files "
        "of at most 3 rows and upload them one at a time."
    ]
    assert not _score_button(at)  # refused as a whole, never cut to 3 rows

    at.file_uploader(key="batch_file").set_value(("short.csv", _file(3), "text/csv")).run()
    assert _errors(at) == [] and _score_button(at)


def test_ui_batch_page_shows_progress_in_rows(
    monkeypatch: pytest.MonkeyPatch, api_url: str
) -> None:
    at = _batch_page(monkeypatch, api_url, BATCH_CHUNK_ROWS="2")
    at.file_uploader(key="batch_file").upload("five.csv", _file(5), "text/csv").run()
    at.button(key="batch_score").click().run()
    assert not at.exception
    (bar,) = at.progress
    assert (bar.value, bar.text) == (100, "Scored 5 of 5 rows")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Customers scored"] == "5" and metrics["Rows rejected"] == "0"
    assert at.download_button(key="batch_download")


def test_ui_batch_page_keeps_what_was_scored_when_the_api_fails_part_way(
    monkeypatch: pytest.MonkeyPatch, small_info: ModelInfo
) -> None:
    calls: list[int] = []

    def dies_on_the_third_batch(request: requests.PreparedRequest) -> Answer:
        calls.append(1)
        if len(calls) >= 3:
            return (503, {"detail": "no model loaded"})
        return fake_batch_api(request)

    with serve_api(small_info.model_dump(mode="json"), dies_on_the_third_batch) as url:
        at = _batch_page(monkeypatch, url, BATCH_CHUNK_ROWS="2")
        at.session_state["batch_upload"] = ("six.csv", _file(6))
        at.run()
        at.button(key="batch_score").click().run()
    assert not at.exception
    (bar,) = at.progress
    assert (bar.value, bar.text) == (66, "Scored 4 of 6 rows")
    (error,) = _errors(at)
    assert error.startswith("Scoring stopped at file row 5 of 6: The scoring service is running")
    assert "Rows 5 to 6 were not scored" in error and "the 4 rows before them are scored" in error
    assert error.endswith("Upload the file again to score them.")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Customers scored"] == "4"
    assert at.download_button(key="batch_download")
