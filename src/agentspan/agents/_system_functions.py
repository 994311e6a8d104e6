"""Worker tasks for the decision functions a user attaches to an agent.

The server consults these Python callables through ordinary worker tasks, served by the
same :class:`~agentspan.client._worker.WorkerPool` as tools:

* ``<agent>_router_fn``: input ``{"prompt", "agents": [names]}``, output
  ``{"selected_agent": name}``;
* ``<agent>_stop_when``: input ``{"result", "messages", "iteration", "token_usage"}``,
  output ``{"should_stop": bool}``;
* ``<agent>_gate``: input ``{"result"}``, output ``{"decision": "continue" | "stop"}``;
* ``<agent>_handoff_<target>`` (``OnCondition``): input ``{"result", "active_agent",
  "messages"}``, output ``{"handoff": bool}``;
* ``<guardrail name>`` (a function guardrail): input ``{"content", "iteration"}``, output
  ``{"passed", "message", "fixed_output", "on_fail", "guardrail_name"}``;
* ``<agent>_<position>`` (lifecycle callbacks, ``callback.py``): input ``{"position",
  "agent_name", ...}`` (what the position passes), output ``{"override", "errors"}``.

A ``termination=`` condition is evaluated by the server and needs no worker. Which
objects get a task mirrors how ``_serialize`` names them, so every ``taskName`` in the
wire config has a function here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from agentspan._core.errors import ConfigurationError, TerminalToolError
from agentspan._core.tool import ToolDef, get_tool_def
from agentspan.agents._agent import Agent
from agentspan.agents.callback import POSITION_METHODS, callback_worker, overrides
from agentspan.agents.guardrail import Guardrail, guardrail_worker

__all__ = ["collect_system_functions"]

log = logging.getLogger("agentspan.agents")

_RETRY_COUNT = 2


def _settle(value: Any) -> Any:
    """The value of a user callable's result, awaiting it if the callable was async.

    Wrappers run in a worker thread with no event loop, so a coroutine gets its own.
    """
    if not isinstance(value, Awaitable):
        return value

    async def wait() -> Any:
        return await value

    return asyncio.run(wait())


def _system_tool(name: str, description: str, func: Callable[..., Any]) -> ToolDef:
    return ToolDef(name=name, description=description, func=func, retry_count=_RETRY_COUNT)


# --------------------------------------------------------------------------- wrappers


def router_task(agent: Agent, router: Callable[..., Any]) -> ToolDef:
    """``<agent>_router_fn``: ask ``router(prompt)`` which sub-agent handles the prompt."""

    def router_fn(prompt: str = "", agents: list[str] | None = None) -> dict[str, str]:
        choice = _settle(router(prompt))
        selected = choice.name if isinstance(choice, Agent) else choice
        if not isinstance(selected, str) or not selected:
            raise TerminalToolError(
                f"router of agent {agent.name!r} must return an agent name or Agent, got {choice!r}"
            )
        if agents and selected not in agents:
            raise TerminalToolError(
                f"router of agent {agent.name!r} chose {selected!r}, which is not one of {agents}"
            )
        return {"selected_agent": selected}

    return _system_tool(f"{agent.name}_router_fn", f"Router function of agent {agent.name}", router_fn)


def stop_when_task(agent: Agent, stop_when: Callable[[dict[str, Any]], Any]) -> ToolDef:
    """``<agent>_stop_when``: ``stop_when(context)`` truthy stops the agent's loop."""

    def stop_when_fn(
        result: str | None = None,
        messages: list[Any] | None = None,
        iteration: int = 0,
        token_usage: dict[str, Any] | None = None,
    ) -> dict[str, bool]:
        context = {
            "result": result or "",
            "messages": list(messages or []),
            "iteration": iteration,
            "token_usage": dict(token_usage or {}),
        }
        return {"should_stop": bool(_settle(stop_when(context)))}

    return _system_tool(f"{agent.name}_stop_when", f"stop_when condition of agent {agent.name}", stop_when_fn)


def gate_task(agent: Agent, gate: Callable[[dict[str, Any]], Any]) -> ToolDef:
    """``<agent>_gate``: ``gate({"result": ...})`` truthy continues the pipeline.

    A gate that raises lets the pipeline continue; the exception is logged.
    """

    def gate_fn(result: str | None = None) -> dict[str, str]:
        try:
            proceed = bool(_settle(gate({"result": result or ""})))
        except Exception:  # noqa: BLE001 - documented: a failing gate does not stop the pipeline
            log.exception("gate of agent %r raised; continuing the pipeline", agent.name)
            proceed = True
        return {"decision": "continue" if proceed else "stop"}

    return _system_tool(f"{agent.name}_gate", f"Gate of agent {agent.name}", gate_fn)


