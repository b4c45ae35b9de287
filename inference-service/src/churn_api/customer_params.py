"""What the /customers routes read from a request by hand: the customer id, the call list's
query parameters and a what-if body, each problem named in the API's 422 shape."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.datastructures import QueryParams

from churn_api.customer import ID_MAX_LENGTH
from churn_api.errors import InvalidRequestError, body_error
from churn_api.store.queries import SORTS, CallListQuery

if TYPE_CHECKING:
    from churn_api.scorer import LoadedModel

CALL_LIST_PARAMETERS = (
    "limit",
    "offset",
    "sort",
    "band",
    "contract",
    "min_tenure",
    "max_tenure",
    "budget_calls",
    "budget_amount",
)
MAX_OFFSET = 10_000_000
MAX_BUDGET_CALLS = 10**12
CONTRACT_FIELD = "Contract"


@dataclass(frozen=True)
class CallListRequest:
    """The validated call list request: the store query (without the budget) and the budget."""

    query: CallListQuery
    budget_calls: int | None
    budget_amount: float | None


def customer_id(value: str, params: QueryParams | None = None) -> str:
    """A customer id as the store keys it: 1..64 printable characters; the route takes no
    query parameter (any is named as unknown)."""
    if params:
        raise InvalidRequestError(
            [{"field": name, "message": "Unknown query parameter"} for name in params]
        )
    problem = None
    if not value.strip():
        problem = "String should have at least 1 character"
    elif len(value) > ID_MAX_LENGTH:
        problem = f"String should have at most {ID_MAX_LENGTH} characters"
    elif any(not ch.isprintable() for ch in value):
        problem = "must not contain control characters"
    if problem:
        raise InvalidRequestError(body_error(problem, field="customer_id"))
    return value


def _number(
    raw: str, name: str, errors: list[dict[str, str]], *, integer: bool, minimum: float
) -> Any:
    try:
        number: float = int(raw) if integer else float(raw)
    except ValueError:
        kind = "a valid integer" if integer else "a valid number"
        errors.append({"field": name, "message": f"Input should be {kind}"})
        return None
    if not math.isfinite(number):
        errors.append({"field": name, "message": "Input should be a finite number"})
        return None
    if number < minimum:
        errors.append(
            {"field": name, "message": f"Input should be greater than or equal to {minimum:g}"}
        )
        return None
    return number


def _choice(raw: str, name: str, choices: list[str], errors: list[dict[str, str]]) -> str | None:
    if raw in choices:
        return raw
    allowed = ", ".join(f"'{c}'" for c in choices)
    errors.append({"field": name, "message": f"Input should be one of {allowed}"})
    return None


def _contract_categories(model: LoadedModel | None) -> list[str] | None:
    if model is None:
        return None
    for spec in model.contract.fields:
        if spec.name == CONTRACT_FIELD and spec.categories:
            return [str(c) for c in spec.categories]
    return None


def call_list_request(
    params: QueryParams, max_page_size: int, model: LoadedModel | None
) -> CallListRequest:
    """The call list's parameters, validated; band and contract against the served model's
    bands and categories (when one is loaded). InvalidRequestError names every problem."""
    errors: list[dict[str, str]] = []
    for name in dict.fromkeys(params.keys()):
        if name not in CALL_LIST_PARAMETERS:
            errors.append({"field": name, "message": "Unknown query parameter"})
        elif len(params.getlist(name)) > 1:
            errors.append({"field": name, "message": "Given more than once"})
    raw: Mapping[str, str] = {k: v for k, v in params.items() if k in CALL_LIST_PARAMETERS}
    values: dict[str, Any] = {}
    for name, integer, minimum in (
        ("limit", True, 1),
        ("offset", True, 0),
        ("min_tenure", False, 0),
        ("max_tenure", False, 0),
        ("budget_calls", True, 0),
        ("budget_amount", False, 0),
    ):
        if raw.get(name, "") != "":
            values[name] = _number(raw[name], name, errors, integer=integer, minimum=minimum)
    limit = values.get("limit", 50)
    if limit is not None and limit > max_page_size:
        errors.append(
            {"field": "limit", "message": f"Input should be less than or equal to {max_page_size}"}
        )
    calls = values.get("budget_calls")
    if calls is not None and calls > MAX_BUDGET_CALLS:
        errors.append(
            {
                "field": "budget_calls",
                "message": f"Input should be less than or equal to {MAX_BUDGET_CALLS}",
            }
        )
    offset = values.get("offset", 0)
    if offset is not None and offset > MAX_OFFSET:
        errors.append(
            {"field": "offset", "message": f"Input should be less than or equal to {MAX_OFFSET}"}
        )
    sort = _choice(raw.get("sort", SORTS[0]), "sort", list(SORTS), errors)
    band = contract = None
    if raw.get("band"):
        bands = model.band_names if model is not None else None
        band = _choice(raw["band"], "band", bands, errors) if bands else raw["band"]
    if raw.get("contract"):
        categories = _contract_categories(model)
        contract = (
            _choice(raw["contract"], "contract", categories, errors)
            if categories
            else raw["contract"]
        )
    low, high = values.get("min_tenure"), values.get("max_tenure")
    if low is not None and high is not None and low > high:
        errors.append({"field": "min_tenure", "message": "must not be greater than max_tenure"})
    if errors:
        raise InvalidRequestError(errors)
    query = CallListQuery(
        limit=limit,
        offset=offset,
        sort=sort or SORTS[0],
        band=band,
        contract=contract,
        min_tenure=low,
        max_tenure=high,
    )
    return CallListRequest(query, values.get("budget_calls"), values.get("budget_amount"))


def overrides(body: bytes, model: LoadedModel) -> dict[str, Any]:
    """A what-if body: {} or a partial customer validated exactly like /predict's body; the
    customer id cannot be overridden. Returns the validated values of the given fields."""
    if not body.strip():
        return {}
    if not body.lstrip().startswith(b"{"):
        raise InvalidRequestError(body_error("Input should be a JSON object of field overrides"))
    validated = model.customers.validate_one(body)
    id_field = model.contract.id_field
    if id_field in validated.model_fields_set:
        raise InvalidRequestError(
            body_error("the customer id cannot be overridden", field=id_field)
        )
    known = {spec.name for spec in model.contract.fields}
    return {k: validated.__dict__[k] for k in validated.model_fields_set if k in known}
