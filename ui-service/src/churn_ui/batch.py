"""Batch scoring as plain functions: read a CSV, check its columns, score it in chunks.

The Streamlit page only wires these to widgets, so they are tested directly against the API.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from churn_ui.client import (
    ApiPayloadTooLargeError,
    BatchRow,
    ChurnApiClient,
    FieldError,
    FieldSpec,
    ModelInfo,
    Prediction,
    Scalar,
)
from churn_ui.wording import named, reason_text

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


@dataclass
class ScoredBatch:
    """The scored file: every input row and column plus the result columns."""

    frame: pd.DataFrame
    model_version: str
    threshold: float

    @property
    def scored(self) -> pd.DataFrame:
        """Accepted rows, highest churn probability first."""
        ok = self.frame[self.frame["scoring_status"] == "scored"]
        return ok.sort_values("risk_rank")

    @property
    def rejected(self) -> pd.DataFrame:
        """Rows the API refused, in file order, with the reasons."""
        return self.frame[self.frame["scoring_status"] == "rejected"]

    def to_csv(self) -> bytes:
        """The download: file order, every row (rejected ones marked), UTF-8."""
        return self.frame.to_csv(index=False).encode("utf-8")


def read_csv(data: bytes) -> pd.DataFrame:
    """Parse an uploaded file as text columns (nothing guessed, blanks kept as '')."""
    if not data.strip():
        raise CsvError("The file is empty.")
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


Progress = Callable[[int, int], None]


def score_frame(
    client: ChurnApiClient,
    frame: pd.DataFrame,
    info: ModelInfo,
    chunk_rows: int = 500,
    on_progress: Progress | None = None,
) -> ScoredBatch:
    """Score every row in chunks; return the input with result columns, rejected rows marked.

    Raises `CsvError` for wrong columns and `ApiError` when the API cannot score at all
    (down, 401, 503): a partial file would be a silent wrong answer.
    """
    check = check_columns(list(frame.columns), info)
    if not check.ok:
        raise CsvError(check.problem() or "Wrong columns.")
    id_field = info.input_schema.id_field
    base = frame.drop(columns=[c for c in RESULT_COLUMNS if c in frame.columns])
    base = base.drop(columns=[ROW_COLUMN], errors="ignore")
    records = [to_record(row, info.fields, id_field) for row in base.to_dict(orient="records")]
    total = len(records)
    outcomes: list[BatchRow] = []
    done = 0
    if on_progress:
        on_progress(0, total)
    for start in range(0, total, chunk_rows):
        chunk = records[start : start + chunk_rows]
        outcomes.extend(_score_chunk(client, chunk, start))
        done += len(chunk)
        if on_progress:
            on_progress(done, total)
    return ScoredBatch(
        _result_frame(base, outcomes, info),
        model_version=info.version,
        threshold=info.threshold.value,
    )


def _score_chunk(
    client: ChurnApiClient, chunk: list[dict[str, Scalar]], offset: int
) -> list[BatchRow]:
    """Score a chunk; when the API says it is too large, halve it (down to one row)."""
    try:
        result = client.predict_batch(chunk, explain=True)
    except ApiPayloadTooLargeError as exc:
        if len(chunk) == 1:
            error = FieldError(field="row", message=exc.message)
            return [BatchRow(row=offset, ok=False, errors=[error])]
        half = len(chunk) // 2
        return _score_chunk(client, chunk[:half], offset) + _score_chunk(
            client, chunk[half:], offset + half
        )
    rows = sorted(result.results, key=lambda r: r.row)
    if len(rows) != len(chunk):
        raise CsvError(
            f"The scoring service answered for {len(rows)} of {len(chunk)} rows; nothing was "
            "saved. Please try again."
        )
    return [r.model_copy(update={"row": offset + r.row}) for r in rows]


def top_reason(prediction: Prediction) -> str:
    """The strongest reason that raises the risk (else the strongest overall), in plain words."""
    reasons = prediction.reasons or []
    raising = [r for r in reasons if r.effect == "raises"]
    pick = (raising or reasons)[:1]
    return reason_text(pick[0]) if pick else ""


def _result_frame(base: pd.DataFrame, outcomes: list[BatchRow], info: ModelInfo) -> pd.DataFrame:
    out = base.reset_index(drop=True).copy()
    out.insert(0, ROW_COLUMN, range(1, len(out) + 1))
    probability: list[float | None] = []
    band: list[str | None] = []
    offer: list[bool | None] = []
    value: list[float | None] = []
    reason: list[str] = []
    imputed: list[str] = []
    status: list[str] = []
    rejection: list[str] = []
    for outcome in outcomes:
        p = outcome.prediction
        if outcome.ok and p is not None:
            probability.append(round(p.churn_probability, 4))
            band.append(p.risk_band)
            offer.append(p.churn)
            value.append(round(p.expected_value, 2))
            reason.append(top_reason(p))
            imputed.append(", ".join(p.imputed_fields))
            status.append("scored")
            rejection.append("")
        else:
            probability.append(None)
            band.append(None)
            offer.append(None)
            value.append(None)
            reason.append("")
            imputed.append("")
            status.append("rejected")
            problems = [f"{named(e.field)}: {e.message}" for e in outcome.errors or []]
            rejection.append("; ".join(problems) or "rejected without a reason")
    out["churn_probability"] = pd.Series(probability, dtype="Float64")
    out["risk_band"] = band
    out["recommend_offer"] = pd.Series(offer, dtype="boolean")
    out["expected_value"] = pd.Series(value, dtype="Float64")
    out["top_reason"] = reason
    out["imputed_fields"] = imputed
    out["scoring_status"] = status
    out["rejection_reason"] = rejection
    ranks = out["churn_probability"].rank(ascending=False, method="first")
    out["risk_rank"] = ranks.astype("Int64")
    return out


def ranked_view(
    batch: ScoredBatch,
    bands: Sequence[str] | None = None,
    min_probability: float = 0.0,
    contracts: Sequence[str] | None = None,
    offers_only: bool = False,
) -> pd.DataFrame:
    """The at-risk table after the page's filters, highest probability first."""
    view = batch.scored
    if bands:
        view = view[view["risk_band"].isin(list(bands))]
    if min_probability > 0:
        view = view[view["churn_probability"] >= min_probability]
    if contracts and "Contract" in view.columns:
        view = view[view["Contract"].isin(list(contracts))]
    if offers_only:
        view = view[view["recommend_offer"].fillna(False)]
    return view
