"""A guardrail that asks a person: ``on_fail="human"`` holds a doubtful answer for review.

    python examples/02-human-in-the-loop/06_human_guardrail.py

When the guardrail fails, the run does not fail or retry: it waits (durably) with the answer
and the guardrail's message. A reviewer can ``approve()`` it as is, ``reject(reason)`` it, or
answer ``{"approved": True, "edited_output": ...}`` to replace it, as here.
"""

import time

from agentspan.agents import Agent, AgentRuntime, Guardrail, GuardrailResult, guardrail
from agentspan.agents.testing import scripted_or_live


@guardrail
def no_discount_promises(content: str) -> GuardrailResult:
    """Promised discounts need a manager's look."""
    if "discount" in content.lower():
        return GuardrailResult(passed=False, message="mentions a discount")
    return GuardrailResult(passed=True)


agent = Agent(
    name="sales_replier",
    model=scripted_or_live(["Sure, I can give you a 50% discount!"]),
    instructions="Answer the customer's pricing question.",
    guardrails=[Guardrail(no_discount_promises, on_fail="human")],
)

with AgentRuntime() as runtime:
    handle = runtime.start(agent, "Can I get a better price?")
    while not (status := handle.get_status()).is_waiting:
        time.sleep(0.05)
    held = status.pending_tool or {}
    print(f"held by {held['tool_name']} ({held['parameters']['message']}): {held['parameters']['content']!r}")
    handle.respond({"approved": True, "edited_output": "Our prices are fixed, but shipping is free."})
    result = handle.join(timeout=30)
    print(f"sent to the customer: {result.output}")

# expect: held by no_discount_promises (mentions a discount): 'Sure, I can give you a 50% discount!'
# expect: sent to the customer: Our prices are fixed, but shipping is free.
