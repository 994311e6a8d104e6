"""``ExecutionResult``, the ``CodeExecutor`` base and the tool it turns into."""

from __future__ import annotations

import abc
import dataclasses
import signal
from typing import Any

from agentspan._core.tool import ToolContext, ToolDef

__all__ = ["EXECUTE_CODE_SCHEMA", "CodeExecutor", "ExecutionResult", "describe_exit", "result_payload"]

NO_CODE = "No code provided. Nothing to execute."

EXECUTE_CODE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"code": {"type": "string", "description": "The code to execute"}},
    "required": ["code"],
}

# How long past the code's own timeout the worker lets one call run: the executor kills
# the program at ``timeout`` and needs a moment to collect and report what it printed.
TOOL_TIMEOUT_MARGIN = 15.0


@dataclasses.dataclass
class ExecutionResult:
    """What one run printed and how it ended (``exit_code`` -1 with ``timed_out``)."""

    output: str = ""
    error: str = ""
    exit_code: int = 0
    timed_out: bool = False

    @property
    def success(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def describe_exit(exit_code: int) -> str:
    """A line saying why a program that ended on a signal stopped (``""`` otherwise)."""
    if exit_code >= 0:
        return ""
    number = -exit_code
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"Killed by signal {number}"
    reasons = {
        "SIGXCPU": " (CPU time limit reached)",
        "SIGXFSZ": " (file size limit reached)",
        "SIGKILL": " (killed: a resource limit, or the timeout)",
        "SIGSEGV": " (crashed; possibly out of memory)",
        "SIGABRT": " (aborted; possibly out of memory)",
    }
    return f"Killed by signal {name}{reasons.get(name, '')}"


def result_payload(result: ExecutionResult, timeout: float) -> dict[str, str]:
    """The tool result the model sees: the reference's shape (``status``/``stdout``/``stderr``)."""
    if result.success:
        return {"status": "success", "stdout": result.output, "stderr": result.error}
    parts = [result.error] if result.error else []
    if result.timed_out:
        parts.append(f"TIMED OUT after {timeout:g}s")
    parts.append(f"Exit code: {result.exit_code}")
    return {"status": "error", "stdout": result.output, "stderr": "\n".join(parts)}


class CodeExecutor(abc.ABC):
    """Runs source code somewhere and reports what it printed.

    Subclasses implement :meth:`execute`. :meth:`as_tool` offers the executor to an agent.
    """

    def __init__(self, language: str = "python", timeout: float = 30, working_dir: str | None = None) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.language = language
        self.timeout = timeout
        self.working_dir = working_dir

    @abc.abstractmethod
    def execute(self, code: str) -> ExecutionResult:
        """Run ``code``; report failures of the code in the result rather than raise."""

    def execute_for(self, code: str, context: ToolContext | None) -> ExecutionResult:
        """Run ``code`` for one tool call. Executors that keep state between calls (a
        Jupyter kernel) key it by ``context.execution_id``; the others ignore it."""
        return self.execute(code)

    def as_tool(
        self,
        name: str | None = None,
        description: str | None = None,
        *,
        retryable: bool = True,
        approval_required: bool = False,
        guardrails: list[Any] | None = None,
    ) -> ToolDef:
        """This executor as a worker tool ``execute_code(code)`` (or ``name``).

        ``retryable=False`` marks code with side effects: when a worker dies mid-run, the
        call is reported failed instead of run again.
        """
        text = description or (
            f"Execute {self.language} code. Returns stdout, stderr, and exit code. Timeout: {self.timeout:g}s."
        )

        def execute_code(code: Any, context: ToolContext | None = None) -> dict[str, str]:
            if not isinstance(code, str):
                code = str(code)
            if not code.strip():
                return {"status": "success", "stdout": NO_CODE, "stderr": ""}
            return result_payload(self.execute_for(code, context), self.timeout)

        return ToolDef(
            name=name or "execute_code",
            description=text,
            input_schema=dict(EXECUTE_CODE_SCHEMA),
            func=execute_code,
            timeout_seconds=self.timeout + TOOL_TIMEOUT_MARGIN,
            retryable=retryable,
            approval_required=approval_required,
            guardrails=list(guardrails or []),
        )
