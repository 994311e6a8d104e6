"""A real Jupyter kernel's limits and life: a kernel that ignores the interrupt is
restarted, output and memory are capped, and kernels stop when their execution ends, when
idle, and when the worker process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import pytest

from agentspan._core.tool import ToolContext
from agentspan.agents import JupyterCodeExecutor
from agentspan.agents._sandbox import jupyter

pytestmark = pytest.mark.timeout(120)


def context(execution_id: str) -> ToolContext:
    return ToolContext(execution_id=execution_id, idempotency_key=f"{execution_id}:1", task_id="t", attempt=1)


def eventually(check: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose (its parent has not collected it yet).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_kernel_that_ignores_the_interrupt_is_restarted() -> None:
    executor = JupyterCodeExecutor(timeout=2)
    try:
        assert executor.execute("kept = 1").success
        started = time.monotonic()
        stuck = executor.execute(
            "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: time.sleep(0.1)"
        )
        assert stuck.timed_out and time.monotonic() - started < 20
        assert "restarted" in stuck.error and "variables are lost" in stuck.error
        after = executor.execute("print(kept)")  # a fresh kernel: the old state is gone
        assert after.exit_code == 1 and "NameError" in after.error
        assert executor.execute("print('fresh')").output.strip() == "fresh"
    finally:
        executor.shutdown()


def test_output_is_capped() -> None:
    executor = JupyterCodeExecutor(timeout=20, max_output_chars=1000)
    try:
        loud = executor.execute("print('x' * 200_000)")
        assert loud.success
        assert loud.output.count("x") == 1000 and "[output truncated at 1000 characters]" in loud.output
    finally:
        executor.shutdown()


def test_memory_is_limited_and_the_kernel_survives() -> None:
    executor = JupyterCodeExecutor(timeout=30)
    try:
        assert executor.execute("kept = 7").success
        greedy = executor.execute("hog = bytearray(2 * 1024 ** 3)")
        assert greedy.exit_code == 1 and "MemoryError" in greedy.error
        after = executor.execute("print(kept)")
        assert after.success and after.output.strip() == "7"
    finally:
        executor.shutdown()


def test_a_kernel_that_dies_is_replaced_on_the_next_call() -> None:
    executor = JupyterCodeExecutor(timeout=20)
    try:
        died = executor.execute("import os\nos._exit(3)")
        assert died.exit_code == 1 and "the kernel died" in died.error
        assert executor.execute("print(2 + 2)").output.strip() == "4"
    finally:
        executor.shutdown()


def test_end_execution_stops_only_that_executions_kernel() -> None:
    executor = JupyterCodeExecutor(timeout=20)
    try:
        assert executor.execute_for("a = 1", context("ended")).success
        assert executor.execute_for("b = 2", context("running")).success
        ended = executor._kernels["ended"].manager
        jupyter.end_execution("ended")
        assert not ended.is_alive()
        assert executor.running_executions() == ["running"]
        assert executor.execute_for("print(b)", context("running")).output.strip() == "2"
    finally:
        executor.shutdown()


def test_an_idle_kernel_is_shut_down_without_another_call() -> None:
    executor = JupyterCodeExecutor(timeout=20, idle_seconds=1)
    try:
        assert executor.execute_for("x = 1", context("idle")).success
        manager = executor._kernels["idle"].manager
        assert eventually(lambda: not executor.running_executions(), within=10)
        assert not manager.is_alive()
    finally:
        executor.shutdown()


def test_a_call_in_progress_is_not_idle() -> None:
    executor = JupyterCodeExecutor(timeout=20, idle_seconds=0.5)
    try:
        slow = executor.execute_for("import time\ntime.sleep(3)\nprint('done')", context("busy"))
        assert slow.success and slow.output.strip() == "done"
    finally:
        executor.shutdown()


def test_the_kernel_dies_with_a_killed_worker(tmp_path: object) -> None:
    worker = subprocess.Popen(  # noqa: S603 - a fixed script
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import time
                from agentspan.agents import JupyterCodeExecutor
                result = JupyterCodeExecutor(timeout=20).execute("import os\\nprint(os.getpid())")
                print(result.output.strip(), flush=True)
                time.sleep(120)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        kernel_pid = int(worker.stdout.readline())
        assert pid_alive(kernel_pid)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        assert eventually(lambda: not pid_alive(kernel_pid), within=15), "the kernel outlived its worker"
    finally:
        worker.kill()
        worker.wait()
