"""What the routes read from a request by hand: the caller, the served model, query parameters.

Why by hand: FastAPI's dependency solving (Depends, Security, a Query parameter) costs more than
the rest of a single-row prediction (measured; see the README's serving benchmark). So the
routes call these plain functions first, in FastAPI's order (401/403, then a 422 naming the
parameter), with FastAPI's answers, and openapi.py documents what they check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import HTTPException, Request

from churn_api.errors import InvalidRequestError, body_error
from churn_api.security import Authenticator, AuthError, Principal

if TYPE_CHECKING:
    from churn_api.scorer import LoadedModel

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def authorize(request: Request, scope: str) -> Principal:
    """The caller if it holds `scope` (everyone when auth is off), else 401/403."""
    auth: Authenticator = request.app.state.auth
    try:
        return auth.authorize(request.headers.get("authorization"), scope)
    except AuthError as exc:
        raise HTTPException(
            exc.status,
            detail=[{"field": "Authorization", "message": exc.message}],
            headers={"WWW-Authenticate": "Bearer"} if exc.status == 401 else None,
        ) from None


def current_model(request: Request) -> LoadedModel:
    """The served model, or 503 while none is loaded."""
    model: LoadedModel | None = request.app.state.store.current
    if model is None:
        store = request.app.state.store
        raise HTTPException(503, detail=f"No model loaded yet: {store.public_detail}")
    request.state.model_version = model.meta.version
    return model


def query_value(request: Request, name: str) -> str | None:
    """A query parameter as Starlette reads it (the last of repeats), None when absent; a
    request without a query string (most of them) builds no parameter map."""
    if not request.scope.get("query_string"):
        return None
    return request.query_params.get(name)


def parse_flag(value: str | None, name: str) -> bool:
    """A boolean query parameter as pydantic reads one; InvalidRequestError names it."""
    if value is None:
        return False
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidRequestError(
        body_error("Input should be a valid boolean, unable to interpret input", field=name)
    )


def parse_choice(value: str | None, name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first when absent), as a Literal query parameter reads."""
    if value is None:
        return choices[0]
    if value in choices:
        return value
    quoted = [f"'{c}'" for c in choices]
    allowed = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
    raise InvalidRequestError(body_error(f"Input should be {allowed}", field=name))
