"""A stateful tool's process is killed (SIGKILL) mid-call: the call is not handed to another
worker polling the same tool name; the execution says which process it needs; a
``resume(execution_id, agent)`` from another process re-runs the call with the same
idempotency key (attempt 2) and the run completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentspan.agents import AgentConfig, AgentRuntime

from stateful_agents import agent
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos

HERE = Path(__file__).parent


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"AGENTSPAN_WORKER_LEASE_SECONDS": "1", "AGENTSPAN_NO_WORKER_TIMEOUT": "1"}
    proc = ServerProcess(tmp_path / "data", env=env).start()
    try:
        yield proc
    finally:
        proc.stop()


def launch(server: ServerProcess, log: Path, mode: str, *, slow: bool) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "AGENTSPAN_SERVER_URL": server.api_url,
        "CHAOS_LOG": str(log),
        "CHAOS_SLOW": "1" if slow else "0",
        "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, str(HERE / "stateful_agents.py"), mode], env=env, stdout=subprocess.PIPE, text=True
    )


def test_a_stateful_call_killed_with_its_process_waits_for_a_resume(
    server: ServerProcess, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    bystander = launch(server, log, "serve", slow=False)  # polls slow_tally's shared queue
    starter = launch(server, log, "start", slow=True)
    try:
        assert starter.stdout is not None
        execution_id = starter.stdout.readline().strip()
        deadline = time.monotonic() + 30
        while not (log.exists() and log.read_text()):
            assert time.monotonic() < deadline, "the starter never ran its call"
            time.sleep(0.05)
        os.kill(starter.pid, signal.SIGKILL)
        starter.wait(10)

        os.environ["CHAOS_LOG"] = str(log)  # the tool runs in this process now, quickly
        os.environ["CHAOS_SLOW"] = "0"
        config = AgentConfig(server_url=server.api_url, auto_start_server=False)
        with AgentRuntime(config=config) as runtime:
            deadline = time.monotonic() + 30
            while "stateful" not in (runtime.get_status(execution_id).waiting_reason or ""):
                assert time.monotonic() < deadline, "the execution never said its process is gone"
                time.sleep(0.1)
            assert log.read_text().count("\n") == 1  # the bystander took nothing over
            result = runtime.resume(execution_id, agent()).join(timeout=60)
    finally:
        for proc in (starter, bystander):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(20)
        os.environ.pop("CHAOS_LOG", None)
        os.environ.pop("CHAOS_SLOW", None)
    assert result.output == "done"
    runs = [line.split() for line in log.read_text().splitlines()]
    assert [(int(pid), attempt) for pid, _, attempt in runs] == [(starter.pid, "1"), (os.getpid(), "2")]
    assert runs[0][1] == runs[1][1]  # the same idempotency key
    assert result.tool_calls[0]["result"] == f"counted in {os.getpid()}"
