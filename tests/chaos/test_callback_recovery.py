"""kill -9 the server (and the worker) while a lifecycle callback runs: the callbacks
already answered are not asked again, the one in flight runs again in another worker,
and the recorded model reply is not requested again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentspan.agents import AgentConfig, AgentRuntime

from chaos_agents import hooked_agent
from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos
HERE = Path(__file__).parent
LEASE = {"AGENTSPAN_WORKER_LEASE_SECONDS": "1"}


def wait_for_line(path: Path, prefix: str, count: int = 1, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = [
            ln for ln in (path.read_text().splitlines() if path.exists() else []) if ln.startswith(prefix)
        ]
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"expected {count} '{prefix}' lines in {path}")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(10)


def start_worker(server: ServerProcess, log: Path, slow: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AGENTSPAN_SERVER_URL": server.api_url,
        "CHAOS_LOG": str(log),
        "CHAOS_SLOW": "1" if slow else "0",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen([sys.executable, str(HERE / "serve_callback_worker.py")], env=env)


@pytest.fixture
def servers(fake_openai: FakeOpenAI) -> Iterator[list[ServerProcess]]:
    fake_openai.reset()
    started: list[ServerProcess] = []
    try:
        yield started
    finally:
        for server in started:
            server.kill()


def test_a_callback_in_flight_runs_again_after_a_server_kill_and_recorded_ones_do_not(
    servers: list[ServerProcess], fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.script(FakeOpenAI.text("the model's answer"))
    log = tmp_path / "callbacks.log"
    first = ServerProcess(tmp_path / "data", env=LEASE).start()
    servers.append(first)
    config = AgentConfig(server_url=first.api_url, auto_start_server=False, auto_start_workers=False)
    worker = start_worker(first, log, slow=True)
    replacement: subprocess.Popen[bytes] | None = None
    try:
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(hooked_agent(), "answer me")
            wait_for_line(log, "after_model ")  # before_agent and before_model are recorded
            first.kill()  # SIGKILL
            stop(worker)  # the callback in flight dies with its worker
            second = ServerProcess(tmp_path / "data", env=LEASE, port=first.port).start()
            servers.append(second)
            replacement = start_worker(second, log, slow=False)
            result = handle.join(timeout=30)
    finally:
        stop(worker)
        stop(replacement)
    assert result.status == "COMPLETED", result.error
    assert len(wait_for_line(log, "before_agent ")) == 1, "a recorded callback is never asked again"
    assert len(wait_for_line(log, "before_model ")) == 1
    after = [line.split()[1] for line in wait_for_line(log, "after_model ", 2)]
    assert len(after) == 2 and after[0] != after[1]  # run again, by the other worker
    assert result.output == f"reviewed by {after[1]}"  # the answer that was recorded
    assert len(wait_for_line(log, "after_agent ")) == 1
    assert fake_openai.request_count == 1, "the recorded model reply is not requested again"
    callbacks = [e.content for e in result.events if e.type == "callback"]
    assert callbacks == ["before_agent", "before_model", "after_model", "after_agent"]
