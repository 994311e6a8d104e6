"""Compile an :class:`Agent` tree into the typed wire ``AgentConfig`` the server runs.

A tree walk: SDK option objects describe themselves (``to_spec()`` on termination
conditions, handoff conditions and gates); the few options with no SDK class (guardrails,
memory, code/CLI settings) are read from their documented attributes or from their own
``to_spec()`` / ``to_config()``, and validated against the spec model either way.
"""

from __future__ import annotations

import enum
import inspect
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.errors import PydanticUserError

from agentspan._core.credentials import check_placeholders
from agentspan._core.errors import ConfigurationError
from agentspan.agents._agent import Agent, PromptTemplate
from agentspan.agents._tool import ToolDef, get_tool_def
from agentspan.agents.callback import POSITION_METHODS, overrides
from agentspan.agents.gate import TextGate
from agentspan.agents.handoff import HandoffCondition
from agentspan.agents.termination import TerminationCondition
from agentspan.protocol.spec import (
    AgentConfig,
    CallbackSpec,
    CliSpec,
    CodeExecutionSpec,
    GateSpec,
    GuardrailSpec,
    HandoffSpec,
    MemorySpec,
    TaskRef,
    TerminationSpec,
    ThinkingSpec,
    ToolConfig,
    WorkerTool,
    parse_tool,
)

__all__ = ["collect_tool_functions", "serialize_agent"]

_EMPTY_INPUT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_DEFAULT_EXEC_TIMEOUT = 30
_T = TypeVar("_T")


# --------------------------------------------------------------------------- small helpers


def _plain(value: Any) -> Any:
    """Enum members become their values so the JSON carries ``"retry"``, not an object."""
    return value.value if isinstance(value, enum.Enum) else value


def _described(obj: Any, adapter: TypeAdapter[_T], what: str) -> _T | None:
    """The spec an object gives of itself (``to_spec()``, or a ``to_config()`` dict), if any."""
    for method_name in ("to_spec", "to_config"):
        method = getattr(obj, method_name, None)
        if not callable(method):
            continue
        described = method()
        if isinstance(described, BaseModel):
            described = described.model_dump(by_alias=True, exclude_none=True)
        try:
            return adapter.validate_python(described)
        except ValidationError as exc:
            raise ConfigurationError(f"{what} {obj!r}: {method_name}() is not a valid {what}: {exc}") from exc
    return None


def _credential_names(credentials: list[Any]) -> list[str]:
    # A CredentialFile is declared by the environment variable it is exposed as.
    return [c if isinstance(c, str) else str(c.env_var) for c in credentials]


# --------------------------------------------------------------------------- instructions, output
def _instructions(agent: Agent) -> str | dict[str, Any] | None:
    value: Any = agent.instructions
    if callable(value) and not isinstance(value, PromptTemplate):
        value = value()  # Instructions computed when the agent is sent, by design.
    if isinstance(value, PromptTemplate):
        return {
            "type": "prompt_template",
            "name": value.name,
            "variables": dict(value.variables) or None,
            "version": value.version,
        }
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigurationError(
            f"agent {agent.name!r}: instructions must be a string, a PromptTemplate or a function "
            f"returning one; got {type(value).__name__}"
        )
    return value


def _output_type(output_type: Any) -> dict[str, Any] | None:
    if output_type is None:
        return None
    class_name = getattr(output_type, "__name__", None) or repr(output_type)
    schema: dict[str, Any] | None
    try:
        if isinstance(output_type, type) and issubclass(output_type, BaseModel):
            schema = output_type.model_json_schema()
        else:
            schema = TypeAdapter(output_type).json_schema()
    except (PydanticUserError, TypeError, ValueError):
        schema = None  # A class pydantic cannot describe: send its name only.
    return {"schema": schema, "className": class_name} if schema else {"className": class_name}


# --------------------------------------------------------------------------- guardrails etc.

_GUARDRAIL: TypeAdapter[GuardrailSpec] = TypeAdapter(GuardrailSpec)
_TERMINATION: TypeAdapter[TerminationSpec] = TypeAdapter(TerminationSpec)
_HANDOFF: TypeAdapter[HandoffSpec] = TypeAdapter(HandoffSpec)
_GATE: TypeAdapter[GateSpec] = TypeAdapter(GateSpec)
_MEMORY: TypeAdapter[MemorySpec] = TypeAdapter(MemorySpec)
_CODE: TypeAdapter[CodeExecutionSpec] = TypeAdapter(CodeExecutionSpec)
_CLI: TypeAdapter[CliSpec] = TypeAdapter(CliSpec)


