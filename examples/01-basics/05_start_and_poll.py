"""Long-running work: start an execution, get a handle, poll its status, join later.

    python examples/01-basics/05_start_and_poll.py

``runtime.start`` returns as soon as the server has stored the execution. The handle is just
an id plus a client: you can poll ``get_status()``, do other work, and ``join()`` for the
result whenever you like (the execution runs on the server either way).
"""

import time

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool
def build_report(quarter: str) -> str:
    """Build a (slow) quarterly report."""
    time.sleep(1.5)  # stands in for real work
    return f"report for {quarter}: revenue up 12%"


agent = Agent(
    name="reporting",
    model=scripted_or_live([ToolCall("build_report", {"quarter": "Q3"}), "Q3 revenue was up 12%."]),
    instructions="Build the report, then summarise it in one line.",
    tools=[build_report],
)

with AgentRuntime() as runtime:
    handle = runtime.start(agent, "Summarise Q3.")
    print(f"started {handle.execution_id}")
    seen = []
    while not (status := handle.get_status()).is_complete:
        if status.status not in seen:
            seen.append(status.status)
        time.sleep(0.2)
    print(f"statuses seen while polling: {seen}, then {status.status}")
    result = handle.join(timeout=30)
    print(f"tool result: {result.tool_calls[0]['result']}")
    print(result.output)

# expect: statuses seen while polling: ['RUNNING'], then COMPLETED
# expect: tool result: report for Q3: revenue up 12%
