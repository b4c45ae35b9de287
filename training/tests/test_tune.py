"""The search: tiny in-process fits on synthetic data (a second or two, nothing served)."""

from __future__ import annotations

import numpy as np
import pytest

from churn_training import tune

FAST = {"max_depth": 2, "learning_rate": 0.3, "imbalance": "none"}


@pytest.fixture(scope="module")
def xy() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] + rng.normal(scale=0.5, size=400) > 0).astype(np.int32)
    return X, y


def test_scale_pos_weight() -> None:
    y = np.array([0, 0, 0, 1])
    assert tune.scale_pos_weight(y, "balanced") == 3.0
    assert tune.scale_pos_weight(y, "none") == 1.0


def test_cross_validate_gives_out_of_fold_scores(xy) -> None:
    X, y = xy
    folds = tune.splits(y, 3, seed=1)
    result = tune.cross_validate(FAST, X, y, folds, (0, 0, 0), seed=1)
    assert result.oof.shape == (400,) and ((result.oof > 0) & (result.oof < 1)).all()
    assert len(result.fold_auc) == 3 and result.auc > 0.8
    assert result.n_estimators == max(1, round(float(np.mean(result.best_rounds))))


def test_fixed_params_are_a_one_trial_result(xy) -> None:
    X, y = xy
    result = tune.fixed(FAST, X, y, folds=3, seed=1, constraints=(0, 0, 0))
    assert result.trials == 1
    assert result.history == [{"number": 0, "value": result.best.auc, "state": "FIXED", **FAST}]


def test_search_starts_from_the_default_trial_and_is_seeded(xy) -> None:
    X, y = xy
    first = tune.tune(X, y, trials=2, folds=3, seed=3, constraints=(0, 0, 0), progress=False)
    again = tune.tune(X, y, trials=2, folds=3, seed=3, constraints=(0, 0, 0), progress=False)
    assert first.trials == 2 and len(first.history) == 2
    assert {k: first.history[0][k] for k in tune.DEFAULT_TRIAL} == tune.DEFAULT_TRIAL
    assert first.history == again.history


def test_final_model_respects_monotone_constraints(xy) -> None:
    X, y = xy
    best = tune.cross_validate(FAST, X, y, tune.splits(y, 3, 1), (1, -1, 0), seed=1)
    model = tune.fit_final(best, X, y, (1, -1, 0), seed=1)
    assert model.n_estimators == best.n_estimators
    grid = np.zeros((50, 3), dtype=np.float32)
    grid[:, 0] = np.linspace(-3, 3, 50)
    assert (np.diff(model.predict_proba(grid)[:, 1]) >= 0).all()


def test_given_n_estimators_fixes_the_rounds(xy) -> None:
    """`--params '{"n_estimators": 7}'` trains exactly 7 rounds everywhere (no early stopping)."""
    X, y = xy
    result = tune.fixed({**FAST, "n_estimators": 7}, X, y, folds=3, seed=1, constraints=(0, 0, 0))
    assert result.best.best_rounds == [7, 7, 7] and result.best.n_estimators == 7
    model = tune.fit_final(result.best, X, y, (0, 0, 0), seed=1)
    assert model.get_booster().num_boosted_rounds() == 7
