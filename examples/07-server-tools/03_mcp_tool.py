"""mcp_tool: the tools of an MCP server, called by the Agentspan server itself.

    python examples/07-server-tools/03_mcp_tool.py

The MCP server is built here with the official ``mcp`` SDK and served over streamable HTTP
from a thread of this program (a stand-in for any MCP server you would connect to). When
the run starts, the Agentspan server lists its tools; each call the model makes is a
durable step with an idempotency key in the request's ``_meta``. The Agentspan server needs
``pip install 'agentspan[mcp]'``. With no API key the model is scripted.
"""

import socket
import threading
import time

from mcp.server.mcpserver import Context, MCPServer

from agentspan.agents import Agent, AgentRuntime, mcp_tool
from agentspan.agents.testing import ToolCall, scripted_or_live

keys_seen: list[str] = []
units = MCPServer("unit-converter", log_level="WARNING")


@units.tool()
def km_to_miles(km: float, ctx: Context) -> float:
    """Convert kilometres to miles."""
    keys_seen.append(str((ctx.request_context.meta or {}).get("ai.agentspan/idempotencyKey", "")))
    return round(km * 0.621371, 2)


@units.tool()
def celsius_to_fahrenheit(celsius: float) -> float:
    """Convert degrees Celsius to Fahrenheit."""
    return celsius * 9 / 5 + 32


with socket.socket() as probe:  # a free port for the MCP server
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
threading.Thread(target=units.run, args=("streamable-http",), kwargs={"port": port}, daemon=True).start()
while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
    time.sleep(0.05)

agent = Agent(
    name="converter",
    model=scripted_or_live([ToolCall("km_to_miles", {"km": 42.195}), "A marathon is about 26.22 miles."]),
    instructions="Use the conversion tools; answer in one sentence.",
    tools=[mcp_tool(f"http://127.0.0.1:{port}/mcp", tool_names=["km_to_miles", "celsius_to_fahrenheit"])],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "How many miles is a marathon (42.195 km)?")
    print(result.output)
    print("km_to_miles returned:", result.tool_calls[0]["result"])
    print(
        f"the MCP server ran the tool {len(keys_seen)} time(s), key from this run: "
        f"{keys_seen[0].startswith(result.execution_id)}"
    )

# expect: km_to_miles returned: {'result': 26.22}
# expect: the MCP server ran the tool 1 time(s), key from this run: True
