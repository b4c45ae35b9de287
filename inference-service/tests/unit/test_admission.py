"""churn_api.admission: a bounded number of heavy requests at once, 429 beyond; the default
bound from the cores and the memory of the cgroup."""

from __future__ import annotations

import asyncio
import threading

import pytest
from fastapi import HTTPException

from churn_api import admission
from churn_api.admission import Admission, default_limit


def test_beyond_the_limit_is_429_with_retry_after_and_a_slot_frees() -> None:
    gate = threading.Event()

    async def scenario() -> None:
        heavy = Admission(2)
        first = asyncio.create_task(heavy.run(gate.wait, 10))
        second = asyncio.create_task(heavy.run(gate.wait, 10))
        await asyncio.sleep(0.05)
        assert heavy.in_flight == 2
        with pytest.raises(HTTPException) as caught:
            await heavy.run(lambda: None)
        assert caught.value.status_code == 429
        assert caught.value.headers == {"Retry-After": "1"}
        assert "MAX_CONCURRENT_BATCHES" in caught.value.detail[0]["message"]
        gate.set()
        assert await first and await second
        assert heavy.in_flight == 0
        assert await heavy.run(lambda x: x + 1, 1) == 2
        assert heavy.rejected == 1
        heavy.shutdown()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("cores", "memory_mb", "expected"),
    [
        (1.0, 1024.0, 2),  # ECS: 1 vCPU, 1 GiB -> cores decide
        (4.0, 1024.0, 3),  # memory decides: (512 - 300) // 64
        (0.5, 512.0, 1),  # never below one
        (2.0, None, 4),  # no memory limit (a laptop)
    ],
)
def test_default_limit_follows_cores_and_memory(
    monkeypatch: pytest.MonkeyPatch, cores: float, memory_mb: float | None, expected: int
) -> None:
    monkeypatch.setattr(admission, "cgroup_cores", lambda: cores)
    monkeypatch.setattr(admission, "memory_limit_mb", lambda: memory_mb)
    assert default_limit(64) == expected
