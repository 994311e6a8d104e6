"""A local MCP server over stdio, which the operator allows by name.

    python examples/07-server-tools/07_mcp_stdio.py

A spec may not name a command line (anyone who can start an agent could then run programs
on the server), so the operator maps names to commands when starting the server:
``AGENTSPAN_MCP_STDIO_COMMANDS="notes=python 07_mcp_stdio.py serve-mcp"``, and agents use
``mcp_tool("stdio:notes")``. Any other name is refused when the run starts. This example
controls its own server to set that variable; its MCP server is this same file, run with
``serve-mcp`` (built with the official ``mcp`` SDK). With no API key the model is scripted.
"""

import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from agentspan.agents import Agent, AgentAPIError, AgentConfig, AgentRuntime, mcp_tool
from agentspan.agents.testing import ToolCall, scripted_or_live

if sys.argv[1:] == ["serve-mcp"]:  # the MCP server, started by the Agentspan server for each call
    from mcp.server.mcpserver import MCPServer

    notes = MCPServer("release-notes")

    @notes.tool()
    def latest_release() -> dict[str, str]:
        """The latest release and its headline."""
        return {"version": "2.4.0", "headline": "Faster cold starts", "served_by": f"stdio pid {os.getpid()}"}

    notes.run("stdio")
    sys.exit()


def agent_with(server: str, turns: list[ToolCall | str]) -> Agent:
    return Agent(
        name="release_reporter",
        model=scripted_or_live(turns),
        instructions="Answer with the release notes tool.",
        tools=[mcp_tool(server)],
    )


with tempfile.TemporaryDirectory() as data, socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    allowed = f"notes={shlex.join([sys.executable, os.path.abspath(__file__), 'serve-mcp'])}"
    env = {**os.environ, "AGENTSPAN_MCP_STDIO_COMMANDS": allowed}
    cmd = [sys.executable, "-m", "agentspan.cli", "server", "run", "--port", str(port), "--data-dir", data]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        with AgentRuntime(config=AgentConfig(server_url=f"http://127.0.0.1:{port}")) as runtime:
            reporter = agent_with("stdio:notes", [ToolCall("latest_release"), "2.4.0: faster cold starts."])
            result = runtime.run(reporter, "What is in the latest release?")
            print(result.output)
            print("latest_release returned:", result.tool_calls[0]["result"])
            try:
                runtime.run(agent_with("stdio:shell", ["unused"]), "Anything.")
            except AgentAPIError as refused:
                print(f"stdio:shell refused: {refused.status_code} {refused.code}")
    finally:
        server.terminate()
        server.wait()

# requires: mcp
# timeout: 60
# expect: latest_release returned: {'version': '2.4.0', 'headline': 'Faster cold starts', 'served_by': 'stdio pid
# expect: stdio:shell refused: 400 mcp_server_not_allowed
