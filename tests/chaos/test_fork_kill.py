"""kill -9 the server while a fork's model call is in flight: after the restart the fork
makes that call again (its first step, the copy and the link, was recorded once), no tool
call of the origin runs again, and the fork ends with one answer and one link."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, tool

from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos

CALLS: list[str] = []


@tool
def check_stock(item: str) -> str:
    """Check the stock of an item."""
    CALLS.append(item)
    return f"{item}: 3 left"


def wait_until(predicate: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_fork_survives_a_server_kill_during_its_model_call(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    CALLS.clear()
    fake_openai.reset()
    fake_openai.script(
        FakeOpenAI.tool_calls([("check_stock", {"item": "lamp"})]),
        FakeOpenAI.text("3 lamps left."),
        FakeOpenAI.text("lost answer", delay=30),  # the fork's call, in flight at the kill
        FakeOpenAI.text("Three lamps."),  # the same call, made again after the restart
    )
    data = tmp_path / "data"
    servers = [ServerProcess(data).start()]
    try:
        config = AgentConfig(server_url=servers[0].api_url, auto_start_server=False)
        with AgentRuntime(config=config) as runtime:
            agent = Agent(name="stock", model="openai/gpt-4o", tools=[check_stock])
            origin = runtime.run(agent, "How many lamps?")
            assert origin.output == "3 lamps left." and CALLS == ["lamp"]
            steps = [e.id for e in origin.events if e.type == "llm_call"]
            answer = httpx.post(
                f"{servers[0].api_url}/agent/{origin.execution_id}/fork",
                json={"fromStep": steps[-1], "instructions": "Spell numbers out."},
                timeout=10,
            )
            assert answer.status_code == 201, answer.text
            fork_id = answer.json()["executionId"]
            wait_until(lambda: fake_openai.request_count == 3)  # the fork's call is in flight
            servers[0].kill()
            servers.append(ServerProcess(data, port=servers[0].port).start())
            detail = httpx.get(
                f"{servers[1].api_url}/agent/execution/{fork_id}",
                params={"waitMs": 60_000, "includeEvents": "true"},
                timeout=70,
            ).json()
            origin_detail = httpx.get(
                f"{servers[1].api_url}/agent/execution/{origin.execution_id}", timeout=10
            )
    finally:
        for server in servers[:-1]:
            server.kill()
        servers[-1].stop()
    assert detail["status"] == "COMPLETED" and detail["output"] == "Three lamps."
    requests = fake_openai.requests
    assert len(requests) == 4 and requests[2]["messages"] == requests[3]["messages"], "the same call, again"
    assert requests[3]["messages"][0] == {"role": "system", "content": "Spell numbers out."}
    assert CALLS == ["lamp"]  # the worker's tool call was copied, never run again
    own = [e for e in detail["events"] if e["id"] >= steps[-1]]
    assert [e["type"] for e in own].count("llm_call") == 1  # recorded once
    assert detail["forkedFrom"] == {"executionId": origin.execution_id, "step": steps[-1]}
    assert origin_detail.json()["forks"] == [{"executionId": fork_id, "step": steps[-1]}]
