"""kill -9 the server around the summary step of a condensed conversation:

* killed while the summary call is in flight: the call is made again after the restart
  (the step was not recorded), and the conversation is condensed once;
* killed after the condensing was recorded, while the agent's next model call is in
  flight: that call is made again, and the summary call never is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, tool
from agentspan.server.executors.condensing import SUMMARY_INSTRUCTIONS, SUMMARY_PREFIX

from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos

ENV = {"AGENTSPAN_CONTEXT_WINDOWS": "gpt-4o=3000"}


@tool
def fetch_page(n: int) -> str:
    """Fetch page n of the report."""
    return f"page {n}: " + "lorem ipsum " * 250


def wait_until(predicate: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def is_summary_call(request: dict[str, Any]) -> bool:
    return bool(request["messages"][0] == {"role": "system", "content": SUMMARY_INSTRUCTIONS})


def test_the_summary_step_is_made_once_across_two_server_kills(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reset()
    fake_openai.script(
        FakeOpenAI.tool_calls([("fetch_page", {"n": 1})]),
        FakeOpenAI.tool_calls([("fetch_page", {"n": 2})]),
        FakeOpenAI.tool_calls([("fetch_page", {"n": 3})]),
        FakeOpenAI.text("lost summary", delay=30),  # in flight at the first kill
        FakeOpenAI.text("Pages 1 and 2: lorem ipsum."),  # the summary call, made again
        FakeOpenAI.text("lost answer", delay=30),  # in flight at the second kill
        FakeOpenAI.text("All lorem ipsum."),
    )
    agent = Agent(name="reader", model="openai/gpt-4o", tools=[fetch_page])
    data = tmp_path / "data"
    servers = [ServerProcess(data, env=ENV).start()]
    try:
        config = AgentConfig(server_url=servers[0].api_url, auto_start_server=False)
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(agent, "Summarise the report")
            wait_until(lambda: fake_openai.request_count == 4)  # the summary call is in flight
            servers[0].kill()
            servers.append(ServerProcess(data, env=ENV, port=servers[0].port).start())
            wait_until(lambda: fake_openai.request_count == 6)  # condensed; the next call in flight
            servers[1].kill()
            servers.append(ServerProcess(data, env=ENV, port=servers[0].port).start())
            result = handle.join(timeout=60)
    finally:
        for server in servers[:-1]:
            server.kill()
        servers[-1].stop()
    assert result.status == "COMPLETED" and result.output == "All lorem ipsum.", result.error
    requests = fake_openai.requests
    assert [is_summary_call(r) for r in requests] == [False, False, False, True, True, False, False]
    assert requests[5]["messages"] == requests[6]["messages"], "the same call, made again"
    assert requests[6]["messages"][1]["content"] == SUMMARY_PREFIX + "Pages 1 and 2: lorem ipsum."
    assert [e.type for e in result.events].count("context_condensed") == 1
    assert [e.data.get("purpose") for e in result.events if e.type == "llm_call" and e.data].count(
        "condense"
    ) == 1
