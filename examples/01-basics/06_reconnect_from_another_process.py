"""Reconnect: a second process finds a running execution by id and drives it on.

    python examples/01-basics/06_reconnect_from_another_process.py

Nothing about an execution lives in the process that started it: the server keeps its whole
state. Here the first process starts a run that waits for an approval; a second process
(started with ``subprocess``, but it could be another machine, or tomorrow) attaches with
``AgentHandle(execution_id, runtime)``, reads what it waits for, approves it and follows it
to the end. The tool itself still runs in the first process, which serves it.
"""

import subprocess
import sys
import time

from agentspan.agents import Agent, AgentHandle, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool(approval_required=True)
def refund(order_id: str, amount: float) -> str:
    """Refund an order (needs a human's approval)."""
    return f"refunded {amount:.2f} on {order_id}"


agent = Agent(
    name="refund_desk",
    model=scripted_or_live([ToolCall("refund", {"order_id": "B-7", "amount": 19.5}), "The refund is done."]),
    instructions="Refund order B-7 (19.50), then confirm.",
    tools=[refund],
)


def other_process(execution_id: str) -> None:
    with AgentRuntime() as runtime:
        handle = AgentHandle(execution_id=execution_id, runtime=runtime)
        while not (status := handle.get_status()).is_waiting:
            time.sleep(0.1)
        pending = status.pending_tool or {}
        print(
            f"[other process] waiting for {pending['kind']} of {pending['tool_name']}{pending['parameters']}"
        )
        handle.approve()
        print(f"[other process] joined: {handle.join(timeout=30).output}")


if __name__ == "__main__" and len(sys.argv) > 1:
    other_process(sys.argv[1])
elif __name__ == "__main__":
    with AgentRuntime() as runtime:
        handle = runtime.start(agent, "Refund order B-7, please.")
        print(f"[first process] started {handle.execution_id}; handing it over")
        subprocess.run([sys.executable, __file__, handle.execution_id], check=True)
        result = handle.join(timeout=30)
        print(f"[first process] {result.status}: {result.tool_calls[0]['result']}")

# expect: [other process] waiting for approval of refund{'order_id': 'B-7', 'amount': 19.5}
# expect: [other process] joined: The refund is done.
# expect: [first process] COMPLETED: refunded 19.50 on B-7