def _pattern_text(pattern: Any) -> str:
    return pattern.pattern if isinstance(pattern, re.Pattern) else str(pattern)


def _guardrail_spec(guardrail: Any) -> GuardrailSpec:
    """The SDK has no guardrail classes of its own: read the reference API's attributes
    (``name``, ``position``, ``on_fail``, ``max_retries`` and the kind's own)."""
    own = _described(guardrail, _GUARDRAIL, "guardrail")
    if own is not None:
        return own
    name = getattr(guardrail, "name", None)
    if not isinstance(name, str) or not name:
        raise ConfigurationError(
            f"cannot serialise guardrail {guardrail!r}: it needs a 'name' (and 'position', 'on_fail', "
            "'max_retries', plus 'patterns', 'policy' or a function), or a to_config() method"
        )
    config: dict[str, Any] = {
        "name": name,
        "position": _plain(getattr(guardrail, "position", "output")),
        "onFail": _plain(getattr(guardrail, "on_fail", "retry")),
        "maxRetries": getattr(guardrail, "max_retries", 3),
    }
    if hasattr(guardrail, "patterns"):
        patterns = guardrail.patterns
        patterns = [patterns] if isinstance(patterns, str | re.Pattern) else patterns
        config.update(
            guardrailType="regex",
            patterns=[_pattern_text(p) for p in patterns],
            mode=_plain(getattr(guardrail, "mode", "block")),
        )
        if getattr(guardrail, "message", None):
            config["message"] = guardrail.message
    elif hasattr(guardrail, "policy"):
        config.update(guardrailType="llm", model=guardrail.model, policy=guardrail.policy)
        if getattr(guardrail, "max_tokens", None) is not None:
            config["maxTokens"] = guardrail.max_tokens
    else:
        # A function guardrail runs in a worker named after it: ours, or another process's.
        kind = "external" if getattr(guardrail, "external", False) else "custom"
        config.update(guardrailType=kind, taskName=name)
    try:
        return _GUARDRAIL.validate_python(config)
    except ValidationError as exc:
        raise ConfigurationError(f"guardrail {name!r} cannot be serialised: {exc}") from exc


def _termination_spec(agent: Agent) -> TerminationSpec | None:
    condition = agent.termination
    if condition is None:
        return None
    if isinstance(condition, TerminationCondition):
        return condition.to_spec()
    own = _described(condition, _TERMINATION, "termination condition")
    if own is None:
        raise ConfigurationError(
            f"agent {agent.name!r}: termination must be a TerminationCondition, got {condition!r}"
        )
    return own


def _handoff_spec(handoff: Any, agent_name: str) -> HandoffSpec:
    if isinstance(handoff, HandoffCondition):
        return handoff.to_spec(agent_name)
    own = _described(handoff, _HANDOFF, "handoff")
    if own is None:
        raise ConfigurationError(
            f"agent {agent_name!r}: handoffs must be OnToolResult, OnTextMention or OnCondition, got {handoff!r}"
        )
    return own


def _memory_spec(agent: Agent) -> MemorySpec | None:
    memory = agent.memory
    if memory is None:
        return None
    own = _described(memory, _MEMORY, "memory")
    if own is not None:
        return own
    if not hasattr(memory, "messages"):
        if callable(getattr(memory, "search", None)):
            # Semantic memory: searched for the root agent's prompt when a run starts
            # (``semantic_memory.with_recall``); left without messages (a sub-agent's,
            # whose prompt is not known here) the server refuses it by name.
            return MemorySpec(kind="semantic")
        raise ConfigurationError(
            f"agent {agent.name!r}: memory must be a ConversationMemory, got {type(memory).__name__}"
        )
    messages = list(memory.messages or [])
    return MemorySpec(messages=messages, max_messages=getattr(memory, "max_messages", None))


def _callbacks(agent: Agent) -> list[CallbackSpec] | None:
    entries = []
    for position, method in POSITION_METHODS.items():
        legacy = getattr(agent, f"{position}_callback", None)
        if legacy is not None or any(overrides(h, method) for h in agent.callbacks):
            entries.append(
                CallbackSpec.model_validate({"position": position, "taskName": f"{agent.name}_{position}"})
            )
    return entries or None


def _gate_spec(agent: Agent) -> GateSpec | None:
    gate = agent.gate
    if gate is None:
        return None
    if isinstance(gate, TextGate):
        return gate.to_spec()
    own = _described(gate, _GATE, "gate")
    if own is not None:
        return own
    if callable(gate):
        return TaskRef(task_name=f"{agent.name}_gate")
    raise ConfigurationError(f"agent {agent.name!r}: gate must be a TextGate or a function, got {gate!r}")


