"""A whole program in its own process: a LangChain/LangGraph app passed to ``run()`` unchanged
(the product description's ``run(app, "prompt")`` line)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("langgraph", reason="the langgraph package is not installed")
pytest.importorskip("langchain_openai", reason="the langchain-openai package is not installed")

from fakes.openai_server import FakeOpenAI  # noqa: E402
from support.servers import ServerProcess  # noqa: E402

pytestmark = pytest.mark.e2e

# LangChain's agent quickstart, with the framework's invoke() replaced by agentspan's run().
RUN_PROGRAM = '''
from langchain.agents import create_agent
from agentspan.agents import run

def get_weather(city: str) -> str:
    """Get weather for a given city."""
    return f"It's always sunny in {city}!"

app = create_agent(
    model="openai:gpt-4o",
    tools=[get_weather],
    system_prompt="You are a helpful assistant",
)
result = run(app, "what is the weather in sf")
print("output:", result.output)
print("status:", result.status)
'''


@pytest.fixture
def proc_server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[ServerProcess]:
    fake_openai.reset()
    server = ServerProcess(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.stop()


def test_run_takes_a_langgraph_app_unchanged(proc_server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        FakeOpenAI.tool_calls([("get_weather", {"city": "sf"})]),
        FakeOpenAI.text("It's sunny in SF."),
    )
    env = {**os.environ, "AGENTSPAN_SERVER_URL": proc_server.api_url}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RUN_PROGRAM)],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    assert "output: It's sunny in SF." in done.stdout
    assert "status: COMPLETED" in done.stdout
    assert fake_openai.requests[0]["model"] == "gpt-4o"
    assert fake_openai.requests[0]["messages"][0] == {
        "role": "system",
        "content": "You are a helpful assistant",
    }
    assert fake_openai.requests[1]["messages"][-1]["content"] == "It's always sunny in sf!"
