"""Testing an agent offline with ``agentspan.agents.testing``: no server, no model, no key.

``mock_run`` plays a scripted run: the model's decisions come from the script, while the
agent's own tools really run. ``expect`` then checks the result. Run it with
``python examples/testing_example.py``; the same checks work in a pytest test.
"""

from __future__ import annotations

from agentspan.agents import Agent, AgentResult, tool
from agentspan.agents.testing import MockEvent, expect, mock_run


@tool(name="get_weather")
def fetch_weather(city: str) -> dict[str, object]:
    """Current weather for a city (canned data for the example)."""
    return {"city": city, "temp_c": 21, "sky": "sunny"}


weather_agent = Agent(
    name="weather",
    model="openai/gpt-4o-mini",
    instructions="Answer weather questions with the get_weather tool.",
    tools=[fetch_weather],
)


def scripted_run() -> AgentResult:
    """One model turn calling the tool, one turn answering; the tool itself really runs."""
    return mock_run(
        weather_agent,
        "What's the weather in Lisbon?",
        [
            MockEvent.thinking("weather: model call 1"),
            MockEvent.tool_call("get_weather", {"city": "Lisbon"}),
            MockEvent.thinking("weather: model call 2"),
            MockEvent.done("It is 21°C and sunny in Lisbon."),
        ],
    )


def main() -> None:
    result = scripted_run()
    (
        expect(result)
        .completed()
        .no_errors()
        .used_tool("get_weather", args={"city": "Lisbon"})
        .tools_used_exactly(["get_weather"])
        .output_contains("sunny")
        .max_turns(2)
    )
    print(f"tool result: {result.tool_calls[0]['result']}")
    print(f"output: {result.output}")
    print("all checks passed")


if __name__ == "__main__":
    main()
