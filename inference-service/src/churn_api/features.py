"""Encode validated customer fields straight into float32 rows, as the feature contract says."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from churn_api.contract import FeatureContract

_BIG = 2**53

# (X of the valid rows, their input positions, their imputed fields, errors by position)
Encoded = tuple[np.ndarray, list[int], list[Sequence[str]], dict[int, list[dict[str, str]]]]


class Encoder:
    """Field values -> the encoded row: numbers as is, categories one-hot (no dropped level)."""

    def __init__(self, contract: FeatureContract) -> None:
        self.width = len(contract.encoded_features)
        self.field_names = [f.name for f in contract.fields]
        self.defaults: dict[str, Any] = {f.name: f.default for f in contract.fields}
        self.rules = contract.imputation_rules
        self.ruled_fields = {rule.field for rule in self.rules}
        self.numeric: dict[str, list[int]] = {}
        self.onehot: dict[str, dict[Any, list[int]]] = {}
        for i, e in enumerate(contract.encoded_features):
            if e.category is None:
                self.numeric.setdefault(e.field, []).append(i)
            else:
                self.onehot.setdefault(e.field, {}).setdefault(e.category, []).append(i)
        # column index of each encoded feature's field, for summing contributions back to fields
        index = {name: j for j, name in enumerate(self.field_names)}
        self.specs = {f.name: f for f in contract.fields}
        self._getter = operator.itemgetter(*self.field_names)
        self.feature_field = np.array(
            [index[e.field] for e in contract.encoded_features], dtype=np.intp
        )

    def fill(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Every field's value as scored: given, else the matching imputation rule's, else the
        training default; plus the names of the fields that were missing."""
        used: dict[str, Any] = {}
        imputed: list[str] = []
        for name in self.field_names:
            value = values.get(name)
            if value is None:
                value = self.defaults[name]
                imputed.append(name)
            used[name] = value
        for rule in self.rules:
            if rule.field in imputed and used[rule.when_field] == rule.equals:
                used[rule.field] = rule.value
        return used, imputed

    def encode_one(self, values: Mapping[str, Any]) -> tuple[np.ndarray, list[str], dict[str, Any]]:
        """One (1, width) float32 row, the imputed field names and the values actually used."""
        row = np.zeros((1, self.width), dtype=np.float32)
        out = row[0]
        used, imputed = self.fill(values)
        for name, value in used.items():
            cols = self.numeric.get(name)
            if cols is not None:
                for i in cols:
                    out[i] = value
            else:
                for i in self.onehot.get(name, {}).get(value, ()):
                    out[i] = 1.0
        return row, imputed, used

    def encode_batch(
        self,
        rows: Sequence[Any],
        allowed_keys: frozenset[str],
        validate_row: Callable[[Any], dict[str, Any] | list[dict[str, str]]],
        force: set[int] | None = None,
    ) -> Encoded:
        """Validate and encode many rows (dicts) column by column; see encode_columns.

        Rows that are not objects or carry unknown keys (and those in `force`) go through
        `validate_row`, which returns the validated values or the row's errors. Returns
        (X of the valid rows, their input positions, their imputed fields, errors by position).
        """
        n = len(rows)
        suspect = np.zeros(n, dtype=bool)
        if force:
            suspect[list(force)] = True
        safe: Sequence[Any] = rows
        if set(map(type, rows)) == {dict}:
            suspect |= ~np.fromiter(map(allowed_keys.issuperset, rows), dtype=bool, count=n)
        else:
            safe = [r if type(r) is dict else {} for r in rows]
            for i, r in enumerate(rows):
                if type(r) is not dict or not allowed_keys.issuperset(r):
                    suspect[i] = True
        return self.encode_columns(self._columns(safe), suspect, lambda k: validate_row(rows[k]))

    def encode_columns(
        self,
        columns: Sequence[Sequence[Any]],
        suspect: np.ndarray,
        validate_row: Callable[[int], dict[str, Any] | list[dict[str, str]]],
    ) -> Encoded:
        """Encode one column per field (in field order) into rows.

        Only values that the per-row pydantic model would accept unchanged take the vectorised
        path (exact categories of the exact type, finite in-bound ints/floats, missing/null);
        every other row, and those already `suspect`, goes through `validate_row(position)`.
        """
        n = len(suspect)
        suspect = suspect.copy()
        # Built column by column, so column-major; made row-major once at the end.
        XT = np.zeros((self.width, n), dtype=np.float32)
        missing = np.zeros((len(self.field_names), n), dtype=bool)
        for f, (name, column) in enumerate(zip(self.field_names, columns, strict=True)):
            spec = self.specs[name]
            cols = self.numeric.get(name)
            if cols is not None:
                values, nulls, odd = _numeric_column(column, self.defaults[name])
                bad = odd | ~np.isfinite(values)
                if spec.minimum is not None:
                    bad |= values < spec.minimum
                if spec.maximum is not None:
                    bad |= values > spec.maximum
                if spec.dtype == "integer":
                    bad |= values != np.floor(values)
                suspect |= bad
                for i in cols:
                    XT[i] = values
            else:
                categories = spec.categories or []
                codes = _category_codes(column, categories)
                nulls = codes == _NULL
                suspect |= codes == _OTHER
                levels = self.onehot.get(name, {})
                for k, cat in enumerate(categories):
                    hit = codes == k
                    if cat == self.defaults[name]:
                        hit |= nulls
                    for i in levels.get(cat, ()):
                        XT[i] = hit
            if nulls.any():
                missing[f] = nulls
                if name in self.ruled_fields:  # imputation rules are applied per row
                    suspect |= nulls
        X = np.ascontiguousarray(XT.T)
        imputed: list[Sequence[str]] = [()] * n
        names = self.field_names
        for k in np.flatnonzero(missing.any(axis=0)).tolist():
            imputed[k] = [names[f] for f in np.flatnonzero(missing[:, k]).tolist()]
        errors: dict[int, list[dict[str, str]]] = {}
        for k in np.flatnonzero(suspect).tolist():
            checked = validate_row(k)
            if isinstance(checked, list):
                errors[k] = checked
                continue
            row, imputed[k], _ = self.encode_one(checked)
            X[k] = row[0]
        if not errors:
            return X, list(range(n)), imputed, errors
        keep = [k for k in range(n) if k not in errors]
        return X[keep], keep, [imputed[k] for k in keep], errors

    def _columns(self, rows: list[Any]) -> list[list[Any]]:
        """Transpose rows into one list per field (missing keys -> None)."""
        if len(self.field_names) < 2 or not rows:
            return [[r.get(name) for r in rows] for name in self.field_names]
        try:
            # Fast when every row has every field (a full dataset row, the common case).
            return [list(c) for c in zip(*map(self._getter, rows), strict=True)]
        except KeyError:
            return [[r.get(name) for r in rows] for name in self.field_names]


