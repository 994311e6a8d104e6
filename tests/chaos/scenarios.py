"""What the fault-injection scenarios run: the side-effect ledger, the tools the worker
processes serve, and the scripted agents a scenario starts executions of. The processes that
run them, the faults and the audit are in ``harness.py``.

* ``Ledger``: a SQLite file the tools write to. ``runs`` gets a row every time a tool body
  starts; ``effects`` gets one row per idempotency key (``INSERT OR IGNORE``), the way a
  careful tool de-duplicates a side effect; ``reports`` gets how the server answered each
  completion a worker sent (``204``, or ``409 lease_lost`` for a fenced late result).
* The tools (``ledger_step``, ``fragile_step``, ``sign_off``) stop at a named boundary when
  the worker runs with ``CHAOS_HOLD=before|mid|after``: they drop a marker file in the
  control directory and block until ``release`` appears there, so a test can SIGKILL or
  SIGSTOP the worker exactly at that point.
* ``shape_agent``: one scripted conversation per shape in ``SHAPES`` (parallel calls, a single
  call, a non-retryable call, an approval, no tool at all); ``Launch``: one execution a
  scenario started, and what the audit expects of it.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentspan.agents import Agent, ToolContext, tool
from agentspan.agents.testing import ScriptedModel, ToolCall

HOLD_PHASES = ("before", "mid", "after")
"""Where a ledger tool can be told to stop (``CHAOS_HOLD``)."""


# --- the side-effect ledger ---------------------------------------------------------------

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, "
    "tool TEXT NOT NULL, attempt INTEGER NOT NULL, pid INTEGER NOT NULL, ts REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, tool TEXT NOT NULL, "
    "attempt INTEGER NOT NULL, pid INTEGER NOT NULL, ts REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS reports (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, "
    "pid INTEGER NOT NULL, status INTEGER NOT NULL, code TEXT NOT NULL, ts REAL NOT NULL)",
)


@dataclass(frozen=True)
class Run:
    key: str
    tool: str
    attempt: int
    pid: int


@dataclass(frozen=True)
class Report:
    key: str
    pid: int
    status: int
    code: str


@dataclass
class LedgerSnapshot:
    runs: list[Run]
    effects: dict[str, Run]
    reports: list[Report]

    def runs_of(self, key: str) -> list[Run]:
        return [r for r in self.runs if r.key == key]


class Ledger:
    """Side effects keyed by idempotency key, plus every run and every report, in SQLite."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60, isolation_level=None)

    def create(self) -> Ledger:
        with contextlib.closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                db.execute(statement)
        return self

    def record_run(self, key: str, tool_name: str, attempt: int) -> None:
        with contextlib.closing(self._connect()) as db:
            db.execute(
                "INSERT INTO runs (key, tool, attempt, pid, ts) VALUES (?, ?, ?, ?, ?)",
                (key, tool_name, attempt, os.getpid(), time.time()),
            )

    def record_effect(self, key: str, tool_name: str, attempt: int) -> bool:
        """The side effect itself: done once per key, whoever asks again."""
        with contextlib.closing(self._connect()) as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO effects (key, tool, attempt, pid, ts) VALUES (?, ?, ?, ?, ?)",
                (key, tool_name, attempt, os.getpid(), time.time()),
            )
            return cursor.rowcount == 1

    def record_report(self, key: str, status: int, code: str) -> None:
        with contextlib.closing(self._connect()) as db:
            db.execute(
                "INSERT INTO reports (key, pid, status, code, ts) VALUES (?, ?, ?, ?, ?)",
                (key, os.getpid(), status, code, time.time()),
            )

    def snapshot(self) -> LedgerSnapshot:
        with contextlib.closing(self._connect()) as db:
            runs = [Run(*row) for row in db.execute("SELECT key, tool, attempt, pid FROM runs ORDER BY id")]
            effects = {row[0]: Run(*row) for row in db.execute("SELECT key, tool, attempt, pid FROM effects")}
            reports = [
                Report(*row) for row in db.execute("SELECT key, pid, status, code FROM reports ORDER BY id")
            ]
        return LedgerSnapshot(runs, effects, reports)


