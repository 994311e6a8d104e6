"""The framework adapters' crash scenario, shared: a worker process is SIGKILLed in the
middle of its second tool call (``ship_order``), a new worker process continues the same
execution, and the test checks what ran where.

Each framework provides an agent (a fetch_order tool, then ship_order, then an answer) and
a worker script that serves it and logs every tool run as ``<tool> <pid> <call id> ...``
to ``$CHAOS_LOG``, sleeping inside ``ship_order`` when ``$CHAOS_SLOW`` is 1.
``kill_worker_mid_run`` is the same kill for any agent and input (a LangGraph graph's
nodes log ``<node> <pid> <superstep>`` and are killed in ``ship``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentspan.agents import AgentConfig, AgentResult, AgentRuntime

from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess

LEASE = {"AGENTSPAN_WORKER_LEASE_SECONDS": "1"}
"""Short leases, so the killed worker's call is taken over within a second."""


@dataclass(frozen=True)
class CrashOutcome:
    result: AgentResult
    runs: list[list[str]]
    """Each logged tool run, split on whitespace: ``[tool, pid, call id, ...]``."""
    first_pid: int
    second_pid: int

    def of(self, tool: str) -> list[list[str]]:
        return [r for r in self.runs if r[0] == tool]


def start_worker(server: ServerProcess, script: Path, log: Path, slow: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AGENTSPAN_SERVER_URL": server.api_url,
        "CHAOS_LOG": str(log),
        "CHAOS_SLOW": "1" if slow else "0",
        "PYTHONPATH": os.pathsep.join([str(script.parent), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen([sys.executable, str(script)], env=env)


def wait_for_text(path: Path, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in {path}")


def kill_worker_mid_ship(
    server: ServerProcess, fake: FakeOpenAI, tmp_path: Path, script: Path, agent: Any
) -> CrashOutcome:
    """Run ``agent`` on "Ship order A7" with the model scripted to fetch, ship and answer;
    kill the first worker while it ships; let a second worker finish."""
    fake.script(
        FakeOpenAI.tool_calls([("fetch_order", {"order_id": "A7"})]),
        FakeOpenAI.tool_calls([("ship_order", {"order_id": "A7"})]),
        FakeOpenAI.text("Order A7 is on its way."),
    )
    return kill_worker_mid_run(server, script, tmp_path / "calls.log", agent, "Ship order A7", "ship_order")


def kill_worker_mid_run(
    server: ServerProcess, script: Path, log: Path, agent: Any, prompt: str, kill_at: str
) -> CrashOutcome:
    """Run ``agent`` on ``prompt`` with a slow worker; SIGKILL it once ``kill_at`` is in
    ``log``; let a second worker finish."""
    config = AgentConfig(server_url=server.api_url, auto_start_server=False, auto_start_workers=False)
    first = start_worker(server, script, log, slow=True)
    second: subprocess.Popen[bytes] | None = None
    try:
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(agent, prompt)
            wait_for_text(log, kill_at)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            second = start_worker(server, script, log, slow=False)
            result = handle.join(timeout=60)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
    runs = [line.split() for line in log.read_text().splitlines()]
    return CrashOutcome(result, runs, first.pid, second.pid if second else -1)


def check_no_step_repeated(outcome: CrashOutcome, fake: FakeOpenAI) -> None:
    """What every adapter must guarantee after the kill."""
    result = outcome.result
    assert result.status == "COMPLETED", result.error
    assert result.output == "Order A7 is on its way."
    fetches, ships = outcome.of("fetch_order"), outcome.of("ship_order")
    assert len(fetches) == 1  # completed before the kill: never run again
    assert len(ships) == 2  # the interrupted call ran once more, in the other process
    assert ships[0][1] == str(outcome.first_pid) and ships[1][1] == str(outcome.second_pid)
    assert ships[0][2] == ships[1][2]  # the same call, not a new one
    # The model was asked exactly three times: no recorded reply was requested again.
    assert fake.request_count == 3
