"""Hyperparameter search with Optuna on stratified cross-validation inside the training split."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import xgboost as xgb
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from churn_training.params import MAX_ROUNDS

EARLY_STOPPING_ROUNDS = 50
# Fixed booster settings; the search space below covers the rest.
BASE_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "tree_method": "hist",
}


@dataclass
class CVResult:
    """Out-of-fold predictions of one parameter set."""

    params: dict[str, Any]
    oof: np.ndarray
    fold_auc: list[float]
    best_rounds: list[int]

    @property
    def auc(self) -> float:
        return float(np.mean(self.fold_auc))

    @property
    def n_estimators(self) -> int:
        """Rounds for the final model: the mean early-stopping point of the folds."""
        return max(1, round(float(np.mean(self.best_rounds))))


@dataclass
class TuneResult:
    """The best parameter set's cross-validation, and one history row per trial."""

    best: CVResult
    trials: int
    history: list[dict[str, Any]] = field(default_factory=list)


def splits(y: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y))


def scale_pos_weight(y: np.ndarray, imbalance: str) -> float:
    """'balanced' weighs churners by the negative/positive ratio; 'none' leaves them at 1."""
    if imbalance == "none":
        return 1.0
    return float((y == 0).sum() / max(1, (y == 1).sum()))


def make_classifier(
    params: dict[str, Any],
    y: np.ndarray,
    constraints: tuple[int, ...],
    seed: int,
    n_estimators: int = MAX_ROUNDS,
    early_stopping: bool = True,
    n_jobs: int = 1,
) -> xgb.XGBClassifier:
    booster_params = {k: v for k, v in params.items() if k not in ("imbalance", "n_estimators")}
    return xgb.XGBClassifier(
        **BASE_PARAMS,
        **booster_params,
        n_estimators=n_estimators,
        early_stopping_rounds=EARLY_STOPPING_ROUNDS if early_stopping else None,
        scale_pos_weight=scale_pos_weight(y, params.get("imbalance", "none")),
        monotone_constraints=constraints,
        random_state=seed,
        n_jobs=n_jobs,
    )


def cross_validate(
    params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    constraints: tuple[int, ...],
    seed: int,
    report: Callable[[int, float], None] | None = None,
) -> CVResult:
    """Fit one model per fold with early stopping on that fold; collect out-of-fold scores.

    Parameters that fix `n_estimators` get exactly that many rounds, without early stopping.
    """
    fixed_rounds: int | None = params.get("n_estimators")
    oof = np.zeros(len(y), dtype=np.float64)
    fold_auc: list[float] = []
    best_rounds: list[int] = []
    for step, (train_idx, val_idx) in enumerate(folds):
        if fixed_rounds is None:
            model = make_classifier(params, y[train_idx], constraints, seed)
            eval_set = [(X[val_idx], y[val_idx])]
            model.fit(X[train_idx], y[train_idx], eval_set=eval_set, verbose=False)
            best_rounds.append(int(model.best_iteration) + 1)
        else:
            model = make_classifier(
                params, y[train_idx], constraints, seed, fixed_rounds, early_stopping=False
            )
            model.fit(X[train_idx], y[train_idx], verbose=False)
            best_rounds.append(fixed_rounds)
        oof[val_idx] = model.predict_proba(X[val_idx])[:, 1]
        fold_auc.append(float(roc_auc_score(y[val_idx], oof[val_idx])))
        if report is not None:
            report(step, float(np.mean(fold_auc)))
    return CVResult(params=params, oof=oof, fold_auc=fold_auc, best_rounds=best_rounds)


def suggest(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "max_depth": trial.suggest_int("max_depth", 2, 6),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 30.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
        "gamma": trial.suggest_float("gamma", 1e-3, 5.0, log=True),
        "imbalance": trial.suggest_categorical("imbalance", ["none", "balanced"]),
    }


# A sensible first trial, so even a very short search starts from a good region.
DEFAULT_TRIAL: dict[str, Any] = {
    "max_depth": 3,
    "learning_rate": 0.05,
    "min_child_weight": 5.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "reg_alpha": 0.01,
    "gamma": 0.01,
    "imbalance": "none",
}


def tune(
    X: np.ndarray,
    y: np.ndarray,
    trials: int,
    folds: int,
    seed: int,
    constraints: tuple[int, ...],
    progress: bool = True,
) -> TuneResult:
    """TPE search maximising mean out-of-fold ROC-AUC, with median pruning across folds."""
    fold_indices = splits(y, folds, seed)
    results: dict[int, CVResult] = {}

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial)

        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        result = cross_validate(params, X, y, fold_indices, constraints, seed, report)
        results[trial.number] = result
        return result.auc

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(8, trials)),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    )
    study.enqueue_trial(DEFAULT_TRIAL)
    study.optimize(objective, n_trials=trials, show_progress_bar=progress)
    history = [
        {"number": t.number, "value": t.value, "state": t.state.name, **t.params}
        for t in study.trials
    ]
    return TuneResult(
        best=results[study.best_trial.number], trials=len(study.trials), history=history
    )


def fixed(
    params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    folds: int,
    seed: int,
    constraints: tuple[int, ...],
) -> TuneResult:
    """No search: cross-validate the given parameters, as a one-trial result."""
    best = cross_validate(params, X, y, splits(y, folds, seed), constraints, seed)
    history = [{"number": 0, "value": best.auc, "state": "FIXED", **params}]
    return TuneResult(best=best, trials=1, history=history)


def fit_final(
    result: CVResult,
    X: np.ndarray,
    y: np.ndarray,
    constraints: tuple[int, ...],
    seed: int,
) -> xgb.XGBClassifier:
    """Refit the best parameters on the whole training split for the CV-chosen number of rounds."""
    model = make_classifier(
        result.params, y, constraints, seed, n_estimators=result.n_estimators, early_stopping=False
    )
    model.fit(X, y, verbose=False)
    return model
