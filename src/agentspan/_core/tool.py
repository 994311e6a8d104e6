"""What a tool is, for both the SDK facade and the worker: ``ToolDef``, ``ToolContext``,
``get_tool_def`` and the JSON encoding of a tool's result.

The ``@tool`` decorator and ``agent_tool`` live in ``agentspan.agents._tool``; this module
holds only what a worker needs to run a tool, so the transport never imports the facade.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from pydantic_core import PydanticSerializationError, to_jsonable_python

from agentspan._core.errors import ConfigurationError, ToolSerializationError

__all__ = ["ToolContext", "ToolDef", "encode_tool_result", "get_tool_def", "get_tool_defs"]

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
    isolated: bool = False
    """Run each call in a new process holding only the declared credentials (``_core/isolated.py``)."""
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
    response_schema: dict[str, Any] | None = None
    """What a person may answer when the call waits for approval (``None``: the default)."""

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


def get_tool_def(obj: Any) -> ToolDef:
    """The :class:`ToolDef` of a ``ToolDef`` or of a ``@tool``-decorated function."""
    if isinstance(obj, ToolDef):
        return obj
    definition = getattr(obj, "_tool_def", None)
    if isinstance(definition, ToolDef):
        return definition
    # Things often mistaken for tools (an Agent) say how to make them one; read from the
    # class so this layer needs no import of the classes that set it.
    hint = getattr(type(obj), "not_a_tool_hint", "")
    raise TypeError(f"{obj!r} is not a tool: decorate it with @tool or pass a ToolDef{hint}")


def get_tool_defs(objs: list[Any]) -> list[ToolDef]:
    """:func:`get_tool_def` applied to each item."""
    return [get_tool_def(obj) for obj in objs]


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
