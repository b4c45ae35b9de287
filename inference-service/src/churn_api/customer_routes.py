"""The customer base over HTTP: lookup by id, the ranked call list, a what-if from the stored
attributes. Thin: parameters in customer_params, SQL in store.reads, values in value.py."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from fastapi import APIRouter, HTTPException, Request, Response

from churn_api import customer_params as params
from churn_api import value
from churn_api.customer_models import CallList, CustomerRecord, WhatIf
from churn_api.errors import InvalidRequestError
from churn_api.hotpath import authorize, current_model
from churn_api.openapi import errors, hand_checked
from churn_api.scorer import LoadedModel
from churn_api.store.errors import StoreError
from churn_api.store.service import CustomerStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from churn_api.store.queries import CallListQuery, ListCache

router = APIRouter()
log = logging.getLogger("churn_api.customers")
_ERRORS = errors(401, 403, 404, 422, 503)
_OVERRIDES = hand_checked("CustomerOverrides")
_OVERRIDES["requestBody"]["required"] = False  # no body: the stored customer as is


def _json(data: Any) -> Response:
    # orjson: 4x cheaper than pydantic_core on a 50-row page with reasons (measured).
    return Response(orjson.dumps(data), media_type="application/json")


async def _store_call(request: Request, fn: Any, *args: Any) -> Any:
    """fn(engine, *args) off the event loop; every store problem is a 503 saying what it is."""
    store: CustomerStore = request.app.state.customer_store
    try:
        return await store.call(fn, *args)
    except StoreError as exc:
        # Never the customer id or attributes: the message is the store's own.
        log.warning("%s", exc, extra={"event": "store_error", "error": type(exc).__name__})
        raise HTTPException(503, detail=str(exc)) from None


# The SQL (store.reads, SQLAlchemy) is imported in the store's thread by the first call (or by
# warmup.py), never at start and never on the event loop.
def _get_customer(engine: Engine, customer_id: str) -> dict[str, Any] | None:
    from churn_api.store import reads

    return reads.get_customer(engine, customer_id)


def _call_list(engine: Engine, query: CallListQuery, cache: ListCache) -> dict[str, Any]:
    from churn_api.store import reads

    return reads.call_list(engine, query, cache)


async def _customer(request: Request, customer_id: str) -> dict[str, Any]:
    data = await _store_call(request, _get_customer, customer_id)
    if data is None:
        raise HTTPException(404, detail=f"No customer with customerID '{customer_id}'")
    return data  # type: ignore[no-any-return]


def _live_reasons(model: LoadedModel | None, attributes: dict[str, Any]) -> Any:
    if model is None:
        return None
    try:
        return model.score_one(model.customers.validate_one(attributes), explain=True)["reasons"]
    except InvalidRequestError:
        return None  # attributes the served model's contract no longer accepts


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerRecord,
    tags=["customers"],
    responses=_ERRORS,
    openapi_extra=hand_checked(),
)
async def get_customer(request: Request, customer_id: str) -> Response:
    """A stored customer: attributes, the latest score with its reasons, the score history."""
    authorize(request, "customers")
    data = await _customer(request, params.customer_id(customer_id, request.query_params))
    latest = data["latest"]
    latest["reasons_source"] = "stored"
    if latest["reasons"] is None:
        model = request.app.state.store.current
        latest["reasons"] = _live_reasons(model, data["attributes"])
        latest["reasons_source"] = "live" if latest["reasons"] is not None else "unavailable"
        if latest["reasons"] is not None:
            latest["reasons_model"] = {"name": model.meta.name, "version": model.meta.version}
    return _json(data)


@router.get(
    "/customers",
    response_model=CallList,
    tags=["customers"],
    responses=errors(401, 403, 422, 503),
    openapi_extra=hand_checked(),
)
async def call_list(request: Request) -> Response:
    """The ranked call list from the latest scores: filters, pagination, total, a budget (a
    number of calls or an amount of money) and the base's profit curves."""
    authorize(request, "customers")
    settings = request.app.state.settings
    model: LoadedModel | None = request.app.state.store.current
    wanted = params.call_list_request(request.query_params, settings.max_page_size, model)
    offer_cost = model.contract.threshold.offer_cost if model is not None else None
    if wanted.budget_amount is not None and offer_cost is None:
        raise HTTPException(
            503, detail="budget_amount needs the offer cost of a loaded model; none is loaded yet"
        )
    calls = value.budget_calls(wanted.budget_calls, wanted.budget_amount, offer_cost or 0.0)
    query = replace(wanted.query, budget_calls=calls)
    found = await _store_call(
        request, _call_list, query, request.app.state.customer_store.list_cache
    )
    budget = None
    if calls is not None:
        used = min(calls, found["total"])
        budget = {
            "calls": used,
            "amount": used * offer_cost if offer_cost is not None else None,
            "expected_value": found["budget_expected_value"],
            "requested": {"calls": wanted.budget_calls, "amount": wanted.budget_amount},
        }
    return _json(
        {
            "total": found["total"],
            "limit": query.limit,
            "offset": query.offset,
            "sort": query.sort,
            "filters": query.filters(),
            "customers": found["customers"],
            "budget": budget,
            "profit_curve": found["profit_curve"],
        }
    )


def _scored(model: LoadedModel, record: dict[str, Any], customer_value: float) -> dict[str, Any]:
    """/predict's answer for a record, with the customer's own value and expected value."""
    result = model.score_one(model.customers.validate_one(record), explain=True)
    p = np.array([result["churn_probability"]])
    ev = value.expected_values(p, np.array([customer_value]), model.contract.threshold)
    return {**result, "customer_value": customer_value, "expected_value": float(ev[0])}


def _value_of(record: dict[str, Any], stored: dict[str, Any]) -> float:
    """The customer's value: their own when the snapshot had one, else from MonthlyCharges."""
    if stored["value_source"] == value.SOURCE_OWN:
        return float(stored["customer_value"])
    values, _ = value.customer_values(None, [record.get("MonthlyCharges")])
    return float(values[0])


@router.post(
    "/customers/{customer_id}/predict",
    response_model=WhatIf,
    tags=["customers"],
    responses=errors(401, 403, 404, 409, 413, 422, 503),
    openapi_extra=_OVERRIDES,
)
async def what_if(request: Request, customer_id: str) -> Response:
    """A live what-if: the stored customer scored as is and with the body's field overrides."""
    authorize(request, "customers")
    cid = params.customer_id(customer_id, request.query_params)
    model = current_model(request)
    changes = params.overrides(await request.body(), model)
    stored = await _customer(request, cid)
    baseline_record = dict(stored["attributes"])
    changed_record = {**baseline_record, **changes}
    try:
        baseline = _scored(model, baseline_record, _value_of(baseline_record, stored))
        changed = _scored(model, changed_record, _value_of(changed_record, stored))
    except InvalidRequestError as exc:
        detail = [{**e, "message": f"stored attribute: {e['message']}"} for e in exc.errors]
        raise HTTPException(409, detail=detail) from None
    return _json(
        {
            "customer_id": cid,
            "overrides": changes,
            "baseline": baseline,
            "what_if": changed,
            "delta": changed["churn_probability"] - baseline["churn_probability"],
        }
    )
