"""OpenAI Agents SDK (``openai-agents``, module ``agents``) agents on the native engine.

:func:`to_agent` turns an ``agents.Agent`` into a native :class:`~agentspan.agents.Agent`:

* the server makes the model calls (``"gpt-4o"`` becomes ``"openai/gpt-4o"``);
* each ``function_tool`` becomes a worker tool whose function calls the tool's own
  ``on_invoke_tool`` in this process (the SDK validates the arguments and fills in the
  ``RunContextWrapper`` exactly as its own runner would), so a call is a durable step;
* ``handoffs`` become sub-agents of the handoff strategy (``transfer_to_<agent>`` tools);
* ``Agent.as_tool()`` becomes an ``agent_tool`` (a durable child execution);
* ``output_type`` becomes structured output; ``model_settings.temperature`` and
  ``max_tokens`` become the agent's options;
* input and output guardrails become function guardrails that fail the run when their
  tripwire triggers (the SDK raises ``...TripwireTriggered`` in that case); tool input and
  output guardrails run inside the tool's durable step.

What cannot be carried over is refused with a :class:`ConfigurationError` naming it
(hosted tools, MCP servers, ``prompt``, ``tool_use_behavior`` other than the default,
``Model`` objects, cyclic handoffs); options without an equivalent are logged once and
ignored. docs/frameworks.md has the whole table. Nothing is pickled: only JSON crosses
processes, and the functions stay where they were defined.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import os
import re
import weakref
from collections.abc import Callable
from typing import Any

from agentspan._core.errors import ConfigurationError, TerminalToolError
from agentspan._core.tool import ToolContext, ToolDef
from agentspan.agents._agent import Agent
from agentspan.agents._result import AgentResult
from agentspan.agents._tool import agent_tool
from agentspan.agents.guardrail import Guardrail, GuardrailResult
from agentspan.protocol.spec import NAME_PATTERN

try:
    import agents as oai
    from agents.tool_context import ToolContext as OaiToolContext
    from agents.tool_guardrails import ToolInputGuardrailData, ToolOutputGuardrailData
except ImportError as exc:  # pragma: no cover - exercised in a process without the package
    raise ImportError(
        "running OpenAI Agents SDK agents needs the openai-agents package: "
        "pip install 'agentspan[openai-agents]'"
    ) from exc

__all__ = ["DEFAULT_MAX_TURNS", "native_model", "raise_for_failure", "to_agent"]

log = logging.getLogger("agentspan.frameworks")

DEFAULT_MAX_TURNS: int = int(getattr(oai, "DEFAULT_MAX_TURNS", 10))
"""The SDK's own default for ``Runner.run(max_turns=...)``, used when none is given."""

# model_settings fields the native agent honours; any other one that is set is logged.
_SETTINGS_USED = ("temperature", "max_tokens")


def native_model(model: Any) -> str:
    """The ``provider/model`` string for an SDK model name.

    Bare names are OpenAI models (``"gpt-4o"`` → ``"openai/gpt-4o"``), as in the SDK;
    ``"litellm/<provider>/<model>"`` drops the LiteLLM prefix; other names with a ``/``
    are taken as ``provider/model`` already. ``None`` is the SDK's default model (or
    ``AGENTSPAN_LLM_MODEL`` when set).
    """
    if model is None:
        configured = os.environ.get("AGENTSPAN_LLM_MODEL")
        if configured:
            return configured
        model = oai.models.get_default_model()
    if not isinstance(model, str):
        raise ConfigurationError(
            f"model {model!r}: the Agentspan server makes the model calls, so an OpenAI Agents SDK "
            "Model object cannot be used; give the model's name (e.g. 'gpt-4o') instead"
        )
    if model.startswith("litellm/"):
        return model.removeprefix("litellm/")
    return model if "/" in model else f"openai/{model}"


def _native_name(name: str) -> str:
    """The agent's name as the SDK spells it in its handoff tools: every character other
    than a letter, digit or ``_`` becomes ``_``, then lower case ("Triage agent" →
    ``triage_agent``), so the ``transfer_to_<name>`` tools the model sees are the SDK's."""
    cleaned = re.sub(r"[^a-zA-Z0-9_]", "_", name).lower()
    if not NAME_PATTERN.match(cleaned):
        cleaned = f"agent_{cleaned}"
    return cleaned


