"""Every page (`app_pages/`) through Streamlit's AppTest, against live `churn-api` processes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import churn_ui
from churn_ui.api.client import ChurnApiClient

pytestmark = pytest.mark.integration

APP = str(Path(churn_ui.__file__).with_name("app.py"))
SUBMIT = "FormSubmitter:customer_form-Score this customer"
SECRET = "ui-tests-secret-0123456789abcdef0123456789"  # same as conftest.SECRET


def _app(monkeypatch: pytest.MonkeyPatch, base_url: str, **env: str) -> AppTest:
    monkeypatch.setenv("API_BASE_URL", base_url)
    monkeypatch.delenv("API_TOKEN", raising=False)
    monkeypatch.delenv("API_PREDICT_SECRET", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return AppTest.from_file(APP, default_timeout=120)


def _texts(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "error", "warning", "info", "success")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def _table(at: AppTest, column: str) -> pd.DataFrame:
    """The one dataframe on the page that has `column`."""
    (frame,) = [d.value for d in at.dataframe if column in d.value.columns]
    return frame


def _customer_of(at: AppTest) -> dict[str, object]:
    """The customer exactly as the form holds it."""
    values: dict[str, object] = {}
    for widget in [*at.selectbox, *at.number_input]:
        if widget.key and widget.key.startswith("field_"):
            values[widget.key.removeprefix("field_")] = widget.value
    return values


def test_ui_score_page_scores_explains_and_compares(
    monkeypatch: pytest.MonkeyPatch, api_server: str
) -> None:
    at = _app(monkeypatch, api_server).run()
    assert not at.exception
    assert "Scoring service reachable" in _texts(at)
    assert {s.value for s in at.subheader} >= {"Account", "Services", "Billing"}
    assert len(_customer_of(at)) == 19  # one widget per field of GET /model

    at.selectbox(key="field_Contract").set_value("Month-to-month")
    at.selectbox(key="field_InternetService").set_value("Fiber optic")
    at.number_input(key="field_tenure").set_value(2)
    at.text_input[0].input("UI-TEST-1")
    at.button(key=SUBMIT).click().run()
    assert not at.exception

    expected = ChurnApiClient(api_server).predict(
        {"customerID": "UI-TEST-1", **_customer_of(at)}, explain=True
    )
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Churn probability"] == f"{expected.churn_probability * 100:.1f}%"
    text = _texts(at)
    assert f"**{expected.risk_band.capitalize()} risk**" in text
    decision = "recommend a retention offer" if expected.churn else "no retention offer needed"
    assert decision in "\n".join(str(e.value) for e in [*at.error, *at.success])
    assert expected.reasons
    assert "Months as a customer: 2 months raises the risk" in text
    assert text.count(" the risk") >= len(expected.reasons)

    # What-if: a two-year contract plus tech support, side by side with the current score.
    at.selectbox(key="whatif_Contract").set_value("Two year")
    at.checkbox(key="whatif_tech").check()
    at.run()
    at.button(key="whatif_compare").click().run()
    assert not at.exception
    changed = ChurnApiClient(api_server).predict(
        {**_customer_of(at), "Contract": "Two year", "TechSupport": "Yes"}, explain=False
    )
    metrics = {m.label: m for m in at.metric}
    assert metrics["Churn probability now"].value == metrics["Churn probability"].value
    after = metrics["Churn probability with the change"]
    assert after.value == f"{changed.churn_probability * 100:.1f}%"
    assert changed.churn_probability < expected.churn_probability
    assert after.delta.startswith("-")


def test_ui_score_page_names_rejected_fields(
    monkeypatch: pytest.MonkeyPatch, api_server: str
) -> None:
    at = _app(monkeypatch, api_server).run()
    at.text_input[0].input("X" * 100)  # longer than the API accepts for an id
    at.button(key=SUBMIT).click().run()
    assert not at.exception
    assert "Some of the input was not accepted" in "\n".join(e.value for e in at.error)
    assert "**Customer ID (customerID)**" in _texts(at)
    assert not [m for m in at.metric if m.label == "Churn probability"]


def test_ui_score_page_keeps_input_when_the_api_fails(
    monkeypatch: pytest.MonkeyPatch, api_server: str, not_ready_api: str, closed_port_url: str
) -> None:
    at = _app(monkeypatch, api_server).run()
    at.number_input(key="field_tenure").set_value(7)
    at.selectbox(key="field_Contract").set_value("One year")
    at.button(key=SUBMIT).click().run()
    assert any(m.label == "Churn probability" for m in at.metric)

    # The model goes away (503): the page says so and the form keeps what the user typed.
    monkeypatch.setenv("API_BASE_URL", not_ready_api)
    at.number_input(key="field_tenure").set_value(8)
    at.button(key=SUBMIT).click().run()
    assert not at.exception
    assert "no model loaded yet" in _texts(at)
    assert at.number_input(key="field_tenure").value == 8
    assert at.selectbox(key="field_Contract").value == "One year"

    # The API is down altogether: still no traceback, still the same input.
    monkeypatch.setenv("API_BASE_URL", closed_port_url)
    at.button(key=SUBMIT).click().run()
    assert not at.exception
    text = _texts(at)
    assert "Scoring service unreachable" in text and "cannot be reached" in text
    assert at.number_input(key="field_tenure").value == 8


def test_ui_score_page_with_auth(monkeypatch: pytest.MonkeyPatch, secured_api: str) -> None:
    at = _app(monkeypatch, secured_api).run()
    at.button(key=SUBMIT).click().run()
    assert not at.exception
    assert "not signed in" in "\n".join(e.value for e in at.error)

    # With the predict secret the UI mints its own predict-scoped token and scoring works.
    monkeypatch.setenv("API_PREDICT_SECRET", SECRET)
    at.button(key=SUBMIT).click().run()
    assert not at.exception
    assert "not signed in" not in "\n".join(e.value for e in at.error)
    assert any(m.label == "Churn probability" for m in at.metric)


def test_ui_batch_page_ranks_and_lists_rejected_rows(
    monkeypatch: pytest.MonkeyPatch, api_server: str, sample_rows: list[str]
) -> None:
    header = sample_rows[0] + ",Region"
    rows = [line + ",west" for line in sample_rows[1:13]]
    cells = rows[2].split(",")
    cells[header.split(",").index("PaymentMethod")] = "Bitcoin"
    rows[2] = ",".join(cells)
    data = ("\n".join([header, *rows]) + "\n").encode()

    at = _app(monkeypatch, api_server, BATCH_CHUNK_ROWS="5").run()
    at.switch_page("app_pages/batch.py").run()
    assert not at.exception
    at.session_state["batch_upload"] = ("customers.csv", data)  # the documented test hook
    at.run()
    assert "Kept as they are and not used for scoring: Region" in _texts(at)
    at.button(key="batch_score").click().run()
    assert not at.exception

    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Customers scored"] == "11" and metrics["Rows rejected"] == "1"
    rejected = _table(at, "rejection_reason")
    assert rejected["file_row"].tolist() == [3]
    assert "Payment method (PaymentMethod)" in rejected.iloc[0]["rejection_reason"]
    ranked = _table(at, "top_reason")
    assert len(ranked) == 11
    probabilities = ranked["churn_probability"].tolist()
    assert probabilities == sorted(probabilities, reverse=True)
    assert ranked["top_reason"].str.len().gt(0).all()

    # Filters narrow the table without rescoring.
    at.multiselect(key="filter_band").set_value(["high"]).run()
    high = _table(at, "top_reason")
    assert set(high["risk_band"]) <= {"high"} and len(high) <= 11


def test_ui_batch_page_names_wrong_columns(
    monkeypatch: pytest.MonkeyPatch, api_server: str, sample_rows: list[str]
) -> None:
    data = ("\n".join(sample_rows[:4]).replace("PaymentMethod", "Payment") + "\n").encode()
    at = _app(monkeypatch, api_server).run()
    at.switch_page("app_pages/batch.py").run()
    at.session_state["batch_upload"] = ("wrong.csv", data)
    at.run()
    assert not at.exception
    error = "\n".join(e.value for e in at.error)
    assert "missing this column the model needs: Payment method (PaymentMethod)" in error
    assert "Columns the model does not know: Payment" in error
    assert not [b for b in at.button if b.key == "batch_score"]


def test_ui_model_page_shows_version_and_threshold(
    monkeypatch: pytest.MonkeyPatch, api_server: str
) -> None:
    info = ChurnApiClient(api_server).model_info()
    at = _app(monkeypatch, api_server).run()
    at.switch_page("app_pages/model.py").run()
    assert not at.exception
    text = _texts(at)
    assert f"**Model version:** {info.version}" in text
    assert f"model version **{info.version}**" in text  # the status line, drawn by the frame
    assert text.count("Scoring service reachable") == 1
    assert f"**{info.threshold.value * 100:.1f}%** or more" in text
    assert "earn the most money" in text
    table = _table(at, "What it means")
    assert "Leavers caught" in table["Measure"].tolist()


def test_ui_model_page_when_the_api_is_down(
    monkeypatch: pytest.MonkeyPatch, closed_port_url: str
) -> None:
    at = _app(monkeypatch, closed_port_url, CONNECT_RETRIES="0").run()
    at.switch_page("app_pages/model.py").run()
    assert not at.exception
    assert "Could not load the model details" in _texts(at)
