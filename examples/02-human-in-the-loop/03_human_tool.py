"""Asking a person: ``human_tool`` lets the model put a question to a human and wait.

    python examples/02-human-in-the-loop/03_human_tool.py

The call needs no worker: the server records the question and the execution waits, for
seconds or for days, until someone answers with ``handle.send(text)`` (from any process).
The answer becomes the tool's result, and the model carries on with it.
"""

import time

from agentspan.agents import Agent, AgentRuntime, human_tool
from agentspan.agents.testing import ToolCall, scripted_or_live

ask_user = human_tool(name="ask_user", description="Ask the user for a missing detail.")

agent = Agent(
    name="ticket_filer",
    model=scripted_or_live(
        [
            ToolCall("ask_user", {"question": "Which laptop model is it?"}),
            "Ticket filed for a ThinkPad X1 whose screen flickers.",
        ]
    ),
    instructions="File an IT ticket. If you need details, ask the user.",
    tools=[ask_user],
)

with AgentRuntime() as runtime:
    handle = runtime.start(agent, "My laptop screen flickers, please file a ticket.")
    while not (status := handle.get_status()).is_waiting:
        time.sleep(0.05)
    pending = status.pending_tool or {}
    print(f"the agent asks ({pending['kind']}): {pending['parameters']['question']}")
    handle.send("A ThinkPad X1")
    result = handle.join(timeout=30)
    print(f"the tool returned: {result.tool_calls[0]['result']}")
    print(result.output)

# expect: the agent asks (human): Which laptop model is it?
# expect: the tool returned: A ThinkPad X1
# expect: Ticket filed for a ThinkPad X1
