"""A Jupyter kernel per run: variables from one call are there in the next.

    python examples/09-code-execution/04_jupyter_state.py

``JupyterCodeExecutor`` keeps one kernel per agent execution, so the model can load data
in one call and analyse it in the next, like cells of a notebook. Another run gets a
fresh kernel. (No resource limits: use it for trusted, stateful analysis; needs
``ipykernel`` and ``jupyter_client``.) With no API key the model is scripted.
"""

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.code_executor import JupyterCodeExecutor
from agentspan.agents.testing import ToolCall, scripted_or_live

LOAD = "sales = {'mon': 120, 'tue': 95, 'wed': 143}\nprint(f'loaded {len(sales)} days')"
ANALYSE = "best = max(sales, key=sales.get)\nprint(f'best day: {best} ({sales[best]})')"

agent = Agent(
    name="notebook_analyst",
    model=scripted_or_live(
        [
            ToolCall("notebook_cell", {"code": LOAD}),
            ToolCall("notebook_cell", {"code": ANALYSE}),
            "Wednesday.",
        ]
    ),
    instructions="Load the data in one call, then analyse it in the next.",
    tools=[JupyterCodeExecutor(timeout=30).as_tool(name="notebook_cell")],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Which day had the most sales?")
    for call in result.tool_calls:
        print(f"cell: {call['result']['stdout'].strip()}")
    print(result.output)

# requires: ipykernel
# requires: jupyter_client
# timeout: 60
# expect: cell: loaded 3 days
# expect: cell: best day: wed (143)
