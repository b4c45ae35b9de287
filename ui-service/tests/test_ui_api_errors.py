"""Reading an error body's field list and choosing the error for an HTTP status."""

from __future__ import annotations

from churn_ui.api.errors import (
    ApiInvalidInputError,
    ApiProtocolError,
    ApiUnauthorizedError,
    error_for,
    field_errors,
)
from churn_ui.api.models import FieldError


def test_ui_field_errors_reads_every_shape_of_detail() -> None:
    listed = {"detail": [{"field": "tenure", "message": "< 0"}, {"message": "bad"}, "junk"]}
    assert field_errors(listed) == [
        FieldError(field="tenure", message="< 0"),
        FieldError(field="body", message="bad"),
    ]
    assert field_errors({"detail": "Invalid token"}) == [
        FieldError(field="request", message="Invalid token")
    ]
    for nothing in (None, [], "text", {"error": "x"}, {"detail": 3}):
        assert field_errors(nothing) == []


def test_ui_error_for_uses_fields_then_falls_back_to_the_text() -> None:
    named = error_for(422, [FieldError(field="tenure", message="< 0")], "ignored")
    assert isinstance(named, ApiInvalidInputError) and named.message.endswith("tenure: < 0")
    bare = error_for(422, [], "x" * 500)
    assert isinstance(bare, ApiInvalidInputError) and bare.message.endswith("x" * 300)
    assert len(bare.message) < 400 and bare.status == 422
    unauthorized = error_for(401, [FieldError(field="request", message="Token expired")], "")
    assert isinstance(unauthorized, ApiUnauthorizedError)
    assert "(Token expired)" in unauthorized.message
    assert isinstance(error_for(418, [], ""), ApiProtocolError)
