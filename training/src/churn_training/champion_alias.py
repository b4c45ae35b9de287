"""Move the champion alias safely: under the registry lock, compare-and-set on the version the
gate judged, `previous-champion` kept whenever the champion moves, and rollback to it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churn_training.promotion import GateDecision
from churn_training.registry_lock import RegistryLock
from churn_training.settings import TrainSettings

# The gate, given the champion's version (None: no champion yet).
Judge = Callable[[str | None], GateDecision]
MAX_GATE_ROUNDS = 3


class PromotionError(Exception):
    """The aliases could not be moved as asked; the message is for a person."""


@dataclass(frozen=True)
class AliasMove:
    """The aliases after a promotion or rollback, and why."""

    version: str
    alias: str
    promoted: bool
    reason: str
    champion: str | None
    previous_champion: str | None


def version_of(client: MlflowClient, model_name: str, alias: str) -> str | None:
    """The version an alias points to, or None when it is not set."""
    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def registry_lock(client: MlflowClient, settings: TrainSettings, holder: str) -> RegistryLock:
    return RegistryLock(
        client,
        settings.model_name,
        holder,
        ttl=settings.promotion_lock_ttl_seconds,
        settle=settings.promotion_lock_settle_seconds,
        timeout=settings.promotion_lock_timeout_seconds,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def move_champion(
    client: MlflowClient,
    settings: TrainSettings,
    new: str,
    old: str | None,
    holder: str,
    reason: str,
) -> None:
    """`champion` -> new, `previous-champion` -> old (set first: a crash in between leaves the
    champion in place and the previous alias correct), with who and why in version tags."""
    name = settings.model_name
    if old is not None:
        client.set_registered_model_alias(name, settings.previous_champion_alias, old)
        client.set_model_version_tag(name, old, "replaced_by", new)
        client.set_model_version_tag(name, old, "replaced_at", _now())
    client.set_registered_model_alias(name, settings.champion_alias, new)
    tags = {
        "champion_since": _now(),
        "champion_set_by": holder,
        "champion_reason": reason,
        "replaced_champion": old or "",
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, new, key, value[:5000])


def mark_challenger(
    client: MlflowClient, settings: TrainSettings, version: str, reason: str
) -> None:
    """`challenger` -> version, with when and why (the gate's reason) in version tags."""
    name = settings.model_name
    client.set_registered_model_alias(name, settings.challenger_alias, version)
    client.set_model_version_tag(name, version, "challenger_since", _now())
    client.set_model_version_tag(name, version, "challenger_reason", reason[:5000])


def promote(
    client: MlflowClient, settings: TrainSettings, version: str, judge: Judge, holder: str
) -> AliasMove:
    """Judge `version` against the champion and give it `champion` or `challenger`, serialised.

    The champion is read as a version number, judged, and read again right before the alias
    moves; if it changed meanwhile (a writer that ignored the lock), the gate runs again.
    """
    name = settings.model_name
    lock = registry_lock(client, settings, holder)
    with lock.held():
        for _ in range(MAX_GATE_ROUNDS):
            judged = version_of(client, name, settings.champion_alias)
            decision = judge(judged)
            lock.ensure_held()
            if version_of(client, name, settings.champion_alias) != judged:
                continue
            if decision.promoted:
                move_champion(client, settings, version, judged, holder, decision.reason)
                alias, previous = settings.champion_alias, judged
            else:
                mark_challenger(client, settings, version, decision.reason)
                alias = settings.challenger_alias
                previous = version_of(client, name, settings.previous_champion_alias)
            champion = version if decision.promoted else judged
            return AliasMove(version, alias, decision.promoted, decision.reason, champion, previous)
    raise PromotionError(
        f"the champion of {name!r} moved {MAX_GATE_ROUNDS} times while version {version} was "
        "judged; it was left without an alias"
    )


def rollback(client: MlflowClient, settings: TrainSettings, holder: str, reason: str) -> AliasMove:
    """Put `previous-champion` back as champion; the version it leaves becomes the previous one,
    so a second rollback undoes the first."""
    name = settings.model_name
    with registry_lock(client, settings, holder).held() as lock:
        current = version_of(client, name, settings.champion_alias)
        previous = version_of(client, name, settings.previous_champion_alias)
        if previous is None:
            raise PromotionError(
                f"nothing to roll back to: {name!r} has no {settings.previous_champion_alias!r} "
                f"alias (champion is {current or 'not set'})"
            )
        if previous == current:
            raise PromotionError(
                f"{settings.previous_champion_alias!r} and {settings.champion_alias!r} are both "
                f"version {current} of {name!r}: nothing to roll back"
            )
        lock.ensure_held()
        why = f"rollback from version {current or 'none'}: {reason}"
        move_champion(client, settings, previous, current, holder, why)
        if current is None:
            client.delete_registered_model_alias(name, settings.previous_champion_alias)
        return AliasMove(previous, settings.champion_alias, True, why, previous, current)
