"""Run a snapshot's partitions in this process (default) or on a Dask cluster, write each
scored partition to the store, and add up the counts and stage timings."""

from __future__ import annotations

import hashlib
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from churn_api.bundle import ModelMeta, find_bundle
from churn_api.provenance import TrustedKeys, load_public_keys
from churn_api.scorer import LoadedModel, load_model
from churn_api.scoring.job import PartitionResult, PartitionScorer
from churn_api.store.writes import REJECTED_SAMPLE_MAX, ScoredRows

Writer = Callable[[ScoredRows], None]
Progress = Callable[[int], None]
STAGES = ("read", "validate", "score", "reasons", "write")


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

    def add(self, result: PartitionResult, read_s: float, write_s: float) -> None:
        self.read += result.read
        self.scored += len(result.rows)
        self.rejected += len(result.rejected)
        room = REJECTED_SAMPLE_MAX - len(self.rejected_sample)
        self.rejected_sample += [r.as_dict() for r in result.rejected[: max(room, 0)]]
        for stage, seconds in result.seconds.items():
            self.seconds[stage] += seconds
        self.seconds["read"] += read_s
        self.seconds["write"] += write_s
        self.p.append(np.asarray(result.rows.churn_probability, dtype=np.float32))
        self.ev.append(np.asarray(result.rows.expected_value, dtype=np.float32))

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


@dataclass(frozen=True)
class ModelShipment:
    """A verified model as a worker receives it: the bundle's bytes (verified again there),
    its provenance, the trusted public keys and the reasons setting."""

    files: dict[str, bytes]
    meta: ModelMeta
    public_keys_pem: bytes
    allow_unsigned: bool
    reasons: str

    @property
    def key(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + self.files[name])
        return digest.hexdigest()


def ship(
    model: LoadedModel, public_keys_pem: bytes, allow_unsigned: bool, reasons: str
) -> ModelShipment:
    """The files of a loaded model's bundle folder, to send to workers."""
    bundle = find_bundle(model.bundle_dir)
    files = {
        p.relative_to(bundle).as_posix(): p.read_bytes() for p in bundle.rglob("*") if p.is_file()
    }
    return ModelShipment(files, model.meta, public_keys_pem, allow_unsigned, reasons)


_WORKER_SCORERS: dict[str, PartitionScorer] = {}
_WORKER_LOCK = threading.Lock()


def worker_scorer(shipment: ModelShipment, threads: int = 1) -> PartitionScorer:
    """The scorer of this worker process: the bundle written to a temp folder, its signature
    and golden examples verified once, then kept for every later partition."""
    key = shipment.key
    with _WORKER_LOCK:
        scorer = _WORKER_SCORERS.get(key)
        if scorer is None:
            folder = Path(tempfile.mkdtemp(prefix="churn-score-model-"))
            for name, data in shipment.files.items():
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            keys = TrustedKeys(load_public_keys(shipment.public_keys_pem), shipment.allow_unsigned)
            model = load_model(folder, shipment.meta, batch_threads=threads, keys=keys)
            scorer = _WORKER_SCORERS[key] = PartitionScorer(model, shipment.reasons)
    return scorer


def score_on_worker(
    shipment: ModelShipment, batch: pa.RecordBatch, first: int, duplicates: dict[int, int]
) -> PartitionResult:
    """A Dask task: score one partition with the worker's verified model."""
    from distributed import get_worker

    threads = max(1, int(get_worker().state.nthreads))
    return worker_scorer(shipment, threads).score(batch, first, duplicates)


def run_dask(
    client: Any,
    shipment: ModelShipment,
    batches: Iterator[pa.RecordBatch],
    duplicates: Mapping[int, int],
    write: Writer,
    progress: Progress | None = None,
    totals: Totals | None = None,
) -> Totals:
    """Score partitions on the cluster's workers, a bounded number in flight; this process
    reads the snapshot and writes what comes back (one writer: SQLite allows no other)."""
    from distributed import as_completed

    totals = totals if totals is not None else Totals()
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    limit = 2 * workers
    [model] = client.scatter([shipment], broadcast=True)
    pending = as_completed()
    read_seconds: dict[str, float] = {}
    in_flight = 0

    def drain(until: int) -> None:
        nonlocal in_flight
        while in_flight > until:
            future = next(pending)
            result: PartitionResult = future.result()
            t0 = time.perf_counter()
            write(result.rows)
            totals.add(result, read_seconds.pop(future.key, 0.0), time.perf_counter() - t0)
            future.release()
            in_flight -= 1
            if progress:
                progress(totals.read)

    for batch, first, mine, read_s in partitions(batches, duplicates):
        future = client.submit(score_on_worker, model, batch, first, mine, pure=False)
        read_seconds[future.key] = read_s
        pending.add(future)
        in_flight += 1
        drain(limit)
    drain(0)
    return totals
