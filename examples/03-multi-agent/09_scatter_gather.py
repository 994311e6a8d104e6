"""Scatter-gather: split a problem, run one worker agent per part in parallel, combine.

    python examples/03-multi-agent/09_scatter_gather.py

``scatter_gather(name, worker)`` builds a coordinator whose model calls the worker (an
``agent_tool``) once per part, all in one reply: the calls run as parallel child
executions, and the coordinator combines their answers.
"""

from agentspan.agents import Agent, AgentRuntime, scatter_gather
from agentspan.agents.testing import ToolCall, scripted_or_live

worker = Agent(
    name="city_scout",
    model=scripted_or_live(["Scouted: good food, good trains."]),
    instructions="Describe the city for a weekend trip in one line.",
)
coordinator = scatter_gather(
    "trip_compare",
    worker,
    model=scripted_or_live(
        [
            [ToolCall("city_scout", {"request": "Lyon"}), ToolCall("city_scout", {"request": "Porto"})],
            "Both Lyon and Porto make good weekends; pick by flight price.",
        ]
    ),
)

with AgentRuntime() as runtime:
    result = runtime.run(coordinator, "Compare Lyon and Porto for a weekend.")
    print(f"parts scattered: {[call['args']['request'] for call in result.tool_calls]}")
    print(f"all gathered: {all(call['status'] == 'completed' for call in result.tool_calls)}")
    print(result.output)

# expect: parts scattered: ['Lyon', 'Porto']
# expect: all gathered: True
# expect: Both Lyon and Porto make good weekends
