"""Google ADK agent and tool callbacks as Agentspan lifecycle hooks.

``before_agent_callback`` / ``after_agent_callback`` become the native agent's
``before_agent`` / ``after_agent`` hooks, ``before_tool_callback`` / ``after_tool_callback``
its ``before_tool`` / ``after_tool`` hooks: each is a worker task of the process that
started the run, recorded once as a ``callback`` event (docs/sdk.md#callbacks). The ADK
callback gets a real ``CallbackContext`` / ``ToolContext`` over the run's state; changes it
makes to the state are sent back with its answer. What it returns takes effect as in ADK:
a ``Content`` from an agent callback is the agent's answer (before: the agent does not
run), a dict from a tool callback is the tool's result (before: the tool does not run).

``before_model_callback`` / ``after_model_callback`` become ``before_model`` /
``after_model`` hooks: the callback gets an ADK ``LlmRequest`` built from the conversation
the server sends the hook (system instruction, user and model turns, function calls and
responses) or an ``LlmResponse`` built from the model's reply. An ``LlmResponse`` it
returns is the model's reply (before: the model is not called; after: it replaces the
reply, as a final answer). Changing the request or response *in place* is not applied (the
server makes the call): the hook then reports an error in its ``callback`` event rather
than pretend. ``on_tool_error_callback`` runs when a tool failed; a dict it returns is the
tool's result (ADK's after-tool callbacks then see it), else the model sees the error.
``on_model_error_callback`` has no hook (a failed model call is retried by the server, then
fails the run) and is refused by the adapter.
"""

from __future__ import annotations

import asyncio
import inspect
import json
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
    methods.update(_model_methods(source, invocation, callback_context))
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


def _model_methods(
    source: Any, invocation: Invocation, callback_context: Callable[[Any], Any]
) -> dict[str, Any]:
    from google.adk.models.llm_request import LlmRequest
    from google.adk.models.llm_response import LlmResponse

    before = _callbacks(getattr(source, "before_model_callback", None))
    after = _callbacks(getattr(source, "after_model_callback", None))
    if not before and not after:
        return {}  # workflow agents (no model) and most LlmAgents
    model = source.model if isinstance(source.model, str) else getattr(source.model, "model", "")
    methods: dict[str, Any] = {}

    def run(
        callbacks: list[Callable[..., Any]], context: ToolContext, name: str, value: Any
    ) -> dict[str, Any] | None:
        built = invocation(source, context.state, context.execution_id)
        ctx = callback_context(built)
        snapshot = value.model_dump(mode="json")
        answer = _first(callbacks, callback_context=ctx, **{name: value})
        _sync_state(context, built, ctx.actions.state_delta)
        if answer is None:
            if value.model_dump(mode="json") != snapshot:
                raise ValueError(
                    f"{source.name}'s {name.replace('llm_', '')} callback changed the {name} in "
                    "place, which Agentspan does not apply (the server makes the model call); "
                    "return an LlmResponse instead"
                )
            return None
        if any(getattr(part, "function_call", None) for part in _parts(answer)):
            raise ValueError(
                f"{source.name}'s model callback returned function calls, which Agentspan "
                "cannot stand in for a model reply; return text"
            )
        return {"response": _text(answer.content)}

    if before:

        def on_model_start(self: Any, *, context: ToolContext, **kwargs: Any) -> Any:
            request = LlmRequest(model=model, **_request_fields(kwargs.get("messages") or []))
            return run(before, context, "llm_request", request)

        methods["on_model_start"] = on_model_start
    if after:

        def on_model_end(self: Any, *, context: ToolContext, **kwargs: Any) -> Any:
            reply = _reply_content(kwargs.get("llm_result") or "", kwargs.get("tool_calls") or [])
            return run(after, context, "llm_response", LlmResponse(content=reply))

        methods["on_model_end"] = on_model_end
    return methods


def _parts(response: Any) -> list[Any]:
    content = getattr(response, "content", None)
    return list(getattr(content, "parts", None) or [])


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"_raw": raw}


def _request_fields(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """ADK's ``contents`` and ``config`` for the conversation a ``before_model`` hook gets
    (chat messages: the instructions as a system message, then the turns)."""
    from google.genai import types

    system: list[str] = []
    contents: list[Any] = []
    for message in messages:
        role, content = message.get("role"), message.get("content")
        text = content if isinstance(content, str) else json.dumps(content) if content else ""
        if role == "system":
            system.append(text)
        elif role == "user":
            contents.append(types.Content(role="user", parts=[types.Part(text=text)]))
        elif role == "assistant":
            contents.append(_reply_content(text, message.get("tool_calls") or []))
        elif role == "tool":
            result = _arguments(content) if isinstance(content, str) else {"result": content}
            response = types.FunctionResponse(
                id=message.get("tool_call_id"), name=message.get("name"), response=result
            )
            contents.append(types.Content(role="user", parts=[types.Part(function_response=response)]))
    config = types.GenerateContentConfig(system_instruction="\n\n".join(system) if system else None)
    return {"contents": contents, "config": config}


def _reply_content(text: str, tool_calls: list[dict[str, Any]]) -> Any:
    from google.genai import types

    parts = [types.Part(text=text)] if text else []
    for call in tool_calls:
        parts.append(
            types.Part(
                function_call=types.FunctionCall(
                    id=call.get("id"), name=call.get("name"), args=_arguments(call.get("arguments"))
                )
            )
        )
    return types.Content(role="model", parts=parts)


def _tool_methods(
    source: Any, tools: dict[str, Any], invocation: Invocation, tool_context: Callable[..., Any]
) -> dict[str, Any]:
    before = _callbacks(getattr(source, "before_tool_callback", None))
    after = _callbacks(getattr(source, "after_tool_callback", None))
    on_error = _callbacks(getattr(source, "on_tool_error_callback", None))

    def call(
        context: ToolContext, tool_name: str, arguments: dict[str, Any], call_id: str, **extra: Any
    ) -> Any:
        built = invocation(source, context.state, context.execution_id)
        ctx = tool_context(built, function_call_id=call_id)
        common = {"tool": tools.get(tool_name), "args": dict(arguments or {}), "tool_context": ctx}
        if "error" in extra:
            # ADK: the error callbacks may answer for the failed tool, and the after-tool
            # callbacks then see that answer; with no answer the error stands.
            answer = _first(on_error, **common, error=RuntimeError(str(extra["error"])))
            if answer is not None and after:
                altered = _first(after, **common, tool_response=answer)
                answer = answer if altered is None else altered
        elif "response" in extra:
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
    if after or on_error:

        def on_tool_end(self: Any, *, context: ToolContext, **kwargs: Any) -> Any:
            where = (
                context,
                kwargs.get("tool_name", ""),
                kwargs.get("arguments") or {},
                kwargs.get("call_id", ""),
            )
            if "result" not in kwargs:  # the tool failed
                return call(*where, error=kwargs.get("error")) if on_error else None
            if not after:
                return None
            result = kwargs["result"]
            return call(*where, response=result if isinstance(result, dict) else {"result": result})

        methods["on_tool_end"] = on_tool_end
    return methods
