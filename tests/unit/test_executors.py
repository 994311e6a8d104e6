"""Server-side executors: a kind added by one module gets what worker tools get.

The toy ``echo`` executor below is the whole of such a module. The ``lookup`` tool of the
specs here has ``toolType: "echo"``: the engine sends its calls to the executor of that
type, end to end through the real driver, pool and SQLite. A tool type no executor on the
server serves is refused at start, and answered as unsupported in a run already going.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from agentspan.protocol.api import StartRequest
from agentspan.protocol.spec import AgentConfig, OtherTool
from agentspan.server.engine.model import ExecState, Input, ToolSucceeded
from agentspan.server.errors import InvalidAgent
from agentspan.server.executors.base import ExecutorContext, ExecutorRegistry, Job
from agentspan.server.executors.tools import ToolCall, ToolCallError, ToolExecutor
from agentspan.server.observers import Notification, Observer, TaskFinished
from agentspan.server.services import Services
from agentspan.server.settings import Settings
from agentspan.server.store.base import ExecutionRow, TaskRow

Behaviour = Callable[[ToolCall], Awaitable[Any]]


class Echo(ToolExecutor):
    """A toy server-side tool: answers what ``behaviour`` says, remembering each call."""

    kind = "echo"

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.calls: list[ToolCall] = []
        self.tasks: list[TaskRow] = []

    async def run(self, job: Job, ctx: ExecutorContext) -> Input | None:
        self.tasks.append(job.task)
        return await super().run(job, ctx)

    async def call(self, call: ToolCall, ctx: ExecutorContext) -> Any:
        self.calls.append(call)
        return await self.behaviour(call)


def lookup_agent(**tool: Any) -> AgentConfig:
    """An agent whose model calls ``lookup`` (served by the ``echo`` executor), then answers."""
    spec = AgentConfig.model_validate(
        {
            "name": "looker",
            "model": "scripted/m",
            "scriptedTurns": [
                {"toolCalls": [{"name": "lookup", "arguments": {"q": "rome"}}]},
                {"text": "done"},
            ],
            "tools": [{"name": "lookup", "toolType": "echo", **tool}],
        }
    )
    assert isinstance(spec.tools[0], OtherTool)
    return spec


async def finished(services: Services, execution_id: str, timeout: float = 10.0) -> ExecutionRow:
    deadline = time.monotonic() + timeout
    key = [f"done:{execution_id}"]
    while True:
        wake = services.hub.listen(key)
        try:
            row = await services.store.get_execution(execution_id)
            assert row is not None
            if ExecState.model_validate_json(row.state).terminal:
                return row
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{execution_id} did not finish in {timeout}s: {row.status}"
            await services.hub.wait_for(wake, remaining)
        finally:
            services.hub.unlisten(key, wake)


async def event_types(services: Services, execution_id: str) -> list[str]:
    return [e.type for e in await services.store.list_events(execution_id, 0, 1000)]


class TaskLog:
    """An observer keeping what happened to tasks."""

    def __init__(self) -> None:
        self.finished: list[TaskFinished] = []

    async def observe(self, note: Notification) -> None:
        if isinstance(note, TaskFinished):
            self.finished.append(note)


def run_with_echo(
    tmp_path: Path,
    echo: Echo,
    scenario: Callable[[Services], Awaitable[None]],
    observers: Sequence[Observer] = (),
) -> None:
    async def main() -> None:
        settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'exec.db'}")
        services = await Services.start(settings, executors=[echo], observers=observers)
        try:
            await scenario(services)
        finally:
            await services.stop()

    asyncio.run(main())


def test_a_tool_routed_to_a_server_side_executor_runs_there_with_the_usual_events(tmp_path: Path) -> None:
    async def answer(call: ToolCall) -> Any:
        return {"city": call.args["q"], "by": call.agent_name}

    echo = Echo(answer)

    async def scenario(services: Services) -> None:
        started = await services.driver.start(StartRequest(agent_config=lookup_agent(), prompt="go"))
        row = await finished(services, started.execution_id)
        assert row.status == "COMPLETED"
        types = await event_types(services, started.execution_id)
        assert types.count("tool_call") == 1 and types.count("tool_result") == 1
        events = await services.store.list_events(started.execution_id, 0, 1000)
        result = next(e for e in events if e.type == "tool_result")
        assert "rome" in result.payload and "looker" in result.payload
        assert await services.store.next_due("worker", None) is None  # no worker task, ever

    run_with_echo(tmp_path, echo, scenario)
    assert [c.args for c in echo.calls] == [{"q": "rome"}]
    assert echo.calls[0].idempotency_key.endswith(echo.tasks[0].call_id)


def test_a_server_side_tool_is_retried_with_backoff_and_timed_out_under_one_idempotency_key(
    tmp_path: Path,
) -> None:
    async def flaky(call: ToolCall) -> Any:
        if call.attempt == 1:
            await asyncio.sleep(30)  # past the tool's timeout
        if call.attempt == 2:
            raise ToolCallError("upstream 503")
        return "third time lucky"

    echo = Echo(flaky)

    async def scenario(services: Services) -> None:
        spec = lookup_agent(timeoutSeconds=0.2, retryCount=3, retryDelaySeconds=0.05)
        started = await services.driver.start(StartRequest(agent_config=spec, prompt="go"))
        row = await finished(services, started.execution_id)
        assert row.status == "COMPLETED"
        events = await services.store.list_events(started.execution_id, 0, 1000)
        results = [e.payload for e in events if e.type == "tool_result"]
        assert len(results) == 1 and "third time lucky" in results[0]

    run_with_echo(tmp_path, echo, scenario)
    assert [c.attempt for c in echo.calls] == [1, 2, 3]
    assert len({c.idempotency_key for c in echo.calls}) == 1
    gaps = [b.available_at - a.available_at for a, b in zip(echo.tasks, echo.tasks[1:], strict=False)]
    assert all(gap >= 0.05 for gap in gaps), gaps  # each retry waited its backoff


def test_a_server_side_run_whose_lease_was_lost_is_not_recorded(tmp_path: Path) -> None:
    """The first run stalls past its lease (e.g. a frozen process); the task is claimed
    again, the engine hears the loss and re-runs the call; when the stale run finally
    answers, the fence discards its result: the call is recorded once."""
    release = asyncio.Event()
    first_started = asyncio.Event()

    async def stalls_first(call: ToolCall) -> Any:
        if call.attempt == 1:
            first_started.set()
            await release.wait()
            return "stale"
        return "fresh"

    echo = Echo(stalls_first)

    async def scenario(services: Services) -> None:
        started = await services.driver.start(StartRequest(agent_config=lookup_agent(), prompt="go"))
        await asyncio.wait_for(first_started.wait(), 10)
        stale = echo.tasks[0]
        async with services.store.transaction() as tx:  # the lease runs out
            assert await tx.extend_lease(stale.id, stale.lease_id or "", time.time() - 1)
        services.hub.notify("internal")
        row = await finished(services, started.execution_id)
        assert row.status == "COMPLETED"
        version = row.version
        release.set()
        await services.pool.wait_idle("echo")
        after = await services.store.get_execution(started.execution_id)
        assert after is not None and after.version == version  # the stale answer changed nothing
        events = await services.store.list_events(started.execution_id, 0, 1000)
        results = [e.payload for e in events if e.type == "tool_result"]
        assert len(results) == 1 and "fresh" in results[0]
        await asyncio.sleep(0.05)  # let the observer drain

    tasks = TaskLog()
    run_with_echo(tmp_path, echo, scenario, [tasks])
    echoed = [(f.attempt, f.outcome) for f in tasks.finished if f.kind == "echo"]
    assert echoed == [(1, "lease_lost"), (2, "completed")]  # the stale run recorded nothing
    assert [c.attempt for c in echo.calls] == [1, 2]
    assert echo.calls[0].idempotency_key == echo.calls[1].idempotency_key


def test_the_registry_maps_executors_to_kinds_and_refuses_unknown_or_duplicate_ones() -> None:
    async def never(call: ToolCall) -> Any:
        raise AssertionError("not called")

    registry = ExecutorRegistry([Echo(never)])
    assert registry.task_kind("worker") == "worker"
    assert registry.task_kind("echo") == "echo"
    assert registry.wake_key("echo", "lookup") == "internal"
    assert registry.wake_key("worker", "lookup") == "task:lookup"
    with pytest.raises(ValueError, match="no executor 'mcp'"):
        registry.task_kind("mcp")
    with pytest.raises(ValueError, match="registered already"):
        registry.register(Echo(never))


def settings_in(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'exec.db'}")


def test_a_tool_type_no_executor_serves_is_refused_at_start_naming_agent_tool_and_type(
    tmp_path: Path,
) -> None:
    team = AgentConfig.model_validate(
        {
            "name": "team",
            "strategy": "sequential",
            "agents": [
                {"name": "first", "model": "scripted/m", "tools": [{"name": "ok", "toolType": "worker"}]},
                {
                    "name": "second",
                    "model": "scripted/m",
                    "tools": [{"name": "weather", "toolType": "generate_video", "config": {"model": "m"}}],
                },
            ],
        }
    )

    async def main() -> None:
        services = await Services.start(settings_in(tmp_path))
        try:
            with pytest.raises(InvalidAgent) as caught:
                await services.driver.start(StartRequest(agent_config=team, prompt="go"))
            assert str(caught.value) == (
                "agent 'team/second': tool 'weather' has type 'generate_video', which this server does not run yet"
            )
            with pytest.raises(InvalidAgent, match="tool 'lookup' has type 'echo'"):
                await services.driver.start(StartRequest(agent_config=lookup_agent(), prompt="go"))
            total, _ = await services.store.list_executions(
                status=None, agent_name=None, parent_id=None, roots_only=False, limit=10, offset=0
            )
            assert total == 0  # nothing was accepted
        finally:
            await services.stop()

    asyncio.run(main())


def test_a_run_in_flight_calling_a_tool_type_this_server_does_not_serve_gets_a_tool_error(
    tmp_path: Path,
) -> None:
    """Started on a server with the ``echo`` executor; a server without it takes over and
    the model then calls the tool: the call is answered with an error the model sees."""
    spec = AgentConfig.model_validate(
        {
            "name": "looker",
            "model": "scripted/m",
            "scriptedTurns": [
                {"toolCalls": [{"name": "wait", "arguments": {}}]},
                {"toolCalls": [{"name": "lookup", "arguments": {"q": "rome"}}]},
                {"text": "done"},
            ],
            "tools": [{"name": "wait", "toolType": "worker"}, {"name": "lookup", "toolType": "echo"}],
        }
    )

    async def never(call: ToolCall) -> Any:
        raise AssertionError("not called")

    async def main() -> None:
        old = await Services.start(settings_in(tmp_path), executors=[Echo(never)])
        key = ["task:wait"]
        wake = old.hub.listen(key)
        try:
            started = await old.driver.start(StartRequest(agent_config=spec, prompt="go"))
            await old.hub.wait_for(wake, 10)  # the worker task of ``wait`` was queued
        finally:
            old.hub.unlisten(key, wake)
            await old.stop()
        new = await Services.start(settings_in(tmp_path))
        try:
            await new.driver.apply(started.execution_id, ToolSucceeded(call_id="c1", output="waited"))
            row = await finished(new, started.execution_id)
            assert row.status == "COMPLETED"
            events = await new.store.list_events(started.execution_id, 0, 1000)
            results = [e.payload for e in events if e.type == "tool_result"]
            assert len(results) == 2
            assert "Tool type 'echo' is not supported by this server yet." in results[1]
            assert [e.type for e in events].count("tool_retry") == 0  # not retryable
            assert await new.store.next_due("echo", None) is None  # no task nobody would run
        finally:
            await new.stop()

    asyncio.run(main())
