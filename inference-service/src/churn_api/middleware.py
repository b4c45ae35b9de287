"""One pure-ASGI layer: body size limit, request id, metrics and one JSON log line per request."""

from __future__ import annotations

import json
import random
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from churn_api.logs import RequestLog
from churn_api.metrics import Metrics

request_log = RequestLog("churn_api.request")
MAX_CACHED_SERIES = 256


class RequestMiddleware:
    """Cheaper than BaseHTTPMiddleware; never logs bodies (no customer records in logs)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body_bytes
        # prometheus_client's labels() takes a lock and builds a key on every call (~4 us a
        # request); the children per (route, method, status) are looked up here instead.
        # Bounded: the method is whatever a client sent.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _series(self, template: str, method: str, status: int) -> tuple[Any, Any]:
        """The request counter's and the latency histogram's children for one request."""
        key = (template, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.metrics.requests.labels(template, method, str(status)),
                self.metrics.latency.labels(template, method),
            )
            if len(self._children) < MAX_CACHED_SERIES:
                self._children[key] = children
        return children

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or _new_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        rid_header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        try:
            too_big, receive = await self._limit_body(headers, receive)
            if too_big:
                await _send_json(
                    send_wrapper,
                    413,
                    {
                        "detail": [
                            {"field": "body", "message": f"Body larger than {self.max_body} bytes"}
                        ]
                    },
                )
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                scope["path"]
                if scope.get("endpoint") is not None
                else "(body too large)"
                if status == 413
                else "(unmatched)"
            )
            method = scope["method"]
            counter, histogram = self._series(template, method, status)
            counter.inc()
            histogram.observe(elapsed)
            request_log.emit(
                {
                    "event": "request",
                    "request_id": request_id,
                    "method": method,
                    "route": template,
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 3),
                    "model_version": state.get("model_version"),
                }
            )

    async def _limit_body(self, headers: dict[bytes, bytes], receive: Receive) -> tuple[bool, Any]:
        length = headers.get(b"content-length")
        if length is not None:
            try:
                return int(length) > self.max_body, receive
            except ValueError:
                return True, receive
        if b"chunked" not in headers.get(b"transfer-encoding", b""):
            return False, receive
        # Chunked: read up to the limit here, then replay what we read to the app.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return False, _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return True, receive
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return False, _replay([whole], receive)


def _new_id() -> str:
    """A random 128-bit hex id; uuid4's os.urandom call is the costlier part of a request."""
    return f"{_random.getrandbits(128):032x}"


_random = random.Random()  # seeded from os.urandom at import; ids need not be secret


def _replay(messages: list[Message], then: Receive) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await then()

    return receive


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
