"""Structured output: the answer is a typed object, checked by the server.

    python examples/01-basics/03_structured_output.py

``output_type`` sends the model a JSON schema. The server checks every final answer against
it and sends a wrong one back with the problems (an ``output_invalid`` event), so
``result.output`` is an instance of your class. Offline, the scripted model first forgets a
field, is corrected, then answers properly.
"""

from pydantic import BaseModel

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.testing import scripted_or_live


class Forecast(BaseModel):
    city: str
    high_c: int
    summary: str


agent = Agent(
    name="forecaster",
    model=scripted_or_live(
        [
            '{"city": "Oslo", "summary": "cold and clear"}',
            '{"city": "Oslo", "high_c": -3, "summary": "cold and clear"}',
        ]
    ),
    instructions="Give tomorrow's forecast for the city as JSON.",
    output_type=Forecast,
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Forecast for Oslo, please.")
    forecast = result.output
    print(f"type: {type(forecast).__name__}, city: {forecast.city}, high: {forecast.high_c}")
    for event in result.events:
        if event.type == "output_invalid":
            print(f"sent back: {event.content}")

# expect: type: Forecast, city: Oslo, high: -3
# expect: sent back: $: missing required field 'high_c'
