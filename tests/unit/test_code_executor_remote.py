"""The executors that run code elsewhere: a serverless endpoint (a local stub service), a
real Jupyter kernel, and Docker (where an engine is reachable; skipped with the reason
otherwise)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentspan._core.tool import ToolContext
from agentspan.agents import DockerCodeExecutor, ExecutionResult, JupyterCodeExecutor, ServerlessCodeExecutor

from support.http_target import HttpTarget, Seen

pytestmark = pytest.mark.timeout(120)


def context(execution_id: str) -> ToolContext:
    return ToolContext(execution_id=execution_id, idempotency_key=f"{execution_id}:1", task_id="t", attempt=1)


# --------------------------------------------------------------------------- serverless


@pytest.fixture
def endpoint() -> Iterator[HttpTarget]:
    with HttpTarget() as target:
        yield target


def test_serverless_posts_the_code_and_reads_the_answer(endpoint: HttpTarget) -> None:
    def run(seen: Seen) -> tuple[int, Any]:
        body = seen.json()
        return 200, {
            "stdout": f"ran {len(body['code'])} chars of {body['language']}",
            "stderr": "",
            "exit_code": 0,
        }

    endpoint.route("POST", "/run", run)
    executor = ServerlessCodeExecutor(
        f"{endpoint.url}/run", api_key="key-123", timeout=5, headers={"X-Team": "a"}
    )
    result = executor.execute("print(1)")
    assert result == ExecutionResult(output="ran 8 chars of python", error="", exit_code=0)
    (seen,) = endpoint.requests_to("/run")
    assert seen.json() == {"code": "print(1)", "language": "python", "timeout": 5}
    assert seen.headers["authorization"] == "Bearer key-123" and seen.headers["x-team"] == "a"
    assert "key-123" not in repr(executor)


def test_serverless_reports_failures_without_raising(endpoint: HttpTarget) -> None:
    endpoint.json_route("POST", "/fail", {"output": "", "error": "NameError: x", "exit_code": 1})
    endpoint.route("POST", "/broken", lambda seen: (502, "upstream down", "text/plain"))
    endpoint.route("POST", "/huge", lambda seen: (200, json.dumps({"output": "x" * 2_000_000})))
    failed = ServerlessCodeExecutor(f"{endpoint.url}/fail").execute("x")
    assert (failed.exit_code, failed.error) == (1, "NameError: x")
    broken = ServerlessCodeExecutor(f"{endpoint.url}/broken").execute("x")
    assert broken.exit_code == 1 and "HTTP 502: upstream down" in broken.error
    huge = ServerlessCodeExecutor(f"{endpoint.url}/huge").execute("x")
    assert huge.exit_code == 1 and "over 1000000 bytes" in huge.error
    closed = ServerlessCodeExecutor("http://127.0.0.1:9/run", timeout=2).execute("x")
    assert closed.exit_code == 1 and "serverless execution failed" in closed.error
    with pytest.raises(ValueError, match="http"):
        ServerlessCodeExecutor("file:///etc/passwd")


def test_serverless_timeout_is_reported(endpoint: HttpTarget) -> None:
    endpoint.hold("/slow")
    endpoint.json_route("POST", "/slow", {"output": "late"})
    try:
        executor = ServerlessCodeExecutor(f"{endpoint.url}/slow", timeout=0.5, start_margin=0.5)
        started = time.monotonic()
        result = executor.execute("x")
        assert result.timed_out and "did not answer" in result.error
        assert time.monotonic() - started < 5
    finally:
        endpoint.release("/slow")


# --------------------------------------------------------------------------- jupyter


@pytest.fixture(scope="module")
def jupyter() -> Iterator[JupyterCodeExecutor]:
    executor = JupyterCodeExecutor(timeout=20, startup_code="import math")
    yield executor
    executor.shutdown()


def test_jupyter_keeps_state_within_one_execution_and_not_across(jupyter: JupyterCodeExecutor) -> None:
    tool = jupyter.as_tool()
    assert tool.func is not None
    first = tool.func(code="x = 20\nprint('set')", context=context("exec-a"))
    assert first == {"status": "success", "stdout": "set\n", "stderr": ""}
    same = tool.func(code="x + math.floor(1.5) * 22", context=context("exec-a"))
    assert same["status"] == "success" and same["stdout"].strip() == "42"
    other = tool.func(code="print(x)", context=context("exec-b"))
    assert other["status"] == "error" and "NameError" in other["stderr"]


def test_jupyter_reports_errors_and_stderr(jupyter: JupyterCodeExecutor) -> None:
    failed = jupyter.execute("1 / 0")
    assert failed.exit_code == 1 and "ZeroDivisionError" in failed.error
    warned = jupyter.execute("import sys\nsys.stderr.write('careful\\n')")
    assert warned.exit_code == 1 and "careful" in warned.error


def test_jupyter_interrupts_a_call_past_its_timeout() -> None:
    executor = JupyterCodeExecutor(timeout=2)
    try:
        started = time.monotonic()
        slow = executor.execute("import time\nkept = 1\ntime.sleep(60)")
        assert slow.timed_out and time.monotonic() - started < 15
        after = executor.execute("print(kept)")  # the kernel survived the interrupt
        assert after.success and after.output.strip() == "1"
    finally:
        executor.shutdown()


def test_jupyter_shutdown_stops_the_kernels() -> None:
    executor = JupyterCodeExecutor(timeout=10, max_kernels=1)
    first = executor.execute_for("print('a')", context("one"))
    assert first.success
    manager = executor._kernels["one"].manager
    second = executor.execute_for("print('b')", context("two"))  # evicts "one"
    assert second.success and not manager.is_alive()
    remaining = executor._kernels["two"].manager
    executor.shutdown()
    assert not remaining.is_alive() and not executor._kernels


def test_jupyter_kernel_does_not_see_the_workers_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSPAN_TEST_SECRET", "sk-never-in-the-kernel")
    executor = JupyterCodeExecutor(timeout=20)
    try:
        shown = executor.execute("import os\nprint(os.environ.get('AGENTSPAN_TEST_SECRET', 'absent'))")
        assert shown.output.strip() == "absent"
    finally:
        executor.shutdown()


# --------------------------------------------------------------------------- docker


def test_docker_command_isolates_by_default() -> None:
    executor = DockerCodeExecutor(volumes={"/data/in": "/in"}, env={"MODE": "test"})
    argv = executor.command("print(1)", "c1")
    assert argv[:6] == ["docker", "run", "--rm", "-i", "--name", "c1"]
    for flag in (
        "--network=none",
        "--memory=512m",
        "--memory-swap=512m",
        "--pids-limit=64",
        "--read-only",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
    ):
        assert flag in argv
    assert argv[argv.index("-v") + 1] == "/data/in:/in:ro"
    assert argv[-8:] == ["python:3.12-slim", "timeout", "-s", "KILL", "36", "python3", "-c", "print(1)"]
    networked = DockerCodeExecutor(network_enabled=True, memory_limit="1g").command("x", "c2")
    assert "--network=none" not in networked and "--memory=1g" in networked


def test_docker_containers_end_without_their_worker() -> None:
    """What keeps a container from outliving a killed worker (no engine here to kill one
    for real: the command line is what is checked)."""
    executor = DockerCodeExecutor(timeout=20)
    argv = executor.command("print(1)", "c3", now=1_000_000)
    assert "--rm" in argv and "--stop-timeout=1" in argv
    labels = [argv[i + 1] for i, flag in enumerate(argv) if flag == "--label"]
    assert labels == [
        "agentspan.sandbox=1",
        f"agentspan.owner={socket.gethostname()}:{os.getpid()}",
        "agentspan.deadline=1000036",  # now + timeout + 1 + stop margin + pull allowance
    ]
    image = argv.index("python:3.12-slim")
    assert argv[image + 1 : image + 5] == ["timeout", "-s", "KILL", "26"]  # inside the container
    bare = DockerCodeExecutor(timeout=20, in_container_timeout=False).command("print(1)", "c4")
    assert bare[bare.index("python:3.12-slim") + 1] == "python3"


def test_docker_cleanup_removes_only_abandoned_containers(tmp_path: Path) -> None:
    finished = subprocess.Popen(["true"])  # noqa: S607 - a pid that is surely dead afterwards
    finished.wait()
    here = socket.gethostname()
    listing = "\n".join(
        [
            f"dead-worker {here}:{finished.pid} 9999999999",
            f"live-worker {here}:{os.getpid()} 9999999999",
            f"other-host elsewhere:{finished.pid} 9999999999",
            f"expired {here}:{os.getpid()} 1000",
        ]
    )
    calls = tmp_path / "calls"
    fake = tmp_path / "docker"
    # A stand-in for the docker CLI at the edge: it lists the containers above and logs
    # every command it receives.
    fake.write_text(
        f'#!/bin/sh\necho "$*" >> {calls}\nif [ "$1" = ps ]; then printf \'%s\\n\' "{listing}"; fi\n'
    )
    fake.chmod(0o755)
    removed = DockerCodeExecutor(docker_binary=str(fake)).cleanup_leftovers()
    assert removed == ["dead-worker", "expired"]
    log = calls.read_text().splitlines()
    assert log[0].startswith("ps -a --filter label=agentspan.sandbox --format")
    assert log[1] == "rm -f dead-worker expired"


def test_docker_without_the_cli_reports_exit_127() -> None:
    result = DockerCodeExecutor(docker_binary="no-such-docker-cli").execute("print(1)")
    assert result.exit_code == 127 and "not installed" in result.error


def test_docker_runs_code_in_a_container() -> None:
    executor = DockerCodeExecutor(timeout=60)
    reason = executor.unavailable_reason()
    if reason is not None:
        result = executor.execute("print(1)")
        # Where there is a CLI but no engine, the executor says so rather than hang.
        if shutil.which("docker") is not None:
            assert result.exit_code == 125 and "no Docker engine is reachable" in result.error
        pytest.skip(f"Docker cannot run containers here: {reason}")
    result = executor.execute(
        "import socket\nprint(sum(range(10)))\nsocket.create_connection(('1.1.1.1', 53), 2)"
    )
    assert result.output.strip() == "45"
    assert result.exit_code != 0 and "Error" in result.error  # no network in the container
