"""Bad input gets a clear problem document with a stable code, and loses nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agentspan.agents import Agent

from support.servers import ThreadServer

AGENT = {"name": "ok_agent", "model": "offline/basic"}


def post(server: ThreadServer, path: str, body: Any = None, content: str | None = None) -> httpx.Response:
    if content is not None:
        return httpx.post(
            server.api_url + path, content=content, headers={"content-type": "application/json"}, timeout=10
        )
    return httpx.post(server.api_url + path, json=body, timeout=10)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["status"] == status and body["detail"]
    return body


def test_malformed_json(server: ThreadServer) -> None:
    body = problem(post(server, "/agent/start", content='{"agentConfig": '), 400, "invalid_json")
    assert "JSON" in body["detail"]


def test_invalid_agent_name(server: ThreadServer) -> None:
    body = problem(
        post(
            server,
            "/agent/start",
            {"agentConfig": {"name": "bad name!", "model": "offline/x"}, "prompt": "hi"},
        ),
        400,
        "invalid_agent",
    )
    assert "bad name!" in body["detail"]
    with pytest.raises(ValueError, match="name"):
        Agent(name="bad name!", model="offline/basic")


def test_missing_prompt_and_unsupported_strategy(server: ThreadServer) -> None:
    problem(post(server, "/agent/start", {"agentConfig": AGENT}), 400, "validation_failed")
    team = {"name": "team", "strategy": "handoff", "agents": [AGENT]}
    body = problem(post(server, "/agent/start", {"agentConfig": team, "prompt": "hi"}), 400, "invalid_agent")
    assert "handoff parent needs a model" in body["detail"]
    routed = {"name": "routed", "strategy": "router", "agents": [AGENT]}
    body = problem(
        post(server, "/agent/start", {"agentConfig": routed, "prompt": "hi"}), 400, "invalid_agent"
    )
    assert "router" in body["detail"]
    problem(
        post(server, "/agent/start", {"agentConfig": {"name": "nomodel"}, "prompt": "hi"}),
        400,
        "invalid_agent",
    )


def test_unknown_execution_everywhere(server: ThreadServer) -> None:
    base = server.api_url
    for response in (
        httpx.get(f"{base}/agent/nope/status", timeout=5),
        httpx.get(f"{base}/agent/execution/nope", timeout=5),
        httpx.get(f"{base}/agent/stream/nope", timeout=5),
        httpx.get(f"{base}/agent/executions/nope/events", timeout=5),
        httpx.post(f"{base}/agent/nope/respond", json={"approved": True}, timeout=5),
        httpx.put(f"{base}/agent/nope/pause", timeout=5),
        httpx.delete(f"{base}/agent/nope/cancel", timeout=5),
    ):
        problem(response, 404, "execution_not_found")


def test_respond_when_not_waiting_and_bad_body(server: ThreadServer) -> None:
    started = post(server, "/agent/start", {"agentConfig": AGENT, "prompt": "hello"}).json()
    execution_id = started["executionId"]
    problem(post(server, f"/agent/{execution_id}/respond", {"approved": "maybe"}), 400, "validation_failed")
    # The run is not waiting for anyone: the answer is refused, nothing changes.
    response = post(server, f"/agent/{execution_id}/respond", {"approved": True})
    assert response.status_code == 409 and response.json()["code"] in ("not_waiting", "invalid_state")


def test_worker_protocol_errors(server: ThreadServer) -> None:
    problem(post(server, "/tasks/poll", {"names": []}), 400, "validation_failed")
    problem(post(server, "/tasks/nope/complete", {"leaseId": "x", "output": 1}), 409, "lease_lost")
    problem(post(server, "/tasks/nope/heartbeat", {"leaseId": "x"}), 409, "lease_lost")


def test_stale_lease_is_fenced(server: ThreadServer) -> None:
    tool = {"name": "fenced_tool", "inputSchema": {"type": "object", "properties": {}}}
    started = post(
        server, "/agent/start", {"agentConfig": {**AGENT, "name": "fencer", "tools": [tool]}, "prompt": "go"}
    ).json()
    task = post(server, "/tasks/poll", {"names": ["fenced_tool"], "waitMs": 5000}).json()["tasks"][0]
    assert task["executionId"] == started["executionId"] and task["attempt"] == 1
    # The lease (2 s in this test server) expires; another worker claims the task.
    again = post(server, "/tasks/poll", {"names": ["fenced_tool"], "waitMs": 5000, "workerId": "w2"}).json()[
        "tasks"
    ]
    assert again and again[0]["attempt"] == 2 and again[0]["leaseId"] != task["leaseId"]
    assert again[0]["idempotencyKey"] == task["idempotencyKey"]
    stale = post(server, f"/tasks/{task['taskId']}/complete", {"leaseId": task["leaseId"], "output": "stale"})
    problem(stale, 409, "lease_lost")
    fresh = post(
        server, f"/tasks/{task['taskId']}/complete", {"leaseId": again[0]["leaseId"], "output": "fresh"}
    )
    assert fresh.status_code == 204
    detail = httpx.get(f"{server.api_url}/agent/execution/{started['executionId']}", timeout=5).json()
    assert detail["toolCalls"][0]["result"] == "fresh"


def test_openapi_document_is_served(server: ThreadServer) -> None:
    spec = httpx.get(server.api_url + "/openapi.json", timeout=5).json()
    assert "/api/agent/start" in spec["paths"] and "/api/tasks/poll" in spec["paths"]


def test_offsets_past_a_database_integer_are_refused(server: ThreadServer) -> None:
    """Found by schemathesis: ``start``/``after``/``lastEventId`` beyond a 64-bit integer
    reached the database and came back as a 500."""
    started = post(server, "/agent/start?waitMs=10000", {"agentConfig": AGENT, "prompt": "hi"}).json()
    execution = started["executionId"]
    huge = 2**70
    for path in (
        f"/agent/executions?start={huge}",
        f"/agent/executions/{execution}/events?after={huge}",
        f"/agent/stream/{execution}?lastEventId={huge}",
        f"/agent/stream/{execution}?lastEventId=%C2%B2",  # "²": a digit to str.isdigit, not to int
    ):
        problem(httpx.get(server.api_url + path, timeout=10), 400, "validation_failed")
    stream = httpx.get(
        f"{server.api_url}/agent/stream/{execution}", headers={"Last-Event-ID": str(huge)}, timeout=10
    )
    problem(stream, 400, "validation_failed")


def test_an_empty_query_value_is_not_a_missing_one(server: ThreadServer) -> None:
    """Found by schemathesis: the fast paths dropped ``deltas=`` and ``waitMs=`` as if
    absent and answered 200, where FastAPI (and the description) refuse them."""
    started = post(server, "/agent/start?waitMs=10000", {"agentConfig": AGENT, "prompt": "hi"}).json()
    stream = httpx.get(f"{server.api_url}/agent/stream/{started['executionId']}?deltas=", timeout=10)
    problem(stream, 400, "validation_failed")
    problem(
        post(server, "/agent/start?waitMs=", {"agentConfig": AGENT, "prompt": "hi"}), 400, "validation_failed"
    )
