"""The training job end to end, up to (not including) publishing: split, tune, fit, evaluate."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import xgboost as xgb
from sklearn.model_selection import train_test_split

from churn_training import bundle, calibration, features, model_card, reference, reports, tune
from churn_training.baseline import fit_baseline
from churn_training.contract import (
    FeatureContract,
    RiskBand,
    ScoringContract,
    TrainingInfo,
)
from churn_training.data import TARGET, Dataset
from churn_training.decision import Economics, choose_threshold
from churn_training.evaluate import evaluate_holdout
from churn_training.outcome import TrainingOutcome
from churn_training.pyfunc_model import apply_calibration
from churn_training.settings import TrainSettings

RISK_BANDS = [
    RiskBand(name="low", upper=0.3),
    RiskBand(name="medium", upper=0.6),
    RiskBand(name="high", upper=1.0),
]


@dataclass(frozen=True)
class Split:
    """The training split (tuning, fitting, calibration) and the holdout (evaluation, once)."""

    train: pd.DataFrame
    holdout: pd.DataFrame


def split(frame: pd.DataFrame, settings: TrainSettings) -> Split:
    """The stratified holdout, fixed by the seed; used once, for the final evaluation."""
    train, holdout = train_test_split(
        frame,
        test_size=settings.holdout_fraction,
        stratify=frame[TARGET],
        random_state=settings.seed,
    )
    return Split(train.reset_index(drop=True), holdout.reset_index(drop=True))


class _Stopwatch:
    """Seconds per stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        yield
        self.timings[name] = time.perf_counter() - t0

    def total(self) -> dict[str, float]:
        return self.timings | {"total_seconds": time.perf_counter() - self.started}


def _training_info(dataset: Dataset, parts: Split, settings: TrainSettings) -> TrainingInfo:
    return TrainingInfo(
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        data_source=dataset.source,
        data_sha256=dataset.sha256,
        rows=len(dataset.frame),
        train_rows=len(parts.train),
        holdout_rows=len(parts.holdout),
        seed=settings.seed,
        xgboost_version=xgb.__version__,
        mlflow_version=mlflow.__version__,
    )


def run(
    dataset: Dataset,
    settings: TrainSettings,
    work_dir: Path,
    fixed_params: dict[str, Any] | None = None,
    progress: bool = True,
) -> TrainingOutcome:
    """Tune (unless params are given), fit, calibrate, choose the threshold, evaluate."""
    clock = _Stopwatch()
    econ = Economics.from_settings(settings)
    parts = split(dataset.frame, settings)
    encoding = features.encoding_contract(parts.train, settings.model_name)
    X, y = features.encode_frame(encoding, parts.train), features.labels(parts.train)
    constraints = features.monotone_constraints(encoding)
    folds, seed = settings.cv_folds, settings.seed

    with clock.stage("tuning_seconds"):
        if fixed_params is None:
            tuned = tune.tune(X, y, settings.trials, folds, seed, constraints, progress)
        else:
            tuned = tune.fixed(fixed_params, X, y, folds, seed, constraints)
    best = tuned.best

    with clock.stage("fit_seconds"):
        model = tune.fit_final(best, X, y, constraints, seed)
        chosen = calibration.choose(best.oof, y, seed, folds)
        oof_calibrated = apply_calibration(chosen.mapping.model_dump(), best.oof)
        threshold = choose_threshold(y, oof_calibrated, econ)
        scoring = ScoringContract.extending(
            encoding, calibration=chosen.mapping, threshold=threshold, risk_bands=RISK_BANDS
        )

    bundle_dir, report_dir = work_dir / bundle.BUNDLE_DIR, work_dir / "report"
    bundle.save_booster(model, bundle_dir)
    scorer = bundle.scorer(bundle_dir, scoring)

    with clock.stage("evaluation_seconds"):
        lr = fit_baseline(parts.train, y, folds, seed, econ)
        evaluation = evaluate_holdout(scorer, encoding, threshold, lr, parts.holdout, econ)
        reports.write_reports(report_dir, parts.holdout, evaluation, threshold, tuned.history)
    metrics = evaluation.metrics | {"cv_roc_auc": best.auc}

    contract = FeatureContract.extending(
        scoring,
        metrics={k: round(v, 6) for k, v in metrics.items()},
        training=_training_info(dataset, parts, settings),
    )
    outcome = TrainingOutcome(
        bundle_dir=bundle_dir,
        report_dir=report_dir,
        contract=contract,
        params={**best.params, "n_estimators": best.n_estimators, "monotone": features.MONOTONE},
        metrics=metrics,
        baseline_metrics=evaluation.baseline_metrics,
        baseline_params=lr.params,
        slices=evaluation.slices,
        behaviour=evaluation.behaviour,
        holdout=parts.holdout,
        dataset=dataset,
        calibration=chosen,
        tune_history=tuned.history,
        timings=clock.total(),
    )
    golden = bundle.golden_examples(parts.holdout, scorer, settings.golden_examples)
    # Out-of-fold scores: what the model gives customers it has not seen, as in production.
    drift_reference = reference.build(parts.train, encoding, oof_calibrated)
    bundle.write_bundle_files(
        bundle_dir, contract, golden, model_card.render(outcome), drift_reference
    )
    return outcome
