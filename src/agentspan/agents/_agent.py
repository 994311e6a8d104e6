"""``Agent``, ``Strategy`` and ``PromptTemplate``: how a user describes an agent."""

from __future__ import annotations

import dataclasses
import enum
import warnings
from collections.abc import Callable
from typing import Any

from agentspan._core.errors import ConfigurationError
from agentspan._core.tool import get_tool_def
from agentspan.agents._sandbox.attach import execution_tools
from agentspan.agents.guardrail import as_guardrail
from agentspan.protocol.spec import NAME_PATTERN

__all__ = ["Agent", "PromptTemplate", "Strategy"]


class Strategy(enum.StrEnum):
    """How an agent with sub-agents decides which of them runs.

    A ``str`` enum (``StrEnum`` subclasses ``str`` and ``Enum``): members equal their
    values, JSON-encode as them, and ``str()`` gives the value.
    """

    HANDOFF = "handoff"
    SEQUENTIAL = "sequential"
    PARALLEL = "parallel"
    ROUTER = "router"
    ROUND_ROBIN = "round_robin"
    RANDOM = "random"
    SWARM = "swarm"
    MANUAL = "manual"
    PLAN_EXECUTE = "plan_execute"


@dataclasses.dataclass(frozen=True)
class PromptTemplate:
    """A reference to a prompt template stored on the server, with its variables."""

    name: str
    variables: dict[str, Any] = dataclasses.field(default_factory=dict)
    version: int | None = None


_CLAUDE_CODE_PREFIX = "claude-code"
_INCLUDE_CONTENTS = (None, "default", "none")
_DEPRECATED_CALLBACKS = (
    "before_agent_callback",
    "after_agent_callback",
    "before_model_callback",
    "after_model_callback",
)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        # The reference's messages (users match on them): "Invalid agent name ...".
        raise ConfigurationError(
            f"Invalid agent name {name!r}. Must start with a letter or underscore and contain only "
            "letters, digits, underscores, or hyphens."
        )
    return name


def _check_strategy(strategy: Any) -> Strategy:
    try:
        return Strategy(strategy)
    except ValueError:
        valid = ", ".join(s.value for s in Strategy)
        raise ConfigurationError(f"Invalid strategy {strategy!r}. Must be one of: {valid}") from None


def _check_numbers(
    name: str,
    max_turns: Any,
    max_tokens: int | None,
    timeout_seconds: float,
    thinking_budget_tokens: int | None,
) -> None:
    if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1:
        raise ConfigurationError(f"max_turns must be >= 1, got {max_turns!r} (agent {name!r})")
    if max_tokens is not None and max_tokens < 1:
        raise ConfigurationError(f"agent {name!r}: max_tokens must be >= 1, got {max_tokens}")
    if timeout_seconds < 0:
        raise ConfigurationError(f"agent {name!r}: timeout_seconds must be >= 0 (0 = no timeout)")
    if thinking_budget_tokens is not None and thinking_budget_tokens < 1:
        raise ConfigurationError(f"agent {name!r}: thinking_budget_tokens must be >= 1")


_EXPANDED_AT_START = frozenset({"api", "mcp"})
"""Tool types the server replaces by discovered tools when the agent starts."""


def _check_tools(name: str, tools: list[Any], claude_code: bool) -> None:
    if claude_code:
        # A Claude Code agent runs inside the Claude Agent SDK, which only knows its own
        # built-in tools, named by string.
        bad = [t for t in tools if not isinstance(t, str)]
        if bad:
            raise ConfigurationError(
                f"agent {name!r} uses Claude Code, which only accepts built-in tool names such as "
                f"'Read' or 'Bash'; got {bad[0]!r}"
            )
        return
    seen: set[str] = set()
    for item in tools:
        try:
            definition = get_tool_def(item)
        except TypeError as exc:
            raise ConfigurationError(f"agent {name!r}: {exc}") from None
        if definition.tool_type in _EXPANDED_AT_START:
            continue  # stands for the tools the server discovers; it checks those names
        tool_name = definition.name
        if tool_name in seen:
            raise ConfigurationError(f"agent {name!r} has two tools named {tool_name!r}")
        seen.add(tool_name)


