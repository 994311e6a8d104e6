"""``mcp_tool`` end to end: a real MCP server (official SDK) in its own process, a real
Agentspan server, the SDK over HTTP and the fake OpenAI model calling the listed tools.

Each test checks what the MCP server received (arguments, the idempotency key in
``_meta``, the substituted header) and what the model was given back.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Collection, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, mcp_tool
from agentspan.protocol.spec import McpSettings, McpTool
from agentspan.protocol.spec.tools import TOOL_NAME_PATTERN
from agentspan.server.errors import ToolDiscoveryFailed
from agentspan.server.executors.base import MissingSecret, NoSecrets, SecretResolver
from agentspan.server.executors.mcp_client import ListedTool
from agentspan.server.service.limits import Limits
from agentspan.server.service.mcp_discovery import McpDiscovery, _expanded
from agentspan.server.settings import Settings

from fakes.openai_server import FakeOpenAI
from support.mcp_server import McpServerProcess, stdio_command
from support.servers import ThreadServer

CANARY = "s3cret-canary-7f1e"
"""The credential's value: it must reach the MCP server and nowhere else."""


class Secrets:
    """A resolver with fixed values (the credential store's seam, until it lands)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    async def resolve(self, names: Collection[str], execution_id: str) -> dict[str, str]:
        for name in names:
            if name not in self.values:
                raise MissingSecret(f"credential {name!r} is not set on the server")
        return {n: self.values[n] for n in names}


class Withdrawn(Secrets):
    """Answers the first resolution (the listing at start), then the credential is gone."""

    async def resolve(self, names: Collection[str], execution_id: str) -> dict[str, str]:
        values = await super().resolve(names, execution_id)
        self.values = {}
        return values


@pytest.fixture(scope="module")
def mcp_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mcp") / "calls.jsonl"


@pytest.fixture(scope="module")
def mcp_http(mcp_log: Path) -> Iterator[McpServerProcess]:
    proc = McpServerProcess(mcp_log, "streamable-http").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def mcp_sse(mcp_log: Path) -> Iterator[McpServerProcess]:
    proc = McpServerProcess(mcp_log, "sse").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def mcp_server(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: FakeOpenAI, mcp_log: Path
) -> Iterator[ThreadServer]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("server"),
        mcp_stdio_commands={"testtools": tuple(stdio_command(mcp_log))},
    )
    srv = ThreadServer(settings).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def rt(mcp_server: ThreadServer, fake_openai: FakeOpenAI, mcp_log: Path) -> Iterator[AgentRuntime]:
    fake_openai.reset()
    mcp_log.unlink(missing_ok=True)
    use_secrets(mcp_server, Secrets({"MCP_TOKEN": CANARY}))
    config = AgentConfig(server_url=mcp_server.api_url, auto_start_server=False)
    with AgentRuntime(config=config) as runtime:
        yield runtime
    fake_openai.reset()


def use_secrets(server: ThreadServer, secrets: SecretResolver) -> None:
    server.services.pool.ctx.secrets = secrets
    server.services.mcp.secrets = secrets


def calls_of(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def offered(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["function"]["name"]: t["function"] for t in request.get("tools", [])}


def tool_message(request: dict[str, Any]) -> str:
    last = request["messages"][-1]
    assert last["role"] == "tool", request["messages"]
    return str(last["content"])


def stored_bytes(server: ThreadServer) -> bytes:
    data_dir = server.settings.data_dir
    return b"".join(p.read_bytes() for p in Path(data_dir).glob("agentspan.db*") if p.is_file())


def test_streamable_http_tools_are_listed_called_and_answered(
    rt: AgentRuntime,
    fake_openai: FakeOpenAI,
    mcp_http: McpServerProcess,
    mcp_log: Path,
    mcp_server: ThreadServer,
) -> None:
    fake_openai.script(FakeOpenAI.tool_calls([("add", {"a": 2, "b": 3})]), FakeOpenAI.text("The sum is 5."))
    tools = mcp_tool(
        mcp_http.url,
        headers={"Authorization": "Bearer ${MCP_TOKEN}"},
        credentials=["MCP_TOKEN"],
    )
    agent = Agent(name="calc", model="openai/gpt-4o", tools=[tools])
    result = rt.run(agent, "What is 2 + 3?")
    assert result.status == "COMPLETED" and result.output == "The sum is 5."
    first, second = fake_openai.requests
    assert set(offered(first)) == {"add", "shout", "refuse", "big", "slow_write"}
    add = offered(first)["add"]
    assert add["description"] == "Add two whole numbers."
    assert add["parameters"]["properties"]["a"]["type"] == "integer"
    assert json.loads(tool_message(second)) == {"result": 5}  # the structured result
    (call,) = calls_of(mcp_log)
    assert call["tool"] == "add" and call["args"] == {"a": 2, "b": 3}
    assert call["meta"]["ai.agentspan/idempotencyKey"] == f"{result.execution_id}:c1"
    assert call["meta"]["ai.agentspan/attempt"] == 1
    assert call["headers"]["authorization"] == f"Bearer {CANARY}"
    assert [e.type for e in result.events].count("tool_result") == 1
    # The secret went to the MCP server only: not into the database (spec, events, tasks).
    stored = stored_bytes(mcp_server)
    assert b"${MCP_TOKEN}" in stored and CANARY.encode() not in stored


def test_tool_names_and_max_tools_choose_what_the_model_sees(
    rt: AgentRuntime, fake_openai: FakeOpenAI, mcp_http: McpServerProcess, mcp_log: Path
) -> None:
    fake_openai.script(FakeOpenAI.tool_calls([("shout", {"text": "hi"})]), FakeOpenAI.text("done"))
    tools = mcp_tool(mcp_http.url, tool_names=["shout", "nope", "add"], max_tools=1)
    result = rt.run(Agent(name="loud", model="openai/gpt-4o", tools=[tools]), "Shout hi")
    assert result.output == "done"
    first, second = fake_openai.requests
    assert list(offered(first)) == ["shout"]
    assert json.loads(tool_message(second)) == {"result": "HI!"}
    assert [c["args"] for c in calls_of(mcp_log)] == [{"text": "hi"}]


def test_an_mcp_tool_error_reaches_the_model_without_retries(
    rt: AgentRuntime, fake_openai: FakeOpenAI, mcp_http: McpServerProcess, mcp_log: Path
) -> None:
    fake_openai.script(FakeOpenAI.tool_calls([("refuse", {"reason": "no"})]), FakeOpenAI.text("It refused."))
    agent = Agent(name="refuser", model="openai/gpt-4o", tools=[mcp_tool(mcp_http.url)])
    result = rt.run(agent, "Try it")
    assert result.output == "It refused."
    message = tool_message(fake_openai.requests[1])
    assert message.startswith("Error") and "refuse" in message
    assert len(calls_of(mcp_log)) == 1  # isError is the tool's answer: not retried


def test_stdio_server_the_operator_allows(rt: AgentRuntime, fake_openai: FakeOpenAI, mcp_log: Path) -> None:
    fake_openai.script(FakeOpenAI.tool_calls([("shout", {"text": "local"})]), FakeOpenAI.text("ok"))
    agent = Agent(name="local", model="openai/gpt-4o", tools=[mcp_tool("stdio:testtools")])
    result = rt.run(agent, "Shout local")
    assert result.status == "COMPLETED"
    assert json.loads(tool_message(fake_openai.requests[1])) == {"result": "LOCAL!"}
    (call,) = calls_of(mcp_log)
    assert call["args"] == {"text": "local"}
    assert call["meta"]["ai.agentspan/idempotencyKey"] == f"{result.execution_id}:c1"


def test_sse_transport(
    rt: AgentRuntime, fake_openai: FakeOpenAI, mcp_sse: McpServerProcess, mcp_log: Path
) -> None:
    fake_openai.script(FakeOpenAI.tool_calls([("add", {"a": 40, "b": 2})]), FakeOpenAI.text("42"))
    tools = mcp_tool(mcp_sse.url, headers={"X-Api-Key": "${MCP_TOKEN}"}, credentials=["MCP_TOKEN"])
    result = rt.run(Agent(name="sse", model="openai/gpt-4o", tools=[tools]), "40 + 2?")
    assert result.output == "42"
    assert json.loads(tool_message(fake_openai.requests[1])) == {"result": 42}
    (call,) = calls_of(mcp_log)
    assert call["args"] == {"a": 40, "b": 2} and call["headers"]["x-api-key"] == CANARY


def _start(server: ThreadServer, tool: dict[str, Any]) -> httpx.Response:
    spec = {"name": "a", "model": "openai/gpt-4o", "tools": [tool]}
    return httpx.post(server.api_url + "/agent/start", json={"agentConfig": spec, "prompt": "hi"}, timeout=30)


def _mcp(url: str, **config: Any) -> dict[str, Any]:
    return {"name": "mcp_tools", "toolType": "mcp", "config": {"server_url": url, **config}}


def test_a_stdio_command_the_operator_did_not_allow_is_refused(mcp_server: ThreadServer) -> None:
    response = _start(mcp_server, _mcp("stdio:bash", transport="stdio"))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "mcp_server_not_allowed"
    assert "stdio:bash" in body["detail"] and "AGENTSPAN_MCP_STDIO_COMMANDS" in body["detail"]
    # A command line smuggled in as the name is just an unknown name.
    smuggled = _start(mcp_server, _mcp(f"stdio:{sys.executable} -c print(1)"))
    assert smuggled.json()["code"] == "mcp_server_not_allowed"


def test_an_unreachable_mcp_server_refuses_the_start(mcp_server: ThreadServer) -> None:
    response = _start(mcp_server, _mcp("http://127.0.0.1:9/mcp"))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "tool_discovery_failed" and "127.0.0.1:9" in body["detail"]


def test_a_missing_credential_is_named_at_start(mcp_server: ThreadServer, mcp_http: McpServerProcess) -> None:
    use_secrets(mcp_server, NoSecrets())
    tool = _mcp(mcp_http.url, headers={"Authorization": "Bearer ${MCP_TOKEN}"}, credentials=["MCP_TOKEN"])
    response = _start(mcp_server, tool)
    assert response.status_code == 400, response.text
    assert "MCP_TOKEN" in response.json()["detail"]
    undeclared = _start(mcp_server, _mcp(mcp_http.url, headers={"Authorization": "Bearer ${OTHER}"}))
    detail = undeclared.json()["detail"]
    assert undeclared.status_code == 400 and "OTHER" in detail and "declar" in detail


def test_a_credential_withdrawn_after_start_is_a_tool_error_the_model_sees(
    rt: AgentRuntime,
    fake_openai: FakeOpenAI,
    mcp_http: McpServerProcess,
    mcp_server: ThreadServer,
    mcp_log: Path,
) -> None:
    fake_openai.script(FakeOpenAI.tool_calls([("add", {"a": 1, "b": 1})]), FakeOpenAI.text("no luck"))
    tools = mcp_tool(
        mcp_http.url, headers={"Authorization": "Bearer ${MCP_TOKEN}"}, credentials=["MCP_TOKEN"]
    )
    agent = Agent(name="withdrawn", model="openai/gpt-4o", tools=[tools])
    use_secrets(mcp_server, Withdrawn({"MCP_TOKEN": CANARY}))  # deleted after the listing
    result = rt.run(agent, "1 + 1?")
    assert result.output == "no luck"
    message = tool_message(fake_openai.requests[1])
    assert "MCP_TOKEN" in message and "not set" in message and CANARY not in message
    assert calls_of(mcp_log) == []  # never called without its credential


def test_listings_are_cached_per_server_and_dropped_after_a_failed_call(
    rt: AgentRuntime, fake_openai: FakeOpenAI, mcp_server: ThreadServer, tmp_path: Path
) -> None:
    own = McpServerProcess(tmp_path / "own.jsonl").start()
    try:
        discovery = mcp_server.services.mcp
        agent = Agent(
            name="cached",
            model="openai/gpt-4o",
            tools=[mcp_tool(own.url, tool_names=["shout"], retry_count=0)],
        )
        fake_openai.script(FakeOpenAI.text("one"), FakeOpenAI.text("two"))
        before = discovery.lists
        rt.run(agent, "first")
        rt.run(agent, "second")
        assert discovery.lists == before + 1  # the second start used the cached listing

        def stop_then_call(body: dict[str, Any]) -> Any:
            if body["messages"][-1]["role"] == "tool":
                return FakeOpenAI.text("it is down")
            own.stop()  # the MCP server goes away between the listing and the call
            return FakeOpenAI.tool_calls([("shout", {"text": "x"})])

        fake_openai._default = stop_then_call
        result = rt.run(agent, "third")
        assert result.output == "it is down"
        message = tool_message(fake_openai.requests[-1])
        assert message.startswith("Error") and own.url.rsplit("/", 1)[0] in message
        # The failed call dropped the cached listing: this start asks the (dead) server again.
        refused = _start(mcp_server, _mcp(own.url, tool_names=["shout"]))
        assert refused.status_code == 400 and refused.json()["code"] == "tool_discovery_failed"
        assert discovery.lists == before + 2
    finally:
        fake_openai._default = None
        own.stop()


def test_a_sub_agent_s_mcp_tools_are_expanded_too(
    rt: AgentRuntime, fake_openai: FakeOpenAI, mcp_http: McpServerProcess, mcp_log: Path
) -> None:
    fake_openai.script(FakeOpenAI.tool_calls([("add", {"a": 1, "b": 2})]), FakeOpenAI.text("3"))
    child = Agent(name="adder", model="openai/gpt-4o", tools=[mcp_tool(mcp_http.url, tool_names=["add"])])
    pipeline = Agent(name="pipe", agents=[child], strategy="sequential")
    result = rt.run(pipeline, "1 + 2?")
    assert result.status == "COMPLETED" and result.output == "3"
    assert [c["args"] for c in calls_of(mcp_log)] == [{"a": 1, "b": 2}]


def test_two_listed_tools_with_one_name_are_refused(
    mcp_server: ThreadServer, mcp_http: McpServerProcess
) -> None:
    more = {**_mcp(mcp_http.url, tool_names=["add", "shout"]), "name": "more_tools"}
    spec = {
        "name": "twice",
        "model": "openai/gpt-4o",
        "tools": [_mcp(mcp_http.url, tool_names=["add"]), more],
    }
    response = httpx.post(mcp_server.api_url + "/agent/start", json={"agentConfig": spec, "prompt": "hi"})
    assert response.status_code == 400 and response.json()["code"] == "tool_discovery_failed"
    assert "two tools are named 'add'" in response.json()["detail"]


def test_a_listing_expires_after_its_ttl(mcp_http: McpServerProcess, tmp_path: Path) -> None:
    now = [1000.0]
    discovery = McpDiscovery(Settings(data_dir=tmp_path, mcp_list_ttl_seconds=60), clock=lambda: now[0])
    tool = McpTool(name="mcp_tools", config=McpSettings(server_url=mcp_http.url, tool_names=["add"]))

    async def expand() -> list[str]:
        return [t.name for t in await discovery.expand(tool, "a")]

    assert anyio.run(expand) == ["add"]
    now[0] += 59
    assert anyio.run(expand) == ["add"]
    assert discovery.lists == 1
    now[0] += 2
    assert anyio.run(expand) == ["add"]
    assert discovery.lists == 2


def test_a_tool_name_the_model_cannot_take_is_cleaned_and_the_real_one_kept() -> None:
    listed = ListedTool(name="files/read file", description="Read", input_schema={"type": "object"})
    tool = McpTool(name="mcp_tools", config=McpSettings(server_url="http://x/mcp", tool_names=None))
    (expanded,) = [_expanded(tool, listed)]
    assert TOOL_NAME_PATTERN.match(expanded.name) and expanded.name.startswith("files_read_file_")
    assert expanded.config.remote_name == "files/read file"
    assert expanded.input_schema == {"type": "object", "properties": {}}


class _NotMcp(BaseHTTPRequestHandler):
    """An internal JSON endpoint that is not an MCP server."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "internal": "INTERNAL-ONLY-DATA"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_an_endpoint_that_is_not_mcp_never_echoes_its_answer(mcp_server: ThreadServer) -> None:
    internal = ThreadingHTTPServer(("127.0.0.1", 0), _NotMcp)
    thread = threading.Thread(target=internal.serve_forever, daemon=True)
    thread.start()
    try:
        response = _start(mcp_server, _mcp(f"http://127.0.0.1:{internal.server_port}/internal"))
    finally:
        internal.shutdown()
    assert response.status_code == 400 and response.json()["code"] == "tool_discovery_failed"
    assert "INTERNAL-ONLY-DATA" not in response.text


