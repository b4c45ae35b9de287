"""Moving the champion against a real MLflow server: concurrent promotions, the compare-and-set,
previous-champion, rollback (CLI) and the lock's expiry. The gate is a stand-in (no training):
what is under test is who was judged against whom and where the aliases end up."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from mlflow.tracking import MlflowClient
from testkit import MlflowServer, last_json_line, start_mlflow

from churn_training import champion_alias
from churn_training.champion_alias import PromotionError, promote, version_of
from churn_training.promotion import GateDecision
from churn_training.registry_lock import LOCK_TAG, Lease, LockError
from churn_training.settings import TrainSettings

# One server for the module (a start costs 30-60 s here); every test has its own model name.


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    started = start_mlflow(tmp_path_factory.mktemp("mlflow-aliases"))
    yield started
    started.stop()


@pytest.fixture
def client(server: MlflowServer) -> MlflowClient:
    return MlflowClient(server.uri)


@pytest.fixture
def settings() -> TrainSettings:
    return TrainSettings(
        model_name=f"churn-{uuid.uuid4().hex[:8]}",
        promotion_lock_settle_seconds=0.3,
        promotion_lock_ttl_seconds=60,
        promotion_lock_timeout_seconds=60,
    )


def register(client: MlflowClient, name: str, count: int) -> list[str]:
    """`count` new versions (their artifacts are never read: the gate here is a stand-in)."""
    if not client.search_registered_models(f"name = '{name}'"):
        client.create_registered_model(name)
    return [
        str(client.create_model_version(name, source=f"s3://bucket/{name}/{uuid.uuid4()}").version)
        for _ in range(count)
    ]


def always_promote(judged: list[str | None], pause: float = 0.0):
    def judge(champion: str | None) -> GateDecision:
        judged.append(champion)
        time.sleep(pause)  # a real gate downloads and scores: widen the race window
        return GateDecision(True, f"judged against {champion}")

    return judge


def tags(client: MlflowClient, name: str, version: str) -> dict[str, str]:
    return client.get_model_version(name, version).tags


pytestmark = pytest.mark.integration


def test_concurrent_promotions_never_lose_an_update(
    client: MlflowClient, settings: TrainSettings, server: MlflowServer
) -> None:
    name = settings.model_name
    first, a, b = register(client, name, 3)
    promote(client, settings, first, always_promote([]), "setup")
    judged: dict[str, list[str | None]] = {a: [], b: []}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(version: str) -> None:
        try:
            barrier.wait()
            own = MlflowClient(server.uri)  # one client per thread, as two trainers would
            promote(own, settings, version, always_promote(judged[version], 1.0), version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(v,)) for v in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    champion = version_of(client, name, settings.champion_alias)
    assert champion in (a, b)
    middle = b if champion == a else a
    # The later promotion was judged against the earlier one's model, not the stale champion.
    assert judged[middle] == [first] and judged[champion] == [middle]
    assert version_of(client, name, settings.previous_champion_alias) == middle
    assert tags(client, name, champion)["replaced_champion"] == middle
    assert tags(client, name, middle)["replaced_champion"] == first
    assert tags(client, name, middle)["replaced_by"] == champion
    assert tags(client, name, champion)["champion_set_by"] == champion  # the holder string
    assert LOCK_TAG not in client.get_registered_model(name).tags


def test_a_champion_moved_behind_the_lock_is_judged_again(
    client: MlflowClient, settings: TrainSettings
) -> None:
    name = settings.model_name
    first, intruder, mine = register(client, name, 3)
    promote(client, settings, first, always_promote([]), "setup")
    judged: list[str | None] = []

    def judge(champion: str | None) -> GateDecision:
        judged.append(champion)
        if len(judged) == 1:  # someone ignores the lock and moves the alias during our gate
            client.set_registered_model_alias(name, settings.champion_alias, intruder)
        return GateDecision(champion == intruder, f"judged against {champion}")

    move = promote(client, settings, mine, judge, "me")
    assert judged == [first, intruder]
    assert move.promoted and move.previous_champion == intruder
    assert version_of(client, name, settings.previous_champion_alias) == intruder


def test_a_model_that_loses_the_gate_is_challenger_and_moves_nothing(
    client: MlflowClient, settings: TrainSettings
) -> None:
    name = settings.model_name
    first, second = register(client, name, 2)
    promote(client, settings, first, always_promote([]), "setup")
    move = promote(client, settings, second, lambda c: GateDecision(False, "worse"), "me")
    assert not move.promoted and move.alias == settings.challenger_alias
    assert version_of(client, name, settings.champion_alias) == first
    assert version_of(client, name, settings.challenger_alias) == second
    assert version_of(client, name, settings.previous_champion_alias) is None


def test_rollback_and_rollback_of_the_rollback(
    client: MlflowClient,
    settings: TrainSettings,
    server: MlflowServer,
    train_cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = settings.model_name
    monkeypatch.setenv("CHURN_MODEL_NAME", name)
    monkeypatch.setenv("CHURN_PROMOTION_LOCK_SETTLE_SECONDS", "0.3")
    first, second = register(client, name, 2)
    promote(client, settings, first, always_promote([]), "setup")

    refused = train_cli("rollback", "--tracking-uri", server.uri)
    assert refused.returncode == 4 and "Traceback" not in refused.stderr
    assert f"nothing to roll back to: '{name}' has no 'previous-champion' alias" in refused.stderr

    promote(client, settings, second, always_promote([]), "setup")
    back = train_cli("rollback", "--tracking-uri", server.uri, "--reason", "bad calibration")
    assert back.returncode == 0, back.stderr[-2000:]
    result = last_json_line(back.stdout)
    assert result["command"] == "rollback" and result["model"] == name
    assert (result["champion"], result["previous_champion"]) == (first, second)
    assert version_of(client, name, settings.champion_alias) == first
    assert version_of(client, name, settings.previous_champion_alias) == second
    reason = tags(client, name, first)["champion_reason"]
    assert reason == f"rollback from version {second}: bad calibration"
    assert "churn-train rollback" in tags(client, name, first)["champion_set_by"]

    again = train_cli("--tracking-uri", server.uri, "rollback")  # the flag before the command
    assert again.returncode == 0, again.stderr[-2000:]
    assert version_of(client, name, settings.champion_alias) == second
    assert version_of(client, name, settings.previous_champion_alias) == first
    assert LOCK_TAG not in client.get_registered_model(name).tags


def test_rollback_of_an_unknown_model_is_refused(server: MlflowServer, train_cli) -> None:
    result = train_cli("rollback", "--tracking-uri", server.uri)  # telco-churn: never registered
    assert result.returncode == 4 and "telco-churn" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_crashed_holders_lease_expires_and_a_live_one_blocks(
    client: MlflowClient, settings: TrainSettings
) -> None:
    name = settings.model_name
    (first,) = register(client, name, 1)
    crashed = Lease("c0ffee", time.time() - 1, "crashed@host pid 1 churn-train run x")
    client.set_registered_model_tag(name, LOCK_TAG, crashed.render())
    assert promote(client, settings, first, always_promote([]), "me").promoted

    live = Lease("beef", time.time() + 600, "busy@host pid 2 churn-train run y")
    client.set_registered_model_tag(name, LOCK_TAG, live.render())
    quick = settings.model_copy(update={"promotion_lock_timeout_seconds": 1.0})
    with pytest.raises(LockError, match="locked for promotion by busy@host pid 2"):
        champion_alias.rollback(client, quick, "me", "test")
    assert client.get_registered_model(name).tags[LOCK_TAG] == live.render()


def test_rollback_with_no_champion_and_no_previous_is_refused(
    client: MlflowClient, settings: TrainSettings
) -> None:
    register(client, settings.model_name, 1)
    with pytest.raises(PromotionError, match="champion is not set"):
        champion_alias.rollback(client, settings, "me", "test")