def _from_definition(sub: Any, model: str) -> Any:
    definition = getattr(sub, "_agent_def", None)
    to_agent = getattr(definition, "to_agent", None)
    return to_agent("" if model.startswith(_CLAUDE_CODE_PREFIX) else model) if callable(to_agent) else sub


def _check_sub_agents(name: str, agents: list[Any]) -> None:
    seen: set[str] = set()
    for sub in agents:
        if not isinstance(sub, Agent):
            # A TypeError, as in the reference (code catching it expects that class).
            raise TypeError(f"Expected an Agent or @agent-decorated function, got {type(sub).__name__}")
        if sub.name in seen:
            raise ConfigurationError(
                f"Duplicate sub-agent names in {name!r}: [{sub.name!r}]. Each sub-agent must have a unique name."
            )
        seen.add(sub.name)


def _check_routing(name: str, strategy: Strategy, router: Any, include_contents: str | None) -> None:
    if strategy is Strategy.ROUTER and router is None:
        raise ConfigurationError(f"strategy='router' requires a router argument (agent {name!r})")
    if router is not None and not (isinstance(router, Agent) or callable(router)):
        raise ConfigurationError(f"agent {name!r}: router must be an Agent or a function, got {router!r}")
    if include_contents not in _INCLUDE_CONTENTS:
        raise ConfigurationError(
            f"agent {name!r}: include_contents must be 'default', 'none' or None, got {include_contents!r}"
        )


