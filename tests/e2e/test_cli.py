"""The ``agentspan`` CLI run as real subprocesses against a server it started itself."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from agentspan.cli import main
from agentspan.cli._executions import CliError, normalise_server_url

pytestmark = pytest.mark.e2e

AGENT = {
    "name": "cli_demo",
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


@dataclass(frozen=True)
class Server:
    port: int
    data_dir: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"


def _env() -> dict[str, str]:
    # The developer's own settings must not leak into the commands under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSPAN_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cli(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentspan.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        check=False,
    )


def api_cli(cli_server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("--server-url", f"http://127.0.0.1:{cli_server.port}", *args)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code, result
    assert result.stdout == ""
    assert result.stderr.startswith("error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert text in result.stderr


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(port=free_port(), data_dir=tmp_path_factory.mktemp("agentspan"))
    started = cli(
        "server", "start", "--port", str(srv.port), "--data-dir", str(srv.data_dir), "--timeout", "20"
    )
    try:
        assert started.returncode == 0, started
        assert started.stdout.startswith(f"Agentspan server running at http://127.0.0.1:{srv.port} (pid ")
        assert f"data {srv.data_dir})" in started.stdout
        # What the server keeps (prompts, results, approvals) is readable by this user only.
        for name in ("server.pid", "logs/server.log", "agentspan.db", "agentspan.db.lock"):
            assert (srv.data_dir / name).stat().st_mode & 0o777 == 0o600, name
        assert (srv.data_dir / "logs").stat().st_mode & 0o777 == 0o700
        yield srv
    finally:
        stopped = cli("server", "stop", "--data-dir", str(srv.data_dir))
        pid_file = srv.data_dir / "server.pid"
        if pid_file.exists():  # stop failed: do not leave a server behind either way
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert stopped.returncode == 0, stopped
    assert stopped.stdout.startswith("stopped (pid "), stopped
    after = cli("server", "status", "--port", str(srv.port), "--data-dir", str(srv.data_dir))
    assert (after.returncode, after.stdout) == (3, "not running\n")


def start_execution(cli_server: Server) -> str:
    resp = httpx.post(
        f"{cli_server.api}/agent/start", json={"agentConfig": AGENT, "prompt": "hi"}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    execution_id: str = resp.json()["executionId"]
    return execution_id


def wait_until_waiting(cli_server: Server, execution_id: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = httpx.get(f"{cli_server.api}/agent/{execution_id}/status", timeout=10).json()
        if status["isWaiting"]:
            return
        time.sleep(0.1)
    pytest.fail(f"{execution_id} never started waiting for an approval")


# --- server management ------------------------------------------------------------------


def test_status_reports_the_running_server(cli_server: Server) -> None:
    result = cli("server", "status", "--port", str(cli_server.port), "--data-dir", str(cli_server.data_dir))
    assert result.returncode == 0, result
    pid = (cli_server.data_dir / "server.pid").read_text().strip()
    assert result.stdout == f"running at http://127.0.0.1:{cli_server.port} (pid {pid})\n"


def test_start_is_a_no_op_when_already_running(cli_server: Server) -> None:
    result = cli("server", "start", "--port", str(cli_server.port), "--data-dir", str(cli_server.data_dir))
    assert result.returncode == 0, result
    assert result.stdout.startswith(f"Agentspan server already running at http://127.0.0.1:{cli_server.port}")


def test_logs_prints_the_tail_of_the_server_log(cli_server: Server) -> None:
    result = cli("server", "logs", "--data-dir", str(cli_server.data_dir), "-n", "2")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert 1 <= len(lines) <= 2
    assert any("/health" in line or "Uvicorn running" in line for line in lines), lines


def test_start_fails_in_one_line_when_the_database_is_not_ours(tmp_path: Path) -> None:
    (tmp_path / "agentspan.db").write_text("not a database")
    result = cli(
        "server", "start", "--port", str(free_port()), "--data-dir", str(tmp_path), "--timeout", "15"
    )
    assert_one_line_error(result, 1, "server failed to start: ")
    assert "is not an Agentspan database" in result.stderr
    assert not (tmp_path / "server.pid").exists()


def test_run_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    result = cli(
        "server", "run", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path)
    )
    assert_one_line_error(
        result,
        1,
        "refusing to bind 0.0.0.0 without authentication; set AGENTSPAN_AUTH_TOKEN or bind 127.0.0.1",
    )


# --- executions -------------------------------------------------------------------------


def test_an_approval_from_list_to_cancel(cli_server: Server) -> None:
    empty = api_cli(cli_server, "executions", "list")
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "no executions\n", "")

    execution_id = start_execution(cli_server)
    listed = api_cli(cli_server, "executions", "list")
    assert listed.returncode == 0, listed
    header, row = listed.stdout.splitlines()
    assert header.split() == ["ID", "AGENT", "STATUS", "CREATED", "WAITING"]
    assert row.split()[:3] == [execution_id, "cli_demo", "RUNNING"]

    wait_until_waiting(cli_server, execution_id)
    shown = api_cli(cli_server, "executions", "show", execution_id)
    assert shown.returncode == 0, shown
    assert "Status:        RUNNING (waiting)" in shown.stdout
    assert "Pending tool:  needs_ok {} (approval)" in shown.stdout
    assert "Tool 'needs_ok' requires approval." in shown.stdout

    approved = api_cli(cli_server, "approve", execution_id, "--reason", "looks fine")
    assert (approved.returncode, approved.stdout, approved.stderr) == (
        0,
        f"approved needs_ok for {execution_id}\n",
        "",
    )
    again = api_cli(cli_server, "approve", execution_id)
    assert_one_line_error(again, 1, "(not_waiting)")

    events = api_cli(cli_server, "executions", "events", execution_id)
    assert events.returncode == 0, events
    assert [line.split()[1] for line in events.stdout.splitlines()] == [
        "thinking",
        "llm_call",
        "tool_call",
        "waiting",
        "approval",
    ]
    assert "approval needs_ok approved by cli:" in events.stdout
    assert events.stdout.rstrip().endswith(": looks fine")
    _follow_until_cancelled(cli_server, execution_id)


def _follow_until_cancelled(cli_server: Server, execution_id: str) -> None:
    """``events --follow`` prints live events and ends by itself at the terminal one."""
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentspan.cli",
            "--server-url",
            cli_server.api,
            "executions",
            "events",
            "-f",
            execution_id,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert follower.stdout is not None
        seen = [follower.stdout.readline() for _ in range(5)]  # the replayed history
        assert seen[-1].split()[1] == "approval", seen
        cancelled = api_cli(cli_server, "cancel", execution_id, "--reason", "no longer needed")
        assert (cancelled.returncode, cancelled.stdout) == (0, f"cancelled {execution_id}\n")
        rest, err = follower.communicate(timeout=15)
    finally:
        follower.kill()
        follower.wait()
    assert follower.returncode == 0, err
    assert rest == "6 error no longer needed\n"

    shown = api_cli(cli_server, "executions", "show", execution_id)
    assert shown.returncode == 0, shown
    assert "Status:        TERMINATED" in shown.stdout
    assert "Finish reason: cancelled" in shown.stdout
    listed = api_cli(cli_server, "executions", "list", "--status", "terminated", "--json")
    assert listed.returncode == 0, listed
    assert '"totalHits": 1' in listed.stdout


@pytest.mark.parametrize("command", ["reject", "cancel", "show"])
def test_unknown_execution_is_a_one_line_error(cli_server: Server, command: str) -> None:
    args = ["executions", "show"] if command == "show" else [command]
    result = api_cli(cli_server, *args, "no-such-id")
    assert_one_line_error(result, 1, "error: no execution with id 'no-such-id' (execution_not_found)")


def test_unreachable_server_exits_3() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = cli("--server-url", url, "executions", "list")
    assert_one_line_error(
        result,
        3,
        f"error: cannot reach the Agentspan server at {url}/api (is it running? try: agentspan server start)",
    )


# --- in process: argument handling ------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://localhost:6767", "http://localhost:6767/api"),
        ("http://localhost:6767/", "http://localhost:6767/api"),
        ("http://localhost:6767/api/", "http://localhost:6767/api"),
        ("https://example.com/agentspan/api", "https://example.com/agentspan/api"),
    ],
)
def test_server_url_is_normalised(given: str, expected: str) -> None:
    assert normalise_server_url(given) == expected


def test_server_url_without_scheme_is_rejected() -> None:
    with pytest.raises(CliError, match="must start with http"):
        normalise_server_url("localhost:6767")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["executions", "list", "--limit", "0"]) == 2
    assert "must be between 1 and 1000" in capsys.readouterr().err


def test_show_prints_the_execution_tree(cli_server: Server) -> None:
    def leaf(name: str) -> dict[str, object]:
        return {"name": name, "model": "scripted/m", "scriptedTurns": [{"text": f"{name} done"}]}

    team = {"name": "tree_team", "strategy": "parallel", "agents": [leaf("leaf_a"), leaf("leaf_b")]}
    resp = httpx.post(f"{cli_server.api}/agent/start", json={"agentConfig": team, "prompt": "go"}, timeout=10)
    execution_id = resp.json()["executionId"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if httpx.get(f"{cli_server.api}/agent/{execution_id}/status", timeout=10).json()["isComplete"]:
            break
        time.sleep(0.05)
    shown = api_cli(cli_server, "executions", "show", execution_id)
    assert shown.returncode == 0, shown
    tree = shown.stdout.split("Tree:\n", 1)[1].splitlines()
    assert sorted(line.split()[1] for line in tree) == ["leaf_a", "leaf_b"]
    assert all(line.startswith("  - ") and "COMPLETED" in line for line in tree)


def test_fork_from_a_model_call_step(cli_server: Server) -> None:
    agent = {"name": "forkable", "model": "scripted/m", "scriptedTurns": [{"text": "first answer"}]}
    resp = httpx.post(
        f"{cli_server.api}/agent/start?waitMs=10000", json={"agentConfig": agent, "prompt": "go"}, timeout=15
    )
    origin = resp.json()["executionId"]
    events = api_cli(cli_server, "executions", "events", origin)
    steps = {line.split()[1]: int(line.split()[0]) for line in events.stdout.splitlines()}
    not_a_call = api_cli(cli_server, "executions", "fork", origin, "--from-step", str(steps["done"]))
    assert_one_line_error(not_a_call, 1, "not a model call of the agent")
    assert not_a_call.stderr.endswith("(invalid_fork_point)\n")
    assert f"model call steps are {steps['llm_call']}" in not_a_call.stderr

    forked = api_cli(
        cli_server,
        "executions",
        "fork",
        origin,
        "--from-step",
        str(steps["llm_call"]),
        "--model",
        "offline/basic",
        "--instructions",
        "Answer in one word.",
        "--json",
    )
    assert forked.returncode == 0, forked
    fork_id = json.loads(forked.stdout)["executionId"]
    assert json.loads(forked.stdout)["forkedFrom"] == {"executionId": origin, "step": steps["llm_call"]}
    detail = httpx.get(f"{cli_server.api}/agent/execution/{fork_id}?waitMs=10000", timeout=15).json()
    assert detail["status"] == "COMPLETED" and detail["output"] != "first answer"

    shown = api_cli(cli_server, "executions", "show", fork_id)
    assert f"Forked from:   {origin} (step {steps['llm_call']})" in shown.stdout
    assert "Inherited:     0 tokens" in shown.stdout
    shown = api_cli(cli_server, "executions", "show", origin)
    assert f"Forks:         {fork_id} (step {steps['llm_call']})" in shown.stdout

    plain = api_cli(cli_server, "executions", "fork", origin, "--from-step", str(steps["llm_call"]))
    assert plain.returncode == 0, plain
    assert plain.stdout.startswith(f"forked {origin} at step {steps['llm_call']}: ")
    missing = api_cli(cli_server, "executions", "fork", origin, "--from-step", "0")
    assert missing.returncode == 2 and "must be 1 or more" in missing.stderr


# --- API keys ---------------------------------------------------------------------------


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = cli("server", "start", "--port", str(port), "--data-dir", str(tmp_path), "--timeout", "20")
    assert started.returncode == 0, started

    def as_key(key: str | None, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**_env(), **({"AGENTSPAN_API_KEY": key} if key else {})}
        cmd = [sys.executable, "-m", "agentspan.cli", "--server-url", url, *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env, check=False)

    try:
        # No key exists yet on this loopback server: the first one is made without one.
        made = as_key(None, "keys", "create", "root", "--scope", "admin")
        assert made.returncode == 0, made
        admin = made.stdout.strip()
        assert admin.startswith("asp_") and "\n" not in admin
        assert "shown only once" in made.stderr
        # From now on a key is needed, and the CLI sends AGENTSPAN_API_KEY.
        assert_one_line_error(as_key(None, "executions", "list"), 1, "read AGENTSPAN_API_KEY) (unauthorized)")
        ops = as_key(admin, "keys", "create", "ops", "--scope", "operator").stdout.strip()
        assert as_key(ops, "executions", "list").returncode == 0
        assert_one_line_error(as_key(ops, "keys", "list"), 1, "(insufficient_scope)")
        listed = as_key(admin, "keys", "list")
        assert listed.returncode == 0 and "root" in listed.stdout and "ops" in listed.stdout
        assert ops.split("_", 2)[2] not in listed.stdout
        revoked = as_key(admin, "keys", "revoke", "ops")
        assert (revoked.returncode, revoked.stdout.startswith("revoked key 'ops'")) == (0, True), revoked
        assert_one_line_error(as_key(ops, "executions", "list"), 1, "unknown or revoked (unauthorized)")
        assert_one_line_error(as_key(admin, "keys", "revoke", "ops"), 1, "(key_not_found)")
        assert "ops" in as_key(admin, "keys", "list", "--all").stdout
    finally:
        stopped = cli("server", "stop", "--data-dir", str(tmp_path))
        assert stopped.returncode == 0, stopped
