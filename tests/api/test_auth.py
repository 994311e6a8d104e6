"""Issue 11, defect 2: API keys. Once a key exists (or the bootstrap token is set, or the
server binds off-loopback) every route but the public ones needs one, each key can do only
what its scopes allow, revocation is immediate, and approvals name the key that decided.

On the code before, every request was served whatever ``Authorization`` it carried.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents._config import AgentConfig
from agentspan.server.api.auth import PUBLIC, required_scope
from agentspan.server.settings import Settings

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer

OFFLINE_AGENT = {"name": "a", "model": "offline/basic"}


def _server(tmp_path: Path, **settings: Any) -> ThreadServer:
    return ThreadServer(Settings(data_dir=tmp_path, **settings)).start()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["status"] == status and body["detail"]
    return body


def _create(server: ThreadServer, name: str, scopes: list[str], key: str | None = None) -> str:
    headers = _bearer(key) if key else {}
    response = httpx.post(server.api_url + "/keys", json={"name": name, "scopes": scopes}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created["name"] == name and created["key"].startswith("asp_")
    return str(created["key"])


def _start(server: ThreadServer, key: str | None) -> httpx.Response:
    body = {"agentConfig": OFFLINE_AGENT, "prompt": "hi"}
    return httpx.post(server.api_url + "/agent/start", json=body, headers=_bearer(key) if key else {})


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ThreadServer, dict[str, str]]]:
    """A loopback server on which the first key was created anonymously (no key existed),
    and then one key per scope, made with the admin key."""
    server = _server(tmp_path_factory.mktemp("keyed"))
    admin = _create(server, "root", ["admin"])
    keys = {
        "admin": admin,
        "operator": _create(server, "ops", ["operator"], admin),
        "worker": _create(server, "w1", ["worker"], admin),
        "both": _create(server, "app", [], admin),
    }
    yield server, keys
    server.stop()


def test_a_loopback_server_without_keys_serves_anyone(tmp_path: Path) -> None:
    server = _server(tmp_path)
    try:
        assert _start(server, None).status_code == 200
        # A key that means nothing here is not an error while no key is required.
        assert _start(server, "asp_0123456789ab_whatever").status_code == 200
    finally:
        server.stop()


def test_once_a_key_exists_requests_without_one_get_401(keyed: tuple[ThreadServer, dict[str, str]]) -> None:
    server, _ = keyed
    missing = _start(server, None)
    _problem(missing, 401, "unauthorized")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "AGENTSPAN_API_KEY" in missing.json()["detail"]
    for wrong in ("nope", "asp_0123456789ab_guess", "Basic abc"):
        _problem(_start(server, wrong), 401, "unauthorized")
    # Public routes stay open: liveness and the API's description.
    assert httpx.get(server.root_url + "/health").status_code == 200
    assert httpx.get(server.api_url + "/openapi.json").status_code == 200


def test_scopes_separate_workers_operators_and_admins(keyed: tuple[ThreadServer, dict[str, str]]) -> None:
    server, keys = keyed
    poll = {"names": ["nothing"], "workerId": "w", "count": 1, "waitMs": 0}

    def call(method: str, path: str, key: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, server.api_url + path, headers=_bearer(keys[key]), **kwargs)

    assert _start(server, keys["operator"]).status_code == 200
    assert _start(server, keys["both"]).status_code == 200
    assert _start(server, keys["admin"]).status_code == 200
    body = _problem(_start(server, keys["worker"]), 403, "insufficient_scope")
    assert "'w1'" in body["detail"] and "operator" in body["detail"]

    assert call("POST", "/tasks/poll", "worker", json=poll).status_code == 200
    assert call("POST", "/tasks/poll", "both", json=poll).status_code == 200
    _problem(call("POST", "/tasks/poll", "operator", json=poll), 403, "insufficient_scope")

    assert call("GET", "/keys", "admin").status_code == 200
    for key in ("operator", "worker", "both"):
        _problem(call("GET", "/keys", key), 403, "insufficient_scope")
        _problem(call("POST", "/keys", key, json={"name": "sneaky"}), 403, "insufficient_scope")


def test_keys_are_listed_without_secrets_and_stored_as_hashes(
    keyed: tuple[ThreadServer, dict[str, str]],
) -> None:
    server, keys = keyed
    listed = httpx.get(server.api_url + "/keys", headers=_bearer(keys["admin"])).json()
    names = {k["name"]: k for k in listed}
    assert {"root", "ops", "w1", "app"} <= set(names)
    assert names["app"]["scopes"] == ["operator", "worker"]  # the default
    assert names["ops"]["createdBy"] == "root" and names["root"]["createdBy"] == "anonymous"
    text = repr(listed)
    stored = repr(server.services.store.url)  # the database file holds hashes only
    path = Path(server.services.store.url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for key in keys.values():
        secret = key.split("_", 2)[2]
        assert secret not in text and secret not in stored
        assert secret.encode() not in raw


def test_a_revoked_key_stops_working_at_once(keyed: tuple[ThreadServer, dict[str, str]]) -> None:
    server, keys = keyed
    temp = _create(server, "temp", ["operator"], keys["admin"])
    assert _start(server, temp).status_code == 200
    revoked = httpx.delete(server.api_url + "/keys/temp", headers=_bearer(keys["admin"]))
    assert revoked.status_code == 200 and revoked.json()["revokedAt"] > 0
    _problem(_start(server, temp), 401, "unauthorized")
    # Gone means gone: revoking again, or an unknown name, is a 404 problem.
    again = httpx.delete(server.api_url + "/keys/temp", headers=_bearer(keys["admin"]))
    _problem(again, 404, "key_not_found")
    # The name is free again; the new key is a different one.
    fresh = _create(server, "temp", ["operator"], keys["admin"])
    assert fresh != temp and _start(server, fresh).status_code == 200
    _problem(_start(server, temp), 401, "unauthorized")


def test_key_names_are_unique_among_active_keys_and_checked(
    keyed: tuple[ThreadServer, dict[str, str]],
) -> None:
    server, keys = keyed
    admin = _bearer(keys["admin"])
    taken = httpx.post(server.api_url + "/keys", json={"name": "ops"}, headers=admin)
    _problem(taken, 409, "key_name_taken")
    for body in ({"name": "bad name!"}, {"name": ""}, {"name": "x", "scopes": ["root"]}):
        _problem(httpx.post(server.api_url + "/keys", json=body, headers=admin), 400, "validation_failed")


def test_the_bootstrap_token_is_an_admin_key(tmp_path: Path) -> None:
    server = _server(tmp_path, auth_token="boot-secret-123")
    try:
        _problem(_start(server, None), 401, "unauthorized")
        _problem(_start(server, "boot-secret-12"), 401, "unauthorized")
        assert _start(server, "boot-secret-123").status_code == 200
        key = _create(server, "first", ["operator"], "boot-secret-123")
        assert _start(server, key).status_code == 200
    finally:
        server.stop()


def test_a_non_loopback_server_requires_a_key_even_before_one_exists(tmp_path: Path) -> None:
    # Bound (for the test) on loopback, but configured as reachable from the network.
    server = _server(tmp_path, host="0.0.0.0")
    try:
        _problem(_start(server, None), 401, "unauthorized")
        _problem(httpx.post(server.api_url + "/keys", json={"name": "me"}), 401, "unauthorized")
    finally:
        server.stop()


def _routes(server: ThreadServer) -> list[tuple[str, str]]:
    """Every (method, concrete path) the app serves, path parameters filled in: the
    OpenAPI document's operations (every router's routes) and the app's own routes."""
    found: set[tuple[str, str]] = set()
    for path, operations in server.app.api.openapi()["paths"].items():
        found.update((method.upper(), path) for method in operations)
    for route in server.app.api.routes:
        if isinstance(route, APIRoute | Route):
            found.update((m, route.path) for m in route.methods or () if m != "HEAD")
    return sorted((m, re.sub(r"\{[^}]+\}", "x-1", p)) for m, p in found)


