"""Issue 13, credentials: ``/api/credentials`` over real HTTP (admin scope, problem
documents, never a value in an answer), what a start may declare, and provider keys taken
from the store by a running server (a real model call to the fake OpenAI endpoint)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.server.settings import Settings

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadServer]:
    srv = ThreadServer(Settings(data_dir=tmp_path)).start()
    try:
        yield srv
    finally:
        srv.stop()


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["detail"]
    return body


def test_set_list_get_and_delete_answer_names_and_dates_only(server: ThreadServer) -> None:
    api = server.api_url + "/credentials"
    secret = f"ghp_{uuid.uuid4().hex}"
    created = httpx.post(api, json={"name": "GITHUB_TOKEN", "value": secret})
    assert created.status_code == 201, created.text
    assert set(created.json()) == {"name", "createdAt", "updatedAt", "createdBy", "updatedBy"}
    replaced = httpx.put(api + "/GITHUB_TOKEN", json={"value": secret + "2"})
    assert replaced.status_code == 200 and replaced.json()["createdAt"] == created.json()["createdAt"]
    new = httpx.put(api + "/OTHER", json={"value": "x"})
    assert new.status_code == 201
    listed = httpx.get(api)
    assert [c["name"] for c in listed.json()] == ["GITHUB_TOKEN", "OTHER"]
    one = httpx.get(api + "/GITHUB_TOKEN")
    assert one.status_code == 200 and one.json()["name"] == "GITHUB_TOKEN"
    for response in (created, replaced, listed, one):
        assert secret not in response.text
    assert httpx.delete(api + "/OTHER").status_code == 204
    _problem(httpx.delete(api + "/OTHER"), 404, "credential_not_found")
    _problem(httpx.get(api + "/OTHER"), 404, "credential_not_found")


def test_bad_names_and_values_are_refused_without_echoing_the_value(server: ThreadServer) -> None:
    api = server.api_url + "/credentials"
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    for name in ("1ABC", "A-B", "A%20B"):
        body = _problem(httpx.put(f"{api}/{name}", json={"value": secret}), 400, "validation_failed")
        assert secret not in str(body)
    for bad in ({"name": "OK", "value": ""}, {"name": "OK", "value": secret * 2000}, {"name": "OK"}):
        response = httpx.post(api, json=bad)
        assert response.status_code == 400 and secret not in response.text
    assert httpx.get(api).json() == []


def test_credentials_need_the_admin_scope(tmp_path: Path) -> None:
    srv = ThreadServer(Settings(data_dir=tmp_path, auth_token="boot-" + uuid.uuid4().hex)).start()
    try:
        api = srv.api_url + "/credentials"
        boot = {"Authorization": f"Bearer {srv.settings.auth_token}"}
        keys = {}
        for scope in ("operator", "worker", "admin"):
            made = httpx.post(srv.api_url + "/keys", json={"name": scope, "scopes": [scope]}, headers=boot)
            keys[scope] = {"Authorization": f"Bearer {made.json()['key']}"}
        _problem(httpx.get(api), 401, "unauthorized")
        for scope in ("operator", "worker"):
            _problem(httpx.get(api, headers=keys[scope]), 403, "insufficient_scope")
            _problem(
                httpx.put(api + "/X", json={"value": "v"}, headers=keys[scope]), 403, "insufficient_scope"
            )
        assert httpx.put(api + "/X", json={"value": "v"}, headers=keys["admin"]).status_code == 201
        listed = httpx.get(api, headers=keys["admin"]).json()
        assert [(c["name"], c["createdBy"]) for c in listed] == [("X", "admin")]
    finally:
        srv.stop()


def _start(server: ThreadServer, agent: dict[str, Any], **extra: Any) -> httpx.Response:
    body = {"agentConfig": agent, "prompt": "hi", **extra}
    return httpx.post(server.api_url + "/agent/start", json=body, params={"waitMs": 10000}, timeout=15)


def test_a_start_must_declare_every_placeholder_and_agent_tools_may_not_have_credentials(
    server: ThreadServer,
) -> None:
    http_tool = {
        "name": "issues",
        "toolType": "http",
        "config": {"url": "http://127.0.0.1:9/x", "headers": {"Authorization": "Bearer ${GH_TOKEN}"}},
    }
    body = _problem(
        _start(server, {"name": "a", "model": "offline/basic", "tools": [http_tool]}), 400, "invalid_agent"
    )
    assert "GH_TOKEN" in body["detail"] and "issues" in body["detail"]
    badly_named = {"name": "charge", "toolType": "worker", "config": {"credentials": ["STRIPE-KEY"]}}
    body = _problem(
        _start(server, {"name": "a", "model": "offline/basic", "tools": [badly_named]}), 400, "invalid_agent"
    )
    assert "STRIPE-KEY" in body["detail"] and "charge" in body["detail"]
    child = {"name": "helper", "model": "offline/basic"}
    agent_tool = {
        "name": "ask",
        "toolType": "agent_tool",
        "config": {"agentConfig": child, "credentials": ["X"]},
    }
    body = _problem(
        _start(server, {"name": "a", "model": "offline/basic", "tools": [agent_tool]}), 400, "invalid_agent"
    )
    assert "not supported" in body["detail"] and "ask" in body["detail"]
    # An agent's or a run's names are accepted (its tools may use them), malformed ones not.
    agent = {"name": "a", "model": "offline/basic", "credentials": ["GH_TOKEN"]}
    assert _start(server, agent).status_code == 200
    assert _start(server, {"name": "a", "model": "offline/basic"}, credentials=["X"]).status_code == 200
    badly = {"name": "a", "model": "offline/basic", "credentials": ["GH-TOKEN"]}
    nested = {"name": "team", "model": "offline/basic", "agents": [badly]}
    assert "team/a" in _problem(_start(server, nested), 400, "invalid_agent")["detail"]
    _problem(
        _start(server, {"name": "a", "model": "offline/basic"}, credentials=["not a name"]),
        400,
        "validation_failed",
    )
    # A placeholder declared by the agent, not the tool, is accepted.
    declared_by_agent = {
        "name": "a",
        "model": "offline/basic",
        "tools": [http_tool],
        "credentials": ["GH_TOKEN"],
    }
    assert _start(server, declared_by_agent).status_code == 200


def test_a_provider_key_set_while_the_server_runs_is_used_without_a_restart(
    server: ThreadServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"sk-store-{uuid.uuid4().hex}"
    with FakeOpenAI() as fake:
        # Groq speaks the OpenAI wire format and, unlike openai/ with a base URL, needs a key.
        monkeypatch.delenv("GROQ_API_KEY", raising=False)
        monkeypatch.setenv("GROQ_BASE_URL", fake.base_url)
        agent = {"name": "a", "model": "groq/llama-3.3-70b"}
        failed = _start(server, agent).json()["result"]
        assert failed["status"] == "FAILED"
        assert "agentspan credentials set GROQ_API_KEY" in failed["error"] and fake.request_count == 0

        put = httpx.put(server.api_url + "/credentials/GROQ_API_KEY", json={"value": key})
        assert put.status_code == 201
        fake.script(fake.text("hello from the stored key"))
        done = _start(server, agent).json()["result"]
        assert done["status"] == "COMPLETED" and "hello from the stored key" in str(done["output"])
        assert fake.request_headers[-1]["authorization"] == f"Bearer {key}"

        # The environment wins over the store when both have a key.
        monkeypatch.setenv("GROQ_API_KEY", "sk-from-env")
        fake.script(fake.text("from the environment's key"))
        env_first = _start(server, agent).json()["result"]
        assert env_first["status"] == "COMPLETED"
        assert fake.request_headers[-1]["authorization"] == "Bearer sk-from-env"
