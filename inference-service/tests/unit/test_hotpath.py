"""churn_api.hotpath: query parameters read by hand exactly as FastAPI/pydantic would."""

from __future__ import annotations

import pytest

from churn_api.errors import InvalidRequestError
from churn_api.hotpath import parse_choice, parse_flag


def test_query_parameters_read_like_pydantic() -> None:
    for text in ("1", "true", "True", "t", "yes", "Y", "on", " TRUE "):
        assert parse_flag(text, "explain") is True
    for text in ("0", "false", "f", "no", "N", "off"):
        assert parse_flag(text, "explain") is False
    assert parse_flag(None, "explain") is False
    for text in ("", "maybe", "2", "truthy"):
        with pytest.raises(InvalidRequestError) as caught:
            parse_flag(text, "explain")
        assert caught.value.errors[0]["field"] == "explain"
    assert parse_choice(None, "sort", ("none", "risk")) == "none"
    assert parse_choice("risk", "sort", ("none", "risk")) == "risk"
    with pytest.raises(InvalidRequestError) as caught:
        parse_choice("Risk", "sort", ("none", "risk"))
    assert caught.value.errors == [{"field": "sort", "message": "Input should be 'none' or 'risk'"}]
