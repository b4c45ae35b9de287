"""The bundle folder (docs/model-bundle.md): write its files, score with it, find it again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import xgboost as xgb

from churn_training.contract import FeatureContract, ScoringContract, write_contract
from churn_training.data import ID_COLUMN, records
from churn_training.pyfunc_model import (
    BOOSTER_FILE,
    CONTRACT_FILE,
    GOLDEN_FILE,
    Bundle,
    load_booster,
)
from churn_training.reference import REFERENCE_FILE, write_reference

BUNDLE_DIR = "churn_model"
MODEL_CARD_FILE = "model_card.md"
GOLDEN_TOLERANCE = 1e-6
# Partial inputs in the golden set exercise the defaults exactly as an API client would.
PARTIAL_GOLDEN_INPUTS: list[dict[str, Any]] = [
    {"customerID": "golden-partial-1", "tenure": 12, "MonthlyCharges": 70.5},
    {"customerID": "golden-defaults-only"},
    {"customerID": "golden-partial-2", "Contract": "Two year", "tenure": 60, "TechSupport": "Yes"},
    {"customerID": "golden-first-month", "tenure": 0, "MonthlyCharges": 80.0, "TotalCharges": ""},
]


class BundleNotFoundError(Exception):
    """A model directory does not hold exactly one bundle."""


def save_booster(model: xgb.XGBClassifier, bundle_dir: Path) -> None:
    bundle_dir.mkdir(parents=True, exist_ok=True)
    model.get_booster().save_model(str(bundle_dir / BOOSTER_FILE))


def scorer(bundle_dir: Path, contract: ScoringContract) -> Bundle:
    """The saved booster with the contract in memory: the pyfunc model's own scoring code."""
    return Bundle(booster=load_booster(bundle_dir / BOOSTER_FILE), contract=contract.to_dict())


def golden_examples(holdout: pd.DataFrame, bundle: Bundle, count: int) -> dict[str, Any]:
    """Inputs (the first holdout customers by id, plus partial ones) and their probabilities."""
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


def write_bundle_files(
    bundle_dir: Path,
    contract: FeatureContract,
    golden: dict[str, Any],
    model_card: str,
    reference: dict[str, Any],
) -> None:
    """Everything beside the booster, each written once, when the run is complete."""
    write_contract(contract, bundle_dir / CONTRACT_FILE)
    write_reference(reference, bundle_dir / REFERENCE_FILE)
    (bundle_dir / GOLDEN_FILE).write_text(json.dumps(golden, indent=2) + "\n")
    (bundle_dir / MODEL_CARD_FILE).write_text(model_card)


def single_bundle_in(model_dir: Path) -> Path:
    """The one bundle folder inside an MLflow model directory; anything else is an error.

    The training side insists on exactly one (a second contract would be ambiguous), where a
    server may be more lenient about what it downloads.
    """
    matches = sorted(model_dir.rglob(CONTRACT_FILE))
    if len(matches) != 1:
        raise BundleNotFoundError(
            f"{model_dir} holds {len(matches)} {CONTRACT_FILE} files, expected 1"
        )
    return matches[0].parent
