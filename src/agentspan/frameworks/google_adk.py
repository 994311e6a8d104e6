"""Google ADK (``google-adk``, module ``google.adk``) agents on the native engine.

:func:`to_agent` turns an ADK agent tree into a native :class:`~agentspan.agents.Agent`:

* ``LlmAgent`` (``Agent``) becomes a native agent whose model calls the server makes
  (``"gemini-2.0-flash"`` becomes ``"google_gemini/gemini-2.0-flash"``,
  ``LiteLlm("openai/gpt-4o")`` becomes ``"openai/gpt-4o"``);
* each function tool becomes a worker tool whose function calls the tool's own
  ``run_async`` in this process with a real ADK ``ToolContext`` over the run's state, so a
  call is a durable step and ``tool_context.state`` changes are recorded with its result;
* ``sub_agents`` become the handoff strategy, ``SequentialAgent`` the sequential one,
  ``ParallelAgent`` the parallel one, ``LoopAgent`` a ``round_robin`` team whose turns are
  bounded by ``max_iterations`` and which stops when a tool escalates (``exit_loop``);
* ``AgentTool`` becomes an ``agent_tool`` (a durable child execution);
* ADK's session state is the run's state, kept by the server across the whole tree
  (``sessionState`` in the spec: ``output_key``, ``{var}`` instructions; see
  ``server/engine/session_state.py``).

What cannot be carried over is refused with a :class:`ConfigurationError` naming it;
docs/frameworks.md has the whole table. Nothing is pickled: only JSON crosses processes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from agentspan._core.errors import ConfigurationError
from agentspan._core.tool import ToolContext, ToolDef
from agentspan.agents._agent import Agent
from agentspan.agents._tool import agent_tool
from agentspan.frameworks.google_adk_callbacks import adk_hooks
from agentspan.protocol.spec import SessionStateSpec

try:
    from google.adk.agents import BaseAgent, LlmAgent, LoopAgent, ParallelAgent, SequentialAgent
    from google.adk.agents.callback_context import CallbackContext
    from google.adk.agents.invocation_context import InvocationContext
    from google.adk.agents.readonly_context import ReadonlyContext
    from google.adk.sessions import InMemorySessionService, Session
    from google.adk.tools.agent_tool import AgentTool
    from google.adk.tools.base_tool import BaseTool
    from google.adk.tools.function_tool import FunctionTool
    from google.adk.tools.tool_confirmation import ToolConfirmation
    from google.adk.tools.tool_context import ToolContext as AdkToolContext
except ImportError as exc:  # pragma: no cover - exercised in a process without the package
    raise ImportError(
        "running Google ADK agents needs the google-adk package: pip install 'agentspan[google-adk]'"
    ) from exc

__all__ = ["ESCALATE_KEY", "native_model", "to_agent"]

log = logging.getLogger("agentspan.frameworks")

ESCALATE_KEY = "_adk_escalate"
"""State key a tool's ``tool_context.actions.escalate = True`` sets: it ends a LoopAgent."""

# ADK LlmAgent fields that have no native equivalent yet: refused when set.
_REFUSED_FIELDS = (
    "static_instruction",
    "code_executor",
    "input_schema",
    "state_schema",
    "retry_config",
    "parallel_worker",
    "on_model_error_callback",
)
_REFUSED_AGENT_FIELDS = ("timeout", "rerun_on_resume")
# generate_content_config fields and the native option each becomes.
_CONFIG_FIELDS = {"temperature": "temperature", "max_output_tokens": "max_tokens"}
_DEFAULT_LOOP_ITERATIONS = 10
"""A LoopAgent without ``max_iterations`` runs until a tool escalates; this bounds it."""


def native_model(model: Any) -> str | None:
    """The ``provider/model`` string for an ADK model, or ``None`` when it is empty (the
    agent inherits its ancestor's, as in ADK).

    ``"gemini-…"`` names are Gemini models (``google_gemini/…``); names with a ``/`` are
    taken as ``provider/model`` (LiteLLM's spelling, which is also ours); a ``LiteLlm``
    object gives its ``model``; a ``Gemini`` object its name.
    """
    if isinstance(model, str):
        name = model
    elif isinstance(getattr(model, "model", None), str):
        name = model.model
    else:
        raise ConfigurationError(f"model {model!r}: give a model name such as 'gemini-2.0-flash'")
    if not name:
        return None
    if "/" in name:
        return name
    if name.startswith("gemini"):
        return f"google_gemini/{name}"
    raise ConfigurationError(
        f"model {name!r}: not a Gemini model name; give it as 'provider/model' "
        "(e.g. LiteLlm('openai/gpt-4o') or 'anthropic/claude-sonnet-4-5')"
    )


