"""``agentspan.agents.tool``: tools the model can call (the reference's module path)."""

from agentspan.agents._mcp import mcp_tool
from agentspan.agents._server_tools import api_tool, http_tool, pdf_tool, wait_for_message_tool
from agentspan.agents._tool import ToolContext, ToolDef, agent_tool, human_tool, tool

__all__ = [
    "ToolContext",
    "ToolDef",
    "agent_tool",
    "api_tool",
    "http_tool",
    "human_tool",
    "mcp_tool",
    "pdf_tool",
    "tool",
    "wait_for_message_tool",
]
