"""Figure 6: how the cost of a step grows with the conversation behind it.

``agents.history_agent(K)`` calls ``echo`` K times in sequence (a worker process runs the
tool) and then answers, so its conversation ends with 2K + 2 messages. For conversations of
about 10, 100 and 1,000 messages (K = 4, 49, 499) the execution's event log gives, per
*round* (one model call + one tool call = 2 durable steps):

* the round's time: from one ``tool_call`` event to the next (the commit times the server
  stored with the events, read from the database: the API rounds them to milliseconds);
* split into its *tool leg* (``tool_call`` → ``tool_result``: dispatch to the worker, the
  tool, the result's commit) and its *model leg* (``tool_result`` → next ``tool_call``:
  queueing the model call, reading the conversation, the scripted model, the commit);
* both by position: medians per tenth of the run, and a least-squares slope of those
  medians against the number of messages in the conversation at the round's model call;
* rounds with a leg over a second, listed apart (a missed wake-up, not a slow step).

Around each run the database's size, the server's CPU time and the bytes the server passed
to ``write()`` (``/proc/<pid>/io`` ``wchar``: database files and sockets) are read, and on
PostgreSQL the WAL it generated; at the end, the sizes of the execution's rows.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import ours
import workload
from _common import cpu_seconds, percentile
from agents import history_agent

from agentspan.agents import AgentRuntime


def calls_for(messages: int) -> int:
    """Tool calls that make a conversation of about ``messages`` messages (2K + 2)."""
    return max(1, (messages - 2) // 2)


def wchar(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError(f"no wchar for pid {pid}")


class Probe:
    """Read-only views of the store: sizes of the database and of one execution's rows."""

    def __init__(self, st: ours.Stack) -> None:
        self.url = st.server.database_url
        self.sqlite_path = st.tmp / "server" / "agentspan.db"

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        if self.url is None:
            with contextlib.closing(sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True)) as conn:
                row = conn.execute(sql.replace("%s", "?"), params).fetchone()
        else:
            import psycopg

            with psycopg.connect(self.url) as pg:
                row = pg.execute(sql, params).fetchone()
        assert row is not None
        return tuple(row)

    def database_bytes(self) -> int:
        """SQLite: pages in use (WAL included) × page size; PostgreSQL: ``pg_database_size``."""
        if self.url is None:
            pages, size = self._query(
                "SELECT page_count, page_size FROM pragma_page_count(), pragma_page_size()"
            )
            return int(pages) * int(size)
        return int(self._query("SELECT pg_database_size(current_database())")[0])

    def wal_lsn(self) -> int | None:
        """PostgreSQL's WAL position in bytes (cluster-wide), or None on SQLite."""
        if self.url is None:
            return None
        return int(self._query("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")[0])

    def events_of(self, execution_id: str) -> list[tuple[str, str | None, float]]:
        """(type, call id, commit time in s) of the execution's events, in order. The API's
        timestamps are whole milliseconds, too coarse for rounds of a few ms."""
        sql = "SELECT type, payload, ts FROM events WHERE execution_id = %s ORDER BY seq"
        if self.url is None:
            with contextlib.closing(sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True)) as conn:
                rows = conn.execute(sql.replace("%s", "?"), (execution_id,)).fetchall()
        else:
            import psycopg

            with psycopg.connect(self.url) as pg:
                rows = pg.execute(sql, (execution_id,)).fetchall()
        return [(str(kind), json.loads(payload).get("call_id"), float(ts)) for kind, payload, ts in rows]

    def rows_of(self, execution_id: str) -> dict[str, int]:
        """Message count and the bytes of the execution's messages, events and state."""
        count, body = self._query(
            "SELECT count(*), coalesce(sum(length(body)), 0) FROM messages WHERE execution_id = %s",
            (execution_id,),
        )
        events = self._query(
            "SELECT coalesce(sum(length(payload)), 0) FROM events WHERE execution_id = %s", (execution_id,)
        )[0]
        state = self._query("SELECT length(state) FROM executions WHERE id = %s", (execution_id,))[0]
        return {
            "messages": int(count),
            "message_bytes": int(body),
            "event_bytes": int(events),
            "state_bytes": int(state),
        }


