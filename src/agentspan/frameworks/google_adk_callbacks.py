"""Google ADK agent and tool callbacks as Agentspan lifecycle hooks.

``before_agent_callback`` / ``after_agent_callback`` become the native agent's
``before_agent`` / ``after_agent`` hooks, ``before_tool_callback`` / ``after_tool_callback``
its ``before_tool`` / ``after_tool`` hooks: each is a worker task of the process that
started the run, recorded once as a ``callback`` event (docs/sdk.md#callbacks). The ADK
callback gets a real ``CallbackContext`` / ``ToolContext`` over the run's state; changes it
makes to the state are sent back with its answer. What it returns takes effect as in ADK:
a ``Content`` from an agent callback is the agent's answer (before: the agent does not
run), a dict from a tool callback is the tool's result (before: the tool does not run).

Model callbacks are refused by the adapter: an ADK ``LlmRequest`` / ``LlmResponse`` cannot
be rebuilt faithfully from what the server sends a hook.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from agentspan._core.tool import ToolContext
from agentspan.agents.callback import CallbackHandler

__all__ = ["adk_hooks"]

Invocation = Callable[[Any, dict[str, Any], str], Any]
"""``(owner agent, state, invocation id) -> InvocationContext`` (built by the adapter)."""


def _callbacks(value: Any) -> list[Callable[..., Any]]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _settled(value: Any) -> Any:
    # Hooks run in a worker thread (they are sync functions), so an async ADK callback
    # gets an event loop of its own here.
    if inspect.isawaitable(value):

        async def wait() -> Any:
            return await value

        return asyncio.run(wait())
    return value


def _text(content: Any) -> str:
    parts = getattr(content, "parts", None) or []
    return "".join(part.text for part in parts if getattr(part, "text", None))


def _first(callbacks: list[Callable[..., Any]], **arguments: Any) -> Any:
    """ADK's chaining: callbacks run in order until one returns something."""
    for callback in callbacks:
        answer = _settled(callback(**arguments))
        if answer is not None:
            return answer
    return None


def _sync_state(context: ToolContext, invocation: Any, delta: dict[str, Any]) -> None:
    context.state.update(invocation.session.state)
    context.state.update(delta)


def adk_hooks(
    source: Any,
    tools: dict[str, Any],
    invocation: Invocation,
    callback_context: Callable[[Any], Any],
    tool_context: Callable[..., Any],
) -> CallbackHandler | None:
    """A handler running the ADK agent ``source``'s agent and tool callbacks (``None``
    when it has none); ``tools`` maps tool names to the ADK tool objects the tool callbacks
    are given."""
    methods: dict[str, Any] = {}
    for position, method in (("before_agent", "on_agent_start"), ("after_agent", "on_agent_end")):
        callbacks = _callbacks(getattr(source, f"{position}_callback", None))
        if callbacks:
            methods[method] = _agent_hook(callbacks, source, invocation, callback_context)
    methods.update(_tool_methods(source, tools, invocation, tool_context))
    if not methods:
        return None
    handler_class = type(f"{source.name}_adk_callbacks", (CallbackHandler,), methods)
    handler: CallbackHandler = handler_class()
    return handler


def _agent_hook(
    callbacks: list[Callable[..., Any]],
    source: Any,
    invocation: Invocation,
    callback_context: Callable[[Any], Any],
) -> Callable[..., Any]:
    def hook(self: Any, *, context: ToolContext, **_: Any) -> dict[str, Any] | None:
        built = invocation(source, context.state, context.execution_id)
        ctx = callback_context(built)
        answer = _first(callbacks, callback_context=ctx)
        _sync_state(context, built, ctx.actions.state_delta)
        return None if answer is None else {"response": _text(answer)}

    return hook


def _tool_methods(
    source: Any, tools: dict[str, Any], invocation: Invocation, tool_context: Callable[..., Any]
) -> dict[str, Any]:
    before = _callbacks(getattr(source, "before_tool_callback", None))
    after = _callbacks(getattr(source, "after_tool_callback", None))

    def call(
        context: ToolContext, tool_name: str, arguments: dict[str, Any], call_id: str, **extra: Any
    ) -> Any:
        built = invocation(source, context.state, context.execution_id)
        ctx = tool_context(built, function_call_id=call_id)
        common = {"tool": tools.get(tool_name), "args": dict(arguments or {}), "tool_context": ctx}
        if "response" in extra:
            answer = _first(after, **common, tool_response=extra["response"])
        else:
            answer = _first(before, **common)
            if answer is not None and after:
                # ADK runs the after-tool callbacks on a before-tool callback's answer too
                # (Agentspan's after_tool hook does not run when before_tool answered).
                altered = _first(after, **common, tool_response=answer)
                answer = answer if altered is None else altered
        _sync_state(context, built, ctx.actions.state_delta)
        return None if answer is None else {"result": answer}

    methods: dict[str, Any] = {}
    if before:

        def on_tool_start(self: Any, *, context: ToolContext, **kwargs: Any) -> Any:
            return call(
                context, kwargs.get("tool_name", ""), kwargs.get("arguments") or {}, kwargs.get("call_id", "")
            )

        methods["on_tool_start"] = on_tool_start
    if after:

        def on_tool_end(self: Any, *, context: ToolContext, **kwargs: Any) -> Any:
            result = kwargs.get("result", kwargs.get("error"))
            response = result if isinstance(result, dict) else {"result": result}  # ADK's shape
            return call(
                context,
                kwargs.get("tool_name", ""),
                kwargs.get("arguments") or {},
                kwargs.get("call_id", ""),
                response=response,
            )

        methods["on_tool_end"] = on_tool_end
    return methods
