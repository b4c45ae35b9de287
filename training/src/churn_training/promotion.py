"""The promotion decision: may this run's model replace the champion?

Both models are scored on this run's holdout; the new one is promoted unless it fails its
behavioural checks or trails the champion beyond the margins in the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from churn_training import evaluate, features
from churn_training.data import records
from churn_training.decision import Economics, expected_value
from churn_training.outcome import TrainingOutcome
from churn_training.pyfunc_model import Bundle
from churn_training.settings import TrainSettings


@dataclass(frozen=True)
class Champion:
    """The registered champion: its version and its bundle, ready to score."""

    version: str
    bundle: Bundle


@dataclass(frozen=True)
class GateDecision:
    """Whether the new model takes the champion alias, and why (a sentence for people)."""

    promoted: bool
    reason: str


def holdout_score(bundle: Bundle, outcome: TrainingOutcome) -> dict[str, float]:
    """ROC-AUC and expected value of any bundle on this run's holdout (for the promotion gate).

    Scored at the bundle's own threshold, with this run's economics.
    """
    y = features.labels(outcome.holdout)
    p = bundle.probability(records(outcome.holdout))
    econ = Economics.from_threshold(outcome.contract.threshold)
    threshold = bundle.contract["threshold"]["value"]
    return {
        "roc_auc": float(evaluate.metrics(y, p, threshold, econ)["roc_auc"]),
        "expected_value": expected_value(y, p, threshold, econ),
    }


def gate(
    new: dict[str, float], champion: dict[str, float], settings: TrainSettings
) -> GateDecision:
    """Promote unless ROC-AUC or expected value trail the champion's beyond the margins."""
    auc_floor = champion["roc_auc"] - settings.promotion_auc_margin
    value_floor = champion["expected_value"] - settings.promotion_value_margin * abs(
        champion["expected_value"]
    )
    failures = []
    if new["roc_auc"] < auc_floor:
        failures.append(f"ROC-AUC {new['roc_auc']:.4f} < champion {champion['roc_auc']:.4f}")
    if new["expected_value"] < value_floor:
        new_value, old_value = new["expected_value"], champion["expected_value"]
        failures.append(f"expected value {new_value:.0f} < champion {old_value:.0f}")
    if failures:
        return GateDecision(
            False, "worse than the champion on the same holdout: " + "; ".join(failures)
        )
    return GateDecision(
        True,
        f"not worse than the champion on the same holdout (ROC-AUC {new['roc_auc']:.4f} vs "
        f"{champion['roc_auc']:.4f}, expected value {new['expected_value']:.0f} vs "
        f"{champion['expected_value']:.0f})",
    )


def decide(
    outcome: TrainingOutcome, current: Champion | None, settings: TrainSettings
) -> GateDecision:
    """Behavioural checks first, then the first model wins, then the gate against the champion."""
    if not outcome.behaviour_passed:
        failed = ", ".join(b.name for b in outcome.behaviour if not b.passed)
        return GateDecision(False, "behavioural checks failed: " + failed)
    if current is None:
        return GateDecision(True, "first model: no champion yet")
    # The evaluation already scored this model on the holdout at its own threshold.
    new_score = {k: outcome.metrics[k] for k in ("roc_auc", "expected_value")}
    decision = gate(new_score, holdout_score(current.bundle, outcome), settings)
    return GateDecision(
        decision.promoted, decision.reason + f" (champion was version {current.version})"
    )
