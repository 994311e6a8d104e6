"""kill -9 a worker while its execute_code call runs: the sandboxed program dies with it,
and the call is run again with the same idempotency key - or, for a call marked
``retryable=False``, the execution waits for a person instead of running the code twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from code_exec_agents import CODE, code_agent

from agentspan.agents import AgentConfig, AgentRuntime

from fakes.openai_server import FakeOpenAI
from support.servers import ServerProcess

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120)]
HERE = Path(__file__).parent


@pytest.fixture
def code_log() -> Iterator[Path]:
    # The sandbox may run as another user: its log lives where that user can write.
    shared = Path(tempfile.mkdtemp(prefix="agentspan-chaos-"))
    shared.chmod(0o777)
    log = shared / "runs.log"
    log.touch()
    log.chmod(0o666)
    yield log
    log.unlink(missing_ok=True)
    shared.rmdir()


@pytest.fixture
def chaos_server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[ServerProcess]:
    fake_openai.reset()
    server = ServerProcess(tmp_path / "data", env={"AGENTSPAN_WORKER_LEASE_SECONDS": "1"}).start()
    try:
        yield server
    finally:
        server.stop()


def start_worker(server: ServerProcess, log: Path, sleep: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AGENTSPAN_SERVER_URL": server.api_url,
        "CODE_LOG": str(log),
        "CODE_SLEEP": str(sleep),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen([sys.executable, str(HERE / "serve_code_worker.py")], env=env)


def wait_runs(log: Path, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while log.read_text().count("ran") < count:
        assert time.monotonic() < deadline, f"expected {count} runs of the code"
        time.sleep(0.05)


def sleeping_sandboxes(log: Path, *, supervisors: bool = False) -> int:
    """Live sandboxed programs of this test (found by the log path in their environment);
    with ``supervisors``, their supervising launchers too."""
    marker = f"CODE_LOG={log}".encode()
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                launcher = b"launch.py" in (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if launcher and not supervisors:
                continue
            # The worker has the same variable: count only the executed code.
            if (
                marker in environ
                and b"CODE_SLEEP=120" in environ
                and b"AGENTSPAN_SERVER_URL" not in b"".join(environ)
            ):
                count += 1
    return count


def kill(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait(10)


@pytest.mark.parametrize("retryable", [True, False])
def test_worker_killed_during_execute_code(
    chaos_server: ServerProcess, fake_openai: FakeOpenAI, code_log: Path, retryable: bool
) -> None:
    name = code_agent(retryable).name
    fake_openai.script(
        FakeOpenAI.tool_calls([(f"{name}_execute_code", {"code": CODE})]), FakeOpenAI.text("finished")
    )
    config = AgentConfig(server_url=chaos_server.api_url, auto_start_server=False, auto_start_workers=False)
    first = start_worker(chaos_server, code_log, sleep=120)
    second: subprocess.Popen[bytes] | None = None
    status = None
    try:
        with AgentRuntime(config=config) as runtime:
            handle = runtime.start(code_agent(retryable), "run the code")
            wait_runs(code_log, 1)
            assert sleeping_sandboxes(code_log) == 1
            kill(first)
            deadline = time.monotonic() + 10
            while sleeping_sandboxes(code_log, supervisors=True) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert sleeping_sandboxes(code_log, supervisors=True) == 0, "the sandbox died with its worker"
            second = start_worker(chaos_server, code_log, sleep=0)
            if not retryable:
                deadline = time.monotonic() + 30
                while not handle.get_status().is_waiting:
                    assert time.monotonic() < deadline, "never waited for a person"
                    time.sleep(0.1)
                status = handle.get_status()
                assert code_log.read_text().count("ran") == 1, "not run again on its own"
                handle.approve()
            result = handle.join(timeout=60)
    finally:
        kill(first)
        kill(second)
    assert result.status == "COMPLETED" and result.output == "finished"
    assert code_log.read_text().count("ran") == 2
    assert result.tool_calls[0]["result"] == {"status": "success", "stdout": "slept\n", "stderr": ""}
    assert fake_openai.request_count == 2  # the recorded model reply was not requested again
    if not retryable:
        assert status is not None and status.pending_tool is not None
        assert status.pending_tool["kind"] == "outcome_unknown"
