"""Executions: one row per execution, its state document and optimistic version.

Trees: ``parent_id`` links a child to the execution that started it and ``root_id``
names the tree's root (budgets and, on PostgreSQL, row locks are per tree).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal, Protocol

from agentspan.server.store.errors import ConflictError
from agentspan.server.store.sql import Row, Runner, Sql, columns, placeholders, sql, sql_per_dialect


@dataclass(slots=True)
class ExecutionRow:
    id: str
    parent_id: str | None
    root_id: str
    agent_name: str
    spec_hash: str
    status: str
    state: str
    """The state document, JSON."""
    version: int
    event_seq: int
    created_at: float
    updated_at: float
    input: str
    """The start request's prompt/context, JSON."""
    idempotency_key: str | None = None
    session_id: str = ""


EXECUTION_COLUMNS = (
    "id",
    "parent_id",
    "root_id",
    "agent_name",
    "spec_hash",
    "status",
    "state",
    "version",
    "event_seq",
    "created_at",
    "updated_at",
    "input",
    "idempotency_key",
    "session_id",
)
"""In ``ExecutionRow`` field order, so a row maps by position."""
COLS = columns(EXECUTION_COLUMNS)


def execution_row(row: Row) -> ExecutionRow:
    return ExecutionRow(*row)


class ExecutionsTx(Protocol):
    async def get_execution(self, execution_id: str) -> ExecutionRow | None: ...

    async def insert_execution(self, row: ExecutionRow) -> None: ...

    async def update_execution(self, row: ExecutionRow, expected_version: int) -> None:
        """Write status/state/event_seq/updated_at; raise ConflictError on a version mismatch."""
        ...

    async def find_by_idempotency_key(self, agent_name: str, key: str) -> ExecutionRow | None: ...


class ExecutionsReads(Protocol):
    async def get_execution(self, execution_id: str) -> ExecutionRow | None: ...

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
        """Newest first. ``before`` is a keyset cursor ``(created_at, id)``: only rows
        strictly older come back, so a deep page costs what the first one does.
        ``search`` matches (case-insensitively, as a substring) the id, the agent's name,
        the input, and an ended execution's output or error (``SEARCH_CLAUSE``)."""
        ...

    async def children_of(self, execution_id: str) -> list[ExecutionRow]: ...


GET = sql(f"SELECT {COLS} FROM executions WHERE id = :id")
INSERT = sql(f"INSERT INTO executions ({COLS}) VALUES ({placeholders(EXECUTION_COLUMNS)})")
UPDATE = sql(
    "UPDATE executions SET status = :status, state = :state, version = :version, event_seq = :event_seq, "
    "updated_at = :updated_at WHERE id = :id AND version = :expected_version"
)
BY_IDEMPOTENCY_KEY = sql(
    f"SELECT {COLS} FROM executions WHERE agent_name = :agent_name AND idempotency_key = :key "
    "AND status NOT IN ('FAILED', 'TERMINATED', 'TIMED_OUT') ORDER BY created_at DESC LIMIT 1"
)
CHILDREN = sql(f"SELECT {COLS} FROM executions WHERE parent_id = :parent_id ORDER BY created_at")


@functools.cache
def listing(
    status: bool,
    agent_name: bool,
    parent_id: bool,
    roots_only: bool,
    before: bool = False,
    search: SearchMode = "",
    walk: bool = False,
) -> tuple[Sql, Sql]:
    """``(count, page)`` for a listing with these filters set; compiled once per
    combination. Bind them with ``listing_args``. The count ignores ``before``: it is the
    number of rows the filters match, whichever page is asked for. ``search``: how the
    text is matched (``search_mode``), ``""`` for no search; ``walk``: with a search, walk
    the list's index testing each row against the matches (SQLite; for a search that
    matches many rows, where starting from the matches would sort them all)."""

    def statements(column: str) -> tuple[str, str]:
        filters = [
            clause
            for wanted, clause in (
                (status, f"{column}status = :status"),
                (agent_name, f"{column}agent_name = :agent_name"),
                (parent_id, f"{column}parent_id = :parent_id"),
                (roots_only, f"{column}parent_id IS NULL"),
                (search == "indexed", SEARCH_CLAUSE),
                (search == "escaped", SEARCH_CLAUSE_ESCAPED),
            )
            if wanted
        ]
        keyset = (
            [KEYSET_CLAUSE.replace("(created_at, id)", f"({column}created_at, {column}id)")] if before else []
        )
        where = f" WHERE {' AND '.join(filters)}" if filters else ""
        page_where = f" WHERE {' AND '.join(filters + keyset)}" if filters or keyset else ""
        return (
            f"SELECT COUNT(*) FROM executions{where}",
            f"SELECT {COLS} FROM executions{page_where} "
            "ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset",
        )

    if not search:
        count, page = statements("")
        return sql(count), sql(page)
    # With a search, SQLite must start from the search index's few matches, not walk an
    # executions index testing each row against them (which costs what a scan does): a
    # unary + keeps it from using an index for the other filters. PostgreSQL plans that
    # itself (and has no unary + for text).
    lite, pg = statements("" if walk else "+"), statements("")
    return (
        sql_per_dialect(sqlite=lite[0], postgres=pg[0]),
        sql_per_dialect(sqlite=lite[1], postgres=pg[1]),
    )


