"""The baselines, each measured in its own subprocess of the bench venv.

    python bench/baselines.py overhead   SYSTEM STORE [--warmup W --reps R --turns T]
    python bench/baselines.py throughput SYSTEM STORE --concurrency C [--seconds S --reps R]
    python bench/baselines.py waiting    SYSTEM STORE --counts 0,1000,10000

SYSTEM is ``inprocess`` (the plain loop, no durability; STORE is ``none``), ``langgraph``
(StateGraph, model and tool as nodes, ``SqliteSaver``/``PostgresSaver``, ``durability="sync"``)
or ``dbos`` (a ``@DBOS.workflow`` whose model and tool calls are ``@DBOS.step``s, on a
SQLite or PostgreSQL system database). Each run prints one ``BENCH-RESULT {json}`` line.
A subprocess per measurement keeps DBOS's process-wide singleton and every library's
caches from leaking into the next measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import operator
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict, cast

import workload
from _common import Summary, Window, cpu_seconds, emit, rss_mb, scratch_database, throughput_result
from workload import Message, scripted_model, tool_message

TOOLS: dict[str, Callable[..., str]] = {"echo": workload.echo}
Turn = Callable[[], list[Message]]


# --- the plain in-process loop (no durability) ----------------------------------------------


def inprocess_turn() -> list[Message]:
    messages: list[Message] = [{"role": "user", "content": workload.PROMPT}]
    while True:
        reply = scripted_model(messages)
        messages.append(reply)
        calls = reply.get("tool_calls") or []
        if not calls:
            return messages
        for call in calls:
            messages.append(tool_message(call, TOOLS[call["name"]](**call["arguments"])))


@contextlib.contextmanager
def inprocess_system(store: str, tmp: Path) -> Iterator[tuple[Turn, str]]:
    if store != "none":
        raise SystemExit("the in-process loop has no store; use STORE=none")
    yield inprocess_turn, "no durability: nothing is written anywhere"


# --- LangGraph --------------------------------------------------------------------------------


class GraphState(TypedDict):
    messages: Annotated[list[Message], operator.add]


def _build_graph(checkpointer: Any, interrupt_before_tools: bool = False) -> Any:
    from langgraph.graph import END, START, StateGraph

    def model_node(state: GraphState) -> dict[str, list[Message]]:
        return {"messages": [scripted_model(state["messages"])]}

    def tool_node(state: GraphState) -> dict[str, list[Message]]:
        calls = state["messages"][-1].get("tool_calls") or []
        return {"messages": [tool_message(c, TOOLS[c["name"]](**c["arguments"])) for c in calls]}

    def route(state: GraphState) -> str:
        return "tools" if state["messages"][-1].get("tool_calls") else END

    graph = StateGraph(GraphState)
    graph.add_node("model", model_node)
    graph.add_node("tools", tool_node)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", route, ["tools", END])
    graph.add_edge("tools", "model")
    return graph.compile(
        checkpointer=checkpointer, interrupt_before=["tools"] if interrupt_before_tools else None
    )


@contextlib.contextmanager
def _langgraph_saver(store: str, tmp: Path) -> Iterator[tuple[Any, str]]:
    if store == "sqlite":
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        # The documented way to share one saver between threads (it serialises on a lock).
        conn = sqlite3.connect(tmp / "langgraph.db", check_same_thread=False)
        try:
            sqlite_saver = SqliteSaver(conn)
            sqlite_saver.setup()
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            sync = conn.execute("PRAGMA synchronous").fetchone()[0]
            yield (
                sqlite_saver,
                f"SqliteSaver, journal_mode={mode}, synchronous={sync} (sqlite3 default), durability='sync'",
            )
        finally:
            conn.close()
    elif store == "postgres":
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        with scratch_database("langgraph") as url:
            kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
            with ConnectionPool(url, min_size=1, max_size=16, kwargs=kwargs) as pool:
                # The pool's rows are dicts (row_factory above); its type parameter cannot say so.
                pg_saver = PostgresSaver(cast(Any, pool))
                pg_saver.setup()
                yield pg_saver, "PostgresSaver on a psycopg pool (16 connections), durability='sync'"
    else:
        raise SystemExit(f"unknown LangGraph store {store!r}")


@contextlib.contextmanager
def langgraph_system(store: str, tmp: Path) -> Iterator[tuple[Turn, str]]:
    with _langgraph_saver(store, tmp) as (saver, note):
        app = _build_graph(saver)

        def turn() -> list[Message]:
            config = {"configurable": {"thread_id": uuid.uuid4().hex}}
            out = app.invoke(
                {"messages": [{"role": "user", "content": workload.PROMPT}]}, config, durability="sync"
            )
            return list(out["messages"])

        yield turn, note


# --- DBOS -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _dbos_launched(store: str, tmp: Path) -> Iterator[tuple[Any, str]]:
    from dbos import DBOS

    with contextlib.ExitStack() as stack:
        if store == "sqlite":
            url = f"sqlite:///{tmp / 'dbos.sqlite'}"
            note = "SQLite system database (DBOS defaults)"
        elif store == "postgres":
            url = stack.enter_context(scratch_database("dbos"))
            note = "PostgreSQL system database (DBOS defaults)"
        else:
            raise SystemExit(f"unknown DBOS store {store!r}")
        DBOS(config={"name": "bench", "system_database_url": url, "log_level": "WARNING"})
        DBOS.launch()
        try:
            yield DBOS, note
        finally:
            DBOS.destroy(destroy_registry=True)


def _dbos_workflows() -> Callable[[], list[Message]]:
    """Register the turn workflow (before launch)."""
    from dbos import DBOS

    @DBOS.step()
    def model_step(messages: list[Message]) -> Message:
        return scripted_model(messages)

    @DBOS.step()
    def tool_step(name: str, arguments: dict[str, Any]) -> str:
        return TOOLS[name](**arguments)

    @DBOS.workflow()
    def turn_workflow() -> list[Message]:
        messages: list[Message] = [{"role": "user", "content": workload.PROMPT}]
        while True:
            reply = model_step(messages)
            messages.append(reply)
            calls = reply.get("tool_calls") or []
            if not calls:
                return messages
            for call in calls:
                messages.append(tool_message(call, tool_step(call["name"], call["arguments"])))

    return turn_workflow


@contextlib.contextmanager
def dbos_system(store: str, tmp: Path) -> Iterator[tuple[Turn, str]]:
    turn_workflow = _dbos_workflows()
    with _dbos_launched(store, tmp) as (_, note):
        yield turn_workflow, note + "; each model and tool call a @DBOS.step"


SYSTEMS = {"inprocess": inprocess_system, "langgraph": langgraph_system, "dbos": dbos_system}


# --- measurements -----------------------------------------------------------------------------


def measure_overhead(turn: Turn, warmup: int, reps: int, turns: int) -> dict[str, Any]:
    for _ in range(warmup):
        workload.check_answer(turn())
    samples: list[list[float]] = []
    for _ in range(reps):
        rep = []
        for _ in range(turns):
            started = time.perf_counter()
            messages = turn()
            rep.append((time.perf_counter() - started) * 1000)
            workload.check_answer(messages)
        samples.append(rep)
    return {"turn_ms": Summary.of(samples).as_dict()}


def measure_throughput(turn: Turn, concurrency: int, seconds: float, reps: int) -> dict[str, Any]:
    """``concurrency`` threads each run turns back to back; count turns finished per window."""
    lock = threading.Lock()
    finished: list[tuple[float, float]] = []  # (end time, latency)
    errors: list[str] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                workload.check_answer(turn())
            except Exception as exc:  # noqa: BLE001 - counted and reported, never hidden
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            ended = time.perf_counter()
            with lock:
                finished.append((ended, ended - started))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    time.sleep(min(2.0, seconds))  # warm-up: every client busy
    windows: list[Window] = []
    for _ in range(reps):
        start = time.perf_counter()
        time.sleep(seconds)
        end = time.perf_counter()
        with lock:
            done = [lat for (t, lat) in finished if start <= t < end]
        windows.append(Window(len(done) / (end - start), [x * 1000 for x in done]))
    stop.set()
    for t in threads:
        t.join(60)
    return throughput_result(windows, errors)


def _waiting_row(pid: int, target: int, previous: int, elapsed: float, idle_cpu: float) -> dict[str, Any]:
    return {
        "paused": target,
        "rss_mb": rss_mb(pid),
        "idle_cpu_pct": idle_cpu * 100,
        "threads": threading.active_count(),
        "start_rate": (target - previous) / elapsed if target > previous else None,
    }


def langgraph_waiting(store: str, tmp: Path, counts: list[int]) -> dict[str, Any]:
    """RSS and idle CPU of the process that started N graph runs now stopped before their tool."""
    pid = os.getpid()
    with _langgraph_saver(store, tmp) as (saver, note):
        app = _build_graph(saver, interrupt_before_tools=True)

        def pause_one() -> None:
            config = {"configurable": {"thread_id": uuid.uuid4().hex}}
            app.invoke(
                {"messages": [{"role": "user", "content": workload.PROMPT}]}, config, durability="sync"
            )
            if app.get_state(config).next != ("tools",):
                raise AssertionError("the graph did not stop before its tool")

        for _ in range(20):  # warm-up, counted in the baseline
            pause_one()
        rows: list[dict[str, Any]] = []
        paused = 0
        for target in counts:
            previous, started = paused, time.perf_counter()
            for _ in range(target - paused):
                pause_one()
            paused, elapsed = target, time.perf_counter() - started
            time.sleep(3)
            cpu0 = cpu_seconds(pid)
            time.sleep(5)
            rows.append(_waiting_row(pid, target, previous, elapsed, (cpu_seconds(pid) - cpu0) / 5))
    note += "; interrupt_before=['tools']: invoke() returns and the run exists only as a checkpoint"
    return {"rows": rows, "note": note}


async def dbos_waiting(store: str, tmp: Path, counts: list[int]) -> dict[str, Any]:
    """RSS and idle CPU of a DBOS process with N async workflows awaiting ``recv_async``.

    (A sync workflow blocked in ``DBOS.recv()`` holds an executor thread each; 1,000 of
    them did not finish starting within 10 minutes here, so the async form is measured.)
    """
    from dbos import DBOS

    pid = os.getpid()

    @DBOS.step()
    async def model_step(messages: list[Message]) -> Message:
        return scripted_model(messages)

    @DBOS.workflow()
    async def approval_workflow() -> str:
        await model_step([{"role": "user", "content": workload.PROMPT}])
        return str(await DBOS.recv_async("approval", timeout_seconds=24 * 3600))

    with _dbos_launched(store, tmp) as (_, note):
        handles = [await DBOS.start_workflow_async(approval_workflow) for _ in range(20)]
        rows: list[dict[str, Any]] = []
        for target in counts:
            previous, started = len(handles) - 20, time.perf_counter()
            while len(handles) - 20 < target:
                handles.append(await DBOS.start_workflow_async(approval_workflow))
            elapsed = time.perf_counter() - started
            await asyncio.sleep(3)
            sample = handles[-200:]
            statuses = [(await h.get_status()).status for h in sample]
            if statuses.count("PENDING") != len(sample):
                raise AssertionError(
                    f"only {statuses.count('PENDING')} of {len(sample)} sampled workflows wait"
                )
            cpu0 = cpu_seconds(pid)
            await asyncio.sleep(5)
            rows.append(_waiting_row(pid, target, previous, elapsed, (cpu_seconds(pid) - cpu0) / 5))
        result = {"rows": rows, "note": note + "; async workflows awaiting DBOS.recv_async()"}
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["overhead", "throughput", "waiting"])
    parser.add_argument("system", choices=sorted(SYSTEMS))
    parser.add_argument("store", choices=["none", "sqlite", "postgres"])
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--counts", default="0,1000,10000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as raw_tmp:
        tmp = Path(raw_tmp)
        if args.what == "waiting":
            counts = [int(c) for c in args.counts.split(",")]
            if args.system == "langgraph":
                emit(langgraph_waiting(args.store, tmp, counts))
            elif args.system == "dbos":
                emit(asyncio.run(dbos_waiting(args.store, tmp, counts)))
            else:
                raise SystemExit("the in-process loop cannot wait durably")
            return
        with SYSTEMS[args.system](args.store, tmp) as (turn, note):
            if args.what == "overhead":
                result = measure_overhead(turn, args.warmup, args.reps, args.turns)
            else:
                result = measure_throughput(turn, args.concurrency, args.seconds, args.reps)
            result["note"] = note
            emit(result)


if __name__ == "__main__":
    main()
