"""A drop-in for the OpenAI Agents SDK's ``Runner``: ``Runner.run``, ``Runner.run_sync`` and
``Runner.run_streamed`` run the agent durably on Agentspan and return a ``RunResult`` whose
``final_output`` is the answer (an instance of ``output_type`` when the agent has one).

Also importable as ``from agentspan import Runner, RunResult``. It takes an OpenAI Agents
SDK ``Agent`` (needs ``pip install 'agentspan[openai-agents]'``) or a native ``Agent``, and
uses the default runtime of the module-level API (``configure()`` sets it up).
For an OpenAI Agents SDK agent, a run that does not complete raises what the SDK's runner
raises (``InputGuardrailTripwireTriggered``, ``OutputGuardrailTripwireTriggered``,
``MaxTurnsExceeded``, else ``AgentsException``); for a native agent the result is returned
(``final_output`` is ``None``, ``error`` says why), as in the reference product.
Differences from the SDK's runner are listed in docs/frameworks.md: the input is a string,
``context`` is a JSON object (the run's durable shared state), and ``stream_events()``
yields Agentspan events.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Generator
from typing import Any

from agentspan._core.errors import ConfigurationError
from agentspan.agents._agent import Agent
from agentspan.agents._handle import AgentHandle
from agentspan.agents._result import AgentEvent, AgentResult
from agentspan.agents._run import _runtime
from agentspan.agents._runtime import AgentRuntime
from agentspan.agents._stream import AsyncAgentStream

__all__ = ["RunResult", "RunResultStreaming", "Runner"]

_UNSET_MAX_TURNS = 10  # the SDK's default; a native Agent keeps its own unless another is given


class RunResult:
    """The outcome of a run: ``final_output`` plus the full :class:`AgentResult` (``result``)."""

    def __init__(self, result: AgentResult) -> None:
        self.result = result

    @property
    def final_output(self) -> Any:
        """The answer: text, or an instance of the agent's ``output_type``; ``None`` when
        the run did not complete (see ``error``)."""
        return self.result.output if self.result.is_success else None

    @property
    def execution_id(self) -> str:
        return self.result.execution_id

    @property
    def error(self) -> str | None:
        return self.result.error

    def __repr__(self) -> str:
        return f"RunResult(execution_id={self.execution_id!r}, final_output={self.final_output!r})"


class RunResultStreaming:
    """A started run whose events can be followed: ``async for event in
    result.stream_events()``, then ``final_output``. ``await``-ing it gives the
    :class:`AsyncAgentStream` (the reference product's form)."""

    def __init__(self, handle: AgentHandle, runtime: AgentRuntime, agent: Any = None) -> None:
        self._handle = handle
        self._runtime = runtime
        self._agent = agent
        self._result: AgentResult | None = None

    @property
    def execution_id(self) -> str:
        return self._handle.execution_id

    @property
    def is_complete(self) -> bool:
        return self._result is not None

    @property
    def final_output(self) -> Any:
        """The answer, once :meth:`stream_events` has been read to the end."""
        return None if self._result is None else RunResult(self._result).final_output

    @property
    def result(self) -> AgentResult | None:
        return self._result

    async def stream_events(self) -> AsyncIterator[AgentEvent]:
        stream = AsyncAgentStream(self._handle, self._runtime)
        async for event in stream:
            yield event
        self._result = await stream.get_result()
        _raise_for_failure(self._agent, self._result)

    def __await__(self) -> Generator[Any, None, AsyncAgentStream]:
        async def as_stream() -> AsyncAgentStream:
            return AsyncAgentStream(self._handle, self._runtime)

        return as_stream().__await__()


def _input_text(input: Any) -> str:
    if isinstance(input, str):
        return input
    raise ConfigurationError(
        "Runner input must be a string here; lists of input items (a conversation) are not supported yet"
    )


def _context(context: Any) -> dict[str, Any] | None:
    if context is None or isinstance(context, dict):
        return context
    raise ConfigurationError(
        f"Runner context must be a JSON object (a dict) to be durable, got {type(context).__name__}; "
        "it becomes the run's shared state, which function tools get as ctx.context"
    )


def _raise_for_failure(agent: Any, result: AgentResult) -> None:
    """An OpenAI Agents SDK agent's failed run raises the SDK's exception (see the module
    doc); ``agent`` is ``None`` for a native agent."""
    if agent is None:
        return
    from agentspan.frameworks import openai_agents

    openai_agents.raise_for_failure(agent, result)


def _checked(converted: Any, result: AgentResult) -> RunResult:
    _raise_for_failure(converted, result)
    return RunResult(result)


async def _prepared(starting_agent: Any, context: Any, max_turns: int, run_config: Any) -> tuple[Agent, Any]:
    """The agent to run, and the same again when it was converted from another framework
    (``None`` for a native one)."""
    if isinstance(starting_agent, Agent):
        if max_turns == _UNSET_MAX_TURNS:
            return starting_agent, None
        changed = copy.copy(starting_agent)
        changed.max_turns = max_turns
        return changed, None
    from agentspan.frameworks import detect_framework, to_native_agent

    if detect_framework(starting_agent) is None:
        raise TypeError(
            f"Runner needs an OpenAI Agents SDK Agent or an agentspan Agent, got {type(starting_agent).__name__}"
        )
    native: Agent = await to_native_agent(
        starting_agent, context=context, max_turns=max_turns, run_config=run_config
    )
    return native, native


class Runner:
    """``Runner.run`` / ``run_sync`` / ``run_streamed`` as in the OpenAI Agents SDK, durable."""

    @classmethod
    async def run(
        cls,
        starting_agent: Any,
        input: Any,
        *,
        context: Any = None,
        max_turns: int = _UNSET_MAX_TURNS,
        run_config: Any = None,
        runtime: AgentRuntime | None = None,
        **kwargs: Any,
    ) -> RunResult:
        """Run the agent on ``input`` and wait for its answer."""
        chosen = _runtime(runtime)
        ctx = _context(context)
        agent, converted = await chosen._loop.run_async(_prepared(starting_agent, ctx, max_turns, run_config))
        result = await chosen.run_async(agent, _input_text(input), context=ctx, **kwargs)
        return _checked(converted, result)

    @classmethod
    def run_sync(
        cls,
        starting_agent: Any,
        input: Any,
        *,
        context: Any = None,
        max_turns: int = _UNSET_MAX_TURNS,
        run_config: Any = None,
        runtime: AgentRuntime | None = None,
        **kwargs: Any,
    ) -> RunResult:
        """:meth:`run`, blocking."""
        chosen = _runtime(runtime)
        ctx = _context(context)
        agent, converted = chosen._loop.run(_prepared(starting_agent, ctx, max_turns, run_config))
        return _checked(converted, chosen.run(agent, _input_text(input), context=ctx, **kwargs))

    @classmethod
    def run_streamed(
        cls,
        starting_agent: Any,
        input: Any,
        *,
        context: Any = None,
        max_turns: int = _UNSET_MAX_TURNS,
        run_config: Any = None,
        runtime: AgentRuntime | None = None,
        **kwargs: Any,
    ) -> RunResultStreaming:
        """Start the run and return at once; follow it with ``stream_events()``."""
        chosen = _runtime(runtime)
        ctx = _context(context)
        agent, converted = chosen._loop.run(_prepared(starting_agent, ctx, max_turns, run_config))
        handle = chosen.start(agent, _input_text(input), context=ctx, **kwargs)
        return RunResultStreaming(handle, chosen, converted)
