"""Event streams: iterate an execution's events, then read its result."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from agentspan.agents._result import AgentEvent, AgentResult

if TYPE_CHECKING:
    from agentspan.agents._handle import AgentHandle
    from agentspan.agents._runtime import AgentRuntime
    from agentspan.client._sse import SSEMessage


class _StreamState:
    """What both stream flavours hold: the handle, the source, the events seen so far."""

    def __init__(self, handle: AgentHandle, runtime: AgentRuntime, after: int = 0) -> None:
        self.handle = handle
        self.events: list[AgentEvent] = []
        self.result: AgentResult | None = None
        self._runtime = runtime
        self._source: AsyncIterator[SSEMessage] = runtime._client.events(handle.execution_id, after)
        self._done = False

    @property
    def execution_id(self) -> str:
        return self.handle.execution_id


class AgentStream(_StreamState):
    """Synchronous iterator over an execution's events; ends after ``done``/``error``.

    A dropped connection resumes from the last event id, so no event is missed or
    repeated. After iteration, ``result`` holds the ``AgentResult``.
    """

    def __iter__(self) -> Iterator[AgentEvent]:
        return self

    def __next__(self) -> AgentEvent:
        if self._done:
            raise StopIteration
        try:
            message = self._runtime._loop.run(_next(self._source))
        except StopAsyncIteration:
            self._done = True
            self.result = self._runtime._result_of(self.execution_id, self.events)
            raise StopIteration from None
        event = AgentEvent.from_wire(message.event, message.data)
        self.events.append(event)
        return event

    def get_result(self) -> AgentResult:
        for _ in self:
            pass
        assert self.result is not None
        return self.result

    def respond(self, output: dict[str, Any]) -> None:
        self.handle.respond(output)

    def approve(self) -> None:
        self.handle.approve()

    def reject(self, reason: str = "") -> None:
        self.handle.reject(reason)

    def send(self, message: Any) -> None:
        self.handle.send(message)


class AsyncAgentStream(_StreamState):
    """``async for`` over an execution's events; then ``await get_result()``."""

    def __aiter__(self) -> AsyncIterator[AgentEvent]:
        return self

    async def __anext__(self) -> AgentEvent:
        if self._done:
            raise StopAsyncIteration
        try:
            message = await self._runtime._loop.run_async(_next(self._source))
        except StopAsyncIteration:
            self._done = True
            self.result = await self._runtime._loop.run_async(
                self._runtime._result_core(self.execution_id, self.events)
            )
            raise
        event = AgentEvent.from_wire(message.event, message.data)
        self.events.append(event)
        return event

    async def get_result(self) -> AgentResult:
        async for _ in self:
            pass
        assert self.result is not None
        return self.result

    async def respond(self, output: dict[str, Any]) -> None:
        await self.handle.respond_async(output)

    async def approve(self) -> None:
        await self.handle.approve_async()

    async def reject(self, reason: str = "") -> None:
        await self.handle.reject_async(reason)

    async def send(self, message: Any) -> None:
        await self.handle.send_async(message)


async def _next(source: AsyncIterator[SSEMessage]) -> SSEMessage:
    return await source.__anext__()
