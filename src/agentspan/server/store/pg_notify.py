"""Wake-ups across server replicas: LISTEN/NOTIFY on PostgreSQL.

A transaction that makes work or events appear sends the hub keys it touched with
``pg_notify('agentspan', key)`` (``PostgresTx.notify``), which PostgreSQL delivers only on
commit. ``PgNotifier`` listens on one dedicated connection — LISTEN is session state, so
it cannot share the transaction pool (or a transaction-mode pooler) — and hands every key
to a callback, normally ``Hub.notify``, so a worker long-polling replica A is woken by a
task that replica B created.

A notification sent while the listener is disconnected is lost, and a waiter could sleep
through it until its timeout. So the listener watches its connection (a termination
callback, plus a periodic ``SELECT 1`` for a silently dead network path), reconnects
with back-off, and after each reconnect calls the callback with ``WAKE_EVERYONE``: every
waiter wakes once and re-reads the state it waits on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any

import asyncpg

from agentspan.server.store.base import WAKE_EVERYONE, StoreError
from agentspan.server.store.pg_url import describe_url, scrub
from agentspan.server.store.postgres import CHANNEL

log = logging.getLogger("agentspan.server")

_CONNECT_ERRORS = (OSError, TimeoutError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PgNotifier:
    """Hands every key NOTIFYed on ``channel`` to ``callback``, surviving lost connections."""

    def __init__(
        self,
        url: str,
        callback: Callable[[str], None],
        *,
        channel: str = CHANNEL,
        check_interval: float = 10.0,
        max_backoff: float = 5.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self._url = url
        self._where = describe_url(url)
        self._callback = callback
        self._channel = channel
        self._check_interval = check_interval
        self._max_backoff = max_backoff
        self._connect_timeout = connect_timeout
        self._conn: asyncpg.Connection[asyncpg.Record] | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def backend_pid(self) -> int | None:
        """The server process of the listening connection (None while reconnecting)."""
        conn = self._conn
        return conn.get_server_pid() if conn is not None and not conn.is_closed() else None

    async def start(self) -> None:
        """Connect and LISTEN before returning, so no commit after this goes unheard."""
        try:
            await self._connect()
        except _CONNECT_ERRORS as exc:
            raise StoreError(
                f"cannot listen for wake-ups on PostgreSQL at {self._where}: "
                f"{scrub(str(exc), self._url) or type(exc).__name__}"
            ) from None
        self._task = asyncio.create_task(self._run(), name="agentspan-pg-listener")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._discard()

    # --- the connection -----------------------------------------------------------------

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._url, timeout=self._connect_timeout, statement_cache_size=0)
        lost = asyncio.Event()  # one per connection: a stale one must not fire for the next
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(self._channel, self._on_notification)
        except BaseException:
            conn.terminate()
            raise
        self._conn, self._lost = conn, lost

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await asyncio.wait_for(conn.close(), 2.0)
        except _CONNECT_ERRORS:
            log.debug("closing the old listener connection failed", exc_info=True)
        finally:
            if not conn.is_closed():
                conn.terminate()

    def _on_notification(self, _conn: Any, _pid: int, _channel: str, payload: object) -> None:
        self._wake(str(payload))

    def _wake(self, key: str) -> None:
        try:
            self._callback(key)
        except Exception:
            # A failing waiter must not take the listener down with it.
            log.exception("wake-up callback failed for %r", key)

    # --- supervision --------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._until_lost()
                log.warning("lost the PostgreSQL listener connection to %s; reconnecting", self._where)
                await self._discard()
                await self._reconnect()
                log.info("PostgreSQL listener reconnected to %s; waking every waiter", self._where)
                # Anything notified while we were away was missed: everyone re-checks.
                self._wake(WAKE_EVERYONE)
            except Exception:
                # Never let wake-ups stop for good: a bug here must not leave waiters
                # sleeping until their timeouts for the rest of the process's life.
                log.exception("PostgreSQL listener failed; starting over")
                await self._discard()
                await asyncio.sleep(1.0)

    async def _until_lost(self) -> None:
        """Return once the connection is closed or stops answering."""
        while True:
            conn = self._conn
            if conn is None or conn.is_closed():
                return
            try:
                await asyncio.wait_for(self._lost.wait(), self._check_interval)
                return
            except TimeoutError:
                pass
            try:
                await conn.fetchval("SELECT 1", timeout=self._check_interval)
            except _CONNECT_ERRORS:
                return

    async def _reconnect(self) -> None:
        delay = 0.05
        while True:
            try:
                await self._connect()
                return
            except _CONNECT_ERRORS as exc:
                delay = min(delay * 2, self._max_backoff)
                log.warning(
                    "cannot reconnect the PostgreSQL listener to %s (%s); retrying in %.1fs",
                    self._where,
                    scrub(str(exc), self._url) or type(exc).__name__,
                    delay,
                )
            # Jitter: replicas that lost the server together do not return in lockstep.
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
