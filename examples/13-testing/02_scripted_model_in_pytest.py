"""``ScriptedModel`` in pytest: deterministic tests that run on the real server.

    python examples/13-testing/02_scripted_model_in_pytest.py      (or: pytest this_file.py)

A ``ScriptedModel`` replies with the turns you wrote, while the server does everything else
for real: tool calls in worker processes, retries, approvals, structured output. So a test
can check how the agent *behaves* (a failing tool is retried, bad arguments are reported)
without a model or a key. This file is a pytest module; run as a script it runs itself.
"""

import subprocess
import sys
from collections.abc import Iterator

import pytest

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ScriptedModel, ToolCall, expect

attempts: list[int] = []


@tool(retry_count=2, retry_delay_seconds=0.1)
def flaky_inventory(sku: str) -> int:
    """Stock level; the backend fails the first time it is asked."""
    attempts.append(1)
    if len(attempts) == 1:
        raise ConnectionError("inventory backend timed out")
    return 7


@pytest.fixture(scope="module")
def runtime() -> Iterator[AgentRuntime]:
    with AgentRuntime() as rt:
        yield rt


def test_a_failing_tool_is_retried_and_the_answer_uses_its_result(runtime: AgentRuntime) -> None:
    model = ScriptedModel([ToolCall("flaky_inventory", {"sku": "MUG-1"}), "7 mugs left."])
    result = runtime.run(Agent(name="pytest_stock", model=model, tools=[flaky_inventory]), "Mugs left?")
    expect(result).completed().used_tool("flaky_inventory").events_contain("tool_retry")
    assert result.tool_calls[0]["result"] == 7 and len(attempts) == 2


def test_malformed_arguments_are_reported_to_the_model(runtime: AgentRuntime) -> None:
    model = ScriptedModel([ToolCall("flaky_inventory", '{"sku": '), "Sorry, let me try again later."])
    result = runtime.run(Agent(name="pytest_clumsy", model=model, tools=[flaky_inventory]), "Mugs left?")
    assert result.tool_calls[0]["status"] == "failed"
    assert "not valid JSON" in result.tool_calls[0]["error"]


if __name__ == "__main__":  # the same as typing: pytest -q 02_scripted_model_in_pytest.py
    sys.exit(
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__]).returncode
    )

# requires: pytest
# expect: 2 passed
