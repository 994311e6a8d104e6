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

JSON documents are stored as ``text`` and times as ``double precision`` epoch seconds;
migrations.py says why. Needs PostgreSQL 13 or later (``gen_random_uuid``).

Settings (environment, read on open): ``AGENTSPAN_PG_POOL_SIZE`` (connections per
replica, default 10); ``AGENTSPAN_PG_STATEMENT_CACHE_SIZE`` (default 100; 0 behind a
pooler that cannot follow prepared statements); ``AGENTSPAN_DATABASE_LISTEN_URL`` (read by
``services.open_store``: a direct or session-mode URL for LISTEN when the main URL goes
through a transaction-mode pooler).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, unquote, urlsplit

import asyncpg
import asyncpg.exceptions
import asyncpg.pool

from agentspan.server.hub import WAKE_EVERYONE
from agentspan.server.store.base import (
    PURGE_BATCH,
    Budget,
    ConflictError,
    EventRow,
    ExecutionRow,
    Member,
    StoreError,
    TaskRow,
    purge_statuses,
    settled_trees,
    tree_members,
)
from agentspan.server.store.migrations import POSTGRES_MIGRATIONS

log = logging.getLogger("agentspan.server")

CHANNEL = "agentspan"
"""The LISTEN/NOTIFY channel; each payload is one hub key."""

_EXEC_COLS = (
    "id, parent_id, root_id, agent_name, spec_hash, status, state, version, event_seq, "
    "created_at, updated_at, input, idempotency_key, session_id"
)
_TASK_COLUMNS = [
    "id",
    "execution_id",
    "kind",
    "name",
    "call_id",
    "input",
    "status",
    "attempt",
    "lease_id",
    "lease_expires_at",
    "available_at",
    "created_at",
    "idempotency_key",
    "timeout_seconds",
    "stalled",
    "worker_id",
]
_TASK_COLS = ", ".join(_TASK_COLUMNS)
# What a claim returns: the new lease, but the status the task had *before* the claim
# (``leased`` means a previous holder lost its lease; the caller acts on that).
_CLAIM_RETURNING = ", ".join("due.status" if c == "status" else f"t.{c}" for c in _TASK_COLUMNS)
_MARKER_TABLE = "agentspan_meta"
# Any constant works; it only has to be the same in every replica. (b"agntspan" as a bigint.)
_MIGRATION_LOCK = 0x61676E747370616E
_MAX_PAYLOAD = 7900  # bytes; PostgreSQL refuses NOTIFY payloads of 8000 or more
_MIN_SERVER_VERSION = 13
_PURGE_ATTEMPTS = 3

_Conn: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"


def _exec(row: asyncpg.Record) -> ExecutionRow:
    return ExecutionRow(*row)


def _task(row: asyncpg.Record) -> TaskRow:
    return TaskRow(*row)


def _affected(status: str) -> int:
    """Rows touched, from a command tag such as ``UPDATE 3``."""
    return int(status.rsplit(" ", 1)[-1])


# --------------------------------------------------------------------------- URLs


def describe_url(url: str) -> str:
    """``host:port/database`` for messages: where the database is, never the password."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    # Taken as written (not parsed as one host and port), so several hosts or a bad port
    # still show as given; the driver reports what is wrong with them.
    where = parts.netloc.rsplit("@", 1)[-1]
    if not where:  # a Unix socket or libpq defaults
        where = query.get("host") or os.environ.get("PGHOST") or "localhost"
    if ":" not in where.rsplit("]", 1)[-1]:
        where = f"{where}:{query.get('port', '5432')}"
    database = unquote(parts.path.lstrip("/")) or query.get("dbname") or parts.username or "postgres"
    return f"{where}/{database}"


def redact_url(url: str) -> str:
    """The URL without its password (in the authority or the query string)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostinfo = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{hostinfo}"
    kept = [p for p in parts.query.split("&") if p and unquote(p.split("=", 1)[0]).lower() != "password"]
    # Assembled by hand: urlunsplit would turn ``postgresql:///db`` into ``postgresql:/db``.
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{'&'.join(kept)}" if kept else "")


def scrub(text: str, url: str) -> str:
    """Remove the URL's password from a driver message, in case one ever echoes it."""
    parts = urlsplit(url)
    secrets = [parts.password, dict(parse_qsl(parts.query)).get("password")]
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
            text = text.replace(unquote(secret), "***")
    return text


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise StoreError(f"{name} must be a whole number, not {raw!r}") from None


