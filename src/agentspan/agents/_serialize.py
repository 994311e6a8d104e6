"""Compile an :class:`Agent` tree into the wire ``AgentConfig`` the server runs.

Guardrails, termination conditions, handoffs, memory, gates and code/CLI settings are
defined in other modules. Each of those objects may provide ``to_config() -> dict``, which
is used verbatim; otherwise the fields the reference product reads are read here.
"""

from __future__ import annotations

import enum
import inspect
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.errors import PydanticUserError

from agentspan.agents._agent import Agent, PromptTemplate
from agentspan.agents._errors import ConfigurationError
from agentspan.agents._tool import ToolDef, get_tool_def
from agentspan.protocol.spec import AgentConfig, ToolConfig

__all__ = ["collect_tool_functions", "serialize_agent"]

_EMPTY_INPUT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_DEFAULT_EXEC_TIMEOUT = 30
# CallbackHandler method → server position, in the order positions are declared.
_CALLBACK_POSITIONS = (
    ("before_agent", "on_agent_start"),
    ("after_agent", "on_agent_end"),
    ("before_model", "on_model_start"),
    ("after_model", "on_model_end"),
    ("before_tool", "on_tool_start"),
    ("after_tool", "on_tool_end"),
)


# --------------------------------------------------------------------------- small helpers


def _plain(value: Any) -> Any:
    """Enum members become their values so the JSON carries ``"retry"``, not an object."""
    return value.value if isinstance(value, enum.Enum) else value


def _own_config(obj: Any, what: str) -> dict[str, Any] | None:
    method = getattr(obj, "to_config", None)
    if not callable(method):
        return None
    result = method()
    if not isinstance(result, dict):
        raise ConfigurationError(f"{what} {obj!r}: to_config() must return a dict, got {result!r}")
    return result


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


def _pattern_text(pattern: Any) -> str:
    return pattern.pattern if isinstance(pattern, re.Pattern) else str(pattern)


def _guardrail_config(guardrail: Any) -> dict[str, Any]:
    own = _own_config(guardrail, "guardrail")
    if own is not None:
        return own
    name = getattr(guardrail, "name", None)
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"cannot serialise guardrail {guardrail!r}: use a Guardrail object")
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
    return config


def _termination_config(condition: Any) -> dict[str, Any]:
    own = _own_config(condition, "termination condition")
    if own is not None:
        return own
    conditions = getattr(condition, "conditions", None)
    if conditions is not None:
        kind = "and" if "and" in type(condition).__name__.lower() else "or"
        return {"type": kind, "conditions": [_termination_config(c) for c in conditions]}
    if hasattr(condition, "text"):
        return {
            "type": "text_mention",
            "text": condition.text,
            "caseSensitive": getattr(condition, "case_sensitive", False),
        }
    if hasattr(condition, "stop_message"):
        return {"type": "stop_message", "stopMessage": condition.stop_message}
    if hasattr(condition, "max_messages"):
        return {"type": "max_message", "maxMessages": condition.max_messages}
    limits = {
        "maxTotalTokens": getattr(condition, "max_total_tokens", None),
        "maxPromptTokens": getattr(condition, "max_prompt_tokens", None),
        "maxCompletionTokens": getattr(condition, "max_completion_tokens", None),
    }
    if any(v is not None for v in limits.values()):
        return {"type": "token_usage", **{k: v for k, v in limits.items() if v is not None}}
    return {"type": "unknown"}


def _handoff_config(handoff: Any, agent_name: str) -> dict[str, Any]:
    own = _own_config(handoff, "handoff")
    if own is not None:
        return own
    target = handoff.target
    if hasattr(handoff, "tool_name"):
        config: dict[str, Any] = {"target": target, "type": "on_tool_result", "toolName": handoff.tool_name}
        if getattr(handoff, "result_contains", None) is not None:
            config["resultContains"] = handoff.result_contains
        return config
    if hasattr(handoff, "text"):
        return {"target": target, "type": "on_text_mention", "text": handoff.text}
    if hasattr(handoff, "condition"):
        return {"target": target, "type": "on_condition", "taskName": f"{agent_name}_handoff_{target}"}
    return {"target": target, "type": "unknown"}


def _memory_config(agent: Agent) -> dict[str, Any] | None:
    memory = agent.memory
    if memory is None:
        return None
    own = _own_config(memory, "memory")
    if own is not None:
        return own
    config: dict[str, Any] = {}
    messages = list(getattr(memory, "messages", None) or [])
    if messages:
        config["messages"] = messages
    if getattr(memory, "max_messages", None) is not None:
        config["maxMessages"] = memory.max_messages
    return config or None


def _overrides(handler: Any, method: str) -> bool:
    """Whether ``handler`` implements ``method`` rather than inheriting the base no-op."""
    for klass in type(handler).__mro__:
        if method in vars(klass):
            return klass.__name__ not in ("CallbackHandler", "object")
    return False


def _callbacks(agent: Agent) -> list[dict[str, str]] | None:
    entries = []
    for position, method in _CALLBACK_POSITIONS:
        legacy = getattr(agent, f"{position}_callback", None)
        if legacy is not None or any(_overrides(h, method) for h in agent.callbacks):
            entries.append({"position": position, "taskName": f"{agent.name}_{position}"})
    return entries or None


def _gate_config(agent: Agent) -> dict[str, Any] | None:
    gate = agent.gate
    if gate is None:
        return None
    own = _own_config(gate, "gate")
    if own is not None:
        return own
    if hasattr(gate, "text"):
        return {
            "type": "text_contains",
            "text": gate.text,
            "caseSensitive": getattr(gate, "case_sensitive", True),
        }
    if callable(gate):
        return {"taskName": f"{agent.name}_gate"}
    raise ConfigurationError(f"agent {agent.name!r}: gate must be a TextGate or a function, got {gate!r}")


