"""A small customer-store API for the UI's page tests: `GET /customers`, `GET /customers/{id}`,
`POST /customers/{id}/predict`, `/model` and `/health/ready` over real HTTP (AppTest pages open
sockets), shaped like the API's answers (docs: the issue 13 design) and validating like it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MODEL_REF = {"name": "telco-churn", "version": "7"}
CONTRACTS = ["Month-to-month", "One year", "Two year"]
BANDS = [{"name": n, "upper": u} for n, u in (("low", 0.3), ("medium", 0.6), ("high", 1.0))]
MODEL = {
    "name": "telco-churn",
    "version": "7",
    "threshold": {"value": 0.4, "strategy": "expected_value", "offer_cost": 10.0},
    "risk_bands": BANDS,
    "input_schema": {
        "id_field": "customerID",
        "fields": [
            {"name": "tenure", "kind": "numeric", "dtype": "integer", "minimum": 0},
            {"name": "MonthlyCharges", "kind": "numeric", "dtype": "number", "group": "billing"},
            {"name": "Contract", "kind": "categorical", "dtype": "string", "categories": CONTRACTS},
        ],
    },
}
OFFER_COST = 10.0
SCORE_KEYS = ("churn_probability", "churn", "risk_band", "expected_value", "reasons")
STORE_DOWN_ID = "STORE-DOWN"
PARAMETERS = {"limit", "offset", "sort", "band", "contract", "min_tenure", "max_tenure"}
PARAMETERS |= {"budget_calls", "budget_amount"}


def probability(attributes: dict[str, Any]) -> float:
    """A toy model: the contract sets the level, each month as a customer lowers it a little."""
    level = {"Month-to-month": 0.75, "One year": 0.35, "Two year": 0.12}[attributes["Contract"]]
    return round(max(0.01, level - 0.004 * float(attributes["tenure"])), 6)


def band(p: float) -> str:
    return next(b["name"] for b in BANDS if p < b["upper"] or b["name"] == "high")


def prediction(customer_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """A `/predict`-shaped answer for the attributes."""
    p = probability(attributes)
    value = 12 * float(attributes["MonthlyCharges"])
    reasons = [
        {
            "field": "Contract",
            "value": attributes["Contract"],
            "contribution": p - 0.3,
            "effect": "raises" if p >= 0.3 else "lowers",
        },
        {
            "field": "tenure",
            "value": attributes["tenure"],
            "contribution": -0.1,
            "effect": "lowers",
        },
    ]
    return {
        "customerID": customer_id,
        "churn_probability": p,
        "churn": p >= 0.4,
        "threshold": 0.4,
        "risk_band": band(p),
        "expected_value": round(p * 0.3 * value - OFFER_COST, 2),
        "model": MODEL_REF,
        "reasons": reasons,
    }


def _curve(evs: list[float]) -> dict[str, Any]:
    total, points, best_k, best = 0.0, [{"k": 0, "expected_value": 0.0}], 0, 0.0
    for k, ev in enumerate(evs, start=1):
        total += ev
        points.append({"k": k, "expected_value": round(total, 2)})
        if total > best:
            best_k, best = k, total
    return {"points": points, "best_k": best_k, "best_expected_value": round(best, 2)}


def _error(field_name: str, message: str) -> tuple[int, Any]:
    return 422, {"detail": [{"field": field_name, "message": message}]}


@dataclass
class FakeStore:
    """The customers, the answers' recorded requests, and the store's state."""

    customers: dict[str, dict[str, Any]]
    state: str = "ok"
    requests: list[tuple[str, str, Any]] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for cid, attributes in self.customers.items():
            scored = prediction(cid, attributes)
            out.append(
                {
                    "customer_id": cid,
                    **{k: scored[k] for k in SCORE_KEYS},
                    "customer_value": 12 * float(attributes["MonthlyCharges"]),
                    "value_source": "12 x MonthlyCharges",
                    "contract": attributes["Contract"],
                    "tenure": float(attributes["tenure"]),
                    "model_version": "7",
                    "scored_at": "2026-11-30T08:00:00+00:00",
                }
            )
        return out

    def call_list(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        unknown = sorted(set(query) - PARAMETERS)
        if unknown:
            return _error(unknown[0], "unknown query parameter")
        q = {k: v[-1] for k, v in query.items()}
        limit, offset = int(q.get("limit", 50)), int(q.get("offset", 0))
        if not 1 <= limit <= 500:
            return _error("limit", "must be between 1 and 500")
        sort = q.get("sort", "expected_value")
        low = float(q["min_tenure"]) if "min_tenure" in q else None
        high = float(q["max_tenure"]) if "max_tenure" in q else None
        if low is not None and high is not None and low > high:
            return _error("min_tenure", "must be <= max_tenure")
        rows = [
            r
            for r in self.rows()
            if (q.get("band") in (None, r["risk_band"]))
            and q.get("contract") in (None, r["contract"])
            and (low is None or r["tenure"] >= low)
            and (high is None or r["tenure"] <= high)
        ]
        rows.sort(key=lambda r: -r[sort])
        calls = int(q["budget_calls"]) if "budget_calls" in q else None
        if "budget_amount" in q:
            calls = int(float(q["budget_amount"]) // OFFER_COST)
        for rank, row in enumerate(rows, start=1):
            row["rank"] = rank
            row["within_budget"] = None if calls is None else rank <= calls
        budget = None
        if calls is not None:
            budget = {
                "calls": calls,
                "amount": calls * OFFER_COST,
                "expected_value": round(sum(r["expected_value"] for r in rows[:calls]), 2),
            }
        everyone = self.rows()
        by_value = sorted(everyone, key=lambda r: -r["expected_value"])
        by_probability = sorted(everyone, key=lambda r: -r["churn_probability"])
        curves = {
            "by_expected_value": _curve([r["expected_value"] for r in by_value]),
            "by_churn_probability": _curve([r["expected_value"] for r in by_probability]),
            "offer_cost": OFFER_COST,
        }
        return 200, {
            "total": len(rows),
            "limit": limit,
            "offset": offset,
            "sort": sort,
            "filters": {},
            "customers": rows[offset : offset + limit],
            "budget": budget,
            "profit_curve": curves,
        }

    def customer(self, cid: str) -> tuple[int, Any]:
        if cid not in self.customers:
            return 404, {"detail": f"No customer with customerID '{cid}'"}
        attributes = self.customers[cid]
        scored = prediction(cid, attributes)
        latest = {k: scored[k] for k in (*SCORE_KEYS, "model")}
        latest |= {
            "scored_at": "2026-11-30T08:00:00+00:00",
            "snapshot_date": "2026-11-30",
            "run_id": "run-2",
            "reasons_source": "stored",
        }
        older = {
            **latest,
            "churn_probability": 0.5,
            "risk_band": "medium",
            "scored_at": "2026-11-23T08:00:00+00:00",
            "snapshot_date": "2026-11-23",
            "run_id": "run-1",
            "model": {"name": "telco-churn", "version": "6"},
        }
        history = [
            {k: v for k, v in h.items() if k not in ("reasons", "reasons_source")}
            for h in (latest, older)
        ]
        return 200, {
            "customer_id": cid,
            "snapshot_date": "2026-11-30",
            "attributes": attributes,
            "customer_value": 12 * float(attributes["MonthlyCharges"]),
            "value_source": "12 x MonthlyCharges",
            "latest": latest,
            "history": history,
        }

    def what_if(self, cid: str, overrides: dict[str, Any]) -> tuple[int, Any]:
        if cid not in self.customers:
            return 404, {"detail": f"No customer with customerID '{cid}'"}
        for name, value in overrides.items():
            if name not in self.customers[cid]:
                return _error(name, "unknown field")
            if name == "Contract" and value not in CONTRACTS:
                return _error(name, f"must be one of {CONTRACTS}")
        baseline = prediction(cid, self.customers[cid])
        changed = prediction(cid, {**self.customers[cid], **overrides})
        return 200, {
            "customer_id": cid,
            "overrides": overrides,
            "baseline": baseline,
            "what_if": changed,
            "delta": changed["churn_probability"] - baseline["churn_probability"],
        }

    def answer(self, method: str, target: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(target)
        path = parts.path
        self.requests.append((method, target, body))
        if path == "/health/ready":
            return 200, {"ready": True, "model_version": "7", "store": self.state}
        if path == "/model":
            return 200, MODEL
        if path.startswith("/customers") and self.state != "ok":
            detail = {"not configured": "No customer store configured: set DATABASE_URL"}.get(
                self.state, "customer store unavailable: connection refused"
            )
            return 503, {"detail": detail}
        if path == "/customers" and method == "GET":
            return self.call_list(parse_qs(parts.query))
        cid = unquote(path.removeprefix("/customers/").removesuffix("/predict"))
        if cid == STORE_DOWN_ID:
            return 503, {"detail": "customer store unavailable: the database went away"}
        if method == "POST" and path.endswith("/predict"):
            return self.what_if(cid, body or {})
        return self.customer(cid)


def sample_customers(count: int = 12) -> dict[str, dict[str, Any]]:
    """`count` customers with varied contracts, tenure and charges."""
    return {
        f"C-{i:03d}": {
            "tenure": (i * 7) % 60,
            "MonthlyCharges": 20.0 + 9.5 * i,
            "Contract": CONTRACTS[i % 3],
        }
        for i in range(count)
    }


@contextmanager
def serve_store(store: FakeStore) -> Iterator[str]:
    """`store` served on 127.0.0.1; yields its base URL."""

    class Api(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            """Quiet."""

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = store.answer(method, self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            """Read routes."""
            self._handle("GET")

        def do_POST(self) -> None:
            """The what-if."""
            self._handle("POST")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
