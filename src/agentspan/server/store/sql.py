"""Each SQL statement written once, with named parameters, for both dialects.

A statement is written with ``:name`` placeholders and compiled once, at import, into
the two texts the drivers take: SQLite's ``?`` and PostgreSQL's ``$1..$n``. Arguments are
passed positionally, in ``Sql.params`` order (each distinct name once, in order of first
appearance), so a call binds a plain tuple and no dict is built or reordered per call.
A name used twice becomes one argument: ``$n`` repeats on PostgreSQL, and on SQLite the
statement switches to numbered ``?n`` placeholders (SQLite's own syntax for reuse).

Compiling at import keeps string building off the hot path, and asyncpg's statement
cache sees the same text on every call.

Rules of the placeholder syntax, checked when a statement is compiled:

* ``:name`` outside quotes is a parameter; inside ``'string literals'`` and ``"quoted
  identifiers"`` it is text. ``::type`` is PostgreSQL's cast, never a parameter.
* Positional placeholders (``?``, ``$1``) and ``--`` comments are refused: a statement
  mixing styles, or one whose comment hides a parameter, is a bug waiting to happen.

``Runner`` is what the shared aggregate code (executions.py, queue.py, ...) needs from a
dialect: run one compiled statement on the connection (or pool) it stands for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

Row: TypeAlias = Any
"""One result row: a ``sqlite3`` tuple or an ``asyncpg.Record`` (both index and unpack)."""

_TOKEN = re.compile(
    r"""'(?:[^']|'')*'          # a string literal ('' escapes a quote)
      | "(?:[^"]|"")*"          # a quoted identifier
      | ::                      # a PostgreSQL cast
      | :(?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<bad>\?|\$[0-9]|--)  # positional placeholders and comments are refused
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Sql:
    """One statement in both dialects, and the order its arguments are passed in."""

    sqlite: str
    postgres: str
    params: tuple[str, ...]


def compile_named(text: str) -> tuple[str, str, tuple[str, ...]]:
    """``text`` with ``:name`` placeholders as ``(sqlite text, postgres text, params)``."""
    params: list[str] = []
    uses = 0

    def number(match: re.Match[str]) -> tuple[str, int] | None:
        nonlocal uses
        if match.group("bad"):
            raise ValueError(f"use :name placeholders only, not {match.group('bad')!r}, in: {text}")
        name = match.group("name")
        if name is None:
            return None
        uses += 1
        if name not in params:
            params.append(name)
        return name, params.index(name) + 1

    pieces: list[tuple[str, int] | str] = []
    last = 0
    for match in _TOKEN.finditer(text):
        found = number(match)
        if found is not None:
            pieces.append(text[last : match.start()])
            pieces.append(found)
            last = match.end()
    pieces.append(text[last:])
    reused = uses != len(params)
    sqlite = "".join(p if isinstance(p, str) else (f"?{p[1]}" if reused else "?") for p in pieces)
    postgres = "".join(p if isinstance(p, str) else f"${p[1]}" for p in pieces)
    return sqlite, postgres, tuple(params)


def sql(text: str) -> Sql:
    """A statement both dialects run as written (only the placeholders differ)."""
    return Sql(*compile_named(text))


def sql_per_dialect(*, sqlite: str, postgres: str) -> Sql:
    """A statement whose text differs by dialect (locking clauses, array parameters);
    both texts must take the same parameters in the same order."""
    lite, _, lite_params = compile_named(sqlite)
    _, pg, pg_params = compile_named(postgres)
    if lite_params != pg_params:
        raise ValueError(f"the dialects take different parameters: {lite_params} and {pg_params}")
    return Sql(lite, pg, lite_params)


def columns(names: Sequence[str]) -> str:
    """A column list for SELECT/INSERT/RETURNING."""
    return ", ".join(names)


def placeholders(names: Sequence[str]) -> str:
    """``:a, :b, ...`` for an INSERT of these columns."""
    return ", ".join(f":{n}" for n in names)


class Runner:
    """Runs compiled statements; each dialect's transaction and store implement it.

    The aggregate mixins call these with the arguments in ``Sql.params`` order. A
    dialect picks its text (``Sql.sqlite`` or ``Sql.postgres``) and its driver call."""

    __slots__ = ()

    NO_LIMIT: ClassVar[int | None] = None
    """What ``LIMIT`` takes for "all rows": SQLite wants -1, PostgreSQL NULL."""

    async def _run(self, q: Sql, *args: Any) -> int:
        """Execute; return how many rows were changed."""
        raise NotImplementedError

    async def _row(self, q: Sql, *args: Any) -> Row | None:
        """The first row, if any."""
        raise NotImplementedError

    async def _rows(self, q: Sql, *args: Any) -> list[Row]:
        raise NotImplementedError
