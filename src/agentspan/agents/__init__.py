"""The public Agentspan API: define agents and tools, run them durably.

Everything importable here is listed in ``__all__`` and pinned by a test; the modules
behind it are private.
"""

import importlib
from typing import TYPE_CHECKING, Any

from agentspan._core.credentials import (
    CredentialAuthError,
    CredentialFile,
    CredentialNotFoundError,
    CredentialRateLimitError,
    CredentialServiceError,
    get_credential,
)
from agentspan._core.errors import (
    AgentAPIError,
    AgentNotFoundError,
    AgentspanError,
    ConfigurationError,
    TerminalToolError,
)
from agentspan.agents._config import AgentConfig
from agentspan.agents._credentials import resolve_credentials
from agentspan.agents._deploy import discover_agents
from agentspan.agents._handle import AgentHandle
from agentspan.agents._mcp import mcp_tool
from agentspan.agents._result import (
    AgentEvent,
    AgentResult,
    AgentStatus,
    DeploymentInfo,
    EventType,
    FinishReason,
    Status,
    TokenUsage,
)
from agentspan.agents._runtime import AgentRuntime
from agentspan.agents._scatter import scatter_gather
from agentspan.agents._server_tools import (
    api_tool,
    audio_tool,
    http_tool,
    image_tool,
    index_tool,
    pdf_tool,
    search_tool,
    video_tool,
    wait_for_message_tool,
)
from agentspan.agents._stream import AgentStream, AsyncAgentStream

# ``agent``, ``tool`` and ``run`` are both submodules (the reference's paths) and names
# bound here. Importing from those submodules first makes the names below win: a later
# ``import agentspan.agents.run`` finds the module loaded and does not rebind ``run``.
from agentspan.agents.agent import Agent, AgentDef, PromptTemplate, Strategy, agent
from agentspan.agents.callback import CallbackHandler
from agentspan.agents.guardrail import (
    Guardrail,
    GuardrailDef,
    GuardrailResult,
    LLMGuardrail,
    OnFail,
    Position,
    RegexGuardrail,
    guardrail,
)
from agentspan.agents.handoff import HandoffCondition, OnCondition, OnTextMention, OnToolResult
from agentspan.agents.memory import ConversationMemory
from agentspan.agents.openai_compat import Runner, RunResult
from agentspan.agents.run import (
    configure,
    deploy,
    deploy_async,
    plan,
    resume,
    resume_async,
    run,
    run_async,
    serve,
    shutdown,
    start,
    start_async,
    stream,
    stream_async,
)
from agentspan.agents.semantic_memory import MemoryEntry, MemoryStore, SemanticMemory
from agentspan.agents.server_memory import ServerMemoryStore

# Imported eagerly, unlike the executors: the module shares its name with the function,
# and a lazy lookup would find the submodule once anything imported it.
from agentspan.agents.skill import (
    SkillLoadError,
    load_skills,
    skill,
)
from agentspan.agents.skill import format_prompt_with_params as format_prompt_with_params
from agentspan.agents.skill import format_skill_params as format_skill_params
from agentspan.agents.termination import (
    MaxMessageTermination,
    StopMessageTermination,
    TerminationCondition,
    TerminationResult,
    TextMentionTermination,
    TokenUsageTermination,
)
from agentspan.agents.tool import ToolContext, ToolDef, agent_tool, human_tool, tool
from agentspan.agents.tracing import is_tracing_enabled

function_tool = tool

if TYPE_CHECKING:
    from agentspan.agents.cli_config import CliConfig
    from agentspan.agents.code_execution_config import CodeExecutionConfig
    from agentspan.agents.code_executor import (
        CodeExecutor,
        DockerCodeExecutor,
        ExecutionResult,
        JupyterCodeExecutor,
        LocalCodeExecutor,
        ServerlessCodeExecutor,
    )

# Loaded on first use: most programs never execute code, and a worker's import stays small
# (tests/unit/test_import_cost.py).
_LAZY = {
    "CliConfig": "agentspan.agents.cli_config",
    "CodeExecutionConfig": "agentspan.agents.code_execution_config",
    "CodeExecutor": "agentspan.agents.code_executor",
    "DockerCodeExecutor": "agentspan.agents.code_executor",
    "ExecutionResult": "agentspan.agents.code_executor",
    "JupyterCodeExecutor": "agentspan.agents.code_executor",
    "LocalCodeExecutor": "agentspan.agents.code_executor",
    "ServerlessCodeExecutor": "agentspan.agents.code_executor",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Agent",
    "AgentAPIError",
    "AgentConfig",
    "AgentDef",
    "AgentEvent",
    "AgentHandle",
    "AgentNotFoundError",
    "AgentResult",
    "AgentRuntime",
    "AgentStatus",
    "AgentStream",
    "AgentspanError",
    "AsyncAgentStream",
    "CallbackHandler",
    "CliConfig",
    "CodeExecutionConfig",
    "CodeExecutor",
    "ConfigurationError",
    "CredentialFile",
    "ConversationMemory",
    "CredentialAuthError",
    "CredentialNotFoundError",
    "CredentialRateLimitError",
    "CredentialServiceError",
    "DeploymentInfo",
    "DockerCodeExecutor",
    "EventType",
    "ExecutionResult",
    "FinishReason",
    "Guardrail",
    "GuardrailDef",
    "GuardrailResult",
    "HandoffCondition",
    "JupyterCodeExecutor",
    "LLMGuardrail",
    "LocalCodeExecutor",
    "MaxMessageTermination",
    "MemoryEntry",
    "MemoryStore",
    "OnCondition",
    "OnFail",
    "OnTextMention",
    "OnToolResult",
    "Position",
    "PromptTemplate",
    "RegexGuardrail",
    "RunResult",
    "Runner",
    "SemanticMemory",
    "ServerMemoryStore",
    "ServerlessCodeExecutor",
    "SkillLoadError",
    "Status",
    "StopMessageTermination",
    "Strategy",
    "TerminalToolError",
    "TerminationCondition",
    "TerminationResult",
    "TextMentionTermination",
    "TokenUsage",
    "TokenUsageTermination",
    "ToolContext",
    "ToolDef",
    "agent",
    "agent_tool",
    "api_tool",
    "audio_tool",
    "configure",
    "deploy",
    "deploy_async",
    "discover_agents",
    "function_tool",
    "get_credential",
    "guardrail",
    "http_tool",
    "human_tool",
    "image_tool",
    "index_tool",
    "is_tracing_enabled",
    "load_skills",
    "mcp_tool",
    "pdf_tool",
    "resolve_credentials",
    "plan",
    "resume",
    "resume_async",
    "run",
    "run_async",
    "scatter_gather",
    "search_tool",
    "serve",
    "shutdown",
    "skill",
    "start",
    "start_async",
    "stream",
    "stream_async",
    "tool",
    "video_tool",
    "wait_for_message_tool",
]
