"""A LangChain / LangGraph agent from ``create_agent``, run durably with ``run()``.

    python examples/11-frameworks/02_langchain_create_agent.py

``create_agent`` builds a LangGraph graph; ``run(graph, prompt)`` reads it once in this
process and runs it on the Agentspan server: the server makes the model calls, each tool
call is a durable worker task here. With OPENAI_API_KEY set the chat model is
``ChatOpenAI``; without it, LangChain's own ``GenericFakeChatModel``, whose scripted replies
the server plays back (no endpoint, no key).
"""

import os

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from agentspan.agents import run

looked_up: list[str] = []


@tool
def track_parcel(tracking_id: str) -> str:
    """Where a parcel is now."""
    looked_up.append(tracking_id)
    return f"{tracking_id}: at the Rotterdam depot, out for delivery tomorrow"


model: BaseChatModel
if os.environ.get("OPENAI_API_KEY"):
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="gpt-4o-mini")
else:  # LangChain's fake model: one tool call, then the answer
    call = {"name": "track_parcel", "args": {"tracking_id": "NL-4471"}, "id": "call_1"}
    model = GenericFakeChatModel(messages=iter([AIMessage("", tool_calls=[call]), "It arrives tomorrow."]))

graph = create_agent(model, [track_parcel], system_prompt="Answer parcel questions briefly.", name="parcels")
result = run(graph, "Where is parcel NL-4471?")
print(result.output)
print(f"track_parcel ran {len(looked_up)} time(s) here; recorded: {result.tool_calls[0]['result']}")

# requires: langchain
# expect: track_parcel ran 1 time(s) here; recorded: NL-4471: at the Rotterdam depot
