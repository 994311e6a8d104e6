"""``agentspan server migrate`` and ``agentspan executions purge``: maintenance on the
database itself.

These open the server's database directly instead of calling a server's API: deleting
history and upgrading the schema are an operator's jobs, not something any API client
should be able to trigger. The database is the one the server uses: ``--database-url``,
else ``$AGENTSPAN_DATABASE_URL``, else ``<data-dir>/agentspan.db``.

SQLite admits one process per database (the store's lock file), so there the server has
to be stopped first; on PostgreSQL both commands run next to live replicas.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from agentspan.cli._executions import CliError
from agentspan.cli._server import _data_dir
from agentspan.cli._style import progress
from agentspan.protocol.api import TERMINAL_STATUSES

if TYPE_CHECKING:
    from agentspan.server.store.base import Store

T = TypeVar("T")

PURGEABLE = tuple(sorted(TERMINAL_STATUSES))
_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_SQLITE_PREFIX = "sqlite:///"


def parse_duration(raw: str) -> float:
    """Seconds in ``30d``, ``12h``, ``90m``, ``3600s`` (a unit is required: a bare number
    would leave the reader guessing whether it means seconds or days)."""
    match = _DURATION.fullmatch(raw.strip().lower())
    if match is None:
        raise CliError(
            f"--older-than takes a number and a unit (s, m, h or d), such as 30d, 12h, 90m or 3600s; got {raw!r}"
        )
    return float(match[1]) * _SECONDS_PER_UNIT[match[2]]


def database_url(args: argparse.Namespace) -> str:
    """The database the server would use with the same flags and environment."""
    from agentspan.server.settings import Settings

    try:
        settings = Settings.from_env(data_dir=_data_dir(args), database_url=args.database_url)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return settings.resolved_database_url()


def _sqlite_path(url: str) -> Path | None:
    return Path(url[len(_SQLITE_PREFIX) :]) if url.startswith(_SQLITE_PREFIX) else None


def with_store(url: str, args: argparse.Namespace, work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the database (which applies pending migrations), run ``work``, close it."""
    from agentspan.server.services import open_store
    from agentspan.server.store.base import StoreError, StoreLockedError

    async def run() -> T:
        store = open_store(url)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except StoreLockedError:
        stop = "agentspan server stop" + (f" --data-dir {args.data_dir}" if args.data_dir else "")
        raise CliError(
            f"the SQLite database {_sqlite_path(url) or url} is in use by a running Agentspan server; "
            f"stop the server first ({stop}), then run this again (SQLite admits one process at a time; "
            "on PostgreSQL this works while servers run)"
        ) from None
    except StoreError as exc:
        raise CliError(str(exc)) from None


# --- commands ---------------------------------------------------------------------------


def cmd_purge(args: argparse.Namespace) -> int:
    age = parse_duration(args.older_than)
    url = database_url(args)
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        # Opening would create an empty database there: almost surely a wrong --data-dir.
        raise CliError(f"no Agentspan database at {path} (check --data-dir or --database-url)")
    statuses = args.status or PURGEABLE
    cutoff = time.time() - age

    async def purge(store: Store) -> int:
        return await store.purge(cutoff, statuses, dry_run=args.dry_run)

    with progress("purging" if not args.dry_run else "counting", stream=sys.stderr):
        count = with_store(url, args, purge)
    noun = "execution" if count == 1 else "executions"
    older = args.older_than.strip()
    if args.json:
        print(json.dumps({"count": count, "olderThan": older, "dryRun": bool(args.dry_run)}))
    elif args.dry_run:
        print(f"would purge {count} {noun} older than {older} (dry run: nothing was deleted)")
    else:
        print(f"purged {count} {noun} older than {older}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    url = database_url(args)

    async def versions(store: Store) -> tuple[str, int, int]:
        return store.url, store.schema_found, store.schema_version

    where, before, after = with_store(url, args, versions)
    note = "" if after > before else ", already up to date"
    if args.json:
        print(json.dumps({"before": before, "after": after, "database": where}))
    else:
        print(f"schema version {before} -> {after}{note} ({where})")
    return 0


# --- parsers ----------------------------------------------------------------------------


def _database_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir", help="the server's data directory (default $AGENTSPAN_DATA_DIR or ~/.agentspan)"
    )
    p.add_argument(
        "--database-url",
        help="the database (default $AGENTSPAN_DATABASE_URL or sqlite:///<data-dir>/agentspan.db)",
    )


def add_parsers(
    server: argparse._SubParsersAction[argparse.ArgumentParser],
    executions: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    p = server.add_parser("migrate", help="bring the database schema up to date (servers also do on start)")
    _database_flags(p)
    p.add_argument("--json", action="store_true", help="print the versions as one JSON object")
    p.set_defaults(handler=cmd_migrate)

    p = executions.add_parser(
        "purge",
        help="delete finished executions older than an age (opens the database directly)",
        description="Delete finished execution trees (root, sub-agents, events, messages, tasks) "
        "whose last change is older than --older-than. Trees with anything still running or "
        "waiting are kept. On SQLite, stop the server first.",
    )
    p.add_argument(
        "--older-than", required=True, metavar="AGE", help="how long ago they finished: 30d, 12h, 90m, 3600s"
    )
    p.add_argument(
        "--status",
        type=str.upper,
        choices=PURGEABLE,
        action="append",
        help="only trees whose root ended in this status (repeatable; default: all finished ones)",
    )
    p.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")
    _database_flags(p)
    p.add_argument("--json", action="store_true", help="print the count as one JSON object")
    p.set_defaults(handler=cmd_purge)
