"""Issue 17, deploy and run by name over real HTTP: ``deploy`` stores named versions,
``plan`` compiles without storing, ``run("name")`` starts the latest (or a given) version
whose tools another runtime serves, an execution keeps the version it started with, and
unknown names are problem documents with their own code."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentspan.agents import (
    Agent,
    AgentConfig,
    AgentHandle,
    AgentNotFoundError,
    AgentRuntime,
    DeploymentInfo,
    tool,
)
from agentspan.agents.testing import ScriptedModel, ToolCall
from agentspan.server.settings import Settings

from support.servers import ThreadServer


@tool
def lookup(order: str) -> str:
    """Look an order up."""
    return f"order {order} is on its way"


@tool(approval_required=True)
def refund(order: str) -> str:
    """Refund an order (a human approves)."""
    return f"refunded {order}"


def _agent(answer: str, *tools_: object) -> Agent:
    calls = [ToolCall("lookup", {"order": "A1"})] if not tools_ else [ToolCall("refund", {"order": "A1"})]
    return Agent(name="support", model=ScriptedModel([*calls, answer]), tools=list(tools_) or [lookup])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadServer]:
    srv = ThreadServer(Settings(data_dir=tmp_path)).start()
    try:
        yield srv
    finally:
        srv.stop()


def _runtime(server: ThreadServer, *, workers: bool = True) -> AgentRuntime:
    return AgentRuntime(config=AgentConfig(server_url=server.api_url, auto_start_workers=workers))


def test_deploy_versions_a_name_and_redeploying_the_same_definition_changes_nothing(
    server: ThreadServer,
) -> None:
    with _runtime(server) as runtime:
        first = runtime.deploy(_agent("v1"))
        again = runtime.deploy(_agent("v1"))
        second = runtime.deploy(_agent("v2"))
    assert first == [DeploymentInfo("support", "support", 1, True)]
    assert again == [DeploymentInfo("support", "support", 1, False)]
    assert second[0].version == 2 and second[0].created
    listed = httpx.get(server.api_url + "/deployments").json()
    assert [(d["name"], d["latestVersion"]) for d in listed] == [("support", 2)]
    detail = httpx.get(server.api_url + "/deployments/support").json()
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert detail["requiredWorkers"] == ["lookup"]


def test_plan_compiles_without_storing_or_running(server: ThreadServer) -> None:
    with _runtime(server) as runtime:
        planned = runtime.plan(_agent("v1"))
    assert planned["agentConfig"]["name"] == "support"
    assert planned["requiredWorkers"] == ["lookup"] and len(planned["specHash"]) == 64
    assert httpx.get(server.api_url + "/deployments").json() == []
    assert httpx.get(server.api_url + "/agent/executions").json()["totalHits"] == 0


def test_run_by_name_uses_the_deployed_definition_and_tools_served_elsewhere(server: ThreadServer) -> None:
    with _runtime(server) as deployer:
        deployer.deploy(_agent("v1 answer"))
        deployer.deploy(_agent("v2 answer"))
    with _runtime(server) as worker, _runtime(server, workers=False) as caller:
        worker.serve(_agent("ignored"), blocking=False)
        latest = caller.run("support", "Where is A1?", timeout=30)
        pinned = caller.run("support", "Where is A1?", version=1, timeout=30)
    assert latest.status == "COMPLETED" and latest.output == "v2 answer"
    assert latest.tool_calls[0]["result"] == "order A1 is on its way"
    assert pinned.output == "v1 answer"


def test_an_execution_keeps_the_version_it_started_with(server: ThreadServer) -> None:
    with _runtime(server) as runtime:
        runtime.deploy(_agent("refund v1", refund))
        runtime.serve(_agent("", refund), blocking=False)  # a start by name serves nothing
        handle = runtime.start("support", "Refund A1")
        _wait_waiting(runtime, handle)
        runtime.deploy(_agent("refund v2", refund))
        versions = httpx.get(server.api_url + "/deployments/support").json()["versions"]
        assert [(v["version"], v["running"]) for v in versions] == [(2, 0), (1, 1)]
        handle.approve()
        result = handle.join(timeout=30)
    assert result.output == "refund v1"
    versions = httpx.get(server.api_url + "/deployments/support").json()["versions"]
    assert [v["running"] for v in versions] == [0, 0]


def _wait_waiting(runtime: AgentRuntime, handle: AgentHandle) -> None:
    deadline = time.monotonic() + 20
    while not runtime.get_status(handle.execution_id).is_waiting:
        assert time.monotonic() < deadline, "the execution never waited for the approval"
        time.sleep(0.05)


def test_unknown_names_and_versions_are_deployment_not_found(server: ThreadServer) -> None:
    with _runtime(server) as runtime:
        with pytest.raises(AgentNotFoundError) as missing:
            runtime.run("nobody", "hi", timeout=10)
        runtime.deploy(_agent("v1"))
        with pytest.raises(AgentNotFoundError) as no_version:
            runtime.start("support", "hi", version=7)
    assert missing.value.code == "deployment_not_found" and "nobody" in str(missing.value)
    assert no_version.value.code == "deployment_not_found" and "version 7" in str(no_version.value)
    problem = httpx.get(server.api_url + "/deployments/nobody")
    assert problem.status_code == 404 and problem.json()["code"] == "deployment_not_found"


def test_a_deploy_is_refused_as_a_start_would_be(server: ThreadServer) -> None:
    bad = httpx.post(
        server.api_url + "/deployments",
        json={"agentConfig": {"name": "x", "model": "nosuchprovider/model"}},
    )
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_model"
    assert httpx.get(server.api_url + "/deployments").json() == []


def test_openapi_documents_the_deployment_routes(server: ThreadServer) -> None:
    paths = httpx.get(server.root_url + "/api/openapi.json").json()["paths"]
    for path, method in (
        ("/api/deployments", "post"),
        ("/api/deployments/{name}", "get"),
        ("/api/deployments/{name}/start", "post"),
    ):
        assert path in paths and method in paths[path], path
    assert "404" in paths["/api/deployments/{name}/start"]["post"]["responses"]
    assert "400" in paths["/api/agent/compile"]["post"]["responses"]


def test_a_version_too_large_for_the_database_is_a_400(server: ThreadServer) -> None:
    answer = httpx.post(
        server.api_url + "/deployments/support/start", json={"prompt": "hi", "version": 2**64}
    )
    assert answer.status_code == 400 and answer.json()["code"] == "validation_failed"


@tool
def old_lookup(order: str) -> str:
    """How version 1 looked orders up."""
    return f"order {order} found the old way"


def test_an_older_versions_execution_without_a_worker_says_so(tmp_path: Path) -> None:
    """Issue 17's versioning point: the worker that served version 1's tools is gone and
    version 2 is deployed; a version 1 execution says so (status and event) instead of
    hanging, and goes on once a process serves version 1 again."""
    settings = Settings(data_dir=tmp_path, no_worker_after_seconds=0.5, watchdog_interval_seconds=0.1)
    server = ThreadServer(settings).start()
    v1 = Agent(
        name="support",
        model=ScriptedModel([ToolCall("old_lookup", {"order": "A1"}), "v1"]),
        tools=[old_lookup],
    )
    try:
        with _runtime(server) as deployer:
            deployer.deploy(v1)
            deployer.deploy(_agent("v2"))
        with _runtime(server, workers=False) as caller:
            handle = caller.start("support", "Where is A1?", version=1)
            deadline = time.monotonic() + 20
            while "old_lookup" not in (handle.get_status().waiting_reason or ""):
                assert time.monotonic() < deadline, "the execution never said its worker is missing"
                time.sleep(0.05)
            assert handle.get_status().status == "RUNNING"
            events = httpx.get(f"{server.api_url}/agent/executions/{handle.execution_id}/events").json()
            missing = next(e for e in events if e["type"] == "worker_missing")
            assert "runs version 1 of deployed agent 'support' (latest: 2)" in missing["content"]
            with _runtime(server) as worker:
                worker.serve(v1, blocking=False)
                result = handle.join(timeout=30)
        assert result.output == "v1"
        assert [e.type for e in result.events].count("worker_found") == 1
    finally:
        server.stop()
