"""churn_api.routes.HandRoute: an endpoint that reads the request itself is called as Starlette
calls one, and answers, errs and is documented exactly as under FastAPI's own handler."""

from __future__ import annotations

from typing import Any

import fastapi.routing
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from churn_api.errors import InvalidRequestError, body_error, install_error_handlers
from churn_api.hotpath import parse_flag, query_value
from churn_api.routes import HandRoute, router, takes_only_the_request


class Echo(BaseModel):
    """A documented response."""

    length: int
    flag: bool


def _refuse() -> None:
    raise HTTPException(403, detail="refused by the router's dependency")


def _app(route_class: type[APIRoute]) -> FastAPI:
    """The same endpoints under `route_class`, with the service's error handlers."""
    api = APIRouter(route_class=route_class)

    @api.post("/echo", response_model=Echo, tags=["t"], responses={422: {"description": "bad"}})
    async def echo(request: Request) -> Response:
        """Read the body and a flag by hand."""
        body = await request.body()
        if body == b"deny":
            raise HTTPException(401, detail="no", headers={"WWW-Authenticate": "Bearer"})
        if body == b"bad":
            raise InvalidRequestError(body_error("bad body", field="x"))
        flag = parse_flag(query_value(request, "flag"), "flag")
        request.state.model_version = "v1"
        return Response(f'{{"length":{len(body)},"flag":{str(flag).lower()}}}'.encode())

    @api.get("/typed")
    async def typed(n: int = 1) -> dict[str, int]:
        """A FastAPI-parsed query parameter: keeps FastAPI's handler."""
        return {"n": n}

    guarded = APIRouter(route_class=route_class, dependencies=[Depends(_refuse)])

    @guarded.get("/guarded")
    async def behind_a_dependency(request: Request) -> Response:
        """Never reached: the router's dependency refuses first."""
        return Response(b"{}")

    app = FastAPI()
    app.router.routes.extend([*api.routes, *guarded.routes])
    install_error_handlers(app)
    return app


def _answers(client: TestClient) -> list[Any]:
    out = []
    for path, body in (
        ("/echo", b"abc"),
        ("/echo?flag=yes", b""),
        ("/echo?flag=maybe", b"x"),
        ("/echo?flag=0&flag=1", b"x"),
        ("/echo", b"deny"),
        ("/echo", b"bad"),
    ):
        r = client.post(path, content=body)
        out.append((r.status_code, r.content, r.headers.get("www-authenticate")))
    for path in ("/typed?n=3", "/typed?n=x", "/typed", "/guarded"):
        r = client.get(path)
        out.append((r.status_code, r.json()))
    return out


def test_a_hand_route_answers_errs_and_is_documented_as_under_fastapi(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    solved: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def counting(*args: Any, **kwargs: Any) -> Any:
        solved.append(kwargs["request"].url.path)
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    hand, plain = _app(HandRoute), _app(APIRoute)
    with TestClient(hand) as fast, TestClient(plain) as slow:
        answers = _answers(fast)
        assert answers == _answers(slow)
        assert fast.get("/openapi.json").json() == slow.get("/openapi.json").json()
    assert answers[0][:2] == (200, b'{"length":3,"flag":false}')
    assert answers[3][1] == b'{"length":1,"flag":true}'  # the last of repeats, as Starlette
    assert answers[2][0] == answers[5][0] == 422
    assert answers[4] == (401, b'{"detail":"no"}', "Bearer")
    assert answers[6:] == [
        (200, {"n": 3}),
        (422, answers[7][1]),
        (200, {"n": 1}),
        (403, {"detail": "refused by the router's dependency"}),
    ]
    assert answers[7][1]["detail"][0]["field"] == "n"
    # Only the endpoint that reads the request itself leaves FastAPI's handler.
    solved.clear()
    with TestClient(hand) as fast:
        _answers(fast)
    assert set(solved) == {"/typed", "/guarded"}


def test_every_route_of_the_service_router_is_served_by_hand() -> None:
    # A new parameter on one of these endpoints would silently put FastAPI's handler back.
    assert router.routes
    for route in router.routes:
        assert isinstance(route, HandRoute)
        assert takes_only_the_request(route.endpoint), route.path  # type: ignore[attr-defined]


def test_query_value_reads_like_starlette_and_skips_an_empty_query() -> None:
    def request(query: bytes) -> Request:
        return Request({"type": "http", "query_string": query, "headers": []})

    assert query_value(request(b""), "explain") is None
    assert query_value(request(b"sort=risk"), "explain") is None
    assert query_value(request(b"explain=1&explain=0"), "explain") == "0"
    assert query_value(request(b"explain="), "explain") == ""
    assert query_value(request(b"explain=%20yes"), "explain") == " yes"
