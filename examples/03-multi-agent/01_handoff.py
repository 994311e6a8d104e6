"""Handoff: a front-desk agent passes the conversation to the right specialist.

    python examples/03-multi-agent/01_handoff.py

With ``agents=[...]`` (the default strategy is ``handoff``) the parent's model gets one
``transfer_to_<name>`` tool per sub-agent. Calling one starts that specialist as a child
execution (durable on its own) whose answer becomes the run's answer.
"""

from agentspan.agents import Agent, AgentRuntime, tool
from agentspan.agents.testing import ToolCall, scripted_or_live


@tool
def invoice_total(invoice_id: str) -> float:
    """The total of an invoice, in euros."""
    return 1280.0


billing = Agent(
    name="billing_desk",
    model=scripted_or_live(
        [ToolCall("invoice_total", {"invoice_id": "INV-9"}), "Invoice INV-9 totals 1280.00 EUR."]
    ),
    instructions="Answer billing questions using invoice_total.",
    introduction="Handles invoices and payments.",
    tools=[invoice_total],
)
tech = Agent(
    name="tech_desk",
    model=scripted_or_live(["Have you tried turning it off and on again?"]),
    introduction="Handles technical problems.",
)
front = Agent(
    name="front_desk",
    model=scripted_or_live([ToolCall("transfer_to_billing_desk", {"reason": "an invoice question"})]),
    instructions="Route the customer to the right desk.",
    agents=[billing, tech],
)

with AgentRuntime() as runtime:
    result = runtime.run(front, "How much is invoice INV-9?")
    print(f"handed to: {[e.target for e in result.events if e.type == 'handoff']}")
    print(result.output)

# expect: handed to: ['billing_desk']
# expect: Invoice INV-9 totals 1280.00 EUR.