# --------------------------------------------------------------------------- transactions


class PostgresTx:
    """Statements of one transaction on one pooled connection."""

    def __init__(self, conn: _Conn) -> None:
        self._c = conn
        self._keys: set[str] = set()

    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        # FOR NO KEY UPDATE, not FOR UPDATE: it excludes other writers just the same, but
        # does not block inserting a child row whose foreign key points at this one.
        row = await self._c.fetchrow(
            f"SELECT {_EXEC_COLS} FROM executions WHERE id = $1 AND root_id = id FOR NO KEY UPDATE",
            execution_id,
        )
        if row is not None:
            return _exec(row)  # a root: its own row is the tree's lock
        root_id = await self._c.fetchval("SELECT root_id FROM executions WHERE id = $1", execution_id)
        if root_id is None:
            return None
        await self._c.execute("SELECT 1 FROM executions WHERE id = $1 FOR NO KEY UPDATE", root_id)
        row = await self._c.fetchrow(
            f"SELECT {_EXEC_COLS} FROM executions WHERE id = $1 FOR NO KEY UPDATE", execution_id
        )
        return _exec(row) if row is not None else None

    async def insert_execution(self, row: ExecutionRow) -> None:
        await self._c.execute(
            f"INSERT INTO executions ({_EXEC_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
            row.id,
            row.parent_id,
            row.root_id,
            row.agent_name,
            row.spec_hash,
            row.status,
            row.state,
            row.version,
            row.event_seq,
            row.created_at,
            row.updated_at,
            row.input,
            row.idempotency_key,
            row.session_id,
        )

    async def update_execution(self, row: ExecutionRow, expected_version: int) -> None:
        status = await self._c.execute(
            "UPDATE executions SET status = $1, state = $2, version = $3, event_seq = $4, "
            "updated_at = $5 WHERE id = $6 AND version = $7",
            row.status,
            row.state,
            row.version,
            row.event_seq,
            row.updated_at,
            row.id,
            expected_version,
        )
        if _affected(status) != 1:
            raise ConflictError(f"execution {row.id} was changed by another writer")

    async def find_by_idempotency_key(self, agent_name: str, key: str) -> ExecutionRow | None:
        # Two replicas starting the same request must not both find nothing and both
        # insert: the second waits here until the first commits, then sees its row.
        await self._c.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            json.dumps(["idempotency", agent_name, key]),
        )
        row = await self._c.fetchrow(
            f"SELECT {_EXEC_COLS} FROM executions WHERE agent_name = $1 AND idempotency_key = $2 "
            "AND status NOT IN ('FAILED', 'TERMINATED', 'TIMED_OUT') ORDER BY created_at DESC LIMIT 1",
            agent_name,
            key,
        )
        return _exec(row) if row is not None else None

    async def put_spec(self, spec_hash: str, spec_json: str) -> None:
        await self._c.execute(
            "INSERT INTO specs (hash, spec) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING",
            spec_hash,
            spec_json,
        )

    async def get_spec(self, spec_hash: str) -> str | None:
        value = await self._c.fetchval("SELECT spec FROM specs WHERE hash = $1", spec_hash)
        return str(value) if value is not None else None

    async def append_events(self, events: Sequence[EventRow]) -> None:
        if not events:
            return
        # One statement for the batch: a round trip per event would dominate a step.
        await self._c.execute(
            "INSERT INTO events (execution_id, seq, type, payload, ts) "
            "SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::float8[])",
            [e.execution_id for e in events],
            [e.seq for e in events],
            [e.type for e in events],
            [e.payload for e in events],
            [e.ts for e in events],
        )

    async def append_messages(self, execution_id: str, start: int, messages: Sequence[str]) -> None:
        if not messages:
            return
        await self._c.execute(
            "INSERT INTO messages (execution_id, idx, body) "
            "SELECT $1, $2::bigint + ord - 1, body FROM unnest($3::text[]) WITH ORDINALITY AS m(body, ord)",
            execution_id,
            start,
            list(messages),
        )

    async def upsert_task(self, task: TaskRow) -> None:
        await self._c.execute(
            f"INSERT INTO tasks ({_TASK_COLS}) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) "
            "ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, lease_id = EXCLUDED.lease_id, "
            "lease_expires_at = EXCLUDED.lease_expires_at, available_at = EXCLUDED.available_at, "
            "input = EXCLUDED.input, attempt = EXCLUDED.attempt, worker_id = EXCLUDED.worker_id, stalled = false",
            task.id,
            task.execution_id,
            task.kind,
            task.name,
            task.call_id,
            task.input,
            task.status,
            task.attempt,
            task.lease_id,
            task.lease_expires_at,
            task.available_at,
            task.created_at,
            task.idempotency_key,
            task.timeout_seconds,
            task.stalled,
            task.worker_id,
        )

    async def get_task(self, task_id: str) -> TaskRow | None:
        # Locked: of two replicas finishing the same task (a retried completion, or a
        # completion racing a re-claim), the second waits and then sees what the first did.
        row = await self._c.fetchrow(f"SELECT {_TASK_COLS} FROM tasks WHERE id = $1 FOR UPDATE", task_id)
        return _task(row) if row is not None else None

    async def delete_task(self, task_id: str) -> None:
        await self._c.execute("DELETE FROM tasks WHERE id = $1", task_id)

    async def take_task(self, task_id: str, lease_id: str) -> TaskRow | None:
        # Of two replicas finishing the same task, the second waits on the row lock and
        # then finds it gone.
        row = await self._c.fetchrow(
            f"DELETE FROM tasks WHERE id = $1 AND status = 'leased' AND lease_id = $2 RETURNING {_TASK_COLS}",
            task_id,
            lease_id,
        )
        return _task(row) if row is not None else None

    async def delete_tasks_of(self, execution_id: str) -> list[TaskRow]:
        rows = await self._c.fetch(
            f"DELETE FROM tasks WHERE execution_id = $1 RETURNING {_TASK_COLS}", execution_id
        )
        return [_task(r) for r in rows]

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
        params: list[Any] = [kind, now, count if count >= 0 else None, now + lease_seconds, worker_id]
        name_filter = ""
        if names is not None:
            params.append(list(names))
            name_filter = " AND name = ANY($6::text[])"
        rows = await self._c.fetch(
            f"""WITH due AS (
                SELECT id, status FROM tasks
                WHERE kind = $1{name_filter}
                  AND ((status = 'pending' AND available_at <= $2)
                       OR (status = 'leased' AND lease_expires_at <= $2))
                ORDER BY available_at, id
                LIMIT $3
                FOR UPDATE SKIP LOCKED
            )
            UPDATE tasks AS t
            SET status = 'leased', attempt = t.attempt + 1,
                lease_id = replace(gen_random_uuid()::text, '-', ''),
                lease_expires_at = $4, worker_id = $5
            FROM due WHERE t.id = due.id
            RETURNING {_CLAIM_RETURNING}""",
            *params,
        )
        # RETURNING has no defined order; callers get the earliest due first, as from SQLite.
        return sorted((_task(r) for r in rows), key=lambda t: (t.available_at, t.id))

    async def extend_lease(self, task_id: str, lease_id: str, until: float) -> bool:
        status = await self._c.execute(
            "UPDATE tasks SET lease_expires_at = $1 WHERE id = $2 AND lease_id = $3 AND status = 'leased'",
            until,
            task_id,
            lease_id,
        )
        return _affected(status) == 1

    async def mark_stalled(self, task_ids: Sequence[str]) -> None:
        await self._c.execute("UPDATE tasks SET stalled = true WHERE id = ANY($1::text[])", list(task_ids))

    async def put_budget(self, root_id: str, max_cost_usd: float | None, max_tokens: int | None) -> None:
        await self._c.execute(
            "INSERT INTO budgets (root_id, max_cost_usd, max_tokens) VALUES ($1, $2, $3)",
            root_id,
            max_cost_usd,
            max_tokens,
        )

    async def add_budget_usage(self, root_id: str, cost_usd: float, tokens: int) -> None:
        await self._c.execute(
            "UPDATE budgets SET used_cost_usd = used_cost_usd + $1, used_tokens = used_tokens + $2 "
            "WHERE root_id = $3",
            cost_usd,
            tokens,
            root_id,
        )

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
        await self._c.execute("SELECT pg_notify($1, k) FROM unnest($2::text[]) AS k", CHANNEL, payloads)


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


