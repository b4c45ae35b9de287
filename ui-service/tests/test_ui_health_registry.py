"""The registry's champion, challenger and previous champion on the Model health page: the
client's `GET /monitoring/models` (path, scope, parsing, 503/404 in plain words), the lines the
page writes (alias_lines), and the page through AppTest against the fake API (health_fakes):
each alias with since when and why, each empty state, MODEL_URI, MLflow down, an older API."""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest
import requests
from health_fakes import (
    CHALLENGER,
    CHAMPION,
    HealthStore,
    models_view,
    open_health_page,
    page_texts,
)
from store_fakes import sample_customers, serve_store
from ui_fakes import FAKE_URL, FakeTransport

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.errors import ApiNotFoundError, ApiNotReadyError
from churn_ui.api.health_models import ModelsView
from churn_ui.api.tokens import TokenSource
from churn_ui.health_view import REASON_CHARS, alias_lines

SECRET = "a-generated-looking-predict-secret-0123456789"


@pytest.fixture
def client(transport: FakeTransport) -> ChurnApiClient:
    session = requests.Session()
    session.mount("http://", transport)
    return ChurnApiClient(FAKE_URL, TokenSource(secret=SECRET), session=session, retry_backoff=0)


def test_ui_client_reads_the_registry_aliases(
    client: ChurnApiClient, transport: FakeTransport
) -> None:
    transport.answers.append((200, models_view() | {"something_new": 1}))
    view = client.models()
    (sent,) = transport.sent
    assert (sent.method, sent.path_url) == ("GET", "/monitoring/models")
    token = sent.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="churn-api")
    assert "customers" in claims["scope"].split()
    assert view.served is not None and view.served.version == "7"
    assert view.aliases is not None
    assert view.aliases.champion is not None and view.aliases.champion.since == CHAMPION["since"]
    assert view.aliases.challenger is not None and view.aliases.challenger.version == "8"
    previous = view.aliases.previous_champion
    assert previous is not None and (previous.version, previous.replaced_by) == ("6", "7")


def test_ui_client_says_the_registry_is_down_not_the_model(
    client: ChurnApiClient, transport: FakeTransport
) -> None:
    transport.answers.append((503, {"detail": "MLflow model registry unavailable: refused"}))
    with pytest.raises(ApiNotReadyError) as caught:
        client.models()
    assert "MLflow model registry" in caught.value.message
    assert "no model loaded" not in caught.value.message
    transport.answers.append((404, {"detail": "Not Found"}))
    with pytest.raises(ApiNotFoundError):
        client.models()


def test_alias_lines_with_every_alias() -> None:
    lines = alias_lines(ModelsView.model_validate(models_view()))
    assert lines == [
        "**Champion:** version **7**, champion since 02 October 2026, 08:00 UTC. Why: ROC-AUC "
        "0.845 beats the champion's 0.831 by 0.014 \\(at least 0.005\\)",
        "**Challenger:** version **8**, challenger since 16 November 2026, 06:30 UTC. Why: worse "
        "than the champion\\: ROC-AUC 0.812 \\< 0.845 - 0.005",
        "**Previous champion:** version **6**, replaced by version 7 on 02 October 2026, "
        "08:00 UTC.",
    ]


def test_alias_lines_empty_states_and_untagged_versions() -> None:
    untagged = {"version": "3", "since": None, "reason": None, "created_at": None}
    view = ModelsView.model_validate(models_view(untagged, None, None))
    assert alias_lines(view) == [
        "**Champion:** version **3**, champion since: not recorded. Why: no reason recorded",
        "**Challenger:** none: the promotion gate has not turned down a trained model.",
        "**Previous champion:** none: the champion has not been replaced yet.",
    ]
    nothing = ModelsView.model_validate(models_view(None, None, None))
    assert alias_lines(nothing)[0] == "**Champion:** none: no version holds `champion`."
    local = ModelsView.model_validate(
        {"model_name": "telco-churn", "registry": "not used (MODEL_URI)", "aliases": None}
    )
    assert alias_lines(local) == []


def test_alias_lines_cut_long_reasons_and_show_markup_literally() -> None:
    long = CHALLENGER | {"reason": "[click](http://x) " + "y" * 5000}
    line = alias_lines(ModelsView.model_validate(models_view(challenger=long)))[1]
    assert "\\[click\\]\\(http\\:" in line and line.endswith("…")
    assert len(line) < REASON_CHARS + 150


# -- the page -------------------------------------------------------------------------------


@pytest.fixture
def store() -> HealthStore:
    return HealthStore(sample_customers(3))


@pytest.fixture
def store_url(store: HealthStore) -> Iterator[str]:
    with serve_store(store) as url:
        yield url


@pytest.mark.integration
def test_ui_model_health_shows_champion_challenger_and_previous(
    monkeypatch: pytest.MonkeyPatch, store: HealthStore, store_url: str
) -> None:
    at = open_health_page(monkeypatch, store_url)
    assert not at.exception
    text = page_texts(at)
    assert "- **Champion:** version **7**, champion since 02 October 2026, 08:00 UTC." in text
    assert "**Challenger:** version **8**, challenger since 16 November 2026, 06:30 UTC." in text
    assert "**Previous champion:** version **6**, replaced by version 7 on 02 October" in text
    assert "not report the challenger" not in text
    assert ("GET", "/monitoring/models", None) in store.requests


@pytest.mark.integration
def test_ui_model_health_registry_empty_states(
    monkeypatch: pytest.MonkeyPatch, store: HealthStore, store_url: str
) -> None:
    store.models = models_view(CHAMPION, None, None)
    text = page_texts(open_health_page(monkeypatch, store_url))
    assert "**Challenger:** none: the promotion gate has not turned down" in text
    assert "**Previous champion:** none: the champion has not been replaced yet." in text

    store.models = {"model_name": "telco-churn", "registry": "not used (MODEL_URI)",
                    "served": {"version": "local-1", "alias": None, "degraded": False},
                    "aliases": None}  # fmt: skip
    text = page_texts(open_health_page(monkeypatch, store_url))
    assert "local model folder (MODEL_URI)" in text and "**Champion:**" not in text

    store.models = models_view() | {"served": {"version": "6", "alias": "previous-champion",
                                               "degraded": True}}  # fmt: skip
    at = open_health_page(monkeypatch, store_url)
    assert any("Serving version 6 as a fallback" in str(w.value) for w in at.warning)


@pytest.mark.integration
def test_ui_model_health_registry_failures_in_plain_words(
    monkeypatch: pytest.MonkeyPatch, store: HealthStore, store_url: str
) -> None:
    store.models = "down"
    at = open_health_page(monkeypatch, store_url)
    assert not at.exception
    warnings = [str(w.value) for w in at.warning]
    assert any(
        w.startswith("Could not load the registry's champion and challenger. The scoring "
                     "service cannot reach the MLflow model registry") for w in warnings
    ), warnings  # fmt: skip
    # The rest of the page still draws.
    assert "**1 field(s) drifted**" in page_texts(at)

    store.models = None  # an API from before GET /monitoring/models
    at = open_health_page(monkeypatch, store_url)
    assert not at.exception and not at.error
    assert "does not report the registry's champion and challenger" in page_texts(at)
