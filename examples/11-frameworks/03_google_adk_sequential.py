"""A Google ADK pipeline: sub_agents in sequence, passing state through output_key.

    python examples/11-frameworks/03_google_adk_sequential.py

ADK's ``SequentialAgent`` runs on the server as a durable pipeline; each ``LlmAgent`` is a
child execution. The researcher's answer is saved in the run's state under its
``output_key``; the writer's tool reads it back through ADK's own ``tool_context.state``.
The state lives in the server's records, so a crash never loses or repeats a change. With
no API key the model is ``offline/basic``, the server's built-in deterministic model: it
calls each offered tool once, then answers with what the tools returned.
"""

import os

from google.adk.agents import Agent, SequentialAgent
from google.adk.tools.tool_context import ToolContext

from agentspan.agents import run

MODEL = os.environ.get("AGENTSPAN_LLM_MODEL") or (
    "openai/gpt-4o-mini" if os.environ.get("OPENAI_API_KEY") else "offline/basic"
)


def search_field_notes(query: str) -> str:
    """Search the field notes for a topic."""
    return f"3 notes about {query}: bees dance to share where flowers are"


def read_research_notes(tool_context: ToolContext) -> str:
    """Read the research gathered by the previous step."""
    return f"state['research'] = {tool_context.state.get('research')!r}"


researcher = Agent(
    name="researcher",
    model=MODEL,
    instruction="Research the topic with search_field_notes and summarise what you found.",
    tools=[search_field_notes],
    output_key="research",
)
writer = Agent(
    name="writer",
    model=MODEL,
    instruction="Read the research with read_research_notes, then write a two-line article.",
    tools=[read_research_notes],
)
pipeline = SequentialAgent(name="article_pipeline", sub_agents=[researcher, writer])

result = run(pipeline, "Bees")
print(result.output)
print("steps:", list(result.sub_results))

# requires: google.adk
# expect: steps: ['researcher', 'writer']
# expect: read_research_notes: state['research'] = 'Here is what I found:
# expect: 3 notes about Bees: bees dance to share where flowers are