def handoff_task(agent: Agent, handoff: Any) -> ToolDef:
    """``<agent>_handoff_<target>``: whether ``agent`` hands over to ``handoff.target`` now.

    An exception counts as "no handoff"; it is logged.
    """
    target = str(handoff.target)
    predicate: Callable[[dict[str, Any]], Any] = getattr(handoff, "should_handoff", None) or handoff.condition

    def handoff_fn(
        result: str | None = None, active_agent: str = "", messages: list[Any] | None = None
    ) -> dict[str, bool]:
        context = {
            "result": result or "",
            "active_agent": active_agent,
            "messages": list(messages or []),
            "tool_name": "",
            "tool_result": "",
        }
        try:
            decision = bool(_settle(predicate(context)))
        except Exception:  # noqa: BLE001 - documented: a failing condition means no handoff
            log.exception("handoff condition %s -> %s raised; not handing over", agent.name, target)
            decision = False
        return {"handoff": decision}

    name = f"{agent.name}_handoff_{target}"
    return _system_tool(name, f"Handoff condition from {agent.name} to {target}", handoff_fn)


# --------------------------------------------------------------------------- discovery


def _is_condition_handoff(handoff: Any) -> bool:
    """True for handoffs the serialiser sends as ``on_condition`` (see ``_handoff_config``)."""
    if callable(getattr(handoff, "to_config", None)):
        return False
    if hasattr(handoff, "tool_name") or hasattr(handoff, "text"):
        return False
    return hasattr(handoff, "condition")


def _is_function_gate(gate: Any) -> bool:
    """True for gates the serialiser sends as a ``taskName`` (see ``_gate_config``)."""
    if gate is None or not callable(gate) or callable(getattr(gate, "to_config", None)):
        return False
    return not hasattr(gate, "text")


def guardrail_task(rail: Guardrail) -> ToolDef:
    """``<guardrail name>``: ``{content, iteration}`` in, the verdict out (see ``guardrail_worker``)."""
    return _system_tool(rail.name, f"Guardrail {rail.name}", guardrail_worker(rail))


def _agent_functions(agent: Agent) -> list[tuple[Any, ToolDef]]:
    """``(user object, task)`` for each decision function of ``agent`` itself."""
    found: list[tuple[Any, ToolDef]] = []
    rails = list(agent.guardrails)
    for item in agent.tools:
        if not isinstance(item, str):  # a string is a built-in Claude Code tool
            rails.extend(get_tool_def(item).guardrails)
    for rail in rails:
        if isinstance(rail, Guardrail) and rail.func is not None:
            found.append((rail.func, guardrail_task(rail)))
    router = agent.router
    if router is not None and not isinstance(router, Agent):
        found.append((router, router_task(agent, router)))
    if agent.stop_when is not None:
        if not callable(agent.stop_when):
            raise ConfigurationError(f"agent {agent.name!r}: stop_when must be a function")
        found.append((agent.stop_when, stop_when_task(agent, agent.stop_when)))
    if _is_function_gate(agent.gate):
        found.append((agent.gate, gate_task(agent, agent.gate)))
    for handoff in agent.handoffs:
        if _is_condition_handoff(handoff):
            found.append((handoff, handoff_task(agent, handoff)))
    for position, method in POSITION_METHODS.items():
        legacy = getattr(agent, f"{position}_callback", None)
        handlers = [h for h in agent.callbacks if overrides(h, method)]
        if legacy is not None or handlers:
            worker = callback_worker(position, handlers, legacy)
            name = f"{agent.name}_{position}"
            found.append(
                ((legacy, *handlers), _system_tool(name, f"{position} callback of {agent.name}", worker))
            )
    return found


def _children(agent: Agent) -> list[Agent]:
    children = list(agent.agents)
    if isinstance(agent.router, Agent):
        children.append(agent.router)
    for item in agent.tools:
        if isinstance(item, str):
            continue  # A built-in Claude Code tool.
        definition = get_tool_def(item)
        child = definition.config.get("agent")
        if definition.tool_type == "agent_tool" and isinstance(child, Agent):
            children.append(child)
    return children


def collect_system_functions(agent: Agent) -> dict[str, ToolDef]:
    """The worker tasks for every router, ``stop_when``, gate and ``OnCondition`` in the tree.

    The walk covers sub-agents, router agents and the agents behind ``agent_tool``. Each
    returned :class:`ToolDef` has ``func`` set and ``retry_count=2``.

    Raises:
        ConfigurationError: two agents of the same name attach different functions, so one
            task name would mean two things.
    """
    found: dict[str, ToolDef] = {}
    owners: dict[str, Any] = {}
    visited: set[int] = set()
    pending = [agent]
    while pending:
        current = pending.pop(0)
        if id(current) in visited:
            continue
        visited.add(id(current))
        for user_object, definition in _agent_functions(current):
            if definition.name in owners and owners[definition.name] != user_object:
                raise ConfigurationError(
                    f"task {definition.name!r} would serve two different functions; agents that "
                    "attach a router, stop_when, gate or handoff condition, and guardrails, "
                    "need unique names"
                )
            owners[definition.name] = user_object
            found[definition.name] = definition
        pending.extend(_children(current))
    return found
