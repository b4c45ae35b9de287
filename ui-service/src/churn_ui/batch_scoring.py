"""Batch scoring: score a checked CSV frame in chunks and build the scored file from it.

Plain functions (no Streamlit): the batch page only wires them to widgets, so they are tested
directly against the API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import pandas as pd

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.errors import ApiError, ApiInvalidInputError, ApiPayloadTooLargeError
from churn_ui.api.models import BatchRow, FieldError, ModelInfo, Prediction, Scalar
from churn_ui.batch_csv import RESULT_COLUMNS, ROW_COLUMN, CsvError, check_columns, to_record
from churn_ui.csv_safety import safe_csv
from churn_ui.wording import named, reason_text

NOT_SCORED = "not scored"


@dataclass
class ScoredBatch:
    """The scored file: every input row and column plus the result columns.

    `failure` says why scoring stopped early; the rows from there on are marked 'not scored'.
    """

    frame: pd.DataFrame
    model_version: str
    threshold: float
    failure: str | None = None

    @property
    def scored(self) -> pd.DataFrame:
        """Accepted rows, highest churn probability first."""
        ok = self.frame[self.frame["scoring_status"] == "scored"]
        return ok.sort_values("risk_rank")

    @property
    def rejected(self) -> pd.DataFrame:
        """Rows the API refused, in file order, with the reasons."""
        return self.frame[self.frame["scoring_status"] == "rejected"]

    @property
    def unscored(self) -> pd.DataFrame:
        """Rows never scored because the service failed part-way, in file order."""
        return self.frame[self.frame["scoring_status"] == NOT_SCORED]

    @cached_property
    def download(self) -> bytes:
        """The download, built once: the page offers it again on every rerun."""
        return safe_csv(self.frame)

    def to_csv(self) -> bytes:
        """The download: file order, every row (rejected ones marked), safe for a spreadsheet."""
        return self.download


class _Row(NamedTuple):
    """The result columns of one row."""

    probability: float | None
    band: str | None
    offer: bool | None
    value: float | None
    reason: str
    imputed: str
    status: str
    rejection: str


Progress = Callable[[int, int], None]


def score_frame(
    client: ChurnApiClient,
    frame: pd.DataFrame,
    info: ModelInfo,
    chunk_rows: int = 500,
    on_progress: Progress | None = None,
) -> ScoredBatch:
    """Score every row in chunks; return the input with result columns, rejected rows marked.

    Raises `CsvError` for wrong columns and `ApiError` when the API cannot score the first
    chunk (down, 401, 503). When it fails later, the rows scored so far are kept, the rest are
    marked 'not scored' and `failure` names them: nothing already scored is thrown away.
    """
    check = check_columns(list(frame.columns), info)
    if not check.ok:
        raise CsvError(check.problem() or "Wrong columns.")
    id_field = info.input_schema.id_field
    base = frame.drop(columns=[c for c in RESULT_COLUMNS if c in frame.columns])
    base = base.drop(columns=[ROW_COLUMN], errors="ignore").reset_index(drop=True)
    total = len(base)
    scorer = _ChunkScorer(client, chunk_rows)
    failure: str | None = None
    cause = ""
    if on_progress:
        on_progress(0, total)
    while (done := len(scorer.rows)) < total:
        # Records are built a chunk at a time: a whole file of dicts would double the memory.
        part = base.iloc[done : done + scorer.size].to_dict(orient="records")
        chunk = [to_record(row, info.fields, id_field) for row in part]
        try:
            scorer.score(chunk, done)
        except (ApiError, CsvError) as exc:
            failure, cause = _stopped(exc, len(scorer.rows), total), exc.message
            break
        if on_progress:
            on_progress(len(scorer.rows), total)
    return ScoredBatch(
        _result_frame(base, scorer.rows, total, cause),
        model_version=info.version,
        threshold=info.threshold.value,
        failure=failure,
    )


def _stopped(exc: ApiError | CsvError, done: int, total: int) -> str:
    """What to tell the user when a chunk fails; re-raise when nothing was scored at all."""
    if done == 0:
        if isinstance(exc, CsvError):
            raise CsvError(f"{exc.message}; nothing was saved. Please try again.") from exc
        raise exc
    return (
        f"Scoring stopped at file row {done + 1:,} of {total:,}: {exc.message} "
        f"Rows {done + 1:,} to {total:,} were not scored and are marked '{NOT_SCORED}' in "
        f"the download; the {done:,} rows before them are scored and kept."
    )


class _ChunkScorer:
    """Scores chunks, halving one the API finds too large and keeping the smaller size after."""

    def __init__(self, client: ChurnApiClient, size: int) -> None:
        self.client = client
        self.size = size
        self.rows: list[_Row] = []

    def score(self, chunk: list[dict[str, Scalar]], offset: int) -> None:
        """Score `chunk` (file rows from `offset`) and append its results in file order."""
        try:
            result = self.client.predict_batch(chunk, explain=True)
        except (ApiPayloadTooLargeError, ApiInvalidInputError) as exc:
            if isinstance(exc, ApiInvalidInputError) and not _too_many_rows(exc):
                raise
            if len(chunk) == 1:
                error = FieldError(field="row", message=exc.message)
                self.rows.append(_row(BatchRow(row=offset, ok=False, errors=[error])))
                return
            half = len(chunk) // 2
            self.size = min(self.size, half)
            self.score(chunk[:half], offset)
            self.score(chunk[half:], offset + half)
            return
        answers = sorted(result.results, key=lambda r: r.row)
        expected = range(len(chunk))
        if [r.row for r in answers] != list(expected):
            answered = len({r.row for r in answers}.intersection(expected))
            raise CsvError(f"The scoring service answered for {answered} of {len(chunk)} rows")
        self.rows.extend(_row(r) for r in answers)


def _too_many_rows(exc: ApiInvalidInputError) -> bool:
    """A 422 on the batch envelope itself: more rows than the API's MAX_BATCH_ROWS."""
    return bool(exc.errors) and all(e.field == "customers" for e in exc.errors)


