"""``CliConfig`` and the ``<agent>_run_command`` tool it attaches to an agent."""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
from typing import Any

from agentspan._core.credentials import credential_names, get_credential
from agentspan._core.errors import TerminalToolError
from agentspan._core.tool import ToolContext, ToolDef
from agentspan.agents._sandbox.base import TOOL_TIMEOUT_MARGIN, describe_exit
from agentspan.agents._sandbox.process import minimal_environment, run_limited
from agentspan.agents._sandbox.validator import CommandValidator
from agentspan.agents.code_execution_config import CommandNotAllowedError

__all__ = ["CliConfig", "TerminalToolError", "run_command_tool"]

MAX_OUTPUT_BYTES = 100_000
# Worker variables a command sees without declaring them: who it runs as and where home
# is (git, ssh and most CLIs read their configuration from there). Never tokens.
_CLI_PASS_ENV = ("HOME", "USER", "LOGNAME", "SHELL")
_CONTEXT_KEYS = "repo, branch, working_dir, issue_number, pr_url, commit_sha"


@dataclasses.dataclass
class CliConfig:
    """How an agent's ``run_command`` tool runs commands.

    ``allowed_commands`` whitelists command basenames (empty: any). ``allow_shell`` lets
    the model ask for ``shell=True``. Commands run as the worker's user, in
    ``working_dir`` (or the call's ``cwd``), with a minimal environment plus ``env``, the
    worker variables named in ``pass_env`` and the values of ``credentials`` (credential
    names, fetched from the server's store for each call). ``retryable=False``: a call whose worker died is not run
    again.
    """

    enabled: bool = True
    allowed_commands: list[str] = dataclasses.field(default_factory=list)
    timeout: int = 30
    working_dir: str | None = None
    allow_shell: bool = False
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    pass_env: list[str] = dataclasses.field(default_factory=list)
    credentials: list[Any] = dataclasses.field(default_factory=list)
    retryable: bool = True
    approval_required: bool = False


def _description(config: CliConfig) -> str:
    text = f"Run a CLI command directly. Timeout: {config.timeout}s."
    if config.allowed_commands:
        text += f" Allowed commands: {', '.join(config.allowed_commands)}."
    text += (
        " shell=True runs the command through a shell (pipes, redirects)."
        if config.allow_shell
        else " Shell mode is disabled: pass the program as command and its arguments as args."
    )
    return text + (
        " Set context_key to keep the command's output in the shared state under that key "
        f"(well-known keys: {_CONTEXT_KEYS})."
    )


class _Runner:
    """The checks and the run behind one agent's ``run_command`` tool."""

    def __init__(self, config: CliConfig, credentials: list[Any]) -> None:
        self.config = config
        self.validator = CommandValidator(config.allowed_commands)
        self.credentials = credential_names(credentials)

    def check(self, command: str, shell: bool) -> None:
        allowed = self.validator.allowed
        if shell:
            if not self.config.allow_shell:
                raise CommandNotAllowedError("Shell mode is not allowed for this agent (allow_shell=False)")
            violation = self.validator.validate(command, "bash")
            if violation:
                raise CommandNotAllowedError(violation)
        elif allowed and os.path.basename(command) not in allowed:
            raise CommandNotAllowedError(
                f"Command '{command}' is not allowed. Allowed commands: {', '.join(sorted(allowed))}"
            )

    def run(self, command: str, args: list[str], cwd: str, shell: bool) -> dict[str, Any]:
        directory = cwd or self.config.working_dir or os.getcwd()
        if not os.path.isdir(directory):
            raise TerminalToolError(f"Working directory not found: {directory}")
        env = minimal_environment(None, self.config.env, (*_CLI_PASS_ENV, *self.config.pass_env))
        env.update({name: get_credential(name) for name in self.credentials})
        if shell:
            argv = ["/bin/sh", "-c", " ".join([command, *(shlex.quote(a) for a in args)])]
        else:
            program = shutil.which(command, path=env["PATH"]) if "/" not in command else command
            if program is None or not os.path.exists(program):
                raise TerminalToolError(f"Command not found: {command}")
            argv = [program, *args]
        outcome = run_limited(
            argv,
            cwd=directory,
            env=env,
            timeout=self.config.timeout,
            max_output_bytes=MAX_OUTPUT_BYTES,
            limits=None,
            ids=None,
        )
        if outcome.timed_out:
            raise TerminalToolError(f"Command timed out after {self.config.timeout}s: {command}")
        stderr = outcome.stderr
        if outcome.truncated:
            stderr += f"\n[output truncated: each stream is limited to {MAX_OUTPUT_BYTES} bytes]"
        if describe_exit(outcome.exit_code):
            stderr += f"\n{describe_exit(outcome.exit_code)}"
        status = "success" if outcome.exit_code == 0 else "error"
        return {"status": status, "exit_code": outcome.exit_code, "stdout": outcome.stdout, "stderr": stderr}


def run_command_tool(
    agent_name: str, config: CliConfig, agent_credentials: list[Any] | None = None
) -> ToolDef:
    """The ``<agent>_run_command(command, args, cwd, shell, context_key)`` worker tool."""
    declared = set(credential_names(config.credentials))
    credentials = [*config.credentials]
    credentials += [c for c in agent_credentials or [] if credential_names([c])[0] not in declared]
    runner = _Runner(config, credentials)

    def run_command(
        command: str,
        args: list[str] | None = None,
        cwd: str = "",
        shell: bool = False,
        context_key: str = "",
        context: ToolContext | None = None,
    ) -> dict[str, Any]:
        if not command or not command.strip():
            return {"status": "error", "stdout": "", "stderr": "No command provided."}
        arguments = [str(a) for a in args or []]
        runner.check(command.strip() if shell else command, shell)
        try:
            result = runner.run(command, arguments, cwd, shell)
        except OSError as exc:
            raise TerminalToolError(f"Could not run {command}: {exc}") from exc
        if result["status"] == "success" and context_key and context is not None:
            context.state[context_key] = result["stdout"].strip() or result["stderr"].strip()
        return result

    return ToolDef(
        name=f"{agent_name}_run_command",
        description=_description(config),
        input_schema={
            "type": "object",
            "properties": {
                "command": {
                    "type": "string",
                    "description": "The program to run (or a shell line with shell=true)",
                },
                "args": {"type": "array", "items": {"type": "string"}, "description": "Its arguments"},
                "cwd": {"type": "string", "description": "Working directory (default: the configured one)"},
                "shell": {"type": "boolean", "description": "Run through a shell", "default": False},
                "context_key": {
                    "type": "string",
                    "description": "Keep the output in the shared state under this key",
                },
            },
            "required": ["command"],
        },
        func=run_command,
        timeout_seconds=float(config.timeout) + TOOL_TIMEOUT_MARGIN,
        credentials=credentials,
        retryable=config.retryable,
        approval_required=config.approval_required,
    )