def rounds(events: list[tuple[str, str | None, float]]) -> list[tuple[float, float]]:
    """(tool leg, model leg) of every round but the last, in ms, from the event log's
    (type, call id, commit time) rows."""
    calls = [(call_id, ts) for kind, call_id, ts in events if kind == "tool_call"]
    results = {call_id: ts for kind, call_id, ts in events if kind == "tool_result"}
    out = []
    for (call_id, called), (_, next_called) in zip(calls, calls[1:], strict=False):
        result = results.get(call_id)
        if result is None:
            raise AssertionError(f"tool call {call_id} has no result")
        out.append(((result - called) * 1000, (next_called - result) * 1000))
    return out


MIN_SLOPE_SPAN = 50  # messages: over a shorter stretch of conversation a slope is only noise
STALL_MS = 1000.0  # a leg this long is not a slow step but a missed wake-up or a retry


def fit(xs: list[float], ys: list[float]) -> tuple[float, float] | None:
    """Least-squares line through (xs, ys): (intercept, slope); None when the xs span fewer
    than ``MIN_SLOPE_SPAN`` messages."""
    if len(xs) < 3 or max(xs) - min(xs) < MIN_SLOPE_SPAN:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def growth(tenths: list[dict[str, float]]) -> dict[str, Any]:
    """Slopes (µs per message) of the round and of each leg, fitted to the medians per
    tenth (robust to a stalled round), and the fitted round time at the first and last tenth."""
    xs = [t["messages"] for t in tenths]
    out: dict[str, Any] = {}
    for name, key in (("round", "round_ms"), ("tool_leg", "tool_ms"), ("model_leg", "model_ms")):
        line = fit(xs, [t[key] for t in tenths])
        out[name] = line[1] * 1000 if line else None
        if name == "round":
            out["fitted_round_ms"] = [line[0] + line[1] * x for x in (xs[0], xs[-1])] if line else None
    return out


