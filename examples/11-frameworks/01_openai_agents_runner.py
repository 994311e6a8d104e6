"""An OpenAI Agents SDK agent, unchanged, made durable by importing Runner from agentspan.

    python examples/11-frameworks/01_openai_agents_runner.py

The agent, its ``@function_tool`` and ``Runner.run_sync`` are the SDK's own; only the
``Runner`` import changes. The Agentspan server makes the model calls and records every
step; the tool runs in this process as a durable worker task. With no API key the model
is ``offline/basic``, the server's built-in deterministic model: it calls each offered tool
once, then answers with what the tools returned.
"""

import os

from agents import Agent, function_tool

from agentspan import Runner  # instead of: from agents import Runner

# A real model when one is configured; otherwise the built-in offline model.
MODEL = os.environ.get("AGENTSPAN_LLM_MODEL") or (
    "gpt-4o-mini" if os.environ.get("OPENAI_API_KEY") else "offline/basic"
)
calls: list[str] = []


@function_tool
def weather_report(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city to look up.
    """
    calls.append(city)
    return f"18C and cloudy in {city}"


agent = Agent(name="Weather agent", instructions="Answer briefly.", model=MODEL, tools=[weather_report])

result = Runner.run_sync(agent, "What's the weather in Paris?")
print(result.final_output)
print(f"weather_report ran {len(calls)} time(s) in this process, for {calls}")
print(f"recorded in execution {result.execution_id}")
print(f"recorded result: {result.result.tool_calls[0]['result']}")

# requires: agents
# expect: weather_report ran 1 time(s) in this process, for ['Paris']
# expect: recorded result: 18C and cloudy in Paris
