"""Agentspan's side of every figure: a real server process, worker processes, this process as client.

Each function starts its own server (SQLite in a fresh data directory, or a fresh
PostgreSQL database), measures, checks what it measured, and tears everything down.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import profiles
import workload
from _common import (
    BENCH,
    Server,
    Summary,
    Window,
    Worker,
    cpu_seconds,
    rss_mb,
    scratch_database,
    throughput_result,
)
from agents import approval_agent, slow_agent, turn_agent

from agentspan.agents import Agent, AgentConfig, AgentRuntime
from agentspan.agents._serialize import serialize_agent

# Leases used by the recovery figure (defaults: 10 s for workers, 30 s for model calls).
RECOVERY_LEASE_SECONDS = 2.0


@dataclass
class Stack:
    """One server and its workers, on one store."""

    server: Server
    workers: list[Worker] = field(default_factory=list)
    tmp: Path = Path()

    def add_worker(self, env: dict[str, str] | None = None) -> Worker:
        n = len(self.workers)
        worker = Worker(self.server.api_url, self.tmp / f"worker-{n}.log", env).start()
        self.workers.append(worker)
        worker.wait_ready()
        return worker

    def runtime(self) -> AgentRuntime:
        config = AgentConfig(
            server_url=self.server.api_url, auto_start_server=False, auto_start_workers=False
        )
        config.log_level = "WARNING"
        return AgentRuntime(config=config)


@contextlib.contextmanager
def stack(backend: str, *, workers: int = 1, env: dict[str, str] | None = None) -> Iterator[Stack]:
    with contextlib.ExitStack() as exits:
        tmp = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-{backend}-")))
        url = exits.enter_context(scratch_database("agentspan")) if backend == "postgres" else None
        server = Server(tmp / "server", database_url=url, env=env).start()
        st = Stack(server, tmp=tmp)
        try:
            for _ in range(workers):
                st.add_worker(env)
            yield st
        finally:
            for worker in st.workers:
                worker.stop()
            server.stop()


def _check_turn(result: Any) -> None:
    if result.status != "COMPLETED" or result.output != workload.FINAL_ANSWER:
        raise AssertionError(f"turn ended {result.status}: {result.output!r} {result.error!r}")
    calls = result.tool_calls
    if len(calls) != 1 or calls[0].get("result") != workload.TOOL_ARGUMENT:
        raise AssertionError(f"expected one echo result, got {calls!r}")


# --- figure 1: orchestration overhead per durable turn ----------------------------------------


def overhead(
    backend: str, warmup: int, reps: int, turns: int, *, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """``runtime.run()`` of the one-tool agent, back to back; CPU time of each process per turn."""
    with stack(backend, env=env) as st:
        agent = turn_agent()
        runtime = st.runtime()
        try:
            for _ in range(warmup):
                _check_turn(runtime.run(agent, workload.PROMPT))
            procs = {"server": st.server.pid, "worker": st.workers[0].pid}
            cpu0 = {name: cpu_seconds(pid) for name, pid in procs.items()}
            client0 = time.process_time()
            samples: list[list[float]] = []
            wall0 = time.perf_counter()
            for _ in range(reps):
                rep = []
                for _ in range(turns):
                    started = time.perf_counter()
                    result = runtime.run(agent, workload.PROMPT)
                    rep.append((time.perf_counter() - started) * 1000)
                    _check_turn(result)
                samples.append(rep)
            wall = time.perf_counter() - wall0
            n = reps * turns
            cpu = {name: (cpu_seconds(pid) - cpu0[name]) * 1000 / n for name, pid in procs.items()}
            cpu["client"] = (time.process_time() - client0) * 1000 / n
        finally:
            runtime.shutdown()
    return {
        "turn_ms": Summary.of(samples).as_dict(),
        "cpu_ms_per_turn": cpu,
        "wall_ms_per_turn": wall * 1000 / n,
    }


def profile(backend: str, turns: int, out_dir: Path) -> dict[str, Any]:
    """py-spy on the server and the worker while ``turns`` turns run: flame graphs (SVG) in
    ``out_dir``, and the raw stacks folded by ``profiles.summarise``."""
    py_spy = BENCH / ".venv" / "bin" / "py-spy"
    if not py_spy.exists():
        return {"error": "py-spy is not installed in bench/.venv"}
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as raw:
        raw_dir = Path(raw)
        result = _profile(backend, turns, out_dir, raw_dir, py_spy)
        if "error" not in result:
            result["stacks"] = {
                name: profiles.summarise(raw_dir / f"{name}.txt") for name in ("server", "worker")
            }
    return result


def _profile(backend: str, turns: int, out_dir: Path, raw_dir: Path, py_spy: Path) -> dict[str, Any]:
    with stack(backend) as st:
        agent = turn_agent()
        runtime = st.runtime()
        spies = []
        try:
            for _ in range(30):
                _check_turn(runtime.run(agent, workload.PROMPT))
            targets = {"server": st.server.pid, "worker": st.workers[0].pid}
            for name, pid in targets.items():
                for fmt, path in (
                    ("raw", raw_dir / f"{name}.txt"),
                    ("flamegraph", out_dir / f"profile-{name}.svg"),
                ):
                    cmd = [
                        str(py_spy),
                        "record",
                        "--pid",
                        str(pid),
                        "--rate",
                        "500",
                        "-f",
                        fmt,
                        "-o",
                        str(path),
                    ]
                    spies.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            time.sleep(1.0)  # let py-spy attach
            cpu0 = {name: cpu_seconds(pid) for name, pid in targets.items()}
            for _ in range(turns):
                _check_turn(runtime.run(agent, workload.PROMPT))
            cpu = {name: (cpu_seconds(pid) - cpu0[name]) * 1000 / turns for name, pid in targets.items()}
        finally:
            for spy in spies:
                spy.send_signal(signal.SIGINT)
            errors = []
            for spy in spies:
                try:
                    _, err = spy.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    spy.kill()
                    err = b"timed out"
                if spy.returncode not in (0, -signal.SIGINT):
                    errors.append(err.decode(errors="replace")[-300:])
            runtime.shutdown()
    if errors:
        return {"error": "; ".join(errors)}
    return {
        "turns": turns,
        "cpu_ms_per_turn": cpu,
        "files": sorted(p.name for p in out_dir.glob("profile-*")),
    }


# --- figure 2: throughput ---------------------------------------------------------------------


async def _throughput(st: Stack, concurrency: int, seconds: float, reps: int) -> dict[str, Any]:
    """``C`` coroutines each call ``runtime.run_async`` back to back: the SDK's own path (one
    start request that waits for the result), as a user's program would."""
    finished: list[tuple[float, float]] = []
    errors: list[str] = []
    stop = asyncio.Event()
    warmed = asyncio.Event()
    agent = turn_agent()
    runtime = st.runtime()

    async def one() -> None:
        result = await runtime.run_async(agent, workload.PROMPT)
        _check_turn(result)

    async def loop() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                await one()
            except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                await asyncio.sleep(0.1)
                continue
            ended = time.perf_counter()
            finished.append((ended, ended - started))
            if len(finished) >= min(concurrency, 200):
                warmed.set()

    try:
        await one()  # alone first: see _start_many
        tasks = [asyncio.create_task(loop()) for _ in range(concurrency)]
        # Warm-up: at least 2 s and min(C, 200) finished executions, so the windows see a
        # steady state rather than the ramp.
        await asyncio.sleep(2.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(warmed.wait(), 60)
        windows: list[Window] = []
        for _ in range(reps):
            start = time.perf_counter()
            await asyncio.sleep(seconds)
            end = time.perf_counter()
            done = [lat * 1000 for (t, lat) in finished if start <= t < end]
            windows.append(Window(len(done) / (end - start), done))
        stop.set()
        # Executions still in flight are abandoned: each cell gets a fresh server.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await runtime.shutdown_async()
    return throughput_result(windows, errors)


def throughput(
    backend: str, workers: int, concurrencies: list[int], seconds: float, reps: int
) -> dict[int, Any]:
    """Closed loop: ``C`` clients each run one turn after another with ``run_async``."""
    results: dict[int, Any] = {}
    for concurrency in concurrencies:
        with stack(backend, workers=workers) as st:  # a fresh server and database per cell
            results[concurrency] = asyncio.run(_throughput(st, concurrency, seconds, reps))
    return results


# --- figure 3: cost of waiting ----------------------------------------------------------------


async def _start_many(api_url: str, agent: Agent, n: int, offset: int) -> list[str]:
    body = {"agentConfig": serialize_agent(agent).wire()}
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> str:
            async with sem:
                response = await client.post("/agent/start", json={**body, "prompt": f"job {offset + i}"})
                response.raise_for_status()
                return str(response.json()["executionId"])

        if n == 0:
            return []
        # The first start alone: concurrent first starts of a new agent spec fail on
        # PostgreSQL (see docs/benchmarks.md, "Bugs found").
        first = await one(0)
        return [first, *await asyncio.gather(*(one(i) for i in range(1, n)))]


async def _count_waiting(api_url: str, ids: list[str]) -> int:
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:
        sem = asyncio.Semaphore(32)

        async def one(execution_id: str) -> bool:
            async with sem:
                response = await client.get(f"/agent/{execution_id}/status")
                return bool(response.json()["isWaiting"])

        return sum(await asyncio.gather(*(one(i) for i in ids)))


def waiting(
    backend: str, counts: list[int], idle_seconds: float = 5.0, settle_timeout: float = 300.0
) -> dict[str, Any]:
    """Server RSS and idle CPU with N executions paused for approval (cumulative levels).

    After each batch of starts the server still has their first model calls queued; the
    level is measured once a sample (the 200 newest plus 100 at random) all report
    ``isWaiting``, and the time that took is recorded as ``settle_s``.
    """
    agent = approval_agent()
    rows = []
    pick = random.Random(6)
    with stack(backend, workers=0) as st:
        pid = st.server.pid
        all_ids = asyncio.run(_start_many(st.server.api_url, agent, 50, -50))  # warm-up, in the baseline
        paused = 0
        for target in counts:
            started = time.perf_counter()
            ids = asyncio.run(_start_many(st.server.api_url, agent, target - paused, paused))
            elapsed = time.perf_counter() - started
            all_ids += ids
            paused = target
            sample = all_ids[-200:] + pick.sample(all_ids[:-200], min(100, max(0, len(all_ids) - 200)))
            settled = time.perf_counter()
            while (waiting_now := asyncio.run(_count_waiting(st.server.api_url, sample))) < len(sample):
                if time.perf_counter() - settled > settle_timeout:
                    raise AssertionError(
                        f"only {waiting_now} of {len(sample)} sampled executions wait after {settle_timeout:.0f}s"
                    )
                time.sleep(1.0)
            settle_s = time.perf_counter() - settled
            time.sleep(5)
            cpu0 = cpu_seconds(pid)
            time.sleep(idle_seconds)
            idle = (cpu_seconds(pid) - cpu0) / idle_seconds
            rows.append(
                {
                    "paused": target,
                    "rss_mb": rss_mb(pid),
                    "idle_cpu_pct": idle * 100,
                    "start_rate": (len(ids) / elapsed) if ids else None,
                    "settle_s": settle_s,
                    "db_mb": _database_mb(st),
                    "sampled_waiting": f"{waiting_now}/{len(sample)}",
                }
            )
    return {"rows": rows}


def _database_mb(st: Stack) -> float:
    """The store's size on disk: the SQLite files, or PostgreSQL's ``pg_database_size``."""
    url = st.server.database_url
    if url is None:
        return sum(p.stat().st_size for p in (st.tmp / "server").glob("agentspan.db*")) / 2**20
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    assert row is not None
    return int(row[0]) / 2**20


# --- figure 4: recovery -----------------------------------------------------------------------


@dataclass
class LedgerLine:
    kind: str
    key: str
    attempt: int
    pid: int
    t: float


def _ledger(path: Path) -> list[LedgerLine]:
    if not path.exists():
        return []
    lines = []
    for raw in path.read_text().splitlines():
        kind, key, attempt, pid, t = raw.split()
        lines.append(LedgerLine(kind, key, int(attempt), int(pid), float(t)))
    return lines


def _starts(path: Path) -> list[LedgerLine]:
    return [line for line in _ledger(path) if line.kind == "start"]


def _in_flight_on(path: Path, pid: int) -> set[str]:
    """Keys whose tool body started in ``pid`` and has not ended there."""
    lines = [line for line in _ledger(path) if line.pid == pid]
    return {line.key for line in lines if line.kind == "start"} - {
        line.key for line in lines if line.kind == "end"
    }


def _duplicates(lines: list[LedgerLine]) -> set[str]:
    seen: dict[str, int] = {}
    for line in lines:
        if line.kind == "start":
            seen[line.key] = seen.get(line.key, 0) + 1
    return {key for key, count in seen.items() if count > 1}


def _wait_all_done(api_url: str, ids: list[str], timeout: float) -> float:
    """Poll until every execution is terminal; returns the wall-clock time it happened."""
    deadline = time.monotonic() + timeout
    pending = set(ids)
    with httpx.Client(base_url=api_url, timeout=10) as client:
        while pending and time.monotonic() < deadline:
            for execution_id in list(pending):
                with contextlib.suppress(httpx.HTTPError):
                    status = client.get(f"/agent/{execution_id}/status").json()
                    if status.get("isComplete"):
                        if status.get("status") != "COMPLETED":
                            raise AssertionError(f"{execution_id} ended {status.get('status')}")
                        pending.discard(execution_id)
            if pending:
                time.sleep(0.1)
    if pending:
        raise TimeoutError(f"{len(pending)} executions still running after {timeout}s")
    return time.time()


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.01)


