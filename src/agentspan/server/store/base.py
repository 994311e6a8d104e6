"""The store interface used by the engine driver and the API.

Everything an execution needs to continue after a crash lives behind this interface:
executions (state document + optimistic version), their event logs, their messages,
agent specs by hash, the task queue with leases, and budgets. The engine never sees SQL.

The interface is split by aggregate, one module each, holding its Protocols (what a
transaction may do, what a store may read), its SQL written once (sql.py compiles it
for both dialects) and the shared code running it:

    executions.py  events.py  messages.py  specs.py  queue.py  budgets.py  keys.py
    credentials.py  deployments.py  inbox.py  forks.py  media.py  memory_entries.py
    retention.py  ops.py

``Tx`` and ``Store`` here are the union of those Protocols, so callers keep one object
to pass around. sqlite.py and postgres.py only add what really differs by dialect:
connections and transactions, claiming, locking reads, batch inserts and purging.

Adding an aggregate (credentials, memory, API keys, deployments) is one module and one
migration pair:

1. ``store/<aggregate>.py``: the row dataclass, ``<Aggregate>Tx`` / ``<Aggregate>Reads``
   Protocols, the statements with ``sql(...)`` (``sql_per_dialect`` only where the text
   must differ), and ``<Aggregate>TxSql`` / ``<Aggregate>ReadsSql`` mixins on ``Runner``.
2. One ``Migration(sqlite=..., postgres=...)`` appended to ``migrations.MIGRATIONS``.
3. The Protocols added to ``Tx`` / ``Store`` below and the mixins to the bases of
   ``SqliteTx``/``PostgresTx`` and ``SqliteStore``/``PostgresStore`` (one word each).

The contract suite (tests/contract) then runs the new methods on both dialects.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from agentspan.server.store.budgets import Budget, BudgetsReads, BudgetsTx
from agentspan.server.store.credentials import CredentialRow, CredentialsReads, CredentialsTx
from agentspan.server.store.deployments import DeploymentRow, DeploymentsReads, DeploymentsTx
from agentspan.server.store.errors import ConflictError, StoreError, StoreLockedError
from agentspan.server.store.events import EventRow, EventsReads, EventsTx
from agentspan.server.store.executions import ExecutionRow, ExecutionsReads, ExecutionsTx
from agentspan.server.store.forks import ForkRow, ForksReads, ForksTx
from agentspan.server.store.inbox import InboxReads, InboxRow, InboxTx
from agentspan.server.store.keys import ApiKeyRow, KeysReads, KeysTx
from agentspan.server.store.media import MediaReads, MediaRow, MediaTx
from agentspan.server.store.memory import MemoryTx
from agentspan.server.store.memory_entries import MemoryEntriesReads, MemoryEntriesTx, MemoryEntryRow
from agentspan.server.store.messages import MessagesReads, MessagesTx
from agentspan.server.store.ops import OpsReads
from agentspan.server.store.queue import QueueReads, QueueTx, TaskRow
from agentspan.server.store.retention import (
    PURGE_BATCH,
    PURGEABLE_STATUSES,
    Member,
    Retention,
    purge_statuses,
    settled_trees,
    tree_members,
)
from agentspan.server.store.specs import SpecsReads, SpecsTx

__all__ = [
    "PURGEABLE_STATUSES",
    "PURGE_BATCH",
    "WAKE_EVERYONE",
    "ApiKeyRow",
    "Budget",
    "ConflictError",
    "CredentialRow",
    "DeploymentRow",
    "EventRow",
    "ExecutionRow",
    "ForkRow",
    "InboxRow",
    "MediaRow",
    "Member",
    "MemoryEntryRow",
    "Store",
    "StoreError",
    "StoreLockedError",
    "TaskRow",
    "Tx",
    "purge_statuses",
    "settled_trees",
    "tree_members",
]

WAKE_EVERYONE = "*"
"""A wake-up key that wakes every waiter: sent when wake-ups may have been missed (the
PostgreSQL listener reconnected, or a key too long for a NOTIFY payload), so each waiter
re-reads the state it waits on. Defined here, below the hub that honours it, because the
store sends it and must not import the server above it."""


class Tx(
    ExecutionsTx,
    EventsTx,
    MessagesTx,
    SpecsTx,
    QueueTx,
    BudgetsTx,
    KeysTx,
    MemoryTx,
    MemoryEntriesTx,
    MemoryEntriesReads,
    CredentialsTx,
    DeploymentsTx,
    InboxTx,
    ForksTx,
    MediaTx,
    Protocol,
):
    """Operations inside one transaction. All-or-nothing."""

    async def notify(self, keys: Iterable[str]) -> None:
        """Wake waiters on these hub keys in *other* server processes once this transaction
        commits (never if it rolls back). A no-op where one process is the only server
        (SQLite); the driver still wakes its own process's hub itself after the commit."""
        ...


class Store(
    ExecutionsReads,
    EventsReads,
    MessagesReads,
    SpecsReads,
    QueueReads,
    BudgetsReads,
    KeysReads,
    MemoryTx,
    MemoryEntriesReads,
    CredentialsReads,
    DeploymentsReads,
    InboxReads,
    ForksReads,
    MediaReads,
    Retention,
    OpsReads,
    Protocol,
):
    """A database holding executions. Implementations: SQLite (embedded default) and
    PostgreSQL (shared by several server replicas). Reads here need no transaction."""

    url: str
    schema_found: int
    """The schema version ``open()`` found, before migrating (0: a new, empty database)."""
    schema_version: int
    """The schema version after ``open()`` applied any pending migrations."""

    async def open(self) -> None:
        """Connect, and bring the schema up to date (``schema_found`` -> ``schema_version``)."""
        ...

    async def close(self) -> None: ...

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...
