"""``@agent`` and ``AgentDef``: an agent declared as a function.

The decorated function keeps working as a function; the definition rides along as
``fn._agent_def``. ``Agent(agents=[fn])`` and the runtime's methods turn it into an
``Agent`` (``as_agent``), a sub-agent without a model taking its parent's.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any, overload

from agentspan.agents._agent import Agent, Strategy

__all__ = ["AgentDef", "agent", "as_agent"]


@dataclasses.dataclass
class AgentDef:
    """What ``@agent`` recorded: the ``Agent`` arguments plus the function itself."""

    name: str
    func: Callable[..., Any]
    model: str = ""
    instructions: Callable[..., Any] | str | None = None
    tools: list[Any] = dataclasses.field(default_factory=list)
    guardrails: list[Any] = dataclasses.field(default_factory=list)
    agents: list[Any] = dataclasses.field(default_factory=list)
    strategy: str | Strategy = Strategy.HANDOFF
    max_turns: int = 25
    max_tokens: int | None = None
    temperature: float | None = None
    metadata: dict[str, Any] | None = None
    local_code_execution: bool = False
    allowed_languages: list[str] | None = None
    allowed_commands: list[str] | None = None
    code_execution: Any = None
    cli_commands: bool = False
    cli_config: Any = None
    cli_allowed_commands: list[str] | None = None
    credentials: list[Any] | None = None

    def resolved_instructions(self) -> str:
        """The function's returned text, or else its docstring.

        The reference calls the function and uses what it returns, so a docstring-only
        function (what its docs show) ends up without instructions; the docstring is
        what such a user meant."""
        source = self.instructions if self.instructions is not None else self.func
        if isinstance(source, str):
            return source
        try:
            returned = source() if not inspect.signature(source).parameters else None
        except (TypeError, ValueError):
            returned = None
        if isinstance(returned, str) and returned.strip():
            return returned
        return inspect.getdoc(source) or ""

    def to_agent(self, model: str = "") -> Agent:
        """The ``Agent`` this definition describes; ``model`` is used when it names none."""
        return Agent(
            name=self.name,
            model=self.model or model,
            instructions=self.resolved_instructions(),
            tools=list(self.tools),
            guardrails=list(self.guardrails),
            agents=[as_agent(sub, self.model or model) for sub in self.agents],
            strategy=self.strategy,
            max_turns=self.max_turns,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            metadata=self.metadata,
            local_code_execution=self.local_code_execution,
            allowed_languages=self.allowed_languages,
            allowed_commands=self.allowed_commands,
            code_execution=self.code_execution,
            cli_commands=self.cli_commands,
            cli_config=self.cli_config,
            cli_allowed_commands=self.cli_allowed_commands,
            credentials=self.credentials,
        )


def as_agent(value: Any, model: str = "") -> Any:
    """``value`` as an ``Agent`` when it is an ``@agent`` function; anything else as is."""
    definition = getattr(value, "_agent_def", None)
    if isinstance(definition, AgentDef):
        return definition.to_agent(model)
    return value


@overload
def agent(func: Callable[..., Any], /) -> Callable[..., Any]: ...


@overload
def agent(
    func: None = None, /, *, name: str | None = None, **options: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...


def agent(func: Callable[..., Any] | None = None, /, *, name: str | None = None, **options: Any) -> Any:
    """Declare an agent as a function: ``@agent`` or ``@agent(model=..., tools=[...])``.

    The instructions are what the function returns, or its docstring. Accepts the
    reference's options (``model``, ``tools``, ``guardrails``, ``agents``, ``strategy``,
    ``max_turns``, ``max_tokens``, ``temperature``, ``metadata``, the code/CLI options,
    ``credentials``); an unknown one is a ``TypeError`` at decoration time.
    """
    known = {f.name for f in dataclasses.fields(AgentDef)} - {"name", "func", "instructions"}
    unknown = set(options) - known
    if unknown:
        raise TypeError(f"@agent got unexpected option(s): {', '.join(sorted(unknown))}")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        definition = AgentDef(name=name or fn.__name__, func=fn, instructions=fn, **options)
        definition.tools = list(definition.tools or [])
        definition.guardrails = list(definition.guardrails or [])
        definition.agents = list(definition.agents or [])

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        wrapper._agent_def = definition  # type: ignore[attr-defined]
        return wrapper

    return decorate(func) if func is not None else decorate
