"""Providers through the real server: one pipeline mixing three wire protocols."""

from __future__ import annotations

from pydantic import BaseModel

from agentspan.agents import Agent, AgentRuntime, tool

from fakes.anthropic_server import FakeAnthropic
from fakes.gemini_server import FakeGemini
from fakes.openai_server import FakeOpenAI


@tool
def lookup(topic: str) -> str:
    """Look a topic up."""
    return f"facts about {topic}"


def test_one_pipeline_mixes_providers(
    runtime: AgentRuntime, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, fake_gemini: FakeGemini
) -> None:
    for fake in (fake_openai, fake_anthropic, fake_gemini):
        fake.reset()
    fake_anthropic.script(
        FakeAnthropic.tool_calls([("lookup", {"topic": "agents"})]), FakeAnthropic.text("notes")
    )
    fake_gemini.script(FakeGemini.text("draft"))
    fake_openai.script(FakeOpenAI.text("final article"))
    researcher = Agent(name="researcher", model="anthropic/claude-sonnet-4-5", tools=[lookup])
    writer = Agent(name="writer", model="google/gemini-2.5-flash")
    editor = Agent(name="editor", model="openai/gpt-4o")
    result = runtime.run(researcher >> writer >> editor, "AI agents")
    assert result.status == "COMPLETED" and result.output == "final article"
    assert result.sub_results == {"researcher": "notes", "writer": "draft", "editor": "final article"}
    # Each step's model saw the request and the previous step's output, in its own wire format.
    tool_result = fake_anthropic.requests[1]["messages"][-1]["content"][0]
    assert tool_result["type"] == "tool_result" and tool_result["content"] == "facts about agents"
    later = "AI agents\n\nPrevious agent output:\n"
    assert fake_gemini.requests[0]["contents"][-1]["parts"][0]["text"] == f"{later}notes"
    assert fake_openai.requests[0]["messages"][-1]["content"] == f"{later}draft"
    assert result.token_usage is not None and result.token_usage.total_tokens > 0


class WeatherReport(BaseModel):
    city: str
    temperature: float
    condition: str
    recommendation: str


def test_structured_output_on_anthropic_and_gemini(
    runtime: AgentRuntime, fake_anthropic: FakeAnthropic, fake_gemini: FakeGemini
) -> None:
    report = '{"city": "NYC", "temperature": 72, "condition": "Sunny", "recommendation": "Go out"}'
    fake_anthropic.reset()
    fake_anthropic.script(FakeAnthropic.text('{"city": "NYC"}'), FakeAnthropic.text(report))
    result = runtime.run(
        Agent(name="a_reporter", model="anthropic/claude-sonnet-4-5", output_type=WeatherReport), "NYC?"
    )
    assert isinstance(result.output, WeatherReport) and result.output.temperature == 72
    assert "missing required field" in str(
        fake_anthropic.requests[1]["messages"][-1]
    )  # invalid first try sent back
    fake_gemini.reset()
    fake_gemini.script(FakeGemini.text(report))
    result = runtime.run(
        Agent(name="g_reporter", model="google_gemini/gemini-2.5-flash", output_type=WeatherReport), "NYC?"
    )
    assert isinstance(result.output, WeatherReport) and result.output.city == "NYC"
    assert fake_gemini.requests[0]["generationConfig"]["responseMimeType"] == "application/json"
