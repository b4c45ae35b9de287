"""Load the bundle (registry by alias with a disk cache, or a local dir), verify it, refresh it."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churn_api.bundle import FILES, ModelMeta, ModelRejectedError, find_bundle
from churn_api.scorer import LoadedModel, load_model
from churn_api.settings import Settings

log = logging.getLogger("churn_api.model")


@dataclass(frozen=True)
class AliasTarget:
    """What the alias points at in the registry."""

    version: str
    run_id: str | None


class RegistryUnavailableError(Exception):
    """MLflow could not be reached or did not answer."""


class ModelStore:
    """Holds the served model; swaps in a new one atomically (one attribute assignment)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.current: LoadedModel | None = None
        self.detail: str | None = "model not loaded yet"
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._on_swap: list[Any] = []
        if settings.mlflow_tracking_uri:
            uri_key = hashlib.sha256(settings.mlflow_tracking_uri.encode()).hexdigest()[:12]
        else:
            uri_key = "default"
        self.cache_root = settings.model_cache_dir / uri_key / settings.model_name

    # -- public --------------------------------------------------------------------------------

    def on_swap(self, callback: Any) -> None:
        """Call callback(model) after every swap (metrics, OpenAPI cache)."""
        self._on_swap.append(callback)

    async def start(self) -> None:
        """Begin the first load and the refresh loop in the background; never raises."""
        self._task = asyncio.create_task(self._run(), name="model-refresh")

    async def stop(self) -> None:
        """Cancel the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def reload(self) -> tuple[LoadedModel, str | None]:
        """Re-resolve now (admin); raises if nothing loads (the old model stays)."""
        previous = self.current.meta.version if self.current else None
        model = await asyncio.to_thread(self.refresh_once, True)
        return model, previous

    def refresh_once(self, force: bool = False) -> LoadedModel:
        """Resolve and load if the target changed; the old model stays on any failure."""
        with self._lock:
            if self.settings.model_uri:
                return self._load_local(force)
            return self._load_registry(force)

    # -- loop ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.refresh_once)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep serving / keep retrying whatever went wrong
                self.detail = f"{type(exc).__name__}: {exc}"
                log.error(
                    "model load failed", extra={"event": "model_load_failed", "error": self.detail}
                )
            ready = self.current is not None and not self.current.meta.stale
            interval = (
                self.settings.model_refresh_seconds
                if ready
                else min(
                    self.settings.model_retry_seconds, self.settings.model_refresh_seconds or 1e9
                )
            )
            if ready and interval <= 0:
                return
            await asyncio.sleep(interval)

    def _swap(self, model: LoadedModel) -> LoadedModel:
        old = self.current
        self.current = model
        self.detail = model.meta.detail
        if old is None or old.meta.version != model.meta.version:
            log.info(
                "model loaded",
                extra={
                    "event": "model_loaded",
                    "model_version": model.meta.version,
                    "source": model.meta.source,
                    "previous_version": old.meta.version if old else None,
                },
            )
        for callback in self._on_swap:
            callback(model)
        return model

    # -- local directory -----------------------------------------------------------------------

    def _load_local(self, force: bool) -> LoadedModel:
        path = Path(self.settings.model_uri or "")
        if not path.exists():
            raise ModelRejectedError(f"MODEL_URI {path} does not exist")
        bundle = find_bundle(path)
        digest = hashlib.sha256()
        for name in FILES:
            digest.update((bundle / name).read_bytes())
        version = f"local-{digest.hexdigest()[:8]}"
        if self.current is not None and self.current.meta.version == version and not force:
            return self.current
        meta = ModelMeta(
            name=self.settings.model_name,
            version=version,
            alias=None,
            run_id=_mlmodel_run_id(path),
            source="local",
            path=str(path),
        )
        return self._swap(self._load(path, meta))

    def _load(self, path: Path, meta: ModelMeta) -> LoadedModel:
        return load_model(path, meta, self.settings.batch_threads, self.settings.max_batch_rows)

    # -- registry ------------------------------------------------------------------------------

    def _load_registry(self, force: bool) -> LoadedModel:
        try:
            target = self._resolve_alias()
        except RegistryUnavailableError as exc:
            return self._fallback_to_cache(exc)
        cur = self.current
        if cur is not None and cur.meta.version == target.version and not force:
            if cur.meta.stale or cur.meta.source != "registry":
                return self._swap(cur.with_meta(source="registry", stale=False, detail=None))
            return cur
        path = self._download(target)
        meta = ModelMeta(
            name=self.settings.model_name,
            version=target.version,
            alias=self.settings.model_alias,
            run_id=target.run_id,
            source="registry",
            path=str(path),
        )
        model = self._load(path, meta)  # ModelRejectedError propagates: the old model stays
        self._write_pointer(target)
        return self._swap(model)

    def _fallback_to_cache(self, exc: Exception) -> LoadedModel:
        detail = f"MLflow unreachable ({exc}); serving the cached model"
        if self.current is not None:
            if not self.current.meta.stale:
                self._swap(self.current.with_meta(stale=True, detail=detail))
            return self.current
        pointer = self._read_pointer()
        if pointer is None:
            raise RegistryUnavailableError(f"{exc}; no cached model in {self.cache_root}") from exc
        path = self.cache_root / pointer.version
        meta = ModelMeta(
            name=self.settings.model_name,
            version=pointer.version,
            alias=self.settings.model_alias,
            run_id=pointer.run_id,
            source="cache",
            path=str(path),
            stale=True,
            detail=f"MLflow unreachable ({exc}); serving cached version {pointer.version}",
        )
        return self._swap(self._load(path, meta))

    def _client(self) -> Any:
        # Bound MLflow's own retries (default: minutes of backoff) so "down" is noticed quickly.
        os.environ.setdefault(
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(self.settings.mlflow_http_max_retries)
        )
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(self.settings.mlflow_http_timeout))
        from mlflow.tracking import MlflowClient  # imported lazily: only the registry needs it

        return MlflowClient(tracking_uri=self.settings.mlflow_tracking_uri)

    def _resolve_alias(self) -> AliasTarget:
        try:
            mv = self._client().get_model_version_by_alias(
                self.settings.model_name, self.settings.model_alias
            )
        except Exception as exc:
            raise RegistryUnavailableError(_short(exc)) from exc
        return AliasTarget(version=str(mv.version), run_id=mv.run_id)

    def _download(self, target: AliasTarget) -> Path:
        """Download models:/name/version once into the cache (resolved version: no alias race)."""
        final = self.cache_root / target.version
        if (final / ".complete").exists():
            return final
        import mlflow.artifacts

        self.cache_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.version}-", dir=self.cache_root))
        try:
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{self.settings.model_name}/{target.version}",
                dst_path=str(tmp),
                tracking_uri=self.settings.mlflow_tracking_uri,
            )
            find_bundle(tmp)
            (tmp / ".complete").write_text(json.dumps({"run_id": target.run_id}))
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
        except ModelRejectedError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise RegistryUnavailableError(
                f"download of version {target.version} failed: {_short(exc)}"
            ) from exc
        return final

    def _pointer_path(self) -> Path:
        return self.cache_root / f"alias-{self.settings.model_alias}.json"

    def _write_pointer(self, target: AliasTarget) -> None:
        tmp = self._pointer_path().with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": target.version, "run_id": target.run_id}))
        tmp.replace(self._pointer_path())

    def _read_pointer(self) -> AliasTarget | None:
        try:
            data = json.loads(self._pointer_path().read_text())
            target = AliasTarget(version=str(data["version"]), run_id=data.get("run_id"))
        except (OSError, ValueError, KeyError):
            return None
        if not (self.cache_root / target.version / ".complete").exists():
            return None
        return target


def _mlmodel_run_id(path: Path) -> str | None:
    mlmodel = path / "MLmodel"
    if not mlmodel.is_file():
        return None
    for line in mlmodel.read_text().splitlines():
        if line.startswith("run_id:"):
            value = line.split(":", 1)[1].strip()
            return value or None
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]
