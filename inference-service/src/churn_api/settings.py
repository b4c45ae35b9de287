"""Service configuration from the environment (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MAX_BATCH_ROWS = 10_000


class Settings(BaseSettings):
    """Every knob of the inference service; each maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", protected_namespaces=())

    host: str = "0.0.0.0"
    port: int = Field(8000, ge=0, le=65535)
    # Above the AWS ALB idle timeout (60 s) so the balancer never reuses a socket we closed.
    timeout_keep_alive: int = Field(65, ge=1)
    timeout_graceful_shutdown: int = Field(20, ge=1)
    log_level: str = "INFO"

    mlflow_tracking_uri: str | None = None
    model_name: str = "telco-churn"
    model_alias: str = "champion"
    model_uri: str | None = Field(
        None,
        description="A local MLflow model directory (or bundle folder) instead of the registry",
    )
    model_cache_dir: Path = Path.home() / ".cache" / "churn-api" / "models"
    model_refresh_seconds: float = Field(
        60.0, ge=0, description="0 disables the background refresh"
    )
    model_retry_seconds: float = Field(
        5.0, gt=0, description="retry interval while no model is loaded"
    )
    mlflow_http_timeout: int = Field(10, ge=1)
    mlflow_http_max_retries: int = Field(1, ge=0)

    jwt_secret: SecretStr | None = None
    jwt_algorithm: str = "HS256"

    @field_validator("jwt_secret", "mlflow_tracking_uri", "model_uri", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty variable (JWT_SECRET=) means unset, never an empty signing key."""
        return None if isinstance(value, str) and not value.strip() else value

    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    max_batch_rows: int = Field(DEFAULT_MAX_BATCH_ROWS, ge=1)
    batch_threads: int = Field(0, ge=0, description="xgboost threads for batches; 0 = all cores")

    # Bounded cost of any body (docs/api.md "Limits"): a customer has 21 keys at most.
    max_problems: int = Field(20, ge=1, description="problems listed per customer; rest counted")
    max_keys_per_object: int = Field(64, ge=24, description="keys in one JSON object")
    max_json_depth: int = Field(32, ge=4, description="nesting levels of a body")
    inline_body_bytes: int = Field(
        8 * 1024, ge=1024, description="larger /predict bodies are validated off the event loop"
    )
    max_concurrent_batches: int = Field(
        0, ge=0, description="batches (and large bodies) in flight; 0 = from cores and memory"
    )
    batch_memory_mb: int = Field(
        64, ge=1, description="per heavy request, for the default (10k explained rows: ~40 MB)"
    )

    # Provenance (docs/model-bundle.md "Signature").
    model_public_keys: str | None = Field(None, description="PEM public key(s), concatenated")
    model_public_keys_file: Path | None = None
    allow_unsigned_models: bool = Field(
        False, description="development only: load bundles whose signature cannot be checked"
    )
    model_fallback_alias: str = Field(
        "previous-champion", description="served (degraded) when the champion cannot be"
    )

    @field_validator("model_public_keys", "model_public_keys_file", mode="before")
    @classmethod
    def _empty_key_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