_NULL, _OTHER = -1, -2  # category codes of a missing value and of anything not a category


def _category_codes(column: Sequence[Any], categories: list[Any]) -> np.ndarray:
    """Each value's category index, _NULL for None, _OTHER for anything else.

    Only values of a category's own type count: True or 1.0 for the category 1, or " DSL",
    are left to the per-row model, which decides what they mean.
    """
    code_of: dict[Any, int] = {c: k for k, c in enumerate(categories)}
    code_of[None] = _NULL
    n = len(column)
    allowed = {type(c) for c in categories} | {type(None)}
    # No other type compares equal to a str, so text categories need no type check; numbers
    # do (True == 1 == 1.0). Unhashable values (a list, an object) are caught below.
    if allowed != {str, type(None)} and not set(map(type, column)) <= allowed:
        return _category_codes_checked(column, code_of, allowed)
    try:
        return np.fromiter(map(code_of.get, column, repeat(_OTHER, n)), dtype=np.int16, count=n)
    except TypeError:
        return _category_codes_checked(column, code_of, allowed)


def _category_codes_checked(
    column: Sequence[Any], code_of: dict[Any, int], allowed: set[type]
) -> np.ndarray:
    return np.fromiter(
        (code_of.get(v, _OTHER) if type(v) in allowed else _OTHER for v in column),
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
