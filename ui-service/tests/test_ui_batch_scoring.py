"""Batch scoring in chunks: ranks, extras kept, rejected rows marked, 413 answers split.

The unit tests score through a fake transport; the integration ones against the live API.
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
import requests
from ui_fakes import Answer, FakeTransport

from churn_ui.api.client import ChurnApiClient
from churn_ui.api.models import ModelInfo
from churn_ui.api.tokens import TokenSource
from churn_ui.batch_csv import CsvError, read_csv, to_record
from churn_ui.batch_scoring import ranked_view, score_frame, top_reason

SECRET = "ui-tests-secret-0123456789abcdef0123456789"  # same as conftest.SECRET


def _csv(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


MODEL_REF = {"name": "telco-churn", "version": "7"}


def _fake_api(request: requests.PreparedRequest) -> Answer:
    """`/predict/batch` of a small API: 413 over two customers, tenure must be >= 0."""
    assert request.body is not None
    customers = json.loads(request.body)["customers"]
    if len(customers) > 2:
        return (413, {"detail": "Request body too large"})
    results = []
    for row, customer in enumerate(customers):
        tenure = customer["tenure"]
        if not isinstance(tenure, int) or tenure < 0:
            error = {"field": "tenure", "message": "must be a whole number >= 0"}
            results.append({"row": row, "ok": False, "errors": [error]})
            continue
        probability = round(1 / (1 + tenure), 4)
        reasons = [
            {"field": "Contract", "value": customer["Contract"], "contribution": -0.2,
             "effect": "lowers"},
            {"field": "tenure", "value": tenure, "contribution": 0.5, "effect": "raises"},
        ]  # fmt: skip
        prediction = {
            "customerID": customer.get("customerID"),
            "churn_probability": probability,
            "churn": probability >= 0.4,
            "threshold": 0.4,
            "risk_band": "high" if probability >= 0.6 else "low",
            "expected_value": round(10 * probability, 2),
            "imputed_fields": ["MonthlyCharges"] if customer["MonthlyCharges"] is None else [],
            "model": MODEL_REF,
            "reasons": reasons,
        }
        results.append({"row": row, "ok": True, "prediction": prediction})
    failed = sum(not r["ok"] for r in results)
    body = {"model": MODEL_REF, "count": len(results), "succeeded": len(results) - failed,
            "failed": failed, "results": results}  # fmt: skip
    return (200, body)


def test_ui_score_frame_through_a_fake_api(
    fake_client: ChurnApiClient, transport: FakeTransport, small_info: ModelInfo
) -> None:
    transport.handler = _fake_api
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
        status, body = _fake_api(request)  # type: ignore[misc]
        body["results"] = body["results"][:1]
        return (status, body)

    transport.handler = short
    rows = ["tenure,MonthlyCharges,SeniorCitizen,Contract", "1,2,0,One year", "2,3,0,Two year"]
    frame = read_csv(_csv(rows))
    with pytest.raises(CsvError, match="answered for 1 of 2 rows; nothing was saved"):
        score_frame(fake_client, frame, small_info)


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
