"""The model bundle (docs/model-bundle.md): find it, read its files, prove its golden examples."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import xgboost as xgb

from churn_api.contract import FeatureContract
from churn_api.errors import InvalidRequestError
from churn_api.reference import REFERENCE_FILE, Reference, parse_reference

GOLDEN_TOLERANCE = 1e-6
FILES = ("booster.ubj", "feature_contract.json", "golden_examples.json")


class ModelRejectedError(Exception):
    """The bundle is malformed or does not reproduce its golden examples."""


@dataclass(frozen=True)
class ModelMeta:
    """Where the served model came from."""

    name: str
    version: str
    alias: str | None
    run_id: str | None
    source: str  # registry | cache | local
    path: str
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    stale: bool = False
    detail: str | None = None
    signature: str = "unchecked"  # verified | unchecked (ALLOW_UNSIGNED_MODELS)
    signed_by: str | None = None  # key id
    degraded: bool = False  # not the verified current champion (a fallback, or a stale alias)
    degraded_reason: str | None = None


@dataclass(frozen=True)
class Bundle:
    """A bundle's files, read and checked against each other."""

    path: Path
    contract: FeatureContract
    booster: xgb.Booster  # one thread: single rows (a second only adds overhead)
    batch_booster: xgb.Booster  # batch_threads threads: batches
    golden: dict[str, Any]
    reference: Reference | None = None  # reference.json; None in a bundle made before it


def find_bundle(model_dir: Path) -> Path:
    """The folder holding feature_contract.json inside an MLflow model directory (or itself)."""
    if (model_dir / "feature_contract.json").is_file():
        return model_dir
    found = sorted(model_dir.rglob("feature_contract.json"), key=lambda p: len(p.parts))
    if not found:
        raise ModelRejectedError(f"no feature_contract.json under {model_dir}")
    return found[0].parent


def read_bundle(
    bundle_dir: Path, batch_threads: int = 0, data: Mapping[str, bytes] | None = None
) -> Bundle:
    """The contract, two copies of the booster and the golden examples; ModelRejectedError.

    `data`: the files' bytes as the signature check read them (provenance.py), so what was
    verified is what is loaded, whatever happens to the disk afterwards.
    """

    def read(name: str) -> bytes:
        if data is None:
            return (bundle_dir / name).read_bytes()
        if name not in data:
            raise ModelRejectedError(f"{name} missing")
        return data[name]

    try:
        contract = FeatureContract.model_validate_json(read("feature_contract.json"))
        booster_bytes = bytearray(read("booster.ubj"))
        # Two copies: one single-threaded for small requests (a second thread only adds
        # overhead and stalls when a neighbour holds the other core), one for batches.
        booster = xgb.Booster(model_file=booster_bytes)
        booster.set_param({"nthread": 1})
        batch_booster = xgb.Booster(model_file=booster_bytes)
        batch_booster.set_param({"nthread": batch_threads or len(os.sched_getaffinity(0))})
        golden = json.loads(read("golden_examples.json"))
        reference = _read_reference(bundle_dir, data)
    except (OSError, ValueError, xgb.core.XGBoostError) as exc:
        raise ModelRejectedError(f"cannot read the bundle in {bundle_dir}: {exc}") from exc
    names = [e.name for e in contract.encoded_features]
    if booster.num_features() != len(names):
        raise ModelRejectedError(
            f"booster expects {booster.num_features()} features, contract has {len(names)}"
        )
    if booster.feature_names and list(booster.feature_names) != names:
        raise ModelRejectedError(
            "booster feature names differ from the contract's encoded_features"
        )
    if reference is not None:
        try:
            reference.check_against(contract)
        except ValueError as exc:
            raise ModelRejectedError(f"{REFERENCE_FILE}: {exc}") from None
    return Bundle(bundle_dir, contract, booster, batch_booster, golden, reference)


def _read_reference(bundle_dir: Path, data: Mapping[str, bytes] | None) -> Reference | None:
    """reference.json from the verified bytes (or the disk when unchecked); None without it."""
    if data is not None:
        raw = data.get(REFERENCE_FILE)
    else:
        path = bundle_dir / REFERENCE_FILE
        raw = path.read_bytes() if path.is_file() else None
    if raw is None:
        return None
    try:
        return parse_reference(raw)
    except ValueError as exc:
        raise ModelRejectedError(f"{REFERENCE_FILE} is malformed: {exc}") from None


def golden_inputs(golden: dict[str, Any]) -> list[dict[str, Any]]:
    """The input records of the golden examples."""
    return [ex["input"] for ex in golden.get("examples") or [] if "input" in ex]


def verify_golden(golden: dict[str, Any], probability: Callable[[dict[str, Any]], float]) -> int:
    """Reproduce every golden probability within tolerance, or raise ModelRejectedError.

    `probability(record)` scores one input record as /predict would.
    """
    examples = golden.get("examples") or []
    if not examples:
        raise ModelRejectedError("golden_examples.json has no examples")
    tol = min(float(golden.get("tolerance", GOLDEN_TOLERANCE)), GOLDEN_TOLERANCE)
    for n, ex in enumerate(examples):
        try:
            got = probability(dict(ex["input"]))
        except InvalidRequestError as exc:
            raise ModelRejectedError(
                f"golden example {n} does not validate: {exc.errors}"
            ) from None
        if not abs(got - float(ex["probability"])) <= tol:
            raise ModelRejectedError(
                f"golden example {n}: expected {ex['probability']:.9f}, got {got:.9f}"
            )
    return len(examples)


def local_meta(model_dir: Path, name: str) -> ModelMeta:
    """Provenance of a local model directory (MODEL_URI): its version is a hash of the files."""
    if not model_dir.exists():
        raise ModelRejectedError(f"MODEL_URI {model_dir} does not exist")
    bundle = find_bundle(model_dir)
    digest = hashlib.sha256()
    # Every file a served answer depends on, the drift reference included (optional: absent in
    # older bundles, and then it changes nothing).
    for file in (*FILES, REFERENCE_FILE):
        with contextlib.suppress(OSError):
            digest.update((bundle / file).read_bytes())
    return ModelMeta(
        name=name,
        version=f"local-{digest.hexdigest()[:8]}",
        alias=None,
        run_id=_mlmodel_run_id(model_dir),
        source="local",
        path=str(model_dir),
    )


def _mlmodel_run_id(path: Path) -> str | None:
    mlmodel = path / "MLmodel"
    if not mlmodel.is_file():
        return None
    for line in mlmodel.read_text().splitlines():
        if line.startswith("run_id:"):
            value = line.split(":", 1)[1].strip()
            return value or None
    return None
