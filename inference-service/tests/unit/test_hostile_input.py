"""Property-based fuzzing beyond the OpenAPI schema, in process (create_app on the tiny bundle).

Raw bytes and hostile JSON shapes, for /predict and /predict/batch (both decoders: clean rows
reach the strict msgspec one, the rest the per-row path): no answer is a 5xx, every answer is
JSON in the documented error shape. Example counts are bounded so the module runs in seconds;
the schemathesis test (tests/integration/test_api_fuzz.py) covers the documented schema.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn_api.main import create_app
from churn_api.settings import Settings

EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
FIELDS = ["gender", "SeniorCitizen", "tenure", "Contract", "MonthlyCharges", "TotalCharges"]
SPECIAL = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e400",
    b"-1e400",
    b"1" * 400,
    b"true",
    b"false",
    b"null",
    b'"\\ud800"',
    b'"\\udfff"',
    b'"\\u0000"',
    b'""',
    b'" "',
    b'"1"',
    b"1.0",
    b"-0",
    b"0",
    b"[]",
    b"{}",
    b'"Month-to-month"',
]


@pytest.fixture(scope="module")
def client(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, trusted_pem: str
) -> Iterator[TestClient]:
    settings_ = Settings(
        model_uri=str(tiny_model_dir),
        churn_dev_mode=True,
        model_public_keys=trusted_pem,
        model_public_keys_file=None,
        model_cache_dir=tmp_path_factory.mktemp("fuzz") / "cache",
        model_refresh_seconds=0,
        max_batch_rows=50,
        inline_body_bytes=2048,  # so the fuzzer reaches the large-body path too
    )
    with TestClient(create_app(settings_)) as c:
        deadline = time.monotonic() + 30
        while c.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        yield c


def _check(client: TestClient, path: str, body: bytes) -> None:
    r = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code < 500, (path, body[:300], r.text[:500])
    data = r.json()
    if r.status_code == 422:
        assert data["detail"], data
        assert all(set(e) == {"field", "message"} for e in data["detail"]), data
        assert len(data["detail"]) <= 21 + 1  # max_problems + the count (+ a first unknown key)
    else:
        assert r.status_code == 200, r.text


def _text(n: int = 40) -> st.SearchStrategy[str]:
    return st.text(st.characters(codec=None, exclude_categories=()), max_size=n)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    _text(),
    st.sampled_from(["Male", "Female", "One year", "Two year", "Month-to-month", " ", "12"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text(8), inner, max_size=4),
    max_leaves=12,
)
rows = st.dictionaries(
    st.one_of(st.sampled_from([*FIELDS, "customerID", "Churn"]), _text(10)),
    json_values,
    max_size=8,
)
clean_rows = st.fixed_dictionaries(
    {},
    optional={
        "gender": st.sampled_from(["Male", "Female"]),
        "SeniorCitizen": st.sampled_from([0, 1]),
        "tenure": st.integers(-2, 130) | st.booleans(),
        "Contract": st.sampled_from(["Month-to-month", "One year", "Two year"]),
        "MonthlyCharges": st.floats(-1, 2000, allow_nan=False) | st.none(),
        "TotalCharges": st.floats(-1, 200000, allow_nan=False) | st.none(),
        "customerID": st.text(max_size=70),
    },
)


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return b'"' not in data and b"\\" not in data
    return False


def _dumps(value: Any) -> bytes:
    # ensure_ascii: lone surrogates become \ud800 escapes, as a hostile client would send them
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


@FUZZ
@given(body=st.binary(max_size=3000))
def test_raw_bytes(client: TestClient, body: bytes) -> None:
    _check(client, "/predict", body)
    _check(client, "/predict/batch", body)
    _check(client, "/predict/batch", b'{"customers":[' + body + b"]}")


@FUZZ
@given(row=rows)
def test_hostile_json_rows(client: TestClient, row: dict[str, Any]) -> None:
    _check(client, "/predict", _dumps(row))
    _check(client, "/predict/batch", _dumps({"customers": [row, {"tenure": 3}]}))


@FUZZ
@given(batch=st.lists(clean_rows, min_size=1, max_size=60))
def test_clean_and_nearly_clean_batches(client: TestClient, batch: list[dict[str, Any]]) -> None:
    _check(client, "/predict/batch", _dumps({"customers": batch}))
    _check(client, "/predict", _dumps(batch[0]))


@FUZZ
@given(
    field=st.sampled_from([*FIELDS, "customerID", "Churn", "", "x"]),
    literal=st.sampled_from(SPECIAL),
    duplicate=st.sampled_from(SPECIAL),
    depth=st.integers(0, 1500),
    padding=st.integers(0, 5000),
)
def test_literals_duplicates_nesting_and_padding(
    client: TestClient, field: str, literal: bytes, duplicate: bytes, depth: int, padding: int
) -> None:
    key = json.dumps(field).encode()
    nested = b"[" * depth + literal + b"]" * depth
    obj = b"{" + key + b":" + nested + b"," + key + b":" + duplicate + b" " * padding + b"}"
    _check(client, "/predict", obj)
    _check(client, "/predict/batch", b'{"customers":[' + obj + b"]}")
    _check(client, "/predict/batch", b'{"customers":[' + obj + b"]," + b'"customers":[{}]}')


@FUZZ
@given(
    junk=st.binary(min_size=1, max_size=6).filter(_not_utf8),
    template=st.sampled_from(
        [
            b'{"gender":"%s"}',
            b'{"%s":1}',
            b'{"customerID":"A%s","tenure":3}',
            b'{"Contract":"One year","Churn":"%s"}',
        ]
    ),
)
def test_bytes_that_are_not_utf8_inside_strings(
    client: TestClient, junk: bytes, template: bytes
) -> None:
    row = template.replace(b"%s", junk)
    _check(client, "/predict", row)
    _check(client, "/predict/batch", b'{"customers":[{"tenure":1},' + row + b"]}")


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"customerID": "x" * 2_000_000}).encode(),
        json.dumps({"x" * 2_000_000: 1}).encode(),
        json.dumps({"": 1}).encode(),
        b'{"tenure": ' + b"1" * 5000 + b"}",
        b'{"customers": [' + b",".join([b'{"tenure": true}'] * 50) + b"]}",
    ],
)
def test_huge_strings_and_numbers(client: TestClient, body: bytes) -> None:
    _check(client, "/predict", body)
    _check(client, "/predict/batch", body)
