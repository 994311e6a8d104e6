"""``stateful=True``: a stateful agent's tool calls go only to the process that started its
execution (the reference's per-execution worker domain), never to another worker polling
the same tool name; when that process is gone the execution says so, and
``resume(execution_id, agent)`` from another process takes over. Real server and worker
processes over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, ToolContext, tool
from agentspan.agents.testing import ScriptedModel, ToolCall

from support.servers import ServerProcess

pytestmark = pytest.mark.e2e

CALLS = 6
_seen: dict[str, int] = {}  # per execution, in this process: the state a stateful tool keeps


@tool
def tally(context: ToolContext) -> dict[str, Any]:
    """Counts this execution's calls in the serving process."""
    _seen[context.execution_id] = _seen.get(context.execution_id, 0) + 1
    return {"pid": os.getpid(), "seen": _seen[context.execution_id]}


def stateful_agent() -> Agent:
    turns: list[Any] = [ToolCall("tally", {}) for _ in range(CALLS)]
    return Agent(name="counter", model=ScriptedModel([*turns, "counted"]), tools=[tally], stateful=True)


def shared_agent() -> Agent:
    """The same tool in an agent that is not stateful: its calls use the shared queue."""
    return Agent(
        name="shared_counter", model=ScriptedModel([ToolCall("tally", {}), "counted"]), tools=[tally]
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"AGENTSPAN_NO_WORKER_TIMEOUT": "1"}
    proc = ServerProcess(tmp_path / "data", env=env).start()
    try:
        yield proc
    finally:
        proc.stop()


def python_env(server: ServerProcess) -> dict[str, str]:
    here = Path(__file__).parent
    return {
        **os.environ,
        "AGENTSPAN_SERVER_URL": server.api_url,
        "PYTHONPATH": os.pathsep.join([str(here), str(here.parent)]),
    }


@pytest.fixture
def other_worker(server: ServerProcess) -> Iterator[subprocess.Popen[bytes]]:
    """Another process serving ``tally`` from the shared queue (``serve``)."""
    code = (
        "from test_stateful import shared_agent\n"
        "from agentspan.agents import AgentRuntime\n"
        "AgentRuntime().serve(shared_agent())"
    )
    worker = subprocess.Popen([sys.executable, "-c", code], env=python_env(server))
    try:
        yield worker
    finally:
        worker.terminate()
        worker.wait(20)


def config(server: ServerProcess, *, workers: bool = True) -> AgentConfig:
    return AgentConfig(server_url=server.api_url, auto_start_server=False, auto_start_workers=workers)


def served_by(result: Any) -> list[tuple[int, int]]:
    return [(c["result"]["pid"], c["result"]["seen"]) for c in result.tool_calls]


def test_calls_of_a_stateful_agent_go_only_to_the_process_that_started_it(
    server: ServerProcess, other_worker: subprocess.Popen[bytes]
) -> None:
    with AgentRuntime(config=config(server, workers=False)) as bystander:
        # The other worker is polling: a shared call, started where nothing serves it, goes there.
        shared = bystander.run(shared_agent(), "count", timeout=60)
        assert [pid for pid, _ in served_by(shared)] == [other_worker.pid]

    with AgentRuntime(config=config(server)) as runtime:
        handle = runtime.start(stateful_agent(), "count")
        assert handle.run_id == handle.execution_id  # the reference's worker domain
        result = handle.join(timeout=60)
        again = runtime.run(stateful_agent(), "count again", timeout=60)
    assert result.status == "COMPLETED" and result.output == "counted"
    # Every call in this process (the other worker polls the same tool name), and the
    # per-execution state kept here is consistent: 1, 2, 3, ...
    assert served_by(result) == [(os.getpid(), n) for n in range(1, CALLS + 1)]
    assert served_by(again) == [(os.getpid(), n) for n in range(1, CALLS + 1)]


def test_a_stateful_execution_whose_process_is_gone_says_so_and_resume_takes_over(
    server: ServerProcess, other_worker: subprocess.Popen[bytes]
) -> None:
    # A process that starts the run and is gone before serving any of its calls.
    starter = (
        "import os\n"
        "from test_stateful import stateful_agent\n"
        "from agentspan.agents import AgentConfig, AgentRuntime\n"
        "config = AgentConfig(server_url=os.environ['AGENTSPAN_SERVER_URL'], auto_start_workers=False)\n"
        "with AgentRuntime(config=config) as rt:\n"
        "    print(rt.start(stateful_agent(), 'count').execution_id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", starter], env=python_env(server), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    execution_id = done.stdout.strip().splitlines()[-1]

    with AgentRuntime(config=config(server, workers=False)) as runtime:
        deadline = time.monotonic() + 20
        status = runtime.get_status(execution_id)
        while "stateful" not in (status.waiting_reason or "") and time.monotonic() < deadline:
            time.sleep(0.1)
            status = runtime.get_status(execution_id)
        # The other worker polls 'tally' all along, yet takes none of this execution's calls.
        assert status.status == "RUNNING"
        assert f"'tally' (stateful: only the process that started execution {execution_id})" in (
            status.waiting_reason or ""
        )
        events = httpx.get(f"{server.api_url}/agent/executions/{execution_id}/events", timeout=10).json()
        missing = [e for e in events if e["type"] == "worker_missing"]
        assert missing and "runtime.resume(execution_id, agent)" in missing[0]["content"]

    with AgentRuntime(config=config(server)) as runtime:
        handle = runtime.resume(execution_id, stateful_agent())
        assert handle.run_id == execution_id
        result = handle.join(timeout=60)
    assert result.output == "counted"
    assert served_by(result) == [(os.getpid(), n) for n in range(1, CALLS + 1)]
    assert any(e.type == "worker_found" for e in result.events)


def test_a_domain_poll_for_an_unknown_or_ended_execution_is_refused(server: ServerProcess) -> None:
    body = {"names": ["tally"], "domain": "no-such-execution", "waitMs": 0}
    unknown = httpx.post(f"{server.api_url}/tasks/poll", json=body, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["code"] == "execution_not_found"
    with AgentRuntime(config=config(server)) as runtime:
        result = runtime.run(stateful_agent(), "count", timeout=60)
    ended = httpx.post(
        f"{server.api_url}/tasks/poll", json={**body, "domain": result.execution_id}, timeout=10
    )
    assert ended.status_code == 409 and ended.json()["code"] == "invalid_state"
    bad = httpx.post(f"{server.api_url}/tasks/poll", json={**body, "domain": "a b"}, timeout=10)
    assert bad.status_code == 400
