"""churn_api.customer and churn_api.batch: the three validators of a customer mean one thing.

The pydantic `Customer` model (/predict), the strict msgspec batch decoder and the numpy column
checks are generated from one contract; these tests hold their answers equal.
"""

from __future__ import annotations

import gc
import json
from typing import Any

import numpy as np
import orjson
import pytest

from churn_api.batch import BatchParser
from churn_api.columns import NULL, OTHER, _category_codes
from churn_api.contract import FeatureContract
from churn_api.customer import CustomerValidator, build_customer_model
from churn_api.errors import InvalidRequestError
from churn_api.scorer import LoadedModel


def _batch(model: LoadedModel, body: str) -> dict[str, Any]:
    return orjson.loads(model.answer_batch(body).json)  # type: ignore[no-any-return]


def test_schema_rejects_with_field_names(contract: FeatureContract) -> None:
    validator = CustomerValidator(contract, 100)
    schema = validator.Customer.model_json_schema()
    assert schema["additionalProperties"] is False
    contract_enum = schema["properties"]["Contract"]["anyOf"][0]["enum"]
    assert contract_enum == ["Month-to-month", "One year", "Two year"]
    cases = {
        b'{"Contract": "Monthly"}': ("Contract", "'Month-to-month', 'One year' or 'Two year'"),
        b'{"Contarct": "One year"}': ("Contarct", "did you mean 'Contract'"),
        b'{"tenure": NaN}': ("tenure", "finite"),
        b'{"TotalCharges": Infinity}': ("TotalCharges", "finite"),
        b'{"tenure": -3}': ("tenure", "greater than or equal to 0"),
        b'{"tenure": 4.5}': ("tenure", "fractional"),
        b'{"tenure": ': ("body", "Invalid JSON"),
        b"[1, 2]": ("body", "an object"),
    }
    for body, (field, words) in cases.items():
        with pytest.raises(InvalidRequestError) as caught:
            validator.validate_one(body)
        errors = caught.value.errors
        assert errors[0]["field"] == field, (body, errors)
        assert words in errors[0]["message"], (body, errors)
        assert "nan" not in json.dumps(errors).lower().replace("finite", "")


def test_csv_text_is_accepted(contract: FeatureContract) -> None:
    Customer = build_customer_model(contract)
    c = Customer.model_validate(
        {"customerID": 42, "SeniorCitizen": "1", "tenure": "3", "TotalCharges": " ", "Churn": "No"}
    )
    assert (c.customerID, c.SeniorCitizen, c.tenure, c.TotalCharges) == ("42", 1, 3, None)


def test_batch_and_single_rows_agree_on_odd_values(tiny_model: LoadedModel) -> None:
    """Whatever takes the vectorised batch path must mean what the per-row model says."""
    model = tiny_model
    rows: list[Any] = [
        {"SeniorCitizen": True},
        {"SeniorCitizen": 1.0},
        {"SeniorCitizen": "1"},
        {"SeniorCitizen": 1.5},
        {"tenure": True},
        {"tenure": 3.0},
        {"tenure": "3"},
        {"tenure": 10**30},
        {"tenure": None, "Contract": None},
        {"Contract": " Two year"},
        {"Contract": ["Two year"]},
        {"Contract": {"a": 1}},
        {"gender": 1},
        {"MonthlyCharges": "70.5"},
        {"TotalCharges": " "},
        {"tenure": 0},
        {"customerID": 12345},
        {"customerID": "x" * 65},
        {"customerID": ["A"]},
        [],
        None,
    ]
    result = _batch(model, json.dumps({"customers": rows}))
    assert result["count"] == len(rows)
    for k, row in enumerate(rows):
        got = result["results"][k]
        assert got["row"] == k
        checked = model.customers.validate_row(row)  # the per-row model /predict uses
        if isinstance(checked, list):
            assert got["ok"] is False, (row, got)
            assert [e["field"] for e in got["errors"]] == [e["field"] for e in checked], row
            continue
        expected = model.score_one(model.customers.Customer.model_validate(row))
        assert got["ok"] is True, (row, got)
        assert got["prediction"]["churn_probability"] == pytest.approx(
            expected["churn_probability"], abs=1e-6
        )
        assert list(got["prediction"]["imputed_fields"]) == expected["imputed_fields"], row
        assert got["prediction"]["customerID"] == expected["customerID"]
    nan_body = '{"customers": [{"tenure": NaN}, {"MonthlyCharges": Infinity}, {"tenure": 3}]}'
    result = _batch(model, nan_body)
    assert [r["ok"] for r in result["results"]] == [False, False, True]
    assert result["results"][0]["errors"][0]["field"] == "tenure"


