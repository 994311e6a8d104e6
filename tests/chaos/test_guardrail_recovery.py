"""kill -9 the server while a guardrail's verdict is awaited, or while a ``human``
guardrail waits: recorded verdicts are not asked again, the one in flight runs again with
the same idempotency key, and a person can still decide from another process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, RegexGuardrail

from chaos_agents import guarded_agent
from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos
HERE = Path(__file__).parent
LEASE = {"AGENTSPAN_WORKER_LEASE_SECONDS": "1"}


def start_worker(server: ServerProcess, log: Path, slow: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AGENTSPAN_SERVER_URL": server.api_url,
        "CHAOS_LOG": str(log),
        "CHAOS_SLOW": "1" if slow else "0",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen([sys.executable, str(HERE / "serve_guard_worker.py")], env=env)


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


@pytest.fixture
def servers(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[list[ServerProcess]]:
    fake_openai.reset()
    started: list[ServerProcess] = []
    try:
        yield started
    finally:
        for server in started:
            server.kill()


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_a_verdict_in_flight_runs_again_after_a_server_kill_and_recorded_ones_do_not(
    servers: list[ServerProcess], fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.script(FakeOpenAI.text("the final answer"))
    log = tmp_path / "guards.log"
    first = ServerProcess(tmp_path / "data", env=LEASE).start()
    servers.append(first)
    config = AgentConfig(server_url=first.api_url, auto_start_server=False, auto_start_workers=False)
    worker = start_worker(first, log, slow=True)
    replacement: subprocess.Popen[bytes] | None = None
    try:
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(guarded_agent(), "answer me")
            wait_for_line(log, "slow ")  # first_check's verdict is recorded; slow_check runs
            first.kill()
            stop(worker)  # the guardrail in flight dies with its worker
            second = ServerProcess(tmp_path / "data", env=LEASE, port=first.port).start()
            servers.append(second)
            replacement = start_worker(second, log, slow=False)
            result = handle.join(timeout=30)
    finally:
        stop(worker)
        stop(replacement)
    assert result.status == "COMPLETED" and result.output == "the final answer"
    assert len(wait_for_line(log, "first ")) == 1, "a recorded verdict is never asked for again"
    slow = [line.split() for line in wait_for_line(log, "slow ", 2)]
    assert len(slow) == 2 and slow[0][1] != slow[1][1]  # two worker processes
    assert slow[0][2] == slow[1][2]  # the same idempotency key both times
    assert [s[3] for s in slow] == ["1", "2"]
    assert fake_openai.request_count == 1, "the recorded model reply is not requested again"
    assert [(g["name"], g["passed"]) for g in result.guardrails] == [
        ("first_check", True),
        ("slow_check", True),
    ]


def test_a_human_guardrail_survives_a_restart_and_is_approved_from_another_process(
    servers: list[ServerProcess], fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.script(FakeOpenAI.text("call me at 555-0100"))
    rail = RegexGuardrail([r"\d{3}-\d{4}"], name="no_phone", on_fail="human")
    agent = Agent(name="chaos_reviewed", model="openai/gpt-4o", guardrails=[rail])
    first = ServerProcess(tmp_path / "data").start()
    servers.append(first)
    config = AgentConfig(server_url=first.api_url, auto_start_server=False)
    with AgentRuntime(config=config) as runtime:
        handle = runtime.start(agent, "how do I reach you?")
        deadline = time.monotonic() + 20
        while not handle.get_status().is_waiting and time.monotonic() < deadline:
            time.sleep(0.05)
        assert handle.get_status().is_waiting
        first.kill(signal.SIGKILL)
        second = ServerProcess(tmp_path / "data", port=first.port).start()
        servers.append(second)
        status = handle.get_status()
        assert status.is_waiting and status.pending_tool is not None
        assert status.pending_tool["taskRefName"] == "guardrail.no_phone"
        approved = subprocess.run(
            [sys.executable, "-m", "agentspan.cli", "approve", handle.execution_id],
            env={**os.environ, "AGENTSPAN_SERVER_URL": second.api_url},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert approved.returncode == 0, approved.stderr
        result = handle.join(timeout=30)
    assert result.status == "COMPLETED" and result.output == "call me at 555-0100"
    approval = next(e for e in result.events if e.type == "approval")
    assert approval.data is not None and approval.data["approved"] is True
    assert fake_openai.request_count == 1
