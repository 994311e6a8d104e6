"""Rows and one-line transactions for the store contract tests (tests/contract/test_store*.py).

``execution``, ``task`` and ``event`` build rows with everyday defaults; ``add_executions``,
``add_tasks``, ``claim`` and ``get_task`` wrap one store transaction each.
"""

from __future__ import annotations

import json

from agentspan.server.store import EventRow, ExecutionRow, Store, TaskRow

SPEC_HASH = "a" * 64
LEASE = 30.0


def execution(
    execution_id: str,
    *,
    parent_id: str | None = None,
    agent_name: str = "assistant",
    status: str = "RUNNING",
    created_at: float = 1.0,
    idempotency_key: str | None = None,
    input: str = json.dumps({"prompt": "hello"}),
) -> ExecutionRow:
    return ExecutionRow(
        id=execution_id,
        parent_id=parent_id,
        root_id=parent_id or execution_id,
        agent_name=agent_name,
        spec_hash=SPEC_HASH,
        status=status,
        state=json.dumps({"turn": 0}),
        version=0,
        event_seq=0,
        created_at=created_at,
        updated_at=created_at,
        input=input,
        idempotency_key=idempotency_key,
        session_id="s1",
    )


def task(
    task_id: str,
    *,
    execution_id: str = "e1",
    kind: str = "worker",
    name: str = "lookup",
    available_at: float = 0.0,
    timeout_seconds: float | None = None,
) -> TaskRow:
    return TaskRow(
        id=task_id,
        execution_id=execution_id,
        kind=kind,
        name=name,
        call_id=f"call-{task_id}",
        input=json.dumps({"args": {"q": task_id}}),
        status="pending",
        attempt=0,
        lease_id=None,
        lease_expires_at=None,
        available_at=available_at,
        created_at=available_at,
        idempotency_key=f"{execution_id}:{task_id}",
        timeout_seconds=timeout_seconds,
    )


def event(execution_id: str, seq: int, type_: str = "thinking") -> EventRow:
    return EventRow(execution_id, seq, type_, json.dumps({"n": seq}), 100.0 + seq)


async def add_executions(store: Store, *rows: ExecutionRow) -> None:
    async with store.transaction() as tx:
        await tx.put_spec(SPEC_HASH, '{"name":"assistant"}')
        for row in rows:
            await tx.insert_execution(row)


async def add_tasks(store: Store, *tasks: TaskRow) -> None:
    async with store.transaction() as tx:
        for t in tasks:
            await tx.upsert_task(t)


async def claim(
    store: Store,
    now: float,
    *,
    kind: str = "worker",
    names: list[str] | None = None,
    count: int = 10,
    worker_id: str = "w1",
) -> list[TaskRow]:
    async with store.transaction() as tx:
        return await tx.claim_tasks(kind, names, now, count, LEASE, worker_id)


async def get_task(store: Store, task_id: str) -> TaskRow | None:
    async with store.transaction() as tx:
        return await tx.get_task(task_id)
