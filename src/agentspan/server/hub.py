"""In-process wake-ups: long-polling workers, SSE subscribers and the dispatcher wait on
keys that the driver notifies after each commit. No sleep-polling on the hot path.

(With several replicas on PostgreSQL this is fed by LISTEN/NOTIFY as well.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class Hub:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}

    def notify(self, key: str) -> None:
        for fut in self._waiters.pop(key, ()):
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
        if fut.done():
            return True
        if timeout is not None and timeout <= 0:
            return False
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout)
            return True
        except TimeoutError:
            return False
