"""The typed feature contract: the file it writes is the file the API has always read."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from churn_training import features
from churn_training.contract import (
    FeatureContract,
    IsotonicCalibration,
    ScoringContract,
    read_contract,
    to_json,
    write_contract,
)
from churn_training.data import load_dataset

# Written by the dict-based code this module replaced (first 2000 IBM rows, fixed later parts).
SNAPSHOT = Path(__file__).parent / "fixtures" / "feature_contract_v1.json"
KEY_ORDER = [
    "schema_version",
    "model_name",
    "target",
    "id_field",
    "fields",
    "encoded_features",
    "imputation_rules",
    "calibration",
    "threshold",
    "risk_bands",
    "metrics",
    "training",
]


@pytest.fixture(scope="module")
def snapshot() -> FeatureContract:
    return read_contract(SNAPSHOT)


@pytest.fixture(scope="module")
def train_frame(dataset_csv: Path) -> pd.DataFrame:
    return load_dataset(str(dataset_csv), dataset_csv.parent).frame.head(2000)


def test_snapshot_round_trips_byte_for_byte(snapshot: FeatureContract) -> None:
    assert to_json(snapshot) == SNAPSHOT.read_text()


def test_contract_built_in_stages_writes_the_same_bytes(
    snapshot: FeatureContract, train_frame: pd.DataFrame, tmp_path: Path
) -> None:
    encoding = features.encoding_contract(train_frame, "telco-churn")
    scoring = ScoringContract.extending(
        encoding,
        calibration=snapshot.calibration,
        threshold=snapshot.threshold,
        risk_bands=snapshot.risk_bands,
    )
    contract = FeatureContract.extending(
        scoring, metrics=snapshot.metrics, training=snapshot.training
    )
    write_contract(contract, tmp_path / "feature_contract.json")
    assert (tmp_path / "feature_contract.json").read_bytes() == SNAPSHOT.read_bytes()
    assert list(contract.to_dict()) == KEY_ORDER
    assert encoding.to_dict() == {
        k: v for k, v in contract.to_dict().items() if k in encoding.to_dict()
    }


def test_integers_stay_integers(snapshot: FeatureContract) -> None:
    """The API compares categories exactly: SeniorCitizen's 0 must not become 0.0 or "0"."""
    data = json.loads(to_json(snapshot))
    fields = {f["name"]: f for f in data["fields"]}
    assert fields["SeniorCitizen"]["categories"] == [0, 1]
    assert type(fields["SeniorCitizen"]["default"]) is int
    assert type(fields["tenure"]["maximum"]) is int and type(fields["tenure"]["default"]) is int
    assert data["imputation_rules"][0] == {
        "field": "TotalCharges",
        "when_field": "tenure",
        "equals": 0,
        "value": 0.0,
    }
    numeric = next(f for f in data["encoded_features"] if f["name"] == "tenure")
    assert numeric == {"name": "tenure", "field": "tenure"}  # no "category": null


def test_contract_is_frozen(snapshot: FeatureContract) -> None:
    with pytest.raises(ValidationError, match="frozen"):
        snapshot.model_name = "other"  # type: ignore[misc]


def _broken(change: dict) -> str:
    data = json.loads(SNAPSHOT.read_text()) | change
    with pytest.raises(ValidationError) as info:
        FeatureContract.model_validate(data)
    return str(info.value)


def test_unknown_keys_are_refused() -> None:
    assert "thresold" in _broken({"thresold": {}})


def test_default_outside_categories_is_named() -> None:
    data = json.loads(SNAPSHOT.read_text())
    data["fields"][0]["default"] = "Other"
    with pytest.raises(ValidationError, match="default 'Other' of gender"):
        FeatureContract.model_validate(data)


def test_encoded_feature_must_match_its_field() -> None:
    data = json.loads(SNAPSHOT.read_text())
    data["encoded_features"][0]["category"] = "Unknown"
    with pytest.raises(ValidationError, match="not a category"):
        FeatureContract.model_validate(data)
    data["encoded_features"][0]["field"] = "nope"
    with pytest.raises(ValidationError, match="unknown field"):
        FeatureContract.model_validate(data)


def test_risk_bands_must_increase() -> None:
    bands = [{"name": "low", "upper": 0.6}, {"name": "high", "upper": 0.3}]
    assert "increasing upper bounds" in _broken({"risk_bands": bands})


def test_calibration_is_checked() -> None:
    with pytest.raises(ValidationError, match="ascending"):
        IsotonicCalibration(x=[0.5, 0.1], y=[0.2, 0.3])
    assert "method" in _broken({"calibration": {"method": "beta", "a": 1.0}})
    assert "calibration.sigmoid.b" in _broken({"calibration": {"method": "sigmoid", "a": 1.0}})
