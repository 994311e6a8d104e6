"""``McpToolExecutor``: calls of ``mcp`` tools, made by the server over the MCP SDK.

A call reads its tool from the execution's stored spec (expanded at start, so it names
the MCP server and the server's own tool name), resolves the ``${NAME}`` headers through
``ctx.secrets`` at that moment, and sends the call's idempotency key, attempt and
execution id in the request's ``_meta`` (``ai.agentspan/idempotencyKey``, ...), the same
key on every attempt, so an MCP server can recognise a repeat.

What the model sees: a structured result as JSON, else the text content; a result the
MCP server marks ``isError``, or a protocol error (unknown tool, bad arguments), is a
tool error given to the model at once (trying again would not help). A server that
cannot be reached is a retryable failure (the engine's backoff). A missing credential
is not retryable and names the credential, never a value.

Durability is the base class's and the engine's: the call runs under a lease; if this
server dies mid-call, the lease runs out and the engine re-runs the call with the same
key (``tool_retry``, counted in ``attempt``), or, for a tool marked ``retryable=False``,
waits for a human ("outcome unknown").
"""

from __future__ import annotations

from typing import Any

from agentspan.protocol.spec import McpTool
from agentspan.server.errors import McpServerNotAllowed
from agentspan.server.executors.base import ExecutorContext, MissingSecret
from agentspan.server.executors.mcp_client import McpFailure, McpRefused, McpUnavailable, call_tool
from agentspan.server.executors.tools import ToolCall, ToolCallError, ToolExecutor
from agentspan.server.service.mcp_discovery import McpDiscovery, resolve_endpoint

DEFAULT_CALL_TIMEOUT_SECONDS = 300.0
"""A call with no ``timeout_seconds`` of its own still ends (its lease keeps it alive)."""


class McpToolExecutor(ToolExecutor):
    kind = "mcp"
    concurrency = 32

    def __init__(self, discovery: McpDiscovery) -> None:
        self.discovery = discovery
        self.lease_seconds = discovery.settings.mcp_lease_seconds
        self.calls = 0
        """Calls sent to MCP servers by this process (tests read it)."""

    async def call(self, call: ToolCall, ctx: ExecutorContext) -> Any:
        tool = await _tool_of(call, ctx)
        try:
            endpoint = await resolve_endpoint(tool.config, ctx.settings, ctx.secrets, call.execution_id)
        except MissingSecret as exc:
            raise ToolCallError(f"tool '{call.name}' cannot run: {exc}", retryable=False) from None
        except McpServerNotAllowed as exc:  # the operator withdrew it since the start
            raise ToolCallError(exc.detail, retryable=False) from None
        meta = {
            "idempotencyKey": call.idempotency_key,
            "attempt": call.attempt,
            "executionId": call.execution_id,
        }
        timeout = call.timeout_seconds or DEFAULT_CALL_TIMEOUT_SECONDS
        self.calls += 1
        try:
            outcome = await call_tool(
                endpoint, tool.config.remote_name or tool.name, call.args, meta, timeout
            )
        except McpRefused as exc:
            self.discovery.forget(endpoint)  # the listing may be stale: list again next start
            raise ToolCallError(str(exc), retryable=False) from None
        except McpFailure as exc:
            self.discovery.forget(endpoint)
            raise ToolCallError(str(exc), retryable=True) from None
        except McpUnavailable as exc:
            raise ToolCallError(str(exc), retryable=False) from None
        if outcome.is_error:
            raise ToolCallError(endpoint.scrub(str(outcome.output)), retryable=False)
        return outcome.output


async def _tool_of(call: ToolCall, ctx: ExecutorContext) -> McpTool:
    row = await ctx.store.get_execution(call.execution_id)
    if row is None:
        raise ToolCallError(f"execution {call.execution_id} is gone", retryable=False)
    spec = await ctx.spec_of(row)
    for tool in spec.tools:
        if tool.name == call.name and isinstance(tool, McpTool):
            return tool
    raise ToolCallError(f"the agent has no MCP tool named '{call.name}'", retryable=False)
