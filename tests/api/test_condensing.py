"""A conversation that outgrows its model's context window is condensed and the run
completes: a real server (with a small window for ``gpt-4o``), a worker tool, and the
fake OpenAI endpoint recording what each call was sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.server.executors.condensing import SUMMARY_INSTRUCTIONS, SUMMARY_PREFIX
from agentspan.server.settings import Settings

from fakes.openai_server import COMPLETION_TOKENS, PROMPT_TOKENS, FakeOpenAI
from support.servers import ThreadServer

RESULT_CHARS = 3_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[ThreadServer]:
    """This module's own server: ``gpt-4o`` has a 3,000-token window here."""
    data_dir: Path = tmp_path_factory.mktemp("condensing")
    settings = Settings(data_dir=data_dir, context_windows={"gpt-4o": 3_000})
    srv = ThreadServer(settings).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


@tool
def fetch_page(n: int) -> str:
    """Fetch page n of the report."""
    return f"page {n}: " + "lorem ipsum " * (RESULT_CHARS // 12)


def non_system(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request["messages"] if m["role"] != "system"]


def test_a_long_conversation_is_condensed_and_the_run_completes(
    server: ThreadServer, runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("fetch_page", {"n": 1})]),
        FakeOpenAI.tool_calls([("fetch_page", {"n": 2})]),
        FakeOpenAI.tool_calls([("fetch_page", {"n": 3})]),
        FakeOpenAI.text("Pages 1 and 2 were fetched; both are lorem ipsum."),  # the summary call
        FakeOpenAI.text("The report is lorem ipsum throughout."),
    )
    agent = Agent(name="reader", model="openai/gpt-4o", instructions="Read the report.", tools=[fetch_page])
    result = runtime.run(agent, "Summarise the report")
    assert result.status == "COMPLETED", result.error
    assert result.output == "The report is lorem ipsum throughout."
    assert fake.request_count == 5

    summary_call = fake.requests[3]
    assert summary_call["messages"][0] == {"role": "system", "content": SUMMARY_INSTRUCTIONS}
    assert "tools" not in summary_call or not summary_call["tools"]
    transcript = summary_call["messages"][1]["content"]
    assert "page 1:" in transcript and "page 2:" in transcript and "page 3:" not in transcript

    after = non_system(fake.requests[4])
    assert after[0] == {"role": "user", "content": "Summarise the report"}
    assert after[1] == {
        "role": "assistant",
        "content": SUMMARY_PREFIX + "Pages 1 and 2 were fetched; both are lorem ipsum.",
    }
    assert after[2]["tool_calls"][0]["function"]["arguments"] == '{"n": 3}'  # the newest call, whole
    assert after[3]["role"] == "tool" and after[3]["content"].startswith("page 3:")
    assert len(after) == 4
    assert fake.requests[4]["messages"][0] == {"role": "system", "content": "Read the report."}

    (event,) = [e for e in result.events if e.type == "context_condensed"]
    assert event.content == "proactive"
    assert event.data is not None and event.data["messagesBefore"] == 7 and event.data["messagesAfter"] == 4
    assert event.data["exchangesCondensed"] == 2 and event.data["upto"] == 5
    purposes = [e.data.get("purpose") for e in result.events if e.type == "llm_call" and e.data]
    assert purposes.count("condense") == 1 and len(purposes) == 5
    assert result.token_usage is not None
    assert result.token_usage.total_tokens == 5 * (PROMPT_TOKENS + COMPLETION_TOKENS), "summary counted"

    # The stored conversation is whole: condensing changes what the model is sent, not history.
    detail = httpx.get(f"{server.api_url}/agent/execution/{result.execution_id}").json()
    assert len(detail["messages"]) == 8


def test_a_short_conversation_is_never_condensed(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.tool_calls([("fetch_page", {"n": 1})]), FakeOpenAI.text("Short."))
    agent = Agent(name="reader", model="openai/gpt-4o", tools=[fetch_page])
    result = runtime.run(agent, "Read page 1")
    assert result.status == "COMPLETED" and fake.request_count == 2
    assert not [e for e in result.events if e.type == "context_condensed"]


OVERFLOW = (
    "This model's maximum context length is 2000 tokens. However, your messages resulted in "
    "3410 tokens. Please reduce the length of the messages."
)


def test_a_provider_refusing_a_too_long_request_gets_a_condensed_one(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    # gpt-4o-mini's window is large here, so only the provider's refusal shows it is not.
    fake.script(
        FakeOpenAI.tool_calls([("fetch_page", {"n": 1})]),
        FakeOpenAI.tool_calls([("fetch_page", {"n": 2})]),
        FakeOpenAI.error(400, OVERFLOW),
        FakeOpenAI.text("Page 1 was fetched: lorem ipsum."),  # the summary call
        FakeOpenAI.text("Both pages are lorem ipsum."),
    )
    agent = Agent(name="reader", model="openai/gpt-4o-mini", instructions="Read.", tools=[fetch_page])
    result = runtime.run(agent, "Read pages 1 and 2")
    assert result.status == "COMPLETED", result.error
    assert result.output == "Both pages are lorem ipsum."
    assert fake.request_count == 5

    refused, summary_call, retried = fake.requests[2], fake.requests[3], fake.requests[4]
    assert summary_call["messages"][0] == {"role": "system", "content": SUMMARY_INSTRUCTIONS}
    assert "page 1:" in summary_call["messages"][1]["content"]
    sent_before, sent_after = non_system(refused), non_system(retried)
    assert len(sent_after) < len(sent_before)
    assert sent_after[1]["content"] == SUMMARY_PREFIX + "Page 1 was fetched: lorem ipsum."
    assert sent_after[-1]["role"] == "tool" and sent_after[-1]["content"].startswith("page 2:")
    (event,) = [e for e in result.events if e.type == "context_condensed"]
    assert event.content == "provider_refused"


def test_a_refused_request_with_nothing_left_to_condense_fails_with_the_providers_words(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    fake.script(FakeOpenAI.error(400, OVERFLOW))
    agent = Agent(name="reader", model="openai/gpt-4o-mini", tools=[fetch_page])
    result = runtime.run(agent, "x" * 100)
    assert result.status == "FAILED"
    assert result.error is not None and "maximum context length" in result.error
    assert "no older messages are left to condense" in result.error
    assert fake.request_count == 1
