"""The monitoring routes' JSON bodies as pydantic models: `GET /monitoring/drift` (batch drift of
the latest scoring runs against the served model's training reference) and
`GET /monitoring/performance` (realized performance from ingested outcomes)."""

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
    created_at: str | None = None
    snapshot_date: str | None = None
    model_version: str | None = None
    n: int | None = None
    score_psi: float | None = None
    # The run's score shares over the reference's score bins, when the API keeps them.
    score_frequencies: list[float] | None = None
    fields: list[FieldDriftRow] = Field(default_factory=list)


class DriftHistory(_Model):
    """`GET /monitoring/drift`: the latest runs, newest first, and the thresholds."""

    thresholds: DriftThresholds = Field(default_factory=DriftThresholds)
    runs: list[DriftRun] = Field(default_factory=list)
    # The served model's training score histogram (reference.json's "score"), if it has one.
    reference_score: ScoreBins | None = None
    model_version: str | None = None


class PerformanceRow(_Model):
    """Realized performance of one model version's scores made in one month."""

    model_version: str
    month: str  # YYYY-MM
    n: int
    positives: int | None = None
    roc_auc: float | None = None
    pr_auc: float | None = None
    brier: float | None = None
    calibration_error: float | None = None
    top_decile_precision: float | None = None
    computed_at: str | None = None


class PerformanceHistory(_Model):
    """`GET /monitoring/performance`: per model version and month, and the training holdout."""

    rows: list[PerformanceRow] = Field(default_factory=list)
    holdout_roc_auc: float | None = None
    holdout: dict[str, float] = Field(default_factory=dict)
    model_version: str | None = None