def test_clean_batches_take_the_strict_decoder_with_the_same_answers(
    tiny_model: LoadedModel, tiny_records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tiny_model
    rows: list[Any] = [
        *tiny_records,
        {"tenure": 12, "MonthlyCharges": 70.5},
        {"tenure": 0, "TotalCharges": None},  # the imputation rule: goes through the row model
        {"Contract": None, "customerID": "A-1", "Churn": "Yes"},
        {},
    ]
    body = json.dumps({"customers": rows})
    per_row = model.with_meta()
    per_row.batches = BatchParser(per_row.customers)
    slow_parser = per_row.batches
    monkeypatch.setattr(
        slow_parser, "parse", lambda b: slow_parser.parse_rows(slow_parser.read_envelope(b))
    )
    slow_calls: list[int] = []
    original = model.batches.parse_rows
    monkeypatch.setattr(model.batches, "parse_rows", lambda r: slow_calls.append(1) or original(r))
    fast = _batch(model, body)
    assert not slow_calls, "a clean batch must take the strict decoder"
    assert fast == _batch(per_row, body)
    assert fast["succeeded"] == len(rows)
    # One bad row sends the whole batch the per-row way; the other rows' answers do not move.
    mixed = _batch(model, json.dumps({"customers": [*rows, {"tenure": "3x"}]}))
    assert slow_calls
    assert mixed["results"][: len(rows)] == fast["results"]
    assert mixed["results"][-1]["errors"][0]["field"] == "tenure"
    # The strict decoder checks the envelope too; the per-row path then names the problem.
    for envelope, words in (
        ({"customers": []}, "between 1 and"),
        ({"customers": rows[:1], "extra": 1}, "Unknown field 'extra'"),
        ({"rows": rows[:1]}, "Unknown field 'rows'"),
        ([], "an object with a 'customers' list"),
    ):
        with pytest.raises(InvalidRequestError) as caught:
            model.answer_batch(json.dumps(envelope))
        assert words in caught.value.errors[0]["message"]


def test_batch_envelope_limit_is_the_setting(contract: FeatureContract) -> None:
    parser = BatchParser(CustomerValidator(contract, 3))
    body = json.dumps({"customers": [{}] * 4})
    with pytest.raises(InvalidRequestError) as caught:
        parser.parse(body)
    assert caught.value.errors == [
        {"field": "customers", "message": "List should have between 1 and 3 items, not 4"}
    ]
    assert len(parser.parse(json.dumps({"customers": [{}] * 3})).ids) == 3


def test_clean_rows_are_decoded_in_one_pass_and_left_out_of_the_cyclic_gc(
    tiny_model: LoadedModel, tiny_records: list[dict[str, Any]]
) -> None:
    parser = tiny_model.batches
    body = json.dumps({"customers": tiny_records[:5]})
    rows = parser.decode_clean(body)
    assert rows is not None and len(rows) == 5
    # Scalars only, so no cycles: 10,000 of them need not wait for a collection to be walked.
    assert not any(gc.is_tracked(row) for row in rows)
    parsed = parser.parse_structs(rows)
    whole = parser.parse(body)
    assert (parsed.ids, parsed.errors, parsed.checked) == (whole.ids, whole.errors, whole.checked)
    assert [v.tolist() for v in parsed.columns.values] == [v.tolist() for v in whole.columns.values]
    for unclean in ('{"customers": [{"tenure": "3"}]}', '{"customers": [{"tenure": NaN}]}'):
        assert parser.decode_clean(unclean) is None


def test_category_codes_take_only_exact_categories_of_their_own_type() -> None:
    def by_hand(column: list[Any], categories: list[Any]) -> list[int]:
        kinds = {type(c) for c in categories}
        return [
            NULL
            if v is None
            else categories.index(v)
            if type(v) in kinds and v in categories
            else OTHER
            for v in column
        ]

    texts = ["No", "Yes", "No internet service"]
    many = [f"level {k}" for k in range(300)]  # more codes than one byte holds
    cases: list[tuple[list[Any], list[Any]]] = [
        (["Yes", None, "No", " No", "yes", "No internet service", 3, True], texts),
        ([1, 0, None, True, 1.0, "1", 2, False], [0, 1]),
        ([["No"], {"a": 1}, "No"], texts),  # unhashable values
        (["level 299", "level 3", None, "level 300", 7], many),
        ([None] * 4, texts),
    ]
    for column, categories in cases:
        codes = _category_codes(column, categories)
        assert codes.dtype == np.int16
        assert codes.tolist() == by_hand(column, categories), (column, categories)
