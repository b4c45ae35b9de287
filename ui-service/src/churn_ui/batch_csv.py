"""The batch CSV file: read it as text, check its columns against the model, turn rows into
API customer records, and the columns the UI adds to the scored file."""

from __future__ import annotations

import csv
import difflib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from churn_ui.api.models import FieldSpec, ModelInfo, Scalar
from churn_ui.wording import named

# Columns the UI adds to the scored file. An uploaded file that already has them (a re-upload
# of an earlier result) gets them replaced, never duplicated.
RESULT_COLUMNS = (
    "risk_rank",
    "churn_probability",
    "risk_band",
    "recommend_offer",
    "expected_value",
    "top_reason",
    "imputed_fields",
    "scoring_status",
    "rejection_reason",
)
ROW_COLUMN = "file_row"
# Label columns of the training data: kept in the download, never sent to the API.
LABEL_COLUMNS = frozenset({"Churn"})


class CsvError(ValueError):
    """The file cannot be scored as a whole; `message` says why in plain words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ColumnCheck:
    """How the file's columns line up with the model's fields."""

    missing: list[str]
    extra: list[str]
    suggestions: dict[str, str] = field(default_factory=dict)
    has_id: bool = True

    @property
    def ok(self) -> bool:
        """Every field the model needs is present."""
        return not self.missing

    def problem(self) -> str | None:
        """The message for a file that cannot be scored, naming what is missing and unknown."""
        if self.ok:
            return None
        parts = [
            "The file is missing "
            + ("this column" if len(self.missing) == 1 else "these columns")
            + " the model needs: "
            + ", ".join(named(m) for m in self.missing)
            + "."
        ]
        if self.extra:
            unknown = []
            for name in self.extra:
                hint = self.suggestions.get(name)
                unknown.append(f"{name} (did you mean {hint}?)" if hint else name)
            parts.append("Columns the model does not know: " + ", ".join(unknown) + ".")
        parts.append("Rename or add the columns and upload the file again.")
        return " ".join(parts)

    def note(self) -> str | None:
        """Information for a file that can be scored but carries extra columns."""
        if not self.extra or not self.ok:
            return None
        return (
            "Kept as they are and not used for scoring: "
            + ", ".join(self.extra)
            + ". They are in the download."
        )


MIB = 1024 * 1024  # Streamlit's server.maxUploadSize "megabytes" are MiB


def check_size(size: int, max_mb: int) -> None:
    """Refuse a file larger than `max_mb` MiB, naming both sizes."""
    if size > max_mb * MIB:
        raise CsvError(
            # Rounded up, so a file just over the limit never reads as equal to it.
            f"The file is {math.ceil(size * 10 / MIB) / 10:,.1f} MB; the limit is {max_mb:,} MB "
            "per file. Split it into smaller files and upload them one at a time."
        )


def count_rows(data: bytes) -> int:
    """Customer rows after the header (blank lines skipped, quoted line breaks counted once)."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    try:
        return max(sum(1 for record in csv.reader(text) if record) - 1, 0)
    except UnicodeDecodeError:
        raise CsvError("The file is not UTF-8 text; save it as CSV (UTF-8) and retry.") from None
    except csv.Error as exc:
        raise CsvError(f"The file could not be read as CSV: {exc}") from None


def check_rows(rows: int, max_rows: int) -> None:
    """Refuse a file with more customer rows than `max_rows`: nothing is silently dropped."""
    if rows > max_rows:
        raise CsvError(
            f"The file has {rows:,} customer rows; the limit is {max_rows:,} per file. "
            f"Split it into files of at most {max_rows:,} rows and upload them one at a time."
        )


def read_csv(data: bytes, max_rows: int | None = None) -> pd.DataFrame:
    """Parse an uploaded file as text columns (nothing guessed, blanks kept as '').

    With `max_rows`, the rows are counted before any table is built and a longer file is
    refused as a whole.
    """
    if not data.strip():
        raise CsvError("The file is empty.")
    # A row ends at a line break (\n, \r\n or \r): only a file with more breaks than the
    # limit can have too many rows, so only such a file is counted (no table is built for it).
    if max_rows is not None and max(data.count(b"\n"), data.count(b"\r")) > max_rows:
        check_rows(count_rows(data), max_rows)
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            skipinitialspace=False,
        )
    except UnicodeDecodeError:
        raise CsvError("The file is not UTF-8 text; save it as CSV (UTF-8) and retry.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CsvError(f"The file could not be read as CSV: {exc}") from None
    # pandas renames a repeated header ("tenure.1"), so look at the header line itself.
    header = next(csv.reader(io.StringIO(data.decode("utf-8-sig").splitlines()[0])), [])
    names = [c.strip() for c in header]
    duplicated = sorted({c for c in names if names.count(c) > 1})
    if duplicated:
        raise CsvError("The file has repeated columns: " + ", ".join(duplicated) + ".")
    if len(names) != len(frame.columns) or not isinstance(frame.index, pd.RangeIndex):
        raise CsvError("The rows have more values than the header has columns.")
    frame.columns = names
    if frame.empty:
        raise CsvError("The file has a header but no customer rows.")
    if max_rows is not None:
        check_rows(len(frame), max_rows)
    return frame


def check_columns(columns: Sequence[str], info: ModelInfo) -> ColumnCheck:
    """Compare the file's columns with the model's input fields."""
    names = [f.name for f in info.fields]
    id_field = info.input_schema.id_field
    present = set(columns)
    missing = [n for n in names if n not in present]
    known = {*names, id_field, *LABEL_COLUMNS, *RESULT_COLUMNS, ROW_COLUMN}
    extra = [c for c in columns if c not in known]
    suggestions: dict[str, str] = {}
    by_lower = {m.lower(): m for m in missing}
    for name in extra:
        close = by_lower.get(name.lower()) or next(
            iter(difflib.get_close_matches(name, missing, n=1, cutoff=0.75)), None
        )
        if close:
            suggestions[name] = close
    return ColumnCheck(missing, extra, suggestions, id_field in present)


def to_record(raw: dict[str, str], fields: Sequence[FieldSpec], id_field: str) -> dict[str, Scalar]:
    """One CSV row as an API customer: numbers parsed, blanks as null (the API imputes them).

    Text that is not a number is sent as it is, so the API rejects the row naming the field
    rather than the UI guessing.
    """
    record: dict[str, Scalar] = {}
    if id_field in raw and raw[id_field].strip():
        record[id_field] = raw[id_field].strip()
    for spec in fields:
        text = raw.get(spec.name, "").strip()
        if not text:
            record[spec.name] = None
            continue
        numeric = spec.kind == "numeric" or (
            spec.categories is not None and all(isinstance(c, int) for c in spec.categories)
        )
        record[spec.name] = _number(text, spec.dtype) if numeric else text
    return record


def _number(text: str, dtype: str) -> Scalar:
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    if dtype == "integer" and value.is_integer():
        return int(value)
    return value
