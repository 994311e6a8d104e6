"""Limits of local code execution: a call past its timeout is killed and the model is told.

    python examples/09-code-execution/03_code_timeout.py

``LocalCodeExecutor(timeout=2).as_tool(name="quick_python")`` gives an ``execute_code``-style tool (named ``quick_python`` here) whose runs are
killed (the whole process group) after 2 seconds. The tool never raises for what the code
does: the model gets ``status: error`` with ``TIMED OUT`` in stderr and can try something
else, as the scripted model does here. With no API key the model is scripted.
"""

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.code_executor import LocalCodeExecutor
from agentspan.agents.testing import ToolCall, scripted_or_live

SLOW = "import time\nprint('counting sheep...', flush=True)\ntime.sleep(30)"
FAST = "print(sum(range(1_000_001)))"

agent = Agent(
    name="patient_coder",
    model=scripted_or_live(
        [
            ToolCall("quick_python", {"code": SLOW}),
            ToolCall("quick_python", {"code": FAST}),  # the model sees the timeout and tries again
            "The sum of 0..1,000,000 is 500000500000.",
        ]
    ),
    instructions="Run Python with quick_python. If a run times out, find a faster way.",
    tools=[LocalCodeExecutor(timeout=2).as_tool(name="quick_python")],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Add up the numbers from 0 to one million.")
    print(result.output)
    for n, call in enumerate(result.tool_calls, 1):
        ran = call["result"]
        print(f"run {n}: {ran['status']}; stdout {ran['stdout'].strip()!r}; stderr {ran['stderr'].strip()!r}")

# expect: run 1: error; stdout 'counting sheep...'; stderr 'TIMED OUT after 2
# expect: run 2: success; stdout '500000500000'
