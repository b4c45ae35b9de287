"""Arrow columns -> the Python values a /predict body would carry, so that the API's own column
checks and `Customer` model judge every cell.

Only conversions whose result the `Customer` model would give anyway are made here (a CSV's
"29.85" -> 29.85, "0" -> 0 for an integer category, a blank number -> None); any other cell is
passed on as read, and the model decides what it means (or names the problem).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from churn_api.contract import FieldSpec

_INTEGER = r"^[+-]?[0-9]+$"
_DECIMAL = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_BLANK = r"^\s*$"
_CONTROL = r"[\x00-\x1f\x7f]"


def plain(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous, dictionary-decoded array."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def _with_nulls(values: list[Any], array: pa.Array) -> list[Any]:
    if array.null_count:
        for k in np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False)).tolist():
            values[k] = None
    return values


def _numbers(array: pa.Array) -> list[Any]:
    """int/float Python values of a numeric Arrow array; null -> None."""
    if pa.types.is_floating(array.type) and array.type != pa.float64():
        array = array.cast(pa.float64())
    values = array.fill_null(0).to_numpy(zero_copy_only=False).tolist()
    return _with_nulls(values, array)


def _text_numbers(array: pa.Array, integer: bool) -> list[Any]:
    """A text column of a numeric field: plain numbers converted, blanks None, others as is."""
    values = array.to_pylist()
    pattern = _INTEGER if integer else _DECIMAL
    ok = pc.fill_null(pc.match_substring_regex(array, pattern), False)
    if pc.any(ok).as_py():
        target = pa.int64() if integer else pa.float64()
        mask = ok.to_numpy(zero_copy_only=False)
        converted = pc.cast(array.filter(ok), target).to_numpy(zero_copy_only=False).tolist()
        for k, v in zip(np.flatnonzero(mask).tolist(), converted, strict=True):
            values[k] = v
    blank = pc.fill_null(pc.match_substring_regex(array, _BLANK), False)
    if pc.any(blank).as_py():
        for k in np.flatnonzero(blank.to_numpy(zero_copy_only=False)).tolist():
            values[k] = None
    return values


def _text_int_categories(array: pa.Array, categories: list[Any]) -> list[Any]:
    """A text column of an integer-category field: "0" -> 0 (as the model reads it)."""
    by_text = {str(c): c for c in categories}
    return [by_text.get(v, v) if type(v) is str else v for v in array.to_pylist()]


def field_values(array: pa.Array | None, spec: FieldSpec, n: int) -> list[Any]:
    """The values of one contract field, as a JSON body would carry them."""
    if array is None or pa.types.is_null(array.type):
        return [None] * n
    array = plain(array)
    kind = array.type
    is_text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if spec.kind == "numeric":
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            return _numbers(array)
        if is_text:
            return _text_numbers(array, spec.dtype == "integer")
    elif spec.categories and all(isinstance(c, int) for c in spec.categories):
        if pa.types.is_integer(kind):
            return _numbers(array)
        if is_text:
            return _text_int_categories(array, spec.categories)
    return array.to_pylist()  # text categories, booleans, dates...: the model decides


def id_values(array: pa.Array | None, n: int) -> tuple[list[Any], list[str | None]]:
    """Customer ids as text (an integer id becomes its text, as the model does) and, per row,
    what is wrong with the id (None when it is usable as the store's key)."""
    if array is None:
        return [None] * n, ["Field required"] * n
    array = plain(array)
    if pa.types.is_integer(array.type):
        array = array.cast(pa.string())
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        values = array.to_pylist()
        return values, [None if v is None else "Input should be a valid string" for v in values]
    ids = array.to_pylist()
    problems: list[str | None] = [None] * n
    bad = pc.or_(
        pc.or_(
            pc.fill_null(pc.match_substring_regex(array, _BLANK), True),
            pc.fill_null(pc.match_substring_regex(array, _CONTROL), False),
        ),
        pc.greater(pc.fill_null(pc.utf8_length(array), 0), 64),
    )
    if pc.any(bad).as_py():
        for k in np.flatnonzero(bad.to_numpy(zero_copy_only=False)).tolist():
            problems[k] = id_problem(ids[k])
    return ids, problems


def id_problem(value: str | None) -> str | None:
    """Why a text id cannot key a customer (required, not blank, <= 64, no control chars)."""
    if value is None:
        return "Field required"
    if not value.strip():
        return "Input should be a non-blank customer id"
    if len(value) > 64:
        return "String should have at most 64 characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "Input should not contain control characters"
    return None


def value_column(array: pa.Array | None, n: int) -> tuple[np.ndarray, list[str | None]]:
    """The optional customer_value column as float64 (NaN = not given) and per-row problems
    (a number >= 0; text numbers read as numbers)."""
    values = np.full(n, np.nan)
    problems: list[str | None] = [None] * n
    if array is None or pa.types.is_null(array.type):
        return values, problems
    array = plain(array)
    raw = (
        _numbers(array)
        if pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
        else _text_numbers(array, False)
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
        else array.to_pylist()
    )
    for k, v in enumerate(raw):
        if v is None:
            continue
        if type(v) not in (int, float):
            problems[k] = "Input should be a number"
        elif not (np.isfinite(v) and v >= 0):
            problems[k] = "Input should be a finite number greater than or equal to 0"
        else:
            values[k] = v
    return values, problems
