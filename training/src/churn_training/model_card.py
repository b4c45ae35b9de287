"""The model card: a markdown summary a retention team and a reviewer can read."""

from __future__ import annotations

from churn_training.outcome import TrainingOutcome

METRIC_ROWS = [
    ("roc_auc", "ROC-AUC"),
    ("pr_auc", "PR-AUC"),
    ("brier", "Brier score"),
    ("log_loss", "Log loss"),
    ("accuracy", "Accuracy"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("expected_value", "Expected retention value"),
]


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def render(outcome: TrainingOutcome) -> str:
    """The card as markdown, from the finished run."""
    c = outcome.contract
    t = c.threshold
    training = c.training
    m, b = outcome.metrics, outcome.baseline_metrics
    metric_rows = [
        [label, f"{m[key]:.4f}" if key in m else "-", f"{b[key]:.4f}" if key in b else "-"]
        for key, label in METRIC_ROWS
    ]
    slice_rows = [
        [
            str(r.slice),
            str(r.value),
            str(int(r.n)),
            f"{r.churn_rate:.3f}",
            "-" if r.roc_auc != r.roc_auc else f"{r.roc_auc:.3f}",  # NaN where one class only
            f"{r.brier:.3f}",
            f"{r.recall:.3f}",
        ]
        for r in outcome.slices.itertuples()
    ]
    behaviour_rows = [
        [b.name, str(b.customers), str(b.violations), f"{b.max_increase:.4f}", str(b.tolerance)]
        for b in outcome.behaviour
    ]
    calibration = ", ".join(f"{k} {v:.4f}" for k, v in outcome.calibration.brier.items())
    return f"""# Model card: {c.model_name}

## What it does
Scores a telecom customer's probability of churning (leaving) from the 19 account, service and
billing fields of the IBM Telco schema. Probabilities are calibrated: 0.3 means about 30 %.
Customers at or above the threshold **{t.value:.2f}** are flagged for a retention offer.

## Data
- Source: `{training.data_source}` (sha256 `{training.data_sha256}`)
- {training.rows} customers; {training.train_rows} for training (tuning by
  {len(outcome.tune_history)}-trial Optuna search on stratified cross-validation),
  {training.holdout_rows} in a stratified holdout (seed {training.seed}) used once.
- {outcome.dataset.blank_total_charges} customers with tenure 0 had a blank TotalCharges; they
  have not been billed yet, so it is set to 0.

## Model
XGBoost {training.xgboost_version} (`binary:logistic`), parameters: `{outcome.params}`.
Monotone constraints keep the model from raising risk for more tenure or a longer contract.
Class imbalance: the search chose `{outcome.params.get("imbalance")}` ('balanced' weighs churners
by the class ratio); it was tried both ways and kept on cross-validated ROC-AUC, and calibration
corrects the probabilities either way.
Calibration: **{outcome.calibration.method}**, chosen by cross-validated Brier score on
out-of-fold predictions ({calibration}).

## Holdout metrics (threshold {t.value:.2f})
{_table(["Metric", "XGBoost", "Logistic-regression baseline"], metric_rows)}

## Threshold
Chosen to maximise expected retention value on out-of-fold predictions of the training split:
an offer costs {t.offer_cost:.2f}, a saved customer is worth {t.saved_customer_value:.2f},
and an offer succeeds {t.offer_success_rate:.0%} of the time. Expected value of one offer =
probability × success rate × value − cost. The F1-optimal threshold would be
{t.f1_optimal:.2f} (holdout value there: {m["expected_value_at_f1_threshold"]:.2f}).

## Slices (holdout)
{_table(["Slice", "Value", "Customers", "Churn rate", "ROC-AUC", "Brier", "Recall"], slice_rows)}

## Behavioural checks (holdout customers)
{_table(["Check", "Customers", "Violations", "Largest increase", "Tolerance"], behaviour_rows)}

## Limits
- Trained on one public dataset of {training.rows} customers of one (fictional) operator; the
  base rate and the meaning of fields may differ for another customer base: retrain on it.
- Correlational: it says who is likely to leave, not why nor what an offer will change.
- Customers newer than a month, and values outside the training ranges, are scored with little
  evidence behind them.
- The economics above are assumptions; change them and retrain to move the threshold.
"""
