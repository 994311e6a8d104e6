"""signal() and stop(): steer a running agent, then end it cleanly.

    python examples/07-server-tools/06_signal_and_stop.py

``signal(execution_id, text)`` leaves a standing note that the model sees with every later
call (it is kept in the execution's state and recorded as a ``signal`` event, never in the
conversation). ``stop()`` ends the run at its next model call; an agent that is waiting for
a message gets ``{"_signal": "stop"}`` so its turn can finish. With no API key the model
is scripted.
"""

import time

from agentspan.agents import Agent, AgentRuntime, wait_for_message_tool
from agentspan.agents.testing import ToolCall, scripted_or_live

agent = Agent(
    name="night_shift",
    model=scripted_or_live([ToolCall("wait_for_task"), "Stopping as asked."]),
    instructions="Wait for tasks and do them. Stop when you receive {'_signal': 'stop'}.",
    tools=[wait_for_message_tool("wait_for_task", "Wait for the next task")],
)

with AgentRuntime() as runtime:
    handle = runtime.start(agent, "Work through the night's tasks.")
    while not handle.get_status().is_waiting:  # the agent now waits for a message
        time.sleep(0.1)
    handle.signal("Maintenance window from 02:00: do not restart anything.")
    handle.stop()
    result = handle.join(timeout=60)
    print(f"status: {result.status}, stopped on request: {result.finish_reason == 'stopped'}")
    print("the waiting call got:", result.tool_calls[0]["result"]["messages"])
    notes = [e.content for e in result.events if e.type == "signal"]
    print("signal recorded:", notes)

# expect: status: COMPLETED, stopped on request: True
# expect: the waiting call got: [{'_signal': 'stop'}]
# expect: signal recorded: ['Maintenance window from 02:00: do not restart anything.']
