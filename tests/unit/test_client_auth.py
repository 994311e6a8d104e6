"""The CLI and the SDK send the same credentials, read from the same variables.

A tiny HTTP server on 127.0.0.1 records the headers of every request it gets; the CLI's
commands and the SDK's client talk to it as they would to a real server.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentspan.agents import AgentConfig
from agentspan.cli import main
from agentspan.client._auth import auth_headers, bearer_token, bearer_token_from_env
from agentspan.client._http import ApiClient


class _Recorder(BaseHTTPRequestHandler):
    """Answers every request with an empty execution list and keeps its headers."""

    seen: list[dict[str, str]]

    def _answer(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        body = json.dumps({"results": [], "totalHits": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_DELETE = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # The developer's own settings must not decide what these tests see.
    for name in ("AGENTSPAN_API_KEY", "AGENTSPAN_AUTH_KEY", "AGENTSPAN_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)


def _cli(url: str, *args: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--server-url", url, *args]) == 0
    capsys.readouterr()


def test_the_cli_sends_the_sdk_api_key_as_a_bearer_token(
    recorder: tuple[str, list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, seen = recorder
    monkeypatch.setenv("AGENTSPAN_API_KEY", "key-123")
    _cli(url, "executions", "list", capsys=capsys)
    _cli(url, "cancel", "some-id", capsys=capsys)
    assert [h.get("authorization") for h in seen] == ["Bearer key-123", "Bearer key-123"]
    assert all(h["user-agent"].startswith("agentspan-cli/") for h in seen)


def test_the_cli_falls_back_to_the_auth_key_like_the_sdk(
    recorder: tuple[str, list[dict[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, seen = recorder
    monkeypatch.setenv("AGENTSPAN_AUTH_KEY", "older-name")
    _cli(url, "executions", "list", capsys=capsys)
    assert seen[0].get("authorization") == "Bearer older-name"


def test_the_cli_sends_no_credentials_without_a_key(
    recorder: tuple[str, list[dict[str, str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, seen = recorder
    _cli(url, "executions", "list", capsys=capsys)
    assert len(seen) == 1
    assert "authorization" not in seen[0]


def test_the_sdk_client_sends_the_same_header(
    recorder: tuple[str, list[dict[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = recorder
    monkeypatch.setenv("AGENTSPAN_API_KEY", "key-123")
    config = AgentConfig.from_env()
    token = bearer_token(config.api_key, config.auth_key)
    assert token == bearer_token_from_env()

    async def list_executions() -> None:
        client = ApiClient(url, api_key=token)
        try:
            await client.request("GET", "/agent/executions")
        finally:
            await client.aclose()

    asyncio.run(list_executions())
    assert seen[0].get("authorization") == "Bearer key-123"


def test_the_api_key_wins_and_empty_means_unset() -> None:
    assert bearer_token("a", "b") == "a"
    assert bearer_token("", "b") == "b"
    assert bearer_token("", "") is None
    assert bearer_token_from_env({"AGENTSPAN_API_KEY": "", "AGENTSPAN_AUTH_KEY": ""}) is None
    assert auth_headers(None) == {}
    assert auth_headers("t") == {"Authorization": "Bearer t"}
