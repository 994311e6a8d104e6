"""Conversation memory: a later run starts from the earlier exchanges.

    python examples/06-memory/01_conversation_memory.py

``ConversationMemory`` holds messages that are sent with every run of the agent, and
``run()`` adds each completed exchange to it. The server writes them as the run's first
messages, so what a run was given is recorded with it (and a resumed run gets the same).
"""

from agentspan.agents import Agent, AgentRuntime, ConversationMemory
from agentspan.agents.testing import scripted_or_live

memory = ConversationMemory(max_messages=20)
memory.add_system_message("The user prefers metric units.")


def assistant(reply: str) -> Agent:
    return Agent(name="remembering_assistant", model=scripted_or_live([reply]), memory=memory)


with AgentRuntime() as runtime:
    runtime.run(assistant("Nice to meet you, Alice!"), "Hi, I'm Alice and I'm 170 cm tall.")
    print(f"memory now holds {len(memory.to_chat_messages())} messages")
    second = runtime.run(assistant("You are Alice, 170 cm tall."), "What's my name and height?")
    for message in second.messages:
        print(f"  the model got: [{message['role']}] {message['content']}")
    print(f"answer: {second.output}")

# expect: memory now holds 3 messages
# expect:   the model got: [user] Hi, I'm Alice and I'm 170 cm tall.
# expect:   the model got: [assistant] Nice to meet you, Alice!
# expect:   the model got: [user] What's my name and height?
# expect: answer: You are Alice, 170 cm tall.
