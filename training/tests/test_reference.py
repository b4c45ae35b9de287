"""reference.json: the training split's distributions, computed by hand on small frames, and
written by a real run into the signed bundle."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn_training import features, reference
from churn_training.bundle import single_bundle_in
from churn_training.contract import CategoricalField, EncodingContract, NumericField, read_contract
from churn_training.data import load_dataset
from churn_training.pipeline import split
from churn_training.settings import TrainSettings
from churn_training.signing import file_hashes


def _contract() -> EncodingContract:
    fields = [
        CategoricalField(
            name="SeniorCitizen",
            group="account",
            dtype="integer",
            categories=[0, 1],
            default=0,
            description="",
        ),
        CategoricalField(
            name="Contract",
            group="billing",
            dtype="string",
            categories=["Month-to-month", "One year", "Two year"],
            default="Month-to-month",
            description="",
        ),
        NumericField(
            name="tenure",
            group="account",
            dtype="integer",
            minimum=0,
            maximum=120,
            default=10,
            description="",
        ),
    ]
    return EncodingContract(
        model_name="telco-churn",
        target="Churn",
        id_field="customerID",
        fields=fields,
        encoded_features=features.encoded_features(fields),
        imputation_rules=[],
    )


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "SeniorCitizen": [0, 0, 0, 1, 0, 0, 1, 0, 0, 0],
            "Contract": ["Two year", "One year"] + ["Month-to-month"] * 8,
            "tenure": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, np.nan],
        }
    )


def test_the_reference_of_a_small_frame_by_hand() -> None:
    scores = np.linspace(0.05, 0.95, 10)
    doc = reference.build(_frame(), _contract(), scores)
    assert (doc["format"], doc["rows"], doc["computed_on"]) == (1, 10, "training split")
    senior = doc["fields"]["SeniorCitizen"]
    assert senior == {
        "kind": "categorical",
        "count": 10,
        "missing_rate": 0.0,
        "categories": [0, 1],
        "frequencies": [0.8, 0.2],
    }
    contract = doc["fields"]["Contract"]
    assert contract["frequencies"] == [0.8, 0.1, 0.1]  # in the contract's order
    tenure = doc["fields"]["tenure"]
    # Nine values 1..9 (one missing): deciles 1.8, 2.6, ..., 8.2 are the inner edges; every bin
    # holds one value but [4.2, 5.0), since 5.0 lies on an edge and falls to the right.
    assert tenure["count"] == 9 and tenure["missing_rate"] == pytest.approx(0.1)
    assert tenure["edges"] == pytest.approx([1.8, 2.6, 3.4, 4.2, 5.0, 5.8, 6.6, 7.4, 8.2])
    shares = [1, 1, 1, 1, 0, 1, 1, 1, 1, 1]
    assert tenure["frequencies"] == pytest.approx([s / 9 for s in shares])
    assert tenure["quantiles"][0] == 1.0 and tenure["quantiles"][100] == 9.0
    assert tenure["quantiles"][50] == 5.0 and len(tenure["quantiles"]) == 101
    score = doc["score"]
    assert score["source"] == "out-of-fold" and score["count"] == 10
    assert sum(score["frequencies"]) == pytest.approx(1.0)
    # Integer categories stay integers in the file.
    assert json.loads(json.dumps(doc))["fields"]["SeniorCitizen"]["categories"] == [0, 1]


def test_repeated_deciles_make_one_edge() -> None:
    frame = _frame().assign(tenure=[0.0] * 6 + [1.0, 2.0, 3.0, 4.0])
    tenure = reference.build(frame, _contract(), np.zeros(10))["fields"]["tenure"]
    # Sorted 0,0,0,0,0,0,1,2,3,4: deciles 1-5 are all 0, then 0.4, 1.3, 2.2, 3.1.
    assert tenure["edges"] == pytest.approx([0.0, 0.4, 1.3, 2.2, 3.1])
    assert tenure["frequencies"] == pytest.approx([0.0, 0.6, 0.1, 0.1, 0.1, 0.1])
    assert reference.build(frame, _contract(), np.zeros(10))["score"]["edges"] == [0.0]


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="9 scores for 10 training rows"):
        reference.build(_frame(), _contract(), np.zeros(9))
    odd = _frame().assign(Contract=["Weekly"] + ["Month-to-month"] * 9)
    with pytest.raises(ValueError, match="field Contract holds 'Weekly', not a category"):
        reference.build(odd, _contract(), np.zeros(10))
    empty = _frame().assign(tenure=np.nan)
    with pytest.raises(ValueError, match="field tenure has no values"):
        reference.build(empty, _contract(), np.zeros(10))


@pytest.mark.integration
def test_the_trainer_writes_the_training_split_reference_and_signs_it(
    trained_model_dir: Path, dataset_csv: Path
) -> None:
    """The session's champion: rows = the training split, every field, covered by the signature."""
    bundle_dir = single_bundle_in(trained_model_dir)
    doc = json.loads((bundle_dir / reference.REFERENCE_FILE).read_text())
    contract = read_contract(bundle_dir / "feature_contract.json")
    assert doc["rows"] == contract.training.train_rows == 5634
    assert list(doc["fields"]) == [f.name for f in contract.fields]
    # The same numbers as the split the run trained on (seed 42), not the whole file.
    train = split(load_dataset(str(dataset_csv), dataset_csv.parent).frame, TrainSettings()).train
    expected = reference.build(train, contract, np.zeros(len(train)))
    assert doc["fields"] == json.loads(json.dumps(expected["fields"]))
    for name, field in doc["fields"].items():
        spec = next(f for f in contract.fields if f.name == name)
        assert field["kind"] == spec.kind and field["count"] == 5634, name
        if spec.kind == "categorical":
            assert field["categories"] == spec.categories
    score = doc["score"]
    assert score["count"] == 5634 and len(score["quantiles"]) == 101
    assert 0 <= score["quantiles"][0] <= score["quantiles"][100] <= 1
    signature = json.loads((bundle_dir / "signature.json").read_text())
    assert signature["files"][reference.REFERENCE_FILE] == file_hashes(bundle_dir)["reference.json"]
    assert os.environ.get("MODEL_SIGNING_KEY_FILE")  # signed by the session's key
