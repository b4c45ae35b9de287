"""The promotion lease lock on an in-memory registry and a fake clock (no server, no waiting)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from churn_training.registry_lock import LOCK_TAG, Lease, LockError, RegistryLock


class FakeRegistry:
    """The three tag calls the lock makes, on one registered model; `on_write` simulates rivals."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        self.on_write: Callable[[], None] | None = None
        self.before_write: Callable[[], None] | None = None

    def get_registered_model(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(tags=dict(self.tags))

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        if self.before_write is not None:
            self.before_write()  # may raise, as MLflow's store does when a rival inserted first
        self.tags[key] = value
        if self.on_write is not None:
            self.on_write()

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.tags.pop(key, None)


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_lock(registry: FakeRegistry, fake_time: FakeTime, holder: str = "me") -> RegistryLock:
    return RegistryLock(
        registry,  # type: ignore[arg-type]
        "telco-churn",
        holder,
        ttl=60,
        settle=2,
        timeout=30,
        clock=fake_time.clock,
        monotonic=fake_time.clock,
        sleep=fake_time.sleep,
    )


def test_a_free_lock_is_taken_and_released(registry: FakeRegistry, fake_time: FakeTime) -> None:
    lock = make_lock(registry, fake_time)
    with lock.held():
        lease = Lease.parse(registry.tags[LOCK_TAG])
        assert lease is not None and lease.holder == "me"
        assert lease.expires_at == pytest.approx(fake_time.now - 2 + 60)  # after the settle
        lock.ensure_held()
    assert LOCK_TAG not in registry.tags


def test_a_live_lease_blocks_until_the_timeout_naming_its_holder(
    registry: FakeRegistry, fake_time: FakeTime
) -> None:
    rival = Lease("f00dfeed" * 4, fake_time.now + 3600, "ci@runner pid 7 churn-train run abc")
    registry.tags[LOCK_TAG] = rival.render()
    started = fake_time.now
    with pytest.raises(LockError) as caught:
        make_lock(registry, fake_time).acquire()
    assert "locked for promotion by ci@runner pid 7 churn-train run abc" in str(caught.value)
    assert "lease f00dfeed" in str(caught.value) and "gave up after 30 s" in str(caught.value)
    assert 30 <= fake_time.now - started < 32
    assert registry.tags[LOCK_TAG] == rival.render()  # never overwritten


def test_an_expired_lease_is_taken_over(registry: FakeRegistry, fake_time: FakeTime) -> None:
    registry.tags[LOCK_TAG] = Lease("dead", fake_time.now - 1, "crashed").render()
    lease = make_lock(registry, fake_time).acquire()
    assert lease.holder == "me" and Lease.parse(registry.tags[LOCK_TAG]) == lease


def test_a_lease_that_expires_while_waiting_is_taken(
    registry: FakeRegistry, fake_time: FakeTime
) -> None:
    registry.tags[LOCK_TAG] = Lease("other", fake_time.now + 10, "slow").render()
    make_lock(registry, fake_time).acquire()
    lease = Lease.parse(registry.tags[LOCK_TAG])
    assert lease is not None and lease.holder == "me"


def test_a_rival_write_during_the_settle_time_wins(
    registry: FakeRegistry, fake_time: FakeTime
) -> None:
    """Both saw the lock free; the write that landed last is the one both read back."""
    rival = Lease("rival", fake_time.now + 3600, "the other trainer")

    def rival_writes_after_us() -> None:
        registry.on_write = None
        registry.tags[LOCK_TAG] = rival.render()

    registry.on_write = rival_writes_after_us
    with pytest.raises(LockError, match="locked for promotion by the other trainer"):
        make_lock(registry, fake_time).acquire()
    assert registry.tags[LOCK_TAG] == rival.render()


def test_a_write_slower_than_the_settle_time_is_not_trusted(
    registry: FakeRegistry, fake_time: FakeTime
) -> None:
    """A rival may have read back its own lease before our late write landed: that round is not
    trusted, and the next one settles for twice the slow gap instead of waiting out the TTL."""
    written: list[str] = []

    def slow_write() -> None:
        written.append(registry.tags[LOCK_TAG])
        fake_time.sleep(5)  # every write takes longer than the 2 s settle time

    registry.on_write = slow_write
    lock = make_lock(registry, fake_time)
    started = fake_time.now
    lease = lock.acquire()
    assert lease.holder == "me"
    assert len(written) == 2  # the first, untrusted lease was replaced, not claimed
    assert Lease.parse(written[0]).owner != lease.owner  # type: ignore[union-attr]
    assert lock.settle == 10
    assert fake_time.now - started < 60  # well inside the lease's TTL: no waiting it out


def test_a_rivals_lease_written_during_our_slow_round_still_wins(
    registry: FakeRegistry, fake_time: FakeTime
) -> None:
    """Raising the settle time never makes a rival's later write ours."""
    rival = Lease("rival", fake_time.now + 3600, "the other trainer")

    def slow_then_rival() -> None:
        fake_time.sleep(5)
        registry.on_write = None
        registry.tags[LOCK_TAG] = rival.render()

    registry.on_write = slow_then_rival
    with pytest.raises(LockError, match="locked for promotion by the other trainer"):
        make_lock(registry, fake_time).acquire()


def test_a_lost_lease_is_noticed_and_not_released(
    registry: FakeRegistry, fake_time: FakeTime
) -> None:
    lock = make_lock(registry, fake_time)
    lock.acquire()
    fake_time.sleep(61)  # our lease expired and someone else took it
    registry.tags[LOCK_TAG] = Lease("next", fake_time.now + 60, "next trainer").render()
    with pytest.raises(LockError, match="was lost; now held by next trainer"):
        lock.ensure_held()
    lock.release()
    assert "next" in registry.tags[LOCK_TAG]


def test_a_lease_about_to_expire_is_refused(registry: FakeRegistry, fake_time: FakeTime) -> None:
    lock = make_lock(registry, fake_time)
    lock.acquire()
    fake_time.sleep(57)
    with pytest.raises(LockError, match="expires in 1 s"):
        lock.ensure_held()


def test_lease_values_round_trip_and_garbage_blocks_nobody() -> None:
    lease = Lease("abc", 1234.5, "me@host pid 1 churn-train run x")
    assert Lease.parse(lease.render()) == lease
    assert Lease.parse("") is None and Lease.parse("no-expiry") is None


def test_losing_the_first_insert_race_waits_for_the_winner(
    registry: FakeRegistry, fake_time: FakeTime
) -> None:
    """Two first writers: MLflow answers the loser with an integrity error, not a lost update."""
    from mlflow.exceptions import MlflowException

    rival = Lease("feedf00d" * 4, fake_time.now + 5, "rival")

    def rival_inserts_first() -> None:
        registry.before_write = None
        registry.tags[LOCK_TAG] = rival.render()
        raise MlflowException("UNIQUE constraint failed: registered_model_tags.name")

    registry.before_write = rival_inserts_first
    lock = make_lock(registry, fake_time)
    with lock.held():  # the rival's lease expires after 5 s; then the lock is ours
        lease = Lease.parse(registry.tags[LOCK_TAG])
        assert lease is not None and lease.holder == "me"
    assert fake_time.now >= rival.expires_at


def test_a_failed_write_without_a_rival_is_a_real_error(
    registry: FakeRegistry, fake_time: FakeTime
) -> None:
    from mlflow.exceptions import MlflowException

    def refused() -> None:
        raise MlflowException("PERMISSION_DENIED: user api may not write")

    registry.before_write = refused
    with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
        make_lock(registry, fake_time).acquire()
