"""The worker side of the task queue: long-poll, heartbeat, complete, fail.

Fencing: each claim gets a fresh ``lease_id``; only the holder of the current lease can
heartbeat, complete or fail the task. A worker whose lease expired and was handed to
another worker gets ``409 lease_lost`` and its result is discarded.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from agentspan.protocol.api import (
    TERMINAL_STATUSES,
    TaskAssignment,
    TaskContextWire,
    scoped_name,
    split_scope,
)
from agentspan.protocol.errors import ErrorCode
from agentspan.server.driver import Driver, Effects
from agentspan.server.engine.model import ToolFailed, ToolSucceeded, WorkerFound
from agentspan.server.errors import DomainError, InvalidState, LeaseLost, NotFound, ValidationFailed
from agentspan.server.observers import TaskClaimed, TaskFinished
from agentspan.server.service.principal import Principal
from agentspan.server.settings import Settings
from agentspan.server.store.base import TaskRow, Tx

_POLL_RECORD_INTERVAL = 2.0
_LEASE_SLACK = 0.05  # seconds a claimed lease may have aged before it is re-extended

_SHUTTING_DOWN = "the server is shutting down; poll again (it may be restarting)"


class TaskService:
    def __init__(self, driver: Driver, settings: Settings) -> None:
        self.driver = driver
        self.store = driver.store
        self.hub = driver.hub
        self.settings = settings
        self._last_recorded: dict[str, float] = {}

    async def _record_poll(self, names: list[str], worker_id: str, now: float) -> None:
        # Liveness is written at most every few seconds per name: it only has to beat
        # the no-worker timeout, and a write per poll would cost a transaction each.
        due = [n for n in names if now - self._last_recorded.get(n, 0.0) >= _POLL_RECORD_INTERVAL]
        if due:
            await self.store.record_poll(due, worker_id, now)
            for name in due:
                self._last_recorded[name] = now

    async def poll(
        self,
        principal: Principal,
        names: list[str],
        worker_id: str,
        count: int,
        wait_ms: int,
        gone: Callable[[], Awaitable[bool]] | None = None,
        domain: str | None = None,
    ) -> list[TaskAssignment]:
        """Claim up to ``count`` tasks, waiting up to ``wait_ms`` for one to appear.

        ``gone`` reports a disconnected client: a poller that went away must not be
        handed tasks it will never run (they would sit out a whole lease). ``domain``
        polls the queues of ``stateful`` tools scoped to that execution instead of the
        shared ones; once the execution ended there is nothing more to poll (409).
        """
        if not names:
            raise ValidationFailed("names: give at least one task name")
        if domain is not None:
            await self._check_scope(domain)
            names = [scoped_name(n, domain) for n in names]
        deadline = time.monotonic() + wait_ms / 1000
        keys = [f"task:{n}" for n in names]
        while True:
            if self.hub.closing():
                raise DomainError(_SHUTTING_DOWN, ErrorCode.SHUTTING_DOWN)
            if gone is not None and await gone():
                return []
            # Listen before claiming: a task queued while the claim or the next_due read
            # awaits the store must still wake this poll (else it sleeps out its wait).
            wake = self.hub.listen(keys)
            try:
                now = time.time()
                await self._record_poll(names, worker_id, now)
                assignments = await self._claim(names, worker_id, count)
                if assignments:
                    return assignments
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                next_due = await self.store.next_due("worker", names)
                if next_due is not None:
                    # Wake for a delayed retry or an expiring lease, whichever is first.
                    remaining = min(remaining, max(next_due - time.time(), 0.0) + 0.001)
                await self.hub.wait_for(wake, remaining)
            finally:
                self.hub.unlisten(keys, wake)

    async def _check_scope(self, domain: str) -> None:
        row = await self.store.get_execution(domain)
        if row is None or row.parent_id is not None:
            raise NotFound(
                f"no execution {domain!r} to poll for: a domain is the id of the execution that was started"
            )
        if row.status in TERMINAL_STATUSES:
            raise InvalidState(
                f"execution {domain!r} already ended ({row.status}); its stateful tools have no more tasks",
                ErrorCode.INVALID_STATE,
            )

    async def _claim(self, names: list[str], worker_id: str, count: int) -> list[TaskAssignment]:
        ttl = self.settings.worker_lease_seconds
        handed: list[TaskRow] = []
        # A task whose lease expired goes back through the engine (which records the loss
        # and re-queues it, or asks a human); then claim again for what is left. Each
        # loss is its own step, after the claim committed (the claim leased the task to
        # us, so nobody else takes it meanwhile), with a turn for other requests between
        # steps: a dead worker may have held many calls of a large execution.
        for _ in range(3):
            async with self.driver.unit_of_work() as (tx, effects):
                claimed = await tx.claim_tasks(
                    "worker", names, time.time(), count - len(handed), ttl, worker_id
                )
                await self._workers_found(tx, [t for t in claimed if t.stalled], effects)
                lost = [t for t in claimed if t.status == "leased"]
                fresh = [t for t in claimed if t.status != "leased"]
                if self.driver.observers is not None:
                    for task in fresh:
                        effects.note(_claimed(task, worker_id))
            handed.extend(fresh)
            for task in lost:
                await self._lease_lost(task)
                await asyncio.sleep(0)
            if not lost or len(handed) >= count:
                break
        # Re-queuing lost leases costs an engine step each, which on a loaded database
        # can take a good part of a short lease: a lease handed out must run from now,
        # not from when the claim began (else the worker loses it before its first
        # heartbeat, and the call runs twice).
        until = time.time() + ttl
        aged = [
            t for t in handed if t.lease_expires_at is not None and until - t.lease_expires_at > _LEASE_SLACK
        ]
        if aged:
            async with self.store.transaction() as tx:
                for task in aged:
                    await tx.extend_lease(task.id, task.lease_id or "", until)
                    task.lease_expires_at = until
        return [_assignment(task, ttl) for task in handed]

    async def _workers_found(self, tx: Tx, stalled: list[TaskRow], effects: Effects) -> None:
        """Someone polls these stalled calls' tools again: one ``WorkerFound`` step per
        execution for all of its tools (not a step per call, each reading and writing
        the whole state of an execution that may wait for thousands of calls)."""
        by_execution: dict[str, list[str]] = {}
        for task in stalled:
            by_execution.setdefault(task.execution_id, []).append(task.name)
        for execution_id, names in by_execution.items():
            row = await tx.get_execution(execution_id)
            if row is not None:
                found = WorkerFound(tool_names=list(dict.fromkeys(names)))
                await self.driver.apply_in(tx, row, found, effects)

    async def _lease_lost(self, task: TaskRow) -> None:
        """Hand a lost lease to the engine, in a step of its own (fenced by the lease our
        claim took: if it moved on meanwhile, someone else handled it)."""
        async with self.driver.unit_of_work() as (tx, effects):
            if await tx.take_task(task.id, task.lease_id or "") is None:
                return
            row = await tx.get_execution(task.execution_id)
            if row is not None:
                lost = ToolFailed(call_id=task.call_id, error="worker lost during the call", lease_lost=True)
                await self.driver.apply_in(tx, row, lost, effects)
            if self.driver.observers is not None:
                effects.note(_finished(task, "lease_lost", task.attempt - 1))  # the claim counted a new one

    async def heartbeat(self, principal: Principal, task_id: str, lease_id: str) -> int:
        ttl = self.settings.worker_lease_seconds
        async with self.store.transaction() as tx:
            ok = await tx.extend_lease(task_id, lease_id, time.time() + ttl)
        if not ok:
            raise _lease_lost(task_id)
        return int(ttl * 1000)

    async def complete(
        self,
        principal: Principal,
        task_id: str,
        lease_id: str,
        output: Any,
        state_updates: dict[str, Any] | None,
    ) -> None:
        await self._finish(
            task_id,
            lease_id,
            lambda t: ToolSucceeded(call_id=t.call_id, output=output, state_updates=state_updates),
        )

    async def fail(
        self, principal: Principal, task_id: str, lease_id: str, error: str, retryable: bool
    ) -> None:
        await self._finish(
            task_id, lease_id, lambda t: ToolFailed(call_id=t.call_id, error=error, retryable=retryable)
        )

    async def _finish(self, task_id: str, lease_id: str, make: Any) -> None:
        async with self.driver.unit_of_work() as (tx, effects):
            # A lease that merely expired, with nobody else holding the task yet, still
            # fences correctly: the lease id only changes when someone re-claims it.
            task = await tx.take_task(task_id, lease_id)
            if task is None:
                raise _lease_lost(task_id)
            row = await tx.get_execution(task.execution_id)
            result = make(task)
            if row is not None:
                await self.driver.apply_in(tx, row, result, effects)
            if self.driver.observers is not None:
                effects.note(_finished(task, "completed" if isinstance(result, ToolSucceeded) else "failed"))


def _claimed(task: TaskRow, claimed_by: str) -> TaskClaimed:
    return TaskClaimed(task.id, task.execution_id, task.kind, task.name, task.attempt, claimed_by)


def _finished(
    task: TaskRow, outcome: Literal["completed", "failed", "lease_lost"], attempt: int | None = None
) -> TaskFinished:
    attempt = task.attempt if attempt is None else attempt
    return TaskFinished(task.id, task.execution_id, task.kind, task.name, attempt, outcome)


def _lease_lost(task_id: str) -> LeaseLost:
    return LeaseLost(
        f"task {task_id!r} is no longer leased to you (the lease expired and moved, "
        "or the task was withdrawn); drop the result",
    )


def _assignment(task: TaskRow, ttl: float) -> TaskAssignment:
    body = json.loads(task.input)
    ctx = body.get("context", {})
    return TaskAssignment(
        task_id=task.id,
        name=split_scope(task.name)[0],  # the tool's own name, as the worker registered it
        execution_id=task.execution_id,
        input=body.get("args", {}),
        lease_id=task.lease_id or "",
        attempt=task.attempt,
        lease_ttl_ms=int(ttl * 1000),
        idempotency_key=task.idempotency_key,
        timeout_seconds=task.timeout_seconds,
        context=TaskContextWire(
            execution_id=task.execution_id,
            agent_name=ctx.get("agentName", ""),
            session_id=ctx.get("sessionId", ""),
            state=ctx.get("state", {}),
            metadata=ctx.get("metadata", {}),
            traceparent=ctx.get("traceparent"),
            credentials=ctx.get("credentials"),
        ),
    )
