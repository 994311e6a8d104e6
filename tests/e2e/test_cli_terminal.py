"""The CLI as a person at a terminal sees it, and as a script reads it: colour only on a
terminal (a real pseudo-terminal here) and never with NO_COLOR, tables that stay aligned
with colour on, and ``--json`` where a command prints data. Against a real server."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.servers import ServerProcess

pytestmark = pytest.mark.e2e

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSPAN_") and k != "NO_COLOR"}
    env.update(PYTHONUNBUFFERED="1", TERM="xterm", **extra)
    return env


def on_terminal(*args: str, **env: str) -> str:
    """Run the CLI with its stdout and stderr on a pseudo-terminal; what it wrote."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(  # noqa: S603 - the CLI under test
            [sys.executable, "-m", "agentspan.cli", *args],
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=follower,
            env=_env(**env),
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other end closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=30) == 0
    finally:
        os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def piped(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the CLI under test
        [sys.executable, "-m", "agentspan.cli", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=_env(**env),
        check=False,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("data")).start()
    try:
        done = _run(srv, {"name": "done_agent", "model": "scripted/m", "scriptedTurns": [{"text": "ok"}]})
        failed = _run(srv, {"name": "a_much_longer_agent_name", "model": "scripted/m", "scriptedTurns": []})
        assert {done, failed} == {"COMPLETED", "FAILED"}
        yield srv
    finally:
        srv.stop()


WAITS_FOR_APPROVAL: dict[str, object] = {
    "name": "needs_a_person",
    "model": "offline/basic",
    "tools": [
        {
            "name": "needs_ok",
            "description": "d",
            "inputSchema": {"type": "object", "properties": {}},
            "approvalRequired": True,
        }
    ],
}


def _start(srv: ServerProcess, agent: dict[str, object]) -> str:
    started = httpx.post(
        f"{srv.api_url}/agent/start", json={"agentConfig": agent, "prompt": "go"}, timeout=10
    )
    assert started.status_code == 200, started.text
    return str(started.json()["executionId"])


def _run(srv: ServerProcess, agent: dict[str, object]) -> str:
    execution_id = _start(srv, agent)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status = httpx.get(f"{srv.api_url}/agent/{execution_id}/status", timeout=10).json()
        if status["isComplete"]:
            return str(status["status"])
        time.sleep(0.05)
    pytest.fail(f"{execution_id} did not finish")


def test_a_terminal_gets_colour_and_aligned_columns(server: ServerProcess) -> None:
    shown = on_terminal("--server-url", server.api_url, "executions", "list")
    assert "\x1b[32mCOMPLETED" in shown and "\x1b[31mFAILED" in shown  # green, red
    plain = ANSI.sub("", shown).splitlines()
    header, rows = plain[0], plain[1:3]
    for row in rows:  # every column starts where its header does
        for column in ("AGENT", "STATUS", "CREATED"):
            start = header.index(column)
            assert row[start - 2 : start] == "  " and row[start] != " ", (column, row)


def test_no_colour_when_piped_or_with_no_color(server: ServerProcess) -> None:
    listed = piped("--server-url", server.api_url, "executions", "list")
    assert listed.returncode == 0 and "COMPLETED" in listed.stdout and "\x1b[" not in listed.stdout
    quiet = on_terminal("--server-url", server.api_url, "executions", "list", NO_COLOR="1")
    assert "COMPLETED" in quiet and "\x1b[" not in quiet
    doctor = on_terminal("--server-url", server.api_url, "doctor")
    assert re.search(r"\x1b\[32mok", doctor)
    assert "\x1b[" not in on_terminal("--server-url", server.api_url, "doctor", NO_COLOR="yes")


def test_json_on_the_commands_that_print_data(server: ServerProcess, tmp_path: Path) -> None:
    port = server.api_url.removesuffix("/api").rsplit(":", 1)[1]
    status = piped("server", "status", "--port", port, "--data-dir", str(tmp_path), "--json")
    assert status.returncode == 0
    assert json.loads(status.stdout) == {"running": True, "url": f"http://127.0.0.1:{port}", "pid": None}
    data_dir = str(tmp_path / "maintained")  # the running server's SQLite file is locked
    migrated = piped("server", "migrate", "--data-dir", data_dir, "--json")
    facts = json.loads(migrated.stdout)
    assert migrated.returncode == 0 and facts["before"] == 0 and facts["after"] >= 1
    assert facts["database"].startswith("sqlite:///")
    purged = piped(
        "executions", "purge", "--older-than", "30d", "--dry-run", "--data-dir", data_dir, "--json"
    )
    assert purged.returncode == 0 and json.loads(purged.stdout) == {
        "count": 0,
        "olderThan": "30d",
        "dryRun": True,
    }
    stopped = piped("server", "stop", "--data-dir", str(tmp_path), "--json")
    assert json.loads(stopped.stdout) == {"stopped": False, "pid": None, "killed": False}
    for command in (["executions", "list"], ["agents", "list"], ["doctor"]):
        answer = piped("--server-url", server.api_url, *command, "--json")
        assert answer.returncode == 0 and isinstance(json.loads(answer.stdout), dict | list), command


def test_purge_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    data_dir = str(tmp_path)
    assert piped("server", "migrate", "--data-dir", data_dir).returncode == 0
    args = ("executions", "purge", "--older-than", "30d", "--dry-run", "--data-dir", data_dir)
    shown = on_terminal(*args)
    assert "counting…" in shown and "\r\x1b[K" in shown  # the line is written, then erased
    assert shown.rstrip().endswith("would purge 0 executions older than 30d (dry run: nothing was deleted)")
    assert "counting" not in piped(*args).stderr


def test_wait_blocks_until_the_end_and_says_how_it_ended(server: ServerProcess) -> None:
    execution_id = _start(server, WAITS_FOR_APPROVAL)
    gave_up = piped("--server-url", server.api_url, "executions", "wait", execution_id, "--timeout", "1")
    assert gave_up.returncode == 1 and gave_up.stdout == ""
    assert gave_up.stderr.count("\n") == 1 and gave_up.stderr.startswith("error: ")
    assert f"{execution_id} did not finish within 1 s (it is RUNNING, " in gave_up.stderr
    # On a terminal the wait shows progress; cancelling from elsewhere ends it.
    leader, follower = pty.openpty()
    waiter = subprocess.Popen(  # noqa: S603 - the CLI under test
        [
            sys.executable,
            "-m",
            "agentspan.cli",
            "--server-url",
            server.api_url,
            "executions",
            "wait",
            execution_id,
        ],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=_env(),
    )
    os.close(follower)
    try:
        first = os.read(leader, 4096).decode()
        assert first.startswith(f"waiting for {execution_id}…")
        assert piped("--server-url", server.api_url, "cancel", execution_id).returncode == 0
        assert waiter.wait(timeout=30) == 1  # it ended, but not COMPLETED
        rest = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            rest += chunk
        assert "TERMINATED" in ANSI.sub("", rest.decode())
    finally:
        os.close(leader)
        waiter.kill()
        waiter.wait()
    done = _start(server, {"name": "done_again", "model": "scripted/m", "scriptedTurns": [{"text": "fine"}]})
    finished = piped("--server-url", server.api_url, "executions", "wait", done, "--json")
    assert finished.returncode == 0
    detail = json.loads(finished.stdout)
    assert detail["status"] == "COMPLETED" and detail["output"] == "fine"
    plain = piped("--server-url", server.api_url, "executions", "wait", done)
    assert (plain.returncode, plain.stdout) == (0, "COMPLETED\nfine\n")


def test_wait_exits_1_for_a_failed_execution(server: ServerProcess) -> None:
    failed = _start(server, {"name": "fails", "model": "scripted/m", "scriptedTurns": []})
    shown = piped("--server-url", server.api_url, "executions", "wait", failed, "--timeout", "20")
    assert shown.returncode == 1 and shown.stdout.startswith("FAILED\n")
