"""The placeholder adapter: one statement text, ``:name`` placeholders, both dialects."""

from __future__ import annotations

import re
import sqlite3

import pytest

from agentspan.server.store import budgets, events, executions, messages, queue, specs
from agentspan.server.store.sql import Sql, compile_named, sql, sql_per_dialect


def test_named_parameters_become_question_marks_and_numbers_in_order() -> None:
    q = sql("UPDATE t SET a = :a, b = :b WHERE id = :id")
    assert q.sqlite == "UPDATE t SET a = ?, b = ? WHERE id = ?"
    assert q.postgres == "UPDATE t SET a = $1, b = $2 WHERE id = $3"
    assert q.params == ("a", "b", "id")


def test_a_repeated_name_is_one_argument_in_both_dialects() -> None:
    q = sql("SELECT * FROM t WHERE x <= :now OR y <= :now LIMIT :n")
    assert q.params == ("now", "n")
    assert q.postgres == "SELECT * FROM t WHERE x <= $1 OR y <= $1 LIMIT $2"
    # SQLite's numbered form reuses a bound value, so the same tuple serves both.
    assert q.sqlite == "SELECT * FROM t WHERE x <= ?1 OR y <= ?1 LIMIT ?2"
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x REAL, y REAL)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(1, 9), (9, 1), (9, 9)])
    assert len(conn.execute(q.sqlite, (5.0, 10)).fetchall()) == 2


def test_names_inside_literals_and_casts_are_not_placeholders() -> None:
    q = sql("""SELECT ':no', "col:umn", :yes::text[], 'it''s :still no' FROM t""")
    assert q.params == ("yes",)
    assert q.sqlite == """SELECT ':no', "col:umn", ?::text[], 'it''s :still no' FROM t"""
    assert q.postgres == """SELECT ':no', "col:umn", $1::text[], 'it''s :still no' FROM t"""


@pytest.mark.parametrize(
    "text",
    ["SELECT * FROM t WHERE a = ?", "SELECT * FROM t WHERE a = $1", "SELECT 1 -- :hidden"],
)
def test_positional_placeholders_and_comments_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="placeholders only"):
        compile_named(text)


def test_a_question_mark_inside_a_literal_is_text() -> None:
    assert sql("SELECT '?' || :a").sqlite == "SELECT '?' || ?"


def test_per_dialect_texts_must_take_the_same_parameters() -> None:
    q = sql_per_dialect(sqlite="SELECT :a, :b", postgres="SELECT :a::int, :b FOR UPDATE")
    assert (q.sqlite, q.postgres, q.params) == ("SELECT ?, ?", "SELECT $1::int, $2 FOR UPDATE", ("a", "b"))
    with pytest.raises(ValueError, match="different parameters"):
        sql_per_dialect(sqlite="SELECT :a, :b", postgres="SELECT :b, :a")


def test_every_shared_statement_numbers_its_arguments_from_one() -> None:
    # A statement is compiled once, at import; its PostgreSQL text must use exactly
    # $1..$n for its n parameters, or asyncpg would ask for a different argument count.
    found = [
        value
        for module in (budgets, events, executions, messages, queue, specs)
        for value in vars(module).values()
        if isinstance(value, Sql)
    ]
    assert len(found) >= 20
    for q in found:
        numbers = {int(n) for n in re.findall(r"\$(\d+)", q.postgres)}
        assert numbers == set(range(1, len(q.params) + 1)), q.postgres
