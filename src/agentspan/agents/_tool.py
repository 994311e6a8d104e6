"""Tools: the ``@tool`` decorator, ``ToolDef``, ``ToolContext`` and ``agent_tool``."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic_core import PydanticSerializationError, to_jsonable_python

from agentspan.agents._errors import ConfigurationError, ToolSerializationError
from agentspan.agents._schema import input_schema_for, output_schema_for, parse_docstring

if TYPE_CHECKING:
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

# The names the wire accepts (see agentspan.protocol.spec.ToolConfig); checked when the
# tool is defined so a bad name fails at import time, not when the agent is first run.
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
_PLAIN_JSON = (str, int, float, bool, type(None))


def _check_tool_settings(
    name: str,
    timeout_seconds: float | None,
    retry_count: int | None,
    retry_delay_seconds: float | None,
) -> None:
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        raise ConfigurationError(
            f"invalid tool name {name!r}: use 1-128 letters, digits, '_', '-' or '.' "
            "(pass name=... to @tool for lambdas and callable objects)"
        )
    if timeout_seconds is not None and timeout_seconds <= 0:
        raise ConfigurationError(f"tool {name!r}: timeout_seconds must be positive, got {timeout_seconds}")
    if retry_count is not None and retry_count < 0:
        raise ConfigurationError(f"tool {name!r}: retry_count must be >= 0, got {retry_count}")
    if retry_delay_seconds is not None and retry_delay_seconds < 0:
        raise ConfigurationError(
            f"tool {name!r}: retry_delay_seconds must be >= 0, got {retry_delay_seconds}"
        )


@dataclasses.dataclass
class ToolDef:
    """Everything the runtime needs to know about one tool.

    ``func`` is the local function a worker runs; it is ``None`` for tools executed by the
    server (HTTP, MCP, agent tools, ...) or by another process (``external=True``).
    """

    name: str
    description: str = ""
    input_schema: dict[str, Any] = dataclasses.field(default_factory=dict)
    output_schema: dict[str, Any] = dataclasses.field(default_factory=dict)
    func: Callable[..., Any] | None = None
    approval_required: bool = False
    timeout_seconds: float | None = None
    tool_type: str = "worker"
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    guardrails: list[Any] = dataclasses.field(default_factory=list)
    isolated: bool = True
    credentials: list[Any] = dataclasses.field(default_factory=list)
    stateful: bool = False
    retry_count: int | None = None
    """Retries after the first failed attempt; ``None`` uses the server default."""
    retry_delay_seconds: float | None = None
    """Base delay between attempts; ``None`` uses the server default."""
    retryable: bool = True
    """``False``: if a call's outcome is unknown (its worker vanished mid-run), do not re-run it."""
    external: bool = False
    """The tool's worker runs in another process; this one only declares its schema."""

    def __post_init__(self) -> None:
        _check_tool_settings(self.name, self.timeout_seconds, self.retry_count, self.retry_delay_seconds)


@dataclasses.dataclass
class ToolContext:
    """Execution details injected into a tool that declares a ``context`` parameter.

    Changes a tool makes to ``state`` (new keys, new values, in-place changes inside nested
    lists and dicts) are sent back with its result and seen by every later tool call of the
    execution, in any worker process. The state must be JSON; parallel calls that write the
    same top-level key keep the last write. A deleted key reads as ``None`` afterwards.
    ``idempotency_key`` is the same on every attempt of one logical call, so a tool with
    side effects can use it to avoid doing them twice.
    """

    session_id: str = ""
    execution_id: str = ""
    agent_name: str = ""
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    dependencies: dict[str, Any] = dataclasses.field(default_factory=dict)
    state: dict[str, Any] = dataclasses.field(default_factory=dict)
    idempotency_key: str = ""
    task_id: str = ""
    attempt: int = 0


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
    isolated: bool = True,
    credentials: list[Any] | None = None,
    stateful: bool = False,
    retry_count: int | None = None,
    retry_delay_seconds: float | None = None,
    retryable: bool = True,
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
    isolated: bool = True,
    credentials: list[Any] | None = None,
    stateful: bool = False,
    retry_count: int | None = None,
    retry_delay_seconds: float | None = None,
    retryable: bool = True,
) -> Any:
    """Turn a function into a tool an agent can call; use bare or with options.

    The input schema comes from the parameters' type hints and the docstring's ``Args:``
    (or ``:param:``) descriptions; the tool description is the rest of the docstring unless
    ``description`` is given. A parameter named ``context`` (or annotated ``ToolContext``)
    receives the :class:`ToolContext` and is not shown to the model.

    The decorated function stays directly callable. ``external=True`` declares a tool whose
    worker runs elsewhere: only its schema is used here. ``retryable=False`` marks a tool
    with side effects that must not be re-run when the outcome of an attempt is unknown.
    """
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
    }
    if func is not None:
        return _build_tool(func, options)

    def decorate(inner: Callable[..., Any]) -> Callable[..., Any]:
        return _build_tool(inner, dict(options))

    return decorate


def get_tool_def(obj: Any) -> ToolDef:
    """The :class:`ToolDef` of a ``ToolDef`` or of a ``@tool``-decorated function."""
    if isinstance(obj, ToolDef):
        return obj
    definition = getattr(obj, "_tool_def", None)
    if isinstance(definition, ToolDef):
        return definition
    from agentspan.agents._agent import Agent  # _agent imports this module.

    hint = "; wrap an agent with agent_tool(agent)" if isinstance(obj, Agent) else ""
    raise TypeError(f"{obj!r} is not a tool: decorate it with @tool or pass a ToolDef{hint}")


def get_tool_defs(objs: list[Any]) -> list[ToolDef]:
    """:func:`get_tool_def` applied to each item."""
    return [get_tool_def(obj) for obj in objs]


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
    from agentspan.agents._agent import Agent  # _agent imports this module.

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


def encode_tool_result(value: Any) -> Any:
    """The JSON-ready form of a tool's return value.

    JSON values pass through unchanged; pydantic models, dataclasses, enums, datetimes,
    UUIDs, tuples and sets are converted the way pydantic serialises them to JSON.

    Raises:
        ToolSerializationError: ``value`` contains something with no JSON form; the
            message names its type.
    """
    if type(value) in _PLAIN_JSON:
        return value
    try:
        return to_jsonable_python(value)
    except PydanticSerializationError as exc:
        raise ToolSerializationError(
            f"tool result of type {type(value).__qualname__} cannot be encoded as JSON: {exc}. "
            "Return JSON data, a pydantic model or a dataclass."
        ) from exc
