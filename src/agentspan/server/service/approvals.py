"""The approvals inbox: every execution that waits for a person, across agents.

Waiting is not a status of its own (a waiting execution is ``RUNNING``; why it waits is
in its state), so the inbox walks the running executions newest first, in keyset batches,
and keeps those whose status names a pending question (an approval, a ``human`` tool's
form, a manual team's choice or a ``human`` guardrail). Running executions are few next to
ended ones, so the walk is short; each request still looks at no more than ``SCAN_LIMIT``
rows and hands back a cursor to go on from.
"""

from __future__ import annotations

from agentspan.protocol.api import WaitingExecution, WaitingList
from agentspan.server.service.queries import list_cursor, status_view
from agentspan.server.store.base import ExecutionRow, Store

SCAN_LIMIT = 2000
"""Rows one inbox request reads at most (a bound on its cost, whatever the backlog)."""
_BATCH = 200


def waiting_entry(row: ExecutionRow) -> WaitingExecution | None:
    """The inbox entry of ``row``; ``None`` when it waits for no person."""
    status = status_view(row)
    if not status.is_waiting or status.pending_tool is None:
        return None
    return WaitingExecution(
        execution_id=row.id,
        agent_name=row.agent_name,
        parent_execution_id=row.parent_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        waiting_reason=status.waiting_reason,
        pending_tool=status.pending_tool,
    )


async def waiting_list(store: Store, *, size: int, cursor: tuple[float, str] | None) -> WaitingList:
    """Up to ``size`` waiting executions older than ``cursor``, newest first."""
    found: list[WaitingExecution] = []
    scanned = 0
    while scanned < SCAN_LIMIT:
        _, rows = await store.list_executions(
            status="RUNNING",
            agent_name=None,
            parent_id=None,
            roots_only=False,
            limit=min(_BATCH, SCAN_LIMIT - scanned),
            offset=0,
            before=cursor,
        )
        for row in rows:
            scanned += 1
            cursor = (row.created_at, row.id)
            entry = waiting_entry(row)
            if entry is not None:
                found.append(entry)
                if len(found) == size:
                    return WaitingList(results=found, next_cursor=list_cursor(row))
        if len(rows) < _BATCH:
            return WaitingList(results=found)
    last = f"{cursor[0]!r}:{cursor[1]}" if cursor else None
    return WaitingList(results=found, next_cursor=last)
