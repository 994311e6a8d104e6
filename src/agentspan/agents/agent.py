"""``agentspan.agents.agent``: defining agents (the reference's module path)."""

from agentspan._core.errors import ConfigurationError
from agentspan.agents._agent import Agent, PromptTemplate, Strategy
from agentspan.agents._agent_def import AgentDef, agent
from agentspan.agents._scatter import scatter_gather

__all__ = ["Agent", "AgentDef", "ConfigurationError", "PromptTemplate", "Strategy", "agent", "scatter_gather"]
