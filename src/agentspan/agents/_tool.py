"""Tools: the ``@tool`` decorator and ``agent_tool``.

``ToolDef``, ``ToolContext``, ``get_tool_def`` and ``encode_tool_result`` live in
``agentspan._core.tool`` (the worker needs them too) and are re-exported here.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from agentspan._core.errors import ConfigurationError
from agentspan._core.isolated import import_path
from agentspan._core.schema import input_schema_for, output_schema_for, parse_docstring
from agentspan._core.tool import ToolContext, ToolDef, encode_tool_result, get_tool_def, get_tool_defs
from agentspan.agents._agent import Agent

__all__ = [
    "ToolContext",
    "ToolDef",
    "agent_tool",
    "encode_tool_result",
    "get_tool_def",
    "get_tool_defs",
    "tool",
]

_F = TypeVar("_F", bound=Callable[..., Any])


def _wrap(func: Callable[..., Any]) -> Callable[..., Any]:
    """A transparent wrapper that keeps ``func`` directly callable, sync or async."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            return await func(*args, **kwargs)

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


def _build_tool(func: Callable[..., Any], options: dict[str, Any]) -> Callable[..., Any]:
    name = options.pop("name")
    if name is None:
        name = getattr(func, "__name__", type(func).__name__)
    description = options.pop("description")
    if description is None:
        description = parse_docstring(inspect.getdoc(func)).description
    external = options["external"]
    if options["isolated"] and not external:
        import_path(func, name)  # a closure or a __main__ function is refused now, not mid-run
    definition = ToolDef(
        name=name,
        description=description,
        input_schema=input_schema_for(func),
        output_schema=output_schema_for(func),
        func=None if external else func,
        guardrails=list(options.pop("guardrails") or []),
        credentials=list(options.pop("credentials") or []),
        **options,
    )
    wrapper = _wrap(func)
    # Both carry the definition so either object can be handed to Agent(tools=[...]).
    wrapper._tool_def = definition  # type: ignore[attr-defined]
    # Builtins and some callables refuse new attributes; the wrapper alone is enough then.
    with contextlib.suppress(AttributeError, TypeError):
        func._tool_def = definition  # type: ignore[attr-defined]
    return wrapper


@overload
def tool(func: _F) -> _F: ...


@overload
def tool(
    func: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    external: bool = False,
    approval_required: bool = False,
    timeout_seconds: float | None = None,
    guardrails: list[Any] | None = None,
    isolated: bool = False,
    credentials: list[Any] | None = None,
    stateful: bool = False,
    retry_count: int | None = None,
    retry_delay_seconds: float | None = None,
    retryable: bool = True,
    response_schema: dict[str, Any] | None = None,
) -> Callable[[_F], _F]: ...


def tool(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    external: bool = False,
    approval_required: bool = False,
    timeout_seconds: float | None = None,
    guardrails: list[Any] | None = None,
    isolated: bool = False,
    credentials: list[Any] | None = None,
    stateful: bool = False,
    retry_count: int | None = None,
    retry_delay_seconds: float | None = None,
    retryable: bool = True,
    response_schema: dict[str, Any] | None = None,
) -> Any:
    """Turn a function into a tool an agent can call; use bare or with options.

    The input schema comes from the parameters' type hints and the docstring's ``Args:``
    (or ``:param:``) descriptions; the tool description is the rest of the docstring unless
    ``description`` is given. A parameter named ``context`` (or annotated ``ToolContext``)
    receives the :class:`ToolContext` and is not shown to the model.

    The decorated function stays directly callable. ``external=True`` declares a tool whose
    worker runs elsewhere: only its schema is used here. ``retryable=False`` marks a tool
    with side effects that must not be re-run when the outcome of an attempt is unknown.
    ``response_schema`` (with ``approval_required=True``) is what the approver may answer:
    a JSON object schema with a boolean ``approved``, plus e.g. ``feedback`` or edited
    ``arguments`` (default: ``approved`` and ``reason``).
    """
    if response_schema is not None and not approval_required:
        raise ConfigurationError(
            "@tool(response_schema=...) describes an approval: give approval_required=True"
        )
    options: dict[str, Any] = {
        "name": name,
        "description": description,
        "external": external,
        "approval_required": approval_required,
        "timeout_seconds": timeout_seconds,
        "guardrails": guardrails,
        "isolated": isolated,
        "credentials": credentials,
        "stateful": stateful,
        "retry_count": retry_count,
        "retry_delay_seconds": retry_delay_seconds,
        "retryable": retryable,
        "response_schema": response_schema,
    }
    if func is not None:
        return _build_tool(func, options)

    def decorate(inner: Callable[..., Any]) -> Callable[..., Any]:
        return _build_tool(inner, dict(options))

    return decorate


def agent_tool(
    agent: Agent,
    name: str | None = None,
    description: str | None = None,
    retry_count: int | None = None,
    retry_delay_seconds: float | None = None,
    optional: bool | None = None,
) -> ToolDef:
    """Offer ``agent`` to a parent agent's LLM as a tool taking one ``request`` string.

    Each call runs the agent as a child execution whose answer becomes the tool result.
    ``optional=False`` makes a failure of the child fail the parent; by default the parent's
    LLM sees the error and carries on.
    """
    if not isinstance(agent, Agent):
        raise TypeError(f"agent_tool() needs an Agent, got {type(agent).__name__}")
    tool_name = name or agent.name
    config: dict[str, Any] = {"agent": agent}
    if optional is not None:
        config["optional"] = optional
    return ToolDef(
        name=tool_name,
        description=description or f"Invoke the {agent.name} agent",
        input_schema={
            "type": "object",
            "properties": {"request": {"type": "string"}},
            "required": ["request"],
        },
        tool_type="agent_tool",
        config=config,
        retry_count=retry_count,
        retry_delay_seconds=retry_delay_seconds,
    )


_QUESTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"question": {"type": "string", "description": "The question to ask the user"}},
    "required": ["question"],
}


def human_tool(
    name: str,
    description: str,
    input_schema: dict[str, Any] | None = None,
    response_schema: dict[str, Any] | None = None,
) -> ToolDef:
    """A tool the model calls to ask a person: the run waits (durably, no worker) until
    someone answers with ``respond(...)`` (or ``send(text)``); the answer is the result.

    ``input_schema`` is what the model sends (default ``{"question": string}``);
    ``response_schema`` what the person answers (default ``{"message": string}``, the text
    becoming the result; a richer answer is the result as an object).
    """
    return ToolDef(
        name=name,
        description=description,
        input_schema=dict(input_schema or _QUESTION_SCHEMA),
        tool_type="human",
        response_schema=response_schema,
    )
