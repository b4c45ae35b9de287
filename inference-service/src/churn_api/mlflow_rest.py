"""A small typed client of MLflow's REST API (standard library only: the API image carries no
MLflow package). Credentials come from MLflow's own variables (MLFLOW_TRACKING_USERNAME/_PASSWORD:
basic; MLFLOW_TRACKING_TOKEN: bearer) or user:password in the URI; never logged or in an error.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
MAX_JSON_BYTES = 16 * 1024 * 1024  # an answer larger than this is not a registry answer
BACKOFF_SECONDS = 0.25  # doubled per retry, at most BACKOFF_MAX
BACKOFF_MAX = 2.0
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
MISSING = "RESOURCE_DOES_NOT_EXIST"


class RegistryUnavailableError(Exception):
    """MLflow could not be reached or did not answer."""


class MlflowApiError(RegistryUnavailableError):
    """MLflow answered a request with an error (its HTTP status, error code and message)."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(f"MLflow refused the request (HTTP {status} {error_code}): {message}")
        self.status = status
        self.error_code = error_code


@dataclass(frozen=True)
class ModelVersion:
    """What the API reads of one registered model version."""

    version: str
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)
    creation_timestamp: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelVersion:
        tags = {
            str(t["key"]): str(t.get("value", ""))
            for t in data.get("tags") or []
            if isinstance(t, dict) and "key" in t
        }
        created = data.get("creation_timestamp")
        return cls(
            version=str(data["version"]),
            run_id=str(data.get("run_id") or "") or None,
            tags=tags,
            creation_timestamp=int(created) if str(created or "").isdigit() else None,
        )


@dataclass(frozen=True)
class ArtifactEntry:
    """One entry of an artifact listing, as the server sent it (checked by the downloader)."""

    name: str
    is_dir: bool
    size: int | None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _authorization(environ: Mapping[str, str], user: str | None, password: str | None) -> str:
    """The Authorization header MLflow's own client would send ('' for none)."""
    env_user = environ.get("MLFLOW_TRACKING_USERNAME", "")
    env_password = environ.get("MLFLOW_TRACKING_PASSWORD", "")
    if env_user and env_password:
        user, password = env_user, env_password
    elif token := environ.get("MLFLOW_TRACKING_TOKEN", ""):
        return f"Bearer {token}"
    if user and password is not None:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return ""


