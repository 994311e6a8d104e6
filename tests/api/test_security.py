"""Issue 11, defect 1: the server's provider keys never leave for a caller's URL, and a
web page cannot drive the server cross-site (content type, Origin, Host).

Each test would pass a request through on the code before the fix: a caller-supplied
``baseUrl`` received ``Authorization: Bearer <OPENAI_API_KEY>``, ``text/plain`` starts
were accepted, and neither ``Origin`` nor ``Host`` was looked at.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.server.settings import Settings

from fakes.openai_server import FakeOpenAI
from support.servers import ThreadServer

CANARY = "sk-canary-0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.fixture
def canary_key(monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> str:
    """The server's own OpenAI key is the canary (the operator's endpoint is ``fake_openai``)."""
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    return CANARY


@pytest.fixture
def listener() -> Iterator[FakeOpenAI]:
    """A real socket server standing in for an attacker's URL; it records every request."""
    with FakeOpenAI() as fake:
        yield fake


def _server(tmp_path: Path, **settings: Any) -> ThreadServer:
    return ThreadServer(Settings(data_dir=tmp_path, **settings)).start()


def _start(server: ThreadServer, agent: dict[str, Any], **kwargs: Any) -> httpx.Response:
    body = {"agentConfig": agent, "prompt": "hi"}
    return httpx.post(server.api_url + "/agent/start", json=body, timeout=30, **kwargs)


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["status"] == status and body["detail"]
    return body


def _everything_sent(fake: FakeOpenAI) -> str:
    """Every header, path and body the fake received, as one text to search for a key."""
    return repr((fake.request_headers, fake.request_paths, fake.requests))


# --- caller-supplied base URLs ----------------------------------------------------------


def test_a_caller_base_url_is_refused_without_an_allow_list(
    tmp_path: Path, canary_key: str, listener: FakeOpenAI
) -> None:
    server = _server(tmp_path)
    try:
        agent = {"name": "exfil", "model": "openai/gpt-4o", "baseUrl": listener.base_url}
        body = _problem(_start(server, agent), 400, "base_url_not_allowed")
        assert "exfil" in body["detail"] and listener.base_url in body["detail"]
        nested = {"name": "team", "model": "openai/gpt-4o", "strategy": "handoff", "agents": [agent]}
        body = _problem(_start(server, nested), 400, "base_url_not_allowed")
        assert "exfil" in body["detail"]
    finally:
        server.stop()
    assert listener.request_count == 0 and listener.request_headers == []


def test_an_allowed_caller_base_url_never_gets_the_servers_key(
    tmp_path: Path, canary_key: str, listener: FakeOpenAI
) -> None:
    listener.script(FakeOpenAI.text("hello from the caller's endpoint"))
    server = _server(tmp_path, allowed_base_urls=(listener.base_url,))
    try:
        agent = {"name": "allowed", "model": "openai/gpt-4o", "baseUrl": listener.base_url + "/"}
        started = _start(server, agent, params={"waitMs": 20000})
        assert started.status_code == 200, started.text
        result = started.json()["result"]
        assert result["status"] == "COMPLETED", result
    finally:
        server.stop()
    assert listener.request_count == 1
    headers = listener.request_headers[0]
    assert "authorization" not in headers and "api-key" not in headers
    assert canary_key not in _everything_sent(listener)


def test_the_allow_list_matches_scheme_host_and_port_exactly_and_the_path_by_prefix() -> None:
    settings = Settings(allowed_base_urls=("http://llm.local:8080/v1",))
    assert settings.base_url_allowed("http://llm.local:8080/v1")
    assert settings.base_url_allowed("http://llm.local:8080/v1/")
    assert settings.base_url_allowed("HTTP://LLM.local:8080/v1/deployments")
    assert not settings.base_url_allowed("http://llm.local:8081/v1")
    assert not settings.base_url_allowed("https://llm.local:8080/v1")
    assert not settings.base_url_allowed("http://llm.local.evil.example:8080/v1")
    assert not settings.base_url_allowed("http://llm.local:8080@evil.example/v1")
    assert not settings.base_url_allowed("http://llm.local:8080/v10")
    assert not settings.base_url_allowed("http://llm.local:8080/")
    assert not Settings().base_url_allowed("http://llm.local:8080/v1")


