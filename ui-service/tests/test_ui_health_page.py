"""The Model health page through AppTest against the fake store API with its monitoring routes
(health_fakes, over HTTP in this process): shown only with a store, drift and performance drawn
from the API's answers, each empty state, and each failure in plain words. The page against a
live `churn-api` whose store `churn-score run` filled is in test_ui_browser.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from health_fakes import APP, HEALTH_PAGE, HealthStore, open_health_page, page_texts
from store_fakes import sample_customers, serve_store
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.integration


@pytest.fixture
def store() -> HealthStore:
    return HealthStore(sample_customers(3))


@pytest.fixture
def store_url(store: HealthStore) -> Iterator[str]:
    with serve_store(store) as url:
        yield url


def _chart_data(at: AppTest) -> list[str]:
    """The text of each chart's datasets (Arrow bytes hold their strings as they are)."""
    return [
        "".join(d.data.data.decode("utf-8", "replace") for d in c.proto.datasets)
        for c in at.get("vega_lite_chart")
    ]


def _charts(at: AppTest) -> list[str]:
    """Each chart's Vega-Lite spec and the text of its datasets."""
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    return [spec + data for spec, data in zip(specs, _chart_data(at), strict=True)]


def _monitoring_paths(store: HealthStore) -> list[str]:
    return [t for _, t, _ in store.requests if t.startswith("/monitoring/")]


def test_ui_model_health_draws_drift_score_and_performance(
    monkeypatch: pytest.MonkeyPatch, store: HealthStore, store_url: str
) -> None:
    at = open_health_page(monkeypatch, store_url)
    assert not at.exception
    assert [t.value for t in at.title] == ["Model health"]
    assert _monitoring_paths(store) == [
        "/monitoring/drift?runs=20",
        "/monitoring/models",
        "/monitoring/performance",
    ]
    text = page_texts(at)
    assert "**Serving:** version **7** of telco-churn" in text
    assert "**Champion:** version **7**, champion since 02 October 2026, 08:00 UTC." in text
    assert (
        "**Versions that scored the customer base** (the last 2 runs): version 7: 2 scoring "
        "run(s), 2026-11-23 08:00 UTC to 2026-11-30 08:00 UTC." in text
    )
    assert "**1 field(s) drifted** (PSI over 0.2): Contract." in text
    assert "**The score distribution drifted** (PSI 0.120)." in text
    assert "against the run of 2026-11-30 08:00 UTC (score PSI 0.120)" in text
    warnings = [str(w.value) for w in at.warning]
    assert any("ROC-AUC **0.760** against 0.845" in w for w in warnings), warnings
    assert "Over every month: version 7: ROC-AUC 0.780 on 2,300 customers." in text
    charts = _charts(at)
    assert len(charts) == 4  # latest run's drift, drift over runs, score distribution, performance
    for drift in charts[:2]:
        assert "drift (0.2)" in drift and "watch (0.1)" in drift
    assert "Over the last 2 scoring runs" in text
    assert "Training reference" in charts[2] and "Scoring run" in _chart_data(at)[2]
    assert "training holdout (0.845)" in charts[3]
    fields = next(d.value for d in at.dataframe if "PSI" in d.value.columns)
    assert list(fields["Field"])[:2] == ["Contract", "Monthly charges"]
    performance = next(d.value for d in at.dataframe if "Month" in d.value.columns)
    assert list(performance["Month"]) == ["2026-11", "2026-10", "2026-09"]

    at.radio(key="mh_metric").set_value("Brier score").run()
    assert not at.exception
    assert "Brier score" in _charts(at)[3] and "training holdout (0.135)" in _charts(at)[3]


def test_ui_model_health_empty_states(
    monkeypatch: pytest.MonkeyPatch, store: HealthStore, store_url: str
) -> None:
    store.runs, store.performance, store.reference_score = [], [], None
    at = open_health_page(monkeypatch, store_url)
    assert not at.exception
    infos = [str(i.value) for i in at.info]
    assert any(i.startswith("No scoring run yet") and "churn-score run" in i for i in infos)
    assert any(
        i.startswith("No outcomes ingested yet") and "churn-score outcomes --labels" in i
        for i in infos
    ), infos
    assert not _charts(at)


def test_ui_model_health_without_reference_or_score_shares(
    monkeypatch: pytest.MonkeyPatch, store: HealthStore, store_url: str
) -> None:
    store.runs = [{k: v for k, v in r.items() if k != "score_frequencies"} for r in store.runs[:1]]
    at = open_health_page(monkeypatch, store_url)
    text = page_texts(at)
    assert "No scoring run of the served model (version 7) carries" in text
    assert "One scoring run so far: the trend over runs appears from the second." in text
    assert "**Versions that scored the customer base** (the latest run): version 7" in text
    data = _chart_data(at)[1]
    assert "Training reference" in data and "Scoring run" not in data

    store.reference_score = None
    at = open_health_page(monkeypatch, store_url)
    assert any("carries no training reference" in str(i.value) for i in at.info)


def test_ui_model_health_says_what_failed(
    monkeypatch: pytest.MonkeyPatch, store: HealthStore, store_url: str
) -> None:
    store.monitoring = False  # an API from before the monitoring routes
    at = open_health_page(monkeypatch, store_url)
    assert not at.exception
    errors = [str(e.value) for e in at.error]
    assert errors == [
        "Could not load the drift reports. The scoring service has no monitoring pages: it "
        "may be an older version without them.",
        "Could not load the realized performance. The scoring service has no monitoring "
        "pages: it may be an older version without them.",
    ]
    # The champion is still shown: it comes from GET /model.
    assert "**Serving:** version **7**" in page_texts(at)

    store.monitoring, store.state = True, "unavailable"
    at = open_health_page(monkeypatch, store_url)
    warnings = [str(w.value) for w in at.warning]
    assert any(
        w.startswith("Could not load the drift reports. The customer store") for w in warnings
    )


def test_ui_model_health_is_hidden_without_a_store(
    monkeypatch: pytest.MonkeyPatch, store: HealthStore, store_url: str
) -> None:
    store.state = "not configured"
    monkeypatch.setenv("API_BASE_URL", store_url)
    monkeypatch.setenv("CONNECT_RETRIES", "0")
    at = AppTest.from_file(APP, default_timeout=60).run()
    with pytest.raises(Exception, match="model_health"):
        at.switch_page(HEALTH_PAGE).run()
    assert not _monitoring_paths(store)
