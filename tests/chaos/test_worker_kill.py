"""kill -9 a worker in the middle of a tool: the run still completes, nothing recorded repeats."""

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

from chaos_agents import worker_agent
from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos
HERE = Path(__file__).parent


def start_worker(server: ServerProcess, log: Path, slow: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AGENTSPAN_SERVER_URL": server.api_url,
        "CHAOS_LOG": str(log),
        "CHAOS_SLOW": "1" if slow else "0",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen([sys.executable, str(HERE / "serve_worker.py")], env=env)


def wait_lines(path: Path, count: int, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text().splitlines()
            if len(lines) >= count:
                return lines
        time.sleep(0.05)
    raise AssertionError(f"expected {count} tool runs in {path}")


@pytest.fixture
def chaos_server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[ServerProcess]:
    fake_openai.reset()
    server = ServerProcess(tmp_path / "data", env={"AGENTSPAN_WORKER_LEASE_SECONDS": "1"}).start()
    try:
        yield server
    finally:
        server.stop()


def test_worker_killed_mid_tool(chaos_server: ServerProcess, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.script(FakeOpenAI.tool_calls([("slow_step", {"n": 1})]), FakeOpenAI.text("finished"))
    log = tmp_path / "calls.log"
    config = AgentConfig(server_url=chaos_server.api_url, auto_start_server=False, auto_start_workers=False)
    first = start_worker(chaos_server, log, slow=True)
    second: subprocess.Popen[bytes] | None = None
    try:
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(worker_agent(), "run the step")
            wait_lines(log, 1)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            second = start_worker(chaos_server, log, slow=False)
            result = handle.join(timeout=30)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert result.status == "COMPLETED" and result.output == "finished"
    runs = [line.split() for line in log.read_text().splitlines()]
    assert len(runs) == 2
    assert runs[0][0] != runs[1][0]  # two different worker processes
    assert runs[0][1] == runs[1][1]  # the same idempotency key both times
    assert [r[2] for r in runs] == ["1", "2"]  # the second run knows it is a second attempt
    # The model was asked exactly twice: the recorded first reply was not requested again.
    assert fake_openai.request_count == 2
    assert str(second.pid if second else "") in str(result.tool_calls[0]["result"])
