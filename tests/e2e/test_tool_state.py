"""``ToolContext.state`` across the calls of one execution, served by two worker processes.

The product description's example appends to ``context.state["items"]`` turn after turn.
The state lives on the server; each call gets the state as the earlier calls left it, and
each call's changes (also in-place changes inside nested values) go back with its result.
The reading tool runs in another process, so the state cannot travel in memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, ToolContext, tool
from agentspan.agents.testing import ScriptedModel, ToolCall
from agentspan.server.settings import Settings

from support.servers import ThreadServer

pytestmark = pytest.mark.e2e

# The reader lives only in the second process: it reports the state it was given.
READER_PROCESS = """
    import json
    from agentspan.agents import Agent, AgentRuntime, ToolContext, tool

    @tool
    def read_state(context: ToolContext) -> str:
        \"\"\"Report the tool state.\"\"\"
        return json.dumps(context.state, sort_keys=True)

    AgentRuntime().serve(Agent(name="reader", model="offline/basic", tools=[read_state]))
"""


@tool
def append_item(item: str, context: ToolContext) -> int:
    """Remember one more item (in place, as the product description's example does)."""
    context.state.setdefault("items", []).append(item)
    profile = context.state.setdefault("profile", {"calls": 0})
    profile["calls"] += 1  # a nested value changed in place
    return len(context.state["items"])


@tool
def forget(key: str, context: ToolContext) -> str:
    """Drop one key from the state."""
    del context.state[key]
    return key


@tool
def read_state(context: ToolContext) -> str:
    """Stand-in for the reader's definition (the spec needs it; this process never runs it)."""
    raise AssertionError("read_state must run in the reader process")


@pytest.fixture(scope="module")
def state_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    # The default no-worker timeout: the reader process may take a while to start.
    srv = ThreadServer(Settings(data_dir=tmp_path_factory.mktemp("state"))).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def reader_process(state_server: ThreadServer) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "AGENTSPAN_SERVER_URL": state_server.api_url}
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(READER_PROCESS)], env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(20)


def test_state_appended_in_three_turns_reaches_a_tool_in_another_process(
    state_server: ThreadServer, reader_process: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    turns: list[str | ToolCall] = [
        ToolCall("append_item", {"item": "a"}),
        ToolCall("append_item", {"item": "b"}),
        ToolCall("append_item", {"item": "c"}),
        ToolCall("read_state"),
        ToolCall("forget", {"key": "profile"}),
        ToolCall("read_state"),
        "done",
    ]
    agent = Agent(name="collector", model=ScriptedModel(turns), tools=[append_item, read_state, forget])
    config = AgentConfig(server_url=state_server.api_url, auto_start_server=False, auto_start_workers=False)
    with AgentRuntime(config=config) as runtime:
        # This process serves only the writing tools; the reader runs in the other process.
        runtime.serve(
            Agent(name="writer", model="offline/basic", tools=[append_item, forget]), blocking=False
        )
        result = runtime.run(agent, "collect", timeout=60)
    assert result.status == "COMPLETED", result.error
    results = [c["result"] for c in result.tool_calls]
    assert results[:3] == [1, 2, 3]
    assert json.loads(results[3]) == {"items": ["a", "b", "c"], "profile": {"calls": 3}}
    # A deleted key cannot be removed from the server's merged state: it reads as None.
    assert json.loads(results[5]) == {"items": ["a", "b", "c"], "profile": None}
