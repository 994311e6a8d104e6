"""Semantic memory: facts recalled by relevance to the prompt, added to the instructions.

    python examples/06-memory/03_semantic_memory.py

``SemanticMemory`` (here with the in-process ``InMemoryStore``, ranked by BM25) is searched
with each run's prompt when the run starts; the relevant facts go to the server with the
start request and are added to the agent's instructions for every model call of that run.
A ``before_model`` callback prints what the model is sent, to show it.
"""

from typing import Any

from agentspan.agents import Agent, AgentRuntime, SemanticMemory
from agentspan.agents.testing import scripted_or_live

memory = SemanticMemory(max_results=2)
memory.add("Alice's favourite editor is Helix.")
memory.add("Alice deploys with Kubernetes on Fridays.")
memory.add("The office coffee machine is on the third floor.")


def show_instructions(messages: list[dict[str, Any]], **kwargs: Any) -> None:
    system = messages[0]["content"]
    print("the model's instructions:\n" + system)


agent = Agent(
    name="memory_assistant",
    model=scripted_or_live(["Set Alice up with Helix."]),
    instructions="You help set up developer laptops.",
    memory=memory,
    before_model_callback=show_instructions,
)

with AgentRuntime() as runtime:
    print(f"recalled for the prompt: {memory.search('Which editor does Alice use?')}")
    result = runtime.run(agent, "Which editor does Alice use?")
    print(result.output)

# expect: recalled for the prompt: ["Alice's favourite editor is Helix."
# expect: Relevant context from memory:
# expect:   1. Alice's favourite editor is Helix.