def top_reason(prediction: Prediction) -> str:
    """The strongest reason that raises the risk (else the strongest overall), in plain words."""
    reasons = prediction.reasons or []
    raising = [r for r in reasons if r.effect == "raises"]
    pick = (raising or reasons)[:1]
    return reason_text(pick[0]) if pick else ""


def _row(outcome: BatchRow) -> _Row:
    p = outcome.prediction
    if outcome.ok and p is not None:
        return _Row(
            round(p.churn_probability, 4),
            p.risk_band,
            p.churn,
            round(p.expected_value, 2),
            top_reason(p),
            ", ".join(p.imputed_fields),
            "scored",
            "",
        )
    problems = [f"{named(e.field)}: {e.message}" for e in outcome.errors or []]
    rejection = "; ".join(problems) or "rejected without a reason"
    return _Row(None, None, None, None, "", "", "rejected", rejection)


def _result_frame(base: pd.DataFrame, rows: list[_Row], total: int, cause: str) -> pd.DataFrame:
    missing = total - len(rows)
    if missing:
        reason = f"not scored: the scoring service failed part-way ({cause})"
        rows = rows + [_Row(None, None, None, None, "", "", NOT_SCORED, reason)] * missing
    out = base.copy()
    out.insert(0, ROW_COLUMN, range(1, len(out) + 1))
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(_Row._fields)
    results = dict(zip(_Row._fields, columns, strict=True))
    out["churn_probability"] = pd.Series(results["probability"], dtype="Float64")
    out["risk_band"] = list(results["band"])
    out["recommend_offer"] = pd.Series(results["offer"], dtype="boolean")
    out["expected_value"] = pd.Series(results["value"], dtype="Float64")
    out["top_reason"] = list(results["reason"])
    out["imputed_fields"] = list(results["imputed"])
    out["scoring_status"] = list(results["status"])
    out["rejection_reason"] = list(results["rejection"])
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
