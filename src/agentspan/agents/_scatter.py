"""``scatter_gather``: a coordinator that fans one problem out to many copies of a worker."""

from __future__ import annotations

from typing import Any

from agentspan.agents._agent import Agent
from agentspan.agents._tool import agent_tool

__all__ = ["scatter_gather"]

_DEFAULT_TIMEOUT_SECONDS = 300

_COORDINATOR_INSTRUCTIONS = (
    "You coordinate parallel work. Split the problem into independent sub-tasks. Then call "
    "the {worker} tool once per sub-task, issuing ALL of these calls in parallel in a single "
    "response rather than one after another. When every result is back, combine them into one "
    "complete, coherent answer."
)


def scatter_gather(
    name: str,
    worker: Agent,
    *,
    model: Any = None,
    instructions: str = "",
    tools: list[Any] | None = None,
    retry_count: int | None = None,
    retry_delay_seconds: float | None = None,
    fail_fast: bool = False,
    **kwargs: Any,
) -> Agent:
    """A coordinator agent that calls ``worker`` many times in parallel and merges the results.

    The coordinator's first tool is ``agent_tool(worker)``, followed by ``tools``. Its
    instructions tell the model to decompose the problem, call the worker for every part
    in one response, then synthesise; ``instructions`` are appended. ``model`` defaults to
    the worker's model, ``timeout_seconds`` to 300. With ``fail_fast=True`` a failed worker
    call fails the coordinator instead of being reported to its model. Other keyword
    arguments go to :class:`Agent`.
    """
    if not isinstance(worker, Agent):
        raise TypeError(f"scatter_gather() needs an Agent as worker, got {type(worker).__name__}")
    worker_tool = agent_tool(
        worker,
        retry_count=retry_count,
        retry_delay_seconds=retry_delay_seconds,
        optional=False if fail_fast else None,
    )
    prompt = _COORDINATOR_INSTRUCTIONS.format(worker=worker_tool.name)
    if instructions:
        prompt = f"{prompt}\n\n{instructions}"
    kwargs.setdefault("timeout_seconds", _DEFAULT_TIMEOUT_SECONDS)
    return Agent(
        name=name,
        model=worker.model if model is None else model,
        instructions=prompt,
        tools=[worker_tool, *(tools or [])],
        **kwargs,
    )
