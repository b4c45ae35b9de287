"""The numpy column checks of a parsed batch: which values the `Customer` model would accept
unchanged (exact categories of the exact type, finite in-bound numbers, null); any other row is
left to the model (customer.py)."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

from churn_api.contract import FieldSpec

_BIG = 2**53
NULL, OTHER = -1, -2  # category codes of a missing value and of anything not a category
_BYTE_CODES = 126  # categories whose codes (and NULL, OTHER) fit one signed byte
_OTHER_BYTE = bytes((OTHER & 0xFF,))


@dataclass(frozen=True)
class CheckedColumns:
    """A batch checked column by column.

    values[f]: field f as float64 (numeric; missing and unchecked values hold the default) or
    as category indexes (categorical; NULL, OTHER); missing[f, k]: row k left field f out;
    suspect[k]: row k must go through the `Customer` model.
    """

    values: list[np.ndarray]
    missing: np.ndarray
    suspect: np.ndarray


def check_columns(
    specs: Sequence[FieldSpec],
    ruled_fields: set[str],
    columns: Sequence[Sequence[Any]],
    suspect: np.ndarray,
) -> CheckedColumns:
    """Check one column per field (in field order); rows it cannot vouch for become suspect.

    Only values that the `Customer` model would accept unchanged pass: exact categories of
    the exact type, finite in-bound ints/floats, missing/null.
    """
    n = len(suspect)
    suspect = suspect.copy()
    missing = np.zeros((len(specs), n), dtype=bool)
    values: list[np.ndarray] = []
    for f, (spec, column) in enumerate(zip(specs, columns, strict=True)):
        if spec.kind == "numeric":
            checked, nulls, odd = _numeric_column(column, spec.default)
            bad = odd | ~np.isfinite(checked)
            if spec.minimum is not None:
                bad |= checked < spec.minimum
            if spec.maximum is not None:
                bad |= checked > spec.maximum
            if spec.dtype == "integer":
                bad |= checked != np.floor(checked)
            suspect |= bad
        else:
            checked = _category_codes(column, spec.categories or [])
            nulls = checked == NULL
            suspect |= checked == OTHER
        values.append(checked)
        if nulls.any():
            missing[f] = nulls
            if spec.name in ruled_fields:
                suspect |= nulls
    return CheckedColumns(values, missing, suspect)


def _category_codes(column: Sequence[Any], categories: list[Any]) -> np.ndarray:
    """Each value's category index, NULL for None, OTHER for anything else.

    Only values of a category's own type count: True or 1.0 for the category 1, or " DSL",
    are left to the `Customer` model, which decides what they mean.
    """
    code_of: dict[Any, int] = {c: k for k, c in enumerate(categories)}
    code_of[None] = NULL
    n = len(column)
    allowed = {type(c) for c in categories} | {type(None)}
    # No other type compares equal to a str, so text categories need no type check; numbers
    # do (True == 1 == 1.0). Unhashable values (a list, an object) are caught below.
    if allowed != {str, type(None)} and not set(map(type, column)) <= allowed:
        return _category_codes_checked(column, code_of, allowed)
    try:
        if len(categories) <= _BYTE_CODES:
            # One byte per value, joined: a quarter cheaper than numpy taking ints one by one.
            byte_of = {value: bytes((code & 0xFF,)) for value, code in code_of.items()}
            joined = b"".join(map(byte_of.get, column, repeat(_OTHER_BYTE, n)))
            return np.frombuffer(joined, dtype=np.int8).astype(np.int16)
        return np.fromiter(map(code_of.get, column, repeat(OTHER, n)), dtype=np.int16, count=n)
    except TypeError:
        return _category_codes_checked(column, code_of, allowed)


def _category_codes_checked(
    column: Sequence[Any], code_of: dict[Any, int], allowed: set[type]
) -> np.ndarray:
    return np.fromiter(
        (code_of.get(v, OTHER) if type(v) in allowed else OTHER for v in column),
        dtype=np.int16,
        count=len(column),
    )


def _numeric_column(
    column: Sequence[Any], default: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float64 values of a column, its nulls, and the values that are not plain ints/floats
    (those and the nulls hold the default in the values)."""
    n = len(column)
    nulls = np.zeros(n, dtype=bool)
    odd = np.zeros(n, dtype=bool)
    types = set(map(type, column))
    if types <= {int, float, type(None)}:
        try:
            values = np.array(column, dtype=np.float64)  # None -> nan
        except OverflowError:
            pass
        else:
            if type(None) in types:  # told apart from a NaN that was sent (rejected later)
                nulls = np.fromiter(map(operator.is_, column, repeat(None, n)), bool, count=n)
                values[nulls] = default
            return values, nulls, odd
    clean = list(column)
    for k, v in enumerate(column):
        if v is None:
            nulls[k] = True
        elif not (type(v) is float or (type(v) is int and -_BIG <= v <= _BIG)):
            odd[k] = True
        else:
            continue
        clean[k] = default
    return np.array(clean, dtype=np.float64), nulls, odd
