"""Post-commit observers: who hears about committed steps, and how.

Metrics, tracing, the UI's live feed, webhooks and callbacks are observers. They are told
about each step *after* its transaction committed (never about a rolled-back one), once,
and they can neither slow a step down nor break it: every observer has a bounded queue
drained by its own task; a full queue drops the notification (counted in ``dropped``) and
an observer's exception is logged and forgotten.

With no observer registered the driver holds no ``ObserverBus`` at all, so the hot path
builds no notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from agentspan.server.engine.model import Command
from agentspan.server.store.base import EventRow

log = logging.getLogger("agentspan.server.observers")

DEFAULT_QUEUE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class StepCommitted:
    """One engine step of one execution, as committed (its events are the rows written)."""

    execution_id: str
    root_id: str
    parent_id: str | None
    agent_name: str
    input_kind: str
    """What was applied (``start``, ``llm_result``, ``tool_succeeded``, ``approval``, ...)."""
    status_before: str
    status_after: str
    version: int
    """The execution's version after the step."""
    events: tuple[EventRow, ...]
    commands: tuple[Command, ...]
    at: float
    started_at: float = 0.0
    """When the execution was created (its span's start, for tracing)."""


@dataclass(frozen=True, slots=True)
class TaskClaimed:
    """A task was leased to someone (an external worker or this server's executor pool)."""

    task_id: str
    execution_id: str
    kind: str
    name: str
    attempt: int
    claimed_by: str


@dataclass(frozen=True, slots=True)
class TaskFinished:
    """A leased task's result was recorded, or its lease was found lost."""

    task_id: str
    execution_id: str
    kind: str
    name: str
    attempt: int
    outcome: Literal["completed", "failed", "lease_lost"]


@dataclass(frozen=True, slots=True)
class LlmCallFinished:
    """A model call's reply was recorded."""

    execution_id: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    latency_ms: float
    finish_reason: str | None


Notification = StepCommitted | TaskClaimed | TaskFinished | LlmCallFinished


class Observer(Protocol):
    """Something told about committed work. ``observe`` runs on the observer's own task,
    one notification at a time; it may be slow, but what it cannot keep up with is
    dropped rather than queued without bound."""

    async def observe(self, note: Notification) -> None: ...


class _Channel:
    __slots__ = ("dropped", "observer", "queue", "task")

    def __init__(self, observer: Observer, size: int) -> None:
        self.observer = observer
        self.queue: asyncio.Queue[Notification] = asyncio.Queue(maxsize=size)
        self.dropped = 0
        self.task: asyncio.Task[None] | None = None


class ObserverBus:
    """Fans committed notifications out to the registered observers."""

    def __init__(self, observers: Sequence[Observer], queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._channels = [_Channel(o, queue_size) for o in observers]

    def start(self) -> None:
        for channel in self._channels:
            channel.task = asyncio.create_task(_drain(channel), name="agentspan-observer")

    async def stop(self) -> None:
        tasks = [c.task for c in self._channels if c.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def publish(self, note: Notification) -> None:
        for channel in self._channels:
            try:
                channel.queue.put_nowait(note)
            except asyncio.QueueFull:
                channel.dropped += 1

    def publish_all(self, notes: Iterable[Notification]) -> None:
        for note in notes:
            self.publish(note)

    def dropped(self) -> list[int]:
        """Notifications each observer missed because its queue was full (in order)."""
        return [c.dropped for c in self._channels]


async def _drain(channel: _Channel) -> None:
    while True:
        note = await channel.queue.get()
        try:
            await channel.observer.observe(note)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - an observer's bug must never reach a run
            log.exception("observer %r failed on %s", channel.observer, type(note).__name__)
