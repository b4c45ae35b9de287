"""The routes in process: create_app() on the tiny bundle, called through FastAPI's TestClient.

No socket is opened: TestClient calls the ASGI app directly (as fastapi/full-stack-fastapi-template
tests do), lifespan included, so the model loads in the background as in the service.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from churn_api.main import create_app
from churn_api.responses import BatchResponse, ModelInfo, Prediction
from churn_api.security import mint_token
from churn_api.settings import Settings

SECRET = "unit-test-secret-unit-test-secret-0123"  # the UI's: predict only
ADMIN_KEY = ec.generate_private_key(ec.SECP256R1())  # an operator's
ADMIN_PEM = (
    ADMIN_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
TRUSTED: list[str] = []  # the tiny bundle's public key, set by the autouse fixture below


@pytest.fixture(autouse=True, scope="module")
def _trust_the_tiny_bundle(trusted_pem: str) -> None:
    TRUSTED[:] = [trusted_pem]


MAX_ROWS = 50


def _client(settings: Settings, ready: bool = True) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while ready and client.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline, client.get("/health/ready").json()
            time.sleep(0.02)
        yield client


def _settings(
    tmp: Path, model_uri: Path, secret: str | None, pem: str | None = None, **more: Any
) -> Settings:
    return Settings(
        model_uri=str(model_uri),
        jwt_predict_secret=secret,
        jwt_admin_public_keys=ADMIN_PEM if secret else None,
        churn_dev_mode=secret is None,
        model_public_keys=pem or TRUSTED[0],
        model_public_keys_file=None,
        model_cache_dir=tmp / "cache",
        model_refresh_seconds=0,
        model_retry_seconds=0.05,
        max_batch_rows=MAX_ROWS,
        **{"allow_unsigned_models": False, **more},
    )


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[TestClient]:
    """The app with auth on (as deployed), serving the tiny bundle."""
    yield from _client(_settings(tmp_path_factory.mktemp("secured"), tiny_model_dir, SECRET))


@pytest.fixture(scope="module")
def open_app(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[TestClient]:
    """The app with auth off (CHURN_DEV_MODE and no token key)."""
    yield from _client(_settings(tmp_path_factory.mktemp("open"), tiny_model_dir, None))


def _h(*scopes: str) -> dict[str, str]:
    """Admin tokens from the operator's key; predict-only ones from the UI's secret."""
    key = ADMIN_KEY if "admin" in scopes else SECRET
    return {"Authorization": f"Bearer {mint_token(key, list(scopes), 60, 'unit')}"}


def _golden(model_dir: Path) -> dict[str, Any]:
    return json.loads(next(model_dir.rglob("golden_examples.json")).read_text())  # type: ignore[no-any-return]


def test_liveness_readiness_and_model_info(secured: TestClient, tiny_model_dir: Path) -> None:
    live = secured.get("/")
    assert live.status_code == 200
    assert live.json() == {"service": "telco-churn-api", "version": "0.1.0", "status": "ok"}
    assert live.headers["x-request-id"]
    ready = secured.get("/health/ready").json()
    assert ready["ready"] is True
    assert ready["model_version"].startswith("local-")
    assert ready["dev_mode"] is False  # a guarded API says so on every probe
    r = secured.get("/model")
    assert r.status_code == 200
    info = ModelInfo.model_validate(r.json()).model_dump()
    contract = json.loads(next(tiny_model_dir.rglob("feature_contract.json")).read_text())
    assert info["version"] == ready["model_version"]
    assert (info["source"], info["alias"], info["stale"], info["degraded"]) == (
        "local",
        None,
        False,
        False,
    )
    assert info["signature"] == "verified"
    assert "run_id" not in r.json()
    assert info["threshold"] == contract["threshold"] | {"f1_optimal": None}
    assert info["metrics"] == contract["metrics"]
    assert info["trained_at"] == contract["training"]["trained_at"]
    assert [f["name"] for f in info["input_schema"]["fields"]] == [
        f["name"] for f in contract["fields"]
    ]


def test_predict_reproduces_the_golden_examples(secured: TestClient, tiny_model_dir: Path) -> None:
    for ex in _golden(tiny_model_dir)["examples"]:
        r = secured.post("/predict", json=ex["input"], headers=_h("predict"))
        assert r.status_code == 200, r.text
        body = Prediction.model_validate(r.json()).model_dump()
        assert abs(body["churn_probability"] - ex["probability"]) <= 1e-6
        assert body["customerID"] == ex["input"]["customerID"]
        assert body["reasons"] is None
    r = secured.post("/predict?explain=true", json={"tenure": 2}, headers=_h("predict"))
    assert len(r.json()["reasons"]) == 5


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b'{"Contract": "Monthly"}', "Contract", "'Month-to-month', 'One year' or 'Two year'"),
        (b'{"Contarct": "One year"}', "Contarct", "did you mean 'Contract'"),
        (b'{"tenure": -1}', "tenure", "greater than or equal to 0"),
        (b'{"MonthlyCharges": NaN}', "MonthlyCharges", "finite"),
        (b'{"tenure": ', "body", "Invalid JSON"),
    ],
)
def test_bad_body_is_422_naming_the_field(
    secured: TestClient, body: bytes, field: str, words: str
) -> None:
    r = secured.post("/predict", content=body, headers=_h("predict"))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail[0]["field"] == field
    assert words in detail[0]["message"]


def test_bad_query_parameters_are_422(secured: TestClient) -> None:
    r = secured.post("/predict?explain=maybe", json={}, headers=_h("predict"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "explain"
    r = secured.post("/predict/batch?sort=up", json={"customers": [{}]}, headers=_h("predict"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "sort"


def test_batch_answers_every_row(secured: TestClient, tiny_model_dir: Path) -> None:
    golden = _golden(tiny_model_dir)["examples"]
    rows = [ex["input"] for ex in golden] + [{"tenure": "x"}]
    r = secured.post("/predict/batch?sort=risk", json={"customers": rows}, headers=_h("predict"))
    assert r.status_code == 200, r.text
    body = BatchResponse.model_validate(r.json()).model_dump()
    assert (body["count"], body["succeeded"], body["failed"]) == (6, 5, 1)
    for result in body["results"][:5]:
        expected = golden[result["row"]]["probability"]
        assert abs(result["prediction"]["churn_probability"] - expected) <= 1e-6
    assert body["results"][5]["row"] == 5
    assert body["results"][5]["errors"][0]["field"] == "tenure"
    r = secured.post("/predict/batch", json={"customers": []}, headers=_h("predict"))
    assert r.status_code == 422
    too_many = {"customers": [{}] * (MAX_ROWS + 1)}
    r = secured.post("/predict/batch", json=too_many, headers=_h("predict"))
    assert r.status_code == 422
    assert f"between 1 and {MAX_ROWS} items" in r.json()["detail"][0]["message"]


def test_auth_on_401_403_and_open_routes(secured: TestClient) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer not.a.jwt"}):
        r = secured.post("/predict", json={}, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["detail"][0]["field"] == "Authorization"
    r = secured.post("/predict/batch", json={"customers": [{}]}, headers=_h("admin"))
    assert r.status_code == 403
    assert "www-authenticate" not in r.headers
    # The token is checked before the parameters and the body.
    assert secured.post("/predict?explain=maybe", content=b"{").status_code == 401
    assert secured.post("/admin/reload", headers=_h("predict")).status_code == 403
    ui_admin = mint_token(SECRET, ["predict", "admin"], 60, "ui", issuer="churn-ui")
    r = secured.post("/admin/reload", headers={"Authorization": f"Bearer {ui_admin}"})
    assert r.status_code == 403 and "not trusted for the 'admin' scope" in r.text
    r = secured.post("/admin/reload", headers=_h("admin"))
    assert r.status_code == 200
    assert r.json()["reloaded"] is True
    for path in ("/", "/health/ready", "/model", "/metrics", "/openapi.json"):
        assert secured.get(path).status_code == 200, path


def test_auth_off_opens_every_route(open_app: TestClient) -> None:
    assert open_app.post("/predict", json={"tenure": 3}).status_code == 200
    assert open_app.post("/predict/batch", json={"customers": [{}]}).status_code == 200
    assert open_app.post("/admin/reload").status_code == 200


def test_metrics_count_requests_and_predictions(open_app: TestClient) -> None:
    open_app.post("/predict", json={"tenure": 3})
    open_app.post("/predict/batch", json={"customers": [{"tenure": 3}, {"tenure": -3}]})
    text = open_app.get("/metrics").text
    assert 'churn_api_requests_total{method="POST",route="/predict",status="200"}' in text
    assert "churn_api_model_ready 1.0" in text
    assert 'churn_api_batch_rows_total{outcome="error"}' in text
    assert "churn_api_churn_probability_count" in text
    assert "churn_api_predictions_total{band=" in text


def test_request_series_count_every_request_past_the_cached_children(
    open_app: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from churn_api import middleware

    def count(text: str, route: str, status: int, method: str = "GET") -> float:
        line = f'churn_api_requests_total{{method="{method}",route="{route}",status="{status}"}} '
        found = [row for row in text.splitlines() if row.startswith(line)]
        return float(found[0].split()[-1]) if found else 0.0

    before = open_app.get("/metrics").text
    monkeypatch.setattr(middleware, "MAX_CACHED_SERIES", 0)  # nothing cached from here on
    for _ in range(3):
        open_app.get("/model")
        open_app.get("/no-such-route")
    monkeypatch.undo()
    for _ in range(2):
        open_app.get("/model")
    after = open_app.get("/metrics").text
    assert count(after, "/model", 200) - count(before, "/model", 200) == 5
    assert count(after, "(unmatched)", 404) - count(before, "(unmatched)", 404) == 3


def test_openapi_documents_the_model_and_the_hand_checked_inputs(secured: TestClient) -> None:
    schema = secured.get("/openapi.json").json()
    components = schema["components"]
    assert components["securitySchemes"]["bearer"]["scheme"] == "bearer"
    contract_enum = components["schemas"]["Customer"]["properties"]["Contract"]["anyOf"][0]
    assert contract_enum["enum"] == ["Month-to-month", "One year", "Two year"]
    assert components["schemas"]["BatchRequest"]["properties"]["customers"]["maxItems"] == MAX_ROWS
    predict = schema["paths"]["/predict"]["post"]
    assert [p["name"] for p in predict["parameters"]] == ["explain"]
    assert predict["security"] == [{"bearer": []}]
    batch = schema["paths"]["/predict/batch"]["post"]
    assert [p["name"] for p in batch["parameters"]] == ["explain", "sort"]
    example = batch["requestBody"]["content"]["application/json"]["examples"]["three_rows"]
    r = secured.post("/predict/batch", json=example["value"], headers=_h("predict"))
    assert r.json()["succeeded"] == 3


def test_no_model_yet_is_503_but_alive(tmp_path: Path) -> None:
    settings = _settings(tmp_path, tmp_path / "no-such-model", None)
    for client in _client(settings, ready=False):
        assert client.get("/").status_code == 200
        r = client.get("/health/ready")
        assert r.status_code == 503
        assert r.json()["ready"] is False
        assert r.json()["dev_mode"] is settings.churn_dev_mode
        assert "does not exist" in r.json()["detail"]
        assert str(tmp_path) not in r.text  # no internal path to unauthenticated callers
        assert str(tmp_path) not in client.post("/predict", json={}).text
        assert client.post("/predict", json={}).status_code == 503
        assert client.get("/model").status_code == 503
        customers = client.get("/openapi.json").json()["components"]["schemas"]["BatchRequest"]
        assert customers["properties"]["customers"]["maxItems"] == MAX_ROWS


def test_unsigned_bundle_is_refused_unless_allowed_and_then_reported(
    tmp_path: Path, tiny_model_dir: Path, bundle_tools: dict[str, Any]
) -> None:
    model = bundle_tools["write_bundle"](tmp_path / "unsigned", key=None)
    for client in _client(_settings(tmp_path / "a", model, None), ready=False):
        deadline = time.monotonic() + 10
        while "unsigned" not in str(client.get("/health/ready").json()["detail"]):
            assert time.monotonic() < deadline, client.get("/health/ready").json()
            time.sleep(0.02)
        assert client.post("/predict", json={}).status_code == 503
    lax = _settings(tmp_path / "b", model, None, allow_unsigned_models=True)
    for client in _client(lax):
        info = client.get("/model").json()
        assert (info["signature"], info["signed_by"], info["degraded"]) == (
            "unchecked",
            None,
            False,
        )
        r = client.post("/admin/reload").json()
        assert (r["signature"], r["degraded"]) == ("unchecked", False)
        assert "churn_model_degraded 0.0" in client.get("/metrics").text


def test_large_and_hostile_bodies_over_http(open_app: TestClient) -> None:
    padded = b'{"tenure": 3' + b" " * 20_000 + b"}"
    assert open_app.post("/predict", content=padded).status_code == 200
    hostile = json.dumps({f"k{i}": 0 for i in range(100_000)}).encode()
    start = time.monotonic()
    r = open_app.post("/predict", content=hostile)
    assert time.monotonic() - start < 1
    assert r.status_code == 422
    assert len(r.content) < 1000
    r = open_app.post("/predict/batch", content=b'{"customers":[{"gender":"\xff"}]}')
    assert r.status_code == 422
    r = open_app.post("/predict/batch", content=b'{"customers":[{"tenure":1,"x":"\xff\xfe"}]}')
    assert r.status_code == 422
    assert r.json()["detail"][0]["message"].startswith("Invalid JSON")
    r = open_app.post("/predict", json={"tenure": True})
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {"field": "tenure", "message": "Input should be a number, not a boolean"}
    ]
