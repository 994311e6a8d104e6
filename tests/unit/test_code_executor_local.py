"""LocalCodeExecutor runs code for real, and contains what it must: a busy loop, a 1 GB
allocation, a 100 MB print, fork bombs, a huge file, and the worker's secrets."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from agentspan.agents import ExecutionResult, LocalCodeExecutor
from agentspan.agents._sandbox.process import sandbox_ids
from agentspan.agents.code_executor import ResourceLimits

pytestmark = pytest.mark.timeout(60)

SECRET = "sk-test-do-not-leak-4242"
MARK = uuid.uuid4().hex


def run(language: str, code: str, timeout: float = 10, **options: Any) -> ExecutionResult:
    # Every process of this test's runs carries MARK in its environment (children inherit
    # it), so leftovers are found precisely, whatever else runs on the machine.
    env = {"AGENTSPAN_TEST_MARK": MARK, **options.pop("env", {})}
    return LocalCodeExecutor(language, timeout=timeout, env=env, **options).execute(code)


def leftover_processes() -> list[int]:
    """Live processes started by this test's runs (zombies have no environment left)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if f"AGENTSPAN_TEST_MARK={MARK}".encode() in environ.split(b"\0"):
                found.append(int(entry.name))
    return found


def assert_healthy() -> None:
    """After a contained run, the next one works and nothing of the last is left."""
    deadline = time.monotonic() + 3
    while leftover_processes() and time.monotonic() < deadline:
        time.sleep(0.1)  # SIGKILLed processes take a moment to go
    assert leftover_processes() == []
    again = run("python", "print(6 * 7)")
    assert again.success and again.output.strip() == "42"


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "import sys\nprint('hello from', sys.version_info[0])"),
        ("bash", "echo hello from $((1 + 2))"),
        ("sh", "echo hello from sh"),
    ],
)
def test_each_interpreter_runs_code(language: str, code: str) -> None:
    result = run(language, code)
    assert result.success, result.error
    assert result.output.startswith("hello from")


@pytest.mark.parametrize("language", ["node", "ruby"])
def test_optional_interpreters_run_when_present(language: str) -> None:
    binary = {"node": "node", "ruby": "ruby"}[language]
    code = {"node": "console.log(6 * 7)", "ruby": "puts 6 * 7"}[language]
    result = run(language, code)
    if shutil.which(binary) is None:
        assert result.exit_code == 127 and f"{binary} (for {language}) is not installed" in result.error
        pytest.skip(f"{binary} is not installed here; checked the exit-127 report instead")
    assert result.success, result.error
    assert result.output.strip() == "42"


def test_errors_and_exit_codes_are_reported_not_raised() -> None:
    result = run("python", "import sys\nprint('partial')\nsys.stderr.write('boom\\n')\nsys.exit(3)")
    assert (result.exit_code, result.output, result.error.strip()) == (3, "partial\n", "boom")
    assert not result.success
    crashed = run("python", "raise ValueError('bad input')")
    assert crashed.exit_code == 1 and "ValueError: bad input" in crashed.error


def test_unsupported_language_and_missing_interpreter() -> None:
    assert run("cobol", "DISPLAY 'X'") == ExecutionResult(error="Unsupported language: cobol", exit_code=1)
    missing = LocalCodeExecutor("python", env={"PATH": "/nonexistent"}).execute("print(1)")
    assert missing.exit_code == 127 and "python3 (for python) is not installed" in missing.error


def test_an_infinite_loop_is_stopped_by_the_timeout() -> None:
    started = time.monotonic()
    result = run("python", "while True:\n    pass", timeout=2)
    assert result.timed_out and result.exit_code == -1
    assert time.monotonic() - started < 8
    assert_healthy()


def test_a_sleeping_program_and_its_children_are_killed_at_the_timeout() -> None:
    result = run("bash", "sleep 300 &\nsleep 300 &\necho started\nsleep 300", timeout=2)
    assert result.timed_out and result.output == "started\n"
    assert_healthy()


ESCAPE_WITH_SETSID = """
import os, sys, time
if os.fork() == 0:
    os.setsid()  # a new session: out of the process group the timeout kills
    if {double} and os.fork() != 0:
        os._exit(0)  # a daemon's double fork: the survivor is orphaned
    time.sleep(300)
    os._exit(0)
print("started", flush=True)
time.sleep({parent_sleep})
"""


@pytest.mark.parametrize("double", [False, True], ids=["setsid", "setsid-double-fork"])
def test_a_process_that_leaves_the_group_is_killed_at_the_timeout(double: bool) -> None:
    result = run("python", ESCAPE_WITH_SETSID.format(double=double, parent_sleep=300), timeout=2)
    assert result.timed_out and result.output == "started\n"
    assert_healthy()


@pytest.mark.parametrize("double", [False, True], ids=["setsid", "setsid-double-fork"])
def test_a_process_that_leaves_the_group_is_killed_when_the_program_ends(double: bool) -> None:
    result = run("python", ESCAPE_WITH_SETSID.format(double=double, parent_sleep=0.5), timeout=10)
    assert result.success and result.output == "started\n"
    assert "left running in the background were stopped" in result.error
    assert_healthy()


