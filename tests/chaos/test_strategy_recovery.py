"""kill -9 the server while sequential, parallel and handoff runs are mid-way: they resume."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, tool
from agentspan.agents.testing import ScriptedModel, ToolCall

from support.servers import ServerProcess

pytestmark = pytest.mark.chaos


@tool(approval_required=True)
def sign_off(item: str) -> str:
    """Needs a human before it runs."""
    return f"signed {item}"


def waiter(name: str) -> Agent:
    model = ScriptedModel([ToolCall("sign_off", {"item": name}), f"{name} finished"])
    return Agent(name=name, model=model, tools=[sign_off])


def quick(name: str) -> Agent:
    return Agent(name=name, model=ScriptedModel([f"{name} finished"]))


def waiting_children(api: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{api}/agent/executions", params={"includeChildren": "true", "size": 100}, timeout=5)
    return [r for r in listed.json()["results"] if r.get("waitingReason")]


def test_strategies_resume_after_a_server_kill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ServerProcess(data).start()
    second: ServerProcess | None = None
    config = AgentConfig(server_url=first.api_url, auto_start_server=False)
    teams = {
        "sequential": waiter("seq_waiter") >> quick("seq_after"),
        "parallel": Agent(
            name="par_team", agents=[waiter("par_waiter"), quick("par_quick")], strategy="parallel"
        ),
        "handoff": Agent(
            name="front",
            model=ScriptedModel([ToolCall("transfer_to_ho_waiter")]),
            agents=[waiter("ho_waiter")],
        ),
    }
    try:
        with AgentRuntime(config=config) as runtime:
            handles = {kind: runtime.start(agent, f"run {kind}") for kind, agent in teams.items()}
            deadline = time.monotonic() + 20
            while len(waiting_children(first.api_url)) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(waiting_children(first.api_url)) == 3
            first.kill()
            second = ServerProcess(data, port=first.port).start()
            for child in waiting_children(second.api_url):
                runtime.approve(child["executionId"])
            results = {kind: handle.join(timeout=30) for kind, handle in handles.items()}
    finally:
        first.kill()
        if second is not None:
            second.stop()
    assert {k: r.status for k, r in results.items()} == dict.fromkeys(teams, "COMPLETED")
    assert results["sequential"].output == "seq_after finished"
    assert results["parallel"].sub_results == {
        "par_waiter": "par_waiter finished",
        "par_quick": "par_quick finished",
    }
    assert results["handoff"].output == "ho_waiter finished"