def test_every_route_requires_a_key_but_the_public_ones(keyed: tuple[ThreadServer, dict[str, str]]) -> None:
    """Generated from the route table: a route added without thinking of auth fails here."""
    server, _ = keyed
    routes = _routes(server)
    assert len(routes) >= 18, routes  # the table was read, not silently empty
    public = {("GET", "/health"), ("GET", "/api/openapi.json"), ("GET", "/api/docs")}
    for method, path in routes:
        if (method, path) in public:
            continue
        assert required_scope(method, path) is not None, (method, path)
        response = httpx.request(method, server.root_url + path, json={}, timeout=10)
        _problem(response, 401, "unauthorized")
    # Paths no route serves are refused before anyone learns whether they exist.
    _problem(httpx.get(server.api_url + "/no/such/thing"), 401, "unauthorized")
    _problem(httpx.get(server.root_url + "/metrics"), 401, "unauthorized")
    assert {p for _, p in PUBLIC} >= {"/health", "/api/openapi.json"}


def test_approvals_record_the_key_name_not_a_claimed_one(
    keyed: tuple[ThreadServer, dict[str, str]], fake_openai: FakeOpenAI
) -> None:
    server, keys = keyed
    fake_openai.reset()

    @tool(approval_required=True)
    def pay(amount: float) -> str:
        """Pay."""
        return f"paid {amount}"

    fake_openai.script(FakeOpenAI.tool_calls([("pay", {"amount": 3})]), FakeOpenAI.text("Done."))
    config = AgentConfig(server_url=server.api_url, auto_start_server=False, api_key=keys["both"])
    with AgentRuntime(config=config) as runtime:
        handle = runtime.start(Agent(name="payer", model="openai/gpt-4o", tools=[pay]), "pay 3")
        deadline = time.monotonic() + 10
        while not handle.get_status().is_waiting:
            assert time.monotonic() < deadline, "never waited for the approval"
            time.sleep(0.02)
        answer = httpx.post(
            f"{server.api_url}/agent/{handle.execution_id}/respond",
            json={"approved": True, "decidedBy": "the-ceo"},
            headers={**_bearer(keys["operator"]), "X-Agentspan-Actor": "also-the-ceo"},
        )
        assert answer.status_code == 200 and answer.json()["decidedBy"] == "ops"
        result = handle.join(timeout=10)
    assert result.output == "Done."
    assert result.tool_calls[0]["approval"]["decidedBy"] == "ops"
    fake_openai.reset()


