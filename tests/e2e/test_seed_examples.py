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
from support.http_target import HttpTarget
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

# "Server-Side Tools (No Workers Needed)", without its mcp_tool line (the MCP executor is
# separate work); the public weather URL is the one thing the test swaps, for a local service.
SERVER_SIDE_TOOLS = """
from agentspan.agents import Agent, AgentRuntime, http_tool

weather_api = http_tool(
    name="get_weather", description="Get weather for a city",
    url="https://api.weather.com/v1/current", method="GET",
    input_schema={"type": "object", "properties": {"city": {"type": "string"}}},
)

agent = Agent(name="assistant", model="openai/gpt-4o", tools=[weather_api])

with AgentRuntime() as runtime:
    result = runtime.run(agent, "What's the weather in NYC?")
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

CALLBACKS = """
import time
from agentspan.agents import Agent, AgentRuntime, CallbackHandler

class TimingHandler(CallbackHandler):
    def on_agent_start(self, **kwargs):
        self.t0 = time.time()
    def on_agent_end(self, **kwargs):
        print(f"Took {time.time() - self.t0:.2f}s")

class LoggingHandler(CallbackHandler):
    def on_model_start(self, *, messages=None, **kwargs):
        print(f"Sending {len(messages or [])} messages")
    def on_model_end(self, *, llm_result=None, **kwargs):
        print(f"LLM responded: {(llm_result or '')[:80]}")

