"""Human input: every wait says what answer it takes (``response_schema``), a tool may
ask for more than yes/no (feedback, edited arguments), and an answer that does not fit
is refused with a 400 naming the problem, before anything is recorded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentAPIError, AgentRuntime, ConfigurationError, human_tool, tool

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


ran: list[dict[str, Any]] = []


@tool(approval_required=True)
def transfer_funds(from_acct: str, to_acct: str, amount: float) -> dict[str, Any]:
    """Transfer funds. Requires human approval."""
    ran.append({"from": from_acct, "to": to_acct, "amount": amount})
    return {"status": "completed", "amount": amount}


EDITABLE = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean"},
        "feedback": {"type": "string", "description": "Notes for the agent"},
        "arguments": {"type": "object", "description": "Run the call with these arguments instead"},
    },
    "required": ["approved"],
}


@tool(approval_required=True, response_schema=EDITABLE)
def publish(title: str, body: str) -> dict[str, str]:
    """Publish an article. Requires editorial approval."""
    ran.append({"title": title, "body": body})
    return {"status": "published", "title": title}


def started(runtime: AgentRuntime, fake: FakeOpenAI, tool_: Any, args: dict[str, Any]) -> Any:
    ran.clear()
    fake.script(FakeOpenAI.tool_calls([(tool_._tool_def.name, args)]), FakeOpenAI.text("All done."))
    agent = Agent(name=f"hitl_{tool_._tool_def.name}", model="openai/gpt-4o", tools=[tool_])
    handle = runtime.start(agent, "please do it")
    wait_for(lambda: handle.get_status().is_waiting)
    return handle


def test_an_approval_carries_the_reference_response_schema(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    handle = started(runtime, fake, transfer_funds, {"from_acct": "a", "to_acct": "b", "amount": 5})
    pending = handle.get_status().pending_tool
    schema = pending["response_schema"]
    assert schema["required"] == ["approved"]
    assert schema["properties"]["approved"]["type"] == "boolean"
    assert schema["properties"]["reason"]["type"] == "string"
    # What the reference's interactive examples do: one answer per schema property.
    answer = {
        field: (True if spec["type"] == "boolean" else "fine by me")
        for field, spec in schema["properties"].items()
    }
    handle.respond(answer)
    result = handle.join(timeout=10)
    assert result.status == "COMPLETED" and ran == [{"from": "a", "to": "b", "amount": 5.0}]
    waiting = next(e for e in result.events if e.type == "waiting")
    assert waiting.pending_tool is not None and waiting.pending_tool["response_schema"] == schema


def test_an_answer_that_does_not_fit_is_a_400_and_nothing_is_decided(
    runtime: AgentRuntime, fake: FakeOpenAI, server: ThreadServer
) -> None:
    handle = started(runtime, fake, transfer_funds, {"from_acct": "a", "to_acct": "b", "amount": 5})
    url = f"{server.api_url}/agent/{handle.execution_id}/respond"
    for body, says in (({}, "approved"), ({"approved": True, "reason": 42}, "reason")):
        response = httpx.post(url, json=body, timeout=10)
        assert response.status_code == 400, body
        assert says in response.json()["detail"]
    assert handle.get_status().is_waiting and ran == []
    handle.approve()
    assert handle.join(timeout=10).status == "COMPLETED"


def test_an_answer_is_checked_against_the_tools_own_schema(
    runtime: AgentRuntime, fake: FakeOpenAI, server: ThreadServer
) -> None:
    handle = started(runtime, fake, publish, {"title": "Draft", "body": "text"})
    url = f"{server.api_url}/agent/{handle.execution_id}/respond"
    response = httpx.post(url, json={"approved": True, "feedback": ["not", "text"]}, timeout=10)
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert "'publish'" in problem["detail"] and "$.feedback" in problem["detail"]
    assert handle.get_status().is_waiting and ran == []


def test_a_richer_schema_takes_edited_arguments_checked_against_the_tool(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    handle = started(runtime, fake, publish, {"title": "Draft", "body": "typo"})
    assert handle.get_status().pending_tool["response_schema"] == EDITABLE
    with pytest.raises(AgentAPIError) as err:
        handle.respond({"approved": True, "arguments": {"title": 7}})
    assert err.value.status_code == 400
    assert "$.arguments" in str(err.value) and "body" in str(err.value)
    handle.respond({"approved": True, "arguments": {"title": "Final", "body": "fixed"}})
    result = handle.join(timeout=10)
    assert ran == [{"title": "Final", "body": "fixed"}], "the call ran with the person's arguments"
    approval = next(e for e in result.events if e.type == "approval")
    assert approval.data is not None and approval.data["extra"]["arguments"]["title"] == "Final"


def test_feedback_on_a_rejection_reaches_the_model(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    handle = started(runtime, fake, publish, {"title": "Draft", "body": "too long"})
    handle.respond({"approved": False, "feedback": "Shorten it to one paragraph."})
    result = handle.join(timeout=10)
    assert ran == [] and result.is_rejected
    assert "Shorten it to one paragraph." in fake.requests[1]["messages"][-1]["content"]


def test_response_schema_needs_an_approval_and_an_approved_boolean(runtime: AgentRuntime) -> None:
    with pytest.raises(ConfigurationError, match="approval_required"):

        @tool(response_schema=EDITABLE)
        def lonely() -> str:
            """No approval."""
            return "x"

    @tool(
        approval_required=True, response_schema={"type": "object", "properties": {"ok": {"type": "string"}}}
    )
    def odd() -> str:
        """Bad schema."""
        return "x"

    with pytest.raises(ConfigurationError, match="approved"):
        runtime.start(Agent(name="odd_schema", model="openai/gpt-4o", tools=[odd]), "go")


def test_the_server_refuses_a_response_schema_without_approved(server: ThreadServer) -> None:
    tool_config = {
        "name": "odd",
        "toolType": "worker",
        "approvalRequired": True,
        "responseSchema": {"type": "object", "properties": {"ok": {"type": "string"}}},
    }
    body = {"agentConfig": {"name": "odd", "model": "openai/gpt-4o", "tools": [tool_config]}, "prompt": "go"}
    response = httpx.post(f"{server.api_url}/agent/start", json=body, timeout=10)
    assert response.status_code == 400
    assert "responseSchema" in response.json()["detail"]


def test_an_answer_for_the_second_waiting_call_is_checked_against_its_schema(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    ran.clear()
    fake.script(
        FakeOpenAI.tool_calls(
            [
                ("transfer_funds", {"from_acct": "a", "to_acct": "b", "amount": 1}),
                ("publish", {"title": "t", "body": "b"}),
            ]
        ),
        FakeOpenAI.text("Both done."),
    )
    agent = Agent(name="two_waits", model="openai/gpt-4o", tools=[transfer_funds, publish])
    handle = runtime.start(agent, "do both")
    wait_for(lambda: handle.get_status().is_waiting)
    with pytest.raises(AgentAPIError) as err:
        handle.respond({"approved": True, "feedback": 5, "taskRefName": "c2"})
    assert err.value.status_code == 400 and "'publish'" in str(err.value) and "$.feedback" in str(err.value)
    handle.respond({"approved": True, "feedback": "ok", "taskRefName": "c2"})
    handle.respond({"approved": True, "taskRefName": "c1"})
    assert handle.join(timeout=10).output == "Both done."
    assert len(ran) == 2


ask_user = human_tool(
    name="ask_user",
    description="Ask the user a question when you need clarification or additional information.",
)


def test_a_human_tool_asks_and_the_answer_is_the_result(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("ask_user", {"question": "Which laptop model?"})]),
        FakeOpenAI.text("Filed for the ThinkPad."),
    )
    handle = runtime.start(Agent(name="it_support", model="openai/gpt-4o", tools=[ask_user]), "file a ticket")
    wait_for(lambda: handle.get_status().is_waiting)
    status = handle.get_status()
    assert status.pending_tool is not None and status.pending_tool["kind"] == "human"
    assert status.pending_tool["parameters"] == {"question": "Which laptop model?"}
    assert status.pending_tool["response_schema"]["properties"]["message"]["type"] == "string"
    with pytest.raises(AgentAPIError) as err:
        handle.approve()  # a question takes an answer, not an approval
    assert err.value.status_code == 400 and "message" in str(err.value)
    handle.send("The ThinkPad X1")
    result = handle.join(timeout=10)
    assert result.output == "Filed for the ThinkPad."
    assert fake.requests[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": fake.requests[1]["messages"][-1]["tool_call_id"],
        "content": "The ThinkPad X1",
    }
    answered = next(e for e in result.events if e.type == "human_input")
    assert answered.result == {"message": "The ThinkPad X1"}
    with pytest.raises(AgentAPIError) as again:
        handle.send("too late")
    assert again.value.status_code == 409
