"""Retention: deleting finished execution trees, in batches, with their events,
messages, tasks and budget.

What may go is decided here, the same for both dialects; how rows are selected, locked
and deleted is each dialect's (``purge`` in sqlite.py and postgres.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from agentspan.protocol.api import TERMINAL_STATUSES

PURGEABLE_STATUSES: tuple[str, ...] = tuple(sorted(TERMINAL_STATUSES))
"""Terminal statuses (``protocol.api.TERMINAL_STATUSES``, sorted): an execution in one of
them never changes again, so only those may be purged."""
PURGE_BATCH = 500
"""Root executions examined per purge transaction: a huge purge never holds one long
transaction (with its locks) while servers work on the same database."""


class Retention(Protocol):
    async def purge(
        self,
        older_than: float,
        statuses: Sequence[str],
        *,
        dry_run: bool = False,
        batch_size: int = PURGE_BATCH,
    ) -> int:
        """Delete finished execution trees; return how many executions went (or would go).

        A tree goes when its root is in one of ``statuses`` (terminal ones only) and every
        member — the root and all its descendants — is terminal and was last updated
        before ``older_than`` (epoch seconds). Its events, messages, tasks and budget go
        with it. Anything still running or waiting, and any tree with such a member, is
        left alone. Each batch of ``batch_size`` roots is its own transaction, so an
        interrupted purge keeps what it finished. ``dry_run`` counts without deleting.
        Specs are kept: they are shared by hash, small, and still referenced by the
        executions that remain."""
        ...


def purge_statuses(statuses: Sequence[str], batch_size: int) -> list[str]:
    """The statuses a purge may select roots by; refuses any that is not terminal, and a
    batch size that would make no progress."""
    if batch_size < 1:
        raise ValueError(f"purge batch size must be at least 1, not {batch_size}")
    wanted = sorted(set(statuses))
    if not wanted:
        raise ValueError("purge needs at least one status")
    live = [s for s in wanted if s not in PURGEABLE_STATUSES]
    if live:
        raise ValueError(f"only finished executions can be purged, not {', '.join(live)}")
    return wanted


Member = tuple[str, str, str, float]
"""An execution in a tree a purge looks at: ``(id, parent or root id, status, updated_at)``."""


async def tree_members(
    roots: list[Member], children: Callable[[list[str]], Awaitable[list[Member]]]
) -> list[Member]:
    """The roots and all their descendants, each as ``(id, root id, status, updated_at)``.

    Walks one generation at a time; ``children(ids)`` returns the executions whose
    parent is one of ``ids``, as ``(id, parent id, status, updated_at)``. A query per
    generation (trees are shallow) keeps every lookup on the parent_id index, where a
    recursive query lets PostgreSQL's planner scan the whole table in each batch."""
    found = list(roots)
    root_of = {r[0]: r[0] for r in roots}
    generation = list(root_of)
    while generation:
        next_generation: list[str] = []
        for child_id, parent_id, status, updated_at in await children(generation):
            if child_id in root_of:  # a cycle of parent links, which no writer makes
                continue
            root_of[child_id] = root_of[parent_id]
            found.append((child_id, root_of[parent_id], status, updated_at))
            next_generation.append(child_id)
        generation = next_generation
    return found


def settled_trees(members: Iterable[Member], older_than: float) -> tuple[list[str], list[str]]:
    """Of whole trees given as ``(id, root id, status, updated_at)`` rows, the ones a purge
    may delete: ``(root ids, ids of all their members)``.

    A tree is kept if any member is still live or changed recently: deleting the root
    would orphan (or, by foreign key, fail on) a child that is still working."""
    by_root: dict[str, list[str]] = {}
    kept: set[str] = set()
    for execution_id, root_id, status, updated_at in members:
        by_root.setdefault(root_id, []).append(execution_id)
        if status not in PURGEABLE_STATUSES or updated_at >= older_than:
            kept.add(root_id)
    roots = [r for r in by_root if r not in kept]
    return roots, [m for r in roots for m in by_root[r]]
