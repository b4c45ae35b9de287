"""What a training run produced: the record that publishing, the model card and the CLI read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churn_training.calibration import CalibrationChoice
from churn_training.contract import FeatureContract
from churn_training.data import Dataset
from churn_training.evaluate import BehaviourResult


@dataclass(frozen=True)
class TrainingOutcome:
    """Everything the training produced, ready to be published or saved."""

    bundle_dir: Path
    report_dir: Path
    contract: FeatureContract
    params: dict[str, Any]
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    baseline_params: dict[str, Any]
    slices: pd.DataFrame
    behaviour: list[BehaviourResult]
    holdout: pd.DataFrame
    dataset: Dataset
    calibration: CalibrationChoice
    tune_history: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def behaviour_passed(self) -> bool:
        return all(b.passed for b in self.behaviour)