def _code_execution(agent: Agent) -> dict[str, Any] | None:
    settings = agent.code_execution
    if settings is not None:
        own = _own_config(settings, "code_execution")
        if own is not None:
            return own
        return {
            "enabled": getattr(settings, "enabled", True),
            "allowedLanguages": list(getattr(settings, "allowed_languages", ["python"])),
            "allowedCommands": list(getattr(settings, "allowed_commands", [])),
            "timeout": getattr(settings, "timeout", _DEFAULT_EXEC_TIMEOUT),
        }
    if not agent.local_code_execution:
        return None
    return {
        "enabled": True,
        "allowedLanguages": list(agent.allowed_languages),
        "allowedCommands": list(agent.allowed_commands),
        "timeout": _DEFAULT_EXEC_TIMEOUT,
    }


def _cli_config(agent: Agent) -> dict[str, Any] | None:
    settings = agent.cli_config
    if settings is not None:
        own = _own_config(settings, "cli_config")
        if own is not None:
            return own
        return {
            "enabled": getattr(settings, "enabled", True),
            "allowedCommands": list(getattr(settings, "allowed_commands", [])),
            "timeout": getattr(settings, "timeout", _DEFAULT_EXEC_TIMEOUT),
            "allowShell": getattr(settings, "allow_shell", False),
        }
    if not agent.cli_commands:
        return None
    return {
        # With no CLI-specific whitelist, the code-execution whitelist applies.
        "enabled": True,
        "allowedCommands": list(agent.cli_allowed_commands or agent.allowed_commands),
        "timeout": _DEFAULT_EXEC_TIMEOUT,
        "allowShell": False,
    }


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
            fields = self._core_fields(agent)
            extras = self._extra_fields(agent)
            return AgentConfig(**fields, **extras)
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

    def _extra_fields(self, agent: Agent) -> dict[str, Any]:
        """The §24.3 keys ``AgentConfig`` has no field for, only when they are set."""
        builders: list[tuple[str, Callable[[Agent], Any]]] = [
            ("router", self._router),
            ("guardrails", lambda a: [_guardrail_config(g) for g in a.guardrails] or None),
            ("memory", _memory_config),
            ("stopWhen", lambda a: None if a.stop_when is None else {"taskName": f"{a.name}_stop_when"}),
            ("termination", lambda a: None if a.termination is None else _termination_config(a.termination)),
            ("handoffs", lambda a: [_handoff_config(h, a.name) for h in a.handoffs] or None),
            ("allowedTransitions", _allowed_transitions),
            ("planner", lambda a: True if a.planner else None),
            ("callbacks", _callbacks),
            ("includeContents", lambda a: a.include_contents),
            ("thinkingConfig", _thinking_config),
            ("requiredTools", lambda a: list(a.required_tools) or None),
            ("gate", _gate_config),
            ("codeExecution", _code_execution),
            ("cliConfig", _cli_config),
            ("credentials", lambda a: _credential_names(a.credentials) or None),
            # A ScriptedModel carries its replies to the server inside the spec.
            ("scriptedTurns", lambda a: getattr(a._claude_code_config, "scripted_turns", None)),
        ]
        extras = {key: build(agent) for key, build in builders}
        return {key: value for key, value in extras.items() if value is not None}

    def _router(self, agent: Agent) -> dict[str, Any] | None:
        router = agent.router
        if router is None:
            return None
        if isinstance(router, Agent):
            return self.agent(router).wire()
        return {"taskName": f"{agent.name}_router_fn"}

    def tool(self, item: Any, owner: Agent) -> ToolConfig:
        definition = get_tool_def(item)
        config = dict(definition.config)
        if definition.tool_type == "agent_tool" and isinstance(config.get("agent"), Agent):
            config["agentConfig"] = self.agent(config.pop("agent")).wire()
        if definition.credentials:
            config["credentials"] = _credential_names(definition.credentials)
        extras: dict[str, Any] = {}
        if definition.stateful or owner.stateful:
            extras["stateful"] = True
        if definition.guardrails:
            extras["guardrails"] = [_guardrail_config(g) for g in definition.guardrails]
        return ToolConfig(
            name=definition.name,
            description=definition.description,
            input_schema=definition.input_schema or dict(_EMPTY_INPUT_SCHEMA),
            output_schema=definition.output_schema or None,
            tool_type=definition.tool_type,
            approval_required=definition.approval_required,
            timeout_seconds=definition.timeout_seconds,
            config=config,
            retry_count=definition.retry_count,
            retry_delay_seconds=definition.retry_delay_seconds,
            retryable=definition.retryable,
            **extras,
        )


def _allowed_transitions(agent: Agent) -> dict[str, list[str]] | None:
    if agent.allowed_transitions is None:
        return None
    return {source: list(targets) for source, targets in agent.allowed_transitions.items()}


def _thinking_config(agent: Agent) -> dict[str, Any] | None:
    if not agent.thinking_budget_tokens:
        return None
    return {"enabled": True, "budgetTokens": agent.thinking_budget_tokens}


def _claude_code_config(agent: Agent) -> AgentConfig:
    """A Claude Code agent runs whole inside one passthrough worker named after it."""
    extras: dict[str, Any] = {}
    if agent.credentials:
        extras["credentials"] = _credential_names(agent.credentials)
    return AgentConfig(
        name=agent.name,
        model=agent.model,
        max_turns=agent.max_turns,
        timeout_seconds=agent.timeout_seconds,
        metadata={**agent.metadata, "_framework_passthrough": True},
        tools=[
            ToolConfig(
                name=agent.name,
                tool_type="worker",
                description="Claude Agent SDK passthrough worker",
            )
        ],
        **extras,
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
