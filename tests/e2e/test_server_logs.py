"""The server's log, from a real ``agentspan server run`` process stopped with SIGTERM:
JSON lines on request, one line per execution state change and per failure (a model
error included), no ERROR line on a normal stop, and a long poll cut by the stop
answered with a problem document."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime

from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess

pytestmark = pytest.mark.e2e


def test_json_log_lines_state_changes_failures_and_a_quiet_stop(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reset()
    fake_openai.script(FakeOpenAI.error(400, "model 'gpt-9' does not exist"))
    server = ServerProcess(tmp_path, env={"AGENTSPAN_LOG_FORMAT": "json"}, log_level="info").start()
    poll: dict[str, httpx.Response] = {}
    try:
        config = AgentConfig(server_url=server.api_url, auto_start_server=False)
        with AgentRuntime(config=config) as runtime:
            ok = runtime.run(Agent(name="fine", model="offline/basic"), "hi")
            doomed = runtime.run(Agent(name="doomed", model="openai/gpt-9"), "hi", timeout=30)
        assert ok.status == "COMPLETED" and doomed.status == "FAILED"

        def long_poll() -> None:
            body = {"names": ["nobody"], "workerId": "w", "count": 1, "waitMs": 20_000}
            poll["answer"] = httpx.post(server.api_url + "/tasks/poll", json=body, timeout=30)

        poller = threading.Thread(target=long_poll)
        poller.start()
        time.sleep(0.5)  # the poll is waiting inside the server
        server.kill(signal.SIGTERM)
        poller.join(10)
        # uvicorn re-raises the stop signal once it has shut down cleanly.
        assert server.proc is not None and server.proc.returncode in (0, -signal.SIGTERM)
    finally:
        server.kill()
    answer = poll["answer"]
    assert answer.status_code == 503 and answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "shutting_down" and answer.headers["retry-after"]

    records = [json.loads(line) for line in server.log_text().splitlines() if line.strip()]
    assert records, "the server wrote nothing"
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    assert not [r for r in records if r["level"] in ("ERROR", "CRITICAL")], "an ERROR line on a normal stop"
    lines = [r["message"] for r in records if r["logger"] == "agentspan.server.executions"]
    assert any(f"execution {ok.execution_id} agent='fine' started" in m for m in lines), lines
    assert any(f"execution {ok.execution_id}" in m and "RUNNING -> COMPLETED" in m for m in lines), lines
    failed = [m for m in lines if f"execution {doomed.execution_id}" in m]
    assert any("RUNNING -> FAILED" in m for m in failed), failed
    assert any("does not exist" in m for m in failed), failed
