"""The auto-attached tools, called directly: allow-lists checked before anything runs,
results in the reference's shapes, and CommandValidator's best-effort reading of code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentspan._core.credentials import provided
from agentspan._core.tool import ToolContext, ToolDef
from agentspan.agents import Agent, CliConfig, CodeExecutionConfig, LocalCodeExecutor, TerminalToolError
from agentspan.agents.code_execution_config import CommandNotAllowedError, CommandValidator

pytestmark = pytest.mark.timeout(60)


def tools_of(agent: Agent) -> dict[str, ToolDef]:
    return {t.name: t for t in agent.tools if isinstance(t, ToolDef)}


def call(tool: ToolDef, **arguments: Any) -> Any:
    assert tool.func is not None
    return tool.func(**arguments)


def test_the_flags_attach_named_tools_once() -> None:
    agent = Agent(name="dev", model="openai/gpt-4o", local_code_execution=True, cli_commands=True)
    assert list(tools_of(agent)) == ["dev_execute_code", "dev_run_command"]
    copy = Agent(name="dev", model="openai/gpt-4o", tools=agent.tools, local_code_execution=True)
    assert [t.name for t in copy.tools] == ["dev_execute_code", "dev_run_command"]
    assert Agent(name="plain", model="openai/gpt-4o").tools == []
    disabled = Agent(name="off", model="openai/gpt-4o", code_execution=CodeExecutionConfig(enabled=False))
    assert disabled.tools == []


def test_code_execution_config_wins_over_the_flag_and_shapes_the_tool() -> None:
    config = CodeExecutionConfig(allowed_languages=["python", "bash"], allowed_commands=["ls"], timeout=7)
    agent = Agent(name="dev", model="openai/gpt-4o", local_code_execution=True, code_execution=config)
    tool = tools_of(agent)["dev_execute_code"]
    assert tool.description == (
        "Execute code in a sandboxed environment. Supported languages: python, bash. Timeout: 7s. "
        "Allowed shell commands: ls."
    )
    assert tool.timeout_seconds == 22 and tool.retryable
    assert call(tool, code="echo hi", language="bash") == {
        "status": "success",
        "stdout": "hi\n",
        "stderr": "",
    }
    assert call(tool, code="print(2 + 2)")["stdout"] == "4\n"  # python by default
    assert call(tool, code="")["stdout"] == "No code provided. Nothing to execute."
    # A non-string is run as its text (here a bare expression: it runs, prints nothing).
    assert call(tool, code=12345) == {"status": "success", "stdout": "", "stderr": ""}


def test_a_language_or_command_outside_the_allow_lists_is_refused_before_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    config = CodeExecutionConfig(allowed_languages=["python", "bash"], allowed_commands=["ls", "echo"])
    tool = tools_of(Agent(name="dev", model="openai/gpt-4o", code_execution=config))["dev_execute_code"]
    with pytest.raises(CommandNotAllowedError, match="Language 'node' is not allowed"):
        call(tool, code="console.log(1)", language="node")
    with pytest.raises(CommandNotAllowedError, match="Command 'touch' is not allowed"):
        call(tool, code=f"ls; touch {marker}", language="bash")
    with pytest.raises(CommandNotAllowedError, match="Command 'curl' is not allowed"):
        call(tool, code="import subprocess\nsubprocess.run(['curl', 'http://x'])")
    assert not marker.exists()
    assert isinstance(CommandNotAllowedError("x"), TerminalToolError | ValueError)


def test_declared_credentials_reach_executed_code_and_nothing_else_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WORKER_ONLY_SECRET", "sk-worker")
    config = CodeExecutionConfig(credentials=["API_TOKEN"])
    tool = tools_of(Agent(name="dev", model="openai/gpt-4o", code_execution=config))["dev_execute_code"]
    assert tool.credentials == ["API_TOKEN"]
    code = "import os\nprint(os.environ.get('API_TOKEN'), os.environ.get('WORKER_ONLY_SECRET'))"
    with provided({"API_TOKEN": "tok-declared"}) as ctx:
        result = ctx.run(call, tool, code=code)
    assert result["stdout"] == "tok-declared None\n"


def test_a_custom_executor_is_used_for_every_call() -> None:
    config = CodeExecutionConfig(executor=LocalCodeExecutor(timeout=3), allowed_languages=["python", "sh"])
    tool = tools_of(Agent(name="dev", model="openai/gpt-4o", code_execution=config))["dev_execute_code"]
    assert call(tool, code="echo from sh", language="sh")["stdout"] == "from sh\n"


def run_command_tool(**options: Any) -> ToolDef:
    agent = Agent(name="ops", model="openai/gpt-4o", cli_config=CliConfig(**options))
    return tools_of(agent)["ops_run_command"]


def test_run_command_reports_exit_codes_and_stderr(tmp_path: Path) -> None:
    tool = run_command_tool(allowed_commands=["ls"], working_dir=str(tmp_path))
    (tmp_path / "a.txt").write_text("x")
    assert call(tool, command="ls") == {
        "status": "success",
        "exit_code": 0,
        "stdout": "a.txt\n",
        "stderr": "",
    }
    failed = call(tool, command="ls", args=["/nonexistent-dir"])
    assert failed["status"] == "error" and failed["exit_code"] == 2
    assert "No such file or directory" in failed["stderr"]
    assert call(tool, command="") == {"status": "error", "stdout": "", "stderr": "No command provided."}


def test_run_command_whitelist_shell_and_terminal_errors(tmp_path: Path) -> None:
    tool = run_command_tool(allowed_commands=["ls", "sleep", "nosuchprogram"], timeout=1)
    with pytest.raises(CommandNotAllowedError, match="Command 'rm' is not allowed"):
        call(tool, command="rm", args=["-rf", str(tmp_path)])
    with pytest.raises(CommandNotAllowedError, match="Command '/bin/rm' is not allowed"):
        call(tool, command="/bin/rm", args=[str(tmp_path)])
    with pytest.raises(CommandNotAllowedError, match="Shell mode is not allowed"):
        call(tool, command="ls | wc -l", shell=True)
    with pytest.raises(TerminalToolError, match="timed out after 1s"):
        call(tool, command="sleep", args=["30"])
    with pytest.raises(TerminalToolError, match="Command not found: nosuchprogram"):
        call(tool, command="nosuchprogram")
    with pytest.raises(TerminalToolError, match="Working directory not found"):
        call(tool, command="ls", cwd=str(tmp_path / "missing"))
    assert tmp_path.exists()


def test_run_command_with_shell_checks_every_command_in_the_line() -> None:
    tool = run_command_tool(allowed_commands=["echo", "wc", "tr"], allow_shell=True)
    piped = call(tool, command="echo one two | wc -w", shell=True)
    assert piped["status"] == "success" and piped["stdout"].strip() == "2"
    with pytest.raises(CommandNotAllowedError, match="Command 'cat' is not allowed"):
        call(tool, command="echo x; cat /etc/passwd", shell=True)


def test_run_command_context_key_goes_into_the_shared_state(tmp_path: Path) -> None:
    tool = run_command_tool(working_dir=str(tmp_path))
    ctx = ToolContext(execution_id="e", idempotency_key="k", task_id="t", attempt=1)
    call(tool, command="pwd", context_key="working_dir", context=ctx)
    assert ctx.state == {"working_dir": str(tmp_path)}


def test_run_command_env_is_minimal_plus_declared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_ONLY_SECRET", "sk-worker")
    monkeypatch.setenv("SHARED_SETTING", "shared")
    agent = Agent(
        name="ops",
        model="openai/gpt-4o",
        cli_config=CliConfig(env={"FIXED": "1"}, pass_env=["SHARED_SETTING"], credentials=["GH_TOKEN"]),
    )
    tool = tools_of(agent)["ops_run_command"]
    assert tool.credentials == ["GH_TOKEN"]  # fetched for each call, like @tool(credentials=...)
    with provided({"GH_TOKEN": "gh-secret"}) as ctx:
        shown = ctx.run(call, tool, command="env")["stdout"]
    variables = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
    assert variables["GH_TOKEN"] == "gh-secret" and variables["FIXED"] == "1"
    assert variables["SHARED_SETTING"] == "shared" and "WORKER_ONLY_SECRET" not in variables


def test_cli_whitelist_falls_back_to_allowed_commands() -> None:
    agent = Agent(name="ops", model="openai/gpt-4o", cli_commands=True, allowed_commands=["git"])
    with pytest.raises(CommandNotAllowedError, match="Allowed commands: git"):
        call(tools_of(agent)["ops_run_command"], command="ls")


@pytest.mark.parametrize(
    ("code", "language", "violation"),
    [
        ("ls -la\necho done", "bash", None),
        ("ls | grep x", "bash", "grep"),
        ("X=1 ls && $(whoami)", "bash", "whoami"),
        ("echo `id`", "bash", "id"),
        ("# curl in a comment\nls", "bash", None),
        ("cat <<EOF\ncurl is data here\nEOF", "bash", "cat"),
        ("if true; then ls; fi", "bash", None),
        ("import os\nos.system('rm -rf /')", "python", "rm"),
        ("import subprocess\nsubprocess.check_output(['ls', '-l'])", "python", None),
        ("!pip install x", "python", "pip"),
        ("print('ls')", "python", None),
        ("require('child_process').exec('rm')", "node", None),  # other languages: not checked
    ],
)
def test_command_validator_reads_commands_best_effort(
    code: str, language: str, violation: str | None
) -> None:
    message = CommandValidator(["ls", "echo"]).validate(code, language)
    if violation is None:
        assert message is None
    else:
        assert message is not None and f"Command '{violation}' is not allowed" in message
    assert CommandValidator([]).validate(code, language) is None
