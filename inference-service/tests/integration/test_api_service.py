"""Integration: the real `churn-api` process on the model trained by the training package."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

pytestmark = pytest.mark.integration


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _golden(model_dir: Path) -> dict[str, Any]:
    return json.loads(next(model_dir.rglob("golden_examples.json")).read_text())


def test_liveness_readiness_and_model_info(secured_api: Any, trained_model_dir: Path) -> None:
    assert requests.get(secured_api.url + "/").json() == {
        "service": "telco-churn-api",
        "version": "0.1.0",
        "status": "ok",
    }
    ready = requests.get(secured_api.url + "/health/ready").json()
    assert ready["ready"] is True
    info = requests.get(secured_api.url + "/model").json()
    contract = json.loads(next(trained_model_dir.rglob("feature_contract.json")).read_text())
    assert info["version"] == ready["model_version"]
    assert info["source"] == "local"
    assert info["stale"] is False
    assert info["threshold"] == contract["threshold"]
    assert info["metrics"] == contract["metrics"]
    assert info["input_schema"]["fields"] == contract["fields"]
    assert info["trained_at"] == contract["training"]["trained_at"]


def test_golden_examples_reproduce_over_http(
    secured_api: Any, tokens: dict[str, str], trained_model_dir: Path
) -> None:
    golden = _golden(trained_model_dir)
    for ex in golden["examples"]:
        r = requests.post(
            secured_api.url + "/predict", json=ex["input"], headers=_h(tokens["predict"])
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert abs(body["churn_probability"] - ex["probability"]) <= 1e-6
        assert body["customerID"] == ex["input"].get("customerID")
        missing = [
            f["name"]
            for f in requests.get(secured_api.url + "/model").json()["input_schema"]["fields"]
            if ex["input"].get(f["name"]) in (None, "")  # a blank CSV cell is missing too
        ]
        assert body["imputed_fields"] == missing


def test_seed_example_partial_input_and_decision(
    secured_api: Any, tokens: dict[str, str], trained_model_dir: Path
) -> None:
    r = requests.post(
        secured_api.url + "/predict?explain=true",
        json={"tenure": 12, "MonthlyCharges": 70.5},
        headers=_h(tokens["predict"]),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    info = requests.get(secured_api.url + "/model").json()
    threshold = info["threshold"]
    assert "tenure" not in body["imputed_fields"]
    assert "MonthlyCharges" not in body["imputed_fields"]
    assert len(body["imputed_fields"]) == 17
    assert body["churn"] == (body["churn_probability"] >= threshold["value"])
    bands = info["risk_bands"]
    expected_band = next(b["name"] for b in bands if b["upper"] > body["churn_probability"])
    assert body["risk_band"] == expected_band
    ev = (
        body["churn_probability"]
        * threshold["offer_success_rate"]
        * threshold["saved_customer_value"]
        - threshold["offer_cost"]
    )
    assert body["expected_value"] == pytest.approx(ev)
    assert body["model"] == {"name": info["name"], "version": info["version"], "alias": None}
    assert len(body["reasons"]) == 5
    assert all(r["text"].endswith(f"{r['effect']} risk") for r in body["reasons"])
    plain = requests.post(
        secured_api.url + "/predict",
        json={"tenure": 12, "MonthlyCharges": 70.5},
        headers=_h(tokens["predict"]),
    ).json()
    assert plain["reasons"] is None
    assert plain["churn_probability"] == body["churn_probability"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ('{"Contract": "Monthly"}', "Contract", "'Month-to-month', 'One year' or 'Two year'"),
        ('{"Contarct": "One year"}', "Contarct", "did you mean 'Contract'"),
        ('{"tenure": NaN}', "tenure", "finite number"),
        ('{"MonthlyCharges": Infinity}', "MonthlyCharges", "finite number"),
        ('{"tenure": -1}', "tenure", "greater than or equal to 0"),
        ('{"tenure": "twelve"}', "tenure", "valid integer"),
        ('{"tenure": 12', "body", "Invalid JSON"),
        ("", "body", "Invalid JSON"),
        ('["tenure", 3]', "body", "object"),
        ('{"SeniorCitizen": 2}', "SeniorCitizen", "0 or 1"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    secured_api: Any, tokens: dict[str, str], body: str, field: str, words: str
) -> None:
    r = requests.post(
        secured_api.url + "/predict",
        data=body,
        headers={**_h(tokens["predict"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail[0]["field"] == field
    assert words in detail[0]["message"]


def test_bad_query_parameters_are_422(secured_api: Any, tokens: dict[str, str]) -> None:
    r = requests.post(
        secured_api.url + "/predict/batch?sort=best",
        json={"customers": [{}]},
        headers=_h(tokens["predict"]),
    )
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {"field": "sort", "message": "Input should be 'none', 'risk' or 'expected_value'"}
    ]
    # Authentication comes first: no token, no word on the parameters.
    r = requests.post(secured_api.url + "/predict?explain=maybe", json={"tenure": 3})
    assert r.status_code == 401
    # /predict reads `explain` by hand (speed); it must refuse and accept what FastAPI would.
    for value, status in (("maybe", 422), ("2", 422), ("", 422), ("YES", 200), ("0", 200)):
        r = requests.post(
            secured_api.url + f"/predict?explain={value}",
            json={"tenure": 3},
            headers=_h(tokens["predict"]),
        )
        assert r.status_code == status, (value, r.text)
        if status == 422:
            assert r.json()["detail"] == [
                {
                    "field": "explain",
                    "message": "Input should be a valid boolean, unable to interpret input",
                }
            ]
        else:
            assert (r.json()["reasons"] is not None) == (value == "YES")


def test_oversize_body_is_413(secured_api: Any, tokens: dict[str, str]) -> None:
    big = b'{"customers": [' + b",".join([b'{"tenure": 1}'] * 700_000) + b"]}"
    assert len(big) > 8 * 1024 * 1024
    r = requests.post(
        secured_api.url + "/predict/batch",
        data=big,
        headers={**_h(tokens["predict"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["detail"][0]["field"] == "body"

    def chunks() -> Any:  # no Content-Length: chunked transfer is counted too
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    r = requests.post(
        secured_api.url + "/predict/batch",
        data=chunks(),
        headers={**_h(tokens["predict"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_batch_mixed_rows_and_sorting(
    secured_api: Any, tokens: dict[str, str], dataset_records: list[dict[str, Any]]
) -> None:
    rows: list[Any] = [
        dataset_records[0],
        {"tenure": -5},
        dataset_records[1],
        {"Contarct": "One year"},
        dataset_records[2],
        "not a customer",
    ]
    r = requests.post(
        secured_api.url + "/predict/batch?explain=true",
        json={"customers": rows},
        headers=_h(tokens["predict"]),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["count"], body["succeeded"], body["failed"]) == (6, 3, 3)
    assert [x["row"] for x in body["results"]] == list(range(6))
    assert [x["ok"] for x in body["results"]] == [True, False, True, False, True, False]
    assert body["results"][1]["errors"][0]["field"] == "tenure"
    assert "did you mean 'Contract'" in body["results"][3]["errors"][0]["message"]
    for k in (0, 2, 4):
        single = requests.post(
            secured_api.url + "/predict?explain=true", json=rows[k], headers=_h(tokens["predict"])
        ).json()
        assert body["results"][k]["prediction"] == single
    ranked = requests.post(
        secured_api.url + "/predict/batch?sort=risk",
        json={"customers": rows},
        headers=_h(tokens["predict"]),
    ).json()["results"]
    probs = [x["prediction"]["churn_probability"] for x in ranked[:3]]
    assert probs == sorted(probs, reverse=True)
    assert [x["row"] for x in ranked[3:]] == [1, 3, 5]
    by_ev = requests.post(
        secured_api.url + "/predict/batch?sort=expected_value",
        json={"customers": rows},
        headers=_h(tokens["predict"]),
    ).json()
    evs = [x["prediction"]["expected_value"] for x in by_ev["results"][:3]]
    assert evs == sorted(evs, reverse=True)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"customers": []}, "customers"),
        ({"rows": [{}]}, "rows"),
        ({}, "customers"),
        ({"customers": {"a": 1}}, "customers"),
    ],
)
def test_batch_envelope_errors(
    secured_api: Any, tokens: dict[str, str], payload: Any, field: str
) -> None:
    r = requests.post(
        secured_api.url + "/predict/batch", json=payload, headers=_h(tokens["predict"])
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == field


def test_batch_limit_is_10000_rows(secured_api: Any, tokens: dict[str, str]) -> None:
    ok = requests.post(
        secured_api.url + "/predict/batch",
        json={"customers": [{}] * 10_000},
        headers=_h(tokens["predict"]),
    )
    assert ok.status_code == 200
    assert ok.json()["succeeded"] == 10_000
    over = requests.post(
        secured_api.url + "/predict/batch",
        json={"customers": [{}] * 10_001},
        headers=_h(tokens["predict"]),
    )
    assert over.status_code == 422
    assert "10000" in over.json()["detail"][0]["message"]


def test_parity_with_mlflow_pyfunc_on_every_dataset_row(
    secured_api: Any,
    tokens: dict[str, str],
    trained_model_dir: Path,
    dataset_records: list[dict[str, Any]],
) -> None:
    import mlflow.pyfunc
    import pandas as pd

    r = requests.post(
        secured_api.url + "/predict/batch",
        json={"customers": dataset_records},
        headers=_h(tokens["predict"]),
    )
    assert r.status_code == 200
    body = r.json()
    assert body["failed"] == 0
    api = [x["prediction"]["churn_probability"] for x in body["results"]]
    frame = pd.DataFrame(dataset_records)
    pyfunc = mlflow.pyfunc.load_model(str(trained_model_dir)).predict(frame)
    expected = pyfunc["churn_probability"].to_numpy()
    assert len(api) == len(expected) == 7043
    worst = max(abs(a - e) for a, e in zip(api, expected, strict=True))
    assert worst <= 1e-6
    decisions = [x["prediction"]["churn"] for x in body["results"]]
    assert decisions == pyfunc["churn"].tolist()


def test_parity_with_the_training_evaluation_on_the_holdout(
    secured_api: Any, tokens: dict[str, str], champion: Any, tmp_path: Path
) -> None:
    """The API scores every holdout customer exactly as the training job's evaluation did."""
    import pandas as pd
    from mlflow.tracking import MlflowClient

    client = MlflowClient(champion.uri)
    local = client.download_artifacts(
        champion.result["run_id"], "report/holdout_predictions.csv", str(tmp_path)
    )
    holdout = pd.read_csv(local, dtype={"customerID": str})
    expected = holdout.pop("churn_probability").tolist()
    customers = json.loads(holdout.to_json(orient="records"))
    r = requests.post(
        secured_api.url + "/predict/batch",
        json={"customers": customers},
        headers=_h(tokens["predict"]),
    )
    assert r.status_code == 200
    body = r.json()
    assert body["failed"] == 0
    assert len(expected) == 1409  # the 20 % stratified holdout of 7,043 customers
    api = [x["prediction"]["churn_probability"] for x in body["results"]]
    assert max(abs(a - e) for a, e in zip(api, expected, strict=True)) <= 1e-6


