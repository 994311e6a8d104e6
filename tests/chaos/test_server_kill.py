"""kill -9 the server mid-run, restart it: every execution continues and completes."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agentspan.agents import AgentConfig, AgentHandle, AgentRuntime

from chaos_agents import mixed_agent
from fakes.openai_server import FakeOpenAI, FakeReply
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos
KINDS = ["gated", "gated", "risky", "risky", "slowllm", "slowllm", "quick", "quick", "quick"]


class Scripted:
    """Replies by job: the first user message names the job and its kind."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> FakeReply:
        messages = body["messages"]
        job = next(m["content"] for m in messages if m["role"] == "user")
        kind = job.split()[1]
        with self.lock:
            self.calls[job] += 1
            first_time = self.calls[job] == 1
        if messages[-1]["role"] == "tool":
            return FakeOpenAI.text(f"done {job}")
        if kind == "slowllm":
            # The first call is still in flight when the server is killed.
            return FakeOpenAI.text(f"done {job}", delay=3.0 if first_time else 0.0)
        tool = {"gated": "gated_step", "risky": "risky_step", "quick": "slow_step"}[kind]
        args = {"n": 1} if tool == "slow_step" else {"name": job}
        return FakeOpenAI.tool_calls([(tool, args)])


def wait_until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_server_killed_mid_run(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_openai.reset()
    scripted = Scripted()
    monkeypatch.setattr(fake_openai, "_default", scripted)
    gate = tmp_path / "gate"
    monkeypatch.setenv("CHAOS_GATE", str(gate))
    monkeypatch.setenv("CHAOS_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setenv("CHAOS_SLOW", "0")
    env = {"AGENTSPAN_WORKER_LEASE_SECONDS": "10", "AGENTSPAN_LLM_LEASE_SECONDS": "5"}
    data = tmp_path / "data"
    first = ServerProcess(data, env=env).start()
    second: ServerProcess | None = None
    config = AgentConfig(server_url=first.api_url, auto_start_server=False)
    try:
        with AgentRuntime(config=config) as runtime:
            handles: dict[str, AgentHandle] = {}
            for i, kind in enumerate(KINDS):
                job = f"job-{i} {kind}"
                handles[job] = runtime.start(mixed_agent(), job)
            risky = [j for j in handles if "risky" in j]
            wait_until(lambda: all(handles[j].get_status().is_waiting for j in risky))
            wait_until(lambda: all(scripted.calls[j] >= 1 for j in handles if "slowllm" in j))
            wait_until(lambda: all(handles[j].get_status().is_complete for j in handles if "quick" in j))
            first.kill()  # SIGKILL: no shutdown code runs
            second = ServerProcess(data, env=env, port=first.port).start()
            gate.touch()
            for job in risky:
                handles[job].approve()
            results = {job: handle.join(timeout=60) for job, handle in handles.items()}
    finally:
        first.kill()
        if second is not None:
            second.stop()
    assert {job: r.status for job, r in results.items()} == {job: "COMPLETED" for job in handles}
    for job, result in results.items():
        assert result.output == f"done {job}"
        assistant = [m for m in result.messages if m["role"] == "assistant"]
        expected = 1 if "slowllm" in job else 2
        assert len(assistant) == expected, (job, result.messages)  # no reply recorded twice
        if "slowllm" not in job:
            assert scripted.calls[job] == 2, job  # recorded model calls were not repeated