def test_a_structured_result_too_big_to_store_falls_back_to_bounded_text(
    rt: AgentRuntime, fake_openai: FakeOpenAI, mcp_http: McpServerProcess
) -> None:
    fake_openai.script(
        FakeOpenAI.tool_calls([("big", {"size": 10})]),
        FakeOpenAI.tool_calls([("big", {"size": 1_200_000})]),
        FakeOpenAI.text("ok"),
    )
    agent = Agent(name="bigger", model="openai/gpt-4o", tools=[mcp_tool(mcp_http.url, tool_names=["big"])])
    result = rt.run(agent, "big")
    assert result.status == "COMPLETED"
    small, large = (c["result"] for c in result.tool_calls)
    assert small == {"data": "x" * 10}
    assert isinstance(large, str) and len(large) <= 1_000_000 + len("\n[truncated]")
    assert large.endswith("[truncated]")


def test_listed_tools_are_bounded_before_they_are_stored() -> None:
    tool = McpTool(name="mcp_tools", config=McpSettings(server_url="http://x/mcp"))
    wordy = ListedTool(name="wordy", description="d" * 10_000, input_schema={"type": "object"})
    assert len(_expanded(tool, wordy).description) == 4_000
    huge = {
        "type": "object",
        "properties": {f"p{i}": {"type": "string", "description": "x" * 100} for i in range(1000)},
    }
    with pytest.raises(ToolDiscoveryFailed, match="'huge' has an input schema over"):
        _expanded(tool, ListedTool(name="huge", description="", input_schema=huge), "a")


