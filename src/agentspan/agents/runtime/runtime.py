"""``agentspan.agents.runtime.runtime``: ``AgentRuntime`` (the reference's module path)."""

from agentspan.agents._runtime import AgentRuntime

__all__ = ["AgentRuntime"]
