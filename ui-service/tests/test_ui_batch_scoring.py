"""Batch scoring in chunks against the live API: ranks, extras kept, rejected rows, 413 splits."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.models import ModelInfo
from churn_ui.api.tokens import TokenSource
from churn_ui.batch_csv import CsvError, read_csv, to_record
from churn_ui.batch_scoring import ranked_view, score_frame

pytestmark = pytest.mark.integration

SECRET = "ui-tests-secret-0123456789abcdef0123456789"  # same as conftest.SECRET


def _csv(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_ui_score_frame_ranks_keeps_extras_and_marks_rejected(
    api: ChurnApiClient, live_info: ModelInfo, sample_rows: list[str]
) -> None:
    header = sample_rows[0] + ",Region"
    rows = [line + ",north" for line in sample_rows[1:21]]
    tenure_col = sample_rows[0].split(",").index("tenure")
    contract_col = sample_rows[0].split(",").index("Contract")
    bad_tenure = rows[3].split(",")
    bad_tenure[tenure_col] = "-5"
    rows[3] = ",".join(bad_tenure)
    bad_contract = rows[7].split(",")
    bad_contract[contract_col] = "Weekly"
    rows[7] = ",".join(bad_contract)
    frame = read_csv(_csv([header, *rows]))
    seen: list[tuple[int, int]] = []

    result = score_frame(
        api, frame, live_info, chunk_rows=6, on_progress=lambda d, t: seen.append((d, t))
    )

    assert seen == [(0, 20), (6, 20), (12, 20), (18, 20), (20, 20)]
    out = result.frame
    assert len(out) == 20 and out["Region"].eq("north").all() and "Churn" in out.columns
    assert out["customerID"].tolist() == frame["customerID"].tolist()  # file order kept
    rejected = result.rejected
    assert rejected["file_row"].tolist() == [4, 8]
    assert "Months as a customer (tenure)" in rejected.iloc[0]["rejection_reason"]
    assert "Contract" in rejected.iloc[1]["rejection_reason"]
    assert rejected["churn_probability"].isna().all()

    scored = result.scored
    assert len(scored) == 18
    probabilities = scored["churn_probability"].tolist()
    assert probabilities == sorted(probabilities, reverse=True)
    assert scored["risk_rank"].tolist() == list(range(1, 19))
    assert scored["top_reason"].str.contains("the risk").all()
    # Each probability is what the API says for that customer alone.
    first = frame[frame["customerID"] == scored.iloc[0]["customerID"]].iloc[0].to_dict()
    alone = api.predict(to_record(first, live_info.fields, "customerID"), explain=False)
    assert scored.iloc[0]["churn_probability"] == pytest.approx(alone.churn_probability, abs=1e-4)
    assert scored["recommend_offer"].tolist() == [
        p >= live_info.threshold.value for p in probabilities
    ]

    download = pd.read_csv(io.BytesIO(result.to_csv()), dtype=str, keep_default_na=False)
    assert len(download) == 20
    assert download["scoring_status"].value_counts().to_dict() == {"scored": 18, "rejected": 2}
    assert set(download.columns) >= {"Region", "rejection_reason", "churn_probability"}

    high = ranked_view(result, bands=["high"])
    assert set(high["risk_band"]) <= {"high"}
    assert len(ranked_view(result, min_probability=0.5)) == sum(p >= 0.5 for p in probabilities)
    offers = ranked_view(result, offers_only=True)
    assert offers["recommend_offer"].all()


def test_ui_score_frame_refuses_wrong_columns(
    api: ChurnApiClient, live_info: ModelInfo, sample_rows: list[str]
) -> None:
    frame = read_csv(_csv([line.replace("Contract", "Contarct") for line in sample_rows[:3]]))
    with pytest.raises(CsvError, match="Contarct \\(did you mean Contract\\?\\)"):
        score_frame(api, frame, live_info)


def test_ui_score_frame_splits_chunks_the_api_finds_too_large(
    secured_api: str, sample_rows: list[str]
) -> None:
    client = ChurnApiClient(secured_api, TokenSource(secret=SECRET), timeout=60)
    info = client.model_info()
    frame = read_csv(_csv(sample_rows[:41]))
    # 40 rows in one call exceed the secured API's 4 KiB body limit: halves are sent instead.
    result = score_frame(client, frame, info, chunk_rows=40)
    assert len(result.scored) == 40 and result.rejected.empty
