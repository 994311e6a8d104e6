"""kill -9 the server while an ``http_tool`` call is in flight: after a restart the call is
made once more with the same ``Idempotency-Key``, and never again once its result is
recorded. The local service counts the requests per key."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, http_tool

from fakes.openai_server import FakeOpenAI, FakeReply
from support.http_target import HttpTarget
from support.servers import ServerProcess

pytestmark = pytest.mark.chaos
LEASE = "2"


def reply(body: dict[str, Any]) -> FakeReply:
    if body["messages"][-1]["role"] == "tool":
        return FakeOpenAI.text("charged: " + str(body["messages"][-1]["content"]))
    return FakeOpenAI.tool_calls([("charge", {"amount": 25})])


def test_a_server_killed_mid_http_call_reruns_it_once_with_the_same_key(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_openai.reset()
    monkeypatch.setattr(fake_openai, "_default", reply)
    env = {"AGENTSPAN_HTTP_TOOL_LEASE_SECONDS": LEASE}
    data = tmp_path / "data"
    servers: list[ServerProcess] = []
    with HttpTarget() as target:
        target.route("POST", "/charge", lambda seen: (200, {"charged": seen.json()["amount"]}))
        target.hold("/charge")  # the first request waits: the server dies while it is in flight
        first = ServerProcess(data, env=env).start()
        servers.append(first)
        tool = http_tool(
            name="charge", description="Charge a card", url=target.url + "/charge", method="POST"
        )
        agent = Agent(name="biller", model="openai/gpt-4o", tools=[tool])
        try:
            config = AgentConfig(server_url=first.api_url, auto_start_server=False)
            with AgentRuntime(config=config) as runtime:
                handle = runtime.start(agent, "charge 25")
                assert target.arrived.wait(20), "the call never reached the service"
                first.kill()  # SIGKILL mid call: its result is never recorded
                target.release("/charge")
                second = ServerProcess(data, env=env, port=first.port).start()
                servers.append(second)
                result = handle.join(timeout=60)
            assert result.status == "COMPLETED", result
            seen = target.requests_to("/charge")
            assert len(seen) == 2
            key = seen[0].headers["idempotency-key"]
            assert key.startswith(f"{handle.execution_id}:") and seen[1].headers["idempotency-key"] == key
            assert dict(target.by_key) == {key: 2}
            assert json.loads(result.output.removeprefix("charged: "))["body"] == {"charged": 25}

            # The result is recorded: a further crash and restart must not call again.
            second.kill()
            third = ServerProcess(data, env=env, port=first.port).start()
            servers.append(third)
            time.sleep(float(LEASE) * 2)
            events = httpx.get(f"{third.api_url}/agent/executions/{handle.execution_id}/events").json()
        finally:
            for server in servers:
                server.kill()
        assert dict(target.by_key) == {key: 2}
        types = [e["type"] for e in events]
        assert types.count("tool_result") == 1 and types[-1] == "done"


def test_a_non_retryable_http_call_lost_with_the_server_waits_for_a_person(
    tmp_path: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``retryable=False``: the outcome of the lost call is unknown, so it is not sent
    again until someone decides; approving re-runs it with the same key."""
    fake_openai.reset()
    monkeypatch.setattr(fake_openai, "_default", reply)
    env = {"AGENTSPAN_HTTP_TOOL_LEASE_SECONDS": LEASE}
    data = tmp_path / "data"
    servers: list[ServerProcess] = []
    with HttpTarget() as target:
        target.route("POST", "/charge", lambda seen: (200, {"charged": seen.json()["amount"]}))
        target.hold("/charge")
        first = ServerProcess(data, env=env).start()
        servers.append(first)
        tool = http_tool(
            name="charge", description="Charge", url=target.url + "/charge", method="POST", retryable=False
        )
        try:
            config = AgentConfig(server_url=first.api_url, auto_start_server=False)
            with AgentRuntime(config=config) as runtime:
                handle = runtime.start(
                    Agent(name="careful", model="openai/gpt-4o", tools=[tool]), "charge 25"
                )
                assert target.arrived.wait(20)
                first.kill()
                target.release("/charge")
                servers.append(ServerProcess(data, env=env, port=first.port).start())
                deadline = time.monotonic() + 30
                while not handle.get_status().is_waiting:
                    assert time.monotonic() < deadline, "never waited for a person"
                    time.sleep(0.1)
                status = handle.get_status()
                assert len(target.requests_to("/charge")) == 1  # not sent again on its own
                handle.approve()
                result = handle.join(timeout=60)
        finally:
            for server in servers:
                server.kill()
        assert status.pending_tool is not None and status.pending_tool["kind"] == "outcome_unknown"
        assert result.status == "COMPLETED"
        seen = target.requests_to("/charge")
        assert len(seen) == 2 and seen[0].headers["idempotency-key"] == seen[1].headers["idempotency-key"]
