"""Encode checked customer values straight into float32 rows, as the feature contract says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from churn_api.contract import FeatureContract
from churn_api.customer import CheckedColumns


class Encoder:
    """Field values -> the encoded row: numbers as is, categories one-hot (no dropped level)."""

    def __init__(self, contract: FeatureContract) -> None:
        self.width = len(contract.encoded_features)
        self.field_names = [f.name for f in contract.fields]
        self.defaults: dict[str, Any] = {f.name: f.default for f in contract.fields}
        self.rules = contract.imputation_rules
        self.numeric: dict[str, list[int]] = {}
        self.onehot: dict[str, dict[Any, list[int]]] = {}
        for i, e in enumerate(contract.encoded_features):
            if e.category is None:
                self.numeric.setdefault(e.field, []).append(i)
            else:
                self.onehot.setdefault(e.field, {}).setdefault(e.category, []).append(i)
        self.specs = contract.fields
        # column index of each encoded feature's field, for summing contributions back to fields
        index = {name: j for j, name in enumerate(self.field_names)}
        self.feature_field = np.array(
            [index[e.field] for e in contract.encoded_features], dtype=np.intp
        )
        # encode_one's plan: per field, its numeric columns, or its one-hot columns by category
        self._slots = [
            (name, self.numeric.get(name), self.onehot.get(name, {})) for name in self.field_names
        ]

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
        """One (1, width) float32 row, the imputed field names and the values actually used.

        The row is filled as a list and converted once: setting numpy items one by one cost
        more than the rest of the encoding (each value is rounded to float32 the same way).
        """
        used, imputed = self.fill(values)
        out = [0.0] * self.width
        for name, cols, levels in self._slots:
            value = used[name]
            if cols is not None:
                for i in cols:
                    out[i] = value
            else:
                for i in levels.get(value, ()):
                    out[i] = 1.0
        return np.array((out,), dtype=np.float32), imputed, used

    def encode_columns(
        self, columns: CheckedColumns, rows: Mapping[int, Mapping[str, Any]]
    ) -> tuple[np.ndarray, list[Sequence[str]]]:
        """Every row of a checked batch, and its imputed fields.

        Columns are encoded at once; the rows in `rows` (position -> values validated one by
        one, see batch.ParsedBatch) are encoded from those values instead. Rows that are in
        neither (rejected rows) hold meaningless values: the caller drops them.
        """
        n = len(columns.suspect)
        # Built column by column, so column-major; made row-major once at the end.
        XT = np.zeros((self.width, n), dtype=np.float32)
        for f, spec in enumerate(self.specs):
            values = columns.values[f]
            if spec.kind == "numeric":
                for i in self.numeric.get(spec.name, ()):
                    XT[i] = values
                continue
            levels = self.onehot.get(spec.name, {})
            default = self.defaults[spec.name]
            for k, cat in enumerate(spec.categories or ()):
                hit = values == k
                if cat == default:
                    hit |= columns.missing[f]
                for i in levels.get(cat, ()):
                    XT[i] = hit
        X = np.ascontiguousarray(XT.T)
        imputed: list[Sequence[str]] = [()] * n
        names = self.field_names
        missing = columns.missing
        for k in np.flatnonzero(missing.any(axis=0)).tolist():
            imputed[k] = [names[f] for f in np.flatnonzero(missing[:, k]).tolist()]
        for k, checked in rows.items():
            row, imputed[k], _ = self.encode_one(checked)
            X[k] = row[0]
        return X, imputed
