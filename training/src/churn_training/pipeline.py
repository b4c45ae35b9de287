"""The training job end to end, up to (not including) publishing: split, tune, fit, evaluate."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import xgboost as xgb
from sklearn.model_selection import train_test_split

from churn_training import baseline, calibrate, evaluate, features, model_card, tune
from churn_training.data import ID_COLUMN, TARGET, Dataset
from churn_training.pyfunc_model import BOOSTER_FILE, CONTRACT_FILE, GOLDEN_FILE, Bundle
from churn_training.settings import TrainSettings

RISK_BANDS = [
    {"name": "low", "upper": 0.3},
    {"name": "medium", "upper": 0.6},
    {"name": "high", "upper": 1.0},
]
GOLDEN_TOLERANCE = 1e-6
HOLDOUT_PREDICTIONS = "holdout_predictions.csv"
# Partial inputs in the golden set exercise the defaults exactly as an API client would.
PARTIAL_GOLDEN_INPUTS: list[dict[str, Any]] = [
    {"customerID": "golden-partial-1", "tenure": 12, "MonthlyCharges": 70.5},
    {"customerID": "golden-defaults-only"},
    {"customerID": "golden-partial-2", "Contract": "Two year", "tenure": 60, "TechSupport": "Yes"},
    {"customerID": "golden-first-month", "tenure": 0, "MonthlyCharges": 80.0, "TotalCharges": ""},
]


@dataclass
class TrainingOutcome:
    """Everything the training produced, ready to be published or saved."""

    bundle_dir: Path
    report_dir: Path
    contract: dict[str, Any]
    params: dict[str, Any]
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    baseline_params: dict[str, Any]
    slices: pd.DataFrame
    behaviour: list[evaluate.BehaviourResult]
    holdout: pd.DataFrame
    dataset: Dataset
    calibration: calibrate.Calibration
    tune_history: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def behaviour_passed(self) -> bool:
        return all(b.passed for b in self.behaviour)


def split(frame: pd.DataFrame, settings: TrainSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stratified holdout, fixed by the seed; used once, for the final evaluation."""
    train, holdout = train_test_split(
        frame,
        test_size=settings.holdout_fraction,
        stratify=frame[TARGET],
        random_state=settings.seed,
    )
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Dataset-form records with plain Python values (JSON-ready), without the label."""
    clean = frame.drop(columns=[TARGET], errors="ignore")
    return json.loads(clean.to_json(orient="records"))


def golden_examples(holdout: pd.DataFrame, bundle: Bundle, count: int) -> dict[str, Any]:
    chosen = holdout.sort_values(ID_COLUMN).head(count)
    inputs = records(chosen) + PARTIAL_GOLDEN_INPUTS
    probabilities = bundle.probability(inputs)
    return {
        "tolerance": GOLDEN_TOLERANCE,
        "examples": [
            {"input": inp, "probability": float(p)}
            for inp, p in zip(inputs, probabilities, strict=True)
        ],
    }


def _economics(settings: TrainSettings) -> evaluate.Economics:
    return evaluate.Economics(
        offer_cost=settings.offer_cost,
        saved_customer_value=settings.saved_customer_value,
        offer_success_rate=settings.offer_success_rate,
    )


def run(
    dataset: Dataset,
    settings: TrainSettings,
    work_dir: Path,
    fixed_params: dict[str, Any] | None = None,
    progress: bool = True,
) -> TrainingOutcome:
    """Tune (unless params are given), fit, calibrate, choose the threshold, evaluate."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    econ = _economics(settings)
    train, holdout = split(dataset.frame, settings)
    contract = features.base_contract(train, settings.model_name)
    X, y = features.encode_frame(contract, train), features.labels(train)
    y_holdout = features.labels(holdout)
    constraints = features.monotone_constraints(contract)

    t0 = time.perf_counter()
    if fixed_params is None:
        tuned = tune.tune(
            X, y, settings.trials, settings.cv_folds, settings.seed, constraints, progress
        )
        best, history = tuned.best, tuned.history
    else:
        folds = tune.splits(y, settings.cv_folds, settings.seed)
        best = tune.cross_validate(fixed_params, X, y, folds, constraints, settings.seed)
        history = [{"number": 0, "value": best.auc, "state": "FIXED", **fixed_params}]
    timings["tuning_seconds"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    model = tune.fit_final(best, X, y, constraints, settings.seed)
    calibration = calibrate.choose(best.oof, y, settings.seed, settings.cv_folds)
    oof_calibrated = calibrate.calibrate(calibration.mapping, best.oof)
    threshold = evaluate.choose_threshold(y, oof_calibrated, econ)
    contract |= {
        "calibration": calibration.mapping,
        "threshold": threshold,
        "risk_bands": RISK_BANDS,
    }
    timings["fit_seconds"] = time.perf_counter() - t0

    bundle_dir = work_dir / "churn_model"
    report_dir = work_dir / "report"
    bundle_dir.mkdir(parents=True, exist_ok=True)
    report_dir.mkdir(parents=True, exist_ok=True)
    model.get_booster().save_model(str(bundle_dir / BOOSTER_FILE))
    features.write_contract(contract, bundle_dir / CONTRACT_FILE)
    bundle = Bundle.load(bundle_dir)

    # Holdout scores come from the bundle itself: exactly what pyfunc and the API compute.
    t0 = time.perf_counter()
    holdout_records = records(holdout)
    p_holdout = bundle.probability(holdout_records)
    holdout_metrics = evaluate.metrics(y_holdout, p_holdout, threshold["value"], econ)
    holdout_metrics["expected_value_at_f1_threshold"] = evaluate.expected_value(
        y_holdout, p_holdout, threshold["f1_optimal"], econ
    )
    holdout_metrics["cv_roc_auc"] = best.auc
    slices = evaluate.slice_metrics(holdout, y_holdout, p_holdout, threshold["value"], econ)
    behaviour = evaluate.behavioural_checks(holdout, bundle.probability)

    lr_model, lr_oof = baseline.fit_baseline(train, y, settings.cv_folds, settings.seed)
    lr_threshold = evaluate.choose_threshold(y, lr_oof, econ)
    p_baseline = lr_model.predict_proba(holdout[features.INPUT_FIELDS])[:, 1]
    baseline_metrics = evaluate.metrics(y_holdout, p_baseline, lr_threshold["value"], econ)

    importance = evaluate.field_importance(bundle.booster, contract)
    curve = evaluate.value_curve(y_holdout, p_holdout, econ)
    evaluate.plots(report_dir, y_holdout, p_holdout, p_baseline, threshold, curve, importance)
    timings["evaluation_seconds"] = time.perf_counter() - t0

    contract["metrics"] = {k: round(v, 6) for k, v in holdout_metrics.items()}
    contract["training"] = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_source": dataset.source,
        "data_sha256": dataset.sha256,
        "rows": len(dataset.frame),
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "seed": settings.seed,
        "xgboost_version": xgb.__version__,
        "mlflow_version": mlflow.__version__,
    }
    features.write_contract(contract, bundle_dir / CONTRACT_FILE)
    golden = golden_examples(holdout, bundle, settings.golden_examples)
    (bundle_dir / GOLDEN_FILE).write_text(json.dumps(golden, indent=2) + "\n")

    params = {**best.params, "n_estimators": best.n_estimators, "monotone": features.MONOTONE}
    # The evaluation's own scores, so any server can be checked against them row by row.
    holdout.drop(columns=[TARGET]).assign(churn_probability=p_holdout).to_csv(
        report_dir / HOLDOUT_PREDICTIONS, index=False
    )
    slices.to_csv(report_dir / "slice_metrics.csv", index=False)
    curve.to_csv(report_dir / "expected_value_by_threshold.csv", index=False)
    importance.rename("share_of_gain").to_csv(report_dir / "field_importance.csv")
    (report_dir / "behaviour_checks.json").write_text(
        json.dumps([asdict(b) | {"passed": b.passed} for b in behaviour], indent=2)
    )
    (report_dir / "tuning_history.json").write_text(json.dumps(history, indent=2, default=str))
    timings["total_seconds"] = time.perf_counter() - started

    outcome = TrainingOutcome(
        bundle_dir=bundle_dir,
        report_dir=report_dir,
        contract=contract,
        params=params,
        metrics=holdout_metrics,
        baseline_metrics=baseline_metrics,
        baseline_params={"model": "logistic_regression", "threshold": lr_threshold["value"]},
        slices=slices,
        behaviour=behaviour,
        holdout=holdout,
        dataset=dataset,
        calibration=calibration,
        tune_history=history,
        timings=timings,
    )
    (bundle_dir / "model_card.md").write_text(model_card.render(outcome))
    return outcome


def holdout_score(bundle: Bundle, outcome: TrainingOutcome) -> dict[str, float]:
    """ROC-AUC and expected value of any bundle on this run's holdout (for the promotion gate)."""
    y = features.labels(outcome.holdout)
    p = bundle.probability(records(outcome.holdout))
    econ = evaluate.Economics.from_threshold(outcome.contract["threshold"])
    threshold = bundle.contract["threshold"]["value"]
    return {
        "roc_auc": float(evaluate.metrics(y, p, threshold, econ)["roc_auc"]),
        "expected_value": evaluate.expected_value(y, p, threshold, econ),
    }
