"""kill -9 the worker process in the middle of a node of a durable LangGraph graph: another
process continues the same execution from the last recorded superstep, and no completed
superstep runs again."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("langgraph", reason="the langgraph package is not installed")

from lg_graph_crash_agents import shipping_graph  # noqa: E402

from agentspan.agents import AgentConfig, AgentRuntime  # noqa: E402

from support.servers import ServerProcess  # noqa: E402
from support.worker_crash import LEASE, start_worker, wait_for_text  # noqa: E402

pytestmark = pytest.mark.chaos
WORKER = Path(__file__).parent / "lg_graph_serve_worker.py"


@pytest.fixture
def chaos_server(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path / "data", env=LEASE).start()
    try:
        yield server
    finally:
        server.stop()


def test_worker_killed_mid_node_another_process_resumes_at_the_last_superstep(
    chaos_server: ServerProcess, tmp_path: Path
) -> None:
    log = tmp_path / "nodes.log"
    config = AgentConfig(server_url=chaos_server.api_url, auto_start_server=False, auto_start_workers=False)
    first = start_worker(chaos_server, WORKER, log, slow=True)
    second: subprocess.Popen[bytes] | None = None
    try:
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(shipping_graph(), json.dumps({"order_id": "A7", "log": []}))
            wait_for_text(log, "ship")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            second = start_worker(chaos_server, WORKER, log, slow=False)
            result = handle.join(timeout=60)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert second is not None
    runs = [line.split() for line in log.read_text().splitlines()]
    assert result.status == "COMPLETED", result.error
    # fetch's superstep was recorded before the kill: it never ran again.
    assert [r for r in runs if r[0] == "fetch"] == [["fetch", str(first.pid), "0"]]
    # ship was interrupted: it ran once more, in the other process, from the same checkpoint.
    assert [r for r in runs if r[0] == "ship"] == [
        ["ship", str(first.pid), "1"],
        ["ship", str(second.pid), "1"],
    ]
    assert [r for r in runs if r[0] == "report"] == [["report", str(second.pid), "2"]]
    assert result.output["log"] == ["fetched A7", f"shipped from {second.pid}", "reported"]
    # One recorded node per superstep: the lost attempt left nothing behind.
    assert [(c["name"], c["args"]["superstep"]) for c in result.tool_calls] == [
        ("fetch", 1),
        ("ship", 2),
        ("report", 3),
    ]
    retries = [e for e in result.events if e.type == "tool_retry"]
    assert len(retries) == 1 and (retries[0].data or {}).get("reason") == "lease_expired"
