"""Round robin: agents take turns on a shared conversation, up to ``max_turns``.

    python examples/03-multi-agent/05_round_robin.py

Each turn is one sub-agent's child execution, which sees the transcript so far. The team's
answer is the transcript, ``[name]: text`` per turn; ``max_turns`` counts turns. (Offline,
each turn's scripted model starts from its first line, so the optimist repeats itself; a
real model would carry the argument on.)
"""

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.testing import scripted_or_live

optimist = Agent(
    name="optimist",
    model=scripted_or_live(["Remote work saves commuting time."]),
    instructions="Argue for remote work in one sentence.",
)
skeptic = Agent(
    name="skeptic",
    model=scripted_or_live(["But it makes mentoring juniors harder."]),
    instructions="Argue against remote work in one sentence.",
)
debate = Agent(name="remote_debate", agents=[optimist, skeptic], strategy="round_robin", max_turns=3)

with AgentRuntime() as runtime:
    result = runtime.run(debate, "Is remote work better?")
    print(f"turns: {[e.target for e in result.events if e.type == 'handoff']}")
    print(f"finish_reason: {result.finish_reason}")
    print(result.output)

# expect: turns: ['optimist', 'skeptic', 'optimist']
# expect: finish_reason: FinishReason.MAX_TURNS
# expect: [skeptic]: But it makes mentoring juniors harder.
