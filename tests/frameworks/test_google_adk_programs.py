"""Whole programs in their own processes: the product description's Google ADK line,
``run(root_agent, ...)``, with ADK's own Gemini model names (the fake Gemini endpoint
answers)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("google.adk", reason="the google-adk package is not installed")

from fakes.gemini_server import FakeGemini  # noqa: E402
from support.servers import ServerProcess  # noqa: E402

pytestmark = pytest.mark.e2e

# The README's ADK example, unchanged, with a search tool and run() on the root agent.
PIPELINE_PROGRAM = '''
import warnings
warnings.simplefilter("ignore", DeprecationWarning)  # ADK 2 deprecates SequentialAgent
from google.adk.agents import Agent, SequentialAgent
from agentspan.agents import run

def search(query: str) -> str:
    """Search the web."""
    return f"3 results about {query}"

researcher = Agent(name="researcher", model="gemini-2.0-flash",
                   instruction="Research the topic.", tools=[search], output_key="research")
writer = Agent(name="writer", model="gemini-2.0-flash",
               instruction="Write an article from the research: {research}")

root_agent = SequentialAgent(name="pipeline", sub_agents=[researcher, writer])
result = run(root_agent, "Write about bees")
print("status:", result.status)
print("output:", result.output)
'''


@pytest.fixture
def gemini_server(tmp_path: Path, fake_gemini: FakeGemini) -> Iterator[ServerProcess]:
    fake_gemini.reset()
    server = ServerProcess(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.stop()


def test_run_takes_an_adk_root_agent_unchanged(gemini_server: ServerProcess, fake_gemini: FakeGemini) -> None:
    fake_gemini.script(
        FakeGemini.tool_calls([("search", {"query": "bees"})]),
        FakeGemini.text("Bees pollinate."),
        FakeGemini.text("An article: bees pollinate."),
    )
    env = {**os.environ, "AGENTSPAN_SERVER_URL": gemini_server.api_url}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PIPELINE_PROGRAM)],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    assert "status: COMPLETED" in done.stdout, done.stdout + done.stderr
    assert "output: An article: bees pollinate." in done.stdout
    assert fake_gemini.request_count == 3
    writer_request = fake_gemini.requests[2]
    system = writer_request["systemInstruction"]["parts"][0]["text"]
    assert system == "Write an article from the research: Bees pollinate."
