"""The wire contract shared by the SDK and the server.

This package imports nothing else from the project, so both sides (and third-party
workers) can depend on it alone.
"""

from agentspan.protocol.errors import ErrorCode, Problem
from agentspan.protocol.spec import SPEC_SCHEMA_VERSION, AgentConfig, ToolConfig

__all__ = ["SPEC_SCHEMA_VERSION", "AgentConfig", "ErrorCode", "Problem", "ToolConfig"]
