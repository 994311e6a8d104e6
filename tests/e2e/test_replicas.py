"""Two server replicas on one PostgreSQL database: any replica serves any request."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentHandle, AgentRuntime, tool
from agentspan.agents.testing import ScriptedModel, ToolCall

from support.servers import ServerProcess

pytestmark = pytest.mark.e2e
BASE_URL = os.environ.get("AGENTSPAN_TEST_DATABASE_URL", "")


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(BASE_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def pg_database() -> Iterator[str]:
    if not BASE_URL:
        pytest.skip("AGENTSPAN_TEST_DATABASE_URL not set: PostgreSQL replica tests skipped")
    name = f"agentspan_replicas_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield BASE_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@tool(approval_required=True)
def ship(order: str) -> str:
    """Ship an order (needs approval)."""
    return f"shipped {order}"


def test_two_replicas_share_everything(pg_database: str, tmp_path: Path) -> None:
    env = {"AGENTSPAN_DATABASE_URL": pg_database}
    a = ServerProcess(tmp_path / "a", env=env).start()
    b = ServerProcess(tmp_path / "b", env=env).start()
    try:
        agent = Agent(
            name="shipper", model=ScriptedModel([ToolCall("ship", {"order": "A1"}), "Shipped."]), tools=[ship]
        )
        on_a = AgentRuntime(
            config=AgentConfig(server_url=a.api_url, auto_start_server=False, auto_start_workers=False)
        )
        on_b = AgentRuntime(config=AgentConfig(server_url=b.api_url, auto_start_server=False))
        try:
            on_b.serve(agent, blocking=False)  # the worker polls replica B
            handle = on_a.start(agent, "ship A1")  # the run starts on replica A
            events: list[Any] = []
            follower = threading.Thread(target=lambda: events.extend(on_a.stream(handle=handle)))
            follower.start()  # an SSE client on replica A
            deadline = 0
            while not on_b.get_status(handle.execution_id).is_waiting and deadline < 400:
                threading.Event().wait(0.05)
                deadline += 1
            AgentHandle(handle.execution_id, on_b).approve()  # approved through replica B
            follower.join(30)
            result = AgentHandle(handle.execution_id, on_b).join(timeout=30)
            # Resume on the other replica from an event id: exactly the rest of the log.
            resumed = list(on_b._loop.run(_collect(on_b, handle.execution_id, after=3)))
        finally:
            on_a.shutdown()
            on_b.shutdown()
    finally:
        a.stop()
        b.stop()
    assert result.output == "Shipped." and result.tool_calls[0]["result"] == "shipped A1"
    types = [e.type for e in events]
    assert types[-1] == "done" and "approval" in types and "tool_result" in types
    ids = [e.id for e in events if e.id]
    assert ids == list(range(1, len(ids) + 1))
    assert resumed == ids[3:]


async def _collect(runtime: AgentRuntime, execution_id: str, after: int) -> list[int]:
    return [int(m.id) async for m in runtime._client.events(execution_id, after) if m.id]


def test_a_key_made_on_one_replica_works_on_the_other_and_revocation_is_immediate(
    pg_database: str, tmp_path: Path
) -> None:
    import time

    import httpx

    env = {"AGENTSPAN_DATABASE_URL": pg_database}
    a = ServerProcess(tmp_path / "a", env=env).start()
    b = ServerProcess(tmp_path / "b", env=env).start()
    try:
        made = httpx.post(a.api_url + "/keys", json={"name": "ops", "scopes": ["admin"]}, timeout=10)
        assert made.status_code == 201, made.text
        key = {"Authorization": f"Bearer {made.json()['key']}"}
        # Replica B requires keys now too, and knows the new one.
        assert httpx.get(b.api_url + "/agent/executions", timeout=10).status_code == 401
        assert httpx.get(b.api_url + "/agent/executions", headers=key, timeout=10).status_code == 200
        # Revoked through B: refused by A as soon as the NOTIFY arrives (well under a second).
        assert httpx.delete(b.api_url + "/keys/ops", headers=key, timeout=10).status_code == 200
        revoked_at = time.monotonic()
        while httpx.get(a.api_url + "/agent/executions", headers=key, timeout=10).status_code != 401:
            assert time.monotonic() - revoked_at < 2.0, "replica A still accepts the revoked key"
            time.sleep(0.01)
    finally:
        a.stop()
        b.stop()


def test_messages_sent_through_both_replicas_are_each_delivered_once_in_order(
    pg_database: str, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from agentspan.agents import wait_for_message_tool

    env = {"AGENTSPAN_DATABASE_URL": pg_database}
    a = ServerProcess(tmp_path / "a", env=env).start()
    b = ServerProcess(tmp_path / "b", env=env).start()
    sends = 6
    turns: list[Any] = [ToolCall("inbox", {}) for _ in range(sends)]
    agent = Agent(
        name="listener",
        model=ScriptedModel([*turns, "All read."]),
        tools=[wait_for_message_tool("inbox", "Wait for a message")],
    )
    try:
        on_a = AgentRuntime(config=AgentConfig(server_url=a.api_url, auto_start_server=False))
        on_b = AgentRuntime(config=AgentConfig(server_url=b.api_url, auto_start_server=False))
        try:
            handle = on_a.start(agent, "read them all")
            runtimes = [on_a, on_b]
            with ThreadPoolExecutor(4) as pool:  # both replicas at once, racing each other
                list(
                    pool.map(
                        lambda n: runtimes[n % 2].send_message(handle.execution_id, {"n": n}), range(sends)
                    )
                )
            result = AgentHandle(handle.execution_id, on_b).join(timeout=60)
        finally:
            on_a.shutdown()
            on_b.shutdown()
    finally:
        a.stop()
        b.stop()
    assert result.status == "COMPLETED" and result.output == "All read."
    received = [e for e in result.events if e.type == "message_received"]
    order = [(e.data or {})["message"]["n"] for e in received]
    seqs = [(e.data or {})["seq"] for e in received]
    taken = [m["n"] for e in result.events if e.type == "tool_result" for m in e.result["messages"]]
    assert sorted(taken) == list(range(sends))  # every message, each once
    assert taken == order and seqs == list(range(1, sends + 1))  # taken in the order queued


def test_team_pause_and_stop_reach_members_on_postgresql(pg_database: str, tmp_path: Path) -> None:
    """The pause, resume and stop passed on to a team's members (one transaction each,
    child rows locked after the root's) on PostgreSQL, sent through either replica."""
    env = {"AGENTSPAN_DATABASE_URL": pg_database}
    a = ServerProcess(tmp_path / "a", env=env).start()
    b = ServerProcess(tmp_path / "b", env=env).start()
    member = Agent(
        name="pg_member", model=ScriptedModel([ToolCall("ship", {"order": "B2"}), "never"]), tools=[ship]
    )
    other = Agent(name="pg_other", model=ScriptedModel(["unused"]))
    team = Agent(
        name="pg_team", model="offline/basic", agents=[member, other], strategy="round_robin", max_turns=4
    )
    try:
        with (
            AgentRuntime(config=AgentConfig(server_url=a.api_url, auto_start_server=False)) as on_a,
            AgentRuntime(config=AgentConfig(server_url=b.api_url, auto_start_server=False)) as on_b,
        ):
            handle = on_a.start(team, "go")
            waiting: list[Any] = []
            for _ in range(400):
                waiting = [c for c in _children(b, handle.execution_id) if c.get("waitingReason")]
                if waiting:
                    break
                threading.Event().wait(0.05)
            child_id = waiting[0]["executionId"]
            on_b.pause(handle.execution_id)
            paused = on_a.get_status(child_id).status
            on_a.resume(handle.execution_id)
            resumed = on_b.get_status(child_id).status
            on_b.stop(handle.execution_id)
            result = AgentHandle(handle.execution_id, on_a).join(timeout=30)
    finally:
        a.stop()
        b.stop()
    assert (paused, resumed) == ("PAUSED", "RUNNING")
    assert result.status == "COMPLETED" and result.finish_reason == "stopped"


def _children(server: ServerProcess, execution_id: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{server.api_url}/agent/executions", params={"parentId": execution_id}, timeout=10)
    results: list[dict[str, Any]] = listed.json()["results"]
    return results
