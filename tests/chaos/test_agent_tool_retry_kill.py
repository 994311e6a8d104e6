"""kill -9 the server while an agent tool's retry waits out its ``retry_delay_seconds``:
after the restart the pause ends on time (it is a stored task, not a sleep that died with
the process) and the failed child runs again exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, RegexGuardrail, agent_tool

from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos

DELAY = 2.0


def wait_until(predicate: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def event_types(api_url: str, execution_id: str) -> list[str]:
    body = httpx.get(f"{api_url}/agent/executions/{execution_id}/events").json()
    items = body["events"] if isinstance(body, dict) else body
    return [e["type"] for e in items]


def test_a_retry_pause_survives_a_server_kill_and_the_child_runs_again_once(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reset()
    fake_openai.script(
        FakeOpenAI.tool_calls([("researcher", {"request": "find the number"})]),
        FakeOpenAI.text("It is 123-45-6789."),  # fails the child's guardrail: the child fails
        FakeOpenAI.text("I cannot share it."),  # the child, run again after the pause
        FakeOpenAI.text("Done."),
    )
    researcher = Agent(
        name="researcher",
        model="openai/gpt-4o",
        guardrails=[RegexGuardrail([r"\d{3}-\d{2}-\d{4}"], name="no_ssn", on_fail="raise")],
    )
    lead = Agent(
        name="lead",
        model="openai/gpt-4o",
        tools=[agent_tool(researcher, retry_count=1, retry_delay_seconds=DELAY)],
    )
    data = tmp_path / "data"
    first = ServerProcess(data).start()
    second: ServerProcess | None = None
    try:
        config = AgentConfig(server_url=first.api_url, auto_start_server=False)
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(lead, "ask the researcher")
            wait_until(lambda: "tool_retry" in event_types(first.api_url, handle.execution_id))
            paused_at = time.monotonic()
            first.kill()  # SIGKILL during the pause
            assert fake_openai.request_count == 2, "the retry has not started yet"
            second = ServerProcess(data, port=first.port).start()
            result = handle.join(timeout=60)
            waited = time.monotonic() - paused_at
    finally:
        first.kill()
        if second is not None:
            second.stop()
    assert result.status == "COMPLETED" and result.output == "Done.", result.error
    # Timed by the server's own clock: the retry's pause from its tool_retry event to the
    # next step of the run (the client sees the event a moment late, so its clock may
    # measure a little less than the pause was).
    retry = next(i for i, e in enumerate(result.events) if e.type == "tool_retry")
    paused = (result.events[retry + 1].timestamp - result.events[retry].timestamp) / 1000
    assert paused >= DELAY - 0.01, f"the pause was cut short by the restart ({paused:.3f}s)"
    assert waited >= DELAY - 0.5, "the run finished too soon"
    assert fake_openai.request_count == 4, "the child ran again exactly once"
    assert result.tool_calls[0]["result"] == "I cannot share it."
