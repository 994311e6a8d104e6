"""Conversation memory: a later run starts from the earlier exchanges.

    python examples/06-memory/01_conversation_memory.py

``ConversationMemory`` holds messages that are sent with every run of the agent, and
``run()`` adds each completed exchange to it. The server writes them as the run's first
messages, so what a run was given is recorded with it (and a resumed run gets the same).

Offline this uses the built-in ``offline/basic`` model rather than a scripted one: a
``ScriptedModel`` picks its turn by counting the assistant messages in the conversation,
remembered ones included, so it cannot be combined with memory yet.
"""

import os

from agentspan.agents import Agent, AgentRuntime, ConversationMemory

# A real model when one is configured (as in every example), else the offline model.
MODEL = os.environ.get("AGENTSPAN_LLM_MODEL") or (
    "openai/gpt-4o-mini" if os.environ.get("OPENAI_API_KEY") else "offline/basic"
)

memory = ConversationMemory(max_messages=20)
memory.add_system_message("The user prefers metric units.")
agent = Agent(name="remembering_assistant", model=MODEL, instructions="Answer briefly.", memory=memory)


with AgentRuntime() as runtime:
    runtime.run(agent, "Hi, I'm Alice and I'm 170 cm tall.")
    print(f"memory now holds {len(memory.to_chat_messages())} messages")
    second = runtime.run(agent, "What's my name and height?")
    for message in second.messages:
        print(f"  the model got: [{message['role']}] {message['content'][:60]}")
    print(f"answer: {second.output}")

# expect: memory now holds 3 messages
# expect:   the model got: [user] Hi, I'm Alice and I'm 170 cm tall.
# expect:   the model got: [assistant] Offline model reply to: Hi, I'm Alice
# expect:   the model got: [user] What's my name and height?
# expect: answer: Offline model reply to: What's my name and height?
