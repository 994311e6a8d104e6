"""Messages and signals for running executions (``send_message``, ``signal``, and the
message a stop sends to a waiting ``wait_for_message_tool`` call).

A message is queued and offered to the execution in one transaction, with the execution
row locked: if a ``wait_for_message_tool`` call waits, the same commit delivers it and
records the call's result (``server/message_queue.py``). Whichever replica takes the
request does the delivery, so no replica polls and no wake-up has to cross servers.
"""

from __future__ import annotations

import json
import time
from typing import Any

from agentspan.protocol.api import MAX_MESSAGE_KEY_CHARS, TERMINAL_STATUSES, MessageQueued
from agentspan.protocol.errors import ErrorCode, LimitInfo
from agentspan.server.driver import Driver, Effects
from agentspan.server.engine.message_waits import message_waits
from agentspan.server.engine.model import CallState, ExecState, MessageArrived, SignalSet, Stop
from agentspan.server.errors import InvalidState, QueueFull, ValidationFailed, not_found
from agentspan.server.service.limits import SETTINGS, Limits, utf8_len
from agentspan.server.service.principal import Principal
from agentspan.server.store.base import ExecutionRow, Tx

STOP_MESSAGE: dict[str, Any] = {"_signal": "stop"}
"""What a stop hands a waiting ``wait_for_message_tool`` call (as the reference's SDK does)."""


class Inbox:
    def __init__(self, driver: Driver, limits: Limits) -> None:
        self.driver = driver
        self.limits = limits

    async def send(
        self, principal: Principal, execution_id: str, message: Any, idempotency_key: str | None = None
    ) -> MessageQueued:
        """Queue ``message`` for the execution (404 unknown, 409 ended, 413 too large,
        429 too many queued); delivered at once if a call waits for it. A message sent
        again with the same ``idempotency_key`` is not queued again: the answer names the
        first one (``duplicate``), even after the execution ended."""
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_MESSAGE_KEY_CHARS:
            raise ValidationFailed(f"an idempotency key is 1 to {MAX_MESSAGE_KEY_CHARS} characters")
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        size = utf8_len(body)
        if size > self.limits.message_bytes:
            raise self.limits.exceeded("message_bytes", size, "message", f"the message has {size} bytes")
        async with self.driver.unit_of_work() as (tx, effects):
            row = await tx.get_execution(execution_id)  # locks it: the key is checked once
            sent = (
                None
                if row is None or idempotency_key is None
                else await tx.message_with_key(row.id, idempotency_key)
            )
            if sent is not None:
                return MessageQueued(execution_id=execution_id, seq=sent, duplicate=True)
            row = self._live(row, execution_id, "messages")
            seq = await self._queue(tx, row, body, message, effects, key=idempotency_key)
        return MessageQueued(execution_id=execution_id, seq=seq)

    async def signal(self, principal: Principal, execution_id: str, message: str) -> None:
        size = utf8_len(message)
        if size > self.limits.message_bytes:
            raise self.limits.exceeded("message_bytes", size, "message", f"the signal has {size} bytes")
        async with self.driver.unit_of_work() as (tx, effects):
            row = self._live(await tx.get_execution(execution_id), execution_id, "signals")
            await self.driver.apply_in(tx, row, SignalSet(message=message), effects)

    async def stop(self, principal: Principal, execution_id: str) -> None:
        """Stop gracefully; a ``wait_for_message_tool`` call waiting then gets the stop
        message, so the turn can end (in the same transaction as the stop)."""
        async with self.driver.unit_of_work() as (tx, effects):
            row = await tx.get_execution(execution_id)
            if row is None:
                raise not_found(execution_id)
            state = await self.driver.apply_in(tx, row, Stop(), effects)
            if not state.terminal and message_waits(_calls(state)):
                body = json.dumps(STOP_MESSAGE, separators=(",", ":"))
                await self._queue(tx, row, body, STOP_MESSAGE, effects, bounded=False)

    @staticmethod
    def _live(row: ExecutionRow | None, execution_id: str, what: str) -> ExecutionRow:
        """The execution (read with ``tx.get_execution``, which locks it: one writer per
        execution), if it still takes messages."""
        if row is None:
            raise not_found(execution_id)
        if row.status in TERMINAL_STATUSES:
            raise InvalidState(
                f"execution {execution_id!r} already ended ({row.status}); it takes no more {what}",
                ErrorCode.INVALID_STATE,
            )
        return row

    async def _queue(
        self,
        tx: Tx,
        row: ExecutionRow,
        body: str,
        message: Any,
        effects: Effects,
        *,
        bounded: bool = True,
        key: str | None = None,
    ) -> int:
        last, queued = await tx.inbox_counts(row.id)
        cap = self.limits.queued_messages
        if bounded and queued >= cap:
            limit = LimitInfo(
                name="queued_messages",
                setting=SETTINGS["queued_messages"],
                max=cap,
                actual=queued + 1,
                path="messages",
            )
            raise QueueFull(
                f"execution {row.id!r} already has {queued} messages waiting to be taken, this server's limit "
                f"(queued_messages; the operator sets it with {limit.setting}); retry once the agent took some",
                limit,
            )
        seq = last + 1
        await tx.put_message(row.id, seq, body, time.time(), key)
        await self.driver.apply_in(tx, row, MessageArrived(seq=seq, message=message), effects)
        return seq


def _calls(state: ExecState) -> list[CallState]:
    return [state.calls[i] for i in state.call_order]
