"""Router: pick exactly one specialist for a request, by an agent or by your own function.

    python examples/03-multi-agent/04_router.py

``strategy="router"`` asks the ``router`` which sub-agent should answer, then runs only that
one. The router can be an agent (its answer names a sub-agent) or a plain Python function
``(prompt) -> name``, which runs in your process as a durable worker task.
"""

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.testing import scripted_or_live

coder = Agent(
    name="route_coder",
    model=scripted_or_live(["def add(a, b):\n    return a + b"]),
    introduction="Writes code.",
)
poet = Agent(
    name="route_poet", model=scripted_or_live(["Roses bloom in rows."]), introduction="Writes poems."
)

by_agent = Agent(
    name="desk_by_agent",
    agents=[coder, poet],
    strategy="router",
    router=Agent(
        name="route_chooser", model=scripted_or_live(["route_coder"]), instructions="Name the best agent."
    ),
)

calls: list[str] = []


def by_keyword(prompt: str) -> str:
    calls.append(prompt)
    return "route_coder" if "function" in prompt else "route_poet"


by_function = Agent(name="desk_by_function", agents=[coder, poet], strategy="router", router=by_keyword)

with AgentRuntime() as runtime:
    first = runtime.run(by_agent, "Write a function that adds two numbers.")
    print(f"agent router chose {list(first.sub_results)}: {first.output.splitlines()[0]}")
    second = runtime.run(by_function, "A short poem about gardens, please.")
    print(f"function router chose {list(second.sub_results)}: {second.output}")
    print(f"the function ran {len(calls)} time(s), here in this process")

# expect: agent router chose ['route_coder']: def add(a, b):
# expect: function router chose ['route_poet']: Roses bloom in rows.
# expect: the function ran 1 time(s), here in this process
