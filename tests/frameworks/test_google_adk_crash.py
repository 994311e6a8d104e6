"""kill -9 the worker process in the middle of a Google ADK function tool: another process
continues the same execution, no completed step runs again, and the session state the
completed tool wrote is what the re-run tool sees."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("google.adk", reason="the google-adk package is not installed")

from agentspan.agents import AgentConfig, AgentRuntime  # noqa: E402

from adk_crash_agents import shop_agent  # noqa: E402
from fakes.openai_server import FakeOpenAI  # noqa: E402
from support.servers import ServerProcess  # noqa: E402

pytestmark = pytest.mark.chaos
HERE = Path(__file__).parent


def start_worker(server: ServerProcess, log: Path, slow: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AGENTSPAN_SERVER_URL": server.api_url,
        "CHAOS_LOG": str(log),
        "CHAOS_SLOW": "1" if slow else "0",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen([sys.executable, str(HERE / "adk_serve_worker.py")], env=env)


def wait_for(path: Path, text: str, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if any(text in line for line in lines):
            return lines
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in {path}")


@pytest.fixture
def chaos_server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[ServerProcess]:
    fake_openai.reset()
    server = ServerProcess(tmp_path / "data", env={"AGENTSPAN_WORKER_LEASE_SECONDS": "1"}).start()
    try:
        yield server
    finally:
        server.stop()


def test_worker_killed_mid_tool_another_process_finishes(
    chaos_server: ServerProcess, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.script(
        FakeOpenAI.tool_calls([("fetch_order", {"order_id": "A7"})]),
        FakeOpenAI.tool_calls([("ship_order", {"order_id": "A7"})]),
        FakeOpenAI.text("Order A7 is on its way."),
    )
    log = tmp_path / "calls.log"
    config = AgentConfig(server_url=chaos_server.api_url, auto_start_server=False, auto_start_workers=False)
    first = start_worker(chaos_server, log, slow=True)
    second: subprocess.Popen[bytes] | None = None
    try:
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(shop_agent(), "Ship order A7")
            wait_for(log, "ship_order")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            second = start_worker(chaos_server, log, slow=False)
            result = handle.join(timeout=60)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert result.status == "COMPLETED", result.error
    assert result.output == "Order A7 is on its way."
    runs = [line.split() for line in log.read_text().splitlines()]
    fetches = [r for r in runs if r[0] == "fetch_order"]
    ships = [r for r in runs if r[0] == "ship_order"]
    assert len(fetches) == 1  # completed before the kill: never run again
    assert len(ships) == 2  # the interrupted call ran once more, in the other process
    assert ships[0][1] == str(first.pid) and ships[1][1] == str(second.pid if second else "")
    assert ships[0][2] == ships[1][2]  # the same call, not a new one
    # Both runs of the interrupted call saw the state the finished call recorded.
    assert ships[0][3] == ships[1][3] == '{"order":"A7"}'
    # The model was asked exactly three times: no recorded reply was requested again.
    assert fake_openai.request_count == 3
    assert result.tool_calls[-1]["result"] == f"shipped A7 from {second.pid if second else ''}"
