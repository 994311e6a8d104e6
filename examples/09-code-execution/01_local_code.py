"""Code execution: the model writes Python, a sandboxed local process runs it.

    python examples/09-code-execution/01_local_code.py

``local_code_execution=True`` gives the agent a ``<agent name>_execute_code`` tool. Each
call runs in a fresh temporary directory, in its own process group with CPU, memory and
process limits, and with none of this worker's environment variables. The call is a
durable worker step like any tool. With no API key the model is scripted.
"""

import os

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.testing import ToolCall, scripted_or_live

os.environ["DEMO_SECRET"] = "not for the sandbox"  # the code below cannot see it

CODE = """
import os
primes = [n for n in range(2, 50) if all(n % d for d in range(2, n))]
print("primes:", primes)
print("sum:", sum(primes))
print("DEMO_SECRET visible:", "DEMO_SECRET" in os.environ)
"""

agent = Agent(
    name="calculator",
    model=scripted_or_live(
        [ToolCall("calculator_execute_code", {"code": CODE}), "The primes below 50 sum to 328."]
    ),
    instructions="Answer by writing and running Python code.",
    local_code_execution=True,
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "What is the sum of the primes below 50?")
    print(result.output)
    ran = result.tool_calls[0]["result"]
    print(f"execute_code: {ran['status']}")
    print(ran["stdout"])

# expect: execute_code: success
# expect: sum: 328
# expect: DEMO_SECRET visible: False
