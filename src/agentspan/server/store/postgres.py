"""PostgreSQL store: several server replicas share one database.

Same contract as the SQLite store (tests/contract runs the same suite over both); what
differs is how concurrent writers are kept apart, since replicas really do run at once:

* Every ``transaction()`` is one database transaction (READ COMMITTED) on one pooled
  connection. Nothing outlives it on the connection but cached prepared statements —
  no temp tables, no session settings, only transaction-scoped advisory locks — so the
  store works behind a transaction-mode pooler (PgBouncer 1.21+ with
  ``max_prepared_statements``, or any pooler with the statement cache turned off).
* Tasks are claimed with ``FOR UPDATE SKIP LOCKED``: concurrent claimers pass over each
  other's rows instead of queueing, and a task is never handed to two claimers.
* ``Tx.get_execution`` locks the row, so two replicas applying inputs to one execution
  take turns (the second reads what the first committed) instead of failing the
  optimistic version check. It locks the tree's root first: a child reporting to its
  parent and a parent cancelling its child then queue on the same row rather than
  deadlock. The version check in ``update_execution`` stays as the last line of
  defence for writers that read outside a transaction.
* Lock order is tasks, then executions on the queue paths (claim, complete, fire a
  timer), and executions, then tasks inside a step. The two only cross when a step drops
  or re-queues a task another transaction is finishing at that moment; PostgreSQL then
  breaks the deadlock after ``deadlock_timeout`` and the loser gets ``ConflictError``,
  like any lost optimistic race.
* Wake-ups reach other replicas through ``Tx.notify``: keys are sent with
  ``pg_notify('agentspan', key)`` just before COMMIT, so PostgreSQL delivers them only
  if the transaction commits. ``pg_notify.PgNotifier`` receives them.

The SQL itself is shared with SQLite (executions.py, queue.py, ... by aggregate); this
module holds only what PostgreSQL does differently: locking reads, claiming, batch
statements over arrays, NOTIFY and purging.

JSON documents are stored as ``text`` and times as ``double precision`` epoch seconds;
migrations.py says why. Needs PostgreSQL 13 or later (``gen_random_uuid``).

Settings (constructor parameters; when not given, the environment, read on open):
``max_connections`` / ``AGENTSPAN_PG_POOL_SIZE`` (connections per replica, default 10);
``statement_cache_size`` / ``AGENTSPAN_PG_STATEMENT_CACHE_SIZE`` (default 100; 0 behind
a pooler that cannot follow prepared statements); ``AGENTSPAN_DATABASE_LISTEN_URL`` (read by
``services.open_store``: a direct or session-mode URL for LISTEN when the main URL goes
through a transaction-mode pooler).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, TypeAlias

import asyncpg
import asyncpg.exceptions
import asyncpg.pool

from agentspan.server.store import executions, queue
from agentspan.server.store.base import WAKE_EVERYONE
from agentspan.server.store.budgets import BudgetsReadsSql, BudgetsTxSql
from agentspan.server.store.credentials import CredentialsReadsSql, CredentialsTxSql
from agentspan.server.store.deployments import DeploymentsReadsSql, DeploymentsTxSql
from agentspan.server.store.errors import ConflictError, StoreError
from agentspan.server.store.events import APPEND as APPEND_EVENTS
from agentspan.server.store.events import EventRow, EventsReadsSql
from agentspan.server.store.executions import ExecutionRow, ExecutionsReadsSql, ExecutionsTxSql
from agentspan.server.store.forks import ForksReadsSql, ForksTxSql
from agentspan.server.store.inbox import InboxReadsSql, InboxTxSql
from agentspan.server.store.keys import KeysReadsSql, KeysTxSql
from agentspan.server.store.media import MediaReadsSql, MediaTxSql
from agentspan.server.store.memory import MemorySql
from agentspan.server.store.memory_entries import MemoryEntriesReadsSql, MemoryEntriesTxSql
from agentspan.server.store.messages import APPEND as APPEND_MESSAGES
from agentspan.server.store.messages import MessagesReadsSql
from agentspan.server.store.migrations import POSTGRES_MIGRATIONS
from agentspan.server.store.ops import OpsReadsSql
from agentspan.server.store.pg_url import describe_url as describe_url
from agentspan.server.store.pg_url import redact_url as redact_url
from agentspan.server.store.pg_url import scrub as scrub
from agentspan.server.store.queue import QueueReadsSql, QueueTxSql, TaskRow, task_row
from agentspan.server.store.retention import PURGE_BATCH, Member, purge_statuses, settled_trees, tree_members
from agentspan.server.store.specs import SpecsReadsSql, SpecsTxSql
from agentspan.server.store.sql import Row, Sql, sql

log = logging.getLogger("agentspan.server")

CHANNEL = "agentspan"
"""The LISTEN/NOTIFY channel; each payload is one hub key."""

_MARKER_TABLE = "agentspan_meta"
# Any constant works; it only has to be the same in every replica. (b"agntspan" as a bigint.)
_MIGRATION_LOCK = 0x61676E747370616E
_MAX_PAYLOAD = 7900  # bytes; PostgreSQL refuses NOTIFY payloads of 8000 or more
_MIN_SERVER_VERSION = 13
_PURGE_ATTEMPTS = 3

_Conn: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"


def _affected(status: str) -> int:
    """Rows touched, from a command tag such as ``UPDATE 3``."""
    return int(status.rsplit(" ", 1)[-1])


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise StoreError(f"{name} must be a whole number, not {raw!r}") from None


# --------------------------------------------------------------------------- statements

# FOR NO KEY UPDATE, not FOR UPDATE: it excludes other writers just the same, but does
# not block inserting a child row whose foreign key points at this one.
_GET_ROOT_LOCKED = sql(
    f"SELECT {executions.COLS} FROM executions WHERE id = :id AND root_id = id FOR NO KEY UPDATE"
)
_ROOT_OF = sql("SELECT root_id FROM executions WHERE id = :id")
_LOCK = sql("SELECT 1 FROM executions WHERE id = :id FOR NO KEY UPDATE")
_GET_LOCKED = sql(f"SELECT {executions.COLS} FROM executions WHERE id = :id FOR NO KEY UPDATE")
_IDEMPOTENCY_LOCK = sql("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")

# What a claim returns: the new lease, but the status the task had *before* the claim
# (``leased`` means a previous holder lost its lease; the caller acts on that).
_CLAIM_RETURNING = ", ".join("due.status" if c == "status" else f"t.{c}" for c in queue.TASK_COLUMNS)


def _claim(names: str) -> Sql:
    return sql(
        f"""WITH due AS (
            SELECT id, status FROM tasks
            WHERE kind = :kind{names}
              AND ((status = 'pending' AND available_at <= :now)
                   OR (status = 'leased' AND lease_expires_at <= :now))
            ORDER BY available_at, id
            LIMIT :count
            FOR UPDATE SKIP LOCKED
        )
        UPDATE tasks AS t
        SET status = 'leased', attempt = t.attempt + 1,
            lease_id = replace(gen_random_uuid()::text, '-', ''),
            lease_expires_at = :until, worker_id = :worker_id
        FROM due WHERE t.id = due.id
        RETURNING {_CLAIM_RETURNING}"""
    )


_NAMED = " AND name = ANY(:names::text[])"
_CLAIM_ANY, _CLAIM_NAMED = _claim(""), _claim(_NAMED)
_NEXT_DUE_ANY = sql(f"{queue.NEXT_DUE} WHERE kind = :kind")
_NEXT_DUE_NAMED = sql(f"{queue.NEXT_DUE} WHERE kind = :kind{_NAMED}")
_RELEASE = sql("UPDATE tasks SET lease_expires_at = 0 WHERE status = 'leased' AND kind = ANY(:kinds::text[])")
_NOTIFY = sql("SELECT pg_notify(:channel, k) FROM unnest(:keys::text[]) AS k")


# --------------------------------------------------------------------------- transactions


class PostgresTx(
    ExecutionsTxSql,
    SpecsTxSql,
    QueueTxSql,
    BudgetsTxSql,
    KeysTxSql,
    MessagesReadsSql,
    MemorySql,
    CredentialsTxSql,
    DeploymentsTxSql,
    InboxTxSql,
    ForksTxSql,
    MediaTxSql,
    MemoryEntriesTxSql,
    MemoryEntriesReadsSql,
):
    """Statements of one transaction on one pooled connection."""

    __slots__ = ("_c", "_keys")

    def __init__(self, conn: _Conn) -> None:
        self._c = conn
        self._keys: set[str] = set()

    async def _run(self, q: Sql, *args: Any) -> int:
        return _affected(await self._c.execute(q.postgres, *args))

    async def _row(self, q: Sql, *args: Any) -> Row | None:
        return await self._c.fetchrow(q.postgres, *args)

    async def _rows(self, q: Sql, *args: Any) -> list[Row]:
        return await self._c.fetch(q.postgres, *args)

    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        row = await self._c.fetchrow(_GET_ROOT_LOCKED.postgres, execution_id)
        if row is not None:
            return ExecutionRow(*row)  # a root: its own row is the tree's lock
        root_id = await self._c.fetchval(_ROOT_OF.postgres, execution_id)
        if root_id is None:
            return None
        await self._c.execute(_LOCK.postgres, root_id)
        row = await self._c.fetchrow(_GET_LOCKED.postgres, execution_id)
        return ExecutionRow(*row) if row is not None else None

    async def find_by_idempotency_key(self, agent_name: str, key: str) -> ExecutionRow | None:
        # Two replicas starting the same request must not both find nothing and both
        # insert: the second waits here until the first commits, then sees its row.
        await self._c.execute(_IDEMPOTENCY_LOCK.postgres, json.dumps(["idempotency", agent_name, key]))
        return await super().find_by_idempotency_key(agent_name, key)

    async def append_events(self, events: Sequence[EventRow]) -> None:
        if not events:
            return
        await self._c.execute(
            APPEND_EVENTS.postgres,
            [e.execution_id for e in events],
            [e.seq for e in events],
            [e.type for e in events],
            [e.payload for e in events],
            [e.ts for e in events],
        )

    async def append_messages(self, execution_id: str, start: int, messages: Sequence[str]) -> None:
        if messages:
            await self._c.execute(APPEND_MESSAGES.postgres, execution_id, start, list(messages))

    async def claim_tasks(
        self,
        kind: str,
        names: Sequence[str] | None,
        now: float,
        count: int,
        lease_seconds: float,
        worker_id: str,
    ) -> list[TaskRow]:
        # The expiry is computed here, not in SQL, so it is the same float SQLite stores.
        # A negative count means "no limit" there (LIMIT -1); LIMIT NULL says so here.
        limit = count if count >= 0 else None
        if names is None:
            rows = await self._c.fetch(_CLAIM_ANY.postgres, kind, now, limit, now + lease_seconds, worker_id)
        else:
            rows = await self._c.fetch(
                _CLAIM_NAMED.postgres, kind, list(names), now, limit, now + lease_seconds, worker_id
            )
        # RETURNING has no defined order; callers get the earliest due first, as from SQLite.
        return sorted((task_row(r) for r in rows), key=lambda t: (t.available_at, t.id))

    async def mark_stalled(self, task_ids: Sequence[str]) -> None:
        await self._c.execute(queue.MARK_STALLED.postgres, list(task_ids))

    async def notify(self, keys: Iterable[str]) -> None:
        # Collected and sent once, just before COMMIT (see send_notifications).
        self._keys.update(keys)

    async def send_notifications(self) -> None:
        """NOTIFY the collected keys; PostgreSQL delivers them only if we then commit."""
        if not self._keys:
            return
        # A key too long for a payload still wakes its waiters, with everyone else's.
        payloads = sorted({k if len(k.encode()) <= _MAX_PAYLOAD else WAKE_EVERYONE for k in self._keys})
        self._keys.clear()
        await self._c.execute(_NOTIFY.postgres, CHANNEL, payloads)


# --------------------------------------------------------------------------- the store


_DEFAULT_STATEMENT_CACHE = 100
"""asyncpg's own default. A cached statement is prepared once per connection instead of
before every query (one round trip less each time). Behind a transaction-mode pooler
that cannot follow prepared statements (PgBouncer before 1.21, or without
``max_prepared_statements``), set ``AGENTSPAN_PG_STATEMENT_CACHE_SIZE=0``."""


class _PooledConnection(asyncpg.Connection):
    """A pooled connection released without asyncpg's reset query.

    asyncpg sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every
    release, a round trip per read. This store leaves nothing on a connection to reset:
    advisory locks are transaction-scoped, no cursor outlives its transaction, LISTEN
    runs on a connection of its own, no session setting is changed. An open transaction
    is still rolled back on release (asyncpg does that before the reset query).
    """

    def get_reset_query(self) -> str:
        return ""


class PostgresStore(
    ExecutionsReadsSql,
    EventsReadsSql,
    MessagesReadsSql,
    SpecsReadsSql,
    QueueReadsSql,
    BudgetsReadsSql,
    KeysReadsSql,
    MemorySql,
    CredentialsReadsSql,
    DeploymentsReadsSql,
    InboxReadsSql,
    ForksReadsSql,
    MediaReadsSql,
    MemoryEntriesReadsSql,
    OpsReadsSql,
):
    """A store on a PostgreSQL database shared by any number of server replicas.

    ``sole_server``: this process is the only server using the database, so leases on
    server-side work found at start-up belong to a dead predecessor and may be released
    at once (what SQLite does). Off by default: with several replicas, a lease may belong
    to a live replica mid-call, and releasing it would run that model call twice; leases
    simply expire instead (``llm_lease_seconds``).
    """

    def __init__(
        self,
        url: str,
        *,
        sole_server: bool = False,
        min_connections: int = 1,
        max_connections: int | None = None,
        statement_cache_size: int | None = None,
        connect_timeout: float = 10.0,
        listen_url: str | None = None,
    ) -> None:
        self._dsn = url
        self.url = redact_url(url)
        self.where = describe_url(url)
        self.listen_url = listen_url or url
        """Where ``PgNotifier`` connects: LISTEN needs a session, so behind a
        transaction-mode pooler point this at the server or a session-mode pool."""
        self.sole_server = sole_server
        self._min = min_connections
        self._max = max_connections
        self._statement_cache_size = statement_cache_size
        self._connect_timeout = connect_timeout
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self.schema_found = 0
        self.schema_version = 0

    # --- lifecycle ----------------------------------------------------------------------

    async def open(self) -> None:
        max_size = self._max if self._max is not None else _env_int("AGENTSPAN_PG_POOL_SIZE", 10)
        # 0 keeps asyncpg from naming prepared statements, which a transaction-mode
        # pooler would route to a different server connection than the one that made them.
        cache = self._statement_cache_size
        if cache is None:
            cache = _env_int("AGENTSPAN_PG_STATEMENT_CACHE_SIZE", _DEFAULT_STATEMENT_CACHE)
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=min(self._min, max_size),
                max_size=max_size,
                statement_cache_size=cache,
                timeout=self._connect_timeout,
                connection_class=_PooledConnection,
            )
        except (OSError, TimeoutError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(
                f"cannot connect to PostgreSQL at {self.where}: {scrub(str(exc), self._dsn) or type(exc).__name__}"
            ) from None
        try:
            await self._migrate()
        except asyncpg.PostgresError as exc:
            await self.close()
            raise StoreError(
                f"cannot prepare the Agentspan schema in {self.where}: {scrub(str(exc), self._dsn)}"
            ) from exc
        except BaseException:
            await self.close()
            raise

    async def _migrate(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            version = conn.get_server_version()
            if version.major < _MIN_SERVER_VERSION:
                raise StoreError(
                    f"{self.where} runs PostgreSQL {version.major}; Agentspan needs {_MIN_SERVER_VERSION} or later"
                )
            # Replicas starting together queue here. The lock ends with the transaction,
            # so no session state is left on a pooled connection.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            current = await self._schema_version(conn)
            latest = len(POSTGRES_MIGRATIONS)
            if current > latest:
                raise StoreError(
                    f"{self.where} has schema version {current}, newer than this server ({latest}); "
                    "upgrade agentspan"
                )
            self.schema_found, self.schema_version = current, latest
            # DDL is transactional here: all pending versions land together or not at all.
            for number in range(current + 1, latest + 1):
                for statement in POSTGRES_MIGRATIONS[number - 1]:
                    await conn.execute(statement)
                await conn.execute(
                    f"INSERT INTO {_MARKER_TABLE} (key, value) VALUES ('schema_version', $1) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    str(number),
                )

    async def _schema_version(self, conn: _Conn) -> int:
        tables = {
            str(r[0])
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        }
        if tables and _MARKER_TABLE not in tables:
            shown = ", ".join(sorted(tables)[:5])
            raise StoreError(
                f"{self.where} is not an Agentspan database (it has other tables: {shown}); "
                "point AGENTSPAN_DATABASE_URL at an empty database or schema"
            )
        if not tables:
            return 0
        value = await conn.fetchval(f"SELECT value FROM {_MARKER_TABLE} WHERE key = 'schema_version'")
        return int(value) if value is not None else 0

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), 10.0)
        except TimeoutError:
            log.warning("PostgreSQL connections still busy after 10s; closing them")
            pool.terminate()

    @property
    def pool(self) -> asyncpg.Pool[asyncpg.Record]:
        if self._pool is None:
            raise StoreError("the store is not open")
        return self._pool

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTx]:
        async with self.pool.acquire() as conn:
            try:
                async with conn.transaction():
                    tx = PostgresTx(conn)
                    yield tx
                    await tx.send_notifications()
            except asyncpg.exceptions.TransactionRollbackError as exc:
                # A deadlock or serialization failure: another writer got there first,
                # which callers already handle as a conflict.
                raise ConflictError(f"concurrent update, transaction rolled back: {exc}") from exc
            except asyncpg.exceptions.IntegrityConstraintViolationError as exc:
                raise StoreError(f"constraint violated: {exc}") from exc

    # --- reads (the shared ones run through these, on any pooled connection) -------------

    async def _run(self, q: Sql, *args: Any) -> int:
        return _affected(await self.pool.execute(q.postgres, *args))

    async def _row(self, q: Sql, *args: Any) -> Row | None:
        return await self.pool.fetchrow(q.postgres, *args)

    async def _rows(self, q: Sql, *args: Any) -> list[Row]:
        return await self.pool.fetch(q.postgres, *args)

    async def list_executions(
        self,
        *,
        status: str | None,
        agent_name: str | None,
        parent_id: str | None,
        roots_only: bool,
        limit: int,
        offset: int,
        before: tuple[float, str] | None = None,
        search: str | None = None,
    ) -> tuple[int, list[ExecutionRow]]:
        count, page = executions.listing(
            bool(status),
            bool(agent_name),
            bool(parent_id),
            roots_only,
            before is not None,
            executions.search_mode(search),
        )
        args = functools.partial(
            executions.listing_args,
            status=status,
            agent_name=agent_name,
            parent_id=parent_id,
            before=before,
            search=search,
        )
        page_args = args(page, limit=limit if limit >= 0 else None, offset=max(offset, 0))
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            # One snapshot, so the total and the page agree (SQLite gets that from its lock).
            total = await conn.fetchval(count.postgres, *args(count))
            rows = await conn.fetch(page.postgres, *page_args)
        return int(total), [ExecutionRow(*r) for r in rows]

    async def next_due(self, kind: str, names: Sequence[str] | None) -> float | None:
        if names is None:
            value = await self.pool.fetchval(_NEXT_DUE_ANY.postgres, kind)
        else:
            value = await self.pool.fetchval(_NEXT_DUE_NAMED.postgres, kind, list(names))
        return float(value) if value is not None else None

    async def record_poll(self, names: Sequence[str], worker_id: str, now: float) -> None:
        # One row per name, in a fixed order: a repeated name would make the upsert touch a
        # row twice (an error here), and two replicas locking rows in different orders
        # could deadlock.
        unique = sorted(set(names))
        if unique:
            await self.pool.execute(queue.RECORD_POLL.postgres, unique, worker_id, now)

    async def release_server_leases(self, kinds: Sequence[str]) -> int:
        # Several replicas share this database: a leased llm/timer task may be in the
        # hands of a live replica, and releasing it would run that call twice. Only a
        # store told it is the sole server does what SQLite does; otherwise leases expire.
        if not self.sole_server:
            return 0
        return await self._run(_RELEASE, list(kinds))

    # --- retention ----------------------------------------------------------------------

    async def purge(
        self,
        older_than: float,
        statuses: Sequence[str],
        *,
        dry_run: bool = False,
        batch_size: int = PURGE_BATCH,
    ) -> int:
        wanted = purge_statuses(statuses, batch_size)
        # Roots are visited in (created_at, id) order from a cursor, so every batch starts
        # where the last ended: trees that must stay are looked at once, not once a batch.
        cursor: tuple[float, str] | None = (float("-inf"), "")
        removed = 0
        try:
            while cursor is not None:
                cursor, count = await self._purge_batch_retrying(
                    wanted, older_than, cursor, batch_size, dry_run
                )
                removed += count
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(
                f"purge stopped on {self.where} after {removed} executions: {scrub(str(exc), self._dsn)}"
            ) from exc
        return removed

    async def _purge_batch_retrying(
        self, statuses: list[str], older_than: float, after: tuple[float, str], size: int, dry_run: bool
    ) -> tuple[tuple[float, str] | None, int]:
        # A deadlock with a replica finishing a task of a doomed execution (it locks the
        # task, then the execution; we the other way round) rolls the batch back whole, so
        # running it again is safe.
        for _ in range(_PURGE_ATTEMPTS - 1):
            with contextlib.suppress(asyncpg.exceptions.TransactionRollbackError):
                return await self._purge_batch(statuses, older_than, after, size, dry_run)
        return await self._purge_batch(statuses, older_than, after, size, dry_run)

    async def _purge_batch(
        self, statuses: list[str], older_than: float, after: tuple[float, str], size: int, dry_run: bool
    ) -> tuple[tuple[float, str] | None, int]:
        """One transaction: the next ``size`` candidate roots after ``after``, and the
        settled trees among them deleted. Returns the new cursor (None: no more) and the
        number of executions deleted (or, dry, deletable)."""
        # Deleting locks each root FOR UPDATE. Every writer to a tree locks its root first
        # (Tx.get_execution), so no member can change between our check and the delete; a
        # root some replica holds right now is skipped, not waited for, and left for the
        # next purge. A dry run only reads.
        lock = "" if dry_run else " FOR UPDATE SKIP LOCKED"
        async with self.pool.acquire() as conn, conn.transaction(readonly=dry_run):
            found = await conn.fetch(_PURGE_ROOTS + lock, statuses, older_than, *after, size)
            if not found:
                return None, 0
            cursor = (float(found[-1]["created_at"]), str(found[-1]["id"]))
            roots = [(str(r[0]), str(r[1]), str(r[2]), float(r[3])) for r in found]

            async def children(parent_ids: list[str]) -> list[Member]:
                rows = await conn.fetch(
                    "SELECT id, parent_id, status, updated_at FROM executions WHERE parent_id = ANY($1::text[])",
                    parent_ids,
                )
                return [(str(r[0]), str(r[1]), str(r[2]), float(r[3])) for r in rows]

            root_ids, ids = settled_trees(await tree_members(roots, children), older_than)
            if dry_run or not ids:
                return cursor, len(ids)
            for table in ("events", "messages", "tasks", "inbox", "forks", "media"):
                await conn.execute(f"DELETE FROM {table} WHERE execution_id = ANY($1::text[])", ids)
            await conn.execute("DELETE FROM budgets WHERE root_id = ANY($1::text[])", root_ids)
            # One statement for the whole tree: the parent_id foreign key is checked at its
            # end, so the order in which parents and children go does not matter.
            status = await conn.execute("DELETE FROM executions WHERE id = ANY($1::text[])", ids)
            return cursor, _affected(status)


# Candidate roots after the cursor, walking the created_at index from the cursor to the
# cutoff. ``created_at < $2`` adds nothing logically (an execution is created before it
# is last updated) but bounds that walk; a root whose updated_at precedes its created_at
# (clocks of two replicas disagree) is only left for a later purge.
_PURGE_ROOTS = (
    "SELECT id, id AS root, status, updated_at, created_at FROM executions "
    "WHERE parent_id IS NULL AND status = ANY($1::text[]) AND updated_at < $2 AND created_at < $2 "
    "AND (created_at, id) > ($3::float8, $4::text) ORDER BY created_at, id LIMIT $5"
)
