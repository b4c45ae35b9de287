"""The served model: load the champion (registry or a local dir), verify it, refresh it, and
fall back to the last verified version (degraded) when the champion cannot be served."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from churn_api.bundle import ModelMeta, ModelRejectedError, local_meta
from churn_api.limits import Limits
from churn_api.provenance import TrustedKeys
from churn_api.redact import redact
from churn_api.registry import AliasTarget, Registry, RegistryUnavailableError
from churn_api.scorer import LoadedModel, load_model
from churn_api.settings import Settings
from churn_api.trees import DeferredWalk

log = logging.getLogger("churn_api.model")


class ModelStore:
    """Holds the served model; swaps in a new one atomically (one attribute assignment)."""

    def __init__(self, settings: Settings, keys: TrustedKeys | None = None) -> None:
        self.settings = settings
        self.keys = keys or TrustedKeys.from_settings(
            settings.model_public_keys,
            settings.model_public_keys_file,
            settings.allow_unsigned_models,
        )
        self.limits = Limits.from_settings(settings)
        self.registry = Registry(settings)
        self.cache_root = self.registry.cache_root
        self.current: LoadedModel | None = None
        self.detail: str | None = "model not loaded yet"  # full text: logs and admin answers
        self._refused: dict[str, str] = {}  # version -> why (not retried but on /admin/reload)
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._on_swap: list[Any] = []
        self._walk = DeferredWalk()  # the single-row tree walk, built after the swap

    @property
    def public_detail(self) -> str | None:
        """`detail` without internal URLs, paths or run ids (for unauthenticated answers)."""
        return redact(self.detail)

    # -- public --------------------------------------------------------------------------------

    def on_swap(self, callback: Any) -> None:
        """Call callback(model) after every swap (metrics, OpenAPI cache)."""
        self._on_swap.append(callback)

    async def start(self) -> None:
        """Begin the first load and the refresh loop in the background; never raises."""
        self.keys.warn_if_lax(log)
        self._task = asyncio.create_task(self._run(), name="model-refresh")

    async def stop(self) -> None:
        """Cancel the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def reload(self) -> tuple[LoadedModel, str | None]:
        """Re-resolve now (admin); raises if the champion cannot be served (the old one stays)."""
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
        # After the assignment: a walk stored from here on is attached by its thread.
        walked = self._walk.give(model)
        self.detail = model.meta.detail
        m = model.meta
        if old is None or old.meta.version != m.version or old.meta.degraded != m.degraded:
            log.log(
                logging.WARNING if m.degraded else logging.INFO,
                "model loaded (degraded)" if m.degraded else "model loaded",
                extra={
                    "event": "model_loaded",
                    "model_version": m.version,
                    "source": m.source,
                    "alias": m.alias,
                    "signature": m.signature,
                    "degraded_reason": m.degraded_reason,
                    "previous_version": old.meta.version if old else None,
                },
            )
        for callback in self._on_swap:
            callback(model)
        if not walked:
            self._walk.build_later(model, lambda: self.current)
        return model

    def _load(self, path: Path, meta: ModelMeta) -> LoadedModel:
        """Verify the signature, then load and prove the golden examples (ModelRejectedError)."""
        return load_model(
            path,
            meta,
            self.settings.batch_threads,
            self.settings.max_batch_rows,
            keys=self.keys,
            limits=self.limits,
            tree_walk=False,  # built after the swap: DeferredWalk
        )

    # -- local directory -----------------------------------------------------------------------

    def _load_local(self, force: bool) -> LoadedModel:
        path = Path(self.settings.model_uri or "")
        meta = local_meta(path, self.settings.model_name)
        if self.current is not None and self.current.meta.version == meta.version and not force:
            return self.current
        return self._swap(self._load(path, meta))

    # -- registry ------------------------------------------------------------------------------

    def _load_registry(self, force: bool) -> LoadedModel:
        alias = self.settings.model_alias
        try:
            target = self.registry.resolve(alias, starting=self.current is None)
        except RegistryUnavailableError as exc:
            return self._mlflow_down(exc)
        if target is None:
            return self._cannot_serve(None, f"alias {alias} does not exist")
        cur = self.current
        same = cur is not None and (cur.meta.version, cur.meta.alias) == (target.version, alias)
        if cur is not None and same and not force:
            if cur.meta.stale or cur.meta.degraded or cur.meta.source != "registry":
                return self._swap(_healthy(cur))
            return cur
        if target.version in self._refused and not force:
            return self._cannot_serve(target, self._refused[target.version], log_it=False)
        try:
            model = self._load_version(target, alias, "registry")
        except ModelRejectedError as exc:
            self._refused[target.version] = f"{alias} version {target.version} refused: {exc}"
            return self._cannot_serve(target, self._refused[target.version])
        except RegistryUnavailableError as exc:
            return self._cannot_serve(target, f"{alias} version {target.version}: {exc}")
        self._refused.pop(target.version, None)
        self.registry.write_pointer(alias, target)
        return self._swap(model)

    def _load_version(self, target: AliasTarget, alias: str, source: str) -> LoadedModel:
        """Load one version (the cached copy first, verified like a download)."""
        meta = ModelMeta(
            name=self.settings.model_name,
            version=target.version,
            alias=alias,
            run_id=target.run_id,
            source=source,
            path="",
        )
        cached = self.registry.cached(target.version)
        if cached is not None:
            try:
                return self._load(cached, _at(meta, cached))
            except ModelRejectedError as exc:
                self.registry.forget(target.version)
                if source == "cache":
                    raise
                log.warning(
                    "cached copy refused; downloading it again",
                    extra={
                        "event": "cache_refused",
                        "model_version": target.version,
                        "reason": str(exc),
                    },
                )
        path = self.registry.download(target)
        try:
            return self._load(path, _at(meta, path))
        except ModelRejectedError:
            self.registry.forget(target.version)
            raise

    def _mlflow_down(self, exc: Exception) -> LoadedModel:
        cur = self.current
        if cur is not None:
            if not cur.meta.stale:
                reason = f"MLflow unreachable ({exc}); serving version {cur.meta.version}"
                self._swap(
                    cur.with_meta(stale=True, degraded=True, degraded_reason=reason, detail=reason)
                )
            return cur
        reason = f"MLflow unreachable ({exc})"
        model = self._from_cache(reason, stale=True)
        if model is None:
            raise RegistryUnavailableError(f"{exc}; no cached model in {self.cache_root}")
        return model

    def _cannot_serve(
        self, target: AliasTarget | None, reason: str, log_it: bool = True
    ) -> LoadedModel:
        """The champion cannot be served: keep the current model, else fall back; degraded."""
        if log_it:
            log.error(
                "champion not served: %s",
                reason,
                extra={"event": "model_refused", "reason": reason},
            )
        cur = self.current
        if cur is not None:
            if cur.meta.degraded_reason != reason:
                self._swap(cur.with_meta(degraded=True, degraded_reason=reason, detail=reason))
            if log_it:
                raise ModelRejectedError(reason)
            return cur
        refused = target.version if target else None
        model = self._from_cache(reason, refused=refused) or self._from_fallback_alias(
            reason, refused
        )
        if model is None:
            raise ModelRejectedError(f"{reason}; no verified fallback version")
        return model

    def _from_cache(
        self, reason: str, stale: bool = False, refused: str | None = None
    ) -> LoadedModel | None:
        """The last verified version of the alias (then of the fallback alias) in the cache."""
        for alias in (self.settings.model_alias, self.settings.model_fallback_alias):
            pointer = self.registry.read_pointer(alias)
            if pointer is None or pointer.version == refused:
                continue
            try:
                model = self._load_version(pointer, alias, "cache")
            except ModelRejectedError as exc:
                log.error("cached fallback refused: %s", exc, extra={"event": "cache_refused"})
                continue
            detail = f"{reason}; serving cached version {pointer.version}"
            return self._swap(
                model.with_meta(stale=stale, degraded=True, degraded_reason=detail, detail=detail)
            )
        return None

    def _from_fallback_alias(self, reason: str, refused: str | None) -> LoadedModel | None:
        alias = self.settings.model_fallback_alias
        try:
            target = self.registry.resolve(alias)
            if target is None or target.version == refused:
                return None
            model = self._load_version(target, alias, "registry")
        except (ModelRejectedError, RegistryUnavailableError) as exc:
            log.error("fallback alias refused: %s", exc, extra={"event": "fallback_refused"})
            return None
        self.registry.write_pointer(alias, target)
        detail = f"{reason}; serving {alias} version {target.version}"
        return self._swap(model.with_meta(degraded=True, degraded_reason=detail, detail=detail))


def _healthy(model: LoadedModel) -> LoadedModel:
    return model.with_meta(
        source="registry", stale=False, degraded=False, degraded_reason=None, detail=None
    )


def _at(meta: ModelMeta, path: Path) -> ModelMeta:
    return replace(meta, path=str(path))