def _code_execution(agent: Agent) -> CodeExecutionSpec | None:
    settings = agent.code_execution
    if settings is not None:
        own = _described(settings, _CODE, "code_execution")
        if own is not None:
            return own
        return CodeExecutionSpec(
            enabled=getattr(settings, "enabled", True),
            allowed_languages=list(getattr(settings, "allowed_languages", ["python"])),
            allowed_commands=list(getattr(settings, "allowed_commands", [])),
            timeout=getattr(settings, "timeout", _DEFAULT_EXEC_TIMEOUT),
        )
    if not agent.local_code_execution:
        return None
    return CodeExecutionSpec(
        enabled=True,
        allowed_languages=list(agent.allowed_languages),
        allowed_commands=list(agent.allowed_commands),
        timeout=_DEFAULT_EXEC_TIMEOUT,
    )


def _cli_config(agent: Agent) -> CliSpec | None:
    settings = agent.cli_config
    if settings is not None:
        own = _described(settings, _CLI, "cli_config")
        if own is not None:
            return own
        return CliSpec(
            enabled=getattr(settings, "enabled", True),
            allowed_commands=list(getattr(settings, "allowed_commands", [])),
            timeout=getattr(settings, "timeout", _DEFAULT_EXEC_TIMEOUT),
            allow_shell=getattr(settings, "allow_shell", False),
        )
    if not agent.cli_commands:
        return None
    # With no CLI-specific whitelist, the code-execution whitelist applies.
    return CliSpec(
        enabled=True,
        allowed_commands=list(agent.cli_allowed_commands or agent.allowed_commands),
        timeout=_DEFAULT_EXEC_TIMEOUT,
        allow_shell=False,
    )


# --------------------------------------------------------------------------- agents and tools


class _Serializer:
    """Serialises one agent tree, refusing cycles (an agent that contains itself)."""

    def __init__(self) -> None:
        self._path: list[int] = []

    def agent(self, agent: Agent) -> AgentConfig:
        if id(agent) in self._path:
            raise ConfigurationError(f"agent {agent.name!r} contains itself")
        self._path.append(id(agent))
        try:
            if agent.is_claude_code and not agent.agents:
                return _claude_code_config(agent)
            return AgentConfig(**self._core_fields(agent), **self._options(agent))
        except ValidationError as exc:
            raise ConfigurationError(f"agent {agent.name!r} cannot be serialised: {exc}") from exc
        finally:
            self._path.pop()

    def _core_fields(self, agent: Agent) -> dict[str, Any]:
        return {
            "name": agent.name,
            "model": agent.model or None,
            "base_url": agent.base_url,
            # The strategy only means something for an agent that has sub-agents.
            "strategy": agent.strategy.value if agent.agents else None,
            "max_turns": agent.max_turns,
            "timeout_seconds": agent.timeout_seconds,
            "external": agent.external,
            "instructions": _instructions(agent),
            "tools": [self.tool(item, agent) for item in agent.tools],
            "agents": [self.agent(sub) for sub in agent.agents],
            "output_type": _output_type(agent.output_type),
            "max_tokens": agent.max_tokens,
            "temperature": agent.temperature,
            "introduction": agent.introduction or None,
            "metadata": dict(agent.metadata) or None,
        }

    def _options(self, agent: Agent) -> dict[str, Any]:
        """The §24.3 keys beyond the core; ``None`` (absent on the wire) when not set."""
        return {
            "router": self._router(agent),
            "guardrails": [_guardrail_spec(g) for g in agent.guardrails] or None,
            "memory": _memory_spec(agent),
            "stop_when": None if agent.stop_when is None else TaskRef(task_name=f"{agent.name}_stop_when"),
            "termination": _termination_spec(agent),
            "handoffs": [_handoff_spec(h, agent.name) for h in agent.handoffs] or None,
            "allowed_transitions": _allowed_transitions(agent),
            "planner": True if agent.planner else None,
            "callbacks": _callbacks(agent),
            "include_contents": agent.include_contents,
            "session_state": agent.session_state,
            "thinking_config": _thinking_config(agent),
            "required_tools": list(agent.required_tools) or None,
            "gate": _gate_spec(agent),
            "code_execution": _code_execution(agent),
            "cli_config": _cli_config(agent),
            "credentials": _credential_names(agent.credentials) or None,
            # A ScriptedModel carries its replies to the server inside the spec.
            "scripted_turns": getattr(agent._claude_code_config, "scripted_turns", None),
        }

    def _router(self, agent: Agent) -> AgentConfig | TaskRef | None:
        router = agent.router
        if router is None:
            return None
        if isinstance(router, Agent):
            return self.agent(router)
        return TaskRef(task_name=f"{agent.name}_router_fn")

    def tool(self, item: Any, owner: Agent) -> ToolConfig:
        definition = get_tool_def(item)
        config: dict[str, Any] = dict(definition.config)
        if definition.tool_type == "agent_tool" and isinstance(config.get("agent"), Agent):
            config["agentConfig"] = self.agent(config.pop("agent"))
        if definition.credentials:
            config["credentials"] = _credential_names(definition.credentials)
        if isinstance(config.get("headers"), dict):
            check_placeholders(definition.name, config["headers"], config.get("credentials"))
        return parse_tool(
            {
                "name": definition.name,
                "description": definition.description,
                "input_schema": definition.input_schema or dict(_EMPTY_INPUT_SCHEMA),
                "output_schema": definition.output_schema or None,
                "tool_type": definition.tool_type,
                "approval_required": definition.approval_required,
                "timeout_seconds": definition.timeout_seconds,
                "config": config,
                "retry_count": definition.retry_count,
                "retry_delay_seconds": definition.retry_delay_seconds,
                "retryable": definition.retryable,
                "stateful": True if definition.stateful or owner.stateful else None,
                "guardrails": [_guardrail_spec(g) for g in definition.guardrails] or None,
                "response_schema": definition.response_schema,
            }
        )