async def _resolved(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _context_wrapper(context: Any) -> oai.RunContextWrapper[Any]:
    return oai.RunContextWrapper(context=context)


@dataclasses.dataclass
class _Options:
    context: dict[str, Any] | None
    max_turns: int
    model: str | None  # RunConfig.model: overrides every agent's model
    settings: Any  # RunConfig.model_settings: overrides the agents' non-None fields
    serving: bool  # only the tools matter: nothing is evaluated for a run


class _Converter:
    """Converts one agent tree; shared agents and tools are converted once."""

    def __init__(self, options: _Options) -> None:
        self.options = options
        self._agents: dict[int, Agent] = {}
        self._tools: dict[int, ToolDef] = {}
        self._targets: dict[int, list[Any]] = {}
        self._path: list[str] = []
        # native guardrail name -> (position, the SDK's guardrail, the SDK agent it is on)
        self.guardrails: dict[str, tuple[str, Any, Any]] = {}

    async def agent(self, source: Any, *, first: bool) -> Agent:
        done = self._agents.get(id(source))
        if done is not None:
            return done
        name = _native_name(source.name)
        if name in self._path:
            cycle = " -> ".join([*self._path, name])
            raise ConfigurationError(
                f"OpenAI Agents SDK agent {source.name!r} is an agent tool of itself ({cycle}); "
                "an agent cannot contain itself"
            )
        self._path.append(name)
        try:
            graph = await self._handoff_graph(source)
            if _has_cycle(graph, id(source)):
                converted = await self._swarm(source, name, graph, first=first)
            else:
                converted = await self._convert(source, name, first=first, handoffs=True)
        finally:
            self._path.pop()
        self._agents[id(source)] = converted
        return converted

    async def _handoff_graph(self, source: Any) -> dict[int, tuple[Any, list[Any]]]:
        """Every agent reachable through handoffs from ``source``, with its handoff targets,
        in the order they are found (``source`` first)."""
        graph: dict[int, tuple[Any, list[Any]]] = {}
        queue = [source]
        while queue:
            current = queue.pop(0)
            if id(current) in graph:
                continue
            targets = await self._handoff_targets(current)
            graph[id(current)] = (current, targets)
            queue.extend(targets)
        return graph

    async def _swarm(
        self, source: Any, name: str, graph: dict[int, tuple[Any, list[Any]]], *, first: bool
    ) -> Agent:
        """Handoffs that form a cycle (``triage -> faq -> triage``) cannot nest as a tree:
        the agents become one swarm team, each allowed to transfer only to its own
        handoff targets; the agent the run starts with goes first."""
        members = []
        for member, _ in graph.values():
            members.append(
                await self._convert(
                    member, _native_name(member.name), first=first and member is source, handoffs=False
                )
            )
        transitions = {
            _native_name(member.name): [_native_name(t.name) for t in targets]
            for member, targets in graph.values()
        }
        return Agent(
            name=f"{name}_handoffs",
            agents=members,
            strategy="swarm",
            allowed_transitions=transitions,
            max_turns=self.options.max_turns,
        )

    async def _convert(self, source: Any, name: str, *, first: bool, handoffs: bool) -> Agent:
        """One agent; its handoff targets become sub-agents when ``handoffs`` (a tree),
        else the swarm team holding it routes them."""
        _refuse_unsupported(source)
        settings = source.model_settings
        if self.options.settings is not None:
            settings = settings.resolve(self.options.settings)
        _log_ignored(source, settings)
        guardrails = [self._guardrail(g, "output", source) for g in source.output_guardrails]
        if first:
            # The SDK runs input guardrails only for the agent the run starts with.
            guardrails = [self._guardrail(g, "input", source) for g in source.input_guardrails] + guardrails
        targets = await self._handoff_targets(source) if handoffs else []
        return Agent(
            name=name,
            model=self.options.model or native_model(source.model),
            instructions=await self._instructions(source),
            tools=[await self.tool(t, source) for t in source.tools if await self._enabled(t, source)],
            agents=[await self.agent(t, first=False) for t in targets],
            strategy="handoff",
            output_type=_output_type(source),
            guardrails=guardrails,
            max_turns=self.options.max_turns,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            introduction=source.handoff_description,
        )

    async def _instructions(self, source: Any) -> str:
        value = source.instructions
        if callable(value):
            if self.options.serving:
                return ""  # a worker process serves tools; no run needs the prompt here
            # Dynamic instructions are resolved once per run, in the process that starts
            # it, with the run's context; the text is part of the recorded spec.
            value = await _resolved(value(_context_wrapper(self.options.context), source))
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(
                f"OpenAI Agents SDK agent {source.name!r}: instructions must give a string, got {value!r}"
            )
        return value or ""

    async def _enabled(self, item: Any, source: Any) -> bool:
        enabled = getattr(item, "is_enabled", True)
        if not callable(enabled):
            return bool(enabled)
        if self.options.serving:
            return True  # serve every tool a run might enable
        # Evaluated once per run, like dynamic instructions.
        return bool(await _resolved(enabled(_context_wrapper(self.options.context), source)))

    async def _handoff_targets(self, source: Any) -> list[Any]:
        known = self._targets.get(id(source))
        if known is None:
            known = self._targets[id(source)] = await self._read_handoffs(source)
        return known

    async def _read_handoffs(self, source: Any) -> list[Any]:
        targets: list[Any] = []
        for item in source.handoffs:
            if isinstance(item, oai.Agent):
                targets.append(item)
                continue
            if not isinstance(item, oai.Handoff):
                raise ConfigurationError(f"agent {source.name!r}: unsupported handoff {item!r}")
            target = item._agent_ref() if item._agent_ref is not None else None
            if target is None:
                raise ConfigurationError(
                    f"agent {source.name!r}: handoff {item.tool_name!r} does not name its target agent"
                )
            if not await self._enabled(item, source):
                continue
            if item.tool_name != f"transfer_to_{_native_name(target.name)}":
                log.warning(
                    "agent %r: handoff tool %r is offered as %r (tool names of handoffs are not kept yet)",
                    source.name,
                    item.tool_name,
                    f"transfer_to_{_native_name(target.name)}",
                )
            if item.input_filter is not None or _has_on_handoff(item):
                log.warning(
                    "agent %r: handoff %r: input_filter, input_type and on_handoff are not run "
                    "(the target gets the conversation; docs/frameworks.md)",
                    source.name,
                    item.tool_name,
                )
            targets.append(target)
        return targets

    async def tool(self, item: Any, owner: Any) -> ToolDef:
        done = self._tools.get(id(item))
        if done is not None:
            return done
        native = getattr(item, "_tool_def", item)
        if isinstance(native, ToolDef):
            # An Agentspan tool (@tool, http_tool, api_tool, agent_tool) in an SDK agent's
            # list runs as it does in a native agent.
            return native
        if not isinstance(item, oai.FunctionTool):
            raise ConfigurationError(
                f"agent {owner.name!r}: tool {getattr(item, 'name', item)!r} ({type(item).__name__}) is not "
                "supported yet; only function tools and Agent.as_tool() run on Agentspan"
            )
        approval = item.needs_approval
        if item._is_agent_tool and isinstance(item._agent_instance, oai.Agent):
            definition = await self._agent_tool(item)
        else:
            # No timeout of ours: the SDK applies the tool's own (timeout_seconds with its
            # timeout_behavior) inside the call, as its runner would.
            definition = ToolDef(
                name=item.name,
                description=item.description or "",
                input_schema=dict(item.params_json_schema),
                func=_invoker(item, owner),
            )
        # A per-call approval policy is a function of this process; the server cannot ask
        # it, so such tools always wait for a person (failing closed).
        definition.approval_required = bool(approval) if not callable(approval) else True
        self._tools[id(item)] = definition
        return definition

    async def _agent_tool(self, item: Any) -> ToolDef:
        child = await self.agent(item._agent_instance, first=False)
        definition = agent_tool(child, name=item.name, description=item.description or None)
        properties = (item.params_json_schema or {}).get("properties") or {}
        if set(properties) != {"input"}:
            # Structured input (as_tool(parameters=...)): the model sees the SDK's schema
            # and the child gets the arguments as JSON.
            definition.input_schema = dict(item.params_json_schema)
        return definition

    def _guardrail(self, rail: Any, position: str, owner: Any) -> Guardrail:
        name = _native_name(rail.get_name())
        self.guardrails.setdefault(name, (position, rail, owner))
        check = _input_check(rail, owner) if position == "input" else _output_check(rail, owner)
        # The SDK ends the run when a tripwire triggers: "raise" does the same here.
        return Guardrail(check, position=position, on_fail="raise", name=name)


def _has_on_handoff(item: Any) -> bool:
    """Whether ``handoff(..., on_handoff=...)`` was given: the SDK keeps the callback only
    in the closure of the function it builds, so look there (best effort)."""
    invoke = item.on_invoke_handoff
    for func in (invoke, *getattr(invoke, "args", ())):
        code, cells = getattr(func, "__code__", None), getattr(func, "__closure__", None)
        if code is None or not cells:
            continue
        for name, cell in zip(code.co_freevars, cells, strict=False):
            if name == "on_handoff" and cell.cell_contents is not None:
                return True
    return False


def _has_cycle(graph: dict[int, tuple[Any, list[Any]]], start: int) -> bool:
    """Whether the handoff graph has a cycle reachable from ``start``."""
    state: dict[int, int] = {}  # 1: on the current path, 2: done

    def visit(node: int) -> bool:
        state[node] = 1
        for target in graph[node][1]:
            mark = state.get(id(target))
            if mark == 1 or (mark is None and visit(id(target))):
                return True
        state[node] = 2
        return False

    return visit(start)


def _refuse_unsupported(source: Any) -> None:
    problems = []
    if source.mcp_servers:
        problems.append("mcp_servers (use agentspan's mcp_tool)")
    if getattr(source, "prompt", None) is not None:
        problems.append("prompt (a stored Responses API prompt)")
    if source.tool_use_behavior != "run_llm_again":
        problems.append(f"tool_use_behavior={source.tool_use_behavior!r}")
    if problems:
        raise ConfigurationError(
            f"OpenAI Agents SDK agent {source.name!r}: not supported yet: {', '.join(problems)}"
        )


def _log_ignored(source: Any, settings: Any) -> None:
    ignored = sorted(
        f.name
        for f in dataclasses.fields(settings)
        if f.name not in _SETTINGS_USED and getattr(settings, f.name) is not None
    )
    if source.hooks is not None:
        ignored.append("hooks")
    if ignored:
        log.warning(
            "OpenAI Agents SDK agent %r: ignoring %s (no Agentspan equivalent yet; docs/frameworks.md)",
            source.name,
            ", ".join(ignored),
        )


def _output_type(source: Any) -> Any:
    output_type = source.output_type
    if output_type is None or output_type is str:
        return None
    if isinstance(output_type, oai.AgentOutputSchemaBase):
        inner = getattr(output_type, "output_type", None)
        if inner is None:
            raise ConfigurationError(
                f"OpenAI Agents SDK agent {source.name!r}: a custom AgentOutputSchemaBase is not "
                "supported yet; pass the output class"
            )
        return None if inner is str else inner
    return output_type


# --------------------------------------------------------------------------- worker functions


def _call_id(context: ToolContext) -> str:
    """The model's call id (the idempotency key is ``<execution id>:<call id>``)."""
    return context.idempotency_key.removeprefix(f"{context.execution_id}:")


def _plain_output(value: Any) -> Any:
    """A tool's return value as JSON: the SDK's text outputs as their text, strings and
    JSON values as they are, anything else as the SDK sends it (``str()``)."""
    if isinstance(value, oai.ToolOutputText):
        return value.text
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


async def _invoke(item: Any, tool_context: Any, raw: str) -> Any:
    """The SDK's own invocation of a function tool (argument validation, context
    injection, failure and timeout policies); ``on_invoke_tool`` on SDKs without it."""
    invoke = getattr(oai.tool, "invoke_function_tool", None)
    if invoke is None:
        return await item.on_invoke_tool(tool_context, raw)
    return await invoke(function_tool=item, context=tool_context, arguments=raw)


def _invoker(item: Any, owner: Any) -> Callable[..., Any]:
    """The worker function of a function tool: the SDK's own invocation, with the run's
    durable shared state as the tool's ``context`` (changes are recorded with the result)."""

    async def invoke(context: ToolContext, **arguments: Any) -> Any:
        raw = json.dumps(arguments)
        tool_context = OaiToolContext(
            context=context.state,
            tool_name=item.name,
            tool_call_id=_call_id(context),
            tool_arguments=raw,
            agent=owner,
        )
        for rail in item.tool_input_guardrails or ():
            rejected = _verdict(
                await rail.run(ToolInputGuardrailData(context=tool_context, agent=owner)), rail
            )
            if rejected is not None:
                return rejected
        result = await _invoke(item, tool_context, raw)
        for rail in item.tool_output_guardrails or ():
            data = ToolOutputGuardrailData(context=tool_context, agent=owner, output=result)
            rejected = _verdict(await rail.run(data), rail)
            if rejected is not None:
                return rejected
        return _plain_output(result)

    invoke.__name__ = item.name
    invoke.__qualname__ = f"openai_agents.{item.name}"
    return invoke


def _verdict(output: Any, rail: Any) -> str | None:
    """A tool guardrail's behaviour: ``None`` to go on, or the message the model gets."""
    behavior = output.behavior
    kind = behavior.get("type")
    if kind == "reject_content":
        return str(behavior.get("message", ""))
    if kind == "raise_exception":
        raise TerminalToolError(f"tool guardrail {rail.get_name()!r} stopped the call: {output.output_info}")
    return None


def _tripped(rail: Any, output: Any) -> GuardrailResult:
    if not output.tripwire_triggered:
        return GuardrailResult(passed=True)
    info = "" if output.output_info is None else f": {output.output_info}"
    return GuardrailResult(passed=False, message=f"guardrail {rail.get_name()!r} tripwire triggered{info}")


def _input_check(rail: Any, owner: Any) -> Callable[[str], Any]:
    async def check(content: str) -> GuardrailResult:
        output = await _resolved(rail.guardrail_function(_context_wrapper(None), owner, content))
        return _tripped(rail, output)

    check.__name__ = _native_name(rail.get_name())
    return check


def _output_check(rail: Any, owner: Any) -> Callable[[str], Any]:
    output_type = _output_type(owner)

    async def check(content: str) -> GuardrailResult:
        value: Any = content
        if output_type is not None:
            from pydantic import TypeAdapter, ValidationError

            try:
                value = TypeAdapter(output_type).validate_json(content)
            except ValidationError:
                value = content  # not the declared shape: the guardrail sees the text
        output = await _resolved(rail.guardrail_function(_context_wrapper(None), owner, value))
        return _tripped(rail, output)

    check.__name__ = _native_name(rail.get_name())
    return check


# --------------------------------------------------------------------------- entry point


async def to_agent(
    source: Any,
    *,
    context: dict[str, Any] | None = None,
    max_turns: int | None = None,
    run_config: Any = None,
    serving: bool = False,
) -> Agent:
    """The native :class:`Agent` for the OpenAI Agents SDK agent ``source``.

    ``context`` is the run's context (a JSON object: it is also the run's durable shared
    state, which function tools get as ``ctx.context``); ``max_turns`` defaults to the
    SDK's; ``run_config`` may override the model and model settings of every agent.
    ``serving=True`` converts for ``serve()``: dynamic instructions are not evaluated and
    every tool is served.
    """
    if not isinstance(source, oai.Agent):
        raise TypeError(f"expected an OpenAI Agents SDK Agent, got {type(source).__name__}")
    model = getattr(run_config, "model", None)
    options = _Options(
        context=context,
        max_turns=max_turns or DEFAULT_MAX_TURNS,
        model=native_model(model) if model is not None else None,
        settings=getattr(run_config, "model_settings", None),
        serving=serving,
    )
    converter = _Converter(options)
    native = await converter.agent(source, first=True)
    _ORIGINS[native] = _Origin(converter.guardrails, options.max_turns)
    return native


# --------------------------------------------------------------------------- Runner's errors


@dataclasses.dataclass(frozen=True)
class _Origin:
    guardrails: dict[str, tuple[str, Any, Any]]
    max_turns: int


# What ``Runner`` needs to raise the SDK's own exceptions for a converted agent's run.
_ORIGINS: weakref.WeakKeyDictionary[Agent, _Origin] = weakref.WeakKeyDictionary()
_GUARDRAIL_ERROR = re.compile(r"(?:Input guardrail|Guardrail) '([^']+)' failed")


def raise_for_failure(agent: Agent, result: AgentResult) -> None:
    """Raise what the SDK's ``Runner`` raises when ``result`` (a run of ``agent``, as
    converted by :func:`to_agent`) did not complete: ``InputGuardrailTripwireTriggered`` /
    ``OutputGuardrailTripwireTriggered`` (the guardrail's ``output_info`` is the recorded
    message), ``MaxTurnsExceeded``, or ``AgentsException`` with the run's error."""
    origin = _ORIGINS.get(agent)
    if origin is None:
        return
    found = _GUARDRAIL_ERROR.search(result.error or "")
    if not result.is_success and found and found.group(1) in origin.guardrails:
        position, rail, owner = origin.guardrails[found.group(1)]
        output = oai.GuardrailFunctionOutput(output_info=result.error, tripwire_triggered=True)
        if position == "input":
            raise oai.InputGuardrailTripwireTriggered(oai.InputGuardrailResult(guardrail=rail, output=output))
        raise oai.OutputGuardrailTripwireTriggered(
            oai.OutputGuardrailResult(guardrail=rail, agent_output=None, agent=owner, output=output)
        )
    if result.finish_reason == "max_turns":
        raise oai.MaxTurnsExceeded(f"Max turns ({origin.max_turns}) exceeded")
    if not result.is_success:
        raise oai.AgentsException(
            f"run {result.execution_id} {result.status}: {result.error or 'no error given'}"
        )
