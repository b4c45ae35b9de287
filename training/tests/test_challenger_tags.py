"""A version the gate turns down gets `challenger` with when and why in version tags, as the
champion gets `champion_since`/`champion_reason` (the API's /monitoring/models reads them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from mlflow.tracking import MlflowClient

from churn_training.champion_alias import promote, version_of
from churn_training.promotion import GateDecision
from churn_training.settings import TrainSettings

pytestmark = pytest.mark.integration


def _versions(client: MlflowClient, name: str, count: int) -> list[str]:
    """`count` new versions of a fresh model (the gate is a stand-in: artifacts never read)."""
    client.create_registered_model(name)
    return [
        str(client.create_model_version(name, source=f"s3://bucket/{name}/{uuid.uuid4()}").version)
        for _ in range(count)
    ]


def test_a_turned_down_version_is_tagged_challenger_since_and_why(mlflow_server: str) -> None:
    client = MlflowClient(mlflow_server)
    settings = TrainSettings(
        model_name=f"churn-challenger-{uuid.uuid4().hex[:8]}",
        promotion_lock_settle_seconds=0.3,
    )
    name = settings.model_name
    first, second = _versions(client, name, 2)
    promote(client, settings, first, lambda _: GateDecision(True, "first model"), "setup")
    before = datetime.now(UTC).replace(microsecond=0)
    reason = "ROC-AUC worse than the champion " + "x" * 6000
    move = promote(client, settings, second, lambda _: GateDecision(False, reason), "me")
    after = datetime.now(UTC)

    assert move.alias == settings.challenger_alias
    assert version_of(client, name, settings.challenger_alias) == second
    tags = client.get_model_version(name, second).tags
    since = datetime.fromisoformat(tags["challenger_since"])
    assert since.tzinfo is not None and before <= since <= after + timedelta(seconds=1)
    assert since.microsecond == 0  # seconds, as champion_since
    assert tags["challenger_reason"] == reason[:5000]
    assert "champion_since" not in tags
    assert "challenger_since" not in client.get_model_version(name, first).tags