def _allowed_transitions(agent: Agent) -> dict[str, list[str]] | None:
    if agent.allowed_transitions is None:
        return None
    return {source: list(targets) for source, targets in agent.allowed_transitions.items()}


def _thinking_config(agent: Agent) -> ThinkingSpec | None:
    if not agent.thinking_budget_tokens:
        return None
    return ThinkingSpec(enabled=True, budget_tokens=agent.thinking_budget_tokens)


def _claude_code_config(agent: Agent) -> AgentConfig:
    """A Claude Code agent runs whole inside one passthrough worker named after it."""
    return AgentConfig(
        name=agent.name,
        model=agent.model,
        max_turns=agent.max_turns,
        timeout_seconds=agent.timeout_seconds,
        metadata={**agent.metadata, "_framework_passthrough": True},
        tools=[
            WorkerTool(
                name=agent.name,
                tool_type="worker",
                description="Claude Agent SDK passthrough worker",
            )
        ],
        credentials=_credential_names(agent.credentials) or None,
    )


def serialize_agent(agent: Agent) -> AgentConfig:
    """The wire ``AgentConfig`` of ``agent`` and, recursively, of its sub-agents and tools.

    Raises:
        ConfigurationError: something in the tree cannot be sent (an agent that contains
            itself, instructions that are not text, an unknown gate type, ...).
    """
    return _Serializer().agent(agent)


def collect_tool_functions(agent: Agent) -> dict[str, ToolDef]:
    """Every tool with a local function in ``agent``'s tree, by tool name.

    These are the tasks a worker in this process must serve. The walk covers sub-agents,
    router agents and the agents behind ``agent_tool``.

    Raises:
        ConfigurationError: two different functions share one tool name, so a worker
            could not tell which one a call means.
    """
    found: dict[str, ToolDef] = {}
    visited: set[int] = set()

    def visit(current: Agent) -> None:
        if id(current) in visited:
            return
        visited.add(id(current))
        for item in current.tools:
            if isinstance(item, str):
                continue  # A built-in Claude Code tool, served by the Claude SDK itself.
            definition = get_tool_def(item)
            child = definition.config.get("agent")
            if definition.tool_type == "agent_tool" and isinstance(child, Agent):
                visit(child)
            if definition.func is not None:
                _add_tool(found, definition, current)
        for sub in current.agents:
            visit(sub)
        if isinstance(current.router, Agent):
            visit(current.router)

    visit(agent)
    return found


def _label(func: Callable[..., Any]) -> str:
    return str(getattr(func, "__qualname__", None) or repr(func))


def _add_tool(found: dict[str, ToolDef], definition: ToolDef, owner: Agent) -> None:
    assert definition.func is not None
    existing = found.get(definition.name)
    if existing is None:
        found[definition.name] = definition
        return
    assert existing.func is not None
    if inspect.unwrap(existing.func) is not inspect.unwrap(definition.func):
        raise ConfigurationError(
            f"two different functions are registered as tool {definition.name!r} "
            f"({_label(existing.func)} and {_label(definition.func)}, the latter in "
            f"agent {owner.name!r}); give one of them another name with @tool(name=...)"
        )