def _default_model() -> str:
    """The model of an agent with none, and none above it: ``AGENTSPAN_LLM_MODEL`` when set,
    else ADK's own default (``LlmAgent.set_default_model``)."""
    configured = os.environ.get("AGENTSPAN_LLM_MODEL")
    if configured:
        return configured
    model = native_model(getattr(LlmAgent, "_default_model", "") or "")
    if model is None:
        raise ConfigurationError("a Google ADK agent has no model, and ADK has no default one")
    return model


@dataclasses.dataclass
class _Options:
    context: dict[str, Any]
    serving: bool


class _Converter:
    """Converts one ADK agent tree; an agent used twice is converted once."""

    def __init__(self, options: _Options, root: Any) -> None:
        self.options = options
        self._agents: dict[int, Agent] = {}
        self._global = getattr(root, "global_instruction", "") or ""

    def agent(self, source: Any, model: str | None) -> Agent:
        done = self._agents.get(id(source))
        if done is not None:
            return done
        _refuse(source, _REFUSED_AGENT_FIELDS)
        if isinstance(source, LlmAgent):
            converted = self._llm(source, model)
        elif isinstance(source, SequentialAgent | ParallelAgent | LoopAgent):
            converted = self._workflow(source, model)
        else:
            raise ConfigurationError(
                f"Google ADK agent {source.name!r}: a custom {type(source).__name__} (its own "
                "_run_async_impl) is not supported yet; build it from LlmAgent, SequentialAgent, "
                "ParallelAgent and LoopAgent"
            )
        self._agents[id(source)] = converted
        return converted

    def _introduction(self, source: Any) -> str | None:
        """ADK's ``description`` describes a transfer target to its parent's model (here: the
        handoff tool's description); in a workflow team it would be read as a message of the
        transcript, so only handoff targets keep it."""
        parent = getattr(source, "parent_agent", None)
        return (source.description or None) if isinstance(parent, LlmAgent) else None

    def _workflow(self, source: Any, model: str | None) -> Agent:
        members = [self.agent(sub, model) for sub in source.sub_agents]
        if not members:
            raise ConfigurationError(f"Google ADK agent {source.name!r}: a workflow agent needs sub_agents")
        options: dict[str, Any] = {}
        if isinstance(source, SequentialAgent):
            strategy = "sequential"
        elif isinstance(source, ParallelAgent):
            strategy = "parallel"
        else:
            # A loop runs its sub-agents in order, again and again: round_robin turns, one
            # per sub-agent per iteration, until an escalating tool or max_iterations.
            strategy = "round_robin"
            iterations = source.max_iterations or _DEFAULT_LOOP_ITERATIONS
            options = {"max_turns": iterations * len(members)}
        agent = Agent(
            name=source.name,
            agents=members,
            strategy=strategy,
            introduction=self._introduction(source),
            callbacks=_hooks(source, {}),
            **options,
        )
        stop_key = ESCALATE_KEY if isinstance(source, LoopAgent) else None
        return _sharing(agent, SessionStateSpec(stop_key=stop_key))

    def _llm(self, source: Any, inherited: str | None) -> Agent:
        _refuse(source, _REFUSED_FIELDS)
        if source.mode not in (None, "chat"):
            # ADK sets "chat" on an LlmAgent's sub-agents: the handoff strategy is that.
            raise ConfigurationError(
                f"Google ADK agent {source.name!r}: mode={str(source.mode)!r} is not supported yet"
            )
        model = native_model(source.model) or inherited or _default_model()
        instructions, template = self._instructions(source)
        options = _content_config(source)
        planner = source.planner
        if planner is not None:
            options.update(_planner(source, planner))
        tools = [self.tool(t, source, model) for t in source.tools]
        by_name = {getattr(t, "name", ""): t for t in source.tools if isinstance(t, BaseTool)}
        by_name.update(
            {
                t.__name__: FunctionTool(t)
                for t in source.tools
                if inspect.isfunction(t) or inspect.ismethod(t)
            }
        )
        agent = Agent(
            name=source.name,
            model=model,
            instructions=instructions,
            tools=tools,
            callbacks=_hooks(source, by_name),
            agents=[self.agent(sub, model) for sub in source.sub_agents],
            strategy="handoff",
            output_type=source.output_schema,
            include_contents="none" if source.include_contents == "none" else None,
            introduction=self._introduction(source),
            **options,
        )
        return _sharing(agent, SessionStateSpec(output_key=source.output_key, template=template))

    def _instructions(self, source: Any) -> tuple[str, bool]:
        """The instructions and whether ``{var}`` in them is filled from the state.

        A string is a template, filled by the server at each model call (ADK's state
        injection). An instruction provider (a function of a ``ReadonlyContext``) is
        called once per run, in the process that starts it, with the initial state; its
        text is recorded in the run's spec and is not a template, as in ADK."""
        value = source.instruction
        template = True
        if callable(value):
            template = False
            value = "" if self.options.serving else _call_provider(value, source, self.options.context)
        if not isinstance(value, str):
            raise ConfigurationError(
                f"Google ADK agent {source.name!r}: instruction must give a string, got {value!r}"
            )
        parts = [p for p in (self._global, value) if p]
        return "\n\n".join(parts), template

    def tool(self, item: Any, owner: Any, model: str) -> Any:
        native = getattr(item, "_tool_def", item)
        if isinstance(native, ToolDef):
            return item  # an Agentspan tool (@tool, http_tool, agent_tool, ...) as it is
        if isinstance(item, AgentTool):
            if item.skip_summarization:
                raise ConfigurationError(
                    f"Google ADK agent {owner.name!r}: AgentTool {item.name!r}: skip_summarization "
                    "is not supported yet (the model always sees the agent's answer as the tool result)"
                )
            child = self.agent(item.agent, model)
            return agent_tool(child, name=item.name, description=item.description or None)
        if not isinstance(item, BaseTool) and callable(item):
            item = FunctionTool(item)
        plain = isinstance(item, FunctionTool) and type(item).run_async is FunctionTool.run_async
        if not plain or getattr(item, "is_long_running", False):
            raise ConfigurationError(
                f"Google ADK agent {owner.name!r}: tool {getattr(item, 'name', item)!r} "
                f"({type(item).__name__}) is not supported yet; only function tools and AgentTool "
                "run on Agentspan"
            )
        confirmation = item._require_confirmation
        return ToolDef(
            name=item.name,
            description=item.description or "",
            input_schema=_input_schema(item),
            func=_invoker(item, owner),
            # A per-call confirmation function cannot be asked by the server: such a tool
            # always waits for a person (failing closed).
            approval_required=bool(confirmation) if not callable(confirmation) else True,
        )