def test_a_call_over_its_timeout_is_cut_and_the_model_told(
    rt: AgentRuntime, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    hanging = McpServerProcess(tmp_path / "hang.jsonl", gate=tmp_path / "never").start()
    try:
        fake_openai.script(FakeOpenAI.tool_calls([("slow_write", {"key": "k"})]), FakeOpenAI.text("gave up"))
        tools = mcp_tool(hanging.url, tool_names=["slow_write"], timeout_seconds=1, retry_count=0)
        started = time.monotonic()
        result = rt.run(Agent(name="hang", model="openai/gpt-4o", tools=[tools]), "write")
        assert result.output == "gave up" and time.monotonic() - started < 15
        message = tool_message(fake_openai.requests[1])
        assert "timed out after 1" in message
        assert len(hanging.calls()) == 1
    finally:
        hanging.stop()


def test_listed_tools_count_against_the_tools_per_agent_limit(
    mcp_server: ThreadServer, mcp_http: McpServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    executions = mcp_server.app.state.layer.executions
    monkeypatch.setattr(executions, "limits", Limits(tools_per_agent=3))
    response = _start(mcp_server, _mcp(mcp_http.url))  # one tool sent, five listed
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["code"] == "limit_exceeded" and body["limit"]["actual"] == 5
    assert _start(mcp_server, _mcp(mcp_http.url, tool_names=["add"])).status_code == 200
