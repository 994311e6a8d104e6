"""py-spy raw stacks, folded into what the doc shows: samples by component and by handler.

``summarise`` runs once, right after profiling; only its small result goes into
results.json (the raw stacks are megabytes), and the report renders from that.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

COMPONENTS = [
    ("SQLite statements (store/sqlite.py, sqlite3)", ("store/sqlite.py", "sqlite3/")),
    ("PostgreSQL (asyncpg, store/postgres.py)", ("asyncpg", "store/postgres.py", "store/pg_notify.py")),
    ("pydantic validation / serialisation", ("pydantic",)),
    ("json encode / decode", ("json/",)),
    ("uvicorn + httptools (HTTP server)", ("uvicorn", "httptools")),
    ("Starlette / FastAPI (routing, responses)", ("starlette", "fastapi")),
    ("httpx / httpcore (HTTP client)", ("httpx", "httpcore", "anyio", "h11")),
    (
        "asyncio / uvloop event loop",
        ("asyncio/", "uvloop", "selectors.py", "concurrent/futures", "threading.py"),
    ),
    ("engine: decide (pure functions)", ("server/engine/",)),
    ("protocol models", ("agentspan/protocol/",)),
    ("server: driver, executors, hub, services, API", ("agentspan/server/",)),
    ("SDK worker: tool execution, schema", ("agentspan/client/", "agentspan/agents/")),
    ("logging", ("logging/",)),
]


IDLE_LEAVES = (
    "EpollSelector.select (selectors.py",
    "Condition.wait (threading.py",
    "Event.wait (threading.py",
    "_worker (concurrent/futures/thread.py",
    "_wait_for_tstate_lock (threading.py",
)
IDLE = "idle: waiting in epoll, a condition or the thread pool"
UVLOOP = "uvloop's C loop (I/O callbacks, or idle in epoll)"


def classify(frame: str) -> str:
    if frame.startswith(IDLE_LEAVES):
        return IDLE
    if frame.startswith("Runner.run (asyncio/runners.py"):
        return UVLOOP  # the innermost Python frame while uvloop runs C code
    for name, needles in COMPONENTS:
        if any(n in frame for n in needles):
            return name
    return "other (stdlib, imports, …)"


def summarise(path: Path) -> dict[str, Any]:
    """Samples by component of the innermost frame, and by the outermost Agentspan function
    below the CLI and the SDK's loop thread (the request handler or background task)."""
    by_leaf: dict[str, int] = defaultdict(int)
    by_entry: dict[str, int] = defaultdict(int)
    for line in path.read_text().splitlines():
        stack, _, count_raw = line.rpartition(" ")
        if not stack or not count_raw.isdigit():
            continue
        count = int(count_raw)
        frames = stack.split(";")
        component = classify(frames[-1])
        by_leaf[component] += count
        if component in (IDLE, UVLOOP):
            continue
        entry = next(
            (
                f
                for f in frames
                if "agentspan/" in f and "agentspan/cli/" not in f and "client/_loop.py" not in f
            ),
            None,
        )
        by_entry[_short(entry) if entry else "(outside Agentspan code: HTTP server, event loop)"] += count
    return {"by_component": dict(by_leaf), "by_handler": dict(by_entry)}


def _short(frame: str) -> str:
    match = re.match(r"(.+?) \((.+?):\d+\)", frame)
    if not match:
        return frame
    func, file = match.groups()
    file = file.split("agentspan/", 1)[-1]
    return f"`{func}` ({file})"