def _hooks(source: Any, tools: dict[str, Any]) -> list[Any] | None:
    handler = adk_hooks(source, tools, _invocation, CallbackContext, AdkToolContext)
    return [handler] if handler is not None else None


def _sharing(agent: Agent, settings: SessionStateSpec) -> Agent:
    """Mark ``agent`` as sharing the run's state (ADK's session), with its settings."""
    agent.session_state = settings
    return agent


def _refuse(source: Any, fields: tuple[str, ...]) -> None:
    problems = [name for name in fields if getattr(source, name, None) not in (None, False, "", [])]
    if problems:
        raise ConfigurationError(
            f"Google ADK agent {source.name!r}: not supported yet: {', '.join(problems)} (docs/frameworks.md)"
        )


def _content_config(source: Any) -> dict[str, Any]:
    config = source.generate_content_config
    if config is None:
        return {}
    values = config.model_dump(exclude_none=True)
    unknown = sorted(set(values) - set(_CONFIG_FIELDS))
    if unknown:
        raise ConfigurationError(
            f"Google ADK agent {source.name!r}: generate_content_config fields not supported yet: "
            f"{', '.join(unknown)} (temperature and max_output_tokens are)"
        )
    return {native: values[field] for field, native in _CONFIG_FIELDS.items() if field in values}


def _planner(source: Any, planner: Any) -> dict[str, Any]:
    kind = type(planner).__name__
    if kind == "PlanReActPlanner":
        return {"planner": True}  # a planning call before the agent acts
    thinking = getattr(planner, "thinking_config", None) if kind == "BuiltInPlanner" else None
    budget = getattr(thinking, "thinking_budget", None)
    if thinking is not None and budget:
        return {"thinking_budget_tokens": int(budget)}
    raise ConfigurationError(
        f"Google ADK agent {source.name!r}: planner {kind} is not supported yet "
        "(PlanReActPlanner and BuiltInPlanner with a thinking_budget are)"
    )


