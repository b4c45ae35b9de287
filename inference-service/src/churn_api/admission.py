"""Admission control for heavy requests (batches, and /predict bodies over INLINE_BODY_BYTES).

At most MAX_CONCURRENT_BATCHES run at once, each on a thread of this module's own pool (not
the 40 threads of the default one: fewer threads touching big objects, fewer malloc arenas);
one more is answered 429 with Retry-After at once, never queued. The default bound follows
the cores and the memory this process may use (cgroup limits, as in an ECS task).
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from fastapi import HTTPException

T = TypeVar("T")
BASELINE_MB = 300  # the API's resident memory with a trained model loaded, idle (measured)
MEMORY_SHARE = 0.5  # of the task's memory, for everything (baseline included)
RETRY_AFTER_SECONDS = 1


def cgroup_cores() -> float | None:
    """CPU quota of this cgroup (v2 cpu.max or v1 cfs), if any."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_v1 = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period_v1 = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_v1 / period_v1 if quota_v1 > 0 else None


def memory_limit_mb() -> float | None:
    """Memory limit of this cgroup (v2 memory.max or v1), if any."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # v1 says "no limit" with a huge number
            return int(text) / 2**20
    return None


def default_limit(batch_memory_mb: int) -> int:
    """Two heavy requests per core, fewer if their measured peak would pass half the memory."""
    cores = cgroup_cores() or len(os.sched_getaffinity(0))
    limit = max(1, math.ceil(cores * 2))
    memory = memory_limit_mb()
    if memory is not None:
        by_memory = int((memory * MEMORY_SHARE - BASELINE_MB) // batch_memory_mb)
        limit = min(limit, max(1, by_memory))
    return limit


class Admission:
    """A non-blocking counter of heavy requests in flight, and the threads that run them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0  # touched on the event loop only: no lock
        self.rejected = 0
        self.executor = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="heavy")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) on a heavy-request thread, or 429 if `limit` are already running."""
        if self.in_flight >= self.limit:
            self.rejected += 1
            raise HTTPException(
                429,
                detail=[
                    {
                        "field": "body",
                        "message": f"{self.limit} batches already in flight"
                        f" (MAX_CONCURRENT_BATCHES); retry in {RETRY_AFTER_SECONDS} s",
                    }
                ],
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        finally:
            self.in_flight -= 1

    def shutdown(self) -> None:
        """Let running work finish; start no more."""
        self.executor.shutdown(wait=False, cancel_futures=True)
