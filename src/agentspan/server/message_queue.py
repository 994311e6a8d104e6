"""Delivering queued messages to ``wait_for_message_tool`` calls (the driver's side).

``PullMessages`` is answered inside the transaction of the step that issued it: the
oldest queued messages are marked delivered to the call and its ``ToolSucceeded`` is
applied as the next step of the same transaction. There is no task and no lease: a
crash before the commit loses both (the call still waits, the messages are still
queued); after it, both are recorded.
"""

from __future__ import annotations

import json

from agentspan.server.engine.message_waits import delivered
from agentspan.server.engine.model import PullMessages, ToolSucceeded
from agentspan.server.store.base import Tx


async def pull(tx: Tx, execution_id: str, cmd: PullMessages, now: float) -> ToolSucceeded | None:
    """The call's result if it takes messages now (or takes none without blocking)."""
    bodies = await tx.take_messages(execution_id, cmd.call_id, cmd.batch_size, now)
    if not bodies and cmd.blocking:
        return None
    return ToolSucceeded(call_id=cmd.call_id, output=delivered([json.loads(b) for b in bodies]))
