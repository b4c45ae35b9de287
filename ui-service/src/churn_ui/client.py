"""A small typed HTTP client for the churn inference API (docs/api.md).

Every failure becomes an `ApiError` subclass whose `message` is written for a business user;
pages show that message and never a traceback.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

import jwt
import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from churn_ui.settings import UISettings

log = logging.getLogger("churn_ui.client")

Scalar = str | int | float | bool | None
Customer = Mapping[str, Scalar]
M = TypeVar("M", bound=BaseModel)


# --- response models ---------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class FieldError(_Model):
    """One problem the API found, named by field."""

    field: str
    message: str


class FieldSpec(_Model):
    """One input field of the model, as `GET /model` describes it."""

    name: str
    kind: Literal["categorical", "numeric"]
    dtype: Literal["string", "integer", "number"]
    group: str = "account"
    categories: list[str | int] | None = None
    minimum: float | None = None
    maximum: float | None = None
    default: str | int | float | None = None
    description: str = ""


class Threshold(_Model):
    """The decision threshold and the business values it was chosen with."""

    value: float
    strategy: str
    f1_optimal: float | None = None
    offer_cost: float | None = None
    saved_customer_value: float | None = None
    offer_success_rate: float | None = None


class RiskBand(_Model):
    """A named band of probabilities below `upper`."""

    name: str
    upper: float


class InputSchema(_Model):
    """The fields a customer record may carry."""

    fields: list[FieldSpec]
    id_field: str = "customerID"


class ModelInfo(_Model):
    """`GET /model`."""

    name: str
    version: str
    alias: str | None = None
    run_id: str | None = None
    source: str | None = None
    loaded_at: str | None = None
    trained_at: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    threshold: Threshold
    risk_bands: list[RiskBand]
    input_schema: InputSchema
    stale: bool = False
    detail: str | None = None

    @property
    def fields(self) -> list[FieldSpec]:
        """The model's input fields in dataset order."""
        return self.input_schema.fields


class Reason(_Model):
    """One field's push on the churn risk."""

    field: str
    value: Scalar = None
    contribution: float
    effect: Literal["raises", "lowers"]
    text: str = ""


class ModelRef(_Model):
    """Which model answered."""

    name: str
    version: str
    alias: str | None = None


class Prediction(_Model):
    """`POST /predict`."""

    customerID: str | None = None
    churn_probability: float
    churn: bool
    threshold: float
    risk_band: str
    expected_value: float
    imputed_fields: list[str] = Field(default_factory=list)
    model: ModelRef
    reasons: list[Reason] | None = None


class BatchRow(_Model):
    """One row of a batch answer: a prediction or the row's errors."""

    row: int
    ok: bool
    prediction: Prediction | None = None
    errors: list[FieldError] | None = None


class BatchResult(_Model):
    """`POST /predict/batch`."""

    model: ModelRef
    count: int
    succeeded: int
    failed: int
    results: list[BatchRow]


class Readiness(_Model):
    """`GET /health/ready` (both 200 and 503 answers)."""

    ready: bool
    model_version: str | None = None
    detail: str | None = None


# --- errors ------------------------------------------------------------------------------


