"""Test doubles for the UI tests: a requests transport that never opens a socket."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import BaseAdapter

FAKE_URL = "http://api.test"

Answer = tuple[int, Any] | Exception
Handler = Callable[[requests.PreparedRequest], Answer]


class FakeTransport(BaseAdapter):
    """A requests transport that answers from a queue (or a handler) and records each request.

    An answer is `(status, body)` (a dict/list is sent as JSON, bytes as they are) or an
    exception to raise, as requests' own adapter would for a network failure.
    """

    def __init__(self) -> None:
        super().__init__()
        self.answers: list[Answer] = []
        self.handler: Handler | None = None
        self.sent: list[requests.PreparedRequest] = []
        self.timeouts: list[object] = []

    def send(
        self, request: requests.PreparedRequest, timeout: object = None, **_: object
    ) -> requests.Response:
        """Record the request and play the next answer."""
        self.sent.append(request)
        self.timeouts.append(timeout)
        answer = self.handler(request) if self.handler else self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        response = requests.Response()
        response.status_code = status
        response.url = request.url or ""
        response.request = request
        if isinstance(body, bytes):
            response._content = body
        else:
            response._content = json.dumps(body).encode()
            response.headers["Content-Type"] = "application/json"
        return response

    def close(self) -> None:
        """Nothing to release."""
