"""``MockEvent`` and ``mock_run``: an agent run scripted as a list of events, with no server or model."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections import deque
from collections.abc import Awaitable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from agentspan._core.schema import coerce_arguments, context_parameter
from agentspan._core.tool import ToolContext, ToolDef, get_tool_def
from agentspan.agents._result import AgentEvent, AgentResult, EventType, FinishReason, Status

__all__ = ["MOCK_EXECUTION_ID", "MockEvent", "mock_run"]

MOCK_EXECUTION_ID = "mock"


class MockEvent:
    """Factories for the :class:`AgentEvent` objects a scripted run is made of."""

    @staticmethod
    def thinking(content: str) -> AgentEvent:
        """A model call (our server emits one before every model response)."""
        return AgentEvent(type=EventType.THINKING.value, content=content)

    @staticmethod
    def tool_call(name: str, args: dict[str, Any] | None = None, *, call_id: str | None = None) -> AgentEvent:
        """The model calls the tool declared as ``name``."""
        return AgentEvent(
            type=EventType.TOOL_CALL.value, tool_name=name, args=dict(args or {}), call_id=call_id
        )

    @staticmethod
    def tool_result(name: str, result: Any = None, *, call_id: str | None = None) -> AgentEvent:
        """The result of a call of ``name``; it answers the oldest open call of that tool."""
        return AgentEvent(type=EventType.TOOL_RESULT.value, tool_name=name, result=result, call_id=call_id)

    @staticmethod
    def handoff(target: str) -> AgentEvent:
        """Control passes to the agent named ``target``."""
        return AgentEvent(type=EventType.HANDOFF.value, target=target)

    @staticmethod
    def message(content: str) -> AgentEvent:
        """Text the model wrote alongside its tool calls."""
        return AgentEvent(type=EventType.MESSAGE.value, content=content)

    @staticmethod
    def guardrail_pass(name: str, content: str = "") -> AgentEvent:
        """The guardrail ``name`` accepted the output."""
        return AgentEvent(type=EventType.GUARDRAIL_PASS.value, guardrail_name=name, content=content)

    @staticmethod
    def guardrail_fail(name: str, content: str = "") -> AgentEvent:
        """The guardrail ``name`` rejected the output."""
        return AgentEvent(type=EventType.GUARDRAIL_FAIL.value, guardrail_name=name, content=content)

    @staticmethod
    def waiting(content: str = "") -> AgentEvent:
        """The run waits for a human (an approval)."""
        return AgentEvent(type=EventType.WAITING.value, content=content)

    @staticmethod
    def done(output: Any) -> AgentEvent:
        """The run completed with ``output``."""
        return AgentEvent(type=EventType.DONE.value, output=output)

    @staticmethod
    def error(content: str) -> AgentEvent:
        """The run failed with the message ``content``."""
        return AgentEvent(type=EventType.ERROR.value, content=content)


def _pair_calls(script: list[AgentEvent]) -> None:
    """Give every tool call a ``call_id`` and point each scripted result at its call.

    Our server pairs them by ``call_id``; a script rarely carries ids, so a result without
    one answers the oldest still-open call of its tool (of any tool if it names none).
    """
    taken = {e.call_id for e in script if e.call_id}
    # Open calls per tool name, each with its position in the script.
    open_calls: dict[str | None, deque[tuple[int, AgentEvent]]] = {}
    counter = 0
    for position, e in enumerate(script):
        if e.type == EventType.TOOL_CALL.value:
            while not e.call_id:
                counter += 1
                candidate = f"mock-{counter}"
                if candidate not in taken:
                    e.call_id = candidate
            open_calls.setdefault(e.tool_name, deque()).append((position, e))
        elif e.type == EventType.TOOL_RESULT.value:
            call = _take_open_call(open_calls, e)
            if call is not None:
                e.call_id = call.call_id
                e.tool_name = e.tool_name or call.tool_name


def _take_open_call(
    open_calls: dict[str | None, deque[tuple[int, AgentEvent]]], result: AgentEvent
) -> AgentEvent | None:
    if result.call_id:
        for queue in open_calls.values():
            for entry in queue:
                if entry[1].call_id == result.call_id:
                    queue.remove(entry)
                    return entry[1]
        return None
    candidates = [open_calls.get(result.tool_name)] if result.tool_name else list(open_calls.values())
    waiting = [q for q in candidates if q]
    if not waiting:
        return None
    oldest = min(waiting, key=lambda q: q[0][0])
    return oldest.popleft()[1]


def _tool_index(agent: Any) -> dict[str, tuple[ToolDef, Any]]:
    """Local tools by DECLARED name, with the agent offering each: ``agent`` first, then sub-agents.

    Tools without a local function (server-side, external, agent tools) are left out:
    their results must be scripted.
    """
    index: dict[str, tuple[ToolDef, Any]] = {}
    seen: set[int] = set()
    queue: deque[Any] = deque([agent])
    while queue:
        current = queue.popleft()
        if id(current) in seen:
            continue
        seen.add(id(current))
        # Duck-typed, as the reference's: any object with ``tools``/``agents`` lists will do.
        for item in getattr(current, "tools", None) or []:
            try:
                definition = get_tool_def(item)
            except TypeError:
                continue  # e.g. a Claude Code built-in named by a string
            if definition.func is not None:
                index.setdefault(definition.name, (definition, current))
        queue.extend(getattr(current, "agents", None) or [])
    return index


async def _await(value: Awaitable[Any]) -> Any:
    return await value


def _resolve(value: Any) -> Any:
    if not inspect.isawaitable(value):
        return value
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(value))
    # mock_run was called from async code: this thread's loop is busy running the caller,
    # so the async tool gets a loop of its own in a helper thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _await(value)).result()


class _ToolRunner:
    """Runs local tools the way a worker would: coerced arguments, injected ``ToolContext``."""

    def __init__(self, tools: dict[str, tuple[ToolDef, Any]]) -> None:
        self.tools = tools
        self.state: dict[str, Any] = {}  # shared by the run's calls, like the server's tool state

    def run(self, name: str, args: dict[str, Any], call_id: str) -> Any:
        definition, owner = self.tools[name]
        func = definition.func
        assert func is not None  # _tool_index keeps only tools with a function
        try:
            kwargs = coerce_arguments(func, args)
            context_name = context_parameter(func)
            if context_name is not None:
                kwargs[context_name] = ToolContext(
                    execution_id=MOCK_EXECUTION_ID,
                    agent_name=str(getattr(owner, "name", "")),
                    dependencies=dict(getattr(owner, "dependencies", None) or {}),
                    state=self.state,
                    idempotency_key=call_id,
                    task_id=call_id,
                    attempt=1,
                )
            return _resolve(func(**kwargs))
        except Exception as exc:  # noqa: BLE001 - a failing tool is a result the test inspects
            return f"Error: {exc}"


def mock_run(
    agent: Any,
    prompt: str,
    events: Iterable[AgentEvent],
    *,
    auto_execute_tools: bool = True,
) -> AgentResult:
    """Build the :class:`AgentResult` of a run that emits ``events``; no server or model is used.

    A TOOL_CALL whose tool the agent (or one of its sub-agents) offers, matched by the name
    declared with ``@tool(name=...)``, is executed when ``auto_execute_tools`` is on and the
    script does not answer it with its own TOOL_RESULT; the result (``"Error: <exc>"`` if
    the tool raised) follows as a TOOL_RESULT event. DONE sets the output; ERROR sets the
    output to its message and the status to ``"FAILED"``. The given events are copied, not
    changed.
    """
    script = [dataclasses.replace(e) for e in events]
    _pair_calls(script)
    answered = {e.call_id for e in script if e.type == EventType.TOOL_RESULT.value and e.call_id}
    runner = _ToolRunner(_tool_index(agent) if auto_execute_tools else {})
    result = AgentResult(execution_id=MOCK_EXECUTION_ID, status=Status.COMPLETED.value)
    calls: dict[str, dict[str, Any]] = {}
    for e in script:
        result.events.append(e)
        if e.type == EventType.TOOL_CALL.value and e.call_id:
            args = dict(e.args or {})
            call = {"name": e.tool_name, "args": args, "result": None, "call_id": e.call_id}
            calls[e.call_id] = call
            if e.call_id not in answered and e.tool_name in runner.tools:
                call["result"] = runner.run(str(e.tool_name), args, e.call_id)
                result.events.append(_synthetic_result(e, call["result"]))
        elif e.type == EventType.TOOL_RESULT.value and e.call_id in calls:
            calls[str(e.call_id)]["result"] = e.result
        elif e.type == EventType.DONE.value:
            result.output = e.output
            result.finish_reason = FinishReason.STOP
        elif e.type == EventType.ERROR.value:
            result.output = result.error = e.content
            result.status = Status.FAILED.value
            result.finish_reason = FinishReason.ERROR
    result.tool_calls = list(calls.values())
    for position, e in enumerate(result.events, start=1):
        e.id = e.id or position  # sequence numbers, as a live stream has
    result.messages = [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": str(result.output)},
    ]
    return result


def _synthetic_result(call: AgentEvent, value: Any) -> AgentEvent:
    return AgentEvent(
        type=EventType.TOOL_RESULT.value,
        tool_name=call.tool_name,
        result=value,
        call_id=call.call_id,
        execution_id=MOCK_EXECUTION_ID,
    )
