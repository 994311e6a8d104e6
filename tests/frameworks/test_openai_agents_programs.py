"""Whole programs in their own processes: an OpenAI Agents SDK agent passed to ``run()``
unchanged, and ``from agentspan import Runner`` as a one-line replacement for the SDK's."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("agents", reason="the openai-agents package is not installed")

from fakes.openai_server import FakeOpenAI  # noqa: E402
from support.servers import ServerProcess  # noqa: E402

pytestmark = pytest.mark.e2e

RUN_PROGRAM = '''
from agents import Agent, function_tool
from agentspan.agents import run

@function_tool
def get_weather(city: str) -> str:
    """Get current weather for a city."""
    return f"72F and sunny in {city}"

agent = Agent(name="Weather agent", instructions="Answer briefly.", model="gpt-4o", tools=[get_weather])
result = run(agent, "What's the weather in NYC?")
print("output:", result.output)
print("execution:", result.execution_id)
'''

# The OpenAI Agents SDK quickstart with one import changed (Runner from agentspan).
RUNNER_PROGRAM = """
from agents import Agent
from agentspan import Runner

history_tutor = Agent(
    name="History Tutor",
    handoff_description="Specialist agent for historical questions",
    instructions="You provide assistance with historical queries.",
)
math_tutor = Agent(
    name="Math Tutor",
    handoff_description="Specialist agent for math questions",
    instructions="You provide help with math problems.",
)
triage_agent = Agent(
    name="Triage Agent",
    instructions="You determine which agent to use based on the user's homework question",
    handoffs=[history_tutor, math_tutor],
)
result = Runner.run_sync(triage_agent, "Who was the first president of the United States?")
print("final:", result.final_output)
"""


# The SDK's guardrail example (an input guardrail that runs a checking agent), with Runner
# imported from agentspan: the checking agent is a durable run of its own.
GUARDRAIL_PROGRAM = """
import asyncio
from pydantic import BaseModel
from agents import (Agent, GuardrailFunctionOutput, InputGuardrailTripwireTriggered,
                    RunContextWrapper, TResponseInputItem, input_guardrail)
from agentspan import Runner

class MathHomeworkOutput(BaseModel):
    is_math_homework: bool
    reasoning: str

guardrail_agent = Agent(
    name="Guardrail check",
    instructions="Check if the user is asking you to do their math homework.",
    output_type=MathHomeworkOutput,
)

@input_guardrail
async def math_guardrail(
    ctx: RunContextWrapper[None], agent: Agent, input: str | list[TResponseInputItem]
) -> GuardrailFunctionOutput:
    result = await Runner.run(guardrail_agent, input, context=ctx.context)
    return GuardrailFunctionOutput(
        output_info=result.final_output,
        tripwire_triggered=result.final_output.is_math_homework,
    )

agent = Agent(
    name="Customer support agent",
    instructions="You are a customer support agent. You help customers with their questions.",
    input_guardrails=[math_guardrail],
)

async def main():
    try:
        await Runner.run(agent, "Hello, can you help me solve for x: 2x + 3 = 11?")
        print("Guardrail didn't trip - this is unexpected")
    except InputGuardrailTripwireTriggered:
        print("Math homework guardrail tripped")

asyncio.run(main())
"""


@pytest.fixture
def proc_server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[ServerProcess]:
    fake_openai.reset()
    server = ServerProcess(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.stop()


def run_python(code: str, server: ServerProcess) -> subprocess.CompletedProcess[str]:
    # Tracing left as the SDK sets it up: nothing may try to export a trace to OpenAI.
    env = {**os.environ, "AGENTSPAN_SERVER_URL": server.api_url}
    env.pop("OPENAI_AGENTS_DISABLE_TRACING", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=90
    )


def test_run_takes_an_openai_agents_sdk_agent_unchanged(
    proc_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(
        FakeOpenAI.tool_calls([("get_weather", {"city": "NYC"})]),
        FakeOpenAI.text("It is 72F and sunny in NYC."),
    )
    done = run_python(RUN_PROGRAM, proc_server)
    assert done.returncode == 0, done.stderr
    assert "output: It is 72F and sunny in NYC." in done.stdout
    assert "trac" not in done.stderr.lower(), done.stderr  # no tracing export attempted
    assert fake_openai.requests[1]["messages"][-1]["content"] == "72F and sunny in NYC"


def test_runner_drop_in_with_handoffs_and_the_sdks_default_model(
    proc_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    from agents.models import get_default_model

    fake_openai.script(
        FakeOpenAI.tool_calls([("transfer_to_history_tutor", {})]),
        FakeOpenAI.text("George Washington."),
    )
    done = run_python(RUNNER_PROGRAM, proc_server)
    assert done.returncode == 0, done.stderr
    assert "final: George Washington." in done.stdout
    assert fake_openai.requests[0]["model"] == get_default_model()  # model=None: the SDK's default
    assert (
        fake_openai.requests[1]["messages"][0]["content"] == "You provide assistance with historical queries."
    )


def test_the_sdks_guardrail_example_with_a_checking_agent(
    proc_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(FakeOpenAI.text('{"is_math_homework": true, "reasoning": "solve for x"}'))
    done = run_python(GUARDRAIL_PROGRAM, proc_server)
    assert done.returncode == 0, done.stderr
    assert "Math homework guardrail tripped" in done.stdout
    # One model call: the checking agent's; the support agent never ran.
    assert fake_openai.request_count == 1
    assert "math homework" in fake_openai.requests[0]["messages"][0]["content"]
