"""A stateful agent for the kill test: ``slow_tally`` logs each run as
``<pid> <idempotency key> <attempt>`` to ``$CHAOS_LOG`` and, in a process started with
``CHAOS_SLOW=1``, hangs in its first run (so it can be killed mid-call)."""

from __future__ import annotations

import os
import sys
import time

from agentspan.agents import Agent, AgentConfig, AgentRuntime, ToolContext, tool
from agentspan.agents.testing import ScriptedModel, ToolCall


@tool(stateful=True)
def slow_tally(context: ToolContext) -> str:
    """Counts, slowly."""
    with open(os.environ["CHAOS_LOG"], "a") as log:
        log.write(f"{os.getpid()} {context.idempotency_key} {context.attempt}\n")
    if os.environ.get("CHAOS_SLOW") == "1":
        time.sleep(120)
    return f"counted in {os.getpid()}"


def agent() -> Agent:
    return Agent(
        name="stateful_chaos", model=ScriptedModel([ToolCall("slow_tally", {}), "done"]), tools=[slow_tally]
    )


if __name__ == "__main__":
    config = AgentConfig(server_url=os.environ["AGENTSPAN_SERVER_URL"], auto_start_server=False)
    with AgentRuntime(config=config) as runtime:
        if sys.argv[1] == "start":
            handle = runtime.start(agent(), "count")
            print(handle.execution_id, flush=True)
            handle.join(timeout=300)
        else:  # serve the same tool from the shared queue only
            runtime.serve(agent())
