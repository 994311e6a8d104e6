"""The product page's examples (multi-agent, guardrails), copied unchanged, against a fake
OpenAI endpoint."""

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
from support.servers import ServerProcess

pytestmark = pytest.mark.e2e

HANDOFF = """
from agentspan.agents import Agent, AgentRuntime, tool

@tool
def check_balance(account_id: str) -> dict:
    \"\"\"Check account balance.\"\"\"
    return {"account_id": account_id, "balance": 5432.10}

billing = Agent(name="billing", model="openai/gpt-4o",
                instructions="Handle billing inquiries.", tools=[check_balance])
technical = Agent(name="technical", model="openai/gpt-4o",
                  instructions="Handle technical issues.")

support = Agent(
    name="support", model="openai/gpt-4o",
    instructions="Route customer requests to the right team.",
    agents=[billing, technical],
    strategy="handoff",
)

with AgentRuntime() as runtime:
    result = runtime.run(support, "What's the balance on account ACC-123?")
    result.print_result()
"""

PIPELINE = """
from agentspan.agents import Agent, AgentRuntime

researcher = Agent(name="researcher", model="openai/gpt-4o",
                   instructions="Research the topic and provide key facts.")
writer = Agent(name="writer", model="openai/gpt-4o",
               instructions="Write an engaging article from the research.")
editor = Agent(name="editor", model="openai/gpt-4o",
               instructions="Polish the article for publication.")

pipeline = researcher >> writer >> editor

with AgentRuntime() as runtime:
    result = runtime.run(pipeline, "AI agents in software development")
    result.print_result()
"""

PARALLEL = """
from agentspan.agents import Agent, AgentRuntime

market = Agent(name="market", model="openai/gpt-4o",
               instructions="Analyze market size, growth, key players.")
risk = Agent(name="risk", model="openai/gpt-4o",
             instructions="Analyze regulatory, technical, competitive risks.")

analysis = Agent(name="analysis", model="openai/gpt-4o",
                 agents=[market, risk], strategy="parallel")

with AgentRuntime() as runtime:
    result = runtime.run(analysis, "Launching an AI healthcare tool in the US")
    result.print_result()
"""

GUARDRAILS = """
from agentspan.agents import Agent, AgentRuntime, Guardrail, GuardrailResult, OnFail, guardrail

@guardrail
def word_limit(content: str) -> GuardrailResult:
    \"\"\"Keep responses concise.\"\"\"
    if len(content.split()) > 500:
        return GuardrailResult(passed=False, message="Too long. Be more concise.")
    return GuardrailResult(passed=True)

agent = Agent(
    name="concise_bot", model="openai/gpt-4o",
    guardrails=[Guardrail(word_limit, on_fail=OnFail.RETRY)],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Explain quantum computing.")
    result.print_result()
"""

# The product page shows this one as a fragment (no run); the last three lines run it.
REGEX_GUARDRAIL = """
from agentspan.agents import Agent, RegexGuardrail
guardrail = RegexGuardrail(
patterns=[r"\\b\\d{3}-\\d{2}-\\d{4}\\b"],
name="no_ssn",
on_fail="retry",
max_retries=3,
)
agent = Agent(
name="support_bot",
model="openai/gpt-4o",
guardrails=[guardrail],
)
from agentspan.agents import AgentRuntime
with AgentRuntime() as runtime:
    runtime.run(agent, "What is the SSN on file?").print_result()
"""


def by_role(body: dict[str, Any]) -> FakeReply:
    """Answer as each agent would, recognised by its instructions."""
    messages = body["messages"]
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    last = messages[-1]
    if "Route customer requests" in system:
        return FakeOpenAI.tool_calls([("transfer_to_billing", {"reason": "balance question"})])
    if "Handle billing" in system:
        if last["role"] == "tool":
            return FakeOpenAI.text(f"Billing: {last['content']}")
        return FakeOpenAI.tool_calls([("check_balance", {"account_id": "ACC-123"})])
    for role in ("Research", "Write an engaging", "Polish", "market size", "regulatory"):
        if role in system:
            return FakeOpenAI.text(f"<{role}> on: {str(last['content'])[:60]}")
    return FakeOpenAI.text("unexpected agent")


@pytest.fixture
def seed_server(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServerProcess]:
    fake_openai.reset()
    monkeypatch.setattr(fake_openai, "_default", by_role)
    server = ServerProcess(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.stop()


def run_program(code: str, server: ServerProcess) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, "AGENTSPAN_SERVER_URL": server.api_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_handoff_example(seed_server: ServerProcess) -> None:
    out = run_program(HANDOFF, seed_server)
    assert "Billing:" in out and "5432.1" in out


def test_pipeline_example(seed_server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    out = run_program(PIPELINE, seed_server)
    assert "<Polish> on: <Write an engaging> on: <Research> on: AI agents" in out
    systems = [r["messages"][0]["content"][:20] for r in fake_openai.requests]
    assert [s.split()[0] for s in systems] == ["Research", "Write", "Polish"]


def test_parallel_example(seed_server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    out = run_program(PARALLEL, seed_server)
    assert "[market]: <market size>" in out and "[risk]: <regulatory>" in out
    assert fake_openai.request_count == 2


def test_guardrail_example_asks_again_until_the_answer_is_short(
    seed_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(FakeOpenAI.text("qubit " * 600), FakeOpenAI.text("Qubits use superposition."))
    out = run_program(GUARDRAILS, seed_server)
    assert "Qubits use superposition." in out and "qubit qubit" not in out
    assert fake_openai.request_count == 2
    assert "Too long. Be more concise." in fake_openai.requests[1]["messages"][-1]["content"]


def test_regex_guardrail_example_never_shows_the_ssn(
    seed_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(FakeOpenAI.text("It is 123-45-6789."), FakeOpenAI.text("I cannot share that."))
    out = run_program(REGEX_GUARDRAIL, seed_server)
    assert "I cannot share that." in out and "123-45-6789" not in out
    assert fake_openai.request_count == 2
