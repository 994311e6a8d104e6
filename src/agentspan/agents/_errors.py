"""The exceptions of the public ``agentspan.agents`` API (defined in ``agentspan._core.errors``,
which the transport shares without importing this facade)."""

from agentspan._core.errors import (
    AgentAPIError,
    AgentNotFoundError,
    AgentspanError,
    ConfigurationError,
    TerminalToolError,
    ToolSerializationError,
)

__all__ = [
    "AgentAPIError",
    "AgentNotFoundError",
    "AgentspanError",
    "ConfigurationError",
    "TerminalToolError",
    "ToolSerializationError",
]
