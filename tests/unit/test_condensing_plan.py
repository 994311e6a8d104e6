"""Where a long conversation is cut, what the model is sent instead, and the context
window table (executors/condensing.py, providers/context_windows.py)."""

from __future__ import annotations

import pytest

from agentspan.protocol.messages import ChatMessage, MessageToolCall
from agentspan.server.engine.model import Condensation
from agentspan.server.executors.condensing import (
    SUMMARY_PREFIX,
    budget_tokens,
    condensed_view,
    estimated_tokens,
    exchanges,
    is_context_overflow,
    plan,
    summary_request,
    transcript,
)
from agentspan.server.providers import LlmRequest
from agentspan.server.providers.context_windows import DEFAULT_CONTEXT_WINDOW, context_window
from agentspan.server.settings import Settings


def conversation(turns: int, size: int = 400) -> list[ChatMessage]:
    """The task, then ``turns`` of (assistant calls a tool, tool result)."""
    messages: list[ChatMessage] = [{"role": "user", "content": "the task"}]
    for n in range(turns):
        call: MessageToolCall = {"id": f"c{n}", "name": "lookup", "arguments": f'{{"q": {n}}}'}
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": f"c{n}", "name": "lookup", "content": "r" * size})
    return messages


def test_the_cut_keeps_the_task_and_the_newest_messages_within_half_the_budget() -> None:
    messages = conversation(10)
    cut = plan(messages, None, budget=1_000)
    assert cut is not None
    assert cut.keep == [0] and cut.covered == list(range(1, cut.upto))
    assert messages[cut.upto]["role"] == "assistant", "never starts with a tool result"
    view = condensed_view(messages, Condensation(upto=cut.upto, summary="S", keep=cut.keep))
    assert view[0] == messages[0] and view[1] == {"role": "assistant", "content": SUMMARY_PREFIX + "S"}
    assert view[2:] == messages[cut.upto :]
    recent = estimated_tokens(LlmRequest(model="m", messages=messages[cut.upto :]))
    assert recent <= 500 + 10


def test_a_tool_result_is_never_separated_from_its_call() -> None:
    messages = conversation(6, size=50)
    for budget in range(60, 900, 7):
        cut = plan(messages, None, budget)
        if cut is not None:
            assert messages[cut.upto]["role"] != "tool"


def test_the_newest_message_is_sent_even_when_alone_too_big() -> None:
    messages = conversation(3, size=10_000)
    cut = plan(messages, None, budget=100)
    assert cut is not None and cut.upto == len(messages) - 2  # its call and the huge result


def test_a_second_cut_starts_where_the_first_ended_and_nothing_left_is_none() -> None:
    messages = conversation(10)
    first = plan(messages, None, budget=1_000)
    assert first is not None
    done = Condensation(upto=first.upto, summary="S", keep=first.keep)
    assert plan(messages, done, budget=1_000) is None, "nothing new to condense yet"
    longer = [*messages, *conversation(6)[1:]]
    second = plan(longer, done, budget=1_000)
    assert second is not None and second.upto > first.upto and second.covered[0] == first.upto
    assert second.keep == [0]


def test_transcript_carries_the_previous_summary_and_drops_the_oldest_when_too_long() -> None:
    messages = conversation(4, size=20)
    text = transcript(messages, Condensation(upto=1, summary="earlier", keep=[0]), [1, 2, 3, 4], 10_000)
    assert text.startswith("Summary so far: earlier\n")
    assert 'Assistant called lookup with {"q": 0}' in text and "Tool result (lookup): rrrr" in text
    short = transcript(messages, None, [1, 2, 3, 4], 100)
    assert '{"q": 0}' not in short and '{"q": 1}' in short
    assert exchanges(messages, [1, 2, 3, 4]) == 2


def test_budget_leaves_room_for_the_answer() -> None:
    assert budget_tokens(10_000, None) == 10_000 - 1_024
    assert budget_tokens(10_000, 500) == 9_500
    assert budget_tokens(1_000, 4_096) == 750, "at most a quarter of the window"


def test_the_summary_request() -> None:
    request = summary_request("gpt-4o", "text", {"apiVersion": "1"})
    assert request.messages == [{"role": "user", "content": "text"}] and request.tools == []
    assert request.temperature == 0.0 and request.options == {"apiVersion": "1"}


@pytest.mark.parametrize(
    ("model", "tokens"),
    [
        ("openai/gpt-4o", 128_000),
        ("openai/gpt-4o-mini", 128_000),
        ("openai/gpt-4", 8_192),
        ("gpt-4.1-nano", 1_047_576),
        ("anthropic/claude-sonnet-4-5", 200_000),
        ("ollama/some-local-model", DEFAULT_CONTEXT_WINDOW),
    ],
)
def test_context_window_table(model: str, tokens: int) -> None:
    assert context_window(model) == tokens


def test_operator_overrides_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSPAN_CONTEXT_WINDOWS", "gpt-4o=9000, ollama/llama=4096")
    monkeypatch.setenv("AGENTSPAN_DEFAULT_CONTEXT_WINDOW", "16000")
    settings = Settings.from_env()
    assert settings.context_windows == {"gpt-4o": 9000, "ollama/llama": 4096}
    assert context_window("openai/gpt-4o", settings.context_windows) == 9000
    assert context_window("ollama/llama3", settings.context_windows) == 4096
    assert context_window("x/y", settings.context_windows, settings.default_context_window) == 16000
    monkeypatch.setenv("AGENTSPAN_CONTEXT_WINDOWS", "gpt-4o")
    with pytest.raises(ValueError, match="MODEL=TOKENS"):
        Settings.from_env()


def test_a_transcript_too_long_for_one_message_cuts_it_instead_of_sending_nothing() -> None:
    messages = conversation(2, size=500)
    text = transcript(messages, None, [1, 2], 120)
    assert text.startswith("Tool result (lookup): rrrr") and text.endswith(" […]")
    assert len(text) <= 120 + len(" […]")


@pytest.mark.parametrize(
    "error",
    [
        "openai returned HTTP 400: This model's maximum context length is 8192 tokens (context_length_exceeded)",
        "anthropic returned HTTP 400: prompt is too long: 210000 tokens > 200000 maximum",
        "gemini returned HTTP 400: The input token count (1200000) exceeds the maximum number of tokens allowed",
        "bedrock returned HTTP 400: Input is too long for requested model.",
        "mistral returned HTTP 400: Prompt contains 40000 tokens, too many tokens for model",
    ],
)
def test_providers_words_for_a_request_too_long_are_recognised(error: str) -> None:
    assert is_context_overflow(error)


@pytest.mark.parametrize(
    "error",
    ["openai returned HTTP 401: Incorrect API key provided", "openai returned HTTP 400: Invalid tool schema"],
)
def test_other_errors_are_not_taken_for_a_request_too_long(error: str) -> None:
    assert not is_context_overflow(error)
