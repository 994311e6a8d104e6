"""Swarm: members pass control to each other, by tool or by a condition on what they say.

    python examples/03-multi-agent/07_swarm.py

Each member of a ``swarm`` gets ``transfer_to_<peer>`` tools; ``handoffs`` on the swarm add
rules the server applies, such as ``OnTextMention``: "when a member's answer mentions X,
hand over to Y". A member that answers without a transfer ends the run.
"""

from agentspan.agents import Agent, AgentRuntime, OnTextMention
from agentspan.agents.testing import ToolCall, scripted_or_live

triage = Agent(
    name="swarm_triage",
    model=scripted_or_live([ToolCall("transfer_to_swarm_refunds", {})]),
    instructions="Send refund requests to swarm_refunds.",
)
refunds = Agent(
    name="swarm_refunds",
    model=scripted_or_live(["The refund is 900 EUR, above my limit: this needs ESCALATION."]),
    instructions="Handle refunds; say ESCALATION when above 500 EUR.",
)
manager = Agent(
    name="swarm_manager",
    model=scripted_or_live(["Manager here: the 900 EUR refund is approved."]),
    instructions="Decide escalated refunds.",
)
desk = Agent(
    name="refund_swarm",
    agents=[triage, refunds, manager],
    strategy="swarm",
    handoffs=[OnTextMention(target="swarm_manager", text="escalation")],
)

with AgentRuntime() as runtime:
    result = runtime.run(desk, "I want my 900 EUR back.")
    print(f"control passed: {' -> '.join(str(e.target) for e in result.events if e.type == 'handoff')}")
    print(result.output)

# expect: control passed: swarm_triage -> swarm_refunds -> swarm_manager
# expect: Manager here: the 900 EUR refund is approved.