agent = Agent(
    name="my_agent",
    model="openai/gpt-4o-mini",
    instructions="You are a helpful assistant.",
    callbacks=[TimingHandler(), LoggingHandler()],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Hello!")
    result.print_result()
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
    assert "<Polish> on: AI agents in software development" in out
    asked = [r["messages"][-1]["content"] for r in fake_openai.requests]
    request = "AI agents in software development"
    # Each later step gets the request and the previous step's output, as in the reference.
    assert asked == [
        request,
        f"{request}\n\nPrevious agent output:\n<Research> on: {request}",
        f"{request}\n\nPrevious agent output:\n<Write an engaging> on: {asked[1][:60]}",
    ]
    systems = [r["messages"][0]["content"][:20] for r in fake_openai.requests]
    assert [s.split()[0] for s in systems] == ["Research", "Write", "Polish"]


def test_parallel_example(seed_server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    out = run_program(PARALLEL, seed_server)
    assert "[market]: <market size>" in out and "[risk]: <regulatory>" in out
    assert fake_openai.request_count == 2


def test_server_side_http_tool_example(
    seed_server: ServerProcess, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def weather_model(body: dict[str, Any]) -> FakeReply:
        last = body["messages"][-1]
        if last["role"] == "tool":
            return FakeOpenAI.text(f"Weather report: {last['content']}")
        return FakeOpenAI.tool_calls([("get_weather", {"city": "NYC"})])

    monkeypatch.setattr(fake_openai, "_default", weather_model)
    with HttpTarget() as weather:
        weather.route("GET", "/v1/current", lambda seen: (200, {"city": seen.query["city"][0], "temp_f": 72}))
        code = SERVER_SIDE_TOOLS.replace("https://api.weather.com", weather.url)
        out = run_program(code, seed_server)
        [seen] = weather.requests_to("/v1/current")
    assert seen.query == {"city": ["NYC"]} and seen.headers["accept"] == "application/json"
    assert "Weather report:" in out and '"temp_f": 72' in out and '"city": "NYC"' in out


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


def test_callbacks_example_prints_what_each_hook_was_given(
    seed_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(FakeOpenAI.text("Hi! How can I help you today?"))
    out = run_program(CALLBACKS, seed_server)
    lines = out.splitlines()
    assert "Sending 2 messages" in lines  # the system prompt and the user's message
    assert "LLM responded: Hi! How can I help you today?" in lines
    took = [line for line in lines if line.startswith("Took ")]
    assert len(took) == 1 and took[0].endswith("s")  # on_agent_start ran first, in the same process
    assert lines.index("Sending 2 messages") < lines.index("LLM responded: Hi! How can I help you today?")
    assert fake_openai.request_count == 1


# The reference's human-in-the-loop examples (09, 09b, 09c, 32) all answer a wait the same
# way: a form built from ``pending_tool["response_schema"]``, one console prompt per field.
# Only the agent differs; ``settings.llm_model`` is spelled out.
HITL_LOOP = """
from agentspan.agents import EventType

with AgentRuntime() as runtime:
    handle = runtime.start(agent, PROMPT)
    for event in handle.stream():
        if event.type == EventType.TOOL_CALL:
            print(f"  [tool_call] {event.tool_name}({event.args})")
        elif event.type == EventType.WAITING:
            status = handle.get_status()
            pt = status.pending_tool or {}
            schema = pt.get("response_schema", {})
            props = schema.get("properties", {})
            print("--- Human input required ---")
            response = {}
            for field, fs in props.items():
                desc = fs.get("description") or fs.get("title", field)
                if fs.get("type") == "boolean":
                    val = input(f"  {desc} (y/n): ").strip().lower()
                    response[field] = val in ("y", "yes")
                else:
                    response[field] = input(f"  {desc}: ").strip()
            handle.respond(response)
        elif event.type == EventType.DONE:
            print(f"Done: {event.output}")
"""

BANKER = """
from agentspan.agents import Agent, AgentRuntime, tool

@tool
def check_balance(account_id: str) -> dict:
    \"\"\"Check the balance of an account.\"\"\"
    return {"account_id": account_id, "balance": 15000.00}

@tool(approval_required=True)
def transfer_funds(from_acct: str, to_acct: str, amount: float) -> dict:
    \"\"\"Request a funds transfer; runtime pauses for human approval before execution.\"\"\"
    return {"status": "completed", "from": from_acct, "to": to_acct, "amount": amount}

agent = Agent(name="banker", model="openai/gpt-4o-mini", tools=[check_balance, transfer_funds],
              instructions="You are a banking assistant.")
PROMPT = "Transfer $500 from ACC-789 to ACC-456. Check the balance first."
"""

WRITER = """
from agentspan.agents import Agent, AgentRuntime, tool

@tool(approval_required=True)
def publish_article(title: str, body: str) -> dict:
    \"\"\"Publish an article to the blog. Requires editorial approval.\"\"\"
    return {"status": "published", "title": title}

agent = Agent(name="writer", model="openai/gpt-4o-mini", tools=[publish_article],
              instructions="You are a blog writer. If you receive editorial feedback, revise.")
PROMPT = "Write a short blog post about the benefits of code review"
"""

FINANCE = """
from agentspan.agents import (Agent, AgentRuntime, Guardrail, GuardrailResult, OnFail, Position,
                              guardrail)

@guardrail
def compliance_check(content: str) -> GuardrailResult:
    \"\"\"Flag any response that mentions specific financial terms for review.\"\"\"
    for term in ["investment advice", "guaranteed returns", "risk-free"]:
        if term.lower() in content.lower():
            return GuardrailResult(passed=False, message=f"Response contains flagged term: '{term}'.")
    return GuardrailResult(passed=True)

agent = Agent(name="finance_agent", model="openai/gpt-4o-mini",
              guardrails=[Guardrail(compliance_check, position=Position.OUTPUT, on_fail=OnFail.HUMAN,
                                    name="compliance")])
PROMPT = "Is AAPL a good investment?"
"""


def run_interactive(code: str, server: ServerProcess, answers: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + HITL_LOOP],
        env={**os.environ, "AGENTSPAN_SERVER_URL": server.api_url},
        input=answers,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_hitl_example_approves_from_the_schema_driven_form(
    seed_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(
        FakeOpenAI.tool_calls([("check_balance", {"account_id": "ACC-789"})]),
        FakeOpenAI.tool_calls(
            [("transfer_funds", {"from_acct": "ACC-789", "to_acct": "ACC-456", "amount": 500})]
        ),
        FakeOpenAI.text("Transferred $500."),
    )
    out = run_interactive(BANKER, seed_server, "y\nlooks fine\n")
    assert "Approve this call? (y/n):" in out and "Done: Transferred $500." in out
    assert '"status": "completed"' in fake_openai.requests[2]["messages"][-1]["content"]


def test_hitl_feedback_example_sends_revision_notes_then_approves(
    seed_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(
        FakeOpenAI.tool_calls([("publish_article", {"title": "Code review", "body": "long draft"})]),
        FakeOpenAI.tool_calls([("publish_article", {"title": "Code review", "body": "short"})]),
        FakeOpenAI.text("Published."),
    )
    out = run_interactive(WRITER, seed_server, "n\nMake it shorter\ny\n\n")
    assert out.count("--- Human input required ---") == 2 and "Done: Published." in out
    assert "Make it shorter" in fake_openai.requests[1]["messages"][-1]["content"]


def test_human_guardrail_example_keeps_the_answer_when_approved_without_an_edit(
    seed_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(FakeOpenAI.text("It offers guaranteed returns."))
    out = run_interactive(FINANCE, seed_server, "y\n\n\n")
    assert "Done: It offers guaranteed returns." in out


IT_SUPPORT = """
from agentspan.agents import Agent, AgentRuntime, human_tool, tool

@tool
def submit_ticket(title: str, priority: str, assignee: str) -> dict:
    \"\"\"Submit an IT support ticket.\"\"\"
    return {"ticket_id": "TKT-4821", "title": title, "priority": priority, "assignee": assignee}

ask_user = human_tool(
    name="ask_user",
    description="Ask the user a question when you need clarification or additional information.",
)

agent = Agent(name="it_support", model="openai/gpt-4o-mini", tools=[submit_ticket, ask_user],
              instructions="You are an IT support assistant.")
PROMPT = "I need to file a ticket for Alice about a laptop issue"
"""


def test_human_tool_example_asks_through_the_schema_driven_form(
    seed_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(
        FakeOpenAI.tool_calls([("ask_user", {"question": "What is wrong with the laptop?"})]),
        FakeOpenAI.tool_calls(
            [("submit_ticket", {"title": "Screen flickers", "priority": "high", "assignee": "Alice"})]
        ),
        FakeOpenAI.text("Ticket TKT-4821 filed."),
    )
    out = run_interactive(IT_SUPPORT, seed_server, "The screen flickers\n")
    assert "Ask the user a question" in out and "Done: Ticket TKT-4821 filed." in out
    assert fake_openai.requests[1]["messages"][-1]["content"] == "The screen flickers"