def by_tenth(runs: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Rounds grouped by their tenth of the run they belong to (runs of the same length
    pooled): medians of the tool leg, the model leg and the whole round, and the median
    number of messages in the conversation when the round's model call was made."""
    bins: list[list[tuple[float, float, float]]] = [[] for _ in range(10)]
    for run in runs:
        n = len(run["legs"])
        for i, (tool, model) in enumerate(run["legs"]):
            bins[min(9, 10 * i // n)].append((message_position(i), tool, model))
    return [
        {
            "messages": statistics.median(b[0] for b in group),
            "tool_ms": statistics.median(b[1] for b in group),
            "model_ms": statistics.median(b[2] for b in group),
            "round_ms": statistics.median(b[1] + b[2] for b in group),
            "n": len(group),
        }
        for group in bins
        if group
    ]


def message_position(i: int) -> float:
    """Messages in the conversation when round ``i`` (0-based) makes its model call: the
    prompt, and an assistant message and a tool result for each round so far."""
    return 2.0 * i + 3


def _one_run(st: ours.Stack, runtime: AgentRuntime, probe: Probe, calls: int) -> dict[str, Any]:
    agent = history_agent(calls)
    pid = st.server.pid
    db0, wal0, cpu0, w0 = probe.database_bytes(), probe.wal_lsn(), cpu_seconds(pid), wchar(pid)
    started = time.perf_counter()
    result = runtime.run(agent, workload.PROMPT, timeout=600)
    wall = time.perf_counter() - started
    cpu1, w1, wal1 = cpu_seconds(pid), wchar(pid), probe.wal_lsn()
    if result.status != "COMPLETED" or result.output != workload.FINAL_ANSWER:
        raise AssertionError(f"run ended {result.status}: {result.output!r} {result.error!r}")
    if len(result.tool_calls) != calls:
        raise AssertionError(f"expected {calls} tool calls, got {len(result.tool_calls)}")
    rows = probe.rows_of(result.execution_id)
    steps = 2 * calls + 1  # K + 1 model calls, K tool calls
    return {
        "legs": rounds(probe.events_of(result.execution_id)),
        "wall_s": wall,
        "steps": steps,
        "rows": rows,
        "db_bytes": probe.database_bytes() - db0,
        "wal_bytes": (wal1 - wal0) if wal0 is not None and wal1 is not None else None,
        "server_cpu_ms": (cpu1 - cpu0) * 1000,
        "server_write_bytes": w1 - w0,
    }


def _summarise(runs: list[dict[str, Any]], calls: int) -> dict[str, Any]:
    steps = sum(r["steps"] for r in runs)
    messages = sum(r["rows"]["messages"] for r in runs)
    legs = [(message_position(i), *leg) for r in runs for i, leg in enumerate(r["legs"])]
    total = [tool + model for _, tool, model in legs]
    stalls = [
        {"messages": at, "tool_ms": tool, "model_ms": model}
        for at, tool, model in legs
        if tool > STALL_MS or model > STALL_MS
    ]
    tenths = by_tenth(runs)
    wal = [r["wal_bytes"] for r in runs if r["wal_bytes"] is not None]
    return {
        "calls": calls,
        "runs": len(runs),
        "messages": runs[0]["rows"]["messages"],
        "rounds": len(total),
        "round_ms": {"median": statistics.median(total), "p99": percentile(total, 99), "max": max(total)},
        "by_tenth": tenths,
        "slope_us_per_message": growth(tenths),
        "stalled_rounds": len(stalls),
        "stalls": stalls[:20],
        "wall_ms_per_step": sum(r["wall_s"] for r in runs) * 1000 / steps,
        "server_cpu_ms_per_step": sum(r["server_cpu_ms"] for r in runs) / steps,
        "server_write_bytes_per_step": sum(r["server_write_bytes"] for r in runs) / steps,
        "wal_bytes_per_step": sum(wal) / steps if len(wal) == len(runs) else None,
        "db_bytes_per_message": sum(r["db_bytes"] for r in runs) / messages,
        "message_bytes_per_message": sum(r["rows"]["message_bytes"] for r in runs) / messages,
        "event_bytes_per_message": sum(r["rows"]["event_bytes"] for r in runs) / messages,
        "state_bytes": max(r["rows"]["state_bytes"] for r in runs),
    }


def history(backend: str, lengths: list[int], min_rounds: int) -> dict[str, Any]:
    """For each conversation length, enough runs for ``min_rounds`` rounds (at least two)."""
    out: dict[int, Any] = {}
    with ours.stack(backend) as st:
        probe = Probe(st)
        runtime = st.runtime()
        try:
            _one_run(st, runtime, probe, 5)  # warm-up: the worker's first poll, the server's caches
            for length in lengths:
                calls = calls_for(length)
                n = max(2, math.ceil(min_rounds / calls))
                try:
                    row = _summarise([_one_run(st, runtime, probe, calls) for _ in range(n)], calls)
                except (AssertionError, TimeoutError, OSError) as exc:
                    out[length] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                    print(f"    {length} messages: failed: {out[length]['error']}", flush=True)
                    continue
                out[length] = row
                first, last = row["by_tenth"][0]["round_ms"], row["by_tenth"][-1]["round_ms"]
                print(
                    f"    {row['messages']} messages: round {first:.2f} → {last:.2f} ms, "
                    f"{row['db_bytes_per_message']:.0f} B/message",
                    flush=True,
                )
        finally:
            runtime.shutdown()
    if all("error" in v for v in out.values()):
        return {"error": next(iter(out.values()))["error"]}
    return {"lengths": out}
