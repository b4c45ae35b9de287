"""Score customers: the booster (or its tree walk), calibration, risk bands, one path per shape."""

from __future__ import annotations

import bisect
import gc
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from pydantic import BaseModel

from churn_api.batch import BatchParser
from churn_api.bundle import (
    GOLDEN_TOLERANCE,
    Bundle,
    ModelMeta,
    find_bundle,
    golden_inputs,
    read_bundle,
    verify_golden,
)
from churn_api.calibration import Calibrator
from churn_api.customer import CheckedColumns, CustomerValidator
from churn_api.errors import InvalidRequestError
from churn_api.explain import field_contributions, top_reasons
from churn_api.features import Encoder
from churn_api.limits import Limits
from churn_api.provenance import TrustedKeys
from churn_api.responses import PredictionBuilder, batch_body
from churn_api.settings import DEFAULT_MAX_BATCH_ROWS
from churn_api.trees import TreeWalker, UnsupportedModelError

log = logging.getLogger("churn_api.model")


@dataclass(frozen=True)
class BatchAnswer:
    """A scored batch: the JSON response body, and what the metrics need."""

    json: bytes
    probabilities: np.ndarray  # of the rows that scored
    bands: np.ndarray  # their band indexes
    succeeded: int
    failed: int
    # What live drift records (live_drift.py): the checked columns of every row, the values
    # of the rows the Customer model validated, the rows that scored and the rejected ones.
    columns: CheckedColumns | None = None
    checked: dict[int, dict[str, Any]] | None = None
    positions: list[int] | None = None
    errors: dict[int, list[dict[str, str]]] | None = None


