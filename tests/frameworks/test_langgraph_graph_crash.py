"""kill -9 the worker process in the middle of a node of a durable LangGraph graph: another
process continues the same execution from the last recorded superstep, and no completed
superstep runs again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("langgraph", reason="the langgraph package is not installed")

from lg_graph_crash_agents import shipping_graph  # noqa: E402

from support.servers import ServerProcess  # noqa: E402
from support.worker_crash import LEASE, kill_worker_mid_run  # noqa: E402

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
    outcome = kill_worker_mid_run(
        chaos_server,
        WORKER,
        tmp_path / "nodes.log",
        shipping_graph(),
        json.dumps({"order_id": "A7", "log": []}),
        "ship",
    )
    result, first_pid, second_pid = outcome.result, outcome.first_pid, outcome.second_pid
    assert result.status == "COMPLETED", result.error
    # fetch's superstep was recorded before the kill: it never ran again.
    assert outcome.of("fetch") == [["fetch", str(first_pid), "0"]]
    # ship was interrupted: it ran once more, in the other process, from the same checkpoint.
    assert outcome.of("ship") == [
        ["ship", str(first_pid), "1"],
        ["ship", str(second_pid), "1"],
    ]
    assert outcome.of("report") == [["report", str(second_pid), "2"]]
    assert result.output["log"] == ["fetched A7", f"shipped from {second_pid}", "reported"]
    # One recorded node per superstep: the lost attempt left nothing behind.
    assert [(c["name"], c["args"]["superstep"]) for c in result.tool_calls] == [
        ("fetch", 1),
        ("ship", 2),
        ("report", 3),
    ]
    retries = [e for e in result.events if e.type == "tool_retry"]
    assert len(retries) == 1 and (retries[0].data or {}).get("reason") == "lease_expired"
