"""The model trained by the training package, in process: what only the real model can show.

Code behaviour is unit-tested on the tiny bundle (tests/conftest.py); these repeat the checks
that matter on the real model's own golden examples and on every dataset row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from churn_api.bundle import ModelMeta, find_bundle
from churn_api.scorer import LoadedModel, load_model

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def real_model(trained_model_dir: Path) -> LoadedModel:
    meta = ModelMeta("telco-churn", "test", None, None, "local", str(trained_model_dir))
    return load_model(trained_model_dir, meta)


def test_real_bundle_reproduces_golden_examples(real_model: LoadedModel) -> None:
    assert real_model.verify_golden() >= 1
    assert real_model.bundle_dir == find_bundle(real_model.bundle_dir.parent.parent)


def test_tree_walk_equals_the_booster_bit_for_bit(
    real_model: LoadedModel, dataset_records: list[dict[str, Any]]
) -> None:
    assert real_model.walker is not None, "the trained model must take the fast single-row path"
    validate = real_model.customers.validate_one
    X = np.vstack([real_model.encoder.encode_one(validate(r).__dict__)[0] for r in dataset_records])
    native = real_model.booster.inplace_predict(X, validate_features=False)
    walked = np.array([real_model.walker.predict_one(row) for row in X], dtype=np.float32)
    assert np.array_equal(walked, native)
    # Missing values follow each split's default direction, as in XGBoost.
    rng = np.random.default_rng(7)
    holes = X[:500].copy()
    holes[rng.random(holes.shape) < 0.3] = np.nan
    native = real_model.booster.inplace_predict(holes, validate_features=False)
    walked = np.array([real_model.walker.predict_one(row) for row in holes], dtype=np.float32)
    assert np.array_equal(walked, native)


def test_every_dataset_row_scores_the_same_in_a_batch_and_alone(
    real_model: LoadedModel, dataset_records: list[dict[str, Any]]
) -> None:
    body = json.dumps({"customers": dataset_records[:400]})
    batch = orjson.loads(real_model.answer_batch(body).json)
    assert batch["succeeded"] == 400
    per_row = real_model.with_meta()
    per_row.batches = type(real_model.batches)(per_row.customers)
    slow = per_row.batches
    slow.parse = lambda b: slow.parse_rows(slow.read_envelope(b))  # type: ignore[method-assign]
    assert orjson.loads(per_row.answer_batch(body).json) == batch
    for record, result in zip(dataset_records[:400], batch["results"], strict=True):
        alone = real_model.score_one(real_model.customers.validate_one(record))
        got = result["prediction"]
        for key in ("churn_probability", "expected_value"):  # batch and walk: last-bit noise
            assert got.pop(key) == pytest.approx(alone.pop(key), abs=1e-9)
        assert got == alone
