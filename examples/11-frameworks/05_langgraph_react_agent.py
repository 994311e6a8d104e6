"""LangGraph's create_react_agent, run durably on the Agentspan server.

    python examples/11-frameworks/05_langgraph_react_agent.py

``create_react_agent(model, tools, prompt=...)`` builds the classic ReAct graph;
``run(graph, prompt)`` reads it once and runs it on the Agentspan server: the server
makes the model calls, each tool call is a durable worker task in this process. With
OPENAI_API_KEY set the model is ``ChatOpenAI``; without it, LangChain's fake chat model
(given a ``bind_tools`` that LangGraph asks for), whose replies the server plays back.
"""

import os
import warnings
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.prebuilt import create_react_agent

from agentspan.agents import run

stock = {"espresso beans": 4}


@tool
def restock(item: str, quantity: int) -> str:
    """Order more of an item."""
    stock[item] = stock.get(item, 0) + quantity
    return f"ordered {quantity} x {item}; now {stock[item]} in stock"


class ScriptedChat(GenericFakeChatModel):
    """LangChain's fake chat model, accepting tools as LangGraph's ReAct agent requires."""

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> "ScriptedChat":
        return self


def chat_model() -> BaseChatModel:
    if os.environ.get("OPENAI_API_KEY"):
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model="gpt-4o-mini")
    call = {"name": "restock", "args": {"item": "espresso beans", "quantity": 20}, "id": "call_1"}
    return ScriptedChat(
        messages=iter([AIMessage("", tool_calls=[call]), "Ordered 20 bags of espresso beans."])
    )


with warnings.catch_warnings():  # LangGraph 1.x suggests langchain's create_agent instead; both work
    warnings.simplefilter("ignore")
    graph = create_react_agent(chat_model(), [restock], prompt="You run the café's stock. Be brief.")
result = run(graph, "We are down to 4 bags of espresso beans. Order 20 more.")
print(result.output)
print("restock returned:", result.tool_calls[0]["result"])
print("stock here now:", stock)

# requires: langgraph
# expect: restock returned: ordered 20 x espresso beans; now 24 in stock
# expect: stock here now: {'espresso beans': 24}
