"""``agentspan.agents.runtime``: the runtime, its configuration and agent discovery (the
reference's package path; the implementation is private)."""

from agentspan.agents._config import AgentConfig
from agentspan.agents._deploy import discover_agents
from agentspan.agents._runtime import AgentRuntime

__all__ = ["AgentConfig", "AgentRuntime", "discover_agents"]
