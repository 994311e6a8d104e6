"""The SDK against a real server over HTTP: the agent loop, tools, approvals, control."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from agentspan.agents import (
    Agent,
    AgentAPIError,
    AgentHandle,
    AgentNotFoundError,
    AgentRuntime,
    ToolContext,
    agent_tool,
    tool,
)
from agentspan.cli import main as cli_main

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@tool
def get_weather(city: str) -> str:
    """Get current weather for a city."""
    return f"72F and sunny in {city}"


def test_offline_model_calls_tool_and_answers(runtime: AgentRuntime) -> None:
    agent = Agent(name="weatherbot", model="offline/basic", tools=[get_weather])
    result = runtime.run(agent, "What's the weather in NYC?")
    assert result.status == "COMPLETED"
    assert result.output == "Here is what I found:\n- get_weather: 72F and sunny in NYC"
    assert [c["name"] for c in result.tool_calls] == ["get_weather"]
    assert result.tool_calls[0]["args"] == {"city": "NYC"}
    assert result.finish_reason == "stop"
    assert result.token_usage is not None and result.token_usage.total_tokens > 0
    types = [e.type for e in result.events]
    assert types == ["thinking", "llm_call", "tool_call", "tool_result", "thinking", "llm_call", "done"]
    assert [m["role"] for m in result.messages] == ["user", "assistant", "tool", "assistant"]


def test_openai_provider_round_trip(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.tool_calls([("get_weather", {"city": "Paris"})]), FakeOpenAI.text("It is sunny."))
    agent = Agent(name="weatherbot", model="openai/gpt-4o", tools=[get_weather], instructions="Be brief.")
    result = runtime.run(agent, "Weather in Paris?")
    assert result.output == "It is sunny."
    assert fake.request_count == 2
    first, second = fake.requests
    assert first["model"] == "gpt-4o"
    assert first["messages"][0] == {"role": "system", "content": "Be brief."}
    assert first["tools"][0]["function"]["name"] == "get_weather"
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == "72F and sunny in Paris"


def test_malformed_tool_arguments_are_fed_back(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.tool_calls([("get_weather", '{"city": "Par')]),
        FakeOpenAI.tool_calls([("get_weather", {"city": "Paris"})]),
        FakeOpenAI.text("done"),
    )
    agent = Agent(name="fixer", model="openai/gpt-4o", tools=[get_weather])
    result = runtime.run(agent, "Weather in Paris?")
    assert result.status == "COMPLETED" and result.output == "done"
    feedback = fake.requests[1]["messages"][-1]
    assert feedback["role"] == "tool" and "not valid JSON" in feedback["content"]
    assert fake.requests[2]["messages"][-1]["content"] == "72F and sunny in Paris"


def test_parallel_tool_calls_run_concurrently(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    barrier = threading.Barrier(3, timeout=5)

    @tool
    def slow_lookup(key: str) -> str:
        """Look something up slowly."""
        barrier.wait()  # all three calls must be running at once to get past this
        return key.upper()

    fake.script(
        FakeOpenAI.tool_calls([("slow_lookup", {"key": k}) for k in ("a", "b", "c")]),
        FakeOpenAI.text("ABC"),
    )
    result = runtime.run(Agent(name="par", model="openai/gpt-4o", tools=[slow_lookup]), "go")
    assert result.output == "ABC"
    tool_messages = [m for m in fake.requests[1]["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tool_messages] == ["A", "B", "C"]


def test_tool_failures_are_retried_then_given_to_the_model(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    attempts: list[str] = []

    @tool(retry_count=2, retry_delay_seconds=0.05)
    def flaky(context: ToolContext) -> str:
        """Always fails."""
        attempts.append(context.idempotency_key)
        raise RuntimeError(f"boom {len(attempts)}")

    fake.script(FakeOpenAI.tool_calls([("flaky", {})]), FakeOpenAI.text("gave up"))
    result = runtime.run(Agent(name="retrier", model="openai/gpt-4o", tools=[flaky]), "go")
    assert result.status == "COMPLETED" and result.output == "gave up"
    assert len(attempts) == 3 and len(set(attempts)) == 1  # same idempotency key every attempt
    assert "RuntimeError: boom 3" in fake.requests[1]["messages"][-1]["content"]
    retries = [e for e in result.events if e.type == "tool_retry"]
    assert [e.data["attempt"] for e in retries if e.data] == [1, 2]


def test_tool_returning_non_json_value_is_reported(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    @tool
    def weird() -> Any:
        """Returns something JSON cannot hold."""
        return object()

    fake.script(FakeOpenAI.tool_calls([("weird", {})]), FakeOpenAI.text("ok"))
    result = runtime.run(Agent(name="weird_agent", model="openai/gpt-4o", tools=[weird]), "go")
    assert result.status == "COMPLETED"
    content = fake.requests[1]["messages"][-1]["content"]
    assert content.startswith("Error:") and "object" in content


def test_tool_context_state_and_identity(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    seen: list[dict[str, Any]] = []

    @tool
    def counter(context: ToolContext) -> int:
        """Count calls in this execution."""
        context.state["n"] = context.state.get("n", 0) + 1
        seen.append({"id": context.execution_id, "agent": context.agent_name, "session": context.session_id})
        return int(context.state["n"])

    fake.script(
        FakeOpenAI.tool_calls([("counter", {})]),
        FakeOpenAI.tool_calls([("counter", {})]),
        FakeOpenAI.text("counted"),
    )
    agent = Agent(name="counting", model="openai/gpt-4o", tools=[counter])
    result = runtime.run(agent, "count", session_id="s-1")
    assert [c["result"] for c in result.tool_calls] == [1, 2]
    assert seen[0] == {"id": result.execution_id, "agent": "counting", "session": "s-1"}


def test_approval_then_result(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    ran: list[float] = []

    @tool(approval_required=True)
    def transfer_funds(amount: float) -> dict[str, Any]:
        """Move money."""
        ran.append(amount)
        return {"status": "completed", "amount": amount}

    fake.script(
        FakeOpenAI.tool_calls([("transfer_funds", {"amount": 5000})]), FakeOpenAI.text("Transferred.")
    )
    handle = runtime.start(Agent(name="banker", model="openai/gpt-4o", tools=[transfer_funds]), "Transfer")
    wait_for(lambda: handle.get_status().is_waiting)
    status = handle.get_status()
    assert status.pending_tool is not None and status.pending_tool["tool_name"] == "transfer_funds"
    assert status.pending_tool["parameters"] == {"amount": 5000}
    assert ran == []  # nothing runs before the decision
    handle.approve()
    result = handle.join(timeout=10)
    assert result.output == "Transferred." and ran == [5000.0]
    approval = result.tool_calls[0]["approval"]
    assert approval["approved"] is True and approval["decidedBy"].startswith("sdk:")
    with pytest.raises(AgentAPIError) as err:
        handle.approve()
    assert err.value.status_code == 409


def test_rejection_never_runs_the_tool(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    ran: list[str] = []

    @tool(approval_required=True)
    def delete_everything() -> str:
        """Dangerous."""
        ran.append("ran")
        return "deleted"

    fake.script(
        FakeOpenAI.tool_calls([("delete_everything", {})]), FakeOpenAI.text("Understood, not deleting.")
    )
    handle = runtime.start(
        Agent(name="janitor", model="openai/gpt-4o", tools=[delete_everything]), "clean up"
    )
    wait_for(lambda: handle.get_status().is_waiting)
    handle.reject("too risky")
    result = handle.join(timeout=10)
    assert ran == []
    assert result.is_rejected and result.finish_reason == "rejected"
    assert "too risky" in fake.requests[1]["messages"][-1]["content"]
    assert result.tool_calls[0]["status"] == "rejected"


def test_double_approval_exactly_one_wins(
    runtime: AgentRuntime, server: ThreadServer, fake: FakeOpenAI
) -> None:
    @tool(approval_required=True)
    def launch() -> str:
        """Launch."""
        return "launched"

    fake.script(FakeOpenAI.tool_calls([("launch", {})]), FakeOpenAI.text("ok"))
    handle = runtime.start(Agent(name="launcher", model="openai/gpt-4o", tools=[launch]), "go")
    wait_for(lambda: handle.get_status().is_waiting)
    url = f"{server.api_url}/agent/{handle.execution_id}/respond"
    codes: list[int] = []

    def approve(who: str) -> None:
        response = httpx.post(url, json={"approved": True, "decidedBy": who}, timeout=10)
        codes.append(response.status_code)

    threads = [threading.Thread(target=approve, args=(f"user{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] + [409] * 7
    result = handle.join(timeout=10)
    assert result.output == "ok"
    assert [e.type for e in result.events].count("approval") == 1


def test_unknown_execution_is_a_clear_error(runtime: AgentRuntime) -> None:
    with pytest.raises(AgentNotFoundError):
        runtime.get_status("does-not-exist")
    start = time.monotonic()
    with pytest.raises(AgentNotFoundError):
        list(runtime.stream(handle=AgentHandle("does-not-exist", runtime)))
    assert time.monotonic() - start < 5


def test_stream_yields_events_then_result(runtime: AgentRuntime) -> None:
    agent = Agent(name="streamer", model="offline/basic", tools=[get_weather])
    stream = runtime.stream(agent, "weather in NYC")
    types = [event.type for event in stream]
    assert types[-1] == "done" and "tool_call" in types
    assert stream.result is not None and stream.result.status == "COMPLETED"
    ids = [e.id for e in stream.events if e.id]  # live text deltas carry no id
    assert ids == list(range(1, len(ids) + 1))  # gap-free


def test_stream_resumes_after_last_event_id(runtime: AgentRuntime, server: ThreadServer) -> None:
    result = runtime.run(Agent(name="resumer", model="offline/basic", tools=[get_weather]), "weather in NYC")
    with httpx.stream(
        "GET",
        f"{server.api_url}/agent/stream/{result.execution_id}",
        headers={"Last-Event-ID": "3"},
        timeout=10,
    ) as response:
        body = response.read().decode()
    ids = [int(line[3:]) for line in body.splitlines() if line.startswith("id:")]
    assert ids == [4, 5, 6, 7]


def test_stream_query_resume_content_type_and_bad_parameters(
    runtime: AgentRuntime, server: ThreadServer
) -> None:
    result = runtime.run(
        Agent(name="resumer2", model="offline/basic", tools=[get_weather]), "weather in Oslo"
    )
    url = f"{server.api_url}/agent/stream/{result.execution_id}"
    with httpx.stream("GET", url, params={"lastEventId": 5, "deltas": "false"}, timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        body = response.read().decode()
    assert body.startswith(":connected")
    assert [int(line[3:]) for line in body.splitlines() if line.startswith("id:")] == [6, 7]
    assert body.rstrip().splitlines()[-2] == "event:done"
    # The header wins over the query, as an EventSource reconnect sends it.
    with httpx.stream(
        "GET", url, params={"lastEventId": 1}, headers={"Last-Event-ID": "6"}, timeout=10
    ) as response:
        assert [line for line in response.read().decode().splitlines() if line.startswith("id:")] == ["id:7"]
    for params in ({"lastEventId": "abc"}, {"deltas": "maybe"}):
        bad = httpx.get(url, params=params, timeout=10)
        assert bad.status_code == 400 and bad.json()["code"] == "validation_failed", params


def test_stream_resumed_after_its_terminal_event_ends_at_once(
    runtime: AgentRuntime, server: ThreadServer
) -> None:
    """Found by schemathesis: resuming an ended execution after its last event (a client
    that reconnects right after ``done``) followed it for ever, one heartbeat at a time."""
    result = runtime.run(Agent(name="resumer3", model="offline/basic"), "hi")
    url = f"{server.api_url}/agent/stream/{result.execution_id}"
    last = httpx.get(f"{server.api_url}/agent/executions/{result.execution_id}/events", timeout=10).json()[-1]
    assert last["type"] == "done"
    for params in ({"lastEventId": last["id"]}, {"lastEventId": last["id"] + 50}):
        started = time.monotonic()
        with httpx.stream("GET", url, params=params, timeout=5) as response:
            body = response.read().decode()
        assert time.monotonic() - started < 3, params
        assert "id:" not in body and body.startswith(":connected"), body


def test_pause_holds_the_next_model_call(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    gate = threading.Event()

    @tool
    def wait_gate() -> str:
        """Blocks until released."""
        gate.wait(10)
        return "released"

    fake.script(FakeOpenAI.tool_calls([("wait_gate", {})]), FakeOpenAI.text("finished"))
    handle = runtime.start(Agent(name="pausable", model="openai/gpt-4o", tools=[wait_gate]), "go")
    wait_for(lambda: fake.request_count == 1)
    handle.pause()
    gate.set()
    wait_for(
        lambda: any(
            c["status"] == "completed"
            for c in runtime._loop.run(runtime._client.detail(handle.execution_id))["toolCalls"]
        )
    )
    time.sleep(0.2)
    assert handle.get_status().status == "PAUSED" and fake.request_count == 1
    handle.resume()
    assert handle.join(timeout=10).output == "finished"


def test_cancel_terminates(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    @tool(approval_required=True)
    def never() -> str:
        """Never approved."""
        return "x"

    fake.script(FakeOpenAI.tool_calls([("never", {})]))
    handle = runtime.start(Agent(name="cancellable", model="openai/gpt-4o", tools=[never]), "go")
    wait_for(lambda: handle.get_status().is_waiting)
    handle.cancel("changed my mind")
    result = handle.join(timeout=10)
    assert result.status == "TERMINATED" and result.finish_reason == "cancelled"
    assert result.error == "changed my mind"


def test_timeout_ends_the_run(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    @tool(approval_required=True)
    def slow() -> str:
        """Waits for approval forever."""
        return "x"

    fake.script(FakeOpenAI.tool_calls([("slow", {})]))
    agent = Agent(name="timed", model="openai/gpt-4o", tools=[slow], timeout_seconds=1)
    result = runtime.run(agent, "go")
    assert result.status == "TIMED_OUT" and result.finish_reason == "timeout"


def test_max_turns_stops_the_loop(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        *[FakeOpenAI.tool_calls([("get_weather", {"city": "X"})], content=f"turn {i}") for i in range(5)]
    )
    agent = Agent(name="looper", model="openai/gpt-4o", tools=[get_weather], max_turns=2)
    result = runtime.run(agent, "loop")
    assert result.finish_reason == "max_turns" and fake.request_count == 2
    assert result.output == "turn 1"


def test_agent_tool_runs_a_child_execution(runtime: AgentRuntime, server: ThreadServer) -> None:
    researcher = Agent(name="researcher", model="offline/basic", tools=[get_weather])
    lead = Agent(name="lead", model="offline/basic", tools=[agent_tool(researcher)])
    result = runtime.run(lead, "Find the weather in NYC")
    assert result.status == "COMPLETED"
    assert result.tool_calls[0]["name"] == "researcher"
    assert "72F and sunny in NYC" in str(result.tool_calls[0]["result"])
    children = httpx.get(
        f"{server.api_url}/agent/executions", params={"parentId": result.execution_id}, timeout=5
    ).json()["results"]
    assert [c["agentName"] for c in children] == ["researcher"]
    assert children[0]["parentExecutionId"] == result.execution_id


def test_sequential_pipeline(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.text("facts about X"), FakeOpenAI.text("article from facts"))
    researcher = Agent(name="researcher", model="openai/gpt-4o")
    writer = Agent(name="writer", model="openai/gpt-4o")
    result = runtime.run(researcher >> writer, "X")
    assert result.output == "article from facts"
    assert result.sub_results == {"researcher": "facts about X", "writer": "article from facts"}
    # The second step sees the user's request as well as the first step's output.
    assert fake.requests[1]["messages"][-1] == {
        "role": "user",
        "content": "X\n\nPrevious agent output:\nfacts about X",
    }
    assert result.token_usage is not None and result.token_usage.total_tokens == 30


def test_missing_worker_is_reported(
    runtime: AgentRuntime, server: ThreadServer, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    @tool(external=True)
    def remote_only(x: str) -> str:
        """Served by some other process."""
        raise AssertionError("never called locally")

    fake.script(FakeOpenAI.tool_calls([("remote_only", {"x": "1"})]), FakeOpenAI.text("done"))
    handle = runtime.start(Agent(name="orphan", model="openai/gpt-4o", tools=[remote_only]), "go")
    wait_for(lambda: handle.get_status().waiting_reason is not None, timeout=10)
    reason = handle.get_status().waiting_reason or ""
    assert "remote_only" in reason and "runtime.serve(agent)" in reason  # which tool, and what to do
    capsys.readouterr()
    assert cli_main(["--server-url", server.api_url, "executions", "show", handle.execution_id]) == 0
    shown = capsys.readouterr().out
    assert "Waiting:" in shown and "'remote_only'" in shown and "runtime.serve(agent)" in shown
    events = httpx.get(f"{server.api_url}/agent/executions/{handle.execution_id}/events", timeout=5).json()
    missing = [e for e in events if e["type"] == "worker_missing"]
    assert len(missing) == 1 and missing[0]["toolName"] == "remote_only"
    # A worker appears: the task is picked up and the run completes.
    poll = httpx.post(
        f"{server.api_url}/tasks/poll", json={"names": ["remote_only"], "waitMs": 2000}, timeout=10
    )
    task = poll.json()["tasks"][0]
    httpx.post(
        f"{server.api_url}/tasks/{task['taskId']}/complete",
        json={"leaseId": task["leaseId"], "output": "remote result"},
        timeout=5,
    ).raise_for_status()
    result = handle.join(timeout=10)
    assert result.output == "done"
    assert "worker_found" in [e.type for e in result.events] or handle.get_status().waiting_reason is None


def test_structured_output_is_parsed(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    class Report(BaseModel):
        city: str
        temperature: float

    fake.script(FakeOpenAI.text(json.dumps({"city": "NYC", "temperature": 72})))
    result = runtime.run(Agent(name="reporter", model="openai/gpt-4o", output_type=Report), "report")
    assert isinstance(result.output, Report) and result.output.temperature == 72
    assert fake.requests[0]["response_format"]["type"] == "json_schema"


def test_unknown_provider_is_refused_at_start_with_the_choices(runtime: AgentRuntime) -> None:
    with pytest.raises(AgentAPIError) as refused:
        runtime.run(Agent(name="lost", model="nosuch/model-x"), "hi", timeout=20)
    assert refused.value.status_code == 400 and refused.value.code == "invalid_model"
    assert "lost" in refused.value.message and "nosuch" in refused.value.message
    assert "openai" in refused.value.message


def test_transient_model_errors_are_retried(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.error(429, "slow down", retry_after=0.1),
        FakeOpenAI.error(503, "overloaded", retry_after=0.1),
        FakeOpenAI.text("eventually"),
    )
    result = runtime.run(Agent(name="patient", model="openai/gpt-4o"), "hi", timeout=30)
    assert result.output == "eventually" and fake.request_count == 3


def test_permanent_model_error_fails_the_run(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.error(400, "model 'gpt-9' does not exist"))
    result = runtime.run(Agent(name="doomed", model="openai/gpt-9"), "hi", timeout=30)
    assert result.status == "FAILED" and "does not exist" in (result.error or "")
    assert fake.request_count == 1


def test_tool_timeout_is_reported_to_the_model(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    @tool(timeout_seconds=0.2, retry_count=0)
    def sleepy() -> str:
        """Takes too long."""
        time.sleep(1.0)
        return "late"

    fake.script(FakeOpenAI.tool_calls([("sleepy", {})]), FakeOpenAI.text("moved on"))
    result = runtime.run(Agent(name="impatient", model="openai/gpt-4o", tools=[sleepy]), "go", timeout=30)
    assert result.output == "moved on"
    assert "timed out after 0.2s" in fake.requests[1]["messages"][-1]["content"]


def test_idempotency_key_returns_the_same_execution(runtime: AgentRuntime) -> None:
    agent = Agent(name="idem", model="offline/basic")
    first = runtime.start(agent, "once", idempotency_key="order-77")
    second = runtime.start(agent, "once", idempotency_key="order-77")
    assert first.execution_id == second.execution_id
    assert runtime.start(agent, "once", idempotency_key="order-78").execution_id != first.execution_id


def test_cost_and_tokens_add_up_across_parent_and_children(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    # Two children on gpt-4o-mini, the parent on gpt-4o: 10 prompt + 5 completion tokens per call.
    fake.script(
        FakeOpenAI.tool_calls([("researcher", {"request": "a"}), ("checker", {"request": "b"})]),
        FakeOpenAI.text("child answer"),
        FakeOpenAI.text("child answer"),
        FakeOpenAI.text("combined"),
    )
    researcher = Agent(name="researcher", model="openai/gpt-4o-mini")
    checker = Agent(name="checker", model="openai/gpt-4o-mini")
    lead = Agent(name="lead", model="openai/gpt-4o", tools=[agent_tool(researcher), agent_tool(checker)])
    result = runtime.run(lead, "go")
    assert result.output == "combined"
    usage = result.token_usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (40, 20, 60)
    parent_cost = 2 * (10 * 2.50 + 5 * 10.00) / 1_000_000
    child_cost = 2 * (10 * 0.15 + 5 * 0.60) / 1_000_000
    assert usage.cost_usd == pytest.approx(parent_cost + child_cost)
    calls = [e for e in result.events if e.type == "llm_call"]
    assert len(calls) == 2 and all(e.data and e.data["latencyMs"] >= 0 for e in calls)
    assert calls[0].data is not None and calls[0].data["costUsd"] == pytest.approx(parent_cost / 2)


def test_streamed_text_reaches_stream_subscribers(runtime: AgentRuntime) -> None:
    @tool(approval_required=True)
    def confirm() -> str:
        """Ask before answering."""
        return "confirmed"

    handle = runtime.start(Agent(name="talker", model="offline/basic", tools=[confirm]), "tell me")
    stream = runtime.stream(handle=handle)
    seen = []
    for event in stream:  # subscribed before the final answer exists
        seen.append(event)
        if event.type == "waiting":
            handle.approve()
    deltas = [e for e in seen if e.type == "message" and e.data and e.data.get("delta")]
    assert stream.result is not None and stream.result.status == "COMPLETED"
    final = stream.result.output
    assert len(deltas) > 3 and "".join(str(e.content) for e in deltas) == final
    assert all(e.id == 0 for e in deltas)  # live only: not part of the durable log
    done_index = next(i for i, e in enumerate(seen) if e.type == "done")
    assert all(seen.index(e) < done_index for e in deltas)
    assert [m["role"] for m in stream.result.messages].count("assistant") == 2


def test_scripted_model_runs_durably_on_the_server(runtime: AgentRuntime) -> None:
    from agentspan.agents.testing import ScriptedModel, ToolCall, expect

    model = ScriptedModel(
        [
            ToolCall("get_weather", '{"city": "Par'),  # malformed: fed back to the model
            [ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_weather", {"city": "Rome"})],
            "Sunny in Paris and Rome.",
        ]
    )
    result = runtime.run(Agent(name="scripted_agent", model=model, tools=[get_weather]), "weather?")
    expect(result).completed().used_tool("get_weather", args={"city": "Rome"}).output_contains("Rome")
    assert [c["result"] for c in result.tool_calls if c["status"] == "completed"] == [
        "72F and sunny in Paris",
        "72F and sunny in Rome",
    ]
    assert result.tool_calls[0]["status"] == "failed"


def test_scripted_model_that_runs_out_of_turns_fails_clearly(runtime: AgentRuntime) -> None:
    from agentspan.agents.testing import ScriptedModel, ToolCall

    model = ScriptedModel([ToolCall("get_weather", {"city": "Oslo"})])
    result = runtime.run(Agent(name="short_script", model=model, tools=[get_weather]), "weather?")
    assert result.status == "FAILED" and "ran out of turns" in (result.error or "")


def test_token_budget_is_shared_with_children_and_stops_the_run(
    runtime: AgentRuntime, fake: FakeOpenAI
) -> None:
    # Every fake call uses 15 tokens; a 40-token budget allows the parent's call and two
    # child calls, then the parent's next call is refused before it is made.
    fake.script(
        FakeOpenAI.tool_calls(
            [("helper_a", {"request": "x"}), ("helper_b", {"request": "y"})], content="delegating"
        ),
        FakeOpenAI.text("a"),
        FakeOpenAI.text("b"),
        FakeOpenAI.text("never requested"),
    )
    helper_a = Agent(name="helper_a", model="openai/gpt-4o-mini")
    helper_b = Agent(name="helper_b", model="openai/gpt-4o-mini")
    lead = Agent(name="budgeted", model="openai/gpt-4o", tools=[agent_tool(helper_a), agent_tool(helper_b)])
    result = runtime.run(lead, "go", max_tokens_total=40)
    assert result.status == "COMPLETED" and result.finish_reason == "budget_exceeded"
    assert fake.request_count == 3
    assert result.output == "delegating"
    assert any(e.type == "budget_exceeded" and "40" in (e.content or "") for e in result.events)


def test_planner_makes_a_planning_call_first(runtime: AgentRuntime, fake: FakeOpenAI) -> None:
    fake.script(
        FakeOpenAI.text("1. look up the weather\n2. answer"),
        FakeOpenAI.tool_calls([("get_weather", {"city": "Oslo"})]),
        FakeOpenAI.text("Cold in Oslo."),
    )
    agent = Agent(
        name="planful", model="openai/gpt-4o", tools=[get_weather], planner=True, instructions="Be useful."
    )
    result = runtime.run(agent, "weather in Oslo?")
    assert result.output == "Cold in Oslo."
    plan_request, first_turn = fake.requests[0], fake.requests[1]
    assert "tools" not in plan_request and "numbered plan" in plan_request["messages"][0]["content"]
    assert plan_request["messages"][0]["content"].startswith("Be useful.")
    assert [m["role"] for m in first_turn["messages"]] == ["system", "user", "assistant", "user"]
    assert first_turn["messages"][2]["content"].startswith("1. look up")
    assert first_turn["tools"][0]["function"]["name"] == "get_weather"
    assert [e.content for e in result.events if e.type == "plan"] == ["1. look up the weather\n2. answer"]


def test_state_stays_small_as_the_conversation_grows(runtime: AgentRuntime, server: ThreadServer) -> None:
    import sqlite3

    from agentspan.agents.testing import ScriptedModel, ToolCall

    def state_and_messages(turns: int) -> tuple[int, int]:
        model = ScriptedModel([*[ToolCall("get_weather", {"city": f"C{i}"}) for i in range(turns)], "done"])
        result = runtime.run(
            Agent(name=f"long_{turns}", model=model, tools=[get_weather], max_turns=40), "go"
        )
        assert result.status == "COMPLETED"
        db = sqlite3.connect(f"file:{server.settings.data_dir / 'agentspan.db'}?mode=ro", uri=True)
        try:
            (state,) = db.execute(
                "SELECT length(state) FROM executions WHERE id = ?", (result.execution_id,)
            ).fetchone()
            (count,) = db.execute(
                "SELECT COUNT(*) FROM messages WHERE execution_id = ?", (result.execution_id,)
            ).fetchone()
        finally:
            db.close()
        return int(state), int(count)

    short_state, short_messages = state_and_messages(2)
    long_state, long_messages = state_and_messages(30)
    # Each message is stored once (1 user + 2 per tool turn + the answer) ...
    assert (short_messages, long_messages) == (6, 62)
    # ... and the state document does not carry the conversation: it stays about the same size.
    assert long_state < short_state * 1.5


@tool(approval_required=True)
def needs_ok(item: str) -> str:
    """Does something that needs a human's approval."""
    return item


def test_detail_long_poll_waits_for_the_end_and_includes_events(
    runtime: AgentRuntime, server: ThreadServer
) -> None:
    # Paused for approval: the long-poll returns when its time is up, still running.
    agent = Agent(name="lp_gate", model="offline/basic", tools=[needs_ok])
    handle = runtime.start(agent, "go")
    url = f"{server.api_url}/agent/execution/{handle.execution_id}"
    started = time.monotonic()
    waiting = httpx.get(url, params={"waitMs": 300}, timeout=10).json()
    assert waiting["status"] == "RUNNING"
    assert time.monotonic() - started >= 0.25
    assert "events" not in waiting

    # Approved from another thread while the long-poll waits: it answers at the end.
    def approve() -> None:
        time.sleep(0.2)
        handle.approve()

    approver = threading.Thread(target=approve)
    approver.start()
    started = time.monotonic()
    done = httpx.get(url, params={"waitMs": 20_000, "includeEvents": "true"}, timeout=30).json()
    approver.join()
    assert done["status"] == "COMPLETED"
    assert time.monotonic() - started < 10
    assert [e["id"] for e in done["events"]] == list(range(1, len(done["events"]) + 1))
    assert done["events"][-1]["type"] == "done"

    bad = httpx.get(url, params={"waitMs": -1}, timeout=10)
    assert bad.status_code == 400 and bad.json()["code"] == "validation_failed"
    missing = httpx.get(f"{server.api_url}/agent/execution/nope", params={"waitMs": 50}, timeout=10)
    assert missing.status_code == 404


def test_conversations_waiting_for_a_human_or_finished_are_not_kept_in_memory(
    runtime: AgentRuntime, server: ThreadServer
) -> None:
    """The LLM executor keeps conversations between model calls (it then reads only new
    messages), but not for executions that wait for a human — they may wait for days —
    nor for finished ones."""
    conversations = server.services.llm.conversations
    waiting = runtime.start(Agent(name="cache_wait", model="offline/basic", tools=[needs_ok]), "go")
    wait_for(lambda: runtime.get_status(waiting.execution_id).is_waiting)
    assert waiting.execution_id not in conversations
    done = runtime.run(
        Agent(name="cache_done", model="offline/basic", tools=[get_weather]), "weather in Rome"
    )
    assert done.status == "COMPLETED"
    assert done.execution_id not in conversations
    waiting.approve()
    assert waiting.join(timeout=30).status == "COMPLETED"
    assert waiting.execution_id not in conversations
