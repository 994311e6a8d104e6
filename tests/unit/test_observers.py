"""Post-commit observers: told once per committed step, never about a rolled-back one,
and unable to slow down or break a run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from agentspan.protocol.api import StartRequest
from agentspan.protocol.spec import AgentConfig
from agentspan.server.engine.model import ApprovalDecided, Cancel, ExecState
from agentspan.server.errors import InvalidState
from agentspan.server.observers import (
    AnyObserver,
    InlineObserver,
    LlmCallFinished,
    Notification,
    ObserverBus,
    StepCommitted,
)
from agentspan.server.services import Services
from agentspan.server.settings import Settings


class Recorder:
    def __init__(self) -> None:
        self.notes: list[Notification] = []
        self.arrived = asyncio.Event()

    async def observe(self, note: Notification) -> None:
        self.notes.append(note)
        self.arrived.set()

    def steps(self, execution_id: str) -> list[StepCommitted]:
        return [n for n in self.notes if isinstance(n, StepCommitted) and n.execution_id == execution_id]


class Raising:
    async def observe(self, note: Notification) -> None:
        raise RuntimeError("an observer's bug")


class InlineRecorder(Recorder):
    """Told by a plain call, in a batch after the commit."""

    def observe_now(self, note: Notification) -> None:
        self.notes.append(note)
        self.arrived.set()


class InlineRaising:
    def observe_now(self, note: Notification) -> None:
        raise RuntimeError("an inline observer's bug")


class Stuck:
    """Never finishes with its first notification."""

    async def observe(self, note: Notification) -> None:
        await asyncio.Event().wait()


def replying(name: str, text: str) -> AgentConfig:
    return AgentConfig.model_validate(
        {"name": name, "model": "scripted/m", "scriptedTurns": [{"text": text}]}
    )


async def run_to_end(services: Services, spec: AgentConfig) -> str:
    started = await services.driver.start(StartRequest(agent_config=spec, prompt="hello"))
    key = [f"done:{started.execution_id}"]
    deadline = time.monotonic() + 10
    while True:
        wake = services.hub.listen(key)
        try:
            row = await services.store.get_execution(started.execution_id)
            assert row is not None
            if ExecState.model_validate_json(row.state).terminal:
                return started.execution_id
            assert time.monotonic() < deadline, "the run did not finish"
            await services.hub.wait_for(wake, deadline - time.monotonic())
        finally:
            services.hub.unlisten(key, wake)


async def drained(recorder: Recorder, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not done():
        recorder.arrived.clear()
        assert time.monotonic() < deadline, "notifications did not arrive"
        await asyncio.wait_for(recorder.arrived.wait(), deadline - time.monotonic())


def with_services(
    tmp_path: Path, observers: Sequence[AnyObserver], scenario: Callable[[Services], Awaitable[None]]
) -> None:
    async def main() -> None:
        settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'obs.db'}")
        services = await Services.start(settings, observers=observers)
        try:
            await scenario(services)
        finally:
            await services.stop()

    asyncio.run(main())


def test_each_committed_step_is_published_once_with_what_it_wrote(tmp_path: Path) -> None:
    recorder = Recorder()

    async def scenario(services: Services) -> None:
        execution_id = await run_to_end(services, replying("greeter", "hi there"))
        events = await services.store.list_events(execution_id, 0, 1000)
        await drained(
            recorder, lambda: sum(len(s.events) for s in recorder.steps(execution_id)) == len(events)
        )
        steps = recorder.steps(execution_id)
        assert [s.input_kind for s in steps] == ["start", "llm_result"]
        assert [s.version for s in steps] == [1, 2]
        assert steps[-1].status_after == "COMPLETED" and steps[-1].status_before == steps[0].status_after
        assert [e for s in steps for e in s.events] == events  # every event row, once, in order
        assert all(s.agent_name == "greeter" and s.root_id == execution_id for s in steps)
        assert any(c.kind == "call_llm" for c in steps[0].commands)
        calls = [n for n in recorder.notes if isinstance(n, LlmCallFinished)]
        assert [(c.execution_id, c.model) for c in calls] == [(execution_id, "scripted/m")]

    with_services(tmp_path, [recorder], scenario)


def test_a_rolled_back_step_publishes_nothing(tmp_path: Path) -> None:
    recorder = Recorder()
    waits_for_a_worker = AgentConfig.model_validate(
        {
            "name": "one",
            "model": "scripted/m",
            "scriptedTurns": [{"toolCalls": [{"name": "slow", "arguments": {}}]}, {"text": "done"}],
            "tools": [{"name": "slow"}],
        }
    )

    async def scenario(services: Services) -> None:
        started = await services.driver.start(StartRequest(agent_config=waits_for_a_worker, prompt="go"))
        first = started.execution_id
        await drained(recorder, lambda: any(s.input_kind == "llm_result" for s in recorder.steps(first)))
        before = len(recorder.notes)
        with pytest.raises(InvalidState) as rejected:  # it waits for a worker, not for a human
            await services.driver.apply(first, ApprovalDecided(approved=True, decided_at=time.time()))
        assert rejected.value.code == "not_waiting"
        with pytest.raises(RuntimeError):
            async with services.driver.unit_of_work() as (tx, effects):
                row = await tx.get_execution(first)
                assert row is not None
                await services.driver.apply_in(tx, row, Cancel(reason="enough"), effects)
                assert effects.notes  # the step was noted, to be published on commit...
                raise RuntimeError("...but the transaction fails after it")
        row = await services.store.get_execution(first)
        assert row is not None and row.status == "RUNNING"  # rolled back
        # Notifications arrive in order: once the next run's are in, a published
        # rejection would have arrived before them.
        second = await run_to_end(services, replying("two", "done"))
        await drained(recorder, lambda: any(s.status_after == "COMPLETED" for s in recorder.steps(second)))
        assert not [n for n in recorder.notes[before:] if getattr(n, "execution_id", None) == first]

    with_services(tmp_path, [recorder], scenario)


def test_raising_and_stuck_observers_neither_fail_nor_delay_a_run(tmp_path: Path) -> None:
    recorder = Recorder()

    async def scenario(services: Services) -> None:
        started = time.monotonic()
        for n in range(3):
            execution_id = await run_to_end(services, replying(f"agent{n}", "done"))
            row = await services.store.get_execution(execution_id)
            assert row is not None and row.status == "COMPLETED"
        assert time.monotonic() - started < 5
        await drained(recorder, lambda: sum(isinstance(n, LlmCallFinished) for n in recorder.notes) == 3)

    with_services(tmp_path, [Raising(), Stuck(), recorder], scenario)


def test_a_full_queue_drops_and_counts_instead_of_waiting() -> None:
    async def main() -> list[int]:
        bus = ObserverBus([Stuck(), Recorder()], queue_size=2)
        bus.start()
        try:
            for _ in range(6):
                bus.publish(LlmCallFinished("e", "m", 1, 1, None, 1.0, "stop"))
            await asyncio.sleep(0.05)  # the stuck one holds the first; the recorder drains all
            for _ in range(2):
                bus.publish(LlmCallFinished("e", "m", 1, 1, None, 1.0, "stop"))
        finally:
            await bus.stop()
        return bus.dropped()

    # Both queues took two of the first six and dropped four. Then the stuck observer
    # holds one in its hands and one queued, so of the next two it drops one more.
    assert asyncio.run(main()) == [5, 4]


def test_without_observers_a_step_builds_no_notification(tmp_path: Path) -> None:
    async def scenario(services: Services) -> None:
        assert services.observers is None and services.driver.observers is None
        spec = replying("quiet", "done")
        started = await services.driver.start(StartRequest(agent_config=spec, prompt="x"))
        async with services.driver.unit_of_work() as (tx, effects):
            row = await tx.get_execution(started.execution_id)
            assert row is not None
            state = await services.driver.apply_in(tx, row, Cancel(reason="enough"), effects)
        assert state.status == "TERMINATED" and effects.keys  # a step was committed
        assert effects.notes is None

    with_services(tmp_path, [], scenario)


def test_inline_observers_hear_every_step_after_commit_and_a_raising_one_breaks_nothing(
    tmp_path: Path,
) -> None:
    inline = InlineRecorder()
    assert isinstance(inline, InlineObserver) and not isinstance(Recorder(), InlineObserver)

    async def scenario(services: Services) -> None:
        execution_id = await run_to_end(services, replying("inline", "hi"))
        events = await services.store.list_events(execution_id, 0, 1000)
        await drained(inline, lambda: sum(len(s.events) for s in inline.steps(execution_id)) == len(events))
        assert [s.input_kind for s in inline.steps(execution_id)] == ["start", "llm_result"]
        assert sum(isinstance(n, LlmCallFinished) for n in inline.notes) == 1

    with_services(tmp_path, [InlineRaising(), inline], scenario)


def test_inline_observers_are_called_in_one_batch_and_drop_past_the_bound() -> None:
    async def main() -> tuple[list[int], int, int]:
        inline = InlineRecorder()
        bus = ObserverBus([Stuck(), inline], queue_size=3)
        bus.start()
        try:
            for _ in range(5):  # one burst: nothing runs the flush before the loop turns
                bus.publish(LlmCallFinished("e", "m", 1, 1, None, 1.0, "stop"))
            heard_during_burst = len(inline.notes)
            await asyncio.sleep(0)
            heard_after = len(inline.notes)
            bus.publish(LlmCallFinished("e", "m", 1, 1, None, 1.0, "stop"))
        finally:
            await bus.stop()  # flushes what is pending
        assert len(inline.notes) == heard_after + 1
        return bus.dropped(), heard_during_burst, heard_after

    dropped, during, after = asyncio.run(main())
    assert (during, after) == (0, 3)
    # The stuck observer holds one and queues three of the first five (one dropped), then
    # drops the sixth; the inline ones took three of the burst and the sixth.
    assert dropped == [2, 2]
