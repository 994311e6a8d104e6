"""The no-worker watchdog: reports worker tasks that nobody polls for.

A worker task waiting longer than ``no_worker_after_seconds`` for a tool whose name no
worker polled meanwhile is marked stalled, and its execution hears ``WorkerMissing``
(an event per tool and a status the user can see). When a worker shows up,
``TaskService`` clears it (``WorkerFound``).

Fairness: the work of a pass is bounded and shares the event loop. An execution's
stalled calls are reported in one step, whatever their number (a step of an execution
with thousands of calls costs about the same for one tool as for all of them: it reads
and writes the state document once), at most ``EXECUTIONS_PER_BATCH`` executions are
looked up at a time, and the loop yields between steps, so requests such as ``/health``
are served between them, and a shutdown cancels the loop at the next step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from agentspan.server.driver import Driver
from agentspan.server.engine.model import WorkerMissing
from agentspan.server.settings import Settings
from agentspan.server.store.base import ExecutionRow

log = logging.getLogger("agentspan.server")

EXECUTIONS_PER_BATCH = 50
"""Executions with stalled calls fetched per query."""
MAX_BATCHES_PER_PASS = 20
"""A pass reports at most this many batches; the rest waits for the next pass."""
TASKS_PER_STEP = 10_000
"""Stalled calls of one execution reported by one step (more go in the next)."""


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

    async def watch_once(self) -> int:
        """Report the worker tasks that waited too long for a worker: one step per
        execution, yielding between steps. Returns the number of steps taken."""
        now = time.time()
        since = now - self.settings.no_worker_after_seconds
        steps = 0
        for _ in range(MAX_BATCHES_PER_PASS):
            executions = await self.driver.store.stalled_executions(since, since, EXECUTIONS_PER_BATCH)
            for execution_id in executions:
                await self._report(execution_id, since, now)
                steps += 1
                await asyncio.sleep(0)  # let requests in between steps
            if len(executions) < EXECUTIONS_PER_BATCH:
                break
        return steps

    async def _report(self, execution_id: str, since: float, now: float) -> None:
        """Mark one execution's stalled calls and tell it, in one transaction."""
        known = await self.driver.store.get_execution(execution_id)
        note = ""
        if known is not None:
            # Parse its spec (first use since a restart) before the step, with a turn for
            # requests in between: for thousands of tools each costs a good part of a second.
            await self.driver.spec_of(known)
            note = await self._older_version(known)
            await asyncio.sleep(0)
        async with self.driver.unit_of_work() as (tx, effects):
            tasks = await tx.stalled_tasks_of(execution_id, since, since, TASKS_PER_STEP)
            if not tasks:
                return  # a worker claimed them meanwhile
            await tx.mark_stalled([task.id for task in tasks])
            row = await tx.get_execution(execution_id)
            if row is None:
                return
            names = list(dict.fromkeys(task.name for task in tasks))
            oldest = min(task.available_at for task in tasks)
            missing = WorkerMissing(tool_names=names, waited_seconds=now - oldest, note=note)
            await self.driver.apply_in(tx, row, missing, effects)

    async def _older_version(self, row: ExecutionRow) -> str:
        """What to say when the run was started from a deployed version that is no longer
        the latest: the workers serving the latest definition may not serve its tools."""
        store = self.driver.store
        root = row if row.parent_id is None else await store.get_execution(row.root_id)
        if root is None:
            return ""
        versions = await store.deployment_versions(root.agent_name)
        mine = next((v for v in versions if v.spec_hash == root.spec_hash), None)
        if mine is None or mine.version == versions[0].version:
            return ""
        return (
            f"This execution runs version {mine.version} of deployed agent '{root.agent_name}' "
            f"(latest: {versions[0].version}): serve version {mine.version}'s tools, or cancel it."
        )
