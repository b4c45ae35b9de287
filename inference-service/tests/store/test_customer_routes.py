"""/customers* in process (TestClient on create_app() with the tiny signed bundle) over a
store on SQLite and on a real PostgreSQL: lookup, call list, what-if, scopes and errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from churn_api.customer_models import CallList, CustomerRecord, WhatIf


@pytest.fixture
def api(
    apis: Any,
    engine: Any,
    load: Any,
    tiny_records: list[dict[str, Any]],
    store_url: str,
) -> Iterator[TestClient]:
    """The app over a store holding 120 scored customers (reasons stored for the first 100)."""
    load(engine, tiny_records[:100])
    load(engine, tiny_records[100:120], reasons=False, curve=False)
    yield from apis.client(apis.settings(database_url=store_url))


def test_readiness_reports_the_store(api: TestClient) -> None:
    assert api.get("/health/ready").json()["store"] == "ok"


def test_lookup(api: TestClient, apis: Any, tiny_records: list[dict[str, Any]]) -> None:
    record = tiny_records[3]
    r = api.get(f"/customers/{record['customerID']}", headers=apis.ui())
    assert r.status_code == 200, r.text
    body = CustomerRecord.model_validate(r.json()).model_dump()
    assert body["customer_id"] == record["customerID"]
    assert body["attributes"]["gender"] == record["gender"]
    assert body["latest"]["reasons_source"] == "stored" and body["latest"]["reasons"]
    predicted = api.post("/predict?explain=true", json=record, headers=apis.ui()).json()
    assert body["latest"]["churn_probability"] == pytest.approx(predicted["churn_probability"])
    assert body["latest"]["reasons"] == predicted["reasons"]
    assert [h["run_id"] for h in body["history"]] == [body["latest"]["run_id"]]


def test_lookup_without_stored_reasons_computes_them_live(
    api: TestClient, apis: Any, tiny_records: list[dict[str, Any]]
) -> None:
    record = tiny_records[110]
    latest = api.get(f"/customers/{record['customerID']}", headers=apis.ui()).json()["latest"]
    predicted = api.post("/predict?explain=true", json=record, headers=apis.ui()).json()
    assert latest["reasons_source"] == "live"
    assert latest["reasons"] == predicted["reasons"]
    assert latest["reasons_model"]["version"] == predicted["model"]["version"]


def test_unknown_and_invalid_ids(api: TestClient, apis: Any) -> None:
    r = api.get("/customers/NOPE-123", headers=apis.ui())
    assert r.status_code == 404
    assert r.json() == {"detail": "No customer with customerID 'NOPE-123'"}
    r = api.get("/customers/" + "x" * 65, headers=apis.ui())
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "customer_id"
    r = api.get("/customers/a%07b", headers=apis.ui())
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "customer_id"
    r = api.get("/customers/NOPE-123?explain=true", headers=apis.ui())
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "explain"


def test_call_list(api: TestClient, apis: Any) -> None:
    r = api.get("/customers?limit=10&offset=5&band=high&budget_calls=8", headers=apis.ui())
    assert r.status_code == 200, r.text
    body = CallList.model_validate(r.json()).model_dump()
    assert body["filters"]["band"] == "high"
    assert body["total"] > 10
    assert [c["rank"] for c in body["customers"]] == list(range(6, 16))
    assert [c["within_budget"] for c in body["customers"]][:3] == [True, True, True]
    assert body["budget"]["calls"] == 8 and body["budget"]["amount"] == 8 * 50.0
    curve = body["profit_curve"]
    assert curve["offer_cost"] == 50.0 and curve["by_expected_value"]["points"][0]["k"] == 0
    money = api.get("/customers?budget_amount=275", headers=apis.ui()).json()["budget"]
    assert money["calls"] == 5  # 275 / 50 per offer
    rich = api.get("/customers?budget_amount=1e300", headers=apis.ui())
    assert rich.status_code == 200, rich.text
    assert rich.json()["budget"]["calls"] == 120  # everyone


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("sort=random", "sort"),
        ("band=extreme", "band"),
        ("contract=Weekly", "contract"),
        ("min_tenure=nan", "min_tenure"),
        ("min_tenure=10&max_tenure=2", "min_tenure"),
        ("budget_calls=-3", "budget_calls"),
        ("budget_calls=99999999999999999999999", "budget_calls"),
        ("budget_amount=inf", "budget_amount"),
        ("limit=5&limit=6", "limit"),
        ("colour=red", "colour"),
    ],
)
def test_bad_call_list_parameters_are_named(
    api: TestClient, apis: Any, query: str, field: str
) -> None:
    r = api.get(f"/customers?{query}", headers=apis.ui())
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["detail"]]


def test_what_if(api: TestClient, apis: Any, tiny_records: list[dict[str, Any]]) -> None:
    record = next(r for r in tiny_records if r["Contract"] == "Month-to-month")
    cid = record["customerID"]
    r = api.post(f"/customers/{cid}/predict", json={"Contract": "Two year"}, headers=apis.ui())
    assert r.status_code == 200, r.text
    body = WhatIf.model_validate(r.json()).model_dump()
    assert body["overrides"] == {"Contract": "Two year"}
    direct = api.post("/predict", json={**record, "Contract": "Two year"}, headers=apis.ui()).json()
    assert body["what_if"]["churn_probability"] == pytest.approx(direct["churn_probability"])
    assert body["baseline"]["churn_probability"] != body["what_if"]["churn_probability"]
    assert body["delta"] == pytest.approx(
        body["what_if"]["churn_probability"] - body["baseline"]["churn_probability"]
    )
    assert body["baseline"]["reasons"] and body["what_if"]["reasons"]
    as_is = api.post(f"/customers/{cid}/predict", headers=apis.ui()).json()
    assert as_is["delta"] == 0 and as_is["overrides"] == {}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"Contarct": "Two year"}, "Contarct"),
        ({"Contract": "Weekly"}, "Contract"),
        ({"tenure": -4}, "tenure"),
        ({"customerID": "someone-else"}, "customerID"),
        ([1, 2], "body"),
    ],
)
def test_bad_overrides_are_named(
    api: TestClient, apis: Any, tiny_records: list[dict[str, Any]], body: Any, field: str
) -> None:
    r = api.post(
        f"/customers/{tiny_records[0]['customerID']}/predict", json=body, headers=apis.ui()
    )
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["detail"]]


def test_what_if_of_an_unknown_customer(api: TestClient, apis: Any) -> None:
    r = api.post("/customers/NOPE-9/predict", json={"tenure": 3}, headers=apis.ui())
    assert r.status_code == 404 and "NOPE-9" in r.json()["detail"]


def test_the_customers_scope(
    api: TestClient, apis: Any, tiny_records: list[dict[str, Any]]
) -> None:
    cid = tiny_records[0]["customerID"]
    for method, path in (
        ("GET", f"/customers/{cid}"),
        ("GET", "/customers"),
        ("POST", f"/customers/{cid}/predict"),
    ):
        assert api.request(method, path).status_code == 401
        assert api.request(method, path, headers=apis.ui("predict")).status_code == 403
        program = apis.bearer(apis.CLIENT_PROGRAM, "predict", "customers")
        refused = api.request(method, path, headers=program)
        assert refused.status_code == 403
        assert "not trusted for the 'customers' scope" in refused.json()["detail"][0]["message"]
        ok = api.request(method, path, headers=apis.bearer(apis.OPERATOR, "customers"))
        assert ok.status_code == 200, ok.text


def test_totals_follow_new_runs(
    api: TestClient, apis: Any, engine: Any, load: Any, tiny_records: list[dict[str, Any]]
) -> None:
    assert api.get("/customers", headers=apis.ui()).json()["total"] == 120
    assert api.get("/customers?band=high", headers=apis.ui()).status_code == 200
    load(engine, tiny_records[120:150])
    assert api.get("/customers", headers=apis.ui()).json()["total"] == 150
    high = sum(r["risk_band"] == "high" for r in _all(api, apis))
    assert api.get("/customers?band=high", headers=apis.ui()).json()["total"] == high


def _all(api: TestClient, apis: Any) -> list[dict[str, Any]]:
    return api.get("/customers?limit=500", headers=apis.ui()).json()["customers"]  # type: ignore[no-any-return]
