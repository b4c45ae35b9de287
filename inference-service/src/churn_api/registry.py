"""The MLflow registry and the disk cache of downloaded versions: resolve, download, remember.

Nothing here trusts what it downloads: the model store verifies every bundle (signature, then
golden examples) each time it loads one, from the registry or from this cache.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from churn_api.bundle import ModelRejectedError, find_bundle
from churn_api.mlflow_artifacts import UnsafeArtifactError, download_version
from churn_api.mlflow_rest import MlflowRest, RegistryUnavailableError
from churn_api.settings import Settings

__all__ = ["AliasTarget", "Registry", "RegistryUnavailableError", "short"]


@dataclass(frozen=True)
class AliasTarget:
    """What an alias points at in the registry."""

    version: str
    run_id: str | None


class Registry:
    """One registered model of one tracking server, and its cache folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.model_name
        if settings.mlflow_tracking_uri:
            uri_key = hashlib.sha256(settings.mlflow_tracking_uri.encode()).hexdigest()[:12]
        else:
            uri_key = "default"
        self.cache_root = settings.model_cache_dir / uri_key / settings.model_name
        self._client: MlflowRest | None = None

    @property
    def client(self) -> MlflowRest:
        """The REST client of the tracking server (RegistryUnavailableError if not configured)."""
        if self._client is None:
            if not self.settings.mlflow_tracking_uri:
                raise RegistryUnavailableError(
                    "MLFLOW_TRACKING_URI is not set (set it, or MODEL_URI for a local model)"
                )
            self._client = MlflowRest(
                self.settings.mlflow_tracking_uri,
                timeout=self.settings.mlflow_http_timeout,
                max_retries=self.settings.mlflow_http_max_retries,
            )
        return self._client

    @client.setter
    def client(self, value: MlflowRest) -> None:
        self._client = value

    def resolve(self, alias: str, starting: bool = False) -> AliasTarget | None:
        """The version an alias points at; None if the alias does not exist.

        A start that holds a verified copy of the alias tries once: while MLflow is down a
        retry would only delay serving that copy (0.25 s of a ~1 s start).
        """
        once = starting and self.read_pointer(alias) is not None
        found = self.client.version_by_alias(self.name, alias, 0 if once else None)
        if found is None:
            return None
        if not found.version.isdigit():  # it names a cache folder: never a path
            raise RegistryUnavailableError(f"alias {alias}: invalid version {found.version[:40]!r}")
        return AliasTarget(found.version, found.run_id)

    def cached(self, version: str) -> Path | None:
        """The cache folder of a completely downloaded version, if any."""
        final = self.cache_root / version
        return final if (final / ".complete").exists() else None

    def download(self, target: AliasTarget) -> Path:
        """Download models:/name/<version> once into the cache.

        By the resolved version, never the alias: the alias may move between the two calls.
        """
        final = self.cache_root / target.version
        if (final / ".complete").exists():
            return final
        self.cache_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.version}-", dir=self.cache_root))
        try:
            download_version(
                self.client,
                self.name,
                target.version,
                tmp,
                max_bytes=self.settings.mlflow_max_download_bytes,
            )
            find_bundle(tmp)
            (tmp / ".complete").write_text(json.dumps({"run_id": target.run_id}))
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
        except ModelRejectedError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        except UnsafeArtifactError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ModelRejectedError(f"download of version {target.version}: {exc}") from None
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise RegistryUnavailableError(
                f"download of version {target.version} failed: {short(exc)}"
            ) from exc
        return final

    def forget(self, version: str) -> None:
        """Drop a cached version (it failed verification: download it afresh next time)."""
        shutil.rmtree(self.cache_root / version, ignore_errors=True)

    def _pointer_path(self, alias: str) -> Path:
        return self.cache_root / f"alias-{alias}.json"

    def write_pointer(self, alias: str, target: AliasTarget) -> None:
        """Remember the last version of `alias` that verified and loaded."""
        path = self._pointer_path(alias)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": target.version, "run_id": target.run_id}))
        tmp.replace(path)

    def read_pointer(self, alias: str) -> AliasTarget | None:
        """The last version of `alias` that verified and loaded here, if still cached."""
        try:
            data = json.loads(self._pointer_path(alias).read_text())
            target = AliasTarget(version=str(data["version"]), run_id=data.get("run_id"))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if self.cached(target.version) is None or "/" in target.version:
            return None
        return target


def short(exc: BaseException) -> str:
    """The first line of an exception's text, at most 300 characters."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]
