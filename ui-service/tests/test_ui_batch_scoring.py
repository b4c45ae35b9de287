"""Batch scoring in chunks: ranks, extras kept, rejected rows marked, 413 answers split.

The unit tests score through a fake transport; the integration ones against the live API.
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
import requests
from ui_fakes import MODEL_REF, Answer, FakeTransport, fake_batch_api

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.errors import ApiInvalidInputError, ApiNotReadyError
from churn_ui.api.models import ModelInfo
from churn_ui.api.tokens import TokenSource
from churn_ui.batch_csv import CsvError, read_csv, to_record
from churn_ui.batch_scoring import ranked_view, score_frame, top_reason

SECRET = "ui-tests-secret-0123456789abcdef0123456789"  # same as conftest.SECRET


def _csv(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_ui_score_frame_through_afake_batch_api(
    fake_client: ChurnApiClient, transport: FakeTransport, small_info: ModelInfo
) -> None:
    transport.handler = fake_batch_api
    frame = read_csv(
        _csv(
            [
                "customerID,tenure,MonthlyCharges,SeniorCitizen,Contract,Region,churn_probability",
                "A,4,70,0,One year,north,0.99",
                "B,-1,70,0,One year,north,",
                "C,0,,1,Two year,south,",
                "D,1,20,0,Month-to-month,east,",
                "E,x,20,0,Month-to-month,east,",
            ]
        )
    )
    seen: list[tuple[int, int]] = []

    result = score_frame(
        fake_client, frame, small_info, chunk_rows=4, on_progress=lambda d, t: seen.append((d, t))
    )

    # The first chunk of four is too large for this API: it is halved, then the fifth row.
    sizes = [len(json.loads(r.body or b"{}")["customers"]) for r in transport.sent]
    assert sizes == [4, 2, 2, 1]
    assert seen == [(0, 5), (4, 5), (5, 5)]
    out = result.frame
    assert out["file_row"].tolist() == [1, 2, 3, 4, 5]
    assert out["customerID"].tolist() == ["A", "B", "C", "D", "E"]  # file order kept
    assert out["Region"].tolist() == ["north", "north", "south", "east", "east"]
    assert list(out.columns).count("churn_probability") == 1  # replaced, not duplicated
    assert result.scored["customerID"].tolist() == ["C", "D", "A"]  # highest risk first
    assert result.scored["risk_rank"].tolist() == [1, 2, 3]
    assert result.scored["imputed_fields"].tolist() == ["MonthlyCharges", "", ""]
    c = result.scored.iloc[0]
    assert (c["churn_probability"], c["risk_band"], bool(c["recommend_offer"])) == (
        1.0,
        "high",
        True,
    )
    assert c["top_reason"] == "Months as a customer: 0 months raises the risk"
    rejected = result.rejected
    assert rejected["customerID"].tolist() == ["B", "E"]
    assert (
        rejected["rejection_reason"].tolist()
        == ["Months as a customer (tenure): must be a whole number >= 0"] * 2
    )
    assert (result.model_version, result.threshold) == ("7", 0.4)
    download = pd.read_csv(io.BytesIO(result.to_csv()), dtype=str, keep_default_na=False)
    assert download["scoring_status"].tolist() == [
        "scored",
        "rejected",
        "scored",
        "scored",
        "rejected",
    ]
    assert ranked_view(result, bands=["low"])["customerID"].tolist() == ["D", "A"]
    assert ranked_view(result, offers_only=True)["customerID"].tolist() == ["C", "D"]


def test_ui_score_frame_refuses_an_answer_with_rows_missing(
    fake_client: ChurnApiClient, transport: FakeTransport, small_info: ModelInfo
) -> None:
    def short(request: requests.PreparedRequest) -> Answer:
        status, body = fake_batch_api(request)  # type: ignore[misc]
        body["results"] = body["results"][:1]
        return (status, body)

    transport.handler = short
    rows = ["tenure,MonthlyCharges,SeniorCitizen,Contract", "1,2,0,One year", "2,3,0,Two year"]
    frame = read_csv(_csv(rows))
    with pytest.raises(CsvError, match="answered for 1 of 2 rows; nothing was saved"):
        score_frame(fake_client, frame, small_info)


def _rows(count: int) -> pd.DataFrame:
    lines = ["customerID,tenure,MonthlyCharges,SeniorCitizen,Contract"]
    lines += [f"C{i},{i},20,0,One year" for i in range(1, count + 1)]
    return read_csv(_csv(lines))


def test_ui_score_frame_keeps_scored_rows_when_the_api_fails_part_way(
    fake_client: ChurnApiClient, transport: FakeTransport, small_info: ModelInfo
) -> None:
    calls: list[int] = []

    def dies_on_the_third_call(request: requests.PreparedRequest) -> Answer:
        calls.append(1)
        if len(calls) >= 3:
            return (503, {"detail": "no model loaded"})
        return fake_batch_api(request)

    transport.handler = dies_on_the_third_call
    seen: list[tuple[int, int]] = []
    result = score_frame(
        fake_client,
        _rows(6),
        small_info,
        chunk_rows=2,
        on_progress=lambda d, t: seen.append((d, t)),
    )

    assert seen == [(0, 6), (2, 6), (4, 6)]  # the bar stops where scoring stopped
    out = result.frame
    assert out["scoring_status"].tolist() == ["scored"] * 4 + ["not scored"] * 2
    assert out["churn_probability"].notna().tolist() == [True] * 4 + [False] * 2
    assert result.unscored["file_row"].tolist() == [5, 6]
    assert len(result.scored) == 4 and result.rejected.empty
    assert result.failure is not None
    assert result.failure.startswith("Scoring stopped at file row 5 of 6: The scoring service")
    assert "Rows 5 to 6 were not scored and are marked 'not scored'" in result.failure
    assert "the 4 rows before them are scored and kept" in result.failure
    assert result.unscored["rejection_reason"].str.contains("no model loaded yet").all()
    download = pd.read_csv(io.BytesIO(result.to_csv()), dtype=str, keep_default_na=False)
    assert download["customerID"].tolist() == ["C1", "C2", "C3", "C4", "C5", "C6"]
    assert download["scoring_status"].tolist()[4:] == ["not scored", "not scored"]


def test_ui_score_frame_raises_when_the_first_chunk_fails(
    fake_client: ChurnApiClient, transport: FakeTransport, small_info: ModelInfo
) -> None:
    transport.answers = [(503, {"detail": "no model loaded"})]
    with pytest.raises(ApiNotReadyError):
        score_frame(fake_client, _rows(3), small_info)


def test_ui_score_frame_keeps_a_half_scored_chunk(
    fake_client: ChurnApiClient, transport: FakeTransport, small_info: ModelInfo
) -> None:
    # 413 for four rows, the first half scores, the second half meets a dead service.
    def answer(request: requests.PreparedRequest) -> Answer:
        step = len(transport.sent)
        if step == 1:
            return (413, {"detail": "Request body too large"})
        if step == 2:
            return fake_batch_api(request)
        return requests.ConnectionError("refused")

    transport.handler = answer
    result = score_frame(fake_client, _rows(4), small_info, chunk_rows=4)
    assert result.frame["scoring_status"].tolist() == ["scored"] * 2 + ["not scored"] * 2
    assert "file row 3 of 4" in (result.failure or "")
    assert "cannot be reached" in (result.failure or "")


def test_ui_score_frame_shrinks_chunks_to_the_apis_row_limit(
    fake_client: ChurnApiClient, transport: FakeTransport, small_info: ModelInfo
) -> None:
    def at_most_two_rows(request: requests.PreparedRequest) -> Answer:
        customers = json.loads(request.body or b"{}")["customers"]
        if len(customers) > 2:
            message = f"List should have between 1 and 2 items, not {len(customers)}"
            return (422, {"detail": [{"field": "customers", "message": message}]})
        return fake_batch_api(request)

    transport.handler = at_most_two_rows
    result = score_frame(fake_client, _rows(7), small_info, chunk_rows=4)

    sizes = [len(json.loads(r.body or b"{}")["customers"]) for r in transport.sent]
    assert sizes == [4, 2, 2, 2, 1]  # halved once, then the smaller size is kept
    assert len(result.scored) == 7 and result.failure is None


def test_ui_score_frame_stops_on_a_422_about_the_rows(
    fake_client: ChurnApiClient, transport: FakeTransport, small_info: ModelInfo
) -> None:
    error = {"field": "customers.0.tenure", "message": "bad"}
    transport.answers = [(422, {"detail": [error]})]
    with pytest.raises(ApiInvalidInputError):
        score_frame(fake_client, _rows(2), small_info)
    assert len(transport.sent) == 1  # not mistaken for a too-large batch


def test_ui_download_of_a_hostile_file_is_neutralised(
    fake_client: ChurnApiClient, transport: FakeTransport, small_info: ModelInfo
) -> None:
    transport.handler = fake_batch_api
    frame = read_csv(
        _csv(
            [
                "customerID,tenure,MonthlyCharges,SeniorCitizen,Contract,@Note",
                '"=HYPERLINK(""http://evil.example"",""x"")",3,20,0,One year,+1+1',
                "@SUM(1),-5,20,0,One year,  =1+1",
            ]
        )
    )
    result = score_frame(fake_client, frame, small_info)
    download = pd.read_csv(io.BytesIO(result.to_csv()), dtype=str, keep_default_na=False)
    assert download["customerID"].tolist() == [
        '\'=HYPERLINK("http://evil.example","x")',
        "'@SUM(1)",
    ]
    assert download["'@Note"].tolist() == ["'+1+1", "'  =1+1"]
    assert download["tenure"].tolist() == ["3", "-5"]  # a negative number stays a number
    assert download["scoring_status"].tolist() == ["scored", "rejected"]
    typed = pd.read_csv(io.BytesIO(result.to_csv()))
    assert typed["file_row"].tolist() == [1, 2] and str(typed["file_row"].dtype) == "int64"
    assert typed["churn_probability"].iloc[0] == 0.25
    assert result.frame["customerID"].iloc[1] == "@SUM(1)"  # the page still shows the data


def test_ui_top_reason_prefers_what_raises_the_risk() -> None:
    from churn_ui.api.models import Prediction

    base = {"churn_probability": 0.5, "churn": True, "threshold": 0.4, "risk_band": "medium",
            "expected_value": 1.0, "model": MODEL_REF}  # fmt: skip
    lowers = {"field": "Contract", "value": "Two year", "contribution": -1, "effect": "lowers"}
    raises = {"field": "tenure", "value": 1, "contribution": 0.1, "effect": "raises"}
    assert top_reason(Prediction.model_validate({**base, "reasons": [lowers, raises]})) == (
        "Months as a customer: 1 month raises the risk"
    )
    assert top_reason(Prediction.model_validate({**base, "reasons": [lowers]})) == (
        "Contract: Two year lowers the risk"
    )
    assert top_reason(Prediction.model_validate(base)) == ""


@pytest.mark.integration
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


@pytest.mark.integration
def test_ui_score_frame_refuses_wrong_columns(
    api: ChurnApiClient, live_info: ModelInfo, sample_rows: list[str]
) -> None:
    frame = read_csv(_csv([line.replace("Contract", "Contarct") for line in sample_rows[:3]]))
    with pytest.raises(CsvError, match="Contarct \\(did you mean Contract\\?\\)"):
        score_frame(api, frame, live_info)


@pytest.mark.integration
def test_ui_score_frame_splits_chunks_the_api_finds_too_large(
    secured_api: str, sample_rows: list[str]
) -> None:
    client = ChurnApiClient(secured_api, TokenSource(secret=SECRET), timeout=60)
    info = client.model_info()
    frame = read_csv(_csv(sample_rows[:41]))
    # 40 rows in one call exceed the secured API's 4 KiB body limit: halves are sent instead.
    result = score_frame(client, frame, info, chunk_rows=40)
    assert len(result.scored) == 40 and result.rejected.empty