# --- the tools (run inside worker processes) ----------------------------------------------


def _checkpoint(phase: str, key: str) -> None:
    """Block here when this worker was told to hold at ``phase`` (until ``release`` exists)."""
    if os.environ.get("CHAOS_HOLD", "") != phase:
        return
    control = Path(os.environ["CHAOS_CONTROL"])
    (control / f"held-{phase}-{os.getpid()}-{key}").touch()
    deadline = time.monotonic() + 600
    while not (control / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def _work_seconds(key: str, attempt: int) -> float:
    """How long the body works: drawn from ``CHAOS_WORK="lo,hi"``, fixed per key and attempt."""
    raw = os.environ.get("CHAOS_WORK", "").strip()
    if not raw:
        return 0.0
    lo, hi = (float(x) for x in raw.split(","))
    return random.Random(f"{key}:{attempt}").uniform(lo, hi)


def _body(tool_name: str, item: str, context: ToolContext) -> str:
    key, attempt = context.idempotency_key, context.attempt
    _checkpoint("before", key)
    ledger = Ledger(Path(os.environ["CHAOS_LEDGER"]))
    ledger.record_run(key, tool_name, attempt)
    work = _work_seconds(key, attempt)
    time.sleep(work / 2)
    _checkpoint("mid", key)
    time.sleep(work / 2)
    ledger.record_effect(key, tool_name, attempt)
    _checkpoint("after", key)
    return f"{item}|{key}|{attempt}|{os.getpid()}"


@tool
def ledger_step(item: str, context: ToolContext) -> str:
    """Do one step with a side effect, de-duplicated by the idempotency key."""
    return _body("ledger_step", item, context)


@tool(retryable=False, retry_count=0)
def fragile_step(item: str, context: ToolContext) -> str:
    """A step that must not be re-run blindly when its outcome is unknown."""
    return _body("fragile_step", item, context)


@tool(approval_required=True)
def sign_off(item: str, context: ToolContext) -> str:
    """A step that needs a human's approval before it runs."""
    return _body("sign_off", item, context)


LEDGER_TOOLS = ("ledger_step", "fragile_step", "sign_off")


def parse_result(result: Any) -> tuple[str, str, int, int] | None:
    """``(item, key, attempt, pid)`` from a ledger tool's result string."""
    if not isinstance(result, str) or result.count("|") != 3:
        return None
    item, key, attempt, pid = result.split("|")
    try:
        return item, key, int(attempt), int(pid)
    except ValueError:
        return None


# --- agents -------------------------------------------------------------------------------


def shape_turns(shape: str) -> list[Any]:
    if shape == "fan":  # two parallel calls, then one more, then the answer
        return [
            [ToolCall("ledger_step", {"item": "a"}), ToolCall("ledger_step", {"item": "b"})],
            ToolCall("ledger_step", {"item": "c"}),
            "fan done",
        ]
    if shape == "single":
        return [ToolCall("ledger_step", {"item": "only"}), "single done"]
    if shape == "fragile":
        return [ToolCall("fragile_step", {"item": "careful"}), "fragile done"]
    if shape == "approval":
        return [ToolCall("sign_off", {"item": "contract"}), "approval done"]
    if shape == "talk":
        return ["just talking"]
    raise ValueError(f"unknown shape {shape!r}")


SHAPES = ("fan", "single", "fragile", "approval", "talk")


def shape_agent(shape: str) -> Agent:
    tools = [ledger_step, fragile_step, sign_off]
    return Agent(name=f"chaos_{shape}", model=ScriptedModel(shape_turns(shape)), tools=tools)


def serving_agent() -> Agent:
    """What a worker process serves: every ledger tool."""
    return shape_agent("fan")


@dataclass
class Launch:
    """One execution a scenario started, and what the audit expects of it."""

    execution_id: str
    shape: str
    turns: list[dict[str, Any]]
    approve: bool = True
    """How ``settle`` answers an approval wait (``outcome_unknown`` waits are always approved)."""
    expect_status: str = "COMPLETED"
