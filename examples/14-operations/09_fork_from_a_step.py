"""Fork a finished run from one of its model calls: "run again from here".

    python examples/14-operations/09_fork_from_a_step.py

A fork is a new execution whose history up to the chosen step is copied from the
original: nothing before that step runs again (no tool call, no model call, no tokens
spent twice). From there it makes that model call anew, here with edited instructions and
another model, and carries on. The same is a button on every model call in the web UI's
timeline, and ``POST /api/agent/{id}/fork``; here the CLI does it.
"""

import json
import os
import subprocess
import sys

from agentspan.agents import Agent, AgentHandle, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live

RUNS: list[str] = []


@tool
def fetch_invoice_for_fork(invoice_id: str) -> dict[str, object]:
    """Fetch an invoice (slow and costly in real life)."""
    RUNS.append(invoice_id)
    return {"invoice_id": invoice_id, "total": 250, "currency": "EUR"}


agent = Agent(
    name="invoice_explainer_fork",
    model=scripted_or_live(
        [ToolCall("fetch_invoice_for_fork", {"invoice_id": "INV-9"}), "INV-9 is 250 EUR."]
    ),
    instructions="Explain the invoice in one long paragraph.",
    tools=[fetch_invoice_for_fork],
)

with AgentRuntime() as runtime:
    first = runtime.run(agent, "Explain invoice INV-9")
    print(f"original: {first.output}")
    # The step to fork from: the model call that came after the tool's result.
    step = [e.id for e in first.events if e.type == "llm_call"][-1]
    cli = [sys.executable, "-m", "agentspan.cli", "executions", "fork", first.execution_id]
    cli += ["--from-step", str(step), "--instructions", "Answer in five words.", "--model", "offline/basic"]
    done = subprocess.run([*cli, "--json"], capture_output=True, text=True, env=os.environ, check=True)
    fork = json.loads(done.stdout)
    print(
        f"forked from step {fork['forkedFrom']['step']} of the original: {fork['forkedFrom']['executionId'] == first.execution_id}"
    )
    result = AgentHandle(execution_id=fork["executionId"], runtime=runtime).join(timeout=60)
    print(f"fork: {result.status}")
    print(f"the tool ran {len(RUNS)} time(s) in all")

# expect: original: INV-9 is 250 EUR.
# expect: of the original: True
# expect: fork: COMPLETED
# expect: the tool ran 1 time(s) in all
