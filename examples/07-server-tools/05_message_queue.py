"""wait_for_message_tool: a running agent takes messages sent to it from elsewhere.

    python examples/07-server-tools/05_message_queue.py

The agent's tool call waits on the server (no worker, no process kept busy) until a
message arrives; another thread here plays "someone else" and sends two orders with
``send_message``. Each message is stored durably, in order, and delivered to exactly one
call. With no API key the model is scripted (two waits, then a summary).
"""

import threading
import time

from agentspan.agents import Agent, AgentRuntime, wait_for_message_tool
from agentspan.agents.testing import ToolCall, scripted_or_live

inbox = wait_for_message_tool("wait_for_order", "Wait for the next order")
agent = Agent(
    name="order_clerk",
    model=scripted_or_live(
        [ToolCall("wait_for_order"), ToolCall("wait_for_order"), "Confirmed 2 x A-17 and 1 x B-4."]
    ),
    instructions="Wait for two orders, one at a time, then confirm both in one sentence.",
    tools=[inbox],
)

with AgentRuntime() as runtime:
    handle = runtime.start(agent, "Take the next two orders.")

    def customer() -> None:  # another thread, or any other process that knows the id
        time.sleep(0.5)
        runtime.send_message(handle.execution_id, {"sku": "A-17", "qty": 2})
        handle.send_message("1 x B-4 please")  # a plain string arrives as {"message": ...}

    threading.Thread(target=customer).start()
    result = handle.join(timeout=60)
    print(result.output)
    for call in result.tool_calls:
        print("wait_for_order got:", call["result"]["messages"])
    print("messages recorded:", sum(e.type == "message_received" for e in result.events))

# expect: wait_for_order got: [{'sku': 'A-17', 'qty': 2}]
# expect: wait_for_order got: [{'message': '1 x B-4 please'}]
# expect: messages recorded: 2
