"""Hello, world: one agent, one question, one durable answer.

    python examples/01-basics/01_hello_world.py

With no API key the model is scripted (the reply below), so this runs offline. Set
OPENAI_API_KEY (or AGENTSPAN_LLM_MODEL, e.g. anthropic/claude-sonnet-4-5) to talk to a
real model. ``AgentRuntime()`` starts a local server on :6767 when none is running; the
execution it records stays browsable at http://localhost:6767.
"""

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.testing import scripted_or_live

agent = Agent(
    name="greeter",
    model=scripted_or_live(["Hello! I am an agent whose every step is saved."]),
    instructions="Greet the user in one short sentence.",
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Say hello.")
    print(result.output)
    print(f"status: {result.status}, execution: {result.execution_id}")

# expect: Hello! I am an agent whose every step is saved.
# expect: status: COMPLETED
