"""``agentspan.agents.runtime.config``: ``AgentConfig`` (the reference's module path)."""

from agentspan.agents._config import AgentConfig

__all__ = ["AgentConfig"]
