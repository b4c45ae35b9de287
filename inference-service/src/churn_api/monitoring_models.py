"""The /monitoring routes' response bodies (documentation in the OpenAPI schema)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(protected_namespaces=())


class Thresholds(_Body):
    field_psi_watch: float = Field(description="a field's PSI above this is watched")
    field_psi_drift: float = Field(description="a field's PSI above this has drifted")
    score_psi_drift: float = Field(description="the score's PSI above this has drifted")


class ScoreBins(_Body):
    edges: list[float] = Field(description="inner bin edges of the calibrated probability")
    frequencies: list[float] = Field(description="share per bin (len(edges) + 1)")


class FieldDriftRow(_Body):
    field: str
    kind: str = Field(description="numeric | categorical")
    n: int = Field(description="non-missing values compared")
    psi: float | None
    statistic: float | None = Field(description="KS D (numeric) or chi-square (categorical)")
    p_value: float | None
    missing_rate: float | None
    missing_rate_reference: float | None
    unseen: dict[str, int] = Field(
        description="values outside the training categories (rows the run rejected for them)"
    )
    status: str = Field(description="ok | watch | drift")


class ModelRef(_Body):
    name: str
    version: str


class DriftRun(_Body):
    run_id: str
    status: str = Field(description="the scoring run's status")
    started_at: str | None
    finished_at: str | None
    created_at: str | None = Field(description="when the drift report was stored")
    snapshot_uri: str
    snapshot_sha256: str | None
    snapshot_date: str | None
    model: ModelRef
    model_name: str
    model_version: str
    rows_scored: int
    rows_rejected: int
    n: int | None = Field(description="rows compared (the run's valid rows)")
    score_psi: float | None
    score_status: str = Field(description="ok | drift")
    score_frequencies: list[float] | None = Field(
        description="the run's score shares over its model's reference score bins"
    )
    reference_score: ScoreBins | None = Field(
        description="those bins' training shares, when the served model scored the run"
    )
    drifted: list[str] = Field(description="fields over the drift threshold, most drifted first")
    fields: list[FieldDriftRow] = Field(description="most drifted first")


class DriftHistory(_Body):
    thresholds: Thresholds
    model_version: str | None = Field(description="the served model's version")
    reference_score: ScoreBins | None = Field(
        description="the served model's training score histogram (reference.json)"
    )
    runs: list[DriftRun] = Field(description="newest first")


class PerformanceRow(_Body):
    model_name: str
    model_version: str
    month: str = Field(description="YYYY-MM of the scores' snapshot date, or 'all'")
    n: int
    positives: int
    roc_auc: float | None
    pr_auc: float | None = Field(description="average precision")
    brier: float | None
    calibration_error: float | None = Field(description="ECE over 10 probability bins")
    top_decile_precision: float | None
    labels_uri: str | None
    computed_at: str | None


class PerformanceHistory(_Body):
    computed_at: str | None = Field(description="the latest outcomes ingest's computation")
    model_version: str | None = Field(description="the served model's version")
    holdout_roc_auc: float | None = Field(description="the served model's training holdout")
    holdout: dict[str, float] = Field(description="the served model's holdout metrics")
    roc_auc_drop_alert: float = Field(description="alert when realized < holdout - this")
    rows: list[PerformanceRow] = Field(description="per model version and month")
    overall: list[PerformanceRow] = Field(description="per model version, every month")


class ServedModel(_Body):
    version: str
    alias: str | None = Field(description="the alias it was loaded by; None for MODEL_URI")
    degraded: bool = Field(description="not the verified current champion (a fallback)")


class AliasHeld(_Body):
    version: str
    since: str | None = Field(description="UTC ISO time the version got the alias (version tag)")
    reason: str | None = Field(description="why: the promotion gate's reason (version tag)")
    created_at: str | None = Field(description="UTC ISO time the version was registered")


class PreviousChampion(_Body):
    version: str
    replaced_at: str | None = Field(description="UTC ISO time it stopped being the champion")
    replaced_by: str | None = Field(description="the version that replaced it")
    created_at: str | None = Field(description="UTC ISO time the version was registered")


class RegistryAliases(_Body):
    model_config = ConfigDict(protected_namespaces=(), populate_by_name=True)

    champion: AliasHeld | None
    challenger: AliasHeld | None = Field(description="the latest version the gate turned down")
    previous_champion: PreviousChampion | None = Field(alias="previous-champion")


class ModelsView(_Body):
    model_name: str
    registry: str = Field(description="'MLflow model registry', or 'not used (MODEL_URI)'")
    served: ServedModel | None = Field(description="None while no model is loaded")
    aliases: RegistryAliases | None = Field(description="None when no registry is used")
