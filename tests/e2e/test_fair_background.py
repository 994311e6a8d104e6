"""Background work shares the server fairly (issue 11, defect 3 and the shutdown long-poll).

An ``offline/basic`` agent with 10,000 worker tools and no worker queues 10,000 calls that
the no-worker watchdog must report. Before, it took an engine step per call (each reading
and writing the whole state) in passes of 500 that never yielded: ``/health`` went
unanswered for minutes, again after a restart (the calls are durable), and SIGTERM was
not heard. The bounds here are generous (a loaded 2-core machine passes; the old code
missed them by minutes): the benchmark (``bench/health_under_stall.py``) measures properly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentspan._core.tool import ToolDef
from agentspan.client._http import ApiClient
from agentspan.client._worker import WorkerPool

from support.servers import ServerProcess, free_port, wait_healthy
from support.stall import STALL_ENV, HealthProbe, Latencies, many_tools_agent, wait_for_tasks

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

TOOLS = 10_000
WINDOW_SECONDS = 10.0
"""How long ``/health`` is timed: the dispatch, the no-worker timeout (3 s) and the report.
Two steps in it still hold the loop for a second or so each on a busy machine (the one
recording the 10,000 calls, and the one reporting them): a few slow samples among
hundreds, which p99 tolerates, as it does not tolerate a stall."""
P99_LIMIT_S = 0.5
PROBE_TIMEOUT_S = 5.0
"""A ``/health`` request unanswered this long is a failure (the old code: minutes)."""


def _stop(server: ServerProcess) -> None:
    """SIGTERM, and SIGKILL if it does not exit (the old code did not: its loop was busy)."""
    try:
        server.stop()
    except subprocess.TimeoutExpired:
        server.kill(signal.SIGKILL)


def _start(server: ServerProcess, name: str) -> str:
    body = {"agentConfig": many_tools_agent(TOOLS, name=name), "prompt": "use them all"}
    r = httpx.post(server.api_url + "/agent/start", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return str(r.json()["executionId"])


def _timed(server: ServerProcess, seconds: float) -> Latencies:
    with HealthProbe(server.root_url, interval=0.005, timeout=PROBE_TIMEOUT_S) as probe:
        time.sleep(seconds)
        return probe.stop()


def _missing_reported(server: ServerProcess, execution_id: str) -> int:
    seen: set[str] = set()
    after = 0
    while True:
        url = f"{server.api_url}/agent/executions/{execution_id}/events?after={after}&limit=10000"
        page = httpx.get(url, timeout=30).json()
        if not page:
            return len(seen)
        seen.update(e["toolName"] for e in page if e["type"] == "worker_missing")
        after = page[-1]["id"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_health_stays_fast_while_ten_thousand_calls_wait_for_a_worker_and_after_a_kill(
    data_dir: Path,
) -> None:
    server = ServerProcess(data_dir, env=STALL_ENV).start()
    try:
        first = _start(server, "many_tools")
        during = _timed(server, WINDOW_SECONDS)
        assert during.failures == 0, f"/health failed or timed out while stalled: {during.line()}"
        assert during.p99 < P99_LIMIT_S, f"/health while stalled: {during.line()}"
        # What the user sees is unchanged: one worker_missing event per tool, and a status
        # that says why it waits (naming a few tools, counting the rest).
        assert _missing_reported(server, first) == TOOLS
        status = httpx.get(f"{server.api_url}/agent/{first}/status", timeout=30).json()
        assert "no worker is polling for tool 'tool_0'" in status["waitingReason"]
        assert f"and {TOOLS - 10} more" in status["waitingReason"]

        # Killed after the second execution's calls are queued but before the watchdog
        # reported them: the restarted server finds 10,000 durable unreported calls.
        second = _start(server, "more_tools")
        wait_for_tasks(server.root_url, second)
        server.kill(signal.SIGKILL)
        server = ServerProcess(data_dir, env=STALL_ENV, port=server.port).start()
        after = _timed(server, WINDOW_SECONDS)
        assert after.failures == 0, f"/health failed or timed out after the restart: {after.line()}"
        assert after.p99 < P99_LIMIT_S, f"/health after the restart: {after.line()}"
        assert _missing_reported(server, second) == TOOLS
        assert _missing_reported(server, first) == TOOLS  # reported once, not again
    finally:
        _stop(server)


def test_server_stop_finishes_within_its_grace_while_the_watchdog_works(data_dir: Path) -> None:
    from agentspan.cli._server import STOP_GRACE_SECONDS

    port = free_port()
    env = {**os.environ, **STALL_ENV}
    cli = [sys.executable, "-m", "agentspan.cli", "server"]
    where = ["--data-dir", str(data_dir), "--port", str(port)]
    subprocess.run([*cli, "start", *where], env=env, check=True, capture_output=True, timeout=60)
    root = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(root)
        for name in ("many_tools", "more_tools"):
            body = {"agentConfig": many_tools_agent(TOOLS, name=name), "prompt": "use them all"}
            r = httpx.post(root + "/api/agent/start", json=body, timeout=60)
            assert r.status_code == 200, r.text
        wait_for_tasks(root, r.json()["executionId"])
        time.sleep(3.5)  # past the no-worker timeout: the watchdog is reporting
    finally:
        began = time.monotonic()
        stopped = subprocess.run(
            [*cli, "stop", "--data-dir", str(data_dir)], env=env, capture_output=True, timeout=60
        )
        took = time.monotonic() - began
    assert stopped.returncode == 0
    assert b"was killed" not in stopped.stderr, stopped.stderr.decode()
    assert took < STOP_GRACE_SECONDS


# --- a long-poll cut by a shutdown ----------------------------------------------------


def _poll_in_thread(server: ServerProcess, answers: list[httpx.Response]) -> threading.Thread:
    def poll() -> None:
        body = {"names": ["nobody_serves_this"], "workerId": "w1", "count": 1, "waitMs": 60_000}
        answers.append(httpx.post(server.api_url + "/tasks/poll", json=body, timeout=60))

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return thread


def test_a_long_poll_cut_by_a_shutdown_gets_a_503_problem_document(data_dir: Path) -> None:
    server = ServerProcess(data_dir).start()
    answers: list[httpx.Response] = []
    try:
        thread = _poll_in_thread(server, answers)
        time.sleep(0.5)  # the poll is parked on the server
        server.kill(signal.SIGTERM)
        thread.join(30)
    finally:
        _stop(server)
    assert len(answers) == 1
    answer = answers[0]
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "1"
    assert json.loads(answer.content)["code"] == "shutting_down"


def _echo(text: str) -> str:
    return f"echo: {text}"


@pytest.fixture
def worker_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG, logger="agentspan.worker")
    yield caplog


def test_a_worker_waits_quietly_through_a_server_restart(
    data_dir: Path, worker_logs: pytest.LogCaptureFixture
) -> None:
    server = ServerProcess(data_dir).start()
    port = server.port

    async def scenario() -> dict[str, Any]:
        nonlocal server
        client = ApiClient(server.api_url)
        pool = WorkerPool(client, poll_wait_ms=30_000)
        try:
            pool.register([ToolDef(name="echo_tool", description="Echo.", func=_echo)])
            await asyncio.sleep(0.5)  # the worker's long-poll is parked on the server
            await asyncio.to_thread(server.kill, signal.SIGTERM)
            await asyncio.sleep(1.5)  # the worker meets the closed port for a while
            server = ServerProcess(data_dir, port=port)
            await asyncio.to_thread(server.start)
            agent = {
                "name": "echoer",
                "model": "offline/basic",
                "tools": [
                    {
                        "name": "echo_tool",
                        "description": "Echo.",
                        "inputSchema": {
                            "type": "object",
                            "properties": {"text": {"type": "string"}},
                            "required": ["text"],
                        },
                        "toolType": "worker",
                    }
                ],
            }
            started = await client.start({"agentConfig": agent, "prompt": "say hi"}, wait_ms=30_000)
            return dict(started.get("result") or {})
        finally:
            await pool.stop()
            await client.aclose()

    try:
        result = asyncio.run(scenario())
    finally:
        _stop(server)
    assert result.get("status") == "COMPLETED", result  # the worker came back and ran the tool
    noisy = [r for r in worker_logs.records if r.name == "agentspan.worker" and r.levelno >= logging.WARNING]
    assert noisy == [], [r.getMessage() for r in noisy]
    said = [r.getMessage() for r in worker_logs.records if r.levelno == logging.INFO]
    assert any("shutting down" in m for m in said), said
