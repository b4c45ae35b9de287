"""`ChurnApiClient`: calls the churn inference API over HTTP (docs/api.md).

Timeouts on every call, retries on connection errors only, answers parsed into `models` and
failures raised as `errors` with messages written for a business user.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlsplit

import requests
from pydantic import BaseModel, ValidationError

from churn_ui.api.errors import (
    ApiError,
    ApiNotFoundError,
    ApiNotReadyError,
    ApiProtocolError,
    ApiTimeoutError,
    ApiUnreachableError,
    error_for,
    field_errors,
)
from churn_ui.api.health_models import DriftHistory, ModelsView, PerformanceHistory
from churn_ui.api.models import (
    BatchResult,
    CallListPage,
    Customer,
    CustomerRecord,
    ModelInfo,
    Prediction,
    Readiness,
    Scalar,
    WhatIf,
)
from churn_ui.api.tokens import TokenSource
from churn_ui.settings import UISettings

log = logging.getLogger("churn_ui.client")

M = TypeVar("M", bound=BaseModel)


class ChurnApiClient:
    """Calls the inference API with timeouts, retries on connection errors and typed errors."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource | None = None,
        timeout: float = 15.0,
        connect_timeout: float = 3.0,
        connect_retries: int = 2,
        retry_backoff: float = 0.3,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens or TokenSource()
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.connect_retries = connect_retries
        self.retry_backoff = retry_backoff
        # `session` lets tests mount a fake transport; by default one pooled session per client.
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = "churn-ui/0.1"

    @classmethod
    def from_settings(cls, settings: UISettings) -> ChurnApiClient:
        """A client configured from the UI settings."""
        return cls(
            settings.api_base_url,
            TokenSource.from_settings(settings),
            timeout=settings.request_timeout,
            connect_timeout=settings.connect_timeout,
            connect_retries=settings.connect_retries,
        )

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    # -- endpoints --

    def readiness(self, timeout: float | None = None) -> Readiness:
        """`GET /health/ready`: 200 and 503 both carry a readiness body."""
        response = self._request("GET", "/health/ready", timeout=timeout, ok=(200, 503))
        return self._parse(Readiness, response)

    def model_info(self) -> ModelInfo:
        """`GET /model`: provenance, metrics, threshold, bands and input schema."""
        return self._parse(ModelInfo, self._request("GET", "/model"))

    def predict(self, customer: Customer, explain: bool = True) -> Prediction:
        """Score one customer (`POST /predict`), with the top reasons when `explain`."""
        response = self._request(
            "POST",
            "/predict",
            params={"explain": str(explain).lower()},
            json=dict(customer),
            auth=True,
        )
        return self._parse(Prediction, response)

    def predict_batch(
        self,
        customers: Sequence[Customer],
        explain: bool = False,
        sort: Literal["none", "risk", "expected_value"] = "none",
    ) -> BatchResult:
        """Score many customers (`POST /predict/batch`); bad rows come back with their errors."""
        response = self._request(
            "POST",
            "/predict/batch",
            params={"explain": str(explain).lower(), "sort": sort},
            json={"customers": [dict(c) for c in customers]},
            auth=True,
        )
        return self._parse(BatchResult, response)

    # -- the customer store --

    def customer(self, customer_id: str) -> CustomerRecord:
        """`GET /customers/{id}`: attributes, latest score with reasons, history (404 unknown)."""
        response = self._request("GET", _customer_path(customer_id), auth=True, customers=True)
        return self._parse(CustomerRecord, response)

    def call_list(self, params: dict[str, str]) -> CallListPage:
        """`GET /customers?...`: one page of the ranked call list (see `call_list_view`)."""
        response = self._request("GET", "/customers", params=params, auth=True, customers=True)
        return self._parse(CallListPage, response)

    def what_if(self, customer_id: str, overrides: dict[str, Scalar]) -> WhatIf:
        """`POST /customers/{id}/predict`: the stored customer scored as is and with `overrides`."""
        response = self._request(
            "POST",
            _customer_path(customer_id) + "/predict",
            json=dict(overrides),
            auth=True,
            customers=True,
        )
        return self._parse(WhatIf, response)

    # -- monitoring (scope `customers`, 503 without a store) --

    def drift(self, runs: int = 20) -> DriftHistory:
        """`GET /monitoring/drift`: the latest `runs` scoring runs' drift, newest first."""
        return self._monitoring(DriftHistory, "/monitoring/drift", {"runs": str(runs)})

    def performance(self) -> PerformanceHistory:
        """`GET /monitoring/performance`: realized performance per model version and month."""
        return self._monitoring(PerformanceHistory, "/monitoring/performance")

    def models(self) -> ModelsView:
        """`GET /monitoring/models`: the served model, the registry's champion, challenger and
        previous champion with when and why each got its alias."""
        try:
            return self._monitoring(ModelsView, "/monitoring/models")
        except ApiNotReadyError as exc:  # this route's 503: the registry, not the model
            raise ApiNotReadyError(
                "The scoring service cannot reach the MLflow model registry right now; scoring "
                "still works with the model it holds. Try again shortly.",
                exc.status,
            ) from exc

    def _monitoring(self, model: type[M], path: str, params: dict[str, str] | None = None) -> M:
        try:
            response = self._request("GET", path, params=params, auth=True, customers=True)
        except ApiNotFoundError as exc:
            # No such route: an API from before the monitoring routes (the customer wording of
            # a 404 would talk about customer IDs).
            raise ApiNotFoundError(
                "The scoring service has no monitoring pages: it may be an older version "
                "without them.",
                404,
            ) from exc
        return self._parse(model, response)

    # -- plumbing --

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        auth: bool = False,
        timeout: float | None = None,
        ok: tuple[int, ...] = (200,),
        customers: bool = False,
    ) -> requests.Response:
        url = f"{self.base_url}{path}"
        headers = self.tokens.header() if auth else {}
        read_timeout = timeout or self.timeout
        attempt = 0
        while True:
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=headers,
                    timeout=(min(self.connect_timeout, read_timeout), read_timeout),
                )
                break
            # ConnectionError covers refused/reset/DNS and connect timeouts: the request never
            # reached the model, so repeating it is safe. A read timeout is not retried.
            except requests.ConnectionError as exc:
                if attempt >= self.connect_retries:
                    raise ApiUnreachableError(
                        f"The scoring service at {self.base_url} cannot be reached "
                        "(it may be down or starting). Please try again in a minute."
                    ) from exc
                attempt += 1
                log.info(
                    "connection to %s%s failed (%s); retry %d",
                    self.base_url,
                    _loggable(path),
                    type(exc).__name__,
                    attempt,
                )
                time.sleep(self.retry_backoff * attempt)
            except requests.Timeout as exc:
                raise ApiTimeoutError(
                    f"The scoring service did not answer within {read_timeout:g} seconds. "
                    "It may be busy; please try again."
                ) from exc
            except requests.RequestException as exc:
                raise ApiProtocolError(f"The request to the scoring service failed: {exc}") from exc
        if response.status_code in ok:
            return response
        raise self._error(response, customers)

    @staticmethod
    def _error(response: requests.Response, customers: bool = False) -> ApiError:
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        return error_for(
            response.status_code, field_errors(parsed), response.text, customers=customers
        )

    @staticmethod
    def _parse(model: type[M], response: requests.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            # Where and what broke, never the values: a customer body holds personal data.
            problems = [(e["loc"], e["msg"]) for e in exc.errors(include_input=False)][:5]
            path = _loggable(urlsplit(response.url or "").path)
            log.warning("unexpected body from %s: %s", path, problems)
            raise ApiProtocolError(
                "The scoring service sent an answer this console does not understand "
                "(the UI and the API versions may not match).",
                response.status_code,
            ) from exc


def _loggable(path: str) -> str:
    """`path` for a log line: a customer ID is personal data, so it becomes the route template."""
    if path.startswith("/customers/"):
        rest = path.removeprefix("/customers/")
        return "/customers/{customer_id}" + ("/predict" if rest.endswith("/predict") else "")
    return path


def _customer_path(customer_id: str) -> str:
    # Every character escaped (`/`, `?`, `#` too): an ID is one path segment, never a route.
    return "/customers/" + quote(customer_id, safe="")
