"""The product page's "Server-Side Tools (No Workers Needed)" example, its MCP half, run as a
program against a server process, with a local MCP server standing in for the page's
``http://localhost:6767/mcp`` and the fake OpenAI endpoint as the model.

(The ``http_tool`` half belongs with the HTTP tools; the page's program is otherwise
unchanged: the same imports, constructor call and run.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fakes.openai_server import FakeOpenAI, FakeReply
from support.mcp_server import McpServerProcess
from support.servers import ServerProcess

pytestmark = pytest.mark.e2e

SERVER_SIDE_TOOLS = """
from agentspan.agents import Agent, AgentRuntime, mcp_tool

github = mcp_tool(server_url="http://localhost:6767/mcp")  # Auto-discovered

agent = Agent(name="assistant", model="openai/gpt-4o", tools=[github])

with AgentRuntime() as runtime:
    result = runtime.run(agent, "What's the weather in NYC?")
    result.print_result()
"""


def model(body: dict[str, Any]) -> FakeReply:
    last = body["messages"][-1]
    if last["role"] == "tool":
        return FakeOpenAI.text(f"The tool said: {last['content']}")
    assert "shout" in {t["function"]["name"] for t in body["tools"]}  # discovered, not declared
    return FakeOpenAI.tool_calls([("shout", {"text": "sunny in nyc"})])


@pytest.fixture
def mcp(tmp_path: Path) -> Iterator[McpServerProcess]:
    proc = McpServerProcess(tmp_path / "calls.jsonl").start()
    try:
        yield proc
    finally:
        proc.stop()


def test_the_server_side_mcp_example_runs_with_no_worker(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, mcp: McpServerProcess
) -> None:
    fake_openai.reset()
    monkeypatch.setattr(fake_openai, "_default", model)
    server = ServerProcess(tmp_path / "data").start()
    program = SERVER_SIDE_TOOLS.replace("http://localhost:6767/mcp", mcp.url)
    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(program)],
            env={**os.environ, "AGENTSPAN_SERVER_URL": server.api_url},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    assert 'The tool said: {"result": "SUNNY IN NYC!"}' in done.stdout
    assert [c["args"] for c in mcp.calls()] == [{"text": "sunny in nyc"}]
