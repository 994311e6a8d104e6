"""kill -9 the server while an ``index_tool`` call waits for its embedding: after a restart
the call runs once more (the same task, so the same idempotency key), the document is
stored once under its ``docId``, the run completes, and a further crash after the result
was recorded embeds nothing again."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, SemanticMemory, ServerMemoryStore, index_tool

from fakes.openai_server import FakeOpenAI, FakeReply
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos
TEXT = "The launch checklist has twelve items."


def reply(body: dict[str, Any]) -> FakeReply:
    if body["messages"][-1]["role"] == "tool":
        return FakeOpenAI.text("stored")
    return FakeOpenAI.tool_calls([("remember", {"text": TEXT, "docId": "checklist"})])


def index_requests(fake: FakeOpenAI, before: int) -> list[dict[str, Any]]:
    return [r for r in fake.embedding_requests[before:] if r["input"] == [TEXT]]


def test_a_server_killed_mid_index_reruns_the_call_once_and_stores_the_document_once(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_openai.reset()
    monkeypatch.setattr(fake_openai, "_default", reply)
    monkeypatch.setattr(fake_openai, "embedding_delay", 30.0)  # the first embedding hangs
    before = len(fake_openai.embedding_requests)
    data = tmp_path / "data"
    servers: list[ServerProcess] = []
    tool = index_tool(
        "remember",
        "Store a document.",
        "agentspan",
        "docs",
        "openai",
        "text-embedding-3-small",
        namespace="kill",
    )
    agent = Agent(name="archivist", model="openai/gpt-4o", tools=[tool])
    first = ServerProcess(data).start()
    servers.append(first)
    try:
        config = AgentConfig(server_url=first.api_url, auto_start_server=False)
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(agent, "store the checklist")
            deadline = time.monotonic() + 20
            while not index_requests(fake_openai, before):
                assert time.monotonic() < deadline, "the index call never asked for its embedding"
                time.sleep(0.05)
            first.kill()  # SIGKILL while the embedding is in flight: nothing was stored
            in_flight = leased_index_tasks(data, handle.execution_id)
            assert len(in_flight) == 1, in_flight
            fake_openai.embedding_delay = 0.0
            second = ServerProcess(data, port=first.port).start()
            servers.append(second)
            result = handle.join(timeout=60)
        assert result.status == "COMPLETED", result
        assert len(index_requests(fake_openai, before)) == 2, "lost once, run again once"
        entries = httpx.get(f"{second.api_url}/memory/kill/entries", params={"index": "docs"}).json()[
            "entries"
        ]
        assert [(e["id"], e["content"], e["embeddingModel"]) for e in entries] == [
            ("checklist", TEXT, "openai/text-embedding-3-small")
        ]

        # The result is recorded: another crash and restart embeds nothing more.
        second.kill()
        third = ServerProcess(data, port=first.port).start()
        servers.append(third)
        time.sleep(2.0)
        events = httpx.get(f"{third.api_url}/agent/executions/{handle.execution_id}/events").json()
    finally:
        for server in servers:
            server.kill()
    assert len(index_requests(fake_openai, before)) == 2
    types = [e["type"] for e in events]
    assert types.count("tool_result") == 1 and types[-1] == "done"
    embedding_calls = [
        e for e in events if e["type"] == "llm_call" and (e.get("data") or {}).get("purpose") == "embedding"
    ]
    assert len(embedding_calls) == 1, "only the recorded attempt's usage is counted"
    calls = [e for e in events if e["type"] == "tool_call"]
    assert len(calls) == 1, "the lost attempt was run again as the same call, not a new one"
    (call_id, key, _attempt) = in_flight[0]
    assert key.startswith(f"{handle.execution_id}:") and calls[0]["callId"] == call_id
    with sqlite3.connect(data / "agentspan.db") as db:
        stored = db.execute("SELECT COUNT(*) FROM memory_entries WHERE namespace = 'kill'").fetchone()[0]
    assert stored == 1


def leased_index_tasks(data: Path, execution_id: str) -> list[tuple[str, str, int]]:
    """The index call's task as the killed server left it (the re-run takes this row, its
    idempotency key included)."""
    with sqlite3.connect(data / "agentspan.db") as db:
        return db.execute(
            "SELECT call_id, idempotency_key, attempt FROM tasks "
            "WHERE execution_id = ? AND name = 'remember' AND status = 'leased'",
            (execution_id,),
        ).fetchall()


def test_a_server_killed_mid_recall_recalls_once_after_the_restart(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recall at an agent's start is a step like any other: lost with the server, it is
    made again, recorded once, and the run goes on with what it found."""
    fake_openai.reset()
    monkeypatch.setattr(fake_openai, "_default", lambda body: FakeOpenAI.text("ledger-prod"))
    data = tmp_path / "data"
    servers: list[ServerProcess] = []
    first = ServerProcess(data).start()
    servers.append(first)
    prompt = "What is the production database called?"
    try:
        store = ServerMemoryStore(
            "recall-kill", embedding_model="openai/text-embedding-3-small", server_url=first.api_url
        )
        SemanticMemory(store=store).add("The production database is called ledger-prod.")
        agent = Agent(name="dba", model="openai/gpt-4o", memory=SemanticMemory(store=store))
        before = len(fake_openai.embedding_requests)
        monkeypatch.setattr(fake_openai, "embedding_delay", 30.0)
        config = AgentConfig(server_url=first.api_url, auto_start_server=False)
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(agent, prompt)
            deadline = time.monotonic() + 20
            while not [r for r in fake_openai.embedding_requests[before:] if r["input"] == [prompt]]:
                assert time.monotonic() < deadline, "the recall never embedded the prompt"
                time.sleep(0.05)
            first.kill()
            fake_openai.embedding_delay = 0.0
            servers.append(ServerProcess(data, port=first.port).start())
            result = handle.join(timeout=60)
    finally:
        for server in servers:
            server.kill()
    assert result.status == "COMPLETED", result
    assert len([r for r in fake_openai.embedding_requests[before:] if r["input"] == [prompt]]) == 2
    recalled = [e for e in result.events if e.type == "memory_recalled"]
    assert len(recalled) == 1 and "ledger-prod" in (recalled[0].content or "")
    system = "\n".join(m["content"] for m in fake_openai.requests[-1]["messages"] if m["role"] == "system")
    assert "1. The production database is called ledger-prod." in system
