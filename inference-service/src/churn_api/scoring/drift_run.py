"""A scoring run's batch drift: each partition's valid rows as compact columns (numbers as
float64 with NaN for missing, categories as codes), the unknown categories of its rejected
rows, and at the end of the run one DriftReport of them all against the model's reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from churn_api.columns import OTHER, CheckedColumns
from churn_api.contract import FieldSpec
from churn_api.drift import NULL_CODE, DriftReport, compare
from churn_api.reference import Reference

UNSEEN_KEYS_MAX = 20  # distinct unknown values kept per field; the rest are counted together
UNSEEN_VALUE_CHARS = 64
OTHER_VALUES = "<other values>"


@dataclass
class PartitionDrift:
    """One partition's contribution: columns of its valid rows (contract order) and, per
    categorical field, the unknown values of rows rejected for them."""

    columns: dict[str, np.ndarray]
    unseen: dict[str, dict[str, int]] = field(default_factory=dict)


def _code_dtype(spec: FieldSpec) -> type[np.signedinteger]:
    return np.int8 if len(spec.categories or ()) < 127 else np.int32


def _unseen_key(value: Any) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text[:UNSEEN_VALUE_CHARS]


def partition_drift(
    specs: Sequence[FieldSpec],
    checked_columns: CheckedColumns,
    checked: Mapping[int, dict[str, Any]],
    keep: np.ndarray,
    raw: Sequence[Sequence[Any]],
    errors: Mapping[int, list[dict[str, str]]],
) -> PartitionDrift:
    """The drift columns of a scored partition (job.PartitionScorer's intermediate values).

    keep: the valid rows; checked: rows the `Customer` model validated one by one (their
    values replace the column checks'); errors: the rejected rows' problems.
    """
    position = {int(k): j for j, k in enumerate(keep.tolist())}
    columns: dict[str, np.ndarray] = {}
    unseen: dict[str, dict[str, int]] = {}
    for f, spec in enumerate(specs):
        values = checked_columns.values[f][keep]
        if spec.kind == "numeric":
            column = values.astype(np.float64)  # float32 would move values across bin edges
            column[checked_columns.missing[f][keep]] = np.nan
        else:
            column = values.astype(_code_dtype(spec))
        codes = {c: i for i, c in enumerate(spec.categories or ())}
        for k, row in checked.items():
            j = position.get(k)
            if j is None:
                continue
            v = row.get(spec.name)
            if spec.kind == "numeric":
                column[j] = np.nan if v is None else float(v)
            else:
                column[j] = NULL_CODE if v is None else codes.get(v, OTHER)
        columns[spec.name] = column
        if spec.kind == "categorical":
            found = _rejected_unseen(spec, f, checked_columns, raw, errors)
            if found:
                unseen[spec.name] = found
    return PartitionDrift(columns, unseen)


def _rejected_unseen(
    spec: FieldSpec,
    f: int,
    checked_columns: CheckedColumns,
    raw: Sequence[Sequence[Any]],
    errors: Mapping[int, list[dict[str, str]]],
) -> dict[str, int]:
    """Values of a categorical field that are no category, in rows rejected for that field."""
    found: dict[str, int] = {}
    codes = checked_columns.values[f]
    for k, problems in errors.items():
        if codes[k] != OTHER or raw[f][k] is None:
            continue
        if any(p.get("field") == spec.name for p in problems):
            key = _unseen_key(raw[f][k])
            found[key] = found.get(key, 0) + 1
    return found


def merge_unseen(parts: Sequence[Mapping[str, Mapping[str, int]]]) -> dict[str, dict[str, int]]:
    """Unseen counts added over partitions, at most UNSEEN_KEYS_MAX values per field (the
    rarest beyond that counted under OTHER_VALUES)."""
    total: dict[str, dict[str, int]] = {}
    for part in parts:
        for name, counts in part.items():
            into = total.setdefault(name, {})
            for value, count in counts.items():
                into[value] = into.get(value, 0) + int(count)
    for name, counts in total.items():
        if len(counts) > UNSEEN_KEYS_MAX:
            ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            kept = dict(ranked[: UNSEEN_KEYS_MAX - 1])
            kept[OTHER_VALUES] = sum(c for _, c in ranked[UNSEEN_KEYS_MAX - 1 :])
            total[name] = kept
    return total


@dataclass
class RunDrift:
    """The run's report and the unseen values of its rejected rows, per field."""

    report: DriftReport
    unseen_rejected: dict[str, dict[str, int]]

    def unseen_total(self, name: str) -> int:
        """Unknown values of a field: in valid rows (none: the run rejects them) and rejected."""
        row = next((r for r in self.report.rows if r.field == name), None)
        valid = sum(row.unseen.values()) if row is not None else 0
        return valid + sum(self.unseen_rejected.get(name, {}).values())


def run_drift(
    reference: Reference, parts: Sequence[PartitionDrift], scores: np.ndarray
) -> RunDrift:
    """One report over every partition's valid rows and scores (categories given as codes)."""
    names = list(parts[0].columns) if parts else []
    columns = {
        name: np.concatenate([p.columns[name] for p in parts]) if parts else np.empty(0)
        for name in names
    }
    report = compare(reference, columns, scores, coded=True)
    return RunDrift(report, merge_unseen([p.unseen for p in parts]))
