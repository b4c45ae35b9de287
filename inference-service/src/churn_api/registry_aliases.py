"""Read the registry's champion, challenger and previous champion with when and why each got
its alias (the version tags the training job writes), without URLs, paths or credentials."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from churn_api.mlflow_rest import ModelVersion
from churn_api.redact import redact
from churn_api.registry import Registry, RegistryUnavailableError, short

# The training job's alias names (training settings) and the tags it writes on each.
SINCE_TAGS: dict[str, tuple[str, str]] = {
    "champion": ("champion_since", "champion_reason"),
    "challenger": ("challenger_since", "challenger_reason"),
}
PREVIOUS = "previous-champion"
ALIASES = (*SINCE_TAGS, PREVIOUS)
TEXT_MAX = 5000
# Its own small pool: a hanging MLflow then holds at most these threads, never the default
# executor that model reloads and store calls share.
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="registry-aliases")


def _text(value: Any) -> str | None:
    """A tag's value for the answer: redacted, bounded, None when unset or empty."""
    if not isinstance(value, str) or not value.strip():
        return None
    return redact(value[:TEXT_MAX])


def _created_at(millis: Any) -> str | None:
    if not isinstance(millis, int | float) or isinstance(millis, bool) or millis <= 0:
        return None
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="seconds")


def describe(alias: str, version: ModelVersion) -> dict[str, str | None]:
    """One alias's entry from a registry version (its number, tags and creation time)."""
    tags = version.tags
    entry: dict[str, str | None] = {"version": str(version.version)}
    if alias == PREVIOUS:
        entry["replaced_at"] = _text(tags.get("replaced_at"))
        entry["replaced_by"] = _text(tags.get("replaced_by"))
    else:
        since, reason = SINCE_TAGS[alias]
        entry["since"] = _text(tags.get(since))
        entry["reason"] = _text(tags.get(reason))
    entry["created_at"] = _created_at(version.creation_timestamp)
    return entry


def read_aliases(registry: Registry) -> dict[str, dict[str, str | None] | None]:
    """Every alias of ALIASES described, None where it is not set; blocking (MLflow calls).

    One read of the model's aliases, then each distinct version with its tags, through the
    model store's own client (its timeouts, retries and credentials).
    """
    try:
        client = registry.client
        held = client.alias_versions(registry.name) or {}
        versions = {
            number: client.model_version(registry.name, number)
            for number in dict.fromkeys(held[a] for a in ALIASES if a in held)
        }
    except Exception as exc:
        raise RegistryUnavailableError(redact(short(exc)) or type(exc).__name__) from exc
    return {a: describe(a, versions[held[a]]) if a in held else None for a in ALIASES}


async def read_aliases_async(
    registry: Registry, timeout: float
) -> dict[str, dict[str, str | None] | None]:
    """read_aliases off the event loop, bounded by `timeout` seconds (RegistryUnavailableError
    when it runs out: the thread finishes on its own, bounded by MLflow's HTTP timeout)."""
    pending = asyncio.get_running_loop().run_in_executor(_POOL, read_aliases, registry)
    try:
        return await asyncio.wait_for(pending, timeout)
    except TimeoutError:
        raise RegistryUnavailableError(f"no answer within {timeout:g} s") from None
