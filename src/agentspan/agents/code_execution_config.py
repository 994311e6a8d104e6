"""``CodeExecutionConfig`` and the ``<agent>_execute_code`` tool it attaches to an agent."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from agentspan._core.credentials import credential_names, get_credential
from agentspan._core.errors import TerminalToolError
from agentspan._core.tool import ToolContext, ToolDef
from agentspan.agents._sandbox.base import NO_CODE, TOOL_TIMEOUT_MARGIN, CodeExecutor, result_payload
from agentspan.agents._sandbox.local import LocalCodeExecutor
from agentspan.agents._sandbox.validator import CommandValidator

__all__ = ["CodeExecutionConfig", "CommandNotAllowedError", "CommandValidator", "execute_code_tool"]


class CommandNotAllowedError(TerminalToolError, ValueError):
    """The call asks for a language, command or option its configuration does not allow.

    Terminal (the same call would be refused again), and a ``ValueError`` as in the
    reference; the model sees the message.
    """


@dataclasses.dataclass
class CodeExecutionConfig:
    """How an agent's ``execute_code`` tool runs code.

    ``allowed_commands`` empty means any command; it is checked (best effort, by reading
    the code) before anything runs. ``executor`` defaults to a :class:`LocalCodeExecutor`
    per call for the requested language. ``credentials`` are credential names whose values
    the executed code gets as environment variables (nothing else from the worker's
    environment reaches it). ``retryable=False`` for code with side effects: a call whose
    worker died is then not run again.
    """

    enabled: bool = True
    allowed_languages: list[str] = dataclasses.field(default_factory=lambda: ["python"])
    allowed_commands: list[str] = dataclasses.field(default_factory=list)
    executor: CodeExecutor | None = None
    timeout: int = 30
    working_dir: str | None = None
    credentials: list[Any] = dataclasses.field(default_factory=list)
    retryable: bool = True
    approval_required: bool = False


def _description(config: CodeExecutionConfig) -> str:
    text = (
        "Execute code in a sandboxed environment. Supported languages: "
        f"{', '.join(config.allowed_languages)}. Timeout: {config.timeout}s."
    )
    if config.allowed_commands:
        text += f" Allowed shell commands: {', '.join(config.allowed_commands)}."
    return text


def _executor_for(config: CodeExecutionConfig, language: str) -> CodeExecutor:
    if config.executor is None:
        return LocalCodeExecutor(language, config.timeout, config.working_dir)
    if isinstance(config.executor, LocalCodeExecutor):
        return config.executor.for_language(language)
    return config.executor  # other executors run their own language


def _longest_timeout(config: CodeExecutionConfig) -> float:
    # Docker's executor allows itself 10 s more to start a container.
    extra = config.executor.timeout + 10 if config.executor is not None else 0
    return float(max(config.timeout, extra))


def _secrets(config: CodeExecutionConfig) -> Mapping[str, str]:
    return {name: get_credential(name) for name in credential_names(config.credentials)}


def execute_code_tool(agent_name: str, config: CodeExecutionConfig) -> ToolDef:
    """The ``<agent>_execute_code(code, language)`` worker tool for ``config``."""
    allowed = [language.lower() for language in config.allowed_languages]
    validator = CommandValidator(config.allowed_commands)

    def execute_code(
        code: Any, language: str = "python", context: ToolContext | None = None
    ) -> dict[str, str]:
        if not isinstance(code, str):
            code = str(code)
        if not code.strip():
            return {"status": "success", "stdout": NO_CODE, "stderr": ""}
        language = (language or "python").lower()
        if language not in allowed:
            raise CommandNotAllowedError(
                f"Language '{language}' is not allowed. Allowed languages: {', '.join(allowed)}"
            )
        violation = validator.validate(code, language)
        if violation:
            raise CommandNotAllowedError(violation)
        executor = _executor_for(config, language)
        secrets = _secrets(config)
        if isinstance(executor, LocalCodeExecutor):
            result = executor.execute(code, extra_env=secrets)
        else:
            result = executor.execute_for(code, context)
        return result_payload(result, executor.timeout)

    return ToolDef(
        name=f"{agent_name}_execute_code",
        description=_description(config),
        input_schema={
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "The code to execute"},
                "language": {
                    "type": "string",
                    "description": f"One of: {', '.join(allowed)}",
                    "default": "python",
                },
            },
            "required": ["code"],
        },
        func=execute_code,
        timeout_seconds=_longest_timeout(config) + TOOL_TIMEOUT_MARGIN,
        credentials=list(config.credentials),
        retryable=config.retryable,
        approval_required=config.approval_required,
    )
