"""Random: the next speaker is drawn at random, and a resumed run draws the same.

    python examples/03-multi-agent/06_random.py

``strategy="random"`` is round robin with a random pick per turn. The server draws one seed
when the execution is created and derives every pick from it, so the order is recorded
once: a run that crashes and resumes continues with the same speakers.
"""

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.testing import scripted_or_live

names = ["ideas_alice", "ideas_bob", "ideas_carol"]
members = [Agent(name=n, model=scripted_or_live([f"{n} suggests an idea."])) for n in names]
brainstorm = Agent(name="brainstorm", agents=members, strategy="random", max_turns=4)

with AgentRuntime() as runtime:
    result = runtime.run(brainstorm, "Name our new product.")
    speakers = [e.target for e in result.events if e.type == "handoff"]
    print(f"{len(speakers)} turns, every speaker a member: {set(speakers) <= set(names)}")
    print(f"speakers: {speakers}")
    print(f"status: {result.status}, finish_reason: {result.finish_reason}")

# expect: 4 turns, every speaker a member: True
# expect: status: COMPLETED, finish_reason: FinishReason.MAX_TURNS
