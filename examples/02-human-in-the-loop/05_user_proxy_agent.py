"""A person as a team member: ``UserProxyAgent`` takes its turn through a human.

    python examples/02-human-in-the-loop/05_user_proxy_agent.py

When the proxy's turn comes no model is called: the run waits for the person, shows them the
conversation so far, and their message becomes the proxy's answer. Here a planner proposes,
the "boss" (answered by this script) replies, and the transcript has both.
"""

import time

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.ext import UserProxyAgent
from agentspan.agents.testing import scripted_or_live

planner = Agent(
    name="release_planner",
    model=scripted_or_live(["I propose we ship on Friday."]),
    instructions="Propose a release date in one sentence.",
)
boss = UserProxyAgent(name="boss")
meeting = Agent(name="release_meeting", agents=[planner, boss], strategy="round_robin", max_turns=2)

with AgentRuntime() as runtime:
    handle = runtime.start(meeting, "When do we ship?")
    while not (status := handle.get_status()).is_waiting:
        time.sleep(0.05)
    print(f"the boss is shown: {(status.pending_tool or {})['parameters']['question']!r}")
    handle.send("Friday works. Ship it.")
    print(handle.join(timeout=30).output)

# expect: I propose we ship on Friday.
# expect: [boss]: Friday works. Ship it.
