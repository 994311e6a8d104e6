"""In-process wake-ups: long-polling workers, SSE subscribers and the executor pool wait on
keys that the driver notifies after each commit. No sleep-polling on the hot path.

(With several replicas on PostgreSQL this is fed by LISTEN/NOTIFY as well.)
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable

from agentspan.server.store.base import WAKE_EVERYONE  # the key that wakes every waiter


class Hub:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._deltas: dict[str, list[deque[str]]] = {}
        self._closing = False

    def close(self) -> None:
        """Wake every waiter for good at shutdown: each sees ``closing()`` and answers at once,
        so no request is left for the server to cancel (and log) when its grace runs out."""
        self._closing = True
        self.notify_everyone()

    def closing(self) -> bool:
        """The server is stopping: long waits (polls, streams, ``waitMs``) answer now."""
        return self._closing

    # --- streamed model text (live only; the durable record keeps the final message) -----

    def subscribe_deltas(self, execution_id: str) -> deque[str]:
        """A buffer that receives live text; its owner drains it when woken on
        ``exec:<id>`` (the same key the event log uses, so one wait covers both)."""
        buffer: deque[str] = deque(maxlen=10_000)  # a stalled reader drops old pieces
        self._deltas.setdefault(execution_id, []).append(buffer)
        return buffer

    def unsubscribe_deltas(self, execution_id: str, buffer: deque[str]) -> None:
        buffers = self._deltas.get(execution_id)
        if buffers is not None:
            buffers[:] = [b for b in buffers if b is not buffer]
            if not buffers:
                del self._deltas[execution_id]

    def delta_sink(self, execution_id: str) -> Callable[[str], None] | None:
        """A callback that fans text out to live subscribers; ``None`` when nobody listens
        (then providers need not stream at all)."""
        if execution_id not in self._deltas:
            return None
        key = f"exec:{execution_id}"

        def publish(text: str) -> None:
            for buffer in self._deltas.get(execution_id, ()):
                buffer.append(text)
            self.notify(key)

        return publish

    def notify(self, key: str) -> None:
        if key == WAKE_EVERYONE:
            self.notify_everyone()
            return
        for fut in self._waiters.pop(key, ()):
            if not fut.done():
                fut.set_result(None)

    def notify_everyone(self) -> None:
        """Wake every waiter. Waking is always safe: waiters re-check and wait again."""
        waiters, self._waiters = self._waiters, {}
        for futs in waiters.values():
            for fut in futs:
                if not fut.done():
                    fut.set_result(None)

    def notify_all(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.notify(key)

    def listen(self, keys: Iterable[str]) -> asyncio.Future[None]:
        """Register interest now (before reading state), await the future later."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for key in keys:
            self._waiters.setdefault(key, set()).add(fut)
        return fut

    def unlisten(self, keys: Iterable[str], fut: asyncio.Future[None]) -> None:
        for key in keys:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(fut)
                if not waiters:
                    del self._waiters[key]

    async def wait(self, keys: Iterable[str], timeout: float | None) -> bool:
        """Wait until one of ``keys`` is notified (True) or ``timeout`` passes (False)."""
        keys = list(keys)
        fut = self.listen(keys)
        try:
            return await self.wait_for(fut, timeout)
        finally:
            self.unlisten(keys, fut)

    @staticmethod
    async def wait_for(fut: asyncio.Future[None], timeout: float | None) -> bool:
        """Wait for a future from ``listen`` (True) or until ``timeout`` passes (False).

        A timer on the loop resolves the future instead of ``asyncio.wait_for``: this is
        on every long-poll and stream, and a timer handle is far cheaper than a task.
        """
        if fut.done():
            return True
        if timeout is not None and timeout <= 0:
            return False
        expired: list[bool] = []

        def expire() -> None:
            if not fut.done():
                expired.append(True)
                fut.set_result(None)

        handle = asyncio.get_running_loop().call_later(timeout, expire) if timeout is not None else None
        try:
            await fut
        finally:
            if handle is not None:
                handle.cancel()
        return not expired
