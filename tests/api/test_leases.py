"""Leases handed to workers: a claim that takes long must not hand out an aged lease."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from agentspan.server.service.principal import ANONYMOUS
from agentspan.server.services import Services
from agentspan.server.settings import Settings
from agentspan.server.store.base import TaskRow
from agentspan.server.tasks import TaskService


def _task(task_id: str, *, leased: bool, now: float) -> TaskRow:
    return TaskRow(
        id=task_id,
        execution_id=f"exec-{task_id}",
        kind="worker",
        name="slow_tool",
        call_id=task_id,
        input='{"args": {}}',
        status="leased" if leased else "pending",
        attempt=1 if leased else 0,
        lease_id="old-lease" if leased else None,
        lease_expires_at=now - 1.0 if leased else None,  # expired a second ago
        available_at=now - 2.0,
        created_at=now - 2.0,
        idempotency_key=task_id,
    )


def test_a_slow_claim_hands_out_a_lease_that_runs_from_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-queuing lost leases inside the claim takes time (an engine step each, slow on a
    loaded database): the lease handed out must still be a whole lease from the moment
    the worker is answered, or it expires before the first heartbeat and the call runs
    twice (found by the recovery benchmark on PostgreSQL)."""
    ttl = 2.0

    async def scenario() -> tuple[float, float, list[Any]]:
        settings = Settings(
            data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'leases.db'}", worker_lease_seconds=ttl
        )
        services = await Services.start(settings)
        try:
            now = time.time()
            async with services.store.transaction() as tx:
                for n in range(3):
                    await tx.upsert_task(_task(f"lost{n}", leased=True, now=now))
                await tx.upsert_task(_task("fresh", leased=False, now=now))

            original = TaskService._lease_lost

            async def slow_lease_lost(self: TaskService, task: TaskRow) -> None:
                await asyncio.sleep(0.3)  # stands in for a slow engine step
                await original(self, task)

            monkeypatch.setattr(TaskService, "_lease_lost", slow_lease_lost)
            assignments = await services.tasks.poll(ANONYMOUS, ["slow_tool"], "w1", 10, 0)
            answered = time.time()
            rows = []
            async with services.store.transaction() as tx:
                for a in assignments:
                    rows.append(await tx.get_task(a.task_id))
            expires = rows[0].lease_expires_at if rows and rows[0] else 0.0
            return answered, float(expires or 0.0), [a.task_id for a in assignments]
        finally:
            await services.stop()

    answered, expires, handed = asyncio.run(scenario())
    assert handed == ["fresh"]
    assert expires >= answered + ttl - 0.1, f"lease had {expires - answered:.2f}s left of {ttl}s"
