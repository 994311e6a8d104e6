"""kill -9 the server while a run of a session waits: after the restart the session still
holds its earlier exchanges, and the waiting run goes on with the history it was created
with, not the session as it is now."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, tool

from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos


@tool(approval_required=True)
def pay(amount: int) -> str:
    """Pay an amount."""
    return f"paid {amount}"


def wait_until(predicate: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def contents(request: dict[str, Any]) -> list[Any]:
    return [m.get("content") for m in request["messages"] if m["role"] != "system"]


def test_a_session_and_a_recorded_start_survive_a_server_kill(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reset()
    session = f"s-{uuid.uuid4()}"
    data = tmp_path / "data"
    first = ServerProcess(data).start()
    second: ServerProcess | None = None
    try:
        config = AgentConfig(server_url=first.api_url, auto_start_server=False)
        with AgentRuntime(config=config) as runtime:
            fake_openai.script(FakeOpenAI.text("one"))
            runtime.run(Agent(name="first", model="openai/gpt-4o"), "first", session_id=session)
            fake_openai.script(FakeOpenAI.tool_calls([("pay", {"amount": 5})]))
            payer = Agent(name="payer", model="openai/gpt-4o", tools=[pay])
            waiting = runtime.start(payer, "pay five", session_id=session)
            wait_until(lambda: waiting.get_status().is_waiting)
            first.kill()  # SIGKILL: no shutdown code runs
            second = ServerProcess(data, port=first.port).start()
            fake_openai.script(FakeOpenAI.text("meanwhile"))
            between = runtime.run(
                Agent(name="other", model="openai/gpt-4o"), "in between", session_id=session
            )
            assert between.status == "COMPLETED", between.error
            fake_openai.script(FakeOpenAI.text("paid it"))
            waiting.approve()
            result = waiting.join(timeout=30)
    finally:
        first.kill()
        if second is not None:
            second.stop()
    assert result.status == "COMPLETED" and result.output == "paid it", result.error
    requests = fake_openai.requests
    assert contents(requests[2]) == ["first", "one", "in between"]  # the session outlived the kill
    resumed = contents(requests[3])
    assert resumed[:3] == ["first", "one", "pay five"] and "in between" not in resumed
