"""kill -9 the server while an MCP call is in flight, restart it.

A retryable MCP tool is called again once its lease runs out, with the same idempotency
key in ``_meta`` and the next attempt number; a tool marked ``retryable=False`` is not
called again but waits for a human ("outcome unknown"), and runs again only when approved.
Nothing is listed again after the restart: the stored spec holds the expanded tools.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, mcp_tool

from fakes.openai_server import FakeOpenAI, FakeReply
from support.mcp_server import McpServerProcess
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos


def wait_until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def model(body: dict[str, Any]) -> FakeReply:
    """Ask for one slow_write keyed by the job; then answer with what the tool said."""
    messages = body["messages"]
    if messages[-1]["role"] == "tool":
        return FakeOpenAI.text(f"done: {messages[-1]['content']}")
    job = next(m["content"] for m in messages if m["role"] == "user")
    return FakeOpenAI.tool_calls([("slow_write", {"key": job})])


def test_server_killed_mid_mcp_call(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_openai.reset()
    monkeypatch.setattr(fake_openai, "_default", model)
    gate = tmp_path / "gate"
    mcp = McpServerProcess(tmp_path / "calls.jsonl", gate=gate).start()
    # Short enough to keep the test quick, long enough that a loaded machine still renews
    # it (every third) in time: a renewal missed would be a (correct) third run.
    env = {"AGENTSPAN_MCP_LEASE_SECONDS": "5"}
    data = tmp_path / "data"
    first = ServerProcess(data, env=env).start()
    second: ServerProcess | None = None
    retried = Agent(
        name="retried", model="openai/gpt-4o", tools=[mcp_tool(mcp.url, tool_names=["slow_write"])]
    )
    careful = Agent(
        name="careful",
        model="openai/gpt-4o",
        tools=[mcp_tool(mcp.url, tool_names=["slow_write"], retryable=False)],
    )
    try:
        with AgentRuntime(config=AgentConfig(server_url=first.api_url, auto_start_server=False)) as runtime:
            a = runtime.start(retried, "job-a")
            b = runtime.start(careful, "job-b")
            wait_until(lambda: len(mcp.calls()) == 2)  # both calls reached the MCP server
            first.kill()  # SIGKILL mid-call: no shutdown code runs
            gate.touch()  # the orphaned calls finish on the MCP side; nobody hears them
            second = ServerProcess(data, env=env, port=first.port).start()
            result_a = a.join(timeout=60)
            wait_until(lambda: b.get_status().is_waiting)
            status_b = b.get_status()
            calls_before_approval = mcp.calls()
            b.approve()
            result_b = b.join(timeout=60)
    finally:
        first.kill()
        if second is not None:
            second.stop()
        mcp.stop()

    by_key: dict[str, list[dict[str, Any]]] = {}
    for call in mcp.calls():
        by_key.setdefault(call["args"]["key"], []).append(call)

    # The retryable tool: run again once, same key, attempt 2, answer given to the model.
    assert result_a.status == "COMPLETED", result_a.error
    assert result_a.output == 'done: {"result": "wrote job-a"}'
    runs_a = by_key["job-a"]
    retry = [e for e in result_a.events if e.type == "tool_retry"]
    why = [(e.content, e.data) for e in retry]
    assert [c["meta"]["ai.agentspan/attempt"] for c in runs_a] == [1, 2], why
    assert {c["meta"]["ai.agentspan/idempotencyKey"] for c in runs_a} == {f"{a.execution_id}:c1"}
    assert len(retry) == 1 and (retry[0].data or {}).get("reason") == "lease_expired"

    # The non-retryable tool: not re-run until a human said so, then with the same key.
    assert status_b.pending_tool is not None and status_b.pending_tool["kind"] == "outcome_unknown"
    assert [c["args"]["key"] for c in calls_before_approval].count("job-b") == 1
    assert result_b.status == "COMPLETED" and result_b.output == 'done: {"result": "wrote job-b"}'
    runs_b = by_key["job-b"]
    assert [c["meta"]["ai.agentspan/attempt"] for c in runs_b] == [1, 2]
    assert {c["meta"]["ai.agentspan/idempotencyKey"] for c in runs_b} == {f"{b.execution_id}:c1"}

    # The spec each execution runs holds the expanded tool: a restart needs no listing.
    with sqlite3.connect(data / "agentspan.db") as db:
        stored = [json.loads(row[0]) for row in db.execute("SELECT spec FROM specs")]
    tools = [t for spec in stored for t in spec["tools"]]
    assert {t["name"] for t in tools} == {"slow_write"}
    assert all(t["config"]["remote_name"] == "slow_write" for t in tools)
