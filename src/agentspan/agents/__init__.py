"""The public Agentspan API: define agents and tools, run them durably.

Everything importable here is listed in ``__all__`` and pinned by a test; the modules
behind it are private.
"""

from agentspan._core.credentials import (
    CredentialAuthError,
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
from agentspan.agents._agent import Agent, PromptTemplate, Strategy
from agentspan.agents._config import AgentConfig
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
from agentspan.agents._run import (
    configure,
    run,
    run_async,
    serve,
    shutdown,
    start,
    start_async,
    stream,
    stream_async,
)
from agentspan.agents._runtime import AgentRuntime
from agentspan.agents._scatter import scatter_gather
from agentspan.agents._server_tools import api_tool, http_tool, pdf_tool, wait_for_message_tool
from agentspan.agents._stream import AgentStream, AsyncAgentStream
from agentspan.agents._tool import ToolContext, ToolDef, agent_tool, human_tool, tool
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
from agentspan.agents.termination import (
    MaxMessageTermination,
    StopMessageTermination,
    TerminationCondition,
    TerminationResult,
    TextMentionTermination,
    TokenUsageTermination,
)
from agentspan.agents.tracing import is_tracing_enabled

function_tool = tool

__all__ = [
    "Agent",
    "AgentAPIError",
    "AgentConfig",
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
    "ConfigurationError",
    "ConversationMemory",
    "CredentialAuthError",
    "CredentialNotFoundError",
    "CredentialRateLimitError",
    "CredentialServiceError",
    "DeploymentInfo",
    "EventType",
    "FinishReason",
    "Guardrail",
    "GuardrailDef",
    "GuardrailResult",
    "HandoffCondition",
    "LLMGuardrail",
    "MaxMessageTermination",
    "OnCondition",
    "OnFail",
    "OnTextMention",
    "OnToolResult",
    "Position",
    "PromptTemplate",
    "RegexGuardrail",
    "RunResult",
    "Runner",
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
    "agent_tool",
    "api_tool",
    "configure",
    "function_tool",
    "get_credential",
    "guardrail",
    "http_tool",
    "human_tool",
    "is_tracing_enabled",
    "mcp_tool",
    "pdf_tool",
    "run",
    "run_async",
    "scatter_gather",
    "serve",
    "shutdown",
    "start",
    "start_async",
    "stream",
    "stream_async",
    "tool",
    "wait_for_message_tool",
]