class PostgresStore:
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

    # --- reads --------------------------------------------------------------------------

    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        row = await self.pool.fetchrow(f"SELECT {_EXEC_COLS} FROM executions WHERE id = $1", execution_id)
        return _exec(row) if row is not None else None

    async def get_spec(self, spec_hash: str) -> str | None:
        value = await self.pool.fetchval("SELECT spec FROM specs WHERE hash = $1", spec_hash)
        return str(value) if value is not None else None

    async def list_messages(self, execution_id: str, start: int = 0) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT body FROM messages WHERE execution_id = $1 AND idx >= $2 ORDER BY idx",
            execution_id,
            start,
        )
        return [json.loads(r[0]) for r in rows]

    async def list_events(self, execution_id: str, after: int, limit: int) -> list[EventRow]:
        rows = await self.pool.fetch(
            "SELECT execution_id, seq, type, payload, ts FROM events "
            "WHERE execution_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            execution_id,
            after,
            limit if limit >= 0 else None,
        )
        return [EventRow(*r) for r in rows]

    async def list_executions(
        self,
        *,
        status: str | None,
        agent_name: str | None,
        parent_id: str | None,
        roots_only: bool,
        limit: int,
        offset: int,
    ) -> tuple[int, list[ExecutionRow]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("status", status), ("agent_name", agent_name), ("parent_id", parent_id)):
            if value:
                params.append(value)
                clauses.append(f"{column} = ${len(params)}")
        if roots_only:
            clauses.append("parent_id IS NULL")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        page = f"LIMIT ${len(params) + 1} OFFSET ${len(params) + 2}"
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            # One snapshot, so the total and the page agree (SQLite gets that from its lock).
            total = await conn.fetchval(f"SELECT COUNT(*) FROM executions{where}", *params)
            rows = await conn.fetch(
                f"SELECT {_EXEC_COLS} FROM executions{where} ORDER BY created_at DESC {page}",
                *params,
                limit if limit >= 0 else None,
                max(offset, 0),
            )
        return int(total), [_exec(r) for r in rows]

    async def children_of(self, execution_id: str) -> list[ExecutionRow]:
        rows = await self.pool.fetch(
            f"SELECT {_EXEC_COLS} FROM executions WHERE parent_id = $1 ORDER BY created_at", execution_id
        )
        return [_exec(r) for r in rows]

    async def next_due(self, kind: str, names: Sequence[str] | None) -> float | None:
        params: list[Any] = [kind]
        name_filter = ""
        if names is not None:
            params.append(list(names))
            name_filter = " AND name = ANY($2::text[])"
        value = await self.pool.fetchval(
            "SELECT MIN(CASE WHEN status = 'pending' THEN available_at ELSE lease_expires_at END) "
            f"FROM tasks WHERE kind = $1{name_filter}",
            *params,
        )
        return float(value) if value is not None else None

    async def record_poll(self, names: Sequence[str], worker_id: str, now: float) -> None:
        # One row per name, in a fixed order: a repeated name would make the upsert touch a
        # row twice (an error here), and two replicas locking rows in different orders
        # could deadlock.
        unique = sorted(set(names))
        if not unique:
            return
        await self.pool.execute(
            "INSERT INTO pollers (name, worker_id, last_poll_at) SELECT n, $2, $3 FROM unnest($1::text[]) AS n "
            "ON CONFLICT (name) DO UPDATE SET worker_id = EXCLUDED.worker_id, "
            "last_poll_at = EXCLUDED.last_poll_at",
            unique,
            worker_id,
            now,
        )

    async def stalled_candidates(self, older_than: float, poll_since: float) -> list[TaskRow]:
        rows = await self.pool.fetch(
            f"SELECT {_TASK_COLS} FROM tasks WHERE kind = 'worker' AND NOT stalled "
            "AND ((status = 'pending' AND available_at <= $1) OR (status = 'leased' AND lease_expires_at <= $1)) "
            "AND name NOT IN (SELECT name FROM pollers WHERE last_poll_at >= $2) LIMIT 500",
            older_than,
            poll_since,
        )
        return [_task(r) for r in rows]

    async def get_budget(self, root_id: str) -> Budget | None:
        row = await self.pool.fetchrow(
            "SELECT max_cost_usd, max_tokens, used_cost_usd, used_tokens FROM budgets WHERE root_id = $1",
            root_id,
        )
        return Budget(*row) if row is not None else None

    async def release_server_leases(self, kinds: Sequence[str]) -> int:
        # Several replicas share this database: a leased llm/timer task may be in the
        # hands of a live replica, and releasing it would run that call twice. Only a
        # store told it is the sole server does what SQLite does; otherwise leases expire.
        if not self.sole_server:
            return 0
        status = await self.pool.execute(
            "UPDATE tasks SET lease_expires_at = 0 WHERE status = 'leased' AND kind = ANY($1::text[])",
            list(kinds),
        )
        return _affected(status)

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
            for table in ("events", "messages", "tasks"):
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
