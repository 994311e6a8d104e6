"""``agentspan.agents.runtime.discovery``: ``discover_agents`` (the reference's module path)."""

from agentspan.agents._deploy import discover_agents

__all__ = ["discover_agents"]
