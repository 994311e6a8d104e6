"""Deploy an agent once, then start it by name from a process that has no definition.

    python examples/10-deploy/01_deploy_and_run_by_name.py

``deploy(agent)`` stores the definition on the server under its name, as a new version.
Any other process can then ``run("name", prompt)`` without importing the agent; its tools
run wherever a process serves them: here, this one (``serve(..., blocking=False)``). The
"other process" is a short Python program started with ``subprocess``. With no API key the
model is scripted.
"""

import os
import subprocess
import sys
import textwrap

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool
def room_status(room: str) -> str:
    """Whether a meeting room is free."""
    return f"{room} is free until 15:00 (answered by pid {os.getpid()})"


agent = Agent(
    name="gallery_room_finder",
    model=scripted_or_live([ToolCall("room_status", {"room": "Aurora"}), "Aurora is free until 15:00."]),
    instructions="Check the room with room_status, then answer.",
    tools=[room_status],
)

# Another program: it knows the agent's name and nothing else.
CALLER = textwrap.dedent("""
    from agentspan.agents import AgentRuntime
    with AgentRuntime() as runtime:
        result = runtime.run("gallery_room_finder", "Is Aurora free?")
        print("caller got:", result.output)
        print("caller saw the tool answer:", result.tool_calls[0]["result"])
""")

with AgentRuntime() as runtime:
    deployed = runtime.deploy(agent)[0]
    print(f"deployed {deployed.registered_name!r} as version {deployed.version}")
    runtime.serve(agent, blocking=False)  # this process runs the tools
    caller = subprocess.run([sys.executable, "-c", CALLER], capture_output=True, text=True, timeout=60)
    print(caller.stdout.strip() or caller.stderr)
    print("the tool ran in this process:", f"pid {os.getpid()})" in caller.stdout)

# expect: deployed 'gallery_room_finder' as version
# expect: caller got: Aurora is free until 15:00.
# expect: caller saw the tool answer: Aurora is free until 15:00 (answered by pid
# expect: the tool ran in this process: True
