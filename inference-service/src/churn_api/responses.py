"""Response bodies: the one builder of predictions and batch answers, and their static models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from churn_api.bundle import ModelMeta
from churn_api.contract import FeatureContract
from churn_api.redact import redact

SORTS = ("none", "risk", "expected_value")


class PredictionBuilder:
    """Prediction bodies (`Prediction` below) from scores, with the contract's decision rules."""

    def __init__(self, contract: FeatureContract) -> None:
        t = contract.threshold
        self.threshold = float(t.value)
        self.band_names = [b.name for b in contract.risk_bands]
        self.ev_gain = t.offer_success_rate * t.saved_customer_value
        self.ev_cost = t.offer_cost

    def one(
        self,
        ref: dict[str, Any],
        customer_id: Any,
        probability: float,
        band: int,
        imputed: Sequence[str],
        reasons: list[dict[str, Any]] | None,
    ) -> dict[str, Any]:
        """The body of one prediction."""
        p = probability
        return {
            "customerID": (
                customer_id if customer_id is None or type(customer_id) is str else str(customer_id)
            ),
            "churn_probability": p,
            "churn": p >= self.threshold,
            "threshold": self.threshold,
            "risk_band": self.band_names[band],
            "expected_value": p * self.ev_gain - self.ev_cost,
            "imputed_fields": imputed,
            "model": ref,
            "reasons": reasons,
        }

    def batch_rows(
        self,
        ref: Any,
        positions: Sequence[int],
        ids: Sequence[Any],
        probabilities: Sequence[float],
        bands: Sequence[int],
        imputed: Sequence[Sequence[str]],
        reasons: Sequence[list[dict[str, Any]] | None],
    ) -> list[dict[str, Any]]:
        """The `BatchRow` of every row that scored, in one pass (`one`'s bodies, wrapped).

        `ref` may be the model reference already serialised (an orjson.Fragment): a batch
        repeats it in every row.
        """
        t, gain, cost, names = self.threshold, self.ev_gain, self.ev_cost, self.band_names
        return [
            {
                "row": k,
                "ok": True,
                "prediction": {
                    "customerID": cid if cid is None or type(cid) is str else str(cid),
                    "churn_probability": p,
                    "churn": p >= t,
                    "threshold": t,
                    "risk_band": names[b],
                    "expected_value": p * gain - cost,
                    "imputed_fields": imp,
                    "model": ref,
                    "reasons": why,
                },
                "errors": None,
            }
            for k, cid, p, b, imp, why in zip(
                positions, ids, probabilities, bands, imputed, reasons, strict=True
            )
        ]


def batch_body(
    ref: Any,
    count: int,
    scored: list[dict[str, Any]],
    errors: dict[int, list[dict[str, str]]],
    sort: str = "none",
) -> dict[str, Any]:
    """The /predict/batch answer: one result per input row, in input order or sorted (SORTS).

    `scored` holds the rows that scored (PredictionBuilder.batch_rows), in input order.
    """
    results = scored
    if errors:
        results = [None] * count  # type: ignore[list-item]
        for k, errs in errors.items():
            results[k] = {"row": k, "ok": False, "prediction": None, "errors": errs}
        for row in scored:
            results[row["row"]] = row
    if sort in ("risk", "expected_value") and scored:
        key = "churn_probability" if sort == "risk" else "expected_value"
        ok = sorted(scored, key=lambda r: (-r["prediction"][key], r["row"]))
        results = ok + [results[k] for k in sorted(errors)]
    return {
        "model": ref,
        "count": count,
        "succeeded": len(scored),
        "failed": len(errors),
        "results": results,
    }


class ErrorItem(BaseModel):
    """One problem with the request."""

    field: str = Field(description="The offending field ('body' for the request as a whole)")
    message: str


class ErrorResponse(BaseModel):
    """Every 4xx/503 body."""

    detail: list[ErrorItem] | str


class ModelRef(BaseModel):
    """Which model answered."""

    name: str
    version: str
    alias: str | None


class Reason(BaseModel):
    """One original field's signed contribution to the churn log-odds."""

    field: str
    value: str | int | float
    contribution: float = Field(description="log-odds contribution; positive raises risk")
    effect: Literal["raises", "lowers"]
    text: str


class Prediction(BaseModel):
    """The score of one customer."""

    customerID: str | None
    churn_probability: float = Field(ge=0, le=1, description="calibrated probability of churn")
    churn: bool = Field(description="churn_probability >= threshold")
    threshold: float
    risk_band: str
    expected_value: float = Field(description="expected value of making a retention offer")
    imputed_fields: list[str] = Field(description="fields that were missing and took the default")
    model: ModelRef
    reasons: list[Reason] | None = Field(description="top reasons, only with explain=true")


class BatchRow(BaseModel):
    """The outcome of one input row."""

    row: int = Field(ge=0, description="0-based input position")
    ok: bool
    prediction: Prediction | None
    errors: list[ErrorItem] | None


class BatchResponse(BaseModel):
    """Scores of a batch, one result per input row."""

    model: ModelRef
    count: int
    succeeded: int
    failed: int
    results: list[BatchRow]


class ModelInfo(BaseModel):
    """The model being served."""

    model_config = ConfigDict(protected_namespaces=())

    name: str
    version: str
    alias: str | None
    source: Literal["registry", "cache", "local"]
    loaded_at: str
    trained_at: str | None
    metrics: dict[str, Any]
    threshold: dict[str, Any]
    risk_bands: list[dict[str, Any]]
    input_schema: dict[str, Any]
    stale: bool = Field(description="true when MLflow could not be reached to confirm the alias")
    signature: Literal["verified", "unchecked"] = Field(
        description="'unchecked' only with ALLOW_UNSIGNED_MODELS (development)"
    )
    signed_by: str | None = Field(description="key id of the key that signed the bundle")
    degraded: bool = Field(
        description="true while this is not the verified current champion (a fallback version)"
    )
    degraded_reason: str | None
    detail: str | None


class Liveness(BaseModel):
    """GET / body."""

    service: str
    version: str
    status: Literal["ok"]


class Readiness(BaseModel):
    """GET /health/ready body."""

    model_config = ConfigDict(protected_namespaces=())

    ready: bool
    model_version: str | None = None
    detail: str | None = None
    dev_mode: bool = Field(
        False, description="CHURN_DEV_MODE is on: authentication may be off (development only)"
    )


class ReloadResponse(BaseModel):
    """POST /admin/reload body."""

    reloaded: bool
    version: str
    previous_version: str | None
    signature: Literal["verified", "unchecked"]
    degraded: bool
    detail: str | None = None


def model_info_body(meta: ModelMeta, contract: FeatureContract) -> dict[str, Any]:
    """The GET /model body (`ModelInfo`): provenance (no URL, path or run id) and contract."""
    return {
        "name": meta.name,
        "version": meta.version,
        "alias": meta.alias,
        "source": meta.source,
        "loaded_at": meta.loaded_at,
        "trained_at": contract.training.get("trained_at"),
        "metrics": contract.metrics,
        "threshold": contract.threshold.model_dump(),
        "risk_bands": [b.model_dump() for b in contract.risk_bands],
        "input_schema": {
            "fields": [f.model_dump(exclude_none=True) for f in contract.fields],
            "id_field": contract.id_field,
        },
        "stale": meta.stale,
        "signature": meta.signature,
        "signed_by": meta.signed_by,
        "degraded": meta.degraded,
        "degraded_reason": redact(meta.degraded_reason),
        "detail": redact(meta.detail),
    }
