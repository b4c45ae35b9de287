"""Every failure talking to the API as an `ApiError` subclass with a message in plain words.

Pages show `message` and never a traceback; `error_for` maps an HTTP error answer to its class.
"""

from __future__ import annotations

from churn_ui.api.models import FieldError


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


class ApiNotFoundError(ApiError):
    """404: no such customer (the message names the ID)."""


class ApiStoreUnavailableError(ApiError):
    """503 from a customer route: no store configured, no schema, or the store is down."""


class ApiProtocolError(ApiError):
    """Any other unexpected answer (5xx, not JSON, a body that breaks the contract)."""


def field_errors(body: object) -> list[FieldError]:
    """The `{"detail": [{"field", "message"}]}` list of a parsed error body (empty if none)."""
    detail = body.get("detail") if isinstance(body, dict) else None
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


def error_for(
    status: int, errors: list[FieldError], text: str, *, customers: bool = False
) -> ApiError:
    """The error for an HTTP error answer: its status, its field errors and its raw text.

    `customers`: the answer came from a customer-store route (other words for 403, 404, 503).
    """
    detail = errors[0].message if errors and errors[0].field == "request" else ""
    if status == 401:
        reason = errors[0].message if errors else "no valid token"
        return ApiUnauthorizedError(
            "The scoring service refused the request because the UI is not signed in "
            f"({reason}). Ask an administrator to set API_TOKEN or API_PREDICT_SECRET.",
            status,
        )
    if status == 403 and customers:
        return ApiForbiddenError(
            "The UI's access token is not allowed to read customer data (it lacks the "
            "'customers' permission). Ask an administrator to give the UI that scope.",
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
        listed = "; ".join(f"{e.field}: {e.message}" for e in errors) or text[:300]
        return ApiInvalidInputError(f"Some input was not accepted: {listed}", errors)
    if status == 404 and customers:
        if detail in ("", "Not Found"):  # no route matched: an older API, or a '/' in the ID
            detail = (
                "The scoring service has no customer pages for this request: it may be an "
                "older version without the customer store, or the ID holds a '/'."
            )
        return ApiNotFoundError(detail, status)
    if status == 503 and customers and "store" in detail.lower():
        return ApiStoreUnavailableError(
            f"The customer store is unavailable ({detail}). Scoring single customers and "
            "batch files still works; try the customer pages again later.",
            status,
        )
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