def recover_worker_kill(backend: str, n: int, tool_seconds: float, threads: int) -> dict[str, Any]:
    """SIGKILL one of two workers while every slot runs a call; time until its calls run on the other."""
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as raw:
        ledger = Path(raw) / "ledger.txt"
        env = _recovery_env(ledger, tool_seconds, threads)
        with stack(backend, workers=2, env=env) as st:
            victim, survivor = st.workers
            ids = asyncio.run(_start_many(st.server.api_url, slow_agent(), n, 0))
            # Kill once the victim runs half as many calls as it has slots (or as half the
            # executions, if fewer): both workers compete for the same tasks.
            busy = max(1, min(threads, n // 2) // 2)
            _wait_for(lambda: len(_in_flight_on(ledger, victim.pid)) >= busy, 60, "busy victim")
            t_kill = time.time()
            victim.kill()
            t_done = _wait_all_done(st.server.api_url, ids, 300)
        lines = _ledger(ledger)
    on_victim = {line.key for line in lines if line.kind == "start" and line.pid == victim.pid}
    ended_on_victim = {line.key for line in lines if line.kind == "end" and line.pid == victim.pid}
    in_flight = on_victim - ended_on_victim
    reruns = [
        line for line in lines if line.kind == "start" and line.key in on_victim and line.pid == survivor.pid
    ]
    duplicates = _duplicates(lines)
    if not reruns:
        raise AssertionError("no call of the killed worker ran again on the other worker")
    return {
        "executions": n,
        "in_flight_at_kill": len(in_flight),
        "rerun_elsewhere": len(reruns),
        "first_rerun_s": min(r.t for r in reruns) - t_kill,
        "last_rerun_s": max(r.t for r in reruns) - t_kill,
        "all_done_s": t_done - t_kill,
        "ran_twice": len(duplicates),
        "ran_twice_not_in_flight": len(duplicates - in_flight),
        "finished_unreported": len(duplicates & ended_on_victim),
    }


def recover_server_restart(backend: str, n: int, tool_seconds: float, threads: int) -> dict[str, Any]:
    """SIGKILL the server mid-run, start it again at once; time until every execution moves."""
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as raw:
        ledger = Path(raw) / "ledger.txt"
        env = _recovery_env(ledger, tool_seconds, threads)
        with stack(backend, workers=1, env=env) as st:
            ids = asyncio.run(_start_many(st.server.api_url, slow_agent(), n, 0))
            _wait_for(lambda: len(_starts(ledger)) >= min(n, threads), 60, "busy worker")
            t_kill = time.time()
            st.server.kill()
            t_spawn = time.time()
            st.server.start()
            t_healthy = time.time()
            t_done = _wait_all_done(st.server.api_url, ids, 300)
            first_after, resolved_before = _events_around(st.server.api_url, ids, t_kill)
        lines = _ledger(ledger)
    moving = [t - t_spawn for t in first_after.values() if t is not None]
    if not moving:
        raise AssertionError("no execution recorded an event after the restart")
    # In flight at the kill: tool bodies started before it whose result the server had not
    # recorded yet (finished bodies whose report was cut off count: they must run again).
    started_before = {line.key for line in lines if line.kind == "start" and line.t < t_kill}
    in_flight = {key for key in started_before if key not in resolved_before}
    duplicates = _duplicates(lines)
    return {
        "executions": n,
        "unfinished_at_kill": len(moving),
        "restart_to_healthy_s": t_healthy - t_spawn,
        "restart_to_all_moving_s": max(moving),
        "restart_to_median_moving_s": sorted(moving)[len(moving) // 2],
        "restart_to_all_done_s": t_done - t_spawn,
        "in_flight_at_kill": len(in_flight),
        "ran_twice": len(duplicates),
        "ran_twice_not_in_flight": len(duplicates - in_flight),
    }


def _events_around(api_url: str, ids: list[str], t_kill: float) -> tuple[dict[str, float | None], set[str]]:
    """For each execution unfinished at the kill, when it wrote its first event after the
    kill; and the idempotency keys of the tool calls whose result was recorded before it."""
    kill_ms = t_kill * 1000
    first_after: dict[str, float | None] = {}
    resolved: set[str] = set()
    with httpx.Client(base_url=api_url, timeout=30) as client:
        for execution_id in ids:
            events = client.get(f"/agent/executions/{execution_id}/events", params={"limit": 1000}).json()
            for event in events:
                if event["type"] == "tool_result" and event["timestamp"] < kill_ms:
                    resolved.add(f"{execution_id}:{event['callId']}")
            done = [e for e in events if e["type"] == "done"]
            if done and done[0]["timestamp"] < kill_ms:
                continue  # finished before the kill: nothing to recover
            after = [e["timestamp"] for e in events if e["timestamp"] >= kill_ms]
            first_after[execution_id] = min(after) / 1000 if after else None
    return first_after, resolved


def _recovery_env(ledger: Path, tool_seconds: float, threads: int) -> dict[str, str]:
    return {
        "BENCH_LEDGER": str(ledger),
        "BENCH_TOOL_SECONDS": str(tool_seconds),
        "AGENTSPAN_WORKER_THREADS": str(threads),
        "AGENTSPAN_WORKER_LEASE_SECONDS": str(RECOVERY_LEASE_SECONDS),
        "AGENTSPAN_LLM_LEASE_SECONDS": str(RECOVERY_LEASE_SECONDS),
    }
