"""churn-score's settings, and the model it scores with: the champion through the API's own
ModelStore (registry, cache, signature and golden checks), or a local model directory."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from churn_api.bundle import ModelRejectedError
from churn_api.model_store import ModelStore
from churn_api.provenance import TrustedKeys
from churn_api.scorer import LoadedModel
from churn_api.scoring.snapshot import DEFAULT_MAX_DOWNLOAD_BYTES
from churn_api.settings import Settings

# The model-loading settings churn-score shares with the API (same variables, same meaning).
SHARED = (
    "mlflow_tracking_uri",
    "model_name",
    "model_alias",
    "model_uri",
    "model_cache_dir",
    "model_public_keys",
    "model_public_keys_file",
    "allow_unsigned_models",
    "model_fallback_alias",
    "mlflow_http_timeout",
    "mlflow_http_max_retries",
    "mlflow_max_download_bytes",
)


class ModelUnavailableError(Exception):
    """No verified model to score with: exit 1."""


class ScoreSettings(BaseSettings):
    """churn-score's environment: the store, and the API's model-loading variables."""

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", protected_namespaces=(), hide_input_in_errors=True
    )

    database_url: SecretStr | None = None
    database_timeout_seconds: float = Field(30.0, gt=0)
    mlflow_tracking_uri: str | None = None
    model_name: str = "telco-churn"
    model_alias: str = "champion"
    model_uri: str | None = None
    model_cache_dir: Path = Path.home() / ".cache" / "churn-api" / "models"
    model_public_keys: str | None = None
    model_public_keys_file: Path | None = None
    allow_unsigned_models: bool = False
    model_fallback_alias: str = "previous-champion"
    mlflow_http_timeout: int = Field(10, ge=1)
    mlflow_http_max_retries: int = Field(1, ge=0)
    mlflow_max_download_bytes: int = Field(512 * 1024 * 1024, ge=1)
    max_download_bytes: int = Field(DEFAULT_MAX_DOWNLOAD_BYTES, ge=1)

    @field_validator(
        "database_url",
        "mlflow_tracking_uri",
        "model_uri",
        "model_public_keys",
        "model_public_keys_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def public_keys_pem(self) -> bytes:
        """MODEL_PUBLIC_KEYS and MODEL_PUBLIC_KEYS_FILE joined, as TrustedKeys reads them."""
        text = (self.model_public_keys or "").encode()
        if self.model_public_keys_file is not None:
            try:
                text += b"\n" + self.model_public_keys_file.read_bytes()
            except OSError as exc:
                raise ModelUnavailableError(
                    f"MODEL_PUBLIC_KEYS_FILE: cannot read {self.model_public_keys_file}: "
                    f"{exc.strerror}"
                ) from None
        return text

    def api_settings(self) -> Settings:
        """The API's settings holding only what model loading reads (no auth: nothing is
        served, so the API's authentication checks do not apply)."""
        return Settings.model_construct(**{name: getattr(self, name) for name in SHARED})


def load_scoring_model(settings: ScoreSettings, batch_threads: int = 0) -> LoadedModel:
    """The verified model: MODEL_URI (a local directory), else the registry's alias.

    A champion that cannot be served is an error here, not a fallback: a scheduled run must
    not quietly write a whole base's scores with an older model.
    """
    pem = settings.public_keys_pem()
    try:
        keys = TrustedKeys.from_settings(pem.decode(), None, settings.allow_unsigned_models)
    except (ValueError, ModelRejectedError) as exc:
        raise ModelUnavailableError(f"MODEL_PUBLIC_KEYS: {exc}") from None
    api = settings.api_settings()
    api.batch_threads = batch_threads
    store = ModelStore(api, keys)
    try:
        model = store.refresh_once()
    except Exception as exc:  # every way loading fails is the same answer: nothing to score
        raise ModelUnavailableError(f"{type(exc).__name__}: {exc}") from None
    if model.meta.degraded:
        raise ModelUnavailableError(
            f"the champion cannot be served ({model.meta.degraded_reason}); nothing was scored"
        )
    return model
