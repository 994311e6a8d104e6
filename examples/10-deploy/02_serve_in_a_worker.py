"""serve(): tools run in a separate worker process, not in the one that starts the run.

    python examples/10-deploy/02_serve_in_a_worker.py

A worker is any process that calls ``serve(agent)``: it long-polls the server for that
agent's tool calls. The starting process sets ``auto_start_workers=False``, so it runs no
tools itself, only starts the run and waits. Here the worker is this same file started
again with ``worker`` as its argument; in production it would be its own deployment,
which you can scale or restart while runs continue. With no API key the model is scripted.
"""

import os
import subprocess
import sys

from agentspan.agents import Agent, AgentConfig, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool
def resize_image(name: str, width: int) -> str:
    """Resize an image (a stand-in for heavy work that belongs on worker machines)."""
    return f"{name} resized to {width}px by worker pid {os.getpid()}"


agent = Agent(
    name="image_pipeline",
    model=scripted_or_live(
        [ToolCall("resize_image", {"name": "cat.png", "width": 640}), "Done: cat.png is 640px."]
    ),
    instructions="Resize the image the user names.",
    tools=[resize_image],
)

if sys.argv[1:] == ["worker"]:
    AgentRuntime().serve(agent)  # blocks; stops on SIGTERM or Ctrl-C
    sys.exit()

worker = subprocess.Popen([sys.executable, __file__, "worker"])
try:
    config = AgentConfig.from_env()  # AGENTSPAN_SERVER_URL etc.
    config.auto_start_workers = False  # this process runs no tools
    with AgentRuntime(config=config) as runtime:
        result = runtime.run(agent, "Make cat.png 640 pixels wide.", timeout=60)
    print(result.output)
    print("tool result:", result.tool_calls[0]["result"])
    print("ran in the worker process:", f"pid {worker.pid}" in result.tool_calls[0]["result"])
    print("not in this process:", f"pid {os.getpid()}" not in result.tool_calls[0]["result"])
finally:
    worker.terminate()
    worker.wait()

# expect: tool result: cat.png resized to 640px by worker pid
# expect: ran in the worker process: True
# expect: not in this process: True
