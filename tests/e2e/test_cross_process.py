"""Real processes over real HTTP: the README program unchanged, auto-start, approvals from
another process, a standalone worker process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentspan.agents import Agent, AgentConfig, AgentRuntime, tool

from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess, free_port

pytestmark = pytest.mark.e2e

README_PROGRAM = '''
from agentspan.agents import Agent, AgentRuntime, tool

@tool
def get_weather(city: str) -> str:
    """Get current weather for a city."""
    return f"72F and sunny in {city}"

agent = Agent(name="weatherbot", model="openai/gpt-4o", tools=[get_weather])
with AgentRuntime() as runtime:
    result = runtime.run(agent, "What's the weather in NYC?")
    result.print_result()
'''


@pytest.fixture
def proc_server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[ServerProcess]:
    fake_openai.reset()
    server = ServerProcess(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.stop()


def run_python(code: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_readme_program_runs_unchanged(proc_server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(
        FakeOpenAI.tool_calls([("get_weather", {"city": "NYC"})]),
        FakeOpenAI.text("It is 72F and sunny in NYC."),
    )
    done = run_python(README_PROGRAM, {"AGENTSPAN_SERVER_URL": proc_server.api_url})
    assert done.returncode == 0, done.stderr
    assert "It is 72F and sunny in NYC." in done.stdout
    assert "Tool calls: 1" in done.stdout and "Execution ID: " in done.stdout
    assert fake_openai.requests[1]["messages"][-1]["content"] == "72F and sunny in NYC"


def test_runtime_auto_starts_a_local_server(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.reset()
    fake_openai.script(FakeOpenAI.tool_calls([("get_weather", {"city": "NYC"})]), FakeOpenAI.text("sunny"))
    port = free_port()
    env = {
        "AGENTSPAN_SERVER_URL": f"http://localhost:{port}/api",
        "AGENTSPAN_DATA_DIR": str(tmp_path / "auto"),
    }
    try:
        done = run_python(README_PROGRAM, env)
        assert done.returncode == 0, done.stderr
        assert "sunny" in done.stdout
        assert "starting a local server" in done.stderr
        assert f"browse http://127.0.0.1:{port}/, stop it with: agentspan server stop" in done.stderr
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["healthy"] is True
    finally:
        subprocess.run(
            [sys.executable, "-m", "agentspan.cli", "server", "stop", "--data-dir", str(tmp_path / "auto")],
            capture_output=True,
            timeout=30,
        )


def test_remote_url_is_never_auto_started() -> None:
    started = time.monotonic()
    done = run_python(
        "from agentspan.agents import AgentRuntime\nAgentRuntime()",
        {"AGENTSPAN_SERVER_URL": "http://192.0.2.1:6767/api"},  # TEST-NET-1: never routable
    )
    assert done.returncode != 0
    assert "not local, so it is not started automatically" in done.stderr
    assert "starting a local server" not in done.stderr
    assert time.monotonic() - started < 30


@tool(approval_required=True)
def wire_money(amount: float) -> str:
    """Send money (needs approval)."""
    return f"sent {amount}"


def test_approve_from_another_process_and_serve_elsewhere(
    proc_server: ServerProcess, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.script(FakeOpenAI.tool_calls([("wire_money", {"amount": 5})]), FakeOpenAI.text("money sent"))
    config = AgentConfig(server_url=proc_server.api_url, auto_start_server=False, auto_start_workers=False)
    agent = Agent(name="banker", model="openai/gpt-4o", tools=[wire_money])
    env = {
        "AGENTSPAN_SERVER_URL": proc_server.api_url,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(Path(__file__).parents[1])]),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from test_cross_process import agent_for_worker\n"
            "from agentspan.agents import AgentRuntime\n"
            "AgentRuntime().serve(agent_for_worker())",
        ],
        env={**os.environ, **env},
    )
    try:
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(agent, "send 5")
            deadline = time.monotonic() + 20
            while not handle.get_status().is_waiting and time.monotonic() < deadline:
                time.sleep(0.05)
            approver = (
                "import sys\n"
                "from agentspan.agents import AgentHandle, AgentRuntime\n"
                "AgentHandle(execution_id=sys.argv[1], runtime=AgentRuntime()).approve()\n"
            )
            approvals = [
                subprocess.Popen(
                    [sys.executable, "-c", approver, handle.execution_id],
                    env={**os.environ, **env},
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            codes = sorted(p.wait(60) for p in approvals)
            errors = [p.stderr.read() if p.stderr else "" for p in approvals]
            result = handle.join(timeout=30)
    finally:
        worker.terminate()
        worker.wait(20)
    assert codes == [0, 1], errors  # exactly one approval wins
    assert any("409" in e for e in errors)
    assert result.output == "money sent"
    assert result.tool_calls[0]["result"] == "sent 5.0"
    assert result.tool_calls[0]["approval"]["decidedBy"].startswith("sdk:")


def agent_for_worker() -> Agent:
    """The agent as the standalone worker process defines it."""
    return Agent(name="banker", model="openai/gpt-4o", tools=[wire_money])


STRUCTURED_PROGRAM = '''
from pydantic import BaseModel
from agentspan.agents import Agent, AgentRuntime, tool

class WeatherReport(BaseModel):
    city: str
    temperature: float
    condition: str
    recommendation: str

@tool
def get_weather(city: str) -> dict:
    """Get weather data for a city."""
    return {"city": city, "temp_f": 72, "condition": "Sunny", "humidity": 45}

agent = Agent(name="reporter", model="openai/gpt-4o", tools=[get_weather], output_type=WeatherReport)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "What's the weather in NYC?")
    report: WeatherReport = result.output  # Fully typed
    print(f"{report.city}: {report.temperature}F, {report.condition}")
'''


def test_seed_structured_output_example_prints_typed_fields(
    proc_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    report = {"city": "NYC", "temperature": 72, "condition": "Sunny", "recommendation": "Wear sunglasses"}
    fake_openai.script(
        FakeOpenAI.tool_calls([("get_weather", {"city": "NYC"})]),
        FakeOpenAI.text(json.dumps(report)),
    )
    done = run_python(STRUCTURED_PROGRAM, {"AGENTSPAN_SERVER_URL": proc_server.api_url})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("NYC: 72.0F, Sunny")
    assert fake_openai.requests[0]["response_format"]["json_schema"]["schema"]["required"] == [
        "city",
        "temperature",
        "condition",
        "recommendation",
    ]


SERVE_PROGRAM = """
from agentspan.agents import Agent, AgentRuntime, tool

@tool
def get_weather(city: str) -> str:
    \"\"\"Get current weather for a city.\"\"\"
    return f"72F and sunny in {city}"

AgentRuntime().serve(Agent(name="weatherbot", model="openai/gpt-4o", tools=[get_weather]))
"""


def test_serve_says_what_it_serves_and_that_it_waits(proc_server: ServerProcess) -> None:
    worker = subprocess.Popen(  # noqa: S603 - a fixed program
        [sys.executable, "-c", SERVE_PROGRAM],
        env={**os.environ, "AGENTSPAN_SERVER_URL": proc_server.api_url},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stderr is not None
        lines = [worker.stderr.readline(), worker.stderr.readline()]
        assert lines[0].startswith("agentspan: serving 1 tool(s) of weatherbot for ")
        assert proc_server.api_url.removesuffix("/api") in lines[0] and lines[0].rstrip().endswith(
            ": get_weather"
        )
        assert lines[1].strip() == (
            "agentspan: waiting for tool calls from executions started anywhere (Ctrl+C to stop)"
        )
        worker.send_signal(signal.SIGINT)
        assert worker.wait(timeout=30) == 0
        assert "Traceback" not in worker.stderr.read()
    finally:
        worker.kill()
        worker.wait()
