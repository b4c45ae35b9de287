"""The download's formula-injection guard (OWASP CSV injection): fast, no servers."""

from __future__ import annotations

import csv
import io
import math

import pandas as pd
import pytest

from churn_ui.csv_safety import neutralise, neutralise_frame, neutralise_text, safe_csv


@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        '=HYPERLINK("http://evil.example","click")',
        "+1+1",
        "-1+1",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1)",
        "\t=1+1",
        "\tplain",
        "\rplain",
        "=",
        "-",
    ],
)
def test_ui_each_trigger_character_gets_a_leading_quote(text: str) -> None:
    assert neutralise_text(text) == "'" + text
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["  =1+1", " @SUM(1)", "\n+1+1", "\u00a0-1+1", " \t =1"])
def test_ui_a_trigger_after_leading_whitespace_counts_too(text: str) -> None:
    # Spreadsheets trim the spaces and then read a formula.
    assert neutralise_text(text) == "'" + text


@pytest.mark.parametrize(
    "text", ["-5", "+1.5", "-0.25", "2e3", "-1E-3", "12", "Month-to-month", "a=b", "", "7590-VHVEG"]
)
def test_ui_plain_numbers_and_ordinary_text_stay_as_they_are(text: str) -> None:
    assert neutralise_text(text) == text


@pytest.mark.parametrize("value", [5, -5, -1.5, 0.0, True, False, None, pd.NA])
def test_ui_values_that_are_not_text_are_returned_untouched(value: object) -> None:
    assert neutralise(value) is value


def test_ui_nan_is_returned_untouched() -> None:
    out = neutralise(float("nan"))
    assert isinstance(out, float) and math.isnan(out)


def _hostile() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "customerID": ['=HYPERLINK("x")', "7590-VHVEG", None, " @SUM(1)"],
            "tenure": ["-5", "12", "", "+1+1"],  # echoed input: text, as the file had it
            "file_row": [1, 2, 3, 4],
            "delta": [-5, 3, 0, -1],
            "churn_probability": pd.Series([0.5, None, -0.25, 1.0], dtype="Float64"),
            "recommend_offer": pd.Series([True, None, False, True], dtype="boolean"),
            "rejection_reason": ["", "tenure: -1 is not allowed", "", "=cmd"],
            "mixed": [1, "=x", None, 2.5],
            "=evil header": ["a;=1+1", "b", "c", "d"],
        }
    )
    frame["risk_band"] = pd.Series(["high", None, "-low", "low"], dtype=str)
    return frame


def test_ui_neutralise_frame_changes_text_cells_and_headers_only() -> None:
    frame = _hostile()
    out = neutralise_frame(frame)
    assert list(out.columns)[-2] == "'=evil header"
    assert out["customerID"].tolist()[:2] == ['\'=HYPERLINK("x")', "7590-VHVEG"]
    assert out["customerID"].iloc[3] == "' @SUM(1)" and pd.isna(out["customerID"].iloc[2])
    assert out["tenure"].tolist() == ["-5", "12", "", "'+1+1"]
    assert out["rejection_reason"].tolist() == ["", "tenure: -1 is not allowed", "", "'=cmd"]
    assert out["mixed"].tolist()[:2] == [1, "'=x"] and out["mixed"].iloc[3] == 2.5
    assert out["risk_band"].iloc[2] == "'-low"
    # Numeric and boolean columns are the same objects' values and dtypes.
    for column in ("file_row", "delta", "churn_probability", "recommend_offer"):
        pd.testing.assert_series_equal(out[column], frame[column])
    assert frame["customerID"].iloc[0] == '=HYPERLINK("x")'  # the input is not modified


def test_ui_safe_csv_round_trip() -> None:
    data = safe_csv(_hostile())
    raw = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    for row in raw:
        for cell in row:
            if cell in ("-5", "-1", "-0.25") or not cell:
                continue
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
            assert not cell.lstrip().startswith(("=", "+", "-", "@")), cell
    # Text fields are quoted (a ';' never splits a cell); numbers are written bare.
    line = data.decode("utf-8").splitlines()[1]
    assert line.startswith('"\'=HYPERLINK(""x"")","-5",1,-5,0.5,True,')
    assert '"a;=1+1"' in data.decode("utf-8")

    back = pd.read_csv(io.BytesIO(data))
    assert back["delta"].tolist() == [-5, 3, 0, -1]  # numbers stay numbers, negatives too
    assert str(back["delta"].dtype) == "int64"
    assert back["churn_probability"].tolist()[2] == -0.25
    text = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    assert text["customerID"].tolist() == ['\'=HYPERLINK("x")', "7590-VHVEG", "", "' @SUM(1)"]
    assert text["tenure"].tolist() == ["-5", "12", "", "'+1+1"]
    assert text["file_row"].tolist() == ["1", "2", "3", "4"]
    assert text["recommend_offer"].tolist() == ["True", "", "False", "True"]
