"""Manual teams: a person picks which agent speaks next.

    python examples/02-human-in-the-loop/04_manual_selection.py

With ``strategy="manual"`` the team waits for a selection before each turn: the options are
in ``pending_tool["parameters"]["options"]``, and ``respond({"selected": name})`` picks one
(``None`` ends the run). The choice can come from any process, after any restart.
"""

import time

from agentspan.agents import Agent, AgentHandle, AgentRuntime
from agentspan.agents.testing import scripted_or_live

drafter = Agent(name="poster_drafter", model=scripted_or_live(["Draft: 'Durable by design.'"]))
critic = Agent(name="poster_critic", model=scripted_or_live(["Critique: make it bolder."]))
studio = Agent(name="poster_studio", agents=[drafter, critic], strategy="manual")


def next_choice(handle: AgentHandle) -> list[str]:
    while not (status := handle.get_status()).is_waiting:
        time.sleep(0.05)
    options: list[str] = (status.pending_tool or {})["parameters"]["options"]
    return options


with AgentRuntime() as runtime:
    handle = runtime.start(studio, "A poster slogan for our runtime.")
    print(f"options: {next_choice(handle)}")
    handle.respond({"selected": "poster_critic"})
    next_choice(handle)
    handle.respond({"selected": "poster_drafter"})
    next_choice(handle)
    handle.respond({"selected": None})
    result = handle.join(timeout=30)
    print(result.output)

# expect: options: ['poster_drafter', 'poster_critic']
# expect: [poster_critic]: Critique: make it bolder.
# expect: [poster_drafter]: Draft: 'Durable by design.'
