"""churn_api.trees: the numpy tree walk is the booster, bit for bit, or is not used."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xgboost as xgb

from churn_api.scorer import LoadedModel
from churn_api.trees import TreeWalker, UnsupportedModelError


def _encoded(model: LoadedModel, records: list[dict[str, Any]]) -> np.ndarray:
    return np.vstack(
        [model.encoder.encode_one(model.customers.validate_one(r).__dict__)[0] for r in records]
    )


def test_tree_walk_equals_the_booster_bit_for_bit(
    tiny_model: LoadedModel, tiny_records: list[dict[str, Any]]
) -> None:
    assert tiny_model.walker is not None, "the tiny model must take the fast single-row path"
    X = _encoded(tiny_model, tiny_records)
    native = tiny_model.booster.inplace_predict(X, validate_features=False)
    walked = np.array([tiny_model.walker.predict_one(row) for row in X], dtype=np.float32)
    assert np.array_equal(walked, native)
    # Missing values follow each split's default direction, as in XGBoost.
    rng = np.random.default_rng(7)
    holes = X.copy()
    holes[rng.random(holes.shape) < 0.3] = np.nan
    native = tiny_model.booster.inplace_predict(holes, validate_features=False)
    walked = np.array([tiny_model.walker.predict_one(row) for row in holes], dtype=np.float32)
    assert np.array_equal(walked, native)


def test_tree_walk_refuses_what_it_does_not_repeat() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((200, 4)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(int)
    cases = {
        "booster dart": {"booster": "dart", "objective": "binary:logistic"},
        "objective reg:squarederror": {"objective": "reg:squarederror"},
    }
    for reason, params in cases.items():
        booster = xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=2)
        with pytest.raises(UnsupportedModelError, match=reason):
            TreeWalker(booster)
    plain = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=y), 3)
    walker = TreeWalker(plain)
    assert walker.matches(plain, X, 0.0) == 0.0
    broken = TreeWalker(plain)
    broken.leaf = broken.leaf + np.float32(0.01)
    with pytest.raises(UnsupportedModelError, match="differs from the booster"):
        broken.matches(plain, X, 1e-6)
