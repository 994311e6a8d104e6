"""Termination conditions: end a team's conversation when a rule says it is done.

    python examples/03-multi-agent/11_termination_conditions.py

Conditions are data evaluated by the server after every turn: ``TextMentionTermination``
(someone said a word), ``MaxMessageTermination``, ``TokenUsageTermination``,
``StopMessageTermination``, combined with ``|`` (any) and ``&`` (all). The run completes with
``finish_reason == "termination"`` and a ``terminated`` event saying why.
"""

from agentspan.agents import Agent, AgentRuntime, MaxMessageTermination, TextMentionTermination
from agentspan.agents.testing import scripted_or_live

author = Agent(name="term_author", model=scripted_or_live(["Draft: 'Agents that never forget.'"]))
reviewer = Agent(
    name="term_reviewer",
    model=scripted_or_live(["Short and clear. APPROVED"]),
    instructions="Review the draft; say APPROVED when it is good.",
)
review = Agent(
    name="slogan_review",
    agents=[author, reviewer],
    strategy="round_robin",
    max_turns=10,
    termination=TextMentionTermination("APPROVED") | MaxMessageTermination(6),
)

with AgentRuntime() as runtime:
    result = runtime.run(review, "Write a slogan for a durable agent runtime.")
    turns = [e.target for e in result.events if e.type == "handoff"]
    print(f"turns taken: {len(turns)} of at most 10")
    print(f"finish_reason: {result.finish_reason}")
    print(f"why: {[e.content for e in result.events if e.type == 'terminated']}")

# expect: turns taken: 2 of at most 10
# expect: finish_reason: FinishReason.TERMINATION
# expect: why: ["the answer mentions 'APPROVED'"]
