"""The command line: inspect any execution with ``agentspan executions show``.

    python examples/01-basics/08_cli_show.py

Every run is kept by the server, so you can look at it afterwards from a terminal:
``agentspan executions show <id>`` prints its status, output and tool calls (and the tree of
sub-agents), ``agentspan executions events <id>`` the event log. This example runs an agent,
then calls the CLI on it as you would in a shell.
"""

import subprocess
import sys

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool
def count_vowels(word: str) -> int:
    """Count the vowels in a word."""
    return sum(letter in "aeiou" for letter in word.lower())


agent = Agent(
    name="vowel_counter",
    model=scripted_or_live([ToolCall("count_vowels", {"word": "durability"}), "'durability' has 4 vowels."]),
    instructions="Count the vowels with the tool, then answer.",
    tools=[count_vowels],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "How many vowels in 'durability'?")

# The same as typing: agentspan executions show <id>   (AGENTSPAN_SERVER_URL picks the server)
shown = subprocess.run(
    [sys.executable, "-m", "agentspan.cli", "executions", "show", result.execution_id],
    capture_output=True,
    text=True,
    check=True,
)
print(shown.stdout)

# expect: vowel_counter
# expect: count_vowels({"word": "durability"})  completed
# expect: result: 4
# expect: 'durability' has 4 vowels.
