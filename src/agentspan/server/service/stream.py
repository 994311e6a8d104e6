"""An execution's event log as Server-Sent Events frames: replay, then follow live.

Replays from after a given event id, then follows live events. Events are read from the
store, so any replica can serve any stream and a dropped connection resumes exactly where
it stopped. Ends after the terminal ``done``/``error``. The frames are the SSE wire text:
encoding each event once here is what lets many subscribers share one read (``_EventFeed``).
Both HTTP stacks write these frames as they come.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from agentspan.protocol.api import TERMINAL_EVENTS, TERMINAL_STATUSES
from agentspan.server.hub import Hub
from agentspan.server.service.queries import event_view
from agentspan.server.store.base import EventRow, Store

HEARTBEAT_SECONDS = 15.0


async def sse_frames(
    store: Store,
    hub: Hub,
    gone: Callable[[], Awaitable[bool]],
    execution_id: str,
    after: int,
    with_deltas: bool,
) -> AsyncIterator[str]:
    """The SSE frames of one stream, from after event ``after`` to the terminal event."""
    yield ":connected\n\n"
    keys = [f"exec:{execution_id}"]
    deltas = hub.subscribe_deltas(execution_id) if with_deltas else None
    feed = _EventFeed.join(store, hub, execution_id)
    try:
        while True:
            wake = hub.listen(keys)  # before reading, so no commit slips between
            try:
                # Live text first: it always precedes the commit of the message it builds.
                while deltas:
                    yield _delta_frame(execution_id, deltas.popleft())
                frames, ended = await feed.after(after)
                for seq, kind, frame in frames:
                    after = seq
                    yield frame
                    if kind in TERMINAL_EVENTS:
                        return
                if ended:
                    return  # gone, or ended with no terminal event left to send
                if frames:
                    continue
                if hub.closing() or await gone():
                    return  # at shutdown the stream ends; the client resumes from its last id
                if not await hub.wait_for(wake, HEARTBEAT_SECONDS):
                    yield ":heartbeat\n\n"
                if hub.closing():
                    return
            finally:
                hub.unlisten(keys, wake)
    finally:
        feed.leave()
        if deltas is not None:
            hub.unsubscribe_deltas(execution_id, deltas)


class _EventFeed:
    """One execution's recent events, read once per commit for all its subscribers.

    Without it, an event fanned out to N streams cost N reads of the log and N encodings
    (the streaming benchmark measured delivery growing linearly with N). Subscribers of the
    same execution on this server share one feed: the first to wake after a commit reads
    the new events and encodes each frame once; the others take the frames from memory.
    A subscriber resuming from further back than the feed remembers reads the store.
    """

    _feeds: dict[tuple[int, str], _EventFeed] = {}
    KEEP = 1000  # frames remembered per execution

    def __init__(self, store: Store, hub: Hub, execution_id: str) -> None:
        self.store = store
        self.hub = hub
        self.execution_id = execution_id
        self.frames: list[tuple[int, str, str]] = []  # (seq, type, SSE frame)
        self.last_seq = 0
        self.ended = False
        self.users = 0
        self._current: asyncio.Future[None] | None = None  # done = a commit since the read
        self._lock = asyncio.Lock()

    @classmethod
    def join(cls, store: Store, hub: Hub, execution_id: str) -> _EventFeed:
        key = (id(hub), execution_id)  # one hub per server: feeds are per server
        feed = cls._feeds.get(key)
        if feed is None:
            feed = cls._feeds[key] = cls(store, hub, execution_id)
        feed.users += 1
        return feed

    def leave(self) -> None:
        self.users -= 1
        if self.users <= 0:
            self._feeds.pop((id(self.hub), self.execution_id), None)
            if self._current is not None:
                self.hub.unlisten([f"exec:{self.execution_id}"], self._current)

    async def after(self, seq: int) -> tuple[list[tuple[int, str, str]], bool]:
        """Frames after ``seq`` (at most 500), and whether nothing more will follow them."""
        async with self._lock:
            if self._current is None or self._current.done():
                await self._refresh()
        first = self.frames[0][0] if self.frames else self.last_seq + 1
        if seq + 1 >= first:  # memory holds everything after seq
            start = bisect.bisect_right(self.frames, seq, key=lambda f: f[0])
            out = self.frames[start : start + 500]
            return out, self.ended and start + 500 >= len(self.frames)
        # Further back than memory: straight from the store.
        events = await self.store.list_events(self.execution_id, seq, 500)
        return [_frame(e) for e in events], False

    async def _refresh(self) -> None:
        keys = [f"exec:{self.execution_id}"]
        if self._current is not None:
            self.hub.unlisten(keys, self._current)
        self._current = self.hub.listen(keys)  # before reading: a later commit marks it
        found = await self._read_new()
        # Nothing new, or a terminal event just read: has the execution ended? (A stream
        # resumed after the terminal event finds no more frames and must not wait for any.)
        if not self.ended and (not found or self.frames[-1][1] in TERMINAL_EVENTS):
            row = await self.store.get_execution(self.execution_id)
            if row is None or row.status in TERMINAL_STATUSES:
                # Ended (or purged). Its last events commit with its final status, so one
                # more read has them all, including any that landed since the first read.
                await self._read_new()
                self.ended = True
        del self.frames[: -self.KEEP]

    async def _read_new(self) -> bool:
        found = False
        while True:
            events = await self.store.list_events(self.execution_id, self.last_seq, 500)
            if not events:
                return found
            found = True
            self.frames.extend(_frame(e) for e in events)
            self.last_seq = events[-1].seq


def _frame(event: EventRow) -> tuple[int, str, str]:
    body = json.dumps(event_view(event).wire())
    return event.seq, event.type, f"id:{event.seq}\nevent:{event.type}\ndata:{body}\n\n"


def _delta_frame(execution_id: str, text: str) -> str:
    """A live piece of model text: no ``id`` (it is not in the durable log, so resuming
    skips it; the complete message arrives in the log)."""
    body = {
        "type": "message",
        "executionId": execution_id,
        "content": text,
        "data": {"delta": True},
        "timestamp": int(time.time() * 1000),
    }
    return f"event:message\ndata:{json.dumps(body)}\n\n"
