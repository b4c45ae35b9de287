"""A lease lock held as a registered-model tag, so promotions and rollbacks run one at a time.

MLflow has no lock or compare-and-set primitive; a tag write is a last-writer-wins upsert. The
lease (`promotion_lock` = `<owner>:<expiry epoch>:<holder>`) is taken by read, write, settle,
read back: two contenders that both saw the lock free both write, and after the settle time
each reads the one write that landed last, so only its writer proceeds. That holds as long as
each contender's read-to-write gap is shorter than the settle time, which `acquire` measures:
a round slower than that is not trusted, and the next round settles for twice the slowest gap
seen (a registry behind basic auth on a busy machine takes seconds per tag call). A lease this
lock wrote in an untrusted round blocks nobody but is replaced: a rival that read back its own
lease before our late write landed has already lost its lease, which `ensure_held` tells it
before any write. An owner that dies leaves a lease that expires after the TTL.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

LOCK_TAG = "promotion_lock"
POLL_SECONDS = 1.0


class LockError(Exception):
    """The lock could not be taken in time, or was lost; the message names the holder."""


@dataclass(frozen=True)
class Lease:
    """One parsed lock tag value."""

    owner: str
    expires_at: float
    holder: str

    @classmethod
    def parse(cls, value: str | None) -> Lease | None:
        """None for a missing or unreadable value (an unreadable lease blocks nobody)."""
        if not value:
            return None
        owner, _, rest = value.partition(":")
        expiry, _, holder = rest.partition(":")
        try:
            return cls(owner, float(expiry), holder)
        except ValueError:
            return None

    def render(self) -> str:
        return f"{self.owner}:{self.expires_at:.3f}:{self.holder}"

    def describe(self, now: float) -> str:
        left = self.expires_at - now
        return f"{self.holder or 'unknown'} (lease {self.owner[:8]}, {left:.0f} s left)"


def whoami(action: str) -> str:
    """`user@host pid N <action>`, recorded in the lease and in version tags."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the container's uid
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()} {action}".replace(":", "-")


class RegistryLock:
    """The promotion lease of one registered model (it must exist)."""

    def __init__(
        self,
        client: MlflowClient,
        model_name: str,
        holder: str,
        ttl: float,
        settle: float,
        timeout: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client, self.model_name, self.holder = client, model_name, holder
        self.ttl, self.settle, self.timeout = ttl, settle, timeout
        # Wall clock for lease expiry (shared with other machines), monotonic for durations.
        self._clock, self._monotonic, self._sleep = clock, monotonic, sleep
        self._lease: Lease | None = None
        self._written: set[str] = set()  # owners of the leases this lock wrote

    def current(self) -> Lease | None:
        tags = self.client.get_registered_model(self.model_name).tags
        return Lease.parse(tags.get(LOCK_TAG))

    def _try_once(self) -> Lease | None:
        """One read-write-settle-read round; the other holder's live lease if we lost."""
        started = self._monotonic()
        seen, now = self.current(), self._clock()
        if seen is not None and seen.expires_at > now and seen.owner not in self._written:
            return seen
        mine = Lease(uuid.uuid4().hex, now + self.ttl, self.holder)
        self._written.add(mine.owner)
        try:
            self.client.set_registered_model_tag(self.model_name, LOCK_TAG, mine.render())
        except MlflowException:
            # MLflow's tag upsert reads, then inserts: two first writers race inside its store
            # and the loser gets an integrity error. Then a rival's live lease is there to wait
            # for; without one the failure is real.
            rival = self.current()
            if rival is not None and rival.expires_at > self._clock():
                return rival
            raise
        write_gap = self._monotonic() - started
        self._sleep(self.settle)
        after = self.current()
        if after is not None and after.owner == mine.owner and write_gap < self.settle:
            self._lease = mine
            return None
        if write_gap >= self.settle:
            # Not trusted: a rival may have read back its own lease before this write landed.
            # Settle longer from now on (bounded, so a lease can still be held for its work).
            self.settle = min(2 * write_gap, self.ttl / 4)
        return after or mine

    def acquire(self) -> Lease:
        deadline = self._monotonic() + self.timeout
        while True:
            holder = self._try_once()
            if holder is None and self._lease is not None:
                return self._lease
            if self._monotonic() >= deadline:
                assert holder is not None
                raise LockError(
                    f"registered model {self.model_name!r} is locked for promotion by "
                    f"{holder.describe(self._clock())}; gave up after {self.timeout:.0f} s "
                    f"(tag {LOCK_TAG!r})"
                )
            self._sleep(POLL_SECONDS)

    def ensure_held(self, margin: float = 5.0) -> None:
        """Before a write that needs the lock: it is still ours and will not expire meanwhile."""
        seen, now = self.current(), self._clock()
        if self._lease is None or seen is None or seen.owner != self._lease.owner:
            taken = f"; now held by {seen.describe(now)}" if seen else ""
            raise LockError(f"the promotion lock of {self.model_name!r} was lost{taken}")
        if seen.expires_at - now < margin:
            raise LockError(
                f"the promotion lock of {self.model_name!r} expires in "
                f"{seen.expires_at - now:.0f} s (TTL {self.ttl:.0f} s is too short)"
            )

    def release(self) -> None:
        """Delete the tag if it is still ours (a lease taken over after expiry is left alone)."""
        seen = self.current()
        if self._lease is not None and seen is not None and seen.owner == self._lease.owner:
            self.client.delete_registered_model_tag(self.model_name, LOCK_TAG)
        self._lease = None

    @contextmanager
    def held(self) -> Iterator[RegistryLock]:
        self.acquire()
        try:
            yield self
        finally:
            self.release()