def test_a_1_gb_allocation_fails_inside_the_memory_limit() -> None:
    result = run("python", "data = bytearray(1024 ** 3)\nprint('allocated')")
    assert not result.success and "allocated" not in result.output
    assert "MemoryError" in result.error
    assert_healthy()


def test_a_100_mb_print_is_truncated_and_reported() -> None:
    started = time.monotonic()
    result = run("python", "import sys\nsys.stdout.write('x' * 100_000_000)\nprint('done', file=sys.stderr)")
    assert len(result.output) == 100_000
    assert "[output truncated: each stream is limited to 100000 bytes]" in result.error
    assert time.monotonic() - started < 20
    assert_healthy()


@pytest.mark.parametrize(
    ("language", "bomb"),
    [("bash", ":(){ :|:& };:"), ("python", "import os\nwhile True:\n    os.fork()")],
)
def test_a_fork_bomb_is_contained(language: str, bomb: str) -> None:
    result = run(language, bomb, timeout=5)
    # It runs into the process limit (fork fails) and is cleaned up with its whole group,
    # which the report says (the bash bomb's first shell exits at once, leaving the rest).
    contained = ("Resource temporarily unavailable", "left running in the background were stopped")
    assert any(note in result.error for note in contained) or result.timed_out, result
    assert_healthy()


def test_writing_a_huge_file_hits_the_file_size_limit() -> None:
    limits = ResourceLimits(file_size_bytes=1024 * 1024)
    result = run("python", "open('big', 'wb').write(b'x' * (8 * 1024 * 1024))", limits=limits)
    assert not result.success and "File too large" in result.error


def test_cpu_time_limit_kills_a_busy_program() -> None:
    limits = ResourceLimits(cpu_seconds=1)
    result = run("python", "while True:\n    pass", timeout=20, limits=limits)
    assert not result.timed_out and result.exit_code < 0
    assert "CPU time limit" in result.error


def test_the_workers_secrets_are_invisible_unless_declared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTSPAN_TEST_SECRET", SECRET)
    show = "import os\nprint(os.environ.get('AGENTSPAN_TEST_SECRET', 'absent'))\nprint(sorted(os.environ))"
    hidden = run("python", show)
    assert hidden.success and SECRET not in hidden.output
    assert hidden.output.startswith("absent")
    shared = run("python", show, pass_env=["AGENTSPAN_TEST_SECRET"])
    assert shared.output.startswith(SECRET)
    given = run("python", show, env={"AGENTSPAN_TEST_SECRET": "declared"})
    assert given.output.startswith("declared")


def test_no_open_file_of_the_worker_is_inherited(tmp_path: Path) -> None:
    with (tmp_path / "held").open("w") as held:
        fd = held.fileno()
        result = run("python", f"import os\nos.fstat({fd})")
    assert "Bad file descriptor" in result.error


def test_each_call_gets_a_fresh_private_directory() -> None:
    first = run("python", "import os\nopen('note', 'w').write('x')\nprint(os.getcwd())")
    second = run("python", "import os\nprint(os.getcwd(), os.path.exists('note'))")
    assert first.success and second.success
    assert first.output.strip() != second.output.split()[0]
    assert second.output.split()[1] == "False"
    assert not Path(first.output.strip()).exists()  # deleted afterwards


def test_a_configured_working_dir_is_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "input.txt").write_text("data from the user")
    tmp_path.chmod(0o755)
    (tmp_path / "input.txt").chmod(0o644)
    result = run("python", "print(open('input.txt').read())", working_dir=str(tmp_path))
    assert result.success, result.error
    assert result.output.strip() == "data from the user"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.txt"]


@pytest.mark.skipif(os.geteuid() != 0, reason="privileges are dropped only when the worker runs as root")
def test_a_root_worker_runs_code_as_an_unprivileged_user() -> None:
    result = run("python", "import os\nprint(os.getuid(), os.getgid(), os.getgroups())")
    uid, gid = sandbox_ids(None) or (0, 0)
    assert result.output.split()[:2] == [str(uid), str(gid)] and uid != 0
    assert "[]" in result.output
    denied = run("bash", "cat /etc/shadow")
    assert denied.exit_code != 0 and "Permission denied" in denied.error


def test_as_tool_has_the_reference_result_shape() -> None:
    definition = LocalCodeExecutor(timeout=5).as_tool()
    assert definition.name == "execute_code"
    assert (
        definition.description == "Execute python code. Returns stdout, stderr, and exit code. Timeout: 5s."
    )
    assert definition.func is not None
    assert definition.func(code="print('ok')") == {"status": "success", "stdout": "ok\n", "stderr": ""}
    assert definition.func(code="  ") == {
        "status": "success",
        "stdout": "No code provided. Nothing to execute.",
        "stderr": "",
    }
    failed = definition.func(code="import sys\nsys.exit(2)")
    assert failed == {"status": "error", "stdout": "", "stderr": "Exit code: 2"}
    slow = LocalCodeExecutor(timeout=1).as_tool(name="run_py").func(code="import time\ntime.sleep(30)")  # type: ignore[misc]
    assert slow["status"] == "error" and slow["stderr"] == "TIMED OUT after 1s\nExit code: -1"
