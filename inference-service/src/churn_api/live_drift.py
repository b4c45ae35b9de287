"""Live drift: a bounded ring of recently scored rows, compared with the reference on an interval.

The window holds the checked values of the reference's fields and the calibrated score of the
last DRIFT_WINDOW_ROWS rows the API scored, never a customer id, in arrays allocated once per
model: memory does not grow with traffic. A single row (/predict, on the event loop) costs a
tuple appended to a bounded deque; those become columns when the interval task runs, off the
event loop (within an interval, order does not matter to the statistics). A batch (on its own
thread) is written column by column. Every DRIFT_INTERVAL_SECONDS the task computes
drift.compare and sets the gauges.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np

from churn_api import drift
from churn_api.reference import CategoricalReference, Reference

if TYPE_CHECKING:
    from churn_api.metrics import Metrics
    from churn_api.scorer import BatchAnswer, LoadedModel

log = logging.getLogger("churn_api.drift")

MIN_ROWS = 200  # fewer rows make PSI noise look like drift: no gauge values below this


class LiveWindow:
    """The last `capacity` scored rows' field values and scores (no ids), in a numpy ring."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.reference: Reference | None = None
        self._adopted: Any = None  # the reference object the layout was built for
        self._lock = threading.Lock()
        # Single rows not yet in the arrays: at most `capacity` (older ones would be overwritten).
        self._pending: deque[tuple[tuple[Any, ...], float]] = deque(maxlen=max(capacity, 1))
        self._reset([], [])

    def _reset(self, numeric: list[str], categorical: list[str]) -> None:
        self.numeric, self.categorical = numeric, categorical
        cap = self.capacity
        self._num = np.full((len(numeric), cap), np.nan, dtype=np.float64)
        self._cat = np.full((len(categorical), cap), drift.NULL_CODE, dtype=np.int16)
        self._score = np.full(cap, np.nan, dtype=np.float64)
        self._next = 0
        self.count = 0
        self._pending = deque(maxlen=max(cap, 1))

    def _adopt(self, model: LoadedModel) -> None:
        """Lay the window out for a model's reference (a new model starts an empty window)."""
        reference = model.reference if self.capacity > 0 else None
        with self._lock:
            self._adopted = model.reference
            self.reference = reference
            if reference is None:
                self._reset([], [])
                return
            fields = [f.name for f in model.contract.fields if f.name in reference.fields]
            categorical = [
                n for n in fields if isinstance(reference.fields[n], CategoricalReference)
            ]
            numeric = [n for n in fields if n not in categorical]
            self._reset(numeric, categorical)
            self._names = [*numeric, *categorical]
            self._get = operator.itemgetter(*self._names) if len(self._names) > 1 else None
            self._codes = [
                {c: k for k, c in enumerate(reference.fields[n].categories)}  # type: ignore[union-attr]
                for n in categorical
            ]

    @property
    def rows(self) -> int:
        """Rows in the window, the pending single rows included."""
        return min(self.count + len(self._pending), self.capacity)

    def record_one(self, model: LoadedModel, values: Mapping[str, Any], score: float) -> None:
        """One validated customer's values (None = missing) and its calibrated score."""
        if model.reference is not self._adopted:
            self._adopt(model)
        if self.reference is None:
            return
        get = self._get
        try:
            row = get(values) if get is not None else tuple(values.get(n) for n in self._names)
        except KeyError:  # a model swapped in with other fields, between two lines: skip it
            return
        self._pending.append((row, score))

    def flush(self) -> None:
        """Write the pending single rows into the ring (before a batch, or for a snapshot)."""
        with self._lock:
            pending = self._pending
            if not pending or self.reference is None:
                return
            self._pending = deque(maxlen=pending.maxlen)
            try:
                rows, scores = zip(*pending, strict=True)
                columns = list(zip(*rows, strict=True)) if len(self._names) > 1 else [rows]
                k = len(self.numeric)
                num = np.array(columns[:k], dtype=np.float64).reshape(k, len(rows))  # None: nan
                cat = np.array(
                    [
                        np.fromiter(
                            map(codes.get, col, repeat(drift.OTHER_CODE)), np.int16, len(col)
                        )
                        for codes, col in zip(self._codes, columns[k:], strict=True)
                    ],
                    dtype=np.int16,
                ).reshape(len(self.categorical), len(rows))
            except (ValueError, TypeError, RuntimeError):
                # Rows of two layouts (a model swap between two requests), or a row appended
                # while this thread read the deque: drop these few.
                log.debug("live drift: pending rows of another model dropped")
                return
            self._write(num, cat, np.asarray(scores, dtype=np.float64))

    def record_batch(self, model: LoadedModel, answer: BatchAnswer) -> None:
        """The rows of a batch that scored: their checked columns and probabilities."""
        if model.reference is not self._adopted:
            self._adopt(model)
        with self._lock:  # one consistent layout, even if another thread adopts meanwhile
            reference, numeric, categorical = self.reference, self.numeric, self.categorical
            codes_of = self._codes if reference is not None else []
        if reference is None or answer.columns is None or not answer.succeeded:
            return
        index = {spec.name: f for f, spec in enumerate(model.contract.fields)}
        cols, checked = answer.columns, answer.checked or {}
        keep = None if not answer.errors else np.asarray(answer.positions, dtype=np.intp)
        # Rows the column checks left to the Customer model: their validated values.
        fixed = np.fromiter(checked, dtype=np.intp, count=len(checked))
        fixed_rows = list(checked.values())
        num = np.empty((len(numeric), answer.succeeded), dtype=np.float64)
        for j, name in enumerate(numeric):
            values = cols.values[index[name]].astype(np.float64, copy=True)
            values[cols.missing[index[name]]] = np.nan
            if len(fixed):
                values[fixed] = np.array([r.get(name) for r in fixed_rows], dtype=np.float64)
            num[j] = values if keep is None else values[keep]
        cat = np.empty((len(categorical), answer.succeeded), dtype=np.int16)
        for j, (name, codes) in enumerate(zip(categorical, codes_of, strict=True)):
            values = cols.values[index[name]].astype(np.int16, copy=True)
            if len(fixed):
                given = [r.get(name) for r in fixed_rows]
                values[fixed] = [
                    drift.NULL_CODE if v is None else codes.get(v, drift.OTHER_CODE) for v in given
                ]
            cat[j] = values if keep is None else values[keep]
        with self._lock:
            if self.reference is reference:  # else a new model's window: these rows are not its
                self._write(num, cat, np.asarray(answer.probabilities, dtype=np.float64))

    def _write(self, num: np.ndarray, cat: np.ndarray, scores: np.ndarray) -> None:
        """Overwrite the oldest slots with m new rows (the newest `capacity` when m is larger)."""
        m = len(scores)
        if m > self.capacity:
            num, cat, scores = (
                num[:, -self.capacity :],
                cat[:, -self.capacity :],
                scores[-self.capacity :],
            )
            m = self.capacity
        slots = (self._next + np.arange(m)) % self.capacity
        self._num[:, slots] = num
        self._cat[:, slots] = cat
        self._score[slots] = scores
        self._next = (self._next + m) % self.capacity
        self.count = min(self.count + m, self.capacity)

    def snapshot(self) -> tuple[Reference | None, dict[str, np.ndarray], np.ndarray]:
        """The reference and copies of the window's columns and scores (oldest rows first
        once the ring has wrapped; order does not matter to the statistics)."""
        self.flush()
        with self._lock:
            n = self.count
            columns = {name: self._num[j, :n].copy() for j, name in enumerate(self.numeric)}
            columns |= {name: self._cat[j, :n].copy() for j, name in enumerate(self.categorical)}
            return self.reference, columns, self._score[:n].copy()

    def count_unseen(self, model: LoadedModel, errors: Sequence[Mapping[str, str]]) -> list[str]:
        """The categorical fields whose value a 422 (or a batch row's error) refused as not
        one of the model's categories."""
        categorical = {f.name for f in model.contract.fields if f.kind == "categorical"}
        return [
            e["field"]
            for e in errors
            if e.get("field") in categorical
            and e.get("message", "").startswith("Input should be ")
            and not e["message"].endswith("not a boolean")
        ]