def test_the_operators_base_url_still_gets_the_key(
    tmp_path: Path, canary_key: str, fake_openai: FakeOpenAI
) -> None:
    fake_openai.reset()
    fake_openai.script(FakeOpenAI.text("hello from the operator's endpoint"))
    server = _server(tmp_path)
    try:
        started = _start(server, {"name": "operator", "model": "openai/gpt-4o"}, params={"waitMs": 20000})
        assert started.status_code == 200, started.text
        assert started.json()["result"]["status"] == "COMPLETED"
    finally:
        server.stop()
    assert fake_openai.request_headers[-1]["authorization"] == f"Bearer {canary_key}"


# --- cross-site requests ----------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI) -> Iterator[ThreadServer]:
    server = _server(tmp_path_factory.mktemp("guarded"))
    try:
        yield server
    finally:
        server.stop()


OFFLINE = {"agentConfig": {"name": "cross", "model": "offline/basic"}, "prompt": "hi"}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_start_without_a_json_content_type_is_refused(
    guarded: ThreadServer, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = httpx.post(
        guarded.api_url + "/agent/start", content=json.dumps(OFFLINE), headers=headers, timeout=10
    )
    _problem(response, 415, "unsupported_media_type")


def test_json_with_a_charset_is_accepted(guarded: ThreadServer) -> None:
    headers = {"content-type": "application/json; charset=utf-8"}
    response = httpx.post(guarded.api_url + "/agent/start", content=json.dumps(OFFLINE), headers=headers)
    assert response.status_code == 200, response.text


def test_a_foreign_origin_is_refused_and_gets_no_cors_headers(guarded: ThreadServer) -> None:
    for origin in ("http://evil.example", "null", "http://127.0.0.1:1"):
        response = httpx.post(guarded.api_url + "/agent/start", json=OFFLINE, headers={"origin": origin})
        _problem(response, 403, "forbidden_origin")
        assert "access-control-allow-origin" not in response.headers
        read = httpx.get(guarded.api_url + "/agent/executions", headers={"origin": origin})
        _problem(read, 403, "forbidden_origin")
    preflight = httpx.options(
        guarded.api_url + "/agent/start",
        headers={"origin": "http://evil.example", "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers


def test_same_origin_and_no_origin_are_served(guarded: ThreadServer) -> None:
    assert httpx.post(guarded.api_url + "/agent/start", json=OFFLINE).status_code == 200
    same = httpx.post(guarded.api_url + "/agent/start", json=OFFLINE, headers={"origin": guarded.root_url})
    assert same.status_code == 200, same.text
    assert "access-control-allow-origin" not in same.headers


def test_configured_cors_origins_are_served_with_cors_headers(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    allowed = "https://ui.example"
    server = _server(tmp_path, cors_origins=(allowed,))
    try:
        preflight = httpx.options(
            server.api_url + "/agent/start",
            headers={
                "origin": allowed,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == allowed
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "content-type" in preflight.headers["access-control-allow-headers"].lower()
        response = httpx.post(server.api_url + "/agent/start", json=OFFLINE, headers={"origin": allowed})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == allowed
        assert response.headers["vary"] == "Origin"
        other = httpx.post(
            server.api_url + "/agent/start", json=OFFLINE, headers={"origin": "https://x.example"}
        )
        _problem(other, 403, "forbidden_origin")
    finally:
        server.stop()


def test_a_foreign_host_is_refused_on_a_loopback_bind(guarded: ThreadServer) -> None:
    port = guarded.port
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}"):
        response = httpx.post(guarded.api_url + "/agent/start", json=OFFLINE, headers={"host": host})
        _problem(response, 421, "forbidden_host")
        _problem(httpx.get(guarded.root_url + "/health", headers={"host": host}), 421, "forbidden_host")
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost", f"[::1]:{port}"):
        response = httpx.get(guarded.api_url + "/agent/executions", headers={"host": host})
        assert response.status_code == 200, (host, response.text)


def test_any_host_is_served_on_a_non_loopback_bind() -> None:
    assert Settings(host="127.0.0.1").loopback_only
    assert Settings(host="::1").loopback_only
    assert Settings(host="localhost").loopback_only
    assert Settings(host="127.0.0.2").loopback_only
    assert not Settings(host="::").loopback_only
    assert not Settings(host="0.0.0.0").loopback_only


# --- request size -----------------------------------------------------------------------

LIMIT = 4096


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    server = _server(tmp_path_factory.mktemp("small"), max_request_bytes=LIMIT)
    try:
        yield server
    finally:
        server.stop()


def _chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length), as a streaming client sends it."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_a_body_over_the_limit_is_refused_before_it_is_read(small: ThreadServer) -> None:
    big = {**OFFLINE, "prompt": "x" * (LIMIT + 1)}
    body = _problem(
        httpx.post(small.api_url + "/agent/start", json=big, timeout=10), 413, "request_too_large"
    )
    assert str(LIMIT) in body["detail"]
    # A FastAPI route, not only the fast paths, and nothing was started.
    respond = httpx.post(small.api_url + "/agent/none/respond", json={"reason": "x" * LIMIT}, timeout=10)
    _problem(respond, 413, "request_too_large")
    listing = httpx.get(small.api_url + "/agent/executions", timeout=10).json()
    assert listing["totalHits"] == 0


def test_a_chunked_body_is_bounded_too(small: ThreadServer) -> None:
    headers = {"content-type": "application/json"}
    big = json.dumps({**OFFLINE, "prompt": "x" * (LIMIT + 1)}).encode()
    response = httpx.post(small.api_url + "/agent/start", content=_chunks(big), headers=headers, timeout=10)
    _problem(response, 413, "request_too_large")
    fits = json.dumps(OFFLINE).encode()
    response = httpx.post(
        small.api_url + "/agent/start", content=_chunks(fits, 10), headers=headers, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.json()["agentName"] == "cross"


def test_the_limit_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSPAN_MAX_REQUEST_BYTES", "1234")
    assert Settings.from_env().max_request_bytes == 1234
    monkeypatch.setenv("AGENTSPAN_MAX_REQUEST_BYTES", "lots")
    with pytest.raises(ValueError, match="AGENTSPAN_MAX_REQUEST_BYTES"):
        Settings.from_env()
    monkeypatch.delenv("AGENTSPAN_MAX_REQUEST_BYTES")
    assert Settings.from_env().max_request_bytes == 8 * 1024 * 1024


# --- inputs out of range (defect 6) -----------------------------------------------------


def _raw_start(server: ThreadServer, text: str) -> httpx.Response:
    headers = {"content-type": "application/json"}
    return httpx.post(server.api_url + "/agent/start", content=text, headers=headers, timeout=10)


@pytest.mark.parametrize("value", ["-1", "NaN", "Infinity", "1e999"])
def test_a_timeout_out_of_range_is_refused(guarded: ThreadServer, value: str) -> None:
    """Negative, NaN and infinite timeouts were accepted with 200."""
    agent = json.dumps(OFFLINE["agentConfig"])
    body = _problem(
        _raw_start(guarded, f'{{"agentConfig": {agent}, "prompt": "hi", "timeoutSeconds": {value}}}'),
        400,
        "validation_failed",
    )
    assert "timeoutSeconds" in body["detail"]
    spec = f'{{"name": "cross", "model": "offline/basic", "timeoutSeconds": {value}}}'
    body = _problem(_raw_start(guarded, f'{{"agentConfig": {spec}, "prompt": "hi"}}'), 400, "invalid_agent")
    assert "timeoutSeconds" in body["detail"]
    tool = f'{{"name": "t", "timeoutSeconds": {value}}}'
    spec = f'{{"name": "cross", "model": "offline/basic", "tools": [{tool}]}}'
    _problem(_raw_start(guarded, f'{{"agentConfig": {spec}, "prompt": "hi"}}'), 400, "invalid_agent")


def test_zero_means_no_timeout_and_is_accepted(guarded: ThreadServer) -> None:
    response = httpx.post(guarded.api_url + "/agent/start", json={**OFFLINE, "timeoutSeconds": 0}, timeout=10)
    assert response.status_code == 200, response.text


def test_list_filters_and_pages_out_of_range_are_refused(guarded: ThreadServer) -> None:
    api = guarded.api_url
    body = _problem(httpx.get(api + "/agent/executions?status=bogus", timeout=10), 400, "validation_failed")
    assert "bogus" in body["detail"] and "COMPLETED" in body["detail"]
    assert httpx.get(api + "/agent/executions?status=completed", timeout=10).status_code == 200
    for query in ("size=-1", "size=0", "start=-1"):
        _problem(httpx.get(f"{api}/agent/executions?{query}", timeout=10), 400, "validation_failed")
    _problem(httpx.get(f"{api}/agent/executions/none/events?limit=-1", timeout=10), 400, "validation_failed")
