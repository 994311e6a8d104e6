"""A Google ADK coordinator with sub_agents: it hands the conversation to a specialist, whose
answer is saved in the run's state under output_key.

    python examples/11-frameworks/07_google_adk_sub_agents.py

An ``LlmAgent`` with ``sub_agents`` gets one ``transfer_to_<name>`` tool per sub-agent; the
chosen one runs as a durable child execution, and its answer is the run's answer. Its
``output_key`` stores that answer in the shared state, which the coordinator's
``after_agent_callback`` (ADK's own ``CallbackContext``, run as a recorded step in this
process) reads back. With no API key the model is ``offline/basic``, the server's built-in
deterministic model: it calls each offered tool once, then answers with what they returned.
"""

import os

from google.adk.agents import Agent
from google.adk.agents.callback_context import CallbackContext

from agentspan.agents import run

MODEL = os.environ.get("AGENTSPAN_LLM_MODEL") or (
    "openai/gpt-4o-mini" if os.environ.get("OPENAI_API_KEY") else "offline/basic"
)
state_seen: list[object] = []


def refund_status(order_id: str) -> str:
    """The status of an order's refund."""
    return f"refund for {order_id}: approved, paid out in 3-5 days"


def remember_answer(callback_context: CallbackContext) -> None:
    state_seen.append(callback_context.state.get("refund_answer"))


refunds_specialist = Agent(
    name="refunds_specialist",
    model=MODEL,
    description="Handles refunds and invoices.",
    instruction="Answer refund questions with refund_status.",
    tools=[refund_status],
    output_key="refund_answer",
)
help_desk = Agent(
    name="help_desk",
    model=MODEL,
    instruction="Transfer the customer to the specialist who can answer.",
    sub_agents=[refunds_specialist],
    after_agent_callback=remember_answer,
)

result = run(help_desk, "Where is the refund for order A17?")
print(result.output)
print("handed off to:", [e.target for e in result.events if e.type == "handoff"])
print("state['refund_answer'] after the run:", repr(state_seen[-1]))

# requires: google.adk
# expect: handed off to: ['refunds_specialist']
# expect: state['refund_answer'] after the run: 'Here is what I found:\n- refund_status: refund for A17: approved