class Agent:
    """An agent: a model with instructions and tools, or a team of sub-agents.

    Every argument after ``name`` may be given by keyword; list and dict arguments are
    copied. Invalid definitions raise :class:`ConfigurationError` (a ``ValueError``).
    An agent without a model and without sub-agents is *external*: it refers to an agent
    of that name already deployed on the server.
    """

    # Added to the error when an agent is passed where a tool is expected (get_tool_def).
    not_a_tool_hint = "; wrap an agent with agent_tool(agent)"

    def __init__(
        self,
        name: str,
        model: str | Any = "",
        instructions: str | Callable[[], str] | PromptTemplate = "",
        tools: list[Any] | None = None,
        agents: list[Any] | None = None,
        strategy: str | Strategy = Strategy.HANDOFF,
        router: Agent | Callable[..., Any] | None = None,
        output_type: Any = None,
        guardrails: list[Any] | None = None,
        memory: Any = None,
        dependencies: dict[str, Any] | None = None,
        max_turns: int = 25,
        max_tokens: int | None = None,
        timeout_seconds: float = 0,
        temperature: float | None = None,
        stop_when: Callable[[dict[str, Any]], bool] | None = None,
        termination: Any = None,
        handoffs: list[Any] | None = None,
        allowed_transitions: dict[str, list[str]] | None = None,
        introduction: str | None = None,
        metadata: dict[str, Any] | None = None,
        local_code_execution: bool = False,
        allowed_languages: list[str] | None = None,
        allowed_commands: list[str] | None = None,
        code_execution: Any = None,
        cli_commands: bool = False,
        cli_allowed_commands: list[str] | None = None,
        cli_config: Any = None,
        planner: bool = False,
        callbacks: list[Any] | None = None,
        before_agent_callback: Callable[..., Any] | None = None,
        after_agent_callback: Callable[..., Any] | None = None,
        before_model_callback: Callable[..., Any] | None = None,
        after_model_callback: Callable[..., Any] | None = None,
        include_contents: str | None = None,
        thinking_budget_tokens: int | None = None,
        required_tools: list[str] | None = None,
        gate: Any = None,
        base_url: str | None = None,
        credentials: list[Any] | None = None,
        stateful: bool = False,
    ) -> None:
        self.name = _check_name(name)
        self._claude_code_config: Any = None
        self.model: str = self._model_string(model)
        self.tools: list[Any] = list(tools or [])
        self._set_team(agents, strategy, router, handoffs, allowed_transitions)
        self._set_prompt(instructions, introduction, output_type, include_contents)
        self._set_limits(max_turns, max_tokens, timeout_seconds, temperature, thinking_budget_tokens)
        self._set_stopping(stop_when, termination, gate, required_tools)
        self._set_context(memory, dependencies, metadata, credentials, stateful)
        self._set_code_execution(local_code_execution, allowed_languages, allowed_commands, code_execution)
        self._set_cli(cli_commands, cli_allowed_commands, cli_config)
        # As in the reference, the execution options become ordinary tools of the agent.
        self.tools.extend(execution_tools(self))
        # A bare @guardrail function is taken as Guardrail(function) with the defaults.
        self.guardrails: list[Any] = [as_guardrail(g) for g in guardrails or []]
        self.planner = planner
        self.base_url = base_url
        self.callbacks: list[Any] = list(callbacks or [])
        self.before_agent_callback = before_agent_callback
        self.after_agent_callback = after_agent_callback
        self.before_model_callback = before_model_callback
        self.after_model_callback = after_model_callback
        # True only for agents built by ``>>``: those chains flatten when extended, while a
        # sequential agent the user built explicitly stays one step with its own settings.
        self._pipeline = False
        self._validate()

    # The ``_set_*`` helpers store related arguments together, copying lists and dicts so
    # the caller's stay theirs. They check nothing beyond the strategy: the checks that
    # need the whole agent run once, in ``_validate``, after every attribute is set.

    def _set_team(
        self,
        agents: list[Any] | None,
        strategy: str | Strategy,
        router: Agent | Callable[..., Any] | None,
        handoffs: list[Any] | None,
        allowed_transitions: dict[str, list[str]] | None,
    ) -> None:
        # An ``@agent`` function becomes its Agent here, taking this agent's model when
        # it names none (duck-typed: ``_agent_def.py`` imports this module).
        self.agents: list[Agent] = [_from_definition(a, self.model) for a in agents or []]
        self.strategy = _check_strategy(strategy)
        self.router = router
        self.handoffs: list[Any] = list(handoffs or [])
        self.allowed_transitions = dict(allowed_transitions) if allowed_transitions is not None else None

    def _set_prompt(
        self,
        instructions: str | Callable[[], str] | PromptTemplate,
        introduction: str | None,
        output_type: Any,
        include_contents: str | None,
    ) -> None:
        self.instructions = instructions
        self.introduction = introduction
        self.output_type = output_type
        self.include_contents = include_contents

    def _set_limits(
        self,
        max_turns: int,
        max_tokens: int | None,
        timeout_seconds: float,
        temperature: float | None,
        thinking_budget_tokens: int | None,
    ) -> None:
        self.max_turns = max_turns
        self.max_tokens = max_tokens
        self.timeout_seconds = timeout_seconds
        self.temperature = temperature
        self.thinking_budget_tokens = thinking_budget_tokens

    def _set_stopping(
        self,
        stop_when: Callable[[dict[str, Any]], bool] | None,
        termination: Any,
        gate: Any,
        required_tools: list[str] | None,
    ) -> None:
        self.stop_when = stop_when
        self.termination = termination
        self.gate = gate
        self.required_tools: list[str] = list(required_tools or [])

    def _set_context(
        self,
        memory: Any,
        dependencies: dict[str, Any] | None,
        metadata: dict[str, Any] | None,
        credentials: list[Any] | None,
        stateful: bool,
    ) -> None:
        self.memory = memory
        self.dependencies: dict[str, Any] = dict(dependencies or {})
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.credentials: list[Any] = list(credentials or [])
        self.stateful = stateful
        # Run-scoped session state (a ``SessionStateSpec``): set by the Google ADK adapter
        # (agentspan/frameworks/google_adk.py), not a constructor option.
        self.session_state: Any = None

    def _set_code_execution(
        self,
        local_code_execution: bool,
        allowed_languages: list[str] | None,
        allowed_commands: list[str] | None,
        code_execution: Any,
    ) -> None:
        self.local_code_execution = local_code_execution
        # None means the default (Python); an explicit [] allows no language at all.
        self.allowed_languages: list[str] = (
            list(allowed_languages) if allowed_languages is not None else ["python"]
        )
        self.allowed_commands: list[str] = list(allowed_commands or [])
        self.code_execution = code_execution

    def _set_cli(self, cli_commands: bool, cli_allowed_commands: list[str] | None, cli_config: Any) -> None:
        self.cli_commands = cli_commands
        self.cli_allowed_commands: list[str] = list(cli_allowed_commands or [])
        self.cli_config = cli_config

    def _model_string(self, model: Any) -> str:
        if model is None:
            return ""
        if isinstance(model, str):
            return model
        if callable(getattr(model, "to_model_string", None)):
            # A ClaudeCode object: keep it for the passthrough worker, send its model string.
            self._claude_code_config = model
            return str(model.to_model_string())
        raise ConfigurationError(
            f"agent {self.name!r}: model must be a 'provider/model' string or ClaudeCode, got {model!r}"
        )

    def _validate(self) -> None:
        _check_numbers(
            self.name, self.max_turns, self.max_tokens, self.timeout_seconds, self.thinking_budget_tokens
        )
        _check_tools(self.name, self.tools, self.is_claude_code)
        _check_sub_agents(self.name, self.agents)
        _check_routing(self.name, self.strategy, self.router, self.include_contents)
        for attribute in _DEPRECATED_CALLBACKS:
            if getattr(self, attribute) is not None:
                warnings.warn(
                    f"Agent({attribute}=...) is deprecated; pass callbacks=[CallbackHandler(...)]",
                    DeprecationWarning,
                    stacklevel=3,  # the user's Agent(...) call
                )

    @property
    def external(self) -> bool:
        """True when this agent refers to one already deployed on the server.

        That is an agent with neither a model nor sub-agents; a model-less sequential or
        parallel team is an ordinary agent, not an external one.
        """
        return not self.model and not self.agents

    @property
    def is_claude_code(self) -> bool:
        """True when the agent runs in the Claude Agent SDK (model ``claude-code[/...]``)."""
        return self.model.startswith(_CLAUDE_CODE_PREFIX)

    def __repr__(self) -> str:
        if self.external:
            return f"Agent(name={self.name!r}, external=True)"
        parts = [f"name={self.name!r}", f"model={self.model!r}"]
        if self.tools:
            parts.append(f"tools={len(self.tools)}")
        if self.agents:
            parts.append(f"agents={len(self.agents)}")
            parts.append(f"strategy={self.strategy.value!r}")
        return f"Agent({', '.join(parts)})"

    def _steps(self) -> list[Agent]:
        return list(self.agents) if self._pipeline else [self]

    def __rshift__(self, other: Agent) -> Agent:
        """``a >> b``: a sequential pipeline running ``a`` then ``b``.

        Chains built with ``>>`` flatten (``a >> b >> c`` has three steps, named
        ``a_b_c``); an agent built explicitly with ``strategy="sequential"`` stays one step.
        """
        if not isinstance(other, Agent):
            return NotImplemented
        steps = self._steps() + other._steps()
        # The pipeline's own model is only a default for the server; a Claude Code model
        # would turn the whole pipeline into a passthrough worker, so it is not inherited.
        model = "" if self.is_claude_code else self.model
        pipeline = Agent(
            name="_".join(step.name for step in steps),
            model=model,
            agents=steps,
            strategy=Strategy.SEQUENTIAL,
        )
        pipeline._pipeline = True
        return pipeline