def test_auth_missing_malformed_expired_and_wrong_scope(
    secured_api: Any, tokens: dict[str, str], jwt_secret: str
) -> None:
    url = secured_api.url + "/predict"
    now = int(time.time())
    claims = {"sub": "t", "scope": "predict", "iss": "churn-ui", "aud": "churn-api", "iat": now}
    expired = jwt.encode({**claims, "iat": now - 400, "exp": now - 60}, jwt_secret)
    forged = jwt.encode({**claims, "exp": now + 60}, "another-secret-another-secret-0123456789")
    century = jwt.encode({**claims, "exp": now + 100 * 365 * 86_400}, jwt_secret)
    no_audience = jwt.encode({**claims, "aud": None, "exp": now + 60}, jwt_secret)
    unsigned = jwt.encode({**claims, "exp": now + 60}, None, algorithm="none")
    for headers in (
        {},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Token abc"},
        _h(expired),
        _h(forged),
        _h(century),
        _h(no_audience),
        _h(unsigned),
    ):
        r = requests.post(url, json={}, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert r.json()["detail"][0]["field"] == "Authorization"
    assert requests.post(url, json={}, headers=_h(tokens["admin"])).status_code == 403
    # The UI's secret never makes an admin, whatever the token claims.
    ui_admin = jwt.encode({**claims, "scope": "predict admin", "exp": now + 60}, jwt_secret)
    refused = requests.post(secured_api.url + "/admin/reload", headers=_h(ui_admin))
    assert refused.status_code == 403 and "not trusted for the 'admin'" in refused.text
    assert (
        requests.post(secured_api.url + "/admin/reload", headers=_h(tokens["predict"])).status_code
        == 403
    )
    for path in ("/", "/health/ready", "/model", "/metrics", "/docs", "/openapi.json"):
        assert requests.get(secured_api.url + path).status_code == 200, path


def test_admin_reload_and_metrics(secured_api: Any, tokens: dict[str, str]) -> None:
    version = requests.get(secured_api.url + "/model").json()["version"]
    r = requests.post(secured_api.url + "/admin/reload", headers=_h(tokens["admin"]))
    assert r.status_code == 200
    assert r.json()["reloaded"] is True
    assert r.json()["version"] == r.json()["previous_version"] == version
    requests.post(secured_api.url + "/predict", json={"tenure": 1}, headers=_h(tokens["predict"]))
    text = requests.get(secured_api.url + "/metrics").text
    assert 'churn_api_requests_total{method="POST",route="/predict",status="200"}' in text
    assert 'churn_api_requests_total{method="POST",route="/predict",status="401"}' in text
    assert (
        'churn_api_request_duration_seconds_bucket{le="0.005",method="POST",route="/predict"}'
        in text
    )
    info = f'alias="",name="telco-churn",source="local",version="{version}"'
    assert f"churn_api_model_info{{{info}}} 1.0" in text
    assert "churn_api_predictions_total{band=" in text
    assert 'churn_api_churn_probability_bucket{le="+Inf"}' in text
    count = [
        line for line in text.splitlines() if line.startswith("churn_api_churn_probability_count")
    ]
    assert float(count[0].split()[-1]) >= 1


def test_one_structured_log_line_per_request_without_customer_data(
    secured_api: Any, tokens: dict[str, str]
) -> None:
    marker = "req-marker-0001"
    requests.post(
        secured_api.url + "/predict",
        json={"customerID": "SECRET-ID-123", "tenure": 3},
        headers={**_h(tokens["predict"]), "X-Request-ID": marker},
    )
    time.sleep(0.2)
    lines = [r for r in secured_api.log_records() if r.get("request_id") == marker]
    assert len(lines) == 1
    line = lines[0]
    assert (line["route"], line["status"], line["method"]) == ("/predict", 200, "POST")
    assert isinstance(line["latency_ms"], float)
    assert line["model_version"]
    assert "SECRET-ID-123" not in secured_api.logs()


def test_openapi_examples_work(secured_api: Any, tokens: dict[str, str]) -> None:
    spec = requests.get(secured_api.url + "/openapi.json").json()
    customer = spec["components"]["schemas"]["Customer"]
    assert customer["additionalProperties"] is False
    assert "Month-to-month" in json.dumps(customer["properties"]["Contract"])
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    secured = {
        ("/predict", "post"),
        ("/predict/batch", "post"),
        ("/admin/reload", "post"),
        ("/customers", "get"),
        ("/customers/{customer_id}", "get"),
        ("/customers/{customer_id}/predict", "post"),
        ("/monitoring/drift", "get"),
        ("/monitoring/performance", "get"),
        ("/monitoring/models", "get"),
    }
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            expected = [{"bearer": []}] if (path, method) in secured else None
            assert operation.get("security") == expected, (path, method)
    flag = {"in": "query", "required": False, "schema": {"type": "boolean", "default": False}}
    assert spec["paths"]["/predict"]["post"]["parameters"] == [
        {"name": "explain", **flag, "description": "add the top 5 reasons"}
    ]
    batch_params = spec["paths"]["/predict/batch"]["post"]["parameters"]
    assert batch_params[0] == {
        "name": "explain",
        **flag,
        "description": "add the top 5 reasons per row",
    }
    assert batch_params[1]["name"] == "sort"
    assert batch_params[1]["schema"]["enum"] == ["none", "risk", "expected_value"]
    for path in ("/predict", "/predict/batch"):
        content = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        assert content["examples"]
        for example in content["examples"].values():
            r = requests.post(
                secured_api.url + path, json=example["value"], headers=_h(tokens["predict"])
            )
            assert r.status_code == 200, (path, r.text)


def test_no_model_yet_is_503_but_alive(api_factory: Any, tmp_path: Path) -> None:
    api = api_factory(
        {"MODEL_URI": str(tmp_path / "nothing-here"), "MODEL_RETRY_SECONDS": "0.5"}, ready=False
    )
    time.sleep(1.5)
    assert requests.get(api.url + "/").status_code == 200
    r = requests.get(api.url + "/health/ready")
    assert r.status_code == 503
    assert "does not exist" in r.json()["detail"]
    assert requests.post(api.url + "/predict", json={}).status_code == 503
    assert requests.get(api.url + "/model").status_code == 503
    assert api.process.poll() is None


def test_sigterm_shuts_down_gracefully(api_factory: Any, trained_model_dir: Path) -> None:
    api = api_factory({"MODEL_URI": str(trained_model_dir)})
    # uvicorn shuts down cleanly, then re-raises the signal so the exit status tells why
    assert api.stop() in (0, -signal.SIGTERM)
    messages = [r.get("msg") for r in api.log_records()]
    assert "Shutting down" in messages
    assert any(str(m).startswith("Finished server process") for m in messages)
