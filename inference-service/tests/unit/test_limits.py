"""churn_api.limits and large_body: any body costs bounded time, and says what is wrong.

The cases of issue 11: 100,000 unknown keys (7.5 s and a 5.4 MB answer before), a thousand
levels of nesting and bytes that are not UTF-8 in a batch (500 before), booleans read as 1.
"""

from __future__ import annotations

import json
import time
from typing import Any

import orjson
import pytest

from churn_api.batch import BatchParser, _byte_counts
from churn_api.contract import FeatureContract
from churn_api.customer import CustomerValidator
from churn_api.errors import InvalidRequestError
from churn_api.limits import Limits, deeper_than
from churn_api.scorer import LoadedModel


def _problems(call: Any, *args: Any) -> list[dict[str, str]]:
    with pytest.raises(InvalidRequestError) as caught:
        call(*args)
    return caught.value.errors


def _batch(model: LoadedModel, body: bytes) -> dict[str, Any]:
    return orjson.loads(model.answer_batch(body).json)  # type: ignore[no-any-return]


def test_100000_unknown_keys_are_answered_at_once_and_briefly(tiny_model: LoadedModel) -> None:
    body = json.dumps({f"k{i}": 0 for i in range(100_000)}).encode()
    assert len(body) > 1_000_000
    for validate in (tiny_model.customers.validate_one, tiny_model.customers.validate_large):
        start = time.perf_counter()
        problems = _problems(validate, body)
        assert time.perf_counter() - start < 0.5
        assert problems[0] == {"field": "k0", "message": "Unknown field 'k0'"}
        assert "at most 64 keys per object" in problems[-1]["message"]
        assert len(json.dumps(problems)) < 1000


def test_the_first_problems_are_listed_then_counted(contract: FeatureContract) -> None:
    validator = CustomerValidator(contract, 10, Limits(max_problems=20))
    body = {f"Contrac{i}": 1 for i in range(30)} | {"tenure": -1}
    for send in (json.dumps(body), json.dumps(body).encode() + b" " * 10_000):
        problems = _problems(validator.validate_one, send)
        assert len(problems) == 21
        assert problems[-1] == {
            "field": "body",
            "message": "11 more problems not listed (at most 20 are)",
        }
        assert problems[0]["field"] == "tenure"  # the model's fields first, then unknown keys
        assert problems[1]["message"] == "Unknown field 'Contrac0'; did you mean 'Contract'?"
    # Searches are budgeted per request; repeated typos are cached, so they stay free.
    fresh = CustomerValidator(contract, 10, Limits(max_problems=20))
    problems = _problems(fresh.validate_one, json.dumps({f"zz{i}x": 1 for i in range(12)}))
    assert len(fresh.suggest._cache) == 5
    assert all("did you mean" not in p["message"] for p in problems)
    many = {f"Tenur{i}": 1 for i in range(70)}
    problems = _problems(validator.validate_one, json.dumps(many).encode() + b" " * 10_000)
    assert problems == [
        {
            "field": "body",
            "message": "Object has 70 keys; at most 64 are allowed (MAX_KEYS_PER_OBJECT)",
        }
    ]


def test_names_are_cut_short_and_values_never_echoed(tiny_model: LoadedModel) -> None:
    key = "k" * 5000
    problems = _problems(tiny_model.customers.validate_one, json.dumps({key: "secret-value"}))
    assert problems[0]["field"] == "k" * 64 + "..."
    assert "secret-value" not in json.dumps(problems)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"tenure": True}, "tenure", "not a boolean"),
        ({"MonthlyCharges": False}, "MonthlyCharges", "not a boolean"),
        ({"TotalCharges": True}, "TotalCharges", "not a boolean"),
        ({"SeniorCitizen": True}, "SeniorCitizen", "0 or 1, not a boolean"),
        ({"customerID": True}, "customerID", "valid string"),
        ({"Churn": [1]}, "Churn", "text, a number, a boolean or null"),
    ],
)
def test_booleans_are_not_numbers_in_all_three_validators(
    tiny_model: LoadedModel, body: dict[str, Any], field: str, words: str
) -> None:
    problems = _problems(tiny_model.customers.validate_one, json.dumps(body))
    assert problems[0]["field"] == field and words in problems[0]["message"]
    padded = json.dumps(body).encode()[:-1] + b" " * 9000 + b"}"
    assert _problems(tiny_model.customers.validate_large, padded) == problems
    # In a batch (strict decoder first, then the column checks, then the row model).
    result = _batch(tiny_model, json.dumps({"customers": [body, {"tenure": "3"}]}).encode())
    assert [r["ok"] for r in result["results"]] == [False, True]
    assert result["results"][0]["errors"] == problems
    # CSV text stays accepted.
    tiny_model.customers.validate_one(json.dumps({"tenure": "1", "SeniorCitizen": "1"}))


