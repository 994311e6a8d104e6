"""The limit on tool calls per model reply is durable: a reply recorded under one limit
keeps its outcome across a kill -9 and a restart with another limit. The calls refused
then are never run later, and the calls admitted then are run exactly once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.servers import ServerProcess

pytestmark = pytest.mark.e2e


def _detail(server: ServerProcess, execution_id: str, wait_ms: int = 0) -> dict[str, Any]:
    url = f"{server.api_url}/agent/execution/{execution_id}?waitMs={wait_ms}"
    detail: dict[str, Any] = httpx.get(url, timeout=wait_ms / 1000 + 10).json()
    return detail


def test_refused_calls_stay_refused_after_a_restart_with_a_higher_limit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ServerProcess(data, env={"AGENTSPAN_MAX_PARALLEL_TOOL_CALLS": "2"}).start()
    try:
        spec = {
            "name": "reader",
            "model": "scripted/model",
            "scriptedTurns": [
                {"toolCalls": [{"name": "fetch", "arguments": {"page": p}} for p in "abcd"]},
                {"text": "read what I could"},
            ],
            "tools": [{"name": "fetch", "toolType": "worker"}],
        }
        started = httpx.post(
            first.api_url + "/agent/start", json={"agentConfig": spec, "prompt": "go"}, timeout=10
        )
        assert started.status_code == 200, started.text
        execution_id = started.json()["executionId"]
        deadline = time.monotonic() + 15
        while len(_detail(first, execution_id).get("toolCalls", [])) < 4:  # the reply is recorded
            assert time.monotonic() < deadline, "the model reply was never recorded"
            time.sleep(0.05)
    finally:
        first.kill()  # SIGKILL: no worker ever polled, two calls are queued

    second = ServerProcess(data, env={"AGENTSPAN_MAX_PARALLEL_TOOL_CALLS": "64"}, port=first.port).start()
    try:
        poll = {"names": ["fetch"], "workerId": "w", "count": 10, "waitMs": 2000}
        tasks = httpx.post(second.api_url + "/tasks/poll", json=poll, timeout=10).json()["tasks"]
        assert sorted(t["input"]["page"] for t in tasks) == ["a", "b"]
        for task in tasks:
            done = {"leaseId": task["leaseId"], "output": f"page {task['input']['page']}"}
            response = httpx.post(f"{second.api_url}/tasks/{task['taskId']}/complete", json=done, timeout=10)
            assert response.status_code == 204, response.text
        detail = _detail(second, execution_id, wait_ms=15_000)
        assert detail["status"] == "COMPLETED" and detail["output"] == "read what I could"
        calls = {c["args"]["page"]: c for c in detail["toolCalls"]}
        assert calls["a"]["result"] == "page a" and calls["b"]["result"] == "page b"
        for page in "cd":
            assert "at most 2 per reply" in calls[page]["error"]
        poll["waitMs"] = 200
        assert httpx.post(second.api_url + "/tasks/poll", json=poll, timeout=10).json()["tasks"] == []
    finally:
        second.stop()
