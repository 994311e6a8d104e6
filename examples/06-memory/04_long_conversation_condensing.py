"""Long conversations: when the next request would not fit the model's context window, the
server condenses the older messages into a summary (a recorded step) and carries on.

    python examples/06-memory/04_long_conversation_condensing.py

Here a memory of 40 long exchanges (about 45,000 tokens) is given to an agent whose model
has a 32,000-token window. Before the model call, the server makes one summary call over
the older messages and sends the task, the summary and the newest messages instead. The
stored conversation is never rewritten: only what the model is sent changes.

This example always uses ``offline/basic``, even with an API key set: it has no entry in the
window table, so it gets the default 32,000 tokens (a real model's window is larger, e.g.
128,000 for gpt-4o-mini), and a scripted model is never condensed (its turns are counted
from the messages it is sent).
"""

from agentspan.agents import Agent, AgentRuntime, ConversationMemory

memory = ConversationMemory()
for day in range(1, 41):
    memory.add_user_message(f"Day {day} log: " + "sensor reading nominal; " * 170)
    memory.add_assistant_message(f"Noted day {day}.")

agent = Agent(name="log_keeper", model="offline/basic", instructions="Keep the plant's log.", memory=memory)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Summarise the month.")
    for event in result.events:
        if event.type == "context_condensed":
            data = event.data or {}
            print(f"condensed: {data['messagesBefore']} messages sent as {data['messagesAfter']}")
    purposes = [(e.data or {}).get("purpose") for e in result.events if e.type == "llm_call"]
    print(f"model calls: {purposes}")
    print(f"stored conversation still has {len(result.messages)} messages")
    print(f"status: {result.status}")

# expect: condensed: 81 messages sent as 28
# expect: model calls: ['condense', None]
# expect: stored conversation still has 82 messages
# expect: status: COMPLETED
# timeout: 60