def test_the_sdk_sends_its_key_and_a_wrong_one_is_refused(keyed: tuple[ThreadServer, dict[str, str]]) -> None:
    server, keys = keyed
    agent = Agent(name="sdk", model="offline/basic")
    config = AgentConfig(server_url=server.api_url, auto_start_server=False, api_key=keys["both"])
    with AgentRuntime(config=config) as runtime:
        assert runtime.run(agent, "hello").status == "COMPLETED"
    bad = AgentConfig(server_url=server.api_url, auto_start_server=False, api_key="asp_0123456789ab_nope")
    with AgentRuntime(config=bad) as runtime, pytest.raises(Exception, match="unauthorized|401"):
        runtime.run(agent, "hello")


def test_revoking_the_last_key_does_not_open_the_server_again(tmp_path: Path) -> None:
    server = _server(tmp_path)
    try:
        only = _create(server, "only", ["admin"])
        revoked = httpx.delete(server.api_url + "/keys/only", headers=_bearer(only))
        assert revoked.status_code == 200
        _problem(_start(server, None), 401, "unauthorized")
        _problem(_start(server, only), 401, "unauthorized")
    finally:
        server.stop()
    # The way back in is the bootstrap token, set in the server's environment.
    again = _server(tmp_path, auth_token="recover-1234")
    try:
        assert _create(again, "new-admin", ["admin"], "recover-1234").startswith("asp_")
    finally:
        again.stop()


def test_deployments_need_the_operator_scope(keyed: tuple[ThreadServer, dict[str, str]]) -> None:
    server, keys = keyed
    deploy = {"agentConfig": {**OFFLINE_AGENT, "name": "scoped_deploy"}}

    def call(method: str, path: str, key: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, server.api_url + path, headers=_bearer(keys[key]), **kwargs)

    assert call("POST", "/deployments", "operator", json=deploy).status_code == 201
    assert call("GET", "/deployments", "operator").status_code == 200
    assert call("POST", "/agent/compile", "operator", json=deploy).status_code == 200
    started = call("POST", "/deployments/scoped_deploy/start", "operator", json={"prompt": "hi"})
    assert started.status_code == 200, started.text
    for method, path in (
        ("POST", "/deployments"),
        ("GET", "/deployments"),
        ("GET", "/deployments/scoped_deploy"),
        ("POST", "/deployments/scoped_deploy/start"),
        ("POST", "/agent/compile"),
    ):
        _problem(call(method, path, "worker", json=deploy), 403, "insufficient_scope")
