"""Untrusted code in a throwaway Docker container: no network, read-only, limited.

    python examples/09-code-execution/06_docker.py

``DockerCodeExecutor(...).as_tool()`` runs each call in a fresh container with
``--network=none``, a read-only root, dropped capabilities and memory, CPU and process
limits; the host's environment is not passed in. Here the code tries to reach the network
and to write outside /tmp, and both fail inside the container. Needs a running Docker
engine (the first run pulls the image). With no API key the model is scripted.
"""

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.code_executor import DockerCodeExecutor
from agentspan.agents.testing import ToolCall, scripted_or_live

PROBE = """
import socket, sys
print("python", sys.version.split()[0], "in a container")
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    print("network: reachable")
except OSError:
    print("network: unreachable")
try:
    open("/etc/agentspan-was-here", "w")
    print("root filesystem: writable")
except OSError:
    print("root filesystem: read-only")
"""

agent = Agent(
    name="container_coder",
    model=scripted_or_live([ToolCall("container_python", {"code": PROBE}), "The sandbox is sealed."]),
    instructions="Run Python with container_python.",
    tools=[DockerCodeExecutor(image="python:3.12-slim", timeout=60).as_tool(name="container_python")],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Check what the sandbox allows.")
    print(result.output)
    print(result.tool_calls[0]["result"]["stdout"])

# requires-command: docker
# requires-run: docker info
# timeout: 180
# expect: in a container
# expect: network: unreachable
# expect: root filesystem: read-only