class LiveDrift:
    """The window, the unseen-category counter and the interval task that sets the gauges."""

    def __init__(self, window: LiveWindow, metrics: Metrics, interval_s: float) -> None:
        self.window = window
        self.metrics = metrics
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        metrics.drift_window_rows.set_function(lambda: window.rows)
        self.record_one = window.record_one  # the /predict hook: one attribute lookup

    def record_batch(self, model: LoadedModel, answer: BatchAnswer) -> None:
        """A scored batch (called on the batch's thread): its rows and refused categories.
        Never fails the batch: its answer is ready."""
        try:
            self.window.record_batch(model, answer)
            if answer.errors:
                for errors in answer.errors.values():
                    self.refused(model, errors)
        except Exception as exc:
            log.warning(
                "live drift could not record a batch: %s: %s",
                type(exc).__name__,
                exc,
                extra={"event": "live_drift_failed"},
            )

    def refused(self, model: LoadedModel, errors: Sequence[Mapping[str, str]]) -> None:
        """Count the unknown categories of a refused customer."""
        for name in self.window.count_unseen(model, errors):
            self.metrics.unseen_categories.labels(name).inc()

    def refresh(self) -> drift.DriftReport | None:
        """Compare the window with the reference now and set the gauges (None: too few rows)."""
        return self.compute(*self.window.snapshot())

    def compute(
        self, reference: Reference | None, columns: dict[str, np.ndarray], scores: np.ndarray
    ) -> drift.DriftReport | None:
        """drift.compare over a snapshot of the window, into the gauges."""
        if reference is None or len(scores) < MIN_ROWS:
            self.metrics.drift_cleared()
            return None
        report = drift.compare(reference, columns, scores, coded=True)
        self.metrics.drift_computed(report)
        return report

    async def run(self) -> None:
        """Refresh every interval, off the event loop; a failure is logged, never fatal."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception as exc:  # the next interval tries again
                log.warning(
                    "live drift failed: %s: %s",
                    type(exc).__name__,
                    exc,
                    extra={"event": "live_drift_failed"},
                )

    def start(self) -> None:
        if self.window.capacity > 0 and self._task is None:
            self._task = asyncio.create_task(self.run(), name="live-drift")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
