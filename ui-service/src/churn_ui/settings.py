"""UI configuration from the environment (pydantic-settings)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class UISettings(BaseSettings):
    """Every knob of the UI; each maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    api_base_url: str = Field(
        "http://localhost:8000", description="Where the inference API listens"
    )
    api_token: SecretStr | None = Field(
        None, description="A ready-made bearer token with scope 'predict' (takes precedence)"
    )
    api_jwt_secret: SecretStr | None = Field(
        None, description="The API's JWT_SECRET: the UI mints its own short-lived 'predict' token"
    )
    api_token_ttl_seconds: int = Field(300, ge=30, le=86_400)
    api_token_subject: str = "churn-ui"

    request_timeout: float = Field(15.0, gt=0, description="Seconds to wait for an API answer")
    connect_timeout: float = Field(3.0, gt=0, description="Seconds to wait for a connection")
    status_timeout: float = Field(3.0, gt=0, description="Timeout of the status-line check")
    connect_retries: int = Field(2, ge=0, le=10, description="Retries on connection errors only")
    # At most the API's MAX_BATCH_ROWS (10,000); a smaller API limit is found by halving.
    batch_chunk_rows: int = Field(500, ge=1, le=10_000, description="Rows per /predict/batch call")
    # Sized for the 512 MiB UI task. Measured (AppTest, fake API, Telco-shaped rows): the app
    # starts at ~200 MB; reading, scoring and showing a 50,000-row file (7 MB) peaks at
    # 400-430 MB (25,000 rows: 330 MB). Before chunked records and compact results, scoring alone
    # took ~690 MB at 50,000 rows. 10 MB is ~70,000 Telco rows: for usual files the row cap binds.
    max_upload_mb: int = Field(
        10, ge=1, le=200, description="Largest batch CSV, in MB (Streamlit's server.maxUploadSize)"
    )
    max_upload_rows: int = Field(
        50_000, ge=1, le=1_000_000, description="Most customer rows in one batch CSV"
    )

    host: str = "0.0.0.0"
    port: int = Field(8501, ge=1, le=65535)

    @field_validator("api_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("API_BASE_URL must start with http:// or https://")
        return value

    @field_validator("api_token", "api_jwt_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # Compose files often pass `API_TOKEN=` for "unset".
        if isinstance(value, str) and not value.strip():
            return None
        return value


def get_settings() -> UISettings:
    """Settings read from the environment now (cheap; tests change the environment)."""
    return UISettings()
