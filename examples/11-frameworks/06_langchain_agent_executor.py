"""LangChain's classic AgentExecutor (a tool-calling agent), run durably with run().

    python examples/11-frameworks/06_langchain_agent_executor.py

An ``AgentExecutor`` over ``create_tool_calling_agent(model, tools, prompt)`` is read once:
the prompt's system message becomes the instructions, ``max_iterations`` the turn limit,
and the executor's tools durable worker tasks in this process; the server makes the model
calls. ``result.output`` is what the executor's ``"output"`` would be. With
OPENAI_API_KEY set the model is ``ChatOpenAI``; without it, LangChain's fake chat model
(given the ``bind_tools`` the agent asks for), whose replies the server plays back.
"""

import os
from collections.abc import Sequence
from typing import Any

from langchain_classic.agents import AgentExecutor, create_tool_calling_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

from agentspan.agents import run


@tool
def order_status(order_id: str) -> str:
    """The delivery status of an order."""
    return f"order {order_id}: delivered to the parcel locker at 09:12"


class ScriptedChat(GenericFakeChatModel):
    """LangChain's fake chat model, accepting tools as create_tool_calling_agent requires."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> "ScriptedChat":
        return self


def chat_model() -> BaseChatModel:
    if os.environ.get("OPENAI_API_KEY"):
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model="gpt-4o-mini")
    call = {"name": "order_status", "args": {"order_id": "B2"}, "id": "call_1"}
    return ScriptedChat(messages=iter([AIMessage("", tool_calls=[call]), "B2 is in the parcel locker."]))


prompt = ChatPromptTemplate.from_messages(
    [("system", "You are a support agent."), ("human", "{input}"), ("placeholder", "{agent_scratchpad}")]
)
agent = create_tool_calling_agent(chat_model(), [order_status], prompt)
executor = AgentExecutor(agent=agent, tools=[order_status], max_iterations=4)

result = run(executor, "Where is order B2?")
print(result.output)
print("order_status returned:", result.tool_calls[0]["result"])

# requires: langchain_classic
# expect: B2 is in the parcel locker.
# expect: order_status returned: order B2: delivered to the parcel locker at 09:12
