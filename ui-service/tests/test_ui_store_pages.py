"""The customer-store pages (Call list, Customer) through AppTest against a small fake store API
served over HTTP in this process (store_fakes): navigation with and without a store, filters,
budget and paging sent as the API expects, opening a customer, the what-if, and each error.
Quick, but the fake listens on a port, so it is an integration test; the pages against a live
`churn-api` with a populated store are in test_ui_browser.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from store_fakes import STORE_DOWN_ID, FakeStore, prediction, sample_customers, serve_store
from streamlit.testing.v1 import AppTest

import churn_ui

APP = str(Path(churn_ui.__file__).with_name("app.py"))
pytestmark = pytest.mark.integration


@pytest.fixture
def store() -> FakeStore:
    return FakeStore(sample_customers())


@pytest.fixture
def store_url(store: FakeStore) -> Iterator[str]:
    with serve_store(store) as url:
        yield url


def _app(monkeypatch: pytest.MonkeyPatch, url: str) -> AppTest:
    monkeypatch.setenv("API_BASE_URL", url)
    monkeypatch.setenv("CONNECT_RETRIES", "0")
    for name in ("API_TOKEN", "API_PREDICT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return AppTest.from_file(APP, default_timeout=60)


def _texts(at: AppTest) -> str:
    kinds = ("markdown", "caption", "error", "warning", "info", "success")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def _list_queries(store: FakeStore) -> list[dict[str, str]]:
    """The query strings of every `GET /customers` the UI sent, in order."""
    return [
        {k: v[-1] for k, v in parse_qs(urlsplit(target).query).items()}
        for method, target, _ in store.requests
        if method == "GET" and urlsplit(target).path == "/customers"
    ]


def test_ui_call_list_comes_first_when_the_api_has_a_store(
    monkeypatch: pytest.MonkeyPatch, store: FakeStore, store_url: str
) -> None:
    at = _app(monkeypatch, store_url).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Call list"]  # the default page
    frame = at.dataframe[0].value
    assert list(frame["Rank"]) == list(range(1, 13))
    expected = sorted(store.rows(), key=lambda r: -r["expected_value"])
    assert list(frame["Customer ID"]) == [r["customer_id"] for r in expected]
    assert list(frame["Expected value"]) == [r["expected_value"] for r in expected]
    assert frame["Top reason"].str.contains("raises the risk|lowers the risk").all()
    assert _list_queries(store)[-1] == {"limit": "50", "offset": "0", "sort": "expected_value"}
    text = _texts(at)
    assert "customer store connected" in text and "Customers 1–12 of 12" in text
    assert "Calling the top **" in text  # the best k of the profit curve
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")


@pytest.mark.parametrize("state", ["not configured", None])
def test_ui_store_pages_are_hidden_without_a_store(
    monkeypatch: pytest.MonkeyPatch, store: FakeStore, store_url: str, state: str | None
) -> None:
    # None: an API from before the store, whose readiness has no `store` field at all.
    store.state = "not configured"
    if state is None:
        original = store.answer
        monkeypatch.setattr(
            store,
            "answer",
            lambda m, t, b: (
                (200, {"ready": True, "model_version": "7"})
                if t == "/health/ready"
                else original(m, t, b)
            ),
        )
    at = _app(monkeypatch, store_url).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Score a customer"]
    assert not _list_queries(store)
    with pytest.raises(Exception, match="call_list"):
        at.switch_page("app_pages/call_list.py").run()


def test_ui_call_list_filters_sort_budget_and_pages(
    monkeypatch: pytest.MonkeyPatch, store: FakeStore, store_url: str
) -> None:
    at = _app(monkeypatch, store_url).run()
    at.radio(key="cl_sort").set_value("churn_probability").run()
    frame = at.dataframe[0].value
    probabilities = list(frame["Churn probability"])
    assert probabilities == sorted(probabilities, reverse=True)

    at.selectbox(key="cl_band").set_value("high")
    at.selectbox(key="cl_contract").set_value("Month-to-month")
    at.number_input(key="cl_min_tenure").set_value(0)
    at.number_input(key="cl_max_tenure").set_value(40).run()
    assert not at.exception
    assert _list_queries(store)[-1] == {
        "limit": "50",
        "offset": "0",
        "sort": "churn_probability",
        "band": "high",
        "contract": "Month-to-month",
        "min_tenure": "0",
        "max_tenure": "40",
    }
    assert set(at.dataframe[0].value["Risk band"]) == {"High risk"}

    at.selectbox(key="cl_band").set_value("All")
    at.selectbox(key="cl_contract").set_value("All")
    at.number_input(key="cl_min_tenure").set_value(None)
    at.number_input(key="cl_max_tenure").set_value(None)
    at.radio(key="cl_budget_mode").set_value("calls").run()
    at.number_input(key="cl_budget_calls").set_value(3).run()
    frame = at.dataframe[0].value
    assert list(frame["In budget"]) == [True] * 3 + [False] * 9
    assert _list_queries(store)[-1]["budget_calls"] == "3"
    assert "The budget pays for the top **3** calls ($30.00)" in _texts(at)

    at.radio(key="cl_budget_mode").set_value("amount").run()
    at.number_input(key="cl_budget_amount").set_value(55.5).run()
    assert _list_queries(store)[-1]["budget_amount"] == "55.5"

    at.selectbox(key="cl_size").set_value(25).run()
    at.number_input(key="call_list_page").set_value(2).run()
    assert _list_queries(store)[-1]["offset"] == "25"
    assert "This list has 1 page(s)" in _texts(at)
    # Another filter starts again at page 1.
    at.selectbox(key="cl_band").set_value("low").run()
    assert _list_queries(store)[-1]["offset"] == "0"


def test_ui_call_list_shows_the_field_the_api_refused(
    monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    at = _app(monkeypatch, store_url).run()
    at.number_input(key="cl_min_tenure").set_value(30)
    at.number_input(key="cl_max_tenure").set_value(10).run()
    assert not at.exception
    errors = [str(e.value) for e in at.error]
    assert "Could not load the call list. Some of the input was not accepted:" in errors
    assert "**Min tenure (min_tenure)**: must be <= max_tenure" in _texts(at)


def test_ui_call_list_opens_a_customer_with_its_reasons(
    monkeypatch: pytest.MonkeyPatch, store: FakeStore, store_url: str
) -> None:
    at = _app(monkeypatch, store_url).run()
    at.selectbox(key="cl_pick").set_value("C-003")
    at.button(key="cl_open").click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Customer"]
    assert at.query_params["customer"] in ("C-003", ["C-003"])
    scored = prediction("C-003", store.customers["C-003"])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Churn probability"] == f"{scored['churn_probability'] * 100:.1f}%"
    assert metrics["Risk band"] == "High risk"
    text = _texts(at)
    assert "Contract: Month-to-month raises the risk" in text
    assert "Months as a customer: 21 months lowers the risk" in text
    history = next(d.value for d in at.dataframe if "Snapshot" in d.value.columns)
    assert list(history["Model version"]) == ["7", "6"]


def _customer_page(monkeypatch: pytest.MonkeyPatch, url: str, customer_id: str) -> AppTest:
    at = _app(monkeypatch, url)
    at.query_params["customer"] = customer_id
    at.run()
    return at.switch_page("app_pages/customer.py").run()


def test_ui_customer_what_if_sends_only_the_changed_fields(
    monkeypatch: pytest.MonkeyPatch, store: FakeStore, store_url: str
) -> None:
    at = _customer_page(monkeypatch, store_url, "C-003")
    assert not at.exception
    prefix = next(w.key for w in at.selectbox if w.key and w.key.endswith("_Contract"))[:-8]
    assert at.selectbox(key=prefix + "Contract").value == "Month-to-month"  # as stored
    assert at.number_input(key=prefix + "tenure").value == 21
    at.button(key="FormSubmitter:whatif_form-Score the what-if").click().run()
    assert "Nothing changed yet" in _texts(at)

    at.selectbox(key=prefix + "Contract").set_value("Two year")
    at.button(key="FormSubmitter:whatif_form-Score the what-if").click().run()
    assert not at.exception
    posts = [(t, b) for m, t, b in store.requests if m == "POST"]
    assert posts == [("/customers/C-003/predict", {"Contract": "Two year"})]
    base = prediction("C-003", store.customers["C-003"])["churn_probability"]
    changed = prediction("C-003", {**store.customers["C-003"], "Contract": "Two year"})
    metrics = {m.label: m for m in at.metric}
    after = metrics["Churn probability with the change"]
    assert metrics["Churn probability as stored"].value == f"{base * 100:.1f}%"
    assert after.value == f"{changed['churn_probability'] * 100:.1f}%"
    assert after.delta == f"{(changed['churn_probability'] - base) * 100:+.1f} points"
    assert "**What if** Contract = Two year" in _texts(at)


def test_ui_customer_page_names_an_unknown_id_and_a_store_outage(
    monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    at = _customer_page(monkeypatch, store_url, "NOPE-1")
    assert not at.exception
    assert [str(e.value) for e in at.error] == ["No customer with customerID 'NOPE-1'"]
    # An ID from a crafted link is shown as text, never as a link.
    at = _customer_page(monkeypatch, store_url, "[pay](https://x.test)")
    assert [str(e.value) for e in at.error] == [
        "No customer with customerID '\\[pay\\]\\(https\\://x.test\\)'"
    ]

    at = _customer_page(monkeypatch, store_url, STORE_DOWN_ID)
    warnings = [str(w.value) for w in at.warning]
    assert any(
        w.startswith("Could not load this customer. The customer store is unavailable")
        and "the database went away" in w
        for w in warnings
    ), warnings

    at = _customer_page(monkeypatch, store_url, "x" * 65)
    assert [str(e.value) for e in at.error] == [
        "Customer ID: A customer ID has at most 64 characters."
    ]


def test_ui_store_outage_keeps_the_pages_and_says_so(
    monkeypatch: pytest.MonkeyPatch, store: FakeStore, store_url: str
) -> None:
    store.state = "unavailable"
    at = _app(monkeypatch, store_url).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Call list"]
    warnings = [str(w.value) for w in at.warning]
    assert any(w.startswith("The customer store is unavailable right now") for w in warnings)
    assert any(
        w.startswith("Could not load the call list. The customer store is") for w in warnings
    )


def test_ui_customer_lookup_by_typed_id_goes_into_the_url(
    monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    at = _app(monkeypatch, store_url).run()
    at.switch_page("app_pages/customer.py").run()
    assert "Type a customer ID and press **Look up**." in _texts(at)
    at.text_input[0].input("  C-003 ")
    at.button(key="FormSubmitter:customer_lookup-Look up").click().run()
    assert not at.exception
    assert at.query_params["customer"] in ("C-003", ["C-003"])
    assert [h.value for h in at.header] == ["Customer C-003"]
    assert "Customer value $582.00 (estimated as 12 × monthly charges)." in _texts(at)


def test_ui_call_list_is_as_left_after_visiting_a_customer(
    monkeypatch: pytest.MonkeyPatch, store: FakeStore, store_url: str
) -> None:
    at = _app(monkeypatch, store_url).run()
    at.selectbox(key="cl_band").set_value("high")
    at.selectbox(key="cl_size").set_value(25)
    at.radio(key="cl_budget_mode").set_value("calls").run()
    at.number_input(key="cl_budget_calls").set_value(2).run()
    at.selectbox(key="cl_pick").set_value("C-003")
    at.button(key="cl_open").click().run()
    assert [t.value for t in at.title] == ["Customer"]
    at.switch_page("app_pages/call_list.py").run()
    assert not at.exception
    assert at.selectbox(key="cl_band").value == "high"
    assert at.selectbox(key="cl_size").value == 25
    assert at.number_input(key="cl_budget_calls").value == 2
    query = _list_queries(store)[-1]
    assert (query["band"], query["limit"], query["budget_calls"]) == ("high", "25", "2")
    assert not [w for w in at.warning if "Session State" in str(w.value)]
