"""Encode validated customer fields straight into float32 rows, as the feature contract says."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from churn_api.contract import FeatureContract

_BIG = 2**53


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
    ) -> tuple[np.ndarray, list[int], list[list[str]], dict[int, list[dict[str, str]]]]:
        """Validate and encode many rows column by column.

        Only values that the per-row pydantic model would accept unchanged take the vectorised
        path (exact categories, finite in-bound ints/floats, missing/null); every other row
        (and those in `force`) goes through `validate_row`, which returns the validated values
        or the row's errors. Returns
        (X of the valid rows, their input positions, their imputed fields, errors by position).
        """
        n = len(rows)
        suspect = np.zeros(n, dtype=bool)
        for k in force or ():
            suspect[k] = True
        safe: list[Any] = list(rows)
        for i, r in enumerate(rows):
            if type(r) is not dict:
                suspect[i] = True
                safe[i] = {}
            elif not allowed_keys.issuperset(r):
                suspect[i] = True
        X = np.zeros((n, self.width), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for name, column in zip(self.field_names, self._columns(safe), strict=True):
            spec = self.specs[name]
            if None in column:
                nulls = [k for k, v in enumerate(column) if v is None]
                missing[name] = nulls
                if name in self.ruled_fields:  # imputation rules are applied per row
                    suspect[nulls] = True
                default = self.defaults[name]
                for k in nulls:
                    column[k] = default
            cols = self.numeric.get(name)
            if cols is not None:
                values = self._numeric_column(column, suspect, self.defaults[name])
                bad = ~np.isfinite(values)
                if spec.minimum is not None:
                    bad |= values < spec.minimum
                if spec.maximum is not None:
                    bad |= values > spec.maximum
                if spec.dtype == "integer":
                    bad |= values != np.floor(values)
                suspect |= bad
                for i in cols:
                    X[:, i] = values
                continue
            levels = self.onehot.get(name, {})
            code_of = {c: float(k) for k, c in enumerate(spec.categories or [])}
            try:
                found = list(map(code_of.get, column))
            except TypeError:  # an unhashable value (list, object): per-row validation names it
                found = [
                    code_of.get(v) if isinstance(v, str | int | float) else None for v in column
                ]
            codes = np.array(found, dtype=np.float64)  # None (unknown) -> nan
            suspect |= np.isnan(codes)
            for k, cat in enumerate(spec.categories or []):
                idxs = levels.get(cat)
                if idxs:
                    hit = codes == k
                    for i in idxs:
                        X[:, i] = hit
        imputed: list[list[str]] = [[] for _ in range(n)]
        for name in self.field_names:
            for k in missing.get(name, ()):
                imputed[k].append(name)
        errors: dict[int, list[dict[str, str]]] = {}
        for k in np.flatnonzero(suspect).tolist():
            checked = validate_row(rows[k])
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

    @staticmethod
    def _numeric_column(column: list[Any], suspect: np.ndarray, default: Any) -> np.ndarray:
        """float64 values of a column of plain ints/floats; anything else is flagged suspect."""
        types = set(map(type, column))
        if types <= {int, float}:
            try:
                return np.array(column, dtype=np.float64)
            except OverflowError:
                pass
        for k, v in enumerate(column):
            if not (type(v) is float or (type(v) is int and -_BIG <= v <= _BIG)):
                suspect[k] = True
                column[k] = default
        return np.array(column, dtype=np.float64)
