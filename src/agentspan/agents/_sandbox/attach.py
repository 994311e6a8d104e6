"""Which execution tools an :class:`~agentspan.agents.Agent`'s options attach to it.

``local_code_execution`` / ``code_execution`` attach ``<agent>_execute_code``;
``cli_commands`` / ``cli_config`` attach ``<agent>_run_command`` - ordinary worker tools,
so they get guardrails, approvals, retries and durability like any ``@tool``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from agentspan._core.tool import ToolDef, get_tool_def

if TYPE_CHECKING:
    from agentspan.agents.cli_config import CliConfig
    from agentspan.agents.code_execution_config import CodeExecutionConfig

__all__ = ["execution_tools"]


def _as_config(settings: Any, kind: type[Any]) -> Any:
    """A config object of ``kind`` from ``settings`` (the class itself, or any object with
    the same attribute names, as the serialiser also accepts)."""
    if isinstance(settings, kind):
        return settings
    fields = {
        f.name: getattr(settings, f.name) for f in dataclasses.fields(kind) if hasattr(settings, f.name)
    }
    return kind(**fields)


def _code_config(agent: Any) -> CodeExecutionConfig | None:
    from agentspan.agents.code_execution_config import CodeExecutionConfig  # noqa: PLC0415

    if agent.code_execution is not None:
        config: CodeExecutionConfig = _as_config(agent.code_execution, CodeExecutionConfig)
        return config if config.enabled else None
    if not agent.local_code_execution:
        return None
    return CodeExecutionConfig(
        allowed_languages=list(agent.allowed_languages), allowed_commands=list(agent.allowed_commands)
    )


def _cli_config(agent: Any) -> CliConfig | None:
    from agentspan.agents.cli_config import CliConfig  # noqa: PLC0415

    if agent.cli_config is not None:
        config: CliConfig = _as_config(agent.cli_config, CliConfig)
        return config if config.enabled else None
    if not agent.cli_commands:
        return None
    # With no CLI-specific whitelist, the code-execution whitelist applies (as the reference).
    return CliConfig(allowed_commands=list(agent.cli_allowed_commands or agent.allowed_commands))


def execution_tools(agent: Any) -> list[ToolDef]:
    """The tools to append to ``agent.tools`` (none already there under the same name)."""
    if not (agent.code_execution or agent.local_code_execution or agent.cli_config or agent.cli_commands):
        return []  # the common case, without loading the execution modules
    from agentspan.agents.cli_config import run_command_tool  # noqa: PLC0415
    from agentspan.agents.code_execution_config import execute_code_tool  # noqa: PLC0415

    # A copy of an agent (``>>``, ``AgentDef``) passes the tools attached to the original.
    present = {get_tool_def(item).name for item in agent.tools if not isinstance(item, str)}
    tools: list[ToolDef] = []
    code = _code_config(agent)
    if code is not None:
        tools.append(execute_code_tool(agent.name, code))
    cli = _cli_config(agent)
    if cli is not None:
        tools.append(run_command_tool(agent.name, cli))
    return [t for t in tools if t.name not in present]
