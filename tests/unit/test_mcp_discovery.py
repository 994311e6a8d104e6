"""What discovery refuses before connecting anywhere, and the operator's MCP settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentspan.protocol.spec import McpSettings, McpTool
from agentspan.server.errors import InvalidAgent, McpServerNotAllowed
from agentspan.server.executors.mcp_client import McpEndpoint, transport_of
from agentspan.server.service.mcp_discovery import McpDiscovery, placeholders, substitute
from agentspan.server.settings import Settings


def discovery(tmp_path: Path, **settings: object) -> McpDiscovery:
    return McpDiscovery(Settings(data_dir=tmp_path, **settings))  # type: ignore[arg-type]


def mcp(url: str, **config: object) -> McpTool:
    return McpTool(name="mcp_tools", config=McpSettings(server_url=url, **config))  # type: ignore[arg-type]


def test_only_allowed_mcp_urls_pass_when_the_operator_lists_some(tmp_path: Path) -> None:
    open_server = discovery(tmp_path)
    open_server.check(mcp("http://anywhere.example/mcp"), "a")
    strict = discovery(tmp_path, mcp_allowed_urls=("https://tools.example/mcp",))
    strict.check(mcp("https://tools.example/mcp/github"), "a")
    for url in ("https://tools.example/mcpx", "http://tools.example/mcp", "https://evil.example/mcp"):
        with pytest.raises(McpServerNotAllowed, match="AGENTSPAN_MCP_ALLOWED_URLS"):
            strict.check(mcp(url), "a")


def test_stdio_names_must_be_listed_by_the_operator(tmp_path: Path) -> None:
    allowed = discovery(tmp_path, mcp_stdio_commands={"files": ("mcp-files", "--root", "/srv")})
    allowed.check(mcp("stdio:files"), "a")
    with pytest.raises(McpServerNotAllowed, match=r"'stdio:rm -rf /'.*allowed: files"):
        allowed.check(mcp("stdio:rm -rf /"), "a")
    with pytest.raises(McpServerNotAllowed, match="allowed: none"):
        discovery(tmp_path).check(mcp("stdio:files"), "a")


def test_a_url_that_is_neither_http_nor_stdio_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidAgent, match="http"):
        discovery(tmp_path).check(mcp("file:///etc/passwd"), "a")


def test_transport_follows_the_url_unless_given() -> None:
    assert transport_of("http://x/mcp", None) == "streamable_http"
    assert transport_of("http://x/sse", None) == "sse"
    assert transport_of("http://x/sse/", None) == "sse"
    assert transport_of("stdio:files", None) == "stdio"
    assert transport_of("http://x/events", "sse") == "sse"


def test_placeholders_are_substituted_in_memory() -> None:
    headers = {"Authorization": "Bearer ${TOKEN}", "X-Team": "${TEAM}-${TOKEN}"}
    assert placeholders(headers) == ["TOKEN", "TEAM"]
    assert substitute(headers, {"TOKEN": "t0k", "TEAM": "red"}) == {
        "Authorization": "Bearer t0k",
        "X-Team": "red-t0k",
    }
    endpoint = McpEndpoint(url="http://x/mcp", transport="streamable_http", secrets=("t0k",))
    assert endpoint.scrub("401 for Bearer t0k") == "401 for Bearer ***"
    assert "t0k" not in repr(McpEndpoint(url="u", transport="sse", headers={"a": "t0k"}, secrets=("t0k",)))


def test_stdio_commands_setting_is_parsed_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AGENTSPAN_MCP_STDIO_COMMANDS", "files=mcp-files --root '/srv/my docs'; git = uvx mcp-git"
    )
    assert Settings.from_env().mcp_stdio_commands == {
        "files": ("mcp-files", "--root", "/srv/my docs"),
        "git": ("uvx", "mcp-git"),
    }
    monkeypatch.setenv("AGENTSPAN_MCP_STDIO_COMMANDS", "just-a-command")
    with pytest.raises(ValueError, match="NAME=COMMAND"):
        Settings.from_env()


def test_without_the_mcp_sdk_the_start_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agentspan.server.service.mcp_discovery as module

    monkeypatch.setattr(module, "mcp_available", lambda: False)
    with pytest.raises(InvalidAgent, match=r"pip install 'agentspan\[mcp\]'"):
        discovery(tmp_path).check(mcp("http://x/mcp"), "a")


IMPORT_PROBE = """
import asyncio, json, time
from agentspan.server.executors import mcp_client

async def main():
    gaps, last, done = [], time.perf_counter(), False
    async def tick():
        nonlocal last
        while not done:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now
    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await mcp_client._require_mcp()
    took = time.perf_counter() - started
    await asyncio.sleep(0.05)
    done = True
    await ticker
    print(json.dumps({"took": took, "gap": max(gaps)}))

asyncio.run(main())
"""


def test_the_sdk_is_imported_off_the_event_loop() -> None:
    """A first import of the MCP SDK takes seconds; on the event loop it would stall every
    request and lease renewal of the server (a lost lease, a needless re-run)."""
    out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True)
    probe = json.loads(out.stdout)
    assert probe["gap"] < probe["took"] / 2, probe
