"""Score a snapshot's partitions on a Dask cluster: the verified model's bundle is shipped to
every worker and verified again there; results come back to this process to be written, or
(`--workers-write`, PostgreSQL) each worker writes its own partitions."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from churn_api.bundle import ModelMeta, find_bundle
from churn_api.provenance import TrustedKeys, load_public_keys
from churn_api.scorer import LoadedModel, load_model
from churn_api.scoring.engine import (
    PartitionSummary,
    Progress,
    Totals,
    Writer,
    partitions,
    summarize,
)
from churn_api.scoring.job import PartitionResult, PartitionScorer
from churn_api.store.engine import make_engine
from churn_api.store.writes import RunRecord, write_partition


class ClusterError(Exception):
    """The Dask scheduler cannot be reached or the address is malformed."""


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


@dataclass(frozen=True)
class StoreTarget:
    """Where workers write: `url` (None: the worker's own DATABASE_URL) and the run."""

    url: str | None
    timeout_s: float
    run: RunRecord


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
_WORKER_ENGINES: dict[str, Any] = {}
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


def _worker_engine(target: StoreTarget) -> Any:
    url = target.url or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("--workers-write: this worker has no DATABASE_URL")
    with _WORKER_LOCK:
        engine = _WORKER_ENGINES.get(url)
        if engine is None:
            engine = _WORKER_ENGINES[url] = make_engine(url, timeout_s=target.timeout_s)
    return engine


def score_on_worker(
    shipment: ModelShipment,
    batch: pa.RecordBatch,
    first: int,
    duplicates: dict[int, int],
    target: StoreTarget | None = None,
) -> PartitionResult | PartitionSummary:
    """A Dask task: score one partition with the worker's verified model (and write it)."""
    from distributed import get_worker

    threads = max(1, int(get_worker().state.nthreads))
    result = worker_scorer(shipment, threads).score(batch, first, duplicates)
    if target is None:
        return result
    t0 = time.perf_counter()
    write_partition(_worker_engine(target), target.run, result.rows)
    summary = summarize(result)
    summary.seconds["write"] = time.perf_counter() - t0
    return summary


def run_dask(
    client: Any,
    shipment: ModelShipment,
    batches: Iterator[pa.RecordBatch],
    duplicates: Mapping[int, int],
    write: Writer,
    progress: Progress | None = None,
    totals: Totals | None = None,
    target: StoreTarget | None = None,
) -> Totals:
    """Score partitions on the cluster's workers, a bounded number in flight. This process
    reads the snapshot and writes what comes back (SQLite allows one writer), unless `target`
    is given: the workers then write, and send back only counts and scores."""
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
            result: PartitionResult | PartitionSummary = future.result()
            read_s = read_seconds.pop(future.key, 0.0)
            if isinstance(result, PartitionSummary):
                totals.add(result, read_s, result.seconds.pop("write", 0.0))
            else:
                t0 = time.perf_counter()
                write(result.rows)
                totals.add(result, read_s, time.perf_counter() - t0)
            future.release()
            in_flight -= 1
            if progress:
                progress(totals.read)

    for batch, first, mine, read_s in partitions(batches, duplicates):
        future = client.submit(score_on_worker, model, batch, first, mine, target, pure=False)
        read_seconds[future.key] = read_s
        pending.add(future)
        in_flight += 1
        drain(limit)
    drain(0)
    return totals


@contextmanager
def dask_client(address: str) -> Iterator[Any]:
    """A client of the scheduler at `address`, or of a new LocalCluster for local:N."""
    from distributed import Client, LocalCluster

    if address.startswith("local:"):
        try:
            workers = int(address.split(":", 1)[1])
        except ValueError:
            raise ClusterError(
                f"--scheduler {address}: local:N takes a number of workers"
            ) from None
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(address, timeout=30)
    except OSError as exc:
        raise ClusterError(f"Dask scheduler {address} unreachable: {exc}") from None
    with client:
        yield client