def _call_provider(provider: Callable[..., Any], source: Any, state: dict[str, Any]) -> Any:
    value = provider(ReadonlyContext(_invocation(source, state, "start")))
    if inspect.isawaitable(value):
        raise ConfigurationError(
            f"Google ADK agent {source.name!r}: an async instruction provider is not supported yet"
        )
    return value


def _input_schema(item: Any) -> dict[str, Any]:
    declaration = item._get_declaration()
    if declaration is None:
        return {"type": "object", "properties": {}}
    if declaration.parameters_json_schema is not None:
        return dict(declaration.parameters_json_schema)
    if declaration.parameters is None:
        return {"type": "object", "properties": {}}
    schema: dict[str, Any] = _lower_types(declaration.parameters.model_dump(mode="json", exclude_none=True))
    return schema


def _lower_types(value: Any) -> Any:
    """A Gemini ``Schema`` as JSON Schema: its types are upper case (``"STRING"``)."""
    if isinstance(value, dict):
        return {
            k: (v.lower() if k == "type" and isinstance(v, str) else _lower_types(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_lower_types(v) for v in value]
    return value


# --------------------------------------------------------------------------- worker functions

_SESSIONS = InMemorySessionService()
"""Only to satisfy InvocationContext: nothing is stored in it (the state is the run's)."""


def _invocation(owner: Any, state: dict[str, Any], invocation_id: str) -> Any:
    session = Session(id=invocation_id, app_name="agentspan", user_id="agentspan", state=state)
    return InvocationContext(
        session_service=_SESSIONS, invocation_id=invocation_id, agent=owner, session=session
    )


def _plain_output(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def _invoker(item: Any, owner: Any) -> Callable[..., Any]:
    """The worker function of a function tool: ADK's own ``run_async`` (argument checks,
    ``ToolContext`` injection) with the run's durable state as ``tool_context.state``.

    ADK calls a plain (sync) function on the event loop; the worker runs it in its thread
    pool instead (with a loop of its own for ADK's wrapper), so a slow tool does not stall
    the process's other calls and lease renewals. Async functions run on the loop."""

    async def call(context: ToolContext, arguments: dict[str, Any]) -> Any:
        invocation = _invocation(owner, context.state, context.execution_id)
        call_id = context.idempotency_key.removeprefix(f"{context.execution_id}:")
        # Agentspan asked for the approval before this task was given to a worker.
        tool_context = AdkToolContext(
            invocation, function_call_id=call_id, tool_confirmation=ToolConfirmation(confirmed=True)
        )
        result = await item.run_async(args=arguments, tool_context=tool_context)
        # ADK writes changes to both the session's state and the call's delta; the session
        # holds in-place changes to nested values too.
        context.state.update(invocation.session.state)
        context.state.update(tool_context.actions.state_delta)
        if tool_context.actions.escalate:
            context.state[ESCALATE_KEY] = True
        return _plain_output(result)

    invoke: Callable[..., Any]
    if inspect.iscoroutinefunction(inspect.unwrap(item.func)):

        async def invoke_async(context: ToolContext, **arguments: Any) -> Any:
            return await call(context, arguments)

        invoke = invoke_async
    else:

        def invoke_sync(context: ToolContext, **arguments: Any) -> Any:
            return asyncio.run(call(context, arguments))

        invoke = invoke_sync
    invoke.__name__ = item.name
    invoke.__qualname__ = f"google_adk.{item.name}"
    return invoke


# --------------------------------------------------------------------------- entry point


def to_agent(source: Any, *, context: dict[str, Any] | None = None, serving: bool = False) -> Agent:
    """The native :class:`Agent` for the ADK agent ``source`` (a root agent).

    ``context`` is the run's initial session state (a JSON object; ``None`` is empty).
    ``serving=True`` converts for ``serve()``: instruction providers are not called.
    """
    if not isinstance(source, BaseAgent):
        raise TypeError(f"expected a Google ADK agent, got {type(source).__name__}")
    if context is not None and not isinstance(context, dict):
        raise ConfigurationError(
            "a Google ADK agent's context is its initial session state: pass a dict, "
            f"got {type(context).__name__}"
        )
    options = _Options(context=dict(context or {}), serving=serving)
    return _Converter(options, source).agent(source, None)
