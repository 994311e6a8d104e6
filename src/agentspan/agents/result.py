"""``agentspan.agents.result``: results, handles, events and streams (the reference's module path)."""

from agentspan.agents._handle import AgentHandle
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
from agentspan.agents._stream import AgentStream, AsyncAgentStream

__all__ = [
    "AgentEvent",
    "AgentHandle",
    "AgentResult",
    "AgentStatus",
    "AgentStream",
    "AsyncAgentStream",
    "DeploymentInfo",
    "EventType",
    "FinishReason",
    "Status",
    "TokenUsage",
]
