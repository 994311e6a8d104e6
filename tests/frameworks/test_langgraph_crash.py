"""kill -9 the worker process in the middle of a LangChain tool of a prebuilt agent: another
process continues the same execution, and no completed step runs again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("langgraph", reason="the langgraph package is not installed")
pytest.importorskip("langchain_openai", reason="the langchain-openai package is not installed")

from fakes.openai_server import FakeOpenAI  # noqa: E402
from lg_crash_agents import shop_graph  # noqa: E402
from support.servers import ServerProcess  # noqa: E402
from support.worker_crash import LEASE, check_no_step_repeated, kill_worker_mid_ship  # noqa: E402

pytestmark = pytest.mark.chaos
WORKER = Path(__file__).parent / "lg_serve_worker.py"


@pytest.fixture
def chaos_server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[ServerProcess]:
    fake_openai.reset()
    server = ServerProcess(tmp_path / "data", env=LEASE).start()
    try:
        yield server
    finally:
        server.stop()


def test_worker_killed_mid_tool_another_process_finishes(
    chaos_server: ServerProcess, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    outcome = kill_worker_mid_ship(chaos_server, fake_openai, tmp_path, WORKER, shop_graph())
    check_no_step_repeated(outcome, fake_openai)
    assert outcome.result.tool_calls[-1]["result"] == f"shipped A7 from {outcome.second_pid}"
