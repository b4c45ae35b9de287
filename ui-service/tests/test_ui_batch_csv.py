"""The batch CSV file: parsing, column checks and rows as API records.

The unit tests use a small hand-written schema; the integration ones the live API's real one.
"""

from __future__ import annotations

import pytest

from churn_ui.api.models import ModelInfo
from churn_ui.batch_csv import (
    MIB,
    RESULT_COLUMNS,
    ROW_COLUMN,
    CsvError,
    check_columns,
    check_size,
    count_rows,
    read_csv,
    to_record,
)


def test_ui_read_csv_rejects_unusable_files() -> None:
    with pytest.raises(CsvError, match="empty"):
        read_csv(b"  \n")
    with pytest.raises(CsvError, match="no customer rows"):
        read_csv(b"customerID,tenure\n")
    with pytest.raises(CsvError, match="repeated columns: tenure"):
        read_csv(b"tenure,tenure\n1,2\n")
    with pytest.raises(CsvError, match="not UTF-8"):
        read_csv("tenure,gender\n1,Fémale\n".encode("utf-16"))


def test_ui_read_csv_keeps_text_as_is() -> None:
    frame = read_csv(b"\xef\xbb\xbfcustomerID , TotalCharges\n0042-AB, \n")
    assert list(frame.columns) == ["customerID", "TotalCharges"]
    assert frame.iloc[0].tolist() == ["0042-AB", " "]


def test_ui_check_size_names_the_limit_and_the_file_size() -> None:
    check_size(3 * MIB, 3)  # exactly at the limit: accepted
    with pytest.raises(CsvError, match=r"The file is 3\.1 MB; the limit is 3 MB per file\. Split"):
        check_size(3 * MIB + 1, 3)  # rounded up, never shown as equal to the limit
    with pytest.raises(CsvError, match=r"The file is 250\.0 MB; the limit is 10 MB"):
        check_size(250 * MIB, 10)


def test_ui_count_rows_counts_records_not_lines() -> None:
    assert count_rows(b"a,b\n1,2\n3,4\n") == 2
    assert count_rows(b"\xef\xbb\xbfa,b\r\n1,2\r\n\r\n3,4") == 2  # BOM, CRLF, blank line
    assert count_rows(b'a,b\n1,"two\nlines"\n3,4\n') == 2  # a quoted line break
    assert count_rows(b"a,b\r1,2\r3,4\r") == 2  # old Mac line ends
    assert count_rows(b"a,b\n") == 0
    with pytest.raises(CsvError, match="not UTF-8"):
        count_rows("a,b\n1,\u00e9\n".encode("utf-16"))


def test_ui_read_csv_refuses_more_rows_than_the_cap() -> None:
    header = b"customerID,tenure\n"
    rows = b"".join(f"C{i},{i}\n".encode() for i in range(4))
    assert len(read_csv(header + rows, max_rows=4)) == 4  # exactly at the cap
    with pytest.raises(CsvError) as refused:
        read_csv(header + rows, max_rows=3)
    assert refused.value.message == (
        "The file has 4 customer rows; the limit is 3 per file. Split it into files of at most "
        "3 rows and upload them one at a time."
    )
    # Many line breaks inside quoted cells are not rows: the file is within the cap.
    quoted = header + b'"A\n\n\n\n",1\n"B",2\n'
    assert read_csv(quoted, max_rows=2)["customerID"].tolist() == ["A\n\n\n\n", "B"]
    with pytest.raises(CsvError, match="has 4 customer rows; the limit is 3"):
        read_csv(header.replace(b"\n", b"\r") + rows.replace(b"\n", b"\r"), max_rows=3)
    assert len(read_csv(header + rows)) == 4  # no cap given: none applied


@pytest.mark.integration
def test_ui_check_columns_names_missing_and_unknown(
    live_info: ModelInfo, sample_rows: list[str]
) -> None:
    header = sample_rows[0].split(",")
    renamed = ["Contarct" if c == "Contract" else c for c in header if c != "tenure"]
    check = check_columns([*renamed, "Region"], live_info)
    assert not check.ok
    assert check.missing == ["tenure", "Contract"]
    assert check.suggestions == {"Contarct": "Contract"}
    problem = check.problem() or ""
    assert "missing these columns the model needs: Months as a customer (tenure), Contract" in (
        problem
    )
    assert "Contarct (did you mean Contract?)" in problem and "Region" in problem

    fine = check_columns([*header, "Region"], live_info)
    assert fine.ok and fine.problem() is None
    assert fine.extra == ["Region"]  # Churn is the label column: kept, not "unknown"
    assert "Region" in (fine.note() or "")


@pytest.mark.integration
def test_ui_to_record_parses_numbers_and_leaves_bad_text_to_the_api(live_info: ModelInfo) -> None:
    raw = {f.name: "" for f in live_info.fields}
    raw |= {"customerID": " 7 ", "tenure": "12", "SeniorCitizen": "1", "MonthlyCharges": "abc"}
    record = to_record(raw, live_info.fields, "customerID")
    assert record["customerID"] == "7"
    assert record["tenure"] == 12 and isinstance(record["tenure"], int)
    assert record["SeniorCitizen"] == 1
    assert record["MonthlyCharges"] == "abc"
    assert record["TotalCharges"] is None and record["Contract"] is None


def test_ui_check_columns_against_a_small_schema(small_info: ModelInfo) -> None:
    check = check_columns(["customerID", "Tenure", "MonthlyCharges", "Region"], small_info)
    assert check.missing == ["tenure", "SeniorCitizen", "Contract"]
    assert check.extra == ["Tenure", "Region"]
    assert check.suggestions == {"Tenure": "tenure"}  # same name in another case
    assert check.has_id
    assert "Tenure (did you mean tenure?)" in (check.problem() or "")
    assert check.note() is None  # nothing to note about a file that cannot be scored

    # A re-upload of a scored file: its result columns are neither missing nor unknown.
    names = [f.name for f in small_info.fields]
    again = check_columns([*names, *RESULT_COLUMNS, ROW_COLUMN, "Churn"], small_info)
    assert again.ok and again.extra == [] and again.note() is None and not again.has_id


def test_ui_to_record_types_follow_the_schema(small_info: ModelInfo) -> None:
    raw = {
        "customerID": "  ",
        "tenure": "12.0",
        "MonthlyCharges": "70",
        "SeniorCitizen": "0",
        "Contract": " One year ",
    }
    record = to_record(raw, small_info.fields, "customerID")
    assert "customerID" not in record  # a blank id is left out, not sent as ""
    assert record["tenure"] == 12 and isinstance(record["tenure"], int)
    assert record["MonthlyCharges"] == 70.0 and isinstance(record["MonthlyCharges"], float)
    assert record["SeniorCitizen"] == 0
    assert record["Contract"] == "One year"
    odd = to_record({"tenure": "2.5", "MonthlyCharges": "inf"}, small_info.fields, "customerID")
    assert odd["tenure"] == 2.5  # not a whole number: the API names the field
    assert odd["MonthlyCharges"] == "inf"  # never sent as a non-finite number
    assert odd["Contract"] is None and odd["SeniorCitizen"] is None
