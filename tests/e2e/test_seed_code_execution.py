"""The product page's code-execution example, unchanged, and a command-line example in the
reference's style, as user programs against a server and a fake OpenAI endpoint whose
model writes the code (or command) and then reports what the tool returned."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from agentspan.agents import DockerCodeExecutor

from fakes.openai_server import FakeOpenAI, FakeReply
from support.servers import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# From the product page ("Code Execution"), unchanged.
DOCKER_EXAMPLE = """
from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.code_executor import DockerCodeExecutor

executor = DockerCodeExecutor(image="python:3.12-slim", timeout=30)
agent = Agent(
    name="coder", model="openai/gpt-4o",
    tools=[executor.as_tool()],
    instructions="Write and execute Python code to solve problems.",
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Calculate the first 20 Fibonacci numbers.")
    result.print_result()
"""

# The same program with the local sandbox (the example list's 39_local_code_execution).
LOCAL_EXAMPLE = DOCKER_EXAMPLE.replace("DockerCodeExecutor", "LocalCodeExecutor").replace(
    'image="python:3.12-slim", ', ""
)

CLI_EXAMPLE = """
from agentspan.agents import Agent, AgentRuntime

agent = Agent(
    name="cli_helper", model="openai/gpt-4o",
    instructions="Use run_command to inspect the file system and report errors verbatim.",
    cli_commands=True,
    cli_allowed_commands=["ls", "echo"],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "List the directory /definitely/not/here and tell me what went wrong.")
    result.print_result()
    assert "No such file or directory" in str(result.output), result.output
"""

FIBONACCI = "a, b = 0, 1\nout = []\nfor _ in range(20):\n    out.append(a)\n    a, b = b, a + b\nprint(out)"


def model(body: dict[str, Any]) -> FakeReply:
    """Calls the agent's one tool first, then answers with what it returned."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        return FakeOpenAI.text(f"Result: {last['content']}")
    tool = body["tools"][0]["function"]["name"]
    if tool.endswith("run_command"):
        return FakeOpenAI.tool_calls([(tool, {"command": "ls", "args": ["/definitely/not/here"]})])
    return FakeOpenAI.tool_calls([(tool, {"code": FIBONACCI})])


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("seed-code") / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def seed_server(
    shared_server: ServerProcess, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> ServerProcess:
    fake_openai.reset()
    monkeypatch.setattr(fake_openai, "_default", model)
    return shared_server


def run_program(code: str, server: ServerProcess) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, "AGENTSPAN_SERVER_URL": server.api_url},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


FIRST_20 = "[0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181]"


def test_local_code_execution_example(seed_server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    out = run_program(LOCAL_EXAMPLE, seed_server)
    assert FIRST_20 in out and '"status": "success"' in out
    assert fake_openai.request_count == 2


def test_docker_code_execution_example(seed_server: ServerProcess) -> None:
    out = run_program(DOCKER_EXAMPLE, seed_server)
    reason = DockerCodeExecutor().unavailable_reason()
    if reason is None:
        assert FIRST_20 in out
        return
    # Without an engine the program still runs to the end, and the model is told why
    # nothing ran (an honest error, not a silent success).
    assert '"status": "error"' in out and ("no Docker engine is reachable" in out or "not installed" in out)
    pytest.skip(f"ran without a Docker engine (the error reached the answer): {reason}")


def test_cli_example_reports_the_failing_ls(seed_server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    out = run_program(CLI_EXAMPLE, seed_server)
    assert "No such file or directory" in out and '"exit_code": 2' in out
    tools = fake_openai.requests[0]["tools"]
    assert [t["function"]["name"] for t in tools] == ["cli_helper_run_command"]
