"""Regex guardrails: block answers that match a pattern, or allow only those that do.

    python examples/04-guardrails/01_regex_block_and_allow.py

``RegexGuardrail`` runs on the server, inline, with no worker. In ``block`` mode a match
fails the check; in ``allow`` mode no match does. With ``on_fail="retry"`` (the default) the
model is told what was wrong and answers again; every verdict is recorded as an event.
"""

from agentspan.agents import Agent, AgentRuntime, RegexGuardrail
from agentspan.agents.testing import scripted_or_live

no_card_numbers = RegexGuardrail(
    [r"\b\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{4}\b"],
    mode="block",
    name="no_card_numbers",
    message="Never repeat a card number; refer to it by its last four digits.",
)
order_ids_only = RegexGuardrail([r"^ORD-\d+$"], mode="allow", name="order_id_format", on_fail="raise")

support = Agent(
    name="card_support",
    model=scripted_or_live(
        ["Your card 4111 1111 1111 1111 is active.", "Your card ending in 1111 is active."]
    ),
    instructions="Confirm the customer's card status.",
    guardrails=[no_card_numbers],
)
extractor = Agent(
    name="order_extractor",
    model=scripted_or_live(["The order is ORD-42."]),
    instructions="Answer with the order id only, like ORD-123.",
    guardrails=[order_ids_only],
)

with AgentRuntime() as runtime:
    result = runtime.run(support, "Is my card 4111 1111 1111 1111 working?")
    for verdict in result.guardrails:
        print(f"{verdict['name']}: passed={verdict['passed']} {verdict['message']}")
    print(f"answer: {result.output}")

    strict = runtime.run(extractor, "Which order was it? 'ORD-42'")
    print(f"allow-list: {strict.status}, {strict.error}")

# expect: no_card_numbers: passed=False Never repeat a card number
# expect: no_card_numbers: passed=True
# expect: answer: Your card ending in 1111 is active.
# expect: allow-list: FAILED, Guardrail 'order_id_format' failed: Content did not match any allowed pattern.
