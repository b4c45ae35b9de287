"""Score one partition of a snapshot with the API's own code path: column checks and the
`Customer` model (validation), `Encoder.encode_columns`, `LoadedModel.probabilities`, bands,
value.py (expected value) and explain.py (reasons)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from churn_api import value
from churn_api.explain import field_contributions, top_reasons
from churn_api.scorer import LoadedModel, gc_paused
from churn_api.scoring.columns import field_values, id_values, value_column
from churn_api.scoring.drift_run import PartitionDrift, partition_drift
from churn_api.store.writes import ScoredRows

REASONS = ("top-decile", "all", "none")
TOP_SHARE = 0.10


@dataclass
class Rejected:
    """A row kept out of the run: its 1-based row number in the snapshot, id and problems."""

    row: int
    customer_id: str | None
    errors: list[dict[str, str]]

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "customer_id": self.customer_id, "errors": self.errors}


@dataclass
class PartitionResult:
    """A scored partition: the rows for the store, the rejected rows and the stage timings."""

    rows: ScoredRows
    rejected: list[Rejected]
    read: int
    seconds: dict[str, float] = field(default_factory=dict)
    drift: PartitionDrift | None = None  # the valid rows' fields, for the run's drift report


class PartitionScorer:
    """Scores partitions (Arrow record batches) with one verified model."""

    def __init__(self, model: LoadedModel, reasons: str = "top-decile") -> None:
        if reasons not in REASONS:
            raise ValueError(f"reasons must be one of {REASONS}, not {reasons!r}")
        self.model = model
        self.reasons = reasons
        self.contract = model.contract
        self.specs = model.contract.fields
        self.names = [s.name for s in self.specs]
        self.id_field = model.contract.id_field
        self.categories = [
            np.array([*(s.categories or ()), None], dtype=object) for s in self.specs
        ]

    def score(
        self, batch: pa.RecordBatch, first_row: int, duplicates: Mapping[int, int] | None = None
    ) -> PartitionResult:
        """Score a batch whose first row is snapshot row `first_row` (1-based).

        `duplicates`: snapshot row -> the row where its customer id was first seen; those rows
        are rejected. Every other row is scored or rejected with its problems, never skipped.
        """
        with gc_paused():
            return self._score(batch, first_row, duplicates or {})

    def _score(
        self, batch: pa.RecordBatch, first_row: int, duplicates: Mapping[int, int]
    ) -> PartitionResult:
        t0 = time.perf_counter()
        n = batch.num_rows
        names = batch.schema.names

        def column(name: str) -> pa.Array | None:
            return batch.column(name) if name in names else None

        ids, id_problems = id_values(column(self.id_field), n)
        raw = [field_values(column(s.name), s, n) for s in self.specs]
        own_value, value_problems = value_column(column("customer_value"), n)
        validator = self.model.customers
        checked_columns = validator.check_columns(raw, np.zeros(n, dtype=bool))
        checked: dict[int, dict[str, Any]] = {}
        errors: dict[int, list[dict[str, str]]] = {}
        reporter = validator.reporter()
        for k in np.flatnonzero(checked_columns.suspect).tolist():
            outcome = validator.validate_row(
                {f: col[k] for f, col in zip(self.names, raw, strict=True)}, reporter
            )
            if isinstance(outcome, list):
                errors[k] = outcome
            else:
                checked[k] = outcome
        for k, problem in enumerate(id_problems):
            if problem is not None:
                errors.setdefault(k, []).insert(0, {"field": self.id_field, "message": problem})
        for k, problem in enumerate(value_problems):
            if problem is not None:
                errors.setdefault(k, []).append({"field": "customer_value", "message": problem})
        for k in range(n):
            first = duplicates.get(first_row + k)
            if first is not None:
                message = f"duplicate {self.id_field} {ids[k]!r}: first seen at row {first}"
                errors.setdefault(k, []).insert(0, {"field": self.id_field, "message": message})
        rejected = [Rejected(first_row + k, _text(ids[k]), errors[k]) for k in sorted(errors)]
        keep = np.setdiff1d(np.arange(n), np.fromiter(errors, dtype=np.intp, count=len(errors)))
        drift = partition_drift(self.specs, checked_columns, checked, keep, raw, errors)
        t1 = time.perf_counter()

        X, _imputed = self.model.encoder.encode_columns(checked_columns, checked)
        if len(keep) < n:
            X = X[keep]
        m = len(keep)
        model = self.model
        p = model.probabilities(X) if m else np.empty(0)
        bands = model.band_index(p) if m else np.empty(0, dtype=np.intp)
        band_names = np.array(model.band_names, dtype=object)[bands].tolist()
        attributes = self._attributes(checked_columns, checked, keep)
        monthly = (
            np.array([a.get("MonthlyCharges") for a in attributes], dtype=float)
            if "MonthlyCharges" in self.names
            else None
        )
        values, sources = value.customer_values(own_value[keep], monthly)
        ev = value.expected_values(p, values, self.contract.threshold)
        t2 = time.perf_counter()

        reasons = self._reasons(X, p, ev, attributes)
        t3 = time.perf_counter()
        rows = ScoredRows(
            customer_id=[ids[k] for k in keep.tolist()],
            attributes=attributes,
            customer_value=values,
            value_source=sources,
            contract=[a.get("Contract") for a in attributes],
            tenure=[_float(a.get("tenure")) for a in attributes],
            churn_probability=p,
            churn=p >= self.contract.threshold.value,
            risk_band=band_names,
            expected_value=ev,
            reasons=reasons,
            scored_at=datetime.now(UTC),
        )
        seconds = {"validate": t1 - t0, "score": t2 - t1, "reasons": t3 - t2}
        return PartitionResult(rows, rejected, n, seconds, drift)

    def _attributes(
        self, columns: Any, checked: Mapping[int, dict[str, Any]], keep: np.ndarray
    ) -> list[dict[str, Any]]:
        """Each kept row's values as the `Customer` model gives them (None where missing)."""
        per_field = []
        for f, spec in enumerate(self.specs):
            values = columns.values[f][keep]
            missing = columns.missing[f][keep]
            if spec.kind == "numeric":
                out = values.astype(np.int64) if spec.dtype == "integer" else values
                listed = out.tolist()
                for k in np.flatnonzero(missing).tolist():
                    listed[k] = None
            else:
                codes = np.where(values < 0, len(self.categories[f]) - 1, values)
                listed = self.categories[f][codes].tolist()
            per_field.append(listed)
        names = self.names
        attributes = [dict(zip(names, row, strict=True)) for row in zip(*per_field, strict=True)]
        for j, k in enumerate(keep.tolist()):
            if k in checked:  # validated one by one: the model's own values
                attributes[j] = {name: checked[k].get(name) for name in names}
        return attributes

    def _reasons(
        self, X: np.ndarray, p: np.ndarray, ev: np.ndarray, attributes: list[dict[str, Any]]
    ) -> list[list[dict[str, Any]] | None]:
        """Top reasons for the rows asked for: all, none, or the partition's top decile by
        expected value and by churn probability (the two orders of the call list)."""
        m = len(p)
        out: list[list[dict[str, Any]] | None] = [None] * m
        if self.reasons == "none" or m == 0:
            return out
        if self.reasons == "all":
            chosen = np.arange(m)
        else:
            top = max(1, int(np.ceil(m * TOP_SHARE)))
            by_ev = np.argsort(-ev, kind="stable")[:top]
            by_p = np.argsort(-p, kind="stable")[:top]
            chosen = np.union1d(by_ev, by_p)
        encoder = self.model.encoder
        per_field, _ = field_contributions(self.model.batch_booster, X[chosen], encoder)
        for j, k in enumerate(chosen.tolist()):
            used = encoder.fill(attributes[k])[0]
            out[k] = top_reasons(per_field[j], used, encoder.field_names)
        return out


def _text(value: Any) -> str | None:
    return None if value is None else str(value)[:64]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
