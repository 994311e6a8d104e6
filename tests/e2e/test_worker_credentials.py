"""Issue 13, worker tools with credentials: ``@tool(credentials=[...])`` gets the values for
the duration of each call (``get_credential`` and the environment), fetched with the call's
lease: no token is stored anywhere, and a lease that ended gets nothing."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, CredentialNotFoundError, get_credential, tool
from agentspan.agents.testing import ScriptedModel, ToolCall
from agentspan.server.settings import Settings

from support.servers import ThreadServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadServer]:
    srv = ThreadServer(Settings(data_dir=tmp_path)).start()
    try:
        yield srv
    finally:
        srv.stop()


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


@tool(credentials=["PAYMENT_KEY"])
def charge(amount: int) -> dict[str, Any]:
    """Charge an amount with the payment provider's key."""
    key = get_credential("PAYMENT_KEY")
    return {"amount": amount, "key": _digest(key), "env": os.environ.get("PAYMENT_KEY") == key}


@tool(credentials=["PAYMENT_KEY"])
async def refund(amount: int) -> str:
    """Refund (async)."""
    return _digest(get_credential("PAYMENT_KEY")) + ":" + str(os.environ.get("PAYMENT_KEY") is not None)


def _runtime(server: ThreadServer) -> AgentRuntime:
    return AgentRuntime(config=AgentConfig(server_url=server.api_url, auto_start_server=False))


def test_a_worker_tool_gets_its_declared_credentials_for_the_call_only(server: ThreadServer) -> None:
    secret = f"pk-{uuid.uuid4().hex}"
    assert httpx.put(server.api_url + "/credentials/PAYMENT_KEY", json={"value": secret}).status_code == 201
    agent = Agent(
        name="biller",
        model=ScriptedModel([ToolCall("charge", {"amount": 5}), ToolCall("refund", {"amount": 2}), "Done."]),
        tools=[charge, refund],
    )
    with _runtime(server) as runtime:
        result = runtime.run(agent, "charge 5, refund 2")
    assert result.status == "COMPLETED", result.error
    outputs = [call["result"] for call in result.tool_calls]
    assert outputs[0] == {"amount": 5, "key": _digest(secret), "env": True}
    assert outputs[1] == f"{_digest(secret)}:True"
    assert "PAYMENT_KEY" not in os.environ  # gone once the call returned
    with pytest.raises(CredentialNotFoundError):
        get_credential("PAYMENT_KEY")  # outside a call


def test_a_missing_credential_fails_the_call_once_with_its_name(server: ThreadServer) -> None:
    agent = Agent(
        name="biller", model=ScriptedModel([ToolCall("charge", {"amount": 1}), "Gave up."]), tools=[charge]
    )
    with _runtime(server) as runtime:
        result = runtime.run(agent, "charge 1")
    assert result.status == "COMPLETED"
    (call,) = result.tool_calls
    assert "CredentialNotFoundError" in str(call["result"]) and "PAYMENT_KEY" in str(call["result"])
    assert "agentspan credentials set PAYMENT_KEY" in str(call["result"])


def _problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_only_the_current_lease_gets_only_the_declared_names(server: ThreadServer) -> None:
    api = server.api_url
    for name, value in (("PAYMENT_KEY", "pk-1"), ("OTHER_KEY", "ok-1")):
        httpx.put(f"{api}/credentials/{name}", json={"value": value})
    agent = {
        "name": "biller",
        "model": "scripted/model",
        "scriptedTurns": [{"toolCalls": [{"name": "charge", "arguments": {"amount": 1}}]}, {"text": "ok"}],
        "tools": [
            {"name": "charge", "toolType": "worker", "config": {"credentials": ["PAYMENT_KEY", "UNSET_KEY"]}}
        ],
    }
    started = httpx.post(api + "/agent/start", json={"agentConfig": agent, "prompt": "go"})
    assert started.status_code == 200, started.text
    polled = httpx.post(api + "/tasks/poll", json={"names": ["charge"], "waitMs": 5000}, timeout=10)
    (task,) = polled.json()["tasks"]
    url = f"{api}/tasks/{task['taskId']}/credentials"
    got = httpx.post(url, json={"leaseId": task["leaseId"], "names": ["PAYMENT_KEY"]})
    assert got.status_code == 200 and got.json() == {"PAYMENT_KEY": "pk-1"}
    _problem(httpx.post(url, json={"leaseId": "not-mine", "names": ["PAYMENT_KEY"]}), 409, "lease_lost")
    _problem(
        httpx.post(url, json={"leaseId": task["leaseId"], "names": ["OTHER_KEY"]}),
        403,
        "credential_not_declared",
    )
    _problem(
        httpx.post(url, json={"leaseId": task["leaseId"], "names": ["UNSET_KEY"]}),
        404,
        "credential_not_found",
    )
    done = httpx.post(
        f"{api}/tasks/{task['taskId']}/complete", json={"leaseId": task["leaseId"], "output": "ok"}
    )
    assert done.status_code == 204
    _problem(httpx.post(url, json={"leaseId": task["leaseId"], "names": ["PAYMENT_KEY"]}), 409, "lease_lost")


@pytest.mark.anyio
async def test_a_server_that_cannot_answer_makes_the_call_retryable_not_failed_for_good() -> None:
    from agentspan.agents._tool import get_tool_def
    from agentspan.client._http import ApiClient
    from agentspan.client._worker import WorkerPool, _Failure

    from support.servers import free_port

    client = ApiClient(f"http://127.0.0.1:{free_port()}/api")  # nobody listens there
    pool = WorkerPool(client)
    task = {"taskId": "t1", "leaseId": "l1", "executionId": "e1", "idempotencyKey": "k", "attempt": 1}
    try:
        outcome = await pool._outcome(get_tool_def(charge), {**task, "input": {"amount": 1}})
    finally:
        await pool.stop()
        await client.aclose()
    assert isinstance(outcome, _Failure) and outcome.retryable
    assert "CredentialServiceError" in outcome.error