class ApiError(Exception):
    """Any failure talking to the API; `message` is plain words for the user."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ApiUnreachableError(ApiError):
    """Nothing answers at the base URL (down, wrong address, network)."""


class ApiTimeoutError(ApiError):
    """The API accepted the connection but did not answer in time."""


class ApiUnauthorizedError(ApiError):
    """401: no token, a bad one or an expired one."""


class ApiForbiddenError(ApiError):
    """403: the token lacks the 'predict' scope."""


class ApiInvalidInputError(ApiError):
    """422: the input was rejected; `errors` names each field and problem."""

    def __init__(self, message: str, errors: list[FieldError]) -> None:
        super().__init__(message, 422)
        self.errors = errors


class ApiPayloadTooLargeError(ApiError):
    """413: the request body is larger than the API accepts."""


class ApiNotReadyError(ApiError):
    """503: the API runs but has no model loaded yet."""


class ApiProtocolError(ApiError):
    """Any other unexpected answer (5xx, not JSON, a body that breaks the contract)."""


# --- client ------------------------------------------------------------------------------


class TokenSource:
    """The bearer token: a fixed one, or one minted from the shared secret and renewed early."""

    def __init__(
        self,
        token: str | None = None,
        secret: str | None = None,
        ttl_seconds: int = 300,
        subject: str = "churn-ui",
    ) -> None:
        self._fixed = token
        self._secret = secret
        self._ttl = ttl_seconds
        self._subject = subject
        self._minted: tuple[str, float] | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether requests carry a token at all."""
        return bool(self._fixed or self._secret)

    def header(self) -> dict[str, str]:
        """The Authorization header, or nothing when no token is configured."""
        token = self.token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def token(self) -> str | None:
        """The current token (minting a fresh one when the last is near expiry)."""
        if self._fixed:
            return self._fixed
        if not self._secret:
            return None
        with self._lock:
            now = time.time()
            # Renew with a third of the lifetime left so a slow request never carries a dead one.
            if self._minted is None or self._minted[1] - now < self._ttl / 3:
                exp = int(now) + self._ttl
                claims = {"sub": self._subject, "scope": "predict", "iat": int(now), "exp": exp}
                self._minted = (jwt.encode(claims, self._secret, algorithm="HS256"), exp)
            return self._minted[0]


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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens or TokenSource()
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.connect_retries = connect_retries
        self.retry_backoff = retry_backoff
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "churn-ui/0.1"

    @classmethod
    def from_settings(cls, settings: UISettings) -> ChurnApiClient:
        """A client configured from the UI settings."""
        return cls(
            settings.api_base_url,
            TokenSource(
                settings.api_token.get_secret_value() if settings.api_token else None,
                settings.api_jwt_secret.get_secret_value() if settings.api_jwt_secret else None,
                settings.api_token_ttl_seconds,
                settings.api_token_subject,
            ),
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
                log.info("connection to %s failed (%s); retry %d", url, exc, attempt)
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
        raise self._error(response)

    def _error(self, response: requests.Response) -> ApiError:
        status = response.status_code
        errors = _field_errors(response)
        if status == 401:
            reason = errors[0].message if errors else "no valid token"
            return ApiUnauthorizedError(
                "The scoring service refused the request because the UI is not signed in "
                f"({reason}). Ask an administrator to set API_TOKEN or API_JWT_SECRET.",
                status,
            )
        if status == 403:
            return ApiForbiddenError(
                "The UI's access token is not allowed to score customers (it lacks the "
                "'predict' permission). Ask an administrator for a token with that scope.",
                status,
            )
        if status == 413:
            return ApiPayloadTooLargeError(
                "The request was too large for the scoring service. "
                "Try a smaller file or fewer rows at a time.",
                status,
            )
        if status == 422:
            listed = "; ".join(f"{e.field}: {e.message}" for e in errors) or response.text[:300]
            return ApiInvalidInputError(f"Some input was not accepted: {listed}", errors)
        if status == 503:
            return ApiNotReadyError(
                "The scoring service is running but has no model loaded yet "
                "(it may be starting or the model store is unreachable). Try again shortly.",
                status,
            )
        return ApiProtocolError(
            f"The scoring service answered with an unexpected error (HTTP {status}). "
            "Please try again; if it persists, tell the operations team.",
            status,
        )

    @staticmethod
    def _parse(model: type[M], response: requests.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            log.warning("unexpected body from %s: %s", response.url, exc)
            raise ApiProtocolError(
                "The scoring service sent an answer this console does not understand "
                "(the UI and the API versions may not match).",
                response.status_code,
            ) from exc


def _field_errors(response: requests.Response) -> list[FieldError]:
    """The `{"detail": [{"field", "message"}]}` list of an error body (empty if none)."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return []
    if isinstance(detail, str):
        return [FieldError(field="request", message=detail)]
    out: list[FieldError] = []
    if isinstance(detail, list):
        for item in detail:
            if isinstance(item, dict):
                out.append(
                    FieldError(
                        field=str(item.get("field", "body")), message=str(item.get("message", ""))
                    )
                )
    return out
