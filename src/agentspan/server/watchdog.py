"""The no-worker watchdog: reports worker tasks that nobody polls for.

A worker task waiting longer than ``no_worker_after_seconds`` for a tool whose name no
worker polled meanwhile is marked stalled, and its execution hears ``WorkerMissing``
(an event and a status the user can see). When a worker shows up, ``TaskService``
clears it (``WorkerFound``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from agentspan.server.driver import Driver
from agentspan.server.engine.model import WorkerMissing
from agentspan.server.settings import Settings

log = logging.getLogger("agentspan.server")


class Watchdog:
    def __init__(self, driver: Driver, settings: Settings) -> None:
        self.driver = driver
        self.settings = settings
        self._loop: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.create_task(self._watch_loop(), name="agentspan-watchdog")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop
            self._loop = None

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.watchdog_interval_seconds)
            try:
                await self.watch_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watchdog error")

    async def watch_once(self) -> None:
        """Report every worker task that waited too long for a worker (one step each)."""
        now = time.time()
        window = self.settings.no_worker_after_seconds
        candidates = await self.driver.store.stalled_candidates(now - window, now - window)
        for task in candidates:
            async with self.driver.unit_of_work() as (tx, effects):
                await tx.mark_stalled([task.id])
                row = await tx.get_execution(task.execution_id)
                if row is not None:
                    waited = now - task.available_at
                    missing = WorkerMissing(tool_name=task.name, waited_seconds=waited)
                    await self.driver.apply_in(tx, row, missing, effects)
