"""The monitoring routes' JSON bodies as pydantic models: `GET /monitoring/drift` (batch drift of
the latest scoring runs against the served model's training reference) and
`GET /monitoring/performance` (realized performance from ingested outcomes) and
`GET /monitoring/models` (the served model and the registry's champion and challenger)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class DriftThresholds(_Model):
    """PSI limits (docs/monitoring.md): a field is watched above the first, drifted above the
    second; the score has drifted above its own."""

    field_psi_watch: float = 0.1
    field_psi_drift: float = 0.2
    score_psi_drift: float = 0.1


class FieldDriftRow(_Model):
    """One field of one scoring run against the training reference."""

    field: str
    kind: str | None = None
    n: int | None = None  # non-missing values compared
    psi: float | None = None
    statistic: float | None = None  # KS D (numeric) or chi-square (categorical)
    p_value: float | None = None
    missing_rate: float | None = None
    missing_rate_reference: float | None = None
    unseen: dict[str, int] = Field(default_factory=dict)


class ScoreBins(_Model):
    """A score histogram over fixed bins: inner `edges` and one share per bin (len(edges)+1)."""

    edges: list[float]
    frequencies: list[float]


class DriftRun(_Model):
    """The drift report of one `churn-score run`."""

    run_id: str
    started_at: str | None = None
    created_at: str | None = None  # when the drift report was stored
    snapshot_date: str | None = None
    model_version: str | None = None
    n: int | None = None  # rows compared (the run's valid rows)
    rows_rejected: int | None = None
    score_psi: float | None = None
    # The run's score shares over its model's reference score bins, and those bins' training
    # shares (given only when the served model made the run).
    score_frequencies: list[float] | None = None
    reference_score: ScoreBins | None = None
    fields: list[FieldDriftRow] = Field(default_factory=list)


class DriftHistory(_Model):
    """`GET /monitoring/drift`: the latest runs, newest first, and the thresholds."""

    thresholds: DriftThresholds = Field(default_factory=DriftThresholds)
    runs: list[DriftRun] = Field(default_factory=list)  # newest first
    # The served model's training score histogram (reference.json's "score"), if it has one.
    reference_score: ScoreBins | None = None
    model_version: str | None = None


class PerformanceRow(_Model):
    """Realized performance of one model version's scores made in one month."""

    model_version: str
    month: str  # YYYY-MM of the scores' snapshot ('all' in `overall`)
    n: int
    positives: int | None = None
    roc_auc: float | None = None
    pr_auc: float | None = None
    brier: float | None = None
    calibration_error: float | None = None
    top_decile_precision: float | None = None
    computed_at: str | None = None
    labels_uri: str | None = None


class PerformanceHistory(_Model):
    """`GET /monitoring/performance`: per model version and month, and the training holdout."""

    rows: list[PerformanceRow] = Field(default_factory=list)
    overall: list[PerformanceRow] = Field(default_factory=list)  # per model version, all months
    holdout_roc_auc: float | None = None
    holdout: dict[str, float] = Field(default_factory=dict)
    # Realized ROC-AUC this far under the holdout alerts (docs/monitoring.md).
    roc_auc_drop_alert: float = 0.05
    model_version: str | None = None  # the served model's
    computed_at: str | None = None  # the latest outcomes ingest's computation


class ServedModel(_Model):
    """The version the scoring service serves, the alias it loaded it by (None: a local folder)
    and whether it is a fallback rather than the verified champion."""

    version: str
    alias: str | None = None
    degraded: bool = False


class AliasHeld(_Model):
    """A version holding `champion` or `challenger`: since when and why (the gate's reason)."""

    version: str
    since: str | None = None
    reason: str | None = None
    created_at: str | None = None  # when the version was registered


class PreviousChampion(_Model):
    """The version `previous-champion` points to: when and by which version it was replaced."""

    version: str
    replaced_at: str | None = None
    replaced_by: str | None = None
    created_at: str | None = None


class RegistryAliases(_Model):
    """The registry's aliases of the model (None: not set)."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=(), populate_by_name=True)

    champion: AliasHeld | None = None
    challenger: AliasHeld | None = None
    previous_champion: PreviousChampion | None = Field(None, alias="previous-champion")


class ModelsView(_Model):
    """`GET /monitoring/models`: the served model and the registry's aliases (None when the
    service loads a local folder, MODEL_URI, and uses no registry)."""

    model_name: str
    registry: str | None = None
    served: ServedModel | None = None
    aliases: RegistryAliases | None = None
