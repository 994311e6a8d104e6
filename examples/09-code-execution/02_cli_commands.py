"""Command execution with an allow-list: git runs, rm is refused before anything runs.

    python examples/09-code-execution/02_cli_commands.py

``cli_commands=True`` with ``cli_allowed_commands`` gives the agent a
``<agent name>_run_command`` tool that runs only the listed programs (no shell unless
allowed). A command outside the list is refused with an error the model sees, and is not
retried. With no API key the model is scripted: one allowed call, one refused.
"""

import os
import tempfile

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.testing import ToolCall, scripted_or_live

workdir = tempfile.mkdtemp()
agent = Agent(
    name="shell_helper",
    model=scripted_or_live(
        [
            ToolCall("shell_helper_run_command", {"command": "echo", "args": ["hello from echo"]}),
            ToolCall("shell_helper_run_command", {"command": "rm", "args": ["-rf", workdir]}),
            "echo worked; rm is not allowed here.",
        ]
    ),
    instructions="Use run_command for shell tasks.",
    cli_commands=True,
    cli_allowed_commands=["echo", "ls"],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Say hello with echo, then delete the work directory.")
    print(result.output)
    for call in result.tool_calls:
        outcome = call["result"]["stdout"].strip() if call["status"] == "completed" else call["error"]
        print(f"{call['args']['command']}: {call['status']} -> {outcome}")
    print("work directory still there:", os.path.isdir(workdir))
os.rmdir(workdir)

# expect: echo: completed -> hello from echo
# expect: work directory still there: True
# expect: rm: failed -> Command 'rm' is not allowed. Allowed commands: echo, ls
