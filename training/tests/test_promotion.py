"""The promotion decision, without MLflow: behavioural checks, first model, the gate's margins."""

from __future__ import annotations

from types import SimpleNamespace

from churn_training import promotion
from churn_training.evaluate import BehaviourResult
from churn_training.settings import TrainSettings

SETTINGS = TrainSettings(promotion_auc_margin=0.002, promotion_value_margin=0.02)
CHAMPION = {"roc_auc": 0.85, "expected_value": 10_000.0}


def test_equal_or_slightly_worse_is_promoted() -> None:
    decision = promotion.gate({"roc_auc": 0.849, "expected_value": 9_900.0}, CHAMPION, SETTINGS)
    assert decision.promoted and "not worse than the champion" in decision.reason


def test_auc_beyond_the_margin_is_not_promoted() -> None:
    decision = promotion.gate({"roc_auc": 0.847, "expected_value": 10_500.0}, CHAMPION, SETTINGS)
    assert not decision.promoted
    assert "ROC-AUC 0.8470 < champion 0.8500" in decision.reason
    assert "expected value" not in decision.reason


def test_value_beyond_the_margin_is_not_promoted() -> None:
    decision = promotion.gate({"roc_auc": 0.86, "expected_value": 9_700.0}, CHAMPION, SETTINGS)
    assert not decision.promoted and "expected value 9700 < champion 10000" in decision.reason


def _outcome(*violations: int) -> SimpleNamespace:
    behaviour = [BehaviourResult(f"check_{i}", 10, v, 0.0, 0.0) for i, v in enumerate(violations)]
    return SimpleNamespace(
        behaviour=behaviour, behaviour_passed=all(b.passed for b in behaviour), metrics={}
    )


def test_failed_behaviour_is_never_promoted_even_without_a_champion() -> None:
    decision = promotion.decide(_outcome(0, 3), None, SETTINGS)  # type: ignore[arg-type]
    assert not decision.promoted and decision.reason == "behavioural checks failed: check_1"


def test_first_model_is_promoted() -> None:
    decision = promotion.decide(_outcome(0, 0), None, SETTINGS)  # type: ignore[arg-type]
    assert decision.promoted and decision.reason == "first model: no champion yet"
