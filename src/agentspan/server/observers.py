"""Post-commit observers: who hears about committed steps, and how.

Metrics, tracing, the UI's live feed, webhooks and callbacks are observers. They are told
about each step *after* its transaction committed (never about a rolled-back one), once,
and they can neither slow a step down nor break it: what an observer cannot keep up with
is dropped (counted in ``dropped``), and an observer's exception is logged and forgotten.

Two kinds, by how they are called:

- an ``Observer`` (``async observe``) may wait on I/O: it gets a bounded queue drained by a
  task of its own;
- an ``InlineObserver`` (``observe_now``) does small work that never blocks (a counter, a
  log line, handing a finished span to a batching exporter): all of them are called in one
  batch per burst of notifications, from a callback the event loop runs after the
  committing task yields. A task per observer cost a wake-up per notification, which was
  most of what metrics and logs added to the durable turn.

With no observer registered the driver holds no ``ObserverBus`` at all, so the hot path
builds no notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

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


@runtime_checkable
class InlineObserver(Protocol):
    """Something told about committed work by a plain call on the event loop, in a batch
    after the commit. ``observe_now`` must be quick and must not block: anything slow
    belongs in an ``Observer``."""

    def observe_now(self, note: Notification) -> None: ...


AnyObserver = Observer | InlineObserver


class _Channel:
    __slots__ = ("dropped", "observer", "queue", "task")

    def __init__(self, observer: Observer, size: int) -> None:
        self.observer = observer
        self.queue: asyncio.Queue[Notification] = asyncio.Queue(maxsize=size)
        self.dropped = 0
        self.task: asyncio.Task[None] | None = None


class ObserverBus:
    """Fans committed notifications out to the registered observers."""

    def __init__(self, observers: Sequence[AnyObserver], queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._order = list(observers)
        self._inline = [o for o in observers if isinstance(o, InlineObserver)]
        self._channels = {
            id(o): _Channel(o, queue_size) for o in observers if not isinstance(o, InlineObserver)
        }
        self._queue_size = queue_size
        self._pending: list[Notification] = []
        self._flush_scheduled = False
        self._inline_dropped = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for channel in self._channels.values():
            channel.task = asyncio.create_task(_drain(channel), name="agentspan-observer")

    async def stop(self) -> None:
        self._flush()  # what committed just before the stop is still told
        tasks = [c.task for c in self._channels.values() if c.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def publish(self, note: Notification) -> None:
        for channel in self._channels.values():
            try:
                channel.queue.put_nowait(note)
            except asyncio.QueueFull:
                channel.dropped += 1
        if not self._inline:
            return
        if len(self._pending) >= self._queue_size:
            self._inline_dropped += 1
            return
        self._pending.append(note)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            (self._loop or asyncio.get_running_loop()).call_soon(self._flush)

    def publish_all(self, notes: Iterable[Notification]) -> None:
        for note in notes:
            self.publish(note)

    def dropped(self) -> list[int]:
        """Notifications each observer missed because its queue was full (in the order the
        observers were given)."""
        return [
            self._channels[id(o)].dropped if id(o) in self._channels else self._inline_dropped
            for o in self._order
        ]

    def _flush(self) -> None:
        self._flush_scheduled = False
        batch, self._pending = self._pending, []
        for observer in self._inline:
            for note in batch:
                try:
                    observer.observe_now(note)
                except Exception:  # noqa: BLE001 - an observer's bug must never reach a run
                    log.exception("observer %r failed on %s", observer, type(note).__name__)


async def _drain(channel: _Channel) -> None:
    while True:
        note = await channel.queue.get()
        try:
            await channel.observer.observe(note)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - an observer's bug must never reach a run
            log.exception("observer %r failed on %s", channel.observer, type(note).__name__)
