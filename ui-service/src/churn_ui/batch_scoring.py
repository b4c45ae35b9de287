"""Batch scoring: score a checked CSV frame in chunks and build the scored file from it.

Plain functions (no Streamlit): the batch page only wires them to widgets, so they are tested
directly against the API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.errors import ApiPayloadTooLargeError
from churn_ui.api.models import BatchRow, FieldError, ModelInfo, Prediction, Scalar
from churn_ui.batch_csv import RESULT_COLUMNS, ROW_COLUMN, CsvError, check_columns, to_record
from churn_ui.wording import named, reason_text


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