SEARCH_CLAUSE = "id IN (SELECT execution_id FROM execution_search WHERE body LIKE :pattern)"
"""Free text, through the search index (migration 10, kept by triggers): the id, the
agent's name, the input and, once the execution ended, its output and error (their first
``SEARCHED_CHARS`` characters each). A trigram index answers it on both dialects (SQLite
FTS5 ``trigram``, PostgreSQL ``pg_trgm``) without reading the executions."""
SEARCH_CLAUSE_ESCAPED = "id IN (SELECT execution_id FROM execution_search WHERE body LIKE :hint AND body LIKE :pattern ESCAPE '!')"
"""For text holding ``%``, ``_`` or ``!``: matched literally. SQLite's trigram index does
not take an ``ESCAPE``, so the index answers ``:hint`` (the longest run of the text without
those characters) and the exact pattern filters what it found."""
SEARCH_WALK_ABOVE = 1000
"""SQLite: a search matching more rows than this walks the list's index for its page
(``listing(walk=True)``) instead of sorting every match."""
SearchMode = Literal["", "indexed", "escaped"]


def search_mode(text: str | None) -> SearchMode:
    if not text:
        return ""
    return "escaped" if any(c in text for c in "%_!") else "indexed"


KEYSET_CLAUSE = "(created_at, id) < (:before_at, :before_id)"
"""A row-value comparison: both SQLite and PostgreSQL seek an index on ``(created_at,
id)`` with it, where the equivalent ``OR`` would scan."""


def search_pattern(text: str) -> str:
    """``text`` as the ``:pattern`` of its ``search_mode``."""
    if search_mode(text) == "indexed":
        return f"%{text.lower()}%"
    return like_pattern(text)


def search_hint(text: str) -> str:
    """A plain pattern every literal match of ``text`` also matches (its longest run
    without ``%``, ``_`` or ``!``), which the trigram index can answer."""
    runs = [run for run in re.split(r"[%_!]", text.lower()) if run]
    return f"%{max(runs, key=len)}%" if runs else "%"


def like_pattern(text: str) -> str:
    """``text`` as a case-insensitive substring pattern for ``SEARCH_CLAUSE`` (its own
    ``%``, ``_`` and ``!`` are matched literally)."""
    escaped = text.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def listing_args(
    statement: Sql,
    *,
    status: str | None,
    agent_name: str | None,
    parent_id: str | None,
    before: tuple[float, str] | None,
    search: str | None,
    limit: int | None = None,
    offset: int | None = None,
) -> list[object]:
    """The arguments of a ``listing`` statement, in its parameter order."""
    values: dict[str, object] = {
        "status": status,
        "agent_name": agent_name,
        "parent_id": parent_id,
        "pattern": search_pattern(search) if search else None,
        "hint": search_hint(search) if search else None,
        "before_at": before[0] if before else None,
        "before_id": before[1] if before else None,
        "limit": limit,
        "offset": offset,
    }
    return [values[name] for name in statement.params]


class ExecutionsTxSql(Runner):
    """``ExecutionsTx`` in shared SQL; PostgreSQL overrides the two reads that lock."""

    __slots__ = ()

    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        row = await self._row(GET, execution_id)
        return ExecutionRow(*row) if row is not None else None

    async def insert_execution(self, row: ExecutionRow) -> None:
        await self._run(
            INSERT,
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
        changed = await self._run(
            UPDATE,
            row.status,
            row.state,
            row.version,
            row.event_seq,
            row.updated_at,
            row.id,
            expected_version,
        )
        if changed != 1:
            raise ConflictError(f"execution {row.id} was changed by another writer")

    async def find_by_idempotency_key(self, agent_name: str, key: str) -> ExecutionRow | None:
        row = await self._row(BY_IDEMPOTENCY_KEY, agent_name, key)
        return ExecutionRow(*row) if row is not None else None


class ExecutionsReadsSql(Runner):
    """The reads of ``ExecutionsReads`` that need one statement; ``list_executions``
    (a count and a page from one snapshot) is each dialect's, from ``listing``."""

    __slots__ = ()

    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        row = await self._row(GET, execution_id)
        return ExecutionRow(*row) if row is not None else None

    async def children_of(self, execution_id: str) -> list[ExecutionRow]:
        return [ExecutionRow(*r) for r in await self._rows(CHILDREN, execution_id)]
