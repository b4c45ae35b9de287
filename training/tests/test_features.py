"""The feature contract: complete, derived from training data, and a faithful round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn_training import data, features
from churn_training.contract import CategoricalField, EncodingContract
from churn_training.data import load_dataset


@pytest.fixture(scope="module")
def train_frame(dataset_csv: Path) -> pd.DataFrame:
    return load_dataset(str(dataset_csv), dataset_csv.parent).frame.head(2000)


@pytest.fixture(scope="module")
def contract(train_frame: pd.DataFrame) -> EncodingContract:
    return features.encoding_contract(train_frame, "telco-churn")


def test_contract_lists_every_input_field_in_dataset_order(contract: EncodingContract) -> None:
    assert [f.name for f in contract.fields] == data.INPUT_FIELDS
    for field in contract.to_dict()["fields"]:
        assert {"name", "kind", "dtype", "group", "default", "description"} <= field.keys()
        assert field["group"] in {"account", "services", "billing"}
        if field["kind"] == "categorical":
            assert field["default"] in field["categories"]
        else:
            assert field["minimum"] <= field["default"] <= field["maximum"]


def test_defaults_are_mode_and_median(
    train_frame: pd.DataFrame, contract: EncodingContract
) -> None:
    fields = {f.name: f for f in contract.fields}
    assert fields["Contract"].default == train_frame["Contract"].mode()[0]
    assert fields["SeniorCitizen"].default == 0
    assert fields["tenure"].default == round(train_frame["tenure"].median())
    assert fields["MonthlyCharges"].default == pytest.approx(
        train_frame["MonthlyCharges"].median(), abs=0.01
    )


def test_categories_come_from_training_data(train_frame: pd.DataFrame) -> None:
    # A level absent from the training rows is not part of the contract.
    subset = train_frame[train_frame["Contract"] != "One year"]
    contract = features.encoding_contract(subset, "telco-churn")
    contract_field = next(f for f in contract.fields if f.name == "Contract")
    assert isinstance(contract_field, CategoricalField)
    assert contract_field.categories == ["Month-to-month", "Two year"]


def test_full_one_hot_with_no_dropped_level(contract: EncodingContract) -> None:
    names = [f.name for f in contract.encoded_features]
    assert "Contract=Month-to-month" in names and "Contract=Two year" in names
    assert "SeniorCitizen=0" in names and "SeniorCitizen=1" in names
    expected = sum(
        len(f.categories) if isinstance(f, CategoricalField) else 1 for f in contract.fields
    )
    assert len(names) == expected == len(set(names))


def test_single_row_encoding_matches_batch(
    train_frame: pd.DataFrame, contract: EncodingContract
) -> None:
    """The public-API trap: one row must encode exactly as it does inside a batch."""
    batch = features.encode_frame(contract, train_frame.head(50))
    one = features.encode_frame(contract, train_frame.iloc[[7]])
    np.testing.assert_array_equal(one[0], batch[7])
    assert one[0].sum() > 0


def test_missing_fields_take_the_defaults(contract: EncodingContract) -> None:
    defaults = {f.name: f.default for f in contract.fields}
    from_empty = features.encode_frame(contract, pd.DataFrame([{}]))
    from_defaults = features.encode_frame(contract, pd.DataFrame([defaults]))
    np.testing.assert_array_equal(from_empty, from_defaults)
    partial = features.encode_frame(contract, pd.DataFrame([{"tenure": 3, "Contract": None}]))
    index = [f.name for f in contract.encoded_features].index("tenure")
    assert partial[0, index] == 3


def test_monotone_constraints_point_at_the_right_columns(contract: EncodingContract) -> None:
    constraints = features.monotone_constraints(contract)
    names = [f.name for f in contract.encoded_features]
    assert constraints[names.index("tenure")] == -1
    assert constraints[names.index("Contract=Two year")] == -1
    assert constraints[names.index("Contract=Month-to-month")] == 1
    assert sum(1 for c in constraints if c) == 3


def test_first_month_customers_without_total_charges_get_zero(contract: EncodingContract) -> None:
    """Training reads the dataset's blank TotalCharges at tenure 0 as 0; scoring must agree."""
    index = [f.name for f in contract.encoded_features].index("TotalCharges")
    default = next(f.default for f in contract.fields if f.name == "TotalCharges")
    rows = [{"tenure": 0}, {"tenure": 0, "TotalCharges": ""}, {"tenure": 5}, {}]
    encoded = features.encode_frame(contract, pd.DataFrame(rows))
    assert encoded[:, index].tolist() == pytest.approx([0.0, 0.0, default, default])
