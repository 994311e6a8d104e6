"""A regression guard for performance: quick versions of figures 1 and 3 of docs/benchmarks.md.

``make bench`` measures properly; this only catches order-of-magnitude regressions inside
``make test`` (a lost wake-up that makes a run wait 30 s, a poll loop that burns a core, a
leak per paused execution). The bounds are generous on purpose — today a run takes a few
ms and 1,000 paused executions add a few MB — so that a busy 2-core machine passes and
a real regression fails.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, tool

from support.servers import ServerProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid> for RSS and CPU"),
]

# Figure 1 (overhead per durable turn): sequential runs of a one-tool agent.
RUNS = 30
WARMUP = 5
MEDIAN_RUN_LIMIT_S = 0.25
ANY_RUN_LIMIT_S = 5.0

# Figure 3 (cost of waiting): executions paused for an approval.
PAUSED = 1000
RSS_GROWTH_LIMIT_MB = 40.0
IDLE_SECONDS = 2.0
IDLE_CPU_LIMIT = 0.20  # of one core
APPROVAL_AGENT: dict[str, Any] = {
    "name": "perf_guard_waiter",
    "model": "offline/basic",
    "tools": [
        {
            "name": "needs_ok",
            "description": "Needs a human.",
            "inputSchema": {"type": "object", "properties": {}},
            "approvalRequired": True,
        }
    ],
}


@tool
def echo(text: str) -> str:
    """Echo the text."""
    return text


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[ServerProcess]:
    """A real ``agentspan server run`` on SQLite in its own data directory."""
    server = ServerProcess(tmp_path / "server").start()
    try:
        yield server
    finally:
        server.stop()


def server_pid(server: ServerProcess) -> int:
    assert server.proc is not None, "server not started"
    return server.proc.pid


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_sequential_runs_stay_fast(server_process: ServerProcess) -> None:
    """Figure 1, quick: one-tool runs back to back, the tool served by this process."""
    config = AgentConfig(server_url=server_process.api_url, auto_start_server=False)
    agent = Agent(name="perf_guard", model="offline/basic", tools=[echo])
    times: list[float] = []
    with AgentRuntime(config=config) as runtime:
        for _ in range(WARMUP):
            assert runtime.run(agent, "warm up", timeout=30).status == "COMPLETED"
        for _ in range(RUNS):
            started = time.perf_counter()
            result = runtime.run(agent, "say hi", timeout=30)
            times.append(time.perf_counter() - started)
            assert result.status == "COMPLETED", result.error
            assert len(result.tool_calls) == 1
    shown = ", ".join(f"{t * 1000:.0f}" for t in sorted(times))
    assert statistics.median(times) < MEDIAN_RUN_LIMIT_S, f"median run too slow; runs in ms: {shown}"
    assert max(times) < ANY_RUN_LIMIT_S, f"a run stalled; runs in ms: {shown}"


async def start_many(api_url: str, n: int, offset: int) -> list[str]:
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:
        sem = asyncio.Semaphore(32)

        async def one(i: int) -> str:
            async with sem:
                body = {"agentConfig": APPROVAL_AGENT, "prompt": f"job {offset + i}"}
                response = await client.post("/agent/start", json=body)
                response.raise_for_status()
                return str(response.json()["executionId"])

        first = await one(0)  # alone: the spec is stored once before the concurrent starts
        return [first, *await asyncio.gather(*(one(i) for i in range(1, n)))]


async def count_waiting(api_url: str, ids: list[str]) -> int:
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:
        sem = asyncio.Semaphore(32)

        async def one(execution_id: str) -> bool:
            async with sem:
                response = await client.get(f"/agent/{execution_id}/status")
                response.raise_for_status()
                return bool(response.json()["isWaiting"])

        return sum(await asyncio.gather(*(one(i) for i in ids)))


def wait_all_waiting(api_url: str, ids: list[str], timeout: float = 15.0) -> None:
    """Until every execution in ``ids`` waits for its approval (their first model calls
    may still be queued when the starts return)."""
    deadline = time.monotonic() + timeout
    while (waiting := asyncio.run(count_waiting(api_url, ids))) < len(ids):
        assert time.monotonic() < deadline, f"only {waiting} of {len(ids)} executions wait after {timeout}s"
        time.sleep(0.2)


def test_paused_executions_cost_little(server_process: ServerProcess) -> None:
    """Figure 3, quick: server memory growth and idle CPU with 1,000 paused executions."""
    api, pid = server_process.api_url, server_pid(server_process)
    warm = asyncio.run(start_many(api, 50, -50))  # first requests, caches, the spec
    wait_all_waiting(api, warm)
    time.sleep(0.5)
    before = rss_mb(pid)
    ids = asyncio.run(start_many(api, PAUSED, 0))
    sample = ids[-200:] + random.Random(3).sample(ids[:-200], 100)
    wait_all_waiting(api, sample)
    time.sleep(0.5)
    growth = rss_mb(pid) - before
    cpu0 = cpu_seconds(pid)
    time.sleep(IDLE_SECONDS)
    idle = (cpu_seconds(pid) - cpu0) / IDLE_SECONDS
    assert growth < RSS_GROWTH_LIMIT_MB, f"server RSS grew {growth:.1f} MB with {PAUSED} paused executions"
    assert idle < IDLE_CPU_LIMIT, f"server used {idle:.0%} of a core while {PAUSED} executions wait"
