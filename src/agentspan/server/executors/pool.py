"""The executor pool: runs every registered server-side kind under a lease.

For each kind it claims due tasks (up to the kind's concurrency), keeps their leases
while they run, and records each result through the engine in one transaction that also
deletes the task, fenced by the lease: a run whose lease was lost (it expired and
someone else claimed the task) has its result discarded. A store error while running or
recording leaves nothing half-done; the task is offered again a second later.

A task queued by this server while its kind has room never waits for a claim: the
driver writes it already leased to this pool and hands it over after commit
(``ServerRunner``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Literal

from agentspan.server.driver import Driver
from agentspan.server.engine.model import Input, LlmFailed, ToolFailed
from agentspan.server.executors.base import SERVER_WAKE_KEY, Executor, ExecutorContext, ExecutorRegistry, Job
from agentspan.server.observers import TaskClaimed, TaskFinished
from agentspan.server.store.base import TaskRow

log = logging.getLogger("agentspan.server")

_IDLE_WAKE_SECONDS = 30.0
_FULL_WAKE_FLOOR_SECONDS = 0.05
"""When a kind is full, its due tasks must not make the loop spin: a finished job wakes
it (see ``_job_done``), and this is the longest it then sleeps without one."""


class ExecutorPool:
    def __init__(self, driver: Driver, registry: ExecutorRegistry, ctx: ExecutorContext) -> None:
        self.driver = driver
        self.hub = driver.hub
        self.ctx = ctx
        self.instance_id = f"server-{uuid.uuid4().hex[:8]}"
        self._executors = {e.kind: e for e in registry.server_side()}
        self._running: dict[str, set[asyncio.Task[None]]] = {kind: set() for kind in self._executors}
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False
        self._starved = False

    async def start(self) -> None:
        self.driver.runner = self
        self._loop = asyncio.create_task(self._claim_loop(), name="agentspan-executors")

    async def stop(self) -> None:
        self._stopping = True
        if self.driver.runner is self:
            self.driver.runner = None
        jobs = [job for running in self._running.values() for job in running]
        tasks = [*([self._loop] if self._loop is not None else []), *jobs]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def executor(self, kind: str) -> Executor | None:
        return self._executors.get(kind)

    async def wait_idle(self, kind: str) -> None:
        """Wait until the tasks of this kind running now have finished (recorded or not)."""
        running = list(self._running.get(kind, ()))
        if running:
            await asyncio.wait(running)

    # --- ServerRunner: tasks handed over by the driver ----------------------------------

    def has_room(self, kind: str) -> bool:
        running = self._running.get(kind)
        return running is not None and not self._stopping and len(running) < self._executors[kind].concurrency

    def lease_seconds(self, kind: str) -> float:
        return self._executors[kind].lease_seconds

    def run_leased(self, job: Job) -> None:
        """Run a task leased to this server (claimed, or handed over by a committed step)."""
        executor = self._executors[job.task.kind]
        if self.driver.observers is not None:
            task = job.task
            self.driver.observers.publish(
                TaskClaimed(task.id, task.execution_id, task.kind, task.name, task.attempt, self.instance_id)
            )
        run = asyncio.create_task(self._run(executor, job))
        self._running[executor.kind].add(run)
        run.add_done_callback(self._job_done)

    def _job_done(self, run: asyncio.Task[None]) -> None:
        for running in self._running.values():
            running.discard(run)
        if self._starved:
            self.hub.notify(SERVER_WAKE_KEY)  # a slot is free again and tasks may be queued

    # --- claiming -----------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping:
            # Listen before claiming: a task queued while this loop is busy (or awaiting
            # the store) must still wake it.
            wake = self.hub.listen([SERVER_WAKE_KEY])
            try:
                await self._claim_once()
                await self.hub.wait_for(wake, await self._until_next_due())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("executor pool loop error; retrying in 1s")
                await asyncio.sleep(1.0)
            finally:
                self.hub.unlisten([SERVER_WAKE_KEY], wake)

    async def _claim_once(self) -> None:
        now = time.time()
        claimed: list[TaskRow] = []
        lost: list[TaskRow] = []
        starved = False
        async with self.driver.unit_of_work() as (tx, _effects):
            for kind, executor in self._executors.items():
                free = executor.concurrency - len(self._running[kind])
                if free <= 0:
                    starved = True
                    continue
                tasks = await tx.claim_tasks(kind, None, now, free, executor.lease_seconds, self.instance_id)
                # Took all the room there was: more may be waiting for a free slot.
                starved = starved or len(tasks) >= free
                for task in tasks:
                    if task.status == "leased" and not executor.reruns_lost_leases:
                        lost.append(task)
                    else:
                        claimed.append(task)
        self._starved = starved
        for task in claimed:
            self.run_leased(Job(task))
        for task in lost:
            await self._report_lost(task)
            await asyncio.sleep(0)  # one engine step each: let requests in between

    async def _report_lost(self, task: TaskRow) -> None:
        """A lease that expired mid-run goes through the engine, as a worker's does: it
        records the loss and re-queues the call (or asks a human, for a tool marked not
        retryable); the old run's result, if it ever comes, is fenced out. A step of its
        own after the claim committed (the claim leased the task to us, so nobody else
        takes it meanwhile; if the lease moved on anyway, whoever took it handled it)."""
        async with self.driver.unit_of_work() as (tx, effects):
            if await tx.take_task(task.id, task.lease_id or "") is None:
                return
            row = await tx.get_execution(task.execution_id)
            if row is not None:
                lost = ToolFailed(call_id=task.call_id, error="server lost during the call", lease_lost=True)
                await self.driver.apply_in(tx, row, lost, effects)
            if self.driver.observers is not None:
                lost_attempt = task.attempt - 1  # the claim that found the loss counted a new one
                effects.note(
                    TaskFinished(task.id, task.execution_id, task.kind, task.name, lost_attempt, "lease_lost")
                )

    async def _until_next_due(self) -> float:
        """Seconds until the earliest task of any kind falls due (or a lease expires)."""
        dues = [await self.ctx.store.next_due(kind, None) for kind in self._executors]
        next_due = min((due for due in dues if due is not None), default=None)
        timeout = _IDLE_WAKE_SECONDS if next_due is None else max(next_due - time.time(), 0.0) + 0.001
        if any(len(self._running[k]) >= e.concurrency for k, e in self._executors.items()):
            timeout = max(timeout, _FULL_WAKE_FLOOR_SECONDS)
        return min(timeout, _IDLE_WAKE_SECONDS)

    # --- running ------------------------------------------------------------------------

    async def _run(self, executor: Executor, job: Job) -> None:
        task = job.task
        heartbeat = asyncio.create_task(self._keep_lease(task, executor.lease_seconds))
        try:
            result = await executor.run(job, self.ctx)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the database, not the run, is at fault
            # A store read failed (e.g. a dropped connection): nothing was recorded, so
            # the task is simply tried again soon; the run must not fail for it.
            log.warning("running %s task %s failed; retrying", task.kind, task.id, exc_info=True)
            await self._retry_soon(task)
            return
        finally:
            heartbeat.cancel()
        if result is None:
            return
        try:
            await self._record(executor, job, result)
        except Exception:  # noqa: BLE001 - rolled back; the task is run again
            log.exception("recording the %s result for %s failed; retrying", task.kind, task.execution_id)
            await self._retry_soon(task)

    async def _record(self, executor: Executor, job: Job, result: Input) -> None:
        task = job.task
        async with self.driver.unit_of_work() as (tx, effects):
            if await tx.take_task(task.id, task.lease_id or "") is None:
                return  # the lease was lost and someone else took over; their result wins
            row = await tx.get_execution(task.execution_id)
            state = await self.driver.apply_in(tx, row, result, effects) if row is not None else None
            if self.driver.observers is not None:
                outcome: Literal["completed", "failed"] = (
                    "failed" if isinstance(result, ToolFailed | LlmFailed) else "completed"
                )
                effects.note(
                    TaskFinished(task.id, task.execution_id, task.kind, task.name, task.attempt, outcome)
                )
        executor.recorded(job, result, state)

    async def _retry_soon(self, task: TaskRow) -> None:
        """Let the task be claimed again in a second instead of after its whole lease."""
        try:
            async with self.ctx.store.transaction() as tx:
                await tx.extend_lease(task.id, task.lease_id or "", time.time() + 1.0)
        except Exception:  # noqa: BLE001 - still down: the lease expires on its own
            log.debug("could not shorten the lease of %s", task.id, exc_info=True)
        self.hub.notify(SERVER_WAKE_KEY)

    async def _keep_lease(self, task: TaskRow, ttl: float) -> None:
        while True:
            await asyncio.sleep(ttl / 3)
            async with self.ctx.store.transaction() as tx:
                if not await tx.extend_lease(task.id, task.lease_id or "", time.time() + ttl):
                    return
