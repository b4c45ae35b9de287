"""Run a snapshot's partitions in this process, write each scored partition to the store while
the next is scored, and add up the counts and stage timings (cluster.py runs them on Dask)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from churn_api.scoring.drift_run import PartitionDrift
from churn_api.scoring.job import PartitionResult, PartitionScorer
from churn_api.store.writes import REJECTED_SAMPLE_MAX, ScoredRows

Writer = Callable[[ScoredRows], None]
Progress = Callable[[int], None]
STAGES = ("read", "validate", "score", "reasons", "write")


@dataclass
class PartitionSummary:
    """A partition after its rows were written: what the run's totals need of it."""

    read: int
    scored: int
    rejected: list[dict[str, Any]]
    seconds: dict[str, float]
    p: np.ndarray  # float32
    ev: np.ndarray  # float32
    drift: PartitionDrift | None = None


def summarize(result: PartitionResult) -> PartitionSummary:
    """The light summary of a scored partition (what a worker that wrote it sends back)."""
    return PartitionSummary(
        read=result.read,
        scored=len(result.rows),
        rejected=[r.as_dict() for r in result.rejected[:REJECTED_SAMPLE_MAX]],
        seconds=dict(result.seconds),
        p=np.asarray(result.rows.churn_probability, dtype=np.float32),
        ev=np.asarray(result.rows.expected_value, dtype=np.float32),
        drift=result.drift,
    )


@dataclass
class Totals:
    """What a run did: row counts, the first rejected rows, seconds per stage, and the
    probabilities and expected values of every scored customer (for the profit curves)."""

    read: int = 0
    scored: int = 0
    rejected: int = 0
    rejected_sample: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    p: list[np.ndarray] = field(default_factory=list)
    ev: list[np.ndarray] = field(default_factory=list)
    drift: list[PartitionDrift] = field(default_factory=list)

    def add(
        self, result: PartitionResult | PartitionSummary, read_s: float, write_s: float
    ) -> None:
        part = result if isinstance(result, PartitionSummary) else summarize(result)
        self.read += part.read
        self.scored += part.scored
        self.rejected += len(part.rejected)
        room = REJECTED_SAMPLE_MAX - len(self.rejected_sample)
        self.rejected_sample += part.rejected[: max(room, 0)]
        for stage, seconds in part.seconds.items():
            self.seconds[stage] += seconds
        self.seconds["read"] += read_s
        self.seconds["write"] += write_s
        self.p.append(part.p)
        self.ev.append(part.ev)
        if part.drift is not None:
            self.drift.append(part.drift)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Every scored customer's probability and expected value."""
        if not self.p:
            return np.empty(0), np.empty(0)
        return np.concatenate(self.p).astype(float), np.concatenate(self.ev).astype(float)


def partitions(
    batches: Iterator[pa.RecordBatch], duplicates: Mapping[int, int]
) -> Iterator[tuple[pa.RecordBatch, int, dict[int, int], float]]:
    """(batch, its first 1-based row, its duplicate rows, seconds spent reading it)."""
    row = 1
    while True:
        t0 = time.perf_counter()
        batch = next(batches, None)
        read_s = time.perf_counter() - t0
        if batch is None:
            return
        end = row + batch.num_rows
        mine = {r: f for r, f in duplicates.items() if row <= r < end} if duplicates else {}
        yield batch, row, mine, read_s
        row = end


class BackgroundWriter:
    """Writes partitions on one background thread while the next one is scored (the database
    driver and xgboost release the GIL); at most `depth` partitions wait. The first write error
    is raised in the scoring thread at the next submit, or by close()."""

    def __init__(self, write: Writer, depth: int = 1) -> None:
        self.write = write
        self.queue: queue.Queue[tuple[ScoredRows, Callable[[float], None]] | None] = queue.Queue(
            maxsize=depth
        )
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="churn-score-writer", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while (item := self.queue.get()) is not None:
            rows, done = item
            if self.error is not None:
                continue  # drain: the run is failing
            try:
                t0 = time.perf_counter()
                self.write(rows)
                done(time.perf_counter() - t0)
            except BaseException as exc:  # handed to the scoring thread
                self.error = exc

    def submit(self, rows: ScoredRows, done: Callable[[float], None]) -> None:
        self._raise()
        self.queue.put((rows, done))

    def close(self) -> None:
        """Wait for every queued write; raise the first error."""
        self.queue.put(None)
        self.thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


def run_local(
    scorer: PartitionScorer,
    batches: Iterator[pa.RecordBatch],
    duplicates: Mapping[int, int],
    write: Writer,
    progress: Progress | None = None,
    totals: Totals | None = None,
) -> Totals:
    """Score every partition in this process, writing each while the next is scored (into
    `totals` as they are written, so a failed run still says what it wrote)."""
    totals = totals if totals is not None else Totals()
    writer = BackgroundWriter(write)
    lock = threading.Lock()
    try:
        for batch, first, mine, read_s in partitions(batches, duplicates):
            result = scorer.score(batch, first, mine)

            def done(
                write_s: float, result: PartitionResult = result, read_s: float = read_s
            ) -> None:
                with lock:
                    totals.add(result, read_s, write_s)
                if progress:
                    progress(totals.read)

            writer.submit(result.rows, done)
    finally:
        writer.close()
    return totals
