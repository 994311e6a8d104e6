"""Issue 17, deploy -> serve -> run by name across three processes and a server process,
over real HTTP: the CLI deploys the agents of a file, a second process serves their
tools with ``serve(packages=[...])``, and a third that never sees the definition runs
the agent by name; ``agentspan agents list|show`` report what is deployed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.servers import ServerProcess

pytestmark = pytest.mark.e2e

SHOP = '''
from agentspan.agents import Agent, tool
from agentspan.agents.testing import ScriptedModel, ToolCall


@tool
def order_status(order: str) -> str:
    """Where an order is."""
    return f"order {order} left the warehouse ({__name__})"


support = Agent(
    name="support",
    model=ScriptedModel([ToolCall("order_status", {"order": "A1"}), "ANSWER"]),
    tools=[order_status],
)
'''


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "data").start()
    try:
        yield srv
    finally:
        srv.stop()


def _env(server: ServerProcess, tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AGENTSPAN_")}
    return {**clean, "AGENTSPAN_SERVER_URL": server.api_url, "PYTHONPATH": str(tmp_path / "code")}


def _write_shop(tmp_path: Path, answer: str) -> None:
    package = tmp_path / "code" / "shop"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "agents.py").write_text(SHOP.replace("ANSWER", answer))


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentspan.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def _python(env: dict[str, str], code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_deploy_serve_and_run_by_name_in_three_processes(server: ServerProcess, tmp_path: Path) -> None:
    env = _env(server, tmp_path)
    _write_shop(tmp_path, "first answer")
    deployed = _cli(env, "agents", "deploy", "--path", str(tmp_path / "code" / "shop" / "agents.py"))
    assert deployed.returncode == 0, deployed.stderr
    assert "deployed: support version 1" in deployed.stdout

    serving = subprocess.Popen(
        [sys.executable, "-c", "from agentspan.agents import serve; serve(packages=['shop'])"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The run's tool call waits in the queue until the serving process polls for it.
        caller = tmp_path / "elsewhere"  # no definition here, nor on the path
        caller.mkdir()
        ran = _python(
            {k: v for k, v in env.items() if k != "PYTHONPATH"},
            """
            import json
            from agentspan.agents import run
            result = run("support", "Where is A1?", timeout=30)
            print(json.dumps({"status": result.status, "output": result.output,
                              "tool": result.tool_calls[0]["result"]}))
            """,
            caller,
        )
        assert ran.returncode == 0, ran.stderr
        outcome = json.loads(ran.stdout.strip().splitlines()[-1])
        assert outcome == {
            "status": "COMPLETED",
            "output": "first answer",
            "tool": "order A1 left the warehouse (shop.agents)",  # served by the serving process
        }
        assert serving.poll() is None  # still serving until told to stop
    finally:
        serving.send_signal(signal.SIGTERM)
        serving.wait(20)
    assert serving.returncode == 0, serving.stderr.read() if serving.stderr else ""

    _write_shop(tmp_path, "second answer")
    redeployed = _cli(env, "agents", "deploy", "--package", "shop")
    assert redeployed.returncode == 0 and "deployed: support version 2" in redeployed.stdout
    unchanged = _cli(env, "agents", "deploy", "--package", "shop", "--agents", "support")
    assert "unchanged: support version 2" in unchanged.stdout

    listed = _cli(env, "agents", "list")
    assert listed.returncode == 0 and "support" in listed.stdout and " 2 " in listed.stdout
    shown = _cli(env, "agents", "show", "support", "--json")
    versions = json.loads(shown.stdout)["versions"]
    assert [(v["version"], v["running"]) for v in versions] == [(2, 0), (1, 0)]
    table = _cli(env, "agents", "show", "support")
    assert "VERSION" in table.stdout and "RUNNING" in table.stdout
    missing = _cli(env, "agents", "show", "nobody")
    assert missing.returncode != 0 and "nobody" in missing.stderr


def _module(env: dict[str, str], module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_the_reference_helper_modules_discover_and_deploy(server: ServerProcess, tmp_path: Path) -> None:
    """``python -m agentspan.cli.discover`` / ``.deploy``, the commands the reference's Go
    CLI runs: JSON on stdout (the imported code's prints go to stderr), exit 1 on failure."""
    env = _env(server, tmp_path)
    _write_shop(tmp_path, "helper answer")
    (tmp_path / "code" / "shop" / "noisy.py").write_text(
        "from agentspan.agents import Agent\nprint('imported noisy')\n"
        "greeter = Agent(name='greeter', model='offline/basic')\n"
    )
    found = _module(env, "agentspan.cli.discover", "--package", "shop", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert sorted(json.loads(found.stdout), key=lambda a: a["name"]) == [
        {"name": "greeter", "framework": "native"},
        {"name": "support", "framework": "native"},
    ]
    assert "imported noisy" in found.stderr

    by_path = _module(env, "agentspan.cli.discover", "--path", str(tmp_path / "code" / "shop"), cwd=tmp_path)
    assert {a["name"] for a in json.loads(by_path.stdout)} == {"greeter", "support"}

    deployed = _module(env, "agentspan.cli.deploy", "--package", "shop", "--agents", "support", cwd=tmp_path)
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout) == [
        {"agent_name": "support", "registered_name": "support", "success": True, "error": None}
    ]
    assert "support" in _cli(env, "agents", "list").stdout

    nothing = _module(env, "agentspan.cli.discover", cwd=tmp_path)
    assert nothing.returncode == 1 and nothing.stderr.startswith("error: give --package")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('bad module')\n")
    failed = _module(env, "agentspan.cli.deploy", "--path", str(broken), cwd=tmp_path)
    assert failed.returncode == 1 and "RuntimeError: bad module" in failed.stderr and failed.stdout == ""