class MlflowRest:
    """One MLflow tracking server: JSON GETs with bounded retries, and artifact streams."""

    def __init__(
        self,
        tracking_uri: str,
        timeout: float = 10,
        max_retries: int = 1,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        parts = urlsplit(tracking_uri.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            scheme = parts.scheme or "a local path"
            raise RegistryUnavailableError(
                f"MLFLOW_TRACKING_URI must be the http(s) address of an MLflow server, not "
                f"{scheme!r}: the API reads the registry over MLflow's REST API only"
            )
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        port = f":{parts.port}" if parts.port else ""
        self.base = f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"
        self.timeout = timeout
        self.max_retries = max_retries
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        self._auth = _authorization(environ, user, password)
        secrets = (environ.get(k) for k in ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"))
        self._secrets = [s for s in (password, *secrets) if s]
        # A redirect would carry the Authorization header along: it is answered as an error.
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if cafile := environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
            context = ssl.create_default_context(cafile=cafile)
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:
        return f"MlflowRest({self.base!r}, auth={'yes' if self._auth else 'no'})"

    # -- transport -----------------------------------------------------------------------------

    def open(
        self, path: str, params: Mapping[str, str] | None = None, retries: int | None = None
    ) -> http.client.HTTPResponse:
        """GET base+path; retries connection errors, timeouts, 5xx, 429; never other 4xx."""
        tries = self.max_retries if retries is None else retries
        url = self.base + path + (f"?{urlencode(params)}" if params else "")
        request = urllib.request.Request(url, method="GET")
        request.add_header("Accept", "application/json")
        if self._auth:
            request.add_unredirected_header("Authorization", self._auth)
        for attempt in range(tries + 1):
            last = attempt == tries
            try:
                return self._opener.open(request, timeout=self.timeout)  # type: ignore[no-any-return]
            except urllib.error.HTTPError as exc:
                with exc:
                    if exc.code in RETRIED_STATUSES and not last:
                        pass
                    else:
                        raise self._answer_error(path, exc) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                if last:
                    raise RegistryUnavailableError(
                        f"GET {path}: {self._reason(exc)}"
                        + (f" (after {attempt + 1} attempts)" if attempt else "")
                    ) from None
            time.sleep(min(BACKOFF_SECONDS * 2**attempt, BACKOFF_MAX))
        raise AssertionError("unreachable")  # the loop returns or raises

    def get_json(
        self, path: str, params: Mapping[str, str] | None = None, retries: int | None = None
    ) -> dict[str, Any]:
        """The JSON object MLflow answered (RegistryUnavailableError for anything else)."""
        with self.open(path, params, retries) as response:
            try:
                body = response.read(MAX_JSON_BYTES + 1)
            except (OSError, http.client.HTTPException) as exc:
                raise RegistryUnavailableError(f"GET {path}: {self._reason(exc)}") from None
        if len(body) > MAX_JSON_BYTES:
            raise RegistryUnavailableError(f"GET {path}: answer larger than {MAX_JSON_BYTES} bytes")
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise RegistryUnavailableError(f"GET {path}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise RegistryUnavailableError(f"GET {path}: the answer is not a JSON object")
        return data

    def _answer_error(self, path: str, exc: urllib.error.HTTPError) -> RegistryUnavailableError:
        if 300 <= exc.code < 400:
            return RegistryUnavailableError(
                f"GET {path}: MLflow answered with a redirect (HTTP {exc.code}); set "
                "MLFLOW_TRACKING_URI to the address it redirects to"
            )
        try:
            data = json.loads(exc.read(64 * 1024) or b"{}")
        except (ValueError, OSError, http.client.HTTPException):
            data = {}
        data = data if isinstance(data, dict) else {}
        code = str(data.get("error_code") or "")
        message = self._scrub(str(data.get("message") or exc.reason or "")).splitlines()
        text = message[0][:300] if message else ""
        if 400 <= exc.code < 500:
            return MlflowApiError(exc.code, code or "HTTP_ERROR", text)
        return RegistryUnavailableError(f"GET {path}: HTTP {exc.code} {code} {text}".rstrip())

    def _reason(self, exc: BaseException) -> str:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            return f"no answer within {self.timeout:g} s"
        text = str(reason).splitlines()[0] if str(reason) else type(reason).__name__
        return self._scrub(text)[:300]

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    # -- registry ------------------------------------------------------------------------------

    def version_by_alias(
        self, name: str, alias: str, retries: int | None = None
    ) -> ModelVersion | None:
        """The version `alias` points at; None if the model or the alias does not exist."""
        try:
            params = {"name": name, "alias": alias}
            data = self.get_json(f"{API}/registered-models/alias", params, retries)
        except MlflowApiError as exc:
            if exc.error_code == MISSING:
                return None
            raise
        return _version(data, "registered-models/alias")

    def model_version(self, name: str, version: str) -> ModelVersion:
        """One version with its tags."""
        data = self.get_json(f"{API}/model-versions/get", {"name": name, "version": version})
        return _version(data, "model-versions/get")

    def alias_versions(self, name: str) -> dict[str, str] | None:
        """Every alias of a registered model and its version; None if the model does not exist."""
        try:
            data = self.get_json(f"{API}/registered-models/get", {"name": name})
        except MlflowApiError as exc:
            if exc.error_code == MISSING:
                return None
            raise
        aliases = (data.get("registered_model") or {}).get("aliases") or []
        return {
            str(a["alias"]): str(a["version"])
            for a in aliases
            if isinstance(a, dict) and "alias" in a and "version" in a
        }

    def download_uri(self, name: str, version: str) -> str:
        """Where a version's files are (models:/m-..., runs:/..., mlflow-artifacts:/...)."""
        params = {"name": name, "version": version}
        data = self.get_json(f"{API}/model-versions/get-download-uri", params)
        return _string(data, "artifact_uri", "model-versions/get-download-uri")

    def run_artifact_uri(self, run_id: str) -> str:
        """The artifact root of a run."""
        data = self.get_json(f"{API}/runs/get", {"run_id": run_id})
        info = (data.get("run") or {}).get("info") or {}
        return _string(info, "artifact_uri", "runs/get")

    def logged_model_artifact_uri(self, model_id: str) -> str:
        """The artifact location of a logged model (MLflow 3's `models:/m-...`)."""
        data = self.get_json(f"{API}/logged-models/{quote(model_id, safe='')}")
        info = (data.get("model") or {}).get("info") or {}
        return _string(info, "artifact_uri", "logged-models")

    def list_artifacts(self, path: str) -> list[ArtifactEntry]:
        """One directory of the proxied artifact store (names as the server sent them)."""
        data = self.get_json(ARTIFACTS, {"path": path})
        out = []
        for item in data.get("files") or []:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                raise RegistryUnavailableError("artifact listing: an entry without a path")
            size = item.get("file_size")
            out.append(
                ArtifactEntry(
                    name=item["path"],
                    is_dir=bool(item.get("is_dir")),
                    size=int(size) if str(size or "").isdigit() else None,
                )
            )
        return out

    def open_artifact(self, path: str) -> http.client.HTTPResponse:
        """A stream of one file of the proxied artifact store."""
        return self.open(f"{ARTIFACTS}/{quote(path)}")


def _version(data: Mapping[str, Any], endpoint: str) -> ModelVersion:
    try:
        return ModelVersion.from_json(data["model_version"])
    except (KeyError, TypeError, ValueError):
        raise RegistryUnavailableError(f"{endpoint}: the answer has no model version") from None


def _string(data: Mapping[str, Any], key: str, endpoint: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise RegistryUnavailableError(f"{endpoint}: the answer has no {key}")
    return value