def test_hostile_batches_are_422_or_answered_per_row(tiny_model: LoadedModel) -> None:
    deep = b"[" * 1000 + b"]" * 1000
    for body in (
        b'{"customers":[{"Churn":' + deep + b"}]}",
        b'{"customers":[{"x":' + deep + b"}]}",
        b'{"customers":' + deep + b"}",
        b'{"customers":[{"Churn":' + b"[" * 40 + b"]" * 40 + b"}]}",
    ):
        problems = _problems(tiny_model.answer_batch, body)
        assert problems == [
            {"field": "body", "message": "JSON nested deeper than 32 levels (MAX_JSON_DEPTH)"}
        ]
    for body in (b'{"customers":[{"gender":"\xff\xfe"}]}', b'{"customers":[{"\xff":1}]}'):
        assert "Invalid JSON" in _problems(tiny_model.answer_batch, body)[0]["message"]
    assert (
        "Invalid JSON"
        in _problems(tiny_model.answer_batch, b'{"customers":["\\ud800"]}')[0]["message"]
    )
    rows = [{f"k{j}": 0 for j in range(30)}, {f"k{j}": 0 for j in range(65)}, {"tenure": 3}]
    result = _batch(tiny_model, json.dumps({"customers": rows}).encode())
    first, second, third = result["results"]
    assert len(first["errors"]) == 21
    assert first["errors"][-1]["message"].startswith("10 more unknown fields not listed")
    assert second["errors"][0]["message"].startswith("Object has 65 keys")
    assert third["ok"] is True


def test_many_rows_with_many_problems_stay_fast(tiny_model: LoadedModel) -> None:
    rows = [{**{f"k{i}_{j}": 0 for j in range(25)}, "tenure": "x"} for i in range(10_000)]
    body = json.dumps({"customers": rows}).encode()
    start = time.perf_counter()
    result = _batch(tiny_model, body)
    assert time.perf_counter() - start < 3  # about 0.3 s alone; the box is shared
    assert result["failed"] == 10_000
    empty_rows = b'{"customers":[' + b",".join([b"{}"] * 2_000_000) + b"]}"
    start = time.perf_counter()
    problems = _problems(tiny_model.answer_batch, empty_rows)
    assert time.perf_counter() - start < 3
    assert "JSON objects; a batch holds at most" in problems[0]["message"]


def test_a_body_bigger_than_a_full_batch_is_refused_before_parsing(
    tiny_model: LoadedModel,
) -> None:
    """Parsing holds the GIL for the whole body, so its size in JSON items is bounded first."""
    one_row_of_keys = json.dumps({"customers": [{f"k{i}": 0 for i in range(300_000)}]}).encode()
    numbers_in_a_value = b'{"customers":[{"tenure":[' + b",".join([b"1"] * 1_000_000) + b"]}]}"
    for body in (one_row_of_keys, numbers_in_a_value):
        start = time.perf_counter()
        problems = _problems(tiny_model.answer_batch, body)
        # Three byte counts, no parse: a few ms (the parse alone took 0.4 s on the first body).
        assert time.perf_counter() - start < 0.5
        assert problems == [
            {
                "field": "body",
                "message": "The body holds more names or items than its 2 objects can hold "
                "(at most 64 keys per object, MAX_KEYS_PER_OBJECT)",
            }
        ]
    # A body at the limits still gets its answer row by row.
    rows = [{f"x{j}": 0 for j in range(64)} for _ in range(3)]
    assert tiny_model.answer_batch(json.dumps({"customers": rows}).encode()).failed == 3


def test_depth_is_measured_without_recursion() -> None:
    value: Any = 0
    for _ in range(5000):
        value = [value]
    assert deeper_than(value, 32)
    assert not deeper_than({"customers": [{"a": 1}]}, 3)
    assert deeper_than({"customers": [{"a": [1]}]}, 3)
    assert not deeper_than("text", 1)


def test_batch_parser_uses_the_limits(contract: FeatureContract) -> None:
    parser = BatchParser(CustomerValidator(contract, 5, Limits(max_keys=30)))
    body = json.dumps({"customers": [{f"x{j}": 1 for j in range(31)}]})
    parsed = parser.parse(body)
    assert parsed.errors[0][0]["message"].startswith("Object has 31 keys; at most 30")


def test_the_byte_counts_are_python_s_counts() -> None:
    bodies = [
        b"",
        b"{",
        json.dumps({"customers": [{"a": "{x}: ,", "b": [1, 2, {}]}] * 7}).encode(),
        json.dumps({"customers": [{"é": "ü{,:"}]}, ensure_ascii=False).encode(),
        bytes(range(256)) * 3,
    ]
    for body in bodies:
        assert _byte_counts(body) == (body.count(b"{"), body.count(b":"), body.count(b","))


def test_the_guard_refuses_from_one_object_over_the_limit(contract: FeatureContract) -> None:
    parser = BatchParser(CustomerValidator(contract, 3))
    at_limit = b'{"customers":[{},{},{}],"x":[{},{},{}]}'  # 2 * 3 + 1 objects: parsed
    assert _problems(parser.parse, at_limit)[0]["message"] == "Unknown field 'x'"
    over = at_limit.replace(b"[{},{},{}]}", b"[{},{},{},{}]}")
    assert "The body holds 8 JSON objects" in _problems(parser.parse, over)[0]["message"]
