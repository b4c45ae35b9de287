"""Training configuration, read from the environment (CLI flags override it)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrainSettings(BaseSettings):
    """Every knob of the training job; safe defaults for a local run."""

    model_config = SettingsConfigDict(env_prefix="CHURN_", extra="ignore")

    data_source: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATA_SOURCE", "CHURN_DATA_SOURCE"),
        description="CSV path or URL with the Telco schema; unset means the IBM dataset",
    )
    cache_dir: Path = Path(".cache/data")
    tracking_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "CHURN_TRACKING_URI")
    )
    experiment_name: str = "telco-churn"
    model_name: str = "telco-churn"
    champion_alias: str = "champion"
    challenger_alias: str = "challenger"

    seed: int = 42
    holdout_fraction: float = Field(default=0.2, gt=0, lt=0.5)
    cv_folds: int = Field(default=5, ge=2, le=10)
    trials: int = Field(default=50, ge=1)

    offer_cost: float = Field(default=50.0, ge=0)
    saved_customer_value: float = Field(default=500.0, gt=0)
    offer_success_rate: float = Field(default=0.3, gt=0, le=1)

    # Promotion gate: the new model may trail the champion by at most these margins.
    promotion_auc_margin: float = Field(default=0.002, ge=0)
    promotion_value_margin: float = Field(default=0.02, ge=0, description="relative")

    golden_examples: int = Field(default=20, ge=1, le=200)

    # Model provenance (docs/model-bundle.md, "Signature"): one of the three key sources.
    signing_key_file: Path | None = Field(
        default=None, validation_alias="MODEL_SIGNING_KEY_FILE", description="PEM PKCS#8 EC key"
    )
    signing_key: SecretStr | None = Field(
        default=None, validation_alias="MODEL_SIGNING_KEY", description="the PEM itself"
    )
    signing_kms_key_id: str | None = Field(
        default=None, validation_alias="MODEL_SIGNING_KMS_KEY_ID", description="AWS KMS key id/ARN"
    )
    allow_unsigned_models: bool = Field(
        default=False,
        validation_alias="ALLOW_UNSIGNED_MODELS",
        description="development only: publish without a signing key",
    )

    # Promotion lease lock (registry_lock.py). The TTL must exceed the gate's run time plus the
    # clock skew between trainers; the settle time must exceed one tag write's latency.
    promotion_lock_ttl_seconds: float = Field(default=300.0, gt=0)
    promotion_lock_settle_seconds: float = Field(default=2.0, gt=0)
    promotion_lock_timeout_seconds: float = Field(default=900.0, ge=0)
    previous_champion_alias: str = "previous-champion"
