"""``AgentHandle``: a live execution addressed by id, from any process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentspan.agents._stream import AgentStream, AsyncAgentStream

if TYPE_CHECKING:
    # Types only: the runtime imports this module and hands itself to every handle.
    from agentspan.agents._result import AgentResult, AgentStatus
    from agentspan.agents._runtime import AgentRuntime


class AgentHandle:
    """Control one execution. Re-attach from another process with
    ``AgentHandle(execution_id="...", runtime=AgentRuntime())``."""

    def __init__(
        self,
        execution_id: str,
        runtime: AgentRuntime,
        correlation_id: str | None = None,
        run_id: str | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.runtime = runtime
        self.correlation_id = correlation_id
        self.run_id = run_id

    def __repr__(self) -> str:
        return f"AgentHandle(execution_id={self.execution_id!r})"

    # --- sync -----------------------------------------------------------------------------

    def get_status(self) -> AgentStatus:
        return self.runtime.get_status(self.execution_id)

    def respond(self, output: dict[str, Any]) -> None:
        self.runtime.respond(self.execution_id, output)

    def approve(self) -> None:
        self.runtime.approve(self.execution_id)

    def reject(self, reason: str = "") -> None:
        self.runtime.reject(self.execution_id, reason)

    def send(self, message: Any) -> None:
        self.runtime.respond(self.execution_id, {"message": message})

    def pause(self) -> None:
        self.runtime.pause(self.execution_id)

    def resume(self) -> None:
        self.runtime.resume(self.execution_id)

    def cancel(self, reason: str = "") -> None:
        self.runtime.cancel(self.execution_id, reason)

    def stop(self) -> None:
        self.runtime.stop(self.execution_id)

    def send_message(self, message: Any, *, idempotency_key: str | None = None) -> None:
        """Queue a message for this run's ``wait_for_message_tool`` calls (once per
        ``idempotency_key``)."""
        self.runtime.send_message(self.execution_id, message, idempotency_key=idempotency_key)

    def signal(self, message: str) -> None:
        self.runtime.signal(self.execution_id, message)

    def stream(self) -> AgentStream:
        return self.runtime.stream(handle=self)

    def join(self, timeout: float | None = None) -> AgentResult:
        """Wait for the execution to end and return its result (``TimeoutError`` on timeout)."""
        return self.runtime._join(self.execution_id, timeout)

    # --- async ----------------------------------------------------------------------------

    async def get_status_async(self) -> AgentStatus:
        return await self.runtime.get_status_async(self.execution_id)

    async def respond_async(self, output: dict[str, Any]) -> None:
        await self.runtime.respond_async(self.execution_id, output)

    async def approve_async(self) -> None:
        await self.runtime.approve_async(self.execution_id)

    async def reject_async(self, reason: str = "") -> None:
        await self.runtime.reject_async(self.execution_id, reason)

    async def send_async(self, message: Any) -> None:
        await self.runtime.respond_async(self.execution_id, {"message": message})

    async def pause_async(self) -> None:
        await self.runtime.pause_async(self.execution_id)

    async def resume_async(self) -> None:
        await self.runtime.resume_async(self.execution_id)

    async def cancel_async(self, reason: str = "") -> None:
        await self.runtime.cancel_async(self.execution_id, reason)

    async def stop_async(self) -> None:
        await self.runtime.stop_async(self.execution_id)

    async def send_message_async(self, message: Any, *, idempotency_key: str | None = None) -> None:
        await self.runtime.send_message_async(self.execution_id, message, idempotency_key=idempotency_key)

    async def signal_async(self, message: str) -> None:
        await self.runtime.signal_async(self.execution_id, message)

    def stream_async(self) -> AsyncAgentStream:
        return AsyncAgentStream(self, self.runtime)

    async def join_async(self, timeout: float | None = None) -> AgentResult:
        return await self.runtime._join_async(self.execution_id, timeout)
