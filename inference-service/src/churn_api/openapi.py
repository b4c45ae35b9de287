"""The OpenAPI document: what the routes check by hand, and the loaded model's request schemas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from churn_api.bundle import golden_inputs
from churn_api.responses import SORTS, ErrorResponse

if TYPE_CHECKING:
    from churn_api.model_store import ModelStore
    from churn_api.scorer import LoadedModel

BEARER = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "JWT with scope 'predict', 'customers' or 'admin' "
    "(`churn-api token --scope ...`)",
}
_JSON = "application/json"
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing, malformed or expired token"},
    403: {"model": ErrorResponse, "description": "Token lacks the scope"},
    404: {"model": ErrorResponse, "description": "No customer with that id"},
    409: {
        "model": ErrorResponse,
        "description": "The stored attributes are not valid for the served model",
    },
    413: {"model": ErrorResponse, "description": "Body larger than MAX_BODY_BYTES"},
    422: {"model": ErrorResponse, "description": "Invalid input; each error names the field"},
    429: {
        "model": ErrorResponse,
        "description": "MAX_CONCURRENT_BATCHES heavy requests already in flight",
        "headers": {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        },
    },
    503: {
        "model": ErrorResponse,
        "description": "No model loaded yet, or (customers) no store configured, store "
        "unavailable or without its schema",
    },
}
EXPLAIN = {
    "name": "explain",
    "in": "query",
    "required": False,
    "schema": {"type": "boolean", "default": False},
    "description": "add the top 5 reasons",
}
EXPLAIN_ROWS = {**EXPLAIN, "description": "add the top 5 reasons per row"}
SORT = {
    "name": "sort",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": list(SORTS), "default": "none"},
    "description": "ok rows first, highest first; then failed rows in input order",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of a route."""
    return {k: ERRORS[k] for k in codes}


def hand_checked(body_schema: str | None = None, *parameters: dict[str, Any]) -> dict[str, Any]:
    """openapi_extra for what a route checks by hand (hotpath.py): the bearer token, the query
    parameters and the request body."""
    extra: dict[str, Any] = {"security": [{"bearer": []}]}
    if body_schema:
        # Bodies are validated by the loaded model's own request model (its categories can
        # change with a new version), so the schema is filled in by install_openapi().
        extra["requestBody"] = {
            "required": True,
            "content": {_JSON: {"schema": {"$ref": f"#/components/schemas/{body_schema}"}}},
        }
    if parameters:
        extra["parameters"] = list(parameters)
    return extra


def install_openapi(app: FastAPI, store: ModelStore, max_batch_rows: int) -> None:
    """app.openapi() with the served model's Customer and BatchRequest, cached per version."""
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        model = store.current
        key = model.meta.version if model else ""
        if key in cache:
            return cache[key]  # type: ignore[no-any-return]
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(request_schemas(model, max_batch_rows))
        components["securitySchemes"] = {"bearer": BEARER}
        _add_examples(schema, model)
        if model is not None:
            cache.clear()
            cache[key] = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def request_schemas(model: LoadedModel | None, max_batch_rows: int) -> dict[str, Any]:
    """JSON schemas of a customer and of a batch body."""
    if model is None:
        customer: dict[str, Any] = {
            "type": "object",
            "title": "Customer",
            "description": "Fields come from the loaded model; none is loaded yet.",
        }
    else:
        customer = model.customers.Customer.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        customer.pop("$defs", None)
        max_batch_rows = model.customers.max_batch_rows
    batch = {
        "type": "object",
        "title": "BatchRequest",
        "additionalProperties": False,
        "required": ["customers"],
        "properties": {
            "customers": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_batch_rows,
                "items": {"$ref": "#/components/schemas/Customer"},
            }
        },
    }
    overrides = {
        "allOf": [{"$ref": "#/components/schemas/Customer"}],
        "title": "CustomerOverrides",
        "description": "Any fields of a customer (not its id), validated like /predict's body",
    }
    return {"Customer": customer, "BatchRequest": batch, "CustomerOverrides": overrides}


def _add_examples(schema: dict[str, Any], model: LoadedModel | None) -> None:
    if model is None:
        return
    golden = golden_inputs(model.golden)[:3]
    single = {
        "dataset_row": {"summary": "A dataset row as is", "value": golden[0]},
        "partial": {
            "summary": "Only some fields (the rest are imputed)",
            "value": {"tenure": 12, "MonthlyCharges": 70.5},
        },
    }
    batch = {"three_rows": {"summary": "Three customers", "value": {"customers": golden}}}
    for path, examples in (("/predict", single), ("/predict/batch", batch)):
        content = schema["paths"][path]["post"]["requestBody"]["content"][_JSON]
        content["examples"] = examples