class LoadedModel:
    """A verified bundle ready to score, with the request validators of its contract."""

    def __init__(
        self,
        bundle: Bundle,
        meta: ModelMeta,
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
        limits: Limits | None = None,
        tree_walk: bool = True,
    ) -> None:
        self.bundle_dir = bundle.path
        self.contract = bundle.contract
        self.booster = bundle.booster
        self.batch_booster = bundle.batch_booster
        self.golden = bundle.golden
        self.reference = bundle.reference  # the training split's distributions, or None
        self.meta = meta
        self.customers = CustomerValidator(self.contract, max_batch_rows, limits)
        self.batches = BatchParser(self.customers)
        self.encoder = Encoder(self.contract)
        self.calibrate = Calibrator(self.contract)
        self.predictions = PredictionBuilder(self.contract)
        self.band_uppers = np.array([b.upper for b in self.contract.risk_bands])
        self.band_uppers_list = self.band_uppers.tolist()
        self.band_names = self.predictions.band_names
        # tree_walk=False: single rows use the booster (the same answers) until the caller
        # attaches build_tree_walker()'s walk; the model store does that after the swap.
        self.walker = self.build_tree_walker() if tree_walk else None
        self.ref = _ref(meta)
        self.ref_json = orjson.Fragment(orjson.dumps(self.ref))  # repeated in every batch row

    def with_meta(self, **changes: Any) -> LoadedModel:
        """A copy sharing the boosters, with updated provenance (for an atomic swap)."""
        clone = object.__new__(LoadedModel)
        clone.__dict__.update(self.__dict__)
        clone.meta = replace(self.meta, **changes)
        clone.ref = _ref(clone.meta)
        clone.ref_json = orjson.Fragment(orjson.dumps(clone.ref))
        return clone

    def build_tree_walker(self) -> TreeWalker | None:
        """The numpy walk for single rows, if it reproduces the booster on the golden inputs."""
        rows = []
        for record in golden_inputs(self.golden):
            try:
                rows.append(
                    self.encoder.encode_one(self.customers.validate_one(record).__dict__)[0]
                )
            except (InvalidRequestError, TypeError):
                continue  # verify_golden reports it
        try:
            walker = TreeWalker(self.booster)
            if rows:
                walker.matches(self.booster, np.vstack(rows), GOLDEN_TOLERANCE)
        except (UnsupportedModelError, ValueError, KeyError) as exc:
            log.warning(
                "single rows use the native booster: %s",
                exc,
                extra={"event": "tree_walk_off", "reason": str(exc)},
            )
            return None
        return walker

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        """Calibrated churn probabilities of encoded rows."""
        if self.walker is not None and X.shape[0] == 1:
            return np.array([self.probability_one(X)])
        booster = self.booster if X.shape[0] <= 64 else self.batch_booster
        raw = booster.inplace_predict(X, validate_features=False)
        return self.calibrate(raw)

    def probability_one(self, X: np.ndarray) -> float:
        """The calibrated probability of one encoded row, without numpy's per-call overheads."""
        if self.walker is None:
            raw = float(self.booster.inplace_predict(X, validate_features=False)[0])
        else:
            raw = self.walker.predict_one(X[0])
        return self.calibrate.one(raw)

    def band_index(self, p: np.ndarray) -> np.ndarray:
        """Index of the first band whose upper exceeds p (the last band includes 1.0)."""
        idx = np.searchsorted(self.band_uppers, p, side="right")
        return np.minimum(idx, len(self.band_names) - 1)

    def score_one(self, customer: BaseModel, explain: bool = False) -> dict[str, Any]:
        """The /predict answer for one validated customer (customers.validate_one)."""
        values = customer.__dict__
        X, imputed, used = self.encoder.encode_one(values)
        p = self.probability_one(X)
        reasons = None
        if explain:
            per_field, _ = field_contributions(self.booster, X, self.encoder)
            reasons = top_reasons(per_field[0], used, self.encoder.field_names)
        band = min(bisect.bisect_right(self.band_uppers_list, p), len(self.band_names) - 1)
        customer_id = values.get(self.contract.id_field)
        return self.predictions.one(self.ref, customer_id, p, band, imputed, reasons)

    def answer_batch(
        self,
        body: bytes | str,
        explain: bool = False,
        sort: str = "none",
        record: Callable[[LoadedModel, BatchAnswer], None] | None = None,
    ) -> BatchAnswer:
        """The /predict/batch response body, and the scores for the metrics.

        Rows are checked (batch.BatchParser), encoded together, scored together by the batch
        booster; rejected rows keep their errors in their place. `record` (live drift) is
        called with the answer on this thread, off the event loop.
        """
        with gc_paused():
            # The batch's row objects die when _answer returns, before collection resumes:
            # alive, the first collection would walk every one of them.
            answer = self._answer(body, explain, sort)
        if record is not None:
            record(self, answer)
        return answer

    def _answer(self, body: bytes | str, explain: bool, sort: str) -> BatchAnswer:
        batch = self.batches.parse(body)
        X, imputed = self.encoder.encode_columns(batch.columns, batch.checked)
        n = len(batch.ids)
        positions = list(range(n))
        if batch.errors:
            positions = [k for k in positions if k not in batch.errors]
            X, imputed = X[positions], [imputed[k] for k in positions]
        probs = np.empty(0)
        bands = np.empty(0, dtype=np.intp)
        scored: list[dict[str, Any]] = []
        if positions:
            probs = self.probabilities(X)
            bands = self.band_index(probs)
            reasons: list[Any] = [None] * len(positions)
            if explain:
                reasons = self._reasons(X, [batch.raw(k) for k in positions])
            ids = batch.ids if not batch.errors else [batch.ids[k] for k in positions]
            scored = self.predictions.batch_rows(
                self.ref_json, positions, ids, probs.tolist(), bands.tolist(), imputed, reasons
            )
        return BatchAnswer(
            orjson.dumps(batch_body(self.ref_json, n, scored, batch.errors, sort)),
            probs,
            bands,
            len(positions),
            len(batch.errors),
            batch.columns,
            batch.checked,
            positions,
            batch.errors,
        )

    def _reasons(self, X: np.ndarray, rows: list[Any]) -> list[list[dict[str, Any]]]:
        """Top reasons of encoded rows, with the values /predict would show for each."""
        per_field, _ = field_contributions(self.batch_booster, X, self.encoder)
        reasons = []
        for j, raw in enumerate(rows):
            checked = self.customers.validate_row(raw)
            assert isinstance(checked, dict)
            used = self.encoder.fill(checked)[0]
            reasons.append(top_reasons(per_field[j], used, self.encoder.field_names))
        return reasons

    def verify_golden(self) -> int:
        """Reproduce every golden probability (as /predict would), or ModelRejectedError."""
        return verify_golden(
            self.golden,
            lambda record: self.score_one(self.customers.validate_one(record))["churn_probability"],
        )


def _ref(meta: ModelMeta) -> dict[str, Any]:
    return {"name": meta.name, "version": meta.version, "alias": meta.alias}


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic GC passes while a batch is built.

    A 10,000-row body makes some 300,000 objects, none in cycles (refcounting frees them all),
    yet each allocation burst triggers collections that walk every live young object: without
    the pause they cost more than the rest of the batch. Overlapping batches are safe: whichever
    paused first turns collection back on.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def load_model(
    model_dir: Path,
    meta: ModelMeta,
    batch_threads: int = 0,
    max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
    keys: TrustedKeys | None = None,
    limits: Limits | None = None,
    tree_walk: bool = True,
) -> LoadedModel:
    """Load a bundle from a model directory and prove it on its golden examples.

    With `keys`, the signature is verified first, and only the bytes it covered are loaded.
    tree_walk=False leaves the single-row walk to be built later (LoadedModel).
    """
    bundle_dir = find_bundle(model_dir)
    data = None
    if keys is not None:
        verified = keys.verify(bundle_dir)
        data = verified.data
        p = verified.provenance
        meta = replace(meta, signature=p.signature, signed_by=p.key_id)
    bundle = read_bundle(bundle_dir, batch_threads, data)
    model = LoadedModel(bundle, meta, max_batch_rows, limits, tree_walk)
    model.verify_golden()
    return model
