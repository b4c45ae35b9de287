"""Test doubles for the UI tests: a requests transport that never opens a socket, a small
batch API answering like the real one, and that API served over HTTP for AppTest pages."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


MODEL_REF = {"name": "telco-churn", "version": "7"}


def fake_batch_api(request: requests.PreparedRequest) -> Answer:
    """`/predict/batch` of a small API: 413 over two customers, tenure must be >= 0."""
    assert request.body is not None
    customers = json.loads(request.body)["customers"]
    if len(customers) > 2:
        return (413, {"detail": "Request body too large"})
    results = []
    for row, customer in enumerate(customers):
        tenure = customer["tenure"]
        if not isinstance(tenure, int) or tenure < 0:
            error = {"field": "tenure", "message": "must be a whole number >= 0"}
            results.append({"row": row, "ok": False, "errors": [error]})
            continue
        probability = round(1 / (1 + tenure), 4)
        reasons = [
            {"field": "Contract", "value": customer["Contract"], "contribution": -0.2,
             "effect": "lowers"},
            {"field": "tenure", "value": tenure, "contribution": 0.5, "effect": "raises"},
        ]  # fmt: skip
        prediction = {
            "customerID": customer.get("customerID"),
            "churn_probability": probability,
            "churn": probability >= 0.4,
            "threshold": 0.4,
            "risk_band": "high" if probability >= 0.6 else "low",
            "expected_value": round(10 * probability, 2),
            "imputed_fields": ["MonthlyCharges"] if customer["MonthlyCharges"] is None else [],
            "model": MODEL_REF,
            "reasons": reasons,
        }
        results.append({"row": row, "ok": True, "prediction": prediction})
    failed = sum(not r["ok"] for r in results)
    body = {"model": MODEL_REF, "count": len(results), "succeeded": len(results) - failed,
            "failed": failed, "results": results}  # fmt: skip
    return (200, body)


@contextmanager
def serve_api(model: dict[str, Any], batch: Handler) -> Iterator[str]:
    """A real HTTP API on 127.0.0.1 (for AppTest, whose pages open sockets): `GET /model`,
    `GET /health/ready` and `POST /predict/batch` answered by `batch`. Yields its base URL."""

    class Api(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            """Quiet."""

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            """The model and readiness."""
            if self.path.startswith("/model"):
                self._send(200, model)
            else:
                self._send(200, {"ready": True, "model_version": model["version"]})

        def do_POST(self) -> None:
            """A batch, answered by `batch`."""
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            url = f"http://{self.headers.get('Host', 'api')}{self.path}"
            request = requests.Request("POST", url, data=body).prepare()
            answer = batch(request)
            if isinstance(answer, Exception):
                self.close_connection = True
                return
            self._send(*answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
