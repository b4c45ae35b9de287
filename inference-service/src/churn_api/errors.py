"""Client errors: their one JSON shape ([{"field", "message"}]) and the handlers that send them."""

from __future__ import annotations

import difflib
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError


class InvalidRequestError(Exception):
    """The request failed validation; carries [{"field", "message"}]."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def body_error(message: str, field: str = "body") -> list[dict[str, str]]:
    """A single error entry for a body-level problem."""
    return [{"field": field, "message": message}]


_TYPE_TAGS = {"int", "float", "str", "bool", "function-before", "function-after", "none"}


def format_errors(
    exc: ValidationError, known_fields: list[str], prefix: tuple[Any, ...] = ()
) -> list[dict[str, str]]:
    """pydantic errors -> [{"field", "message"}], naming typos and never echoing the input."""
    out: list[dict[str, str]] = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = prefix + tuple(err["loc"])
        # Literal/union branches add the type name to loc; keep only the data path.
        path = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p in _TYPE_TAGS))]
        field = ".".join(path) or "body"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            name = str(loc[-1])
            message = f"Unknown field '{name}'"
            close = difflib.get_close_matches(name, known_fields, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean '{close[0]}'?"
        out.append({"field": field, "message": message})
    return out or body_error("invalid body")


def install_error_handlers(app: FastAPI) -> None:
    """422 for bad bodies and parameters, and every HTTPException, in the one error shape."""

    @app.exception_handler(InvalidRequestError)
    async def invalid(_request: Request, exc: InvalidRequestError) -> JSONResponse:
        return JSONResponse({"detail": exc.errors}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid_params(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )
