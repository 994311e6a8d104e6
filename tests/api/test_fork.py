"""Fork from a step over real HTTP, on SQLite and PostgreSQL: the copied steps never run
again (tool calls counted, model requests counted), an approval answered before the fork
point stays answered, the edited instructions and model reach the new model call, the
copied usage is inherited (not counted again), and both executions show the link."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, tool
from agentspan.server.settings import Settings

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer

PG_URL = os.environ.get("AGENTSPAN_TEST_DATABASE_URL", "")


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fork_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI
) -> Iterator[ThreadServer]:
    database: str | None = None
    if request.param == "postgres":
        if not PG_URL:
            pytest.skip("AGENTSPAN_TEST_DATABASE_URL not set: PostgreSQL fork tests skipped")
        name = f"agentspan_fork_{uuid.uuid4().hex[:10]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        database = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    settings = Settings(data_dir=tmp_path_factory.mktemp("fork"), database_url=database)
    srv = ThreadServer(settings).start()
    try:
        yield srv
    finally:
        srv.stop()
        if database is not None:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{database.rsplit("/", 1)[1]}" WITH (FORCE)'))


@pytest.fixture
def rt(fork_server: ThreadServer) -> Iterator[AgentRuntime]:
    with AgentRuntime(config=AgentConfig(server_url=fork_server.api_url, auto_start_server=False)) as runtime:
        yield runtime


@pytest.fixture
def api(fork_server: ThreadServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fork_server.api_url, timeout=10) as client:
        yield client


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


def _detail(api: httpx.Client, execution_id: str, wait_ms: int = 0) -> dict[str, Any]:
    params: dict[str, Any] = {"includeEvents": "true"}
    if wait_ms:
        params["waitMs"] = wait_ms
    answer = api.get(f"/agent/execution/{execution_id}", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _model_steps(detail: dict[str, Any]) -> list[int]:
    return [
        e["id"]
        for e in detail["events"]
        if e["type"] == "llm_call" and "purpose" not in (e.get("data") or {})
    ]


def test_fork_reruns_only_the_chosen_model_call(
    rt: AgentRuntime, api: httpx.Client, fake: FakeOpenAI, fork_server: ThreadServer
) -> None:
    looked_up: list[str] = []
    paid: list[float] = []

    @tool
    def lookup(order: str) -> str:
        """Look an order up."""
        looked_up.append(order)
        return f"order {order}: 2 items"

    @tool(approval_required=True)
    def refund(amount: float) -> str:
        """Refund money (needs approval)."""
        paid.append(amount)
        return f"refunded {amount}"

    fake.script(
        FakeOpenAI.tool_calls([("lookup", {"order": "A1"})]),
        FakeOpenAI.tool_calls([("refund", {"amount": 12.5})]),
        FakeOpenAI.text("Refunded, first answer."),
    )
    agent = Agent(name="support", model="openai/gpt-4o", tools=[lookup, refund], instructions="Be kind.")
    handle = rt.start(agent, "Refund order A1")
    deadline = time.monotonic() + 10
    while not handle.get_status().is_waiting:
        assert time.monotonic() < deadline, "the refund never waited for its approval"
        time.sleep(0.05)
    handle.approve()
    result = handle.join(timeout=15)
    assert result.output == "Refunded, first answer."
    assert (looked_up, paid, fake.request_count) == (["A1"], [12.5], 3)

    origin = _detail(api, result.execution_id)
    steps = _model_steps(origin)
    assert len(steps) == 3
    last_call = steps[-1]

    fake.script(FakeOpenAI.text("Refunded, second answer."))
    answer = api.post(
        f"/agent/{result.execution_id}/fork",
        json={"fromStep": last_call, "instructions": "Be terse.", "model": "openai/gpt-4o-mini"},
    )
    assert answer.status_code == 201, answer.text
    forked = answer.json()
    assert forked["forkedFrom"] == {"executionId": result.execution_id, "step": last_call}
    assert forked["inheritedUsage"]["totalTokens"] == origin["tokenUsage"]["totalTokens"] * 2 // 3

    fork = _detail(api, forked["executionId"], wait_ms=10_000)
    assert fork["status"] == "COMPLETED" and fork["output"] == "Refunded, second answer."
    # Only the chosen model call ran again; no tool ran again; the approval stayed answered.
    assert fake.request_count == 4
    assert (looked_up, paid) == (["A1"], [12.5])
    request = fake.requests[-1]
    assert request["model"] == "gpt-4o-mini"
    assert request["messages"][0] == {"role": "system", "content": "Be terse."}
    assert [m["role"] for m in request["messages"][1:]] == ["user", "assistant", "tool", "assistant", "tool"]
    assert request["messages"][-1]["content"] == "refunded 12.5"
    # The copied steps keep their numbers; the fork's own steps follow them.
    copied = [(e["id"], e["type"]) for e in origin["events"] if e["id"] < last_call]
    assert [(e["id"], e["type"]) for e in fork["events"]][: len(copied)] == copied
    assert [e["type"] for e in fork["events"] if e["id"] >= last_call][-2:] == ["llm_call", "done"]
    assert [c["name"] for c in fork["toolCalls"]] == ["lookup", "refund"]
    assert fork["toolCalls"][1]["approval"]["approved"] is True
    # Usage: the fork's own is one model call; what it copied is shown as inherited.
    assert fork["tokenUsage"]["totalTokens"] == origin["tokenUsage"]["totalTokens"] // 3
    assert fork["inheritedUsage"] == forked["inheritedUsage"]
    assert fork["forkedFrom"] == {"executionId": result.execution_id, "step": last_call}
    # The link both ways.
    assert _detail(api, result.execution_id)["forks"] == [
        {"executionId": forked["executionId"], "step": last_call}
    ]
    status = api.get(f"/agent/{forked['executionId']}/status").json()
    assert status["forkedFrom"] == {"executionId": result.execution_id, "step": last_call}
    # Metrics count the fork as an execution started and only its own model call.
    metrics = _metrics(fork_server)
    assert metrics[("agentspan_executions_started_total", (("agent", "support"),))] == 2
    calls = sum(v for (name, _), v in metrics.items() if name == "agentspan_model_calls_total")
    assert calls == 4  # the origin's three, the fork's one: none of the copied ones again


def _metrics(server: ThreadServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    response = httpx.get(server.root_url + "/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_fork_from_the_first_model_call_runs_tools_afresh(
    rt: AgentRuntime, api: httpx.Client, fake: FakeOpenAI
) -> None:
    calls: list[str] = []

    @tool
    def ping(host: str) -> str:
        """Ping a host."""
        calls.append(host)
        return f"{host} is up"

    fake.script(FakeOpenAI.tool_calls([("ping", {"host": "a"})]), FakeOpenAI.text("a is up."))
    result = rt.run(Agent(name="pinger", model="openai/gpt-4o", tools=[ping]), "Is a up?")
    assert result.output == "a is up." and calls == ["a"]
    first = _model_steps(_detail(api, result.execution_id))[0]

    fake.script(FakeOpenAI.tool_calls([("ping", {"host": "b"})]), FakeOpenAI.text("b is up."))
    forked = api.post(f"/agent/{result.execution_id}/fork", json={"fromStep": first}).json()
    fork = _detail(api, forked["executionId"], wait_ms=10_000)
    assert fork["output"] == "b is up."
    assert calls == ["a", "b"]  # the fork's own new call ran; the origin's did not again
    assert forked["inheritedUsage"]["totalTokens"] == 0
    assert [c["callId"] for c in fork["toolCalls"]] == ["c1"]


def test_fork_refusals_are_problem_documents(rt: AgentRuntime, api: httpx.Client, fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.text("Hello."))
    result = rt.run(Agent(name="greeter", model="openai/gpt-4o"), "Hi")
    events = _detail(api, result.execution_id)["events"]
    not_a_call = next(e["id"] for e in events if e["type"] != "llm_call")
    model_call = _model_steps(_detail(api, result.execution_id))[0]

    answer = api.post(f"/agent/{result.execution_id}/fork", json={"fromStep": not_a_call})
    assert answer.status_code == 400
    problem = answer.json()
    assert problem["code"] == "invalid_fork_point"
    assert (
        "not a model call" in problem["detail"] and f"model call steps are {model_call}" in problem["detail"]
    )

    answer = api.post(f"/agent/{result.execution_id}/fork", json={"fromStep": 999})
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_fork_point"
    assert "does not exist" in answer.json()["detail"]

    answer = api.post(f"/agent/{result.execution_id}/fork", json={"fromStep": 0})
    assert answer.status_code == 400 and answer.json()["code"] == "validation_failed"

    answer = api.post(f"/agent/{uuid.uuid4()}/fork", json={"fromStep": 1})
    assert answer.status_code == 404 and answer.json()["code"] == "execution_not_found"

    answer = api.post(
        f"/agent/{result.execution_id}/fork", json={"fromStep": model_call, "model": "nosuchprovider/x"}
    )
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_model"


def test_a_team_is_refused(rt: AgentRuntime, api: httpx.Client, fake: FakeOpenAI) -> None:
    fake.script(FakeOpenAI.text("one"), FakeOpenAI.text("two"))
    team = Agent(
        name="pipeline",
        agents=[Agent(name="first", model="openai/gpt-4o"), Agent(name="second", model="openai/gpt-4o")],
        strategy="sequential",
    )
    result = rt.run(team, "go")
    assert result.status == "COMPLETED"
    answer = api.post(f"/agent/{result.execution_id}/fork", json={"fromStep": 1})
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_fork_point"
    assert "sub-agents" in answer.json()["detail"]
    child = _detail(api, result.execution_id)["children"][0]
    step = _model_steps(_detail(api, child))[0]
    answer = api.post(f"/agent/{child}/fork", json={"fromStep": step})
    assert answer.status_code == 400 and "sub-execution" in answer.json()["detail"]
