"""Issue 13, credentials beyond one tool: ``Agent(credentials=...)`` and
``run(..., credentials=...)`` reach the agent's worker tools (fetched with the call's
lease) and its server-side tools' ``${NAME}`` headers; ``resolve_credentials`` serves a
hand-written worker; ``@tool(isolated=True)`` runs the call in a process holding only the
declared secrets (a canary in the worker's environment stays out)."""

from __future__ import annotations

import hashlib
import os
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan.agents import (
    Agent,
    AgentConfig,
    AgentRuntime,
    ConfigurationError,
    CredentialAuthError,
    CredentialFile,
    CredentialNotFoundError,
    TerminalToolError,
    get_credential,
    resolve_credentials,
    tool,
)
from agentspan.agents.testing import ScriptedModel, ToolCall
from agentspan.server.settings import Settings

from fakes.openai_server import FakeOpenAI
from support.http_target import HttpTarget
from support.servers import ThreadServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadServer]:
    srv = ThreadServer(Settings(data_dir=tmp_path)).start()
    try:
        yield srv
    finally:
        srv.stop()


def _digest(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()[:16]


def _set(server: ThreadServer, name: str, value: str) -> None:
    assert httpx.put(f"{server.api_url}/credentials/{name}", json={"value": value}).is_success


def _runtime(server: ThreadServer) -> AgentRuntime:
    return AgentRuntime(config=AgentConfig(server_url=server.api_url, auto_start_server=False))


@tool
def peek() -> dict[str, Any]:
    """Declares nothing itself: sees what its agent or run makes available."""
    seen: dict[str, Any] = {}
    for name in ("AGENT_KEY", "RUN_KEY"):
        try:
            seen[name] = _digest(get_credential(name))
        except CredentialNotFoundError:
            seen[name] = None
        seen[name + "_env"] = _digest(os.environ.get(name))
    return seen


def test_agent_and_run_credentials_reach_the_agents_worker_tools(server: ThreadServer) -> None:
    agent_value, run_value = f"ak-{uuid.uuid4().hex}", f"rk-{uuid.uuid4().hex}"
    _set(server, "AGENT_KEY", agent_value)
    _set(server, "RUN_KEY", run_value)
    agent = Agent(
        name="scoped",
        model=ScriptedModel([ToolCall("peek", {}), "done"]),
        tools=[peek],
        credentials=["AGENT_KEY"],
    )
    with _runtime(server) as runtime:
        with_run = runtime.run(agent, "look", credentials=["RUN_KEY"])
        agent_only = runtime.run(agent, "look")
    assert with_run.status == "COMPLETED", with_run.error
    assert with_run.tool_calls[0]["result"] == {
        "AGENT_KEY": _digest(agent_value),
        "AGENT_KEY_env": _digest(agent_value),
        "RUN_KEY": _digest(run_value),
        "RUN_KEY_env": _digest(run_value),
    }
    assert agent_only.tool_calls[0]["result"]["RUN_KEY"] is None  # the other run's names are its own
    assert agent_only.tool_calls[0]["result"]["AGENT_KEY"] == _digest(agent_value)
    assert "AGENT_KEY" not in os.environ and "RUN_KEY" not in os.environ


def test_a_sub_agent_gets_the_runs_credentials_not_its_parents(server: ThreadServer) -> None:
    _set(server, "AGENT_KEY", "ak-parent")
    _set(server, "RUN_KEY", "rk-run")
    child = Agent(name="child", model=ScriptedModel([ToolCall("peek", {}), "child done"]), tools=[peek])
    parent = Agent(name="parent", agents=[child], strategy="sequential", credentials=["AGENT_KEY"])
    with _runtime(server) as runtime:
        result = runtime.run(parent, "go", credentials=["RUN_KEY"])
    assert result.status == "COMPLETED", result.error
    detail = httpx.get(f"{server.api_url}/agent/executions?parentId={result.execution_id}").json()
    (child_row,) = detail["results"]
    child_events = httpx.get(f"{server.api_url}/agent/executions/{child_row['executionId']}/events").json()
    (call,) = [e for e in child_events if e["type"] == "tool_result"]
    assert call["result"]["RUN_KEY"] == _digest("rk-run")
    assert call["result"]["AGENT_KEY"] is None  # an agent's names are for its own tools


def test_a_server_side_tool_header_may_use_the_runs_credentials(server: ThreadServer) -> None:
    token = f"tok-{uuid.uuid4().hex}"
    _set(server, "RUN_TOKEN", token)
    with HttpTarget() as target, FakeOpenAI() as _:
        target.route("GET", "/me", lambda seen: (200, {"ok": True}))
        spec = {
            "name": "caller",
            "model": "scripted/model",
            "scriptedTurns": [{"toolCalls": [{"name": "me", "arguments": {}}]}, {"text": "ok"}],
            "tools": [
                {
                    "name": "me",
                    "toolType": "http",
                    "config": {
                        "url": target.url + "/me",
                        "headers": {"Authorization": "Bearer ${RUN_TOKEN}"},
                    },
                }
            ],
        }
        undeclared = httpx.post(f"{server.api_url}/agent/start", json={"agentConfig": spec, "prompt": "go"})
        assert undeclared.status_code == 400 and undeclared.json()["code"] == "invalid_agent"
        assert "RUN_TOKEN" in undeclared.json()["detail"]
        body = {"agentConfig": spec, "prompt": "go", "credentials": ["RUN_TOKEN"]}
        started = httpx.post(f"{server.api_url}/agent/start", json=body, params={"waitMs": 10000}, timeout=15)
        assert started.status_code == 200, started.text
        assert started.json()["result"]["status"] == "COMPLETED"
        (request,) = target.requests_to("/me")
        assert request.headers["authorization"] == f"Bearer {token}"
    bad = httpx.post(
        f"{server.api_url}/agent/start",
        json={"agentConfig": spec, "prompt": "go", "credentials": ["not a name"]},
    )
    assert bad.status_code == 400 and bad.json()["code"] == "validation_failed"


def test_resolve_credentials_serves_a_hand_written_worker_during_its_lease(server: ThreadServer) -> None:
    api = server.api_url
    _set(server, "PAYMENT_KEY", "pk-42")
    _set(server, "RUN_KEY", "rk-42")
    agent = {
        "name": "biller",
        "model": "scripted/model",
        "scriptedTurns": [{"toolCalls": [{"name": "charge", "arguments": {"amount": 1}}]}, {"text": "ok"}],
        "tools": [{"name": "charge", "toolType": "worker", "config": {"credentials": ["PAYMENT_KEY"]}}],
    }
    started = httpx.post(
        api + "/agent/start", json={"agentConfig": agent, "prompt": "go", "credentials": ["RUN_KEY"]}
    )
    assert started.status_code == 200, started.text
    (task,) = httpx.post(api + "/tasks/poll", json={"names": ["charge"], "waitMs": 5000}, timeout=10).json()[
        "tasks"
    ]
    assert task["context"]["credentials"] == ["RUN_KEY"]  # names only, never values
    config = AgentConfig(server_url=api, auto_start_server=False)
    assert resolve_credentials(task, ["PAYMENT_KEY", "RUN_KEY"], config=config) == {
        "PAYMENT_KEY": "pk-42",
        "RUN_KEY": "rk-42",
    }
    inner = {"amount": 1, "__agentspan_ctx__": {"taskId": task["taskId"], "leaseId": task["leaseId"]}}
    assert resolve_credentials(inner, ["PAYMENT_KEY"], config=config) == {"PAYMENT_KEY": "pk-42"}
    with pytest.raises(CredentialNotFoundError, match="no task lease"):
        resolve_credentials({"amount": 1}, ["PAYMENT_KEY"], config=config)
    with pytest.raises(CredentialAuthError):
        resolve_credentials(task, ["OTHER_KEY"], config=config)  # not declared by tool, agent or run
    done = httpx.post(
        f"{api}/tasks/{task['taskId']}/complete", json={"leaseId": task["leaseId"], "output": "ok"}
    )
    assert done.status_code == 204
    with pytest.raises(CredentialAuthError):
        resolve_credentials(task, ["PAYMENT_KEY"], config=config)  # the lease ended with the call


@tool(credentials=["DECLARED_SECRET", CredentialFile("KEY_FILE", ".keys/service.pem")], isolated=True)
def isolated_probe(label: str) -> dict[str, Any]:
    """Reports what its process can see."""
    path = os.environ["KEY_FILE"]
    with open(path, encoding="utf-8") as handle:
        content = handle.read()
    return {
        "label": label,
        "pid": os.getpid(),
        "declared": _digest(os.environ.get("DECLARED_SECRET")),
        "via_get_credential": _digest(get_credential("DECLARED_SECRET")),
        "canary": os.environ.get("PARENT_CANARY"),
        "file": _digest(content),
        "file_mode": oct(stat.S_IMODE(os.stat(path).st_mode)),
        "file_path": path,
        "home": os.environ.get("HOME"),
    }


@tool(isolated=True)
def isolated_refusal() -> str:
    """Fails for good, from inside its process."""
    raise TerminalToolError("declined by policy")


def test_an_isolated_call_sees_only_its_declared_secrets(
    server: ThreadServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret, key_file = f"ds-{uuid.uuid4().hex}", f"-----BEGIN KEY-----\n{uuid.uuid4().hex}\n"
    canary = f"canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("PARENT_CANARY", canary)
    _set(server, "DECLARED_SECRET", secret)
    _set(server, "KEY_FILE", key_file)
    agent = Agent(
        name="isolated",
        model=ScriptedModel(
            [ToolCall("isolated_probe", {"label": "one"}), ToolCall("isolated_refusal", {}), "done"]
        ),
        tools=[isolated_probe, isolated_refusal],
    )
    with _runtime(server) as runtime:
        result = runtime.run(agent, "probe")
    assert result.status == "COMPLETED", result.error
    seen, refused = (call["result"] for call in result.tool_calls)
    assert seen["pid"] != os.getpid()
    assert seen["label"] == "one"
    assert seen["declared"] == _digest(secret) and seen["via_get_credential"] == _digest(secret)
    assert seen["canary"] is None  # the worker's own environment did not reach the child
    assert seen["file"] == _digest(key_file) and seen["file_mode"] == "0o600"
    assert seen["file_path"].startswith(seen["home"]) and seen["file_path"].endswith(".keys/service.pem")
    assert not os.path.exists(seen["home"])  # the private directory is gone with the call
    assert "DECLARED_SECRET" not in os.environ and os.environ["PARENT_CANARY"] == canary
    assert "TerminalToolError: declined by policy" in str(refused)
    failures = [e for e in result.events if e.type == "tool_result" and "declined" in str(e.result)]
    assert failures  # reported once, as the model's error


@tool(isolated=True, timeout_seconds=2, retry_count=0)
def isolated_sleeper(seconds: int) -> str:
    """Outlives its timeout."""
    time.sleep(seconds)
    return "never"


def _isolated_children() -> list[int]:
    """This process's children running an isolated call (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"agentspan._core.isolated" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads child processes from /proc (Linux)")
def test_an_isolated_call_over_its_timeout_is_killed(server: ThreadServer) -> None:
    agent = Agent(
        name="sleepy",
        model=ScriptedModel([ToolCall("isolated_sleeper", {"seconds": 60}), "gave up"]),
        tools=[isolated_sleeper],
    )
    started = time.monotonic()
    with _runtime(server) as runtime:
        result = runtime.run(agent, "sleep")
    assert result.status == "COMPLETED" and time.monotonic() - started < 20
    assert "timed out after 2" in str(result.tool_calls[0]["result"])
    assert _isolated_children() == []  # killed and reaped, not left running


def test_a_tool_that_cannot_be_imported_by_path_is_refused_when_defined() -> None:
    with pytest.raises(ConfigurationError, match="defined inside a function"):

        @tool(isolated=True)
        def local_tool() -> str:
            """A closure."""
            return "x"
