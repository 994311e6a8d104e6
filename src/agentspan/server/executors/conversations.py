"""The conversations of recent model calls, kept between calls of the LLM executor."""

from __future__ import annotations

from collections import OrderedDict

from agentspan.protocol.messages import ChatMessage
from agentspan.server.store.base import Store


class ConversationCache:
    """The conversations of recent model calls, so each call reads only the messages
    added since the previous one instead of the whole history (which made a step's cost
    grow with the conversation). Messages are append-only and indexed, so a tail read is
    always right, also when another replica wrote the tail.

    Bounded by an estimate of the text it holds (``max_bytes``, default 8 MB): least
    recently used conversations are dropped first, and a conversation larger than the
    whole budget is not kept at all. Executions paused for a human sit at the cold end.
    """

    def __init__(self, max_bytes: int = 8 * 1024 * 1024) -> None:
        self._cache: OrderedDict[str, tuple[list[ChatMessage], int]] = OrderedDict()
        self._bytes = 0
        self.max_bytes = max_bytes

    async def get(self, store: Store, execution_id: str, count: int) -> list[ChatMessage]:
        messages, size = self._cache.pop(execution_id, ([], 0))
        self._bytes -= size
        if len(messages) > count:  # cannot happen with an append-only log; start over
            messages, size = [], 0
        if len(messages) < count:
            tail = await store.list_messages(execution_id, start=len(messages))
            messages = messages + tail
            size += sum(_estimated_bytes(m) for m in tail)
        if size <= self.max_bytes:
            self._cache[execution_id] = (messages, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._cache.popitem(last=False)
                self._bytes -= dropped
        return list(messages)  # the caller's own list; the dicts are shared, never changed

    def __contains__(self, execution_id: object) -> bool:
        return execution_id in self._cache

    def drop(self, execution_id: str) -> None:
        _, size = self._cache.pop(execution_id, ([], 0))
        self._bytes -= size

    @property
    def held_bytes(self) -> int:
        return self._bytes


def _estimated_bytes(message: ChatMessage) -> int:
    """Roughly what a message holds: its text and tool-call arguments, plus overhead."""
    size = 200 + len(str(message.get("content") or ""))
    if message["role"] == "assistant":
        for call in message.get("tool_calls") or ():
            size += 100 + len(call["arguments"])
    return size
