"""LangChain's HumanInTheLoopMiddleware: the run waits durably for a person's decision.

    python examples/11-frameworks/04_langchain_human_approval.py

``interrupt_on={"delete_account": True}`` makes that tool approval-required on Agentspan:
before the call runs, the execution waits (no process has to stay alive; any process, or
``agentspan approve <id>``, can decide). Here two runs ask for the same deletion: one is
rejected, and the model is told why; one is approved, and the tool runs once. With
OPENAI_API_KEY set the chat model is ``ChatOpenAI``; without it, LangChain's fake chat
model, whose replies the server plays back.
"""

import os
import time

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from agentspan.agents import AgentRuntime

deleted: list[str] = []


@tool
def delete_account(user: str) -> str:
    """Delete a user's account for good."""
    deleted.append(user)
    return f"account {user} deleted"


def chat_model() -> BaseChatModel:
    if os.environ.get("OPENAI_API_KEY"):
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model="gpt-4o-mini")
    call = {"name": "delete_account", "args": {"user": "mallory"}, "id": "call_1"}
    return GenericFakeChatModel(messages=iter([AIMessage("", tool_calls=[call]), "Done as decided."]))


def graph() -> object:
    return create_agent(
        chat_model(),
        [delete_account],
        middleware=[HumanInTheLoopMiddleware(interrupt_on={"delete_account": True})],
        name="account_admin",
    )


with AgentRuntime() as runtime:
    for decision in ("reject", "approve"):
        handle = runtime.start(graph(), "Delete mallory's account.")
        while not (status := handle.get_status()).is_waiting:
            time.sleep(0.1)
        print(
            f"waiting for a person: {(status.pending_tool or {}).get('tool_name')}, tool runs so far: {len(deleted)}"
        )
        if decision == "reject":
            handle.reject("Accounts are deleted only after a 30-day notice.")
        else:
            handle.approve()
        call = handle.join(timeout=60).tool_calls[0]
        print(f"{decision}: {call['status']} -> {call.get('result') or call.get('error')}")
    print(f"delete_account ran {len(deleted)} time(s)")

# requires: langchain
# expect: waiting for a person: delete_account, tool runs so far: 0
# expect: reject: rejected -> {'rejected': True, 'reason': 'Accounts are deleted only after a 30-day notice.'}
# expect: approve: completed -> account mallory deleted
# expect: delete_account ran 1 time(s)
