"""A numpy walk of the booster's trees for one row at a time.

`Booster.inplace_predict` has a fixed cost of a few hundred microseconds per call whatever the row
count, while the trees themselves take microseconds. For the single-row hot path the trees are
flattened into arrays and walked here instead; batches and explanations keep the native booster.
The walk repeats XGBoost's float32 arithmetic (split test `x < condition`, missing values to the
default child, leaves added in tree order onto the base margin, float32 sigmoid), and a model
only uses it once it has matched the booster on the golden examples (`TreeWalker.matches`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import xgboost as xgb


def _libm_expf() -> Callable[[float], float]:
    """C's expf, which XGBoost's sigmoid uses; numpy's float32 exp can differ in the last bit."""
    try:
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        expf = libm.expf
    except (OSError, AttributeError):
        return lambda x: float(np.float32(math.exp(x)))
    expf.restype = ctypes.c_float
    expf.argtypes = [ctypes.c_float]
    return expf  # type: ignore[no-any-return]


_expf = _libm_expf()


class UnsupportedModelError(Exception):
    """The booster uses something the walk does not repeat (dart, categorical splits, ...)."""


class TreeWalker:
    """Every tree's nodes in flat arrays; `child[node]` of a leaf is the leaf itself."""

    def __init__(self, booster: xgb.Booster) -> None:
        model = json.loads(booster.save_raw("json"))
        learner = model["learner"]
        objective = learner["objective"]["name"]
        if objective != "binary:logistic":
            raise UnsupportedModelError(f"objective {objective}")
        gbm = learner["gradient_booster"]
        if gbm.get("name") != "gbtree":
            raise UnsupportedModelError(f"booster {gbm.get('name')}")
        params = learner["learner_model_param"]
        if int(params.get("num_class", 0)) > 1 or int(params.get("num_target", 1)) != 1:
            raise UnsupportedModelError("more than one output")
        trees = gbm["model"]["trees"]
        if not trees:
            raise UnsupportedModelError("no trees")
        feature, condition, left, right, default_left, leaf = [], [], [], [], [], []
        roots = []
        offset = 0
        depth = 0
        for tree in trees:
            if any(tree["split_type"]) or tree["categories"]:
                raise UnsupportedModelError("categorical splits")
            if int(tree["tree_param"].get("size_leaf_vector", 1)) > 1:
                raise UnsupportedModelError("vector leaves")
            lc, rc = tree["left_children"], tree["right_children"]
            roots.append(offset)
            for n, (a, b) in enumerate(zip(lc, rc, strict=True)):
                is_leaf = a == -1
                feature.append(0 if is_leaf else tree["split_indices"][n])
                condition.append(tree["split_conditions"][n])
                left.append(offset + (n if is_leaf else a))
                right.append(offset + (n if is_leaf else b))
                default_left.append(bool(tree["default_left"][n]))
                leaf.append(tree["split_conditions"][n] if is_leaf else 0.0)
            depth = max(depth, _depth(lc, rc))
            offset += len(lc)
        self.n_features = int(params["num_feature"])
        self.feature = np.array(feature, dtype=np.intp)
        self.condition = np.array(condition, dtype=np.float32)
        self.left = np.array(left, dtype=np.intp)
        self.right = np.array(right, dtype=np.intp)
        self.default = np.where(default_left, self.left, self.right)
        self.leaf = np.array(leaf, dtype=np.float32)
        self.roots = np.array(roots, dtype=np.intp)
        self.depth = depth
        self.base_margin = _base_margin(params["base_score"])
        # leaves are summed onto the base margin in tree order, in float32, as XGBoost does
        self._terms = np.empty(len(trees) + 1, dtype=np.float32)
        self._terms[0] = self.base_margin

    def predict_one(self, row: np.ndarray) -> float:
        """The booster's probability for one encoded float32 row of shape (n_features,)."""
        values = row[self.feature]
        child = np.where(values < self.condition, self.left, self.right)
        if np.isnan(values).any():
            child = np.where(np.isnan(values), self.default, child)
        node = self.roots
        for _ in range(self.depth):
            node = child[node]
        terms = self._terms.copy()
        terms[1:] = self.leaf[node]
        margin = float(np.cumsum(terms)[-1])
        return float(_ONE / (np.float32(_expf(-margin)) + _ONE))

    def matches(self, booster: xgb.Booster, rows: np.ndarray, tolerance: float) -> float:
        """Largest difference from the booster over `rows`; raises if above `tolerance`."""
        native = booster.inplace_predict(rows, validate_features=False)
        walked = np.array([self.predict_one(r) for r in rows])
        worst = float(np.max(np.abs(walked - native))) if len(rows) else 0.0
        if not worst <= tolerance:
            raise UnsupportedModelError(
                f"the walk differs from the booster by {worst:.3g} (> {tolerance:g})"
            )
        return worst


_ONE = np.float32(1.0)


def _depth(left: list[int], right: list[int]) -> int:
    deepest, stack = 0, [(0, 0)]
    while stack:
        node, d = stack.pop()
        if left[node] == -1:
            deepest = max(deepest, d)
        else:
            stack += [(left[node], d + 1), (right[node], d + 1)]
    return deepest


def _base_margin(base_score: Any) -> np.float32:
    """binary:logistic stores base_score as a probability ("[2.65E-1]" in XGBoost 3)."""
    text = str(base_score).strip("[]").split(",")[0]
    p = np.float32(float(text))
    return np.float32(-math.log(np.float32(1.0) / p - np.float32(1.0)))


class DeferredWalk:
    """Builds a served model's walk in a thread, off the start's path (~45 ms for 650 trees:
    /health/ready answers that much sooner). Single rows use the booster until then, with the
    same answers. A degraded copy (with_meta) made meanwhile gets the walk when swapped in
    (`give`), or from the thread when it is already served."""

    def __init__(self) -> None:
        self._walk: tuple[Any, TreeWalker | None] = (None, None)  # (booster, its walk)

    def give(self, model: Any) -> bool:
        """Attach the stored walk if it is this model's; False when it still needs one."""
        booster, walker = self._walk
        if model.walker is None and booster is model.booster:
            model.walker = walker
        return model.walker is not None or booster is model.booster

    def build_later(self, model: Any, served: Callable[[], Any]) -> None:
        """Build and check the model's walk, then attach it to the model and what is served."""

        def attach() -> None:
            walker = model.build_tree_walker()
            if walker is None:
                return
            self._walk = (model.booster, walker)
            for candidate in (model, served()):
                if candidate is not None and candidate.booster is model.booster:
                    candidate.walker = walker

        threading.Thread(target=attach, name="tree-walk", daemon=True).start()
