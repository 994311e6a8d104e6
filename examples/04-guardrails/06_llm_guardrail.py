"""LLM guardrails: a judge model checks each answer against a policy written in words.

    python examples/04-guardrails/06_llm_guardrail.py

``LLMGuardrail(model, policy)`` makes the server ask a (usually small, cheap) model whether
the content follows the policy. Its verdict is recorded like any guardrail's, and its tokens
count in the run's usage and budget. Offline the judge is scripted too: it rejects the
first answer and accepts the second.
"""

from agentspan.agents import Agent, AgentRuntime, LLMGuardrail
from agentspan.agents.testing import scripted_or_live

polite = LLMGuardrail(
    scripted_or_live(
        [
            '{"passed": false, "reason": "The answer mocks the customer."}',
            '{"passed": true, "reason": "Polite and helpful."}',
        ]
    ),
    policy="Answers must be polite and never mock the customer.",
    name="politeness_judge",
)

agent = Agent(
    name="courteous_support",
    model=scripted_or_live(
        [
            "Did you even read the manual? Press the reset button.",
            "Sorry for the trouble! Holding the reset button for 5 seconds should fix it.",
        ]
    ),
    instructions="Help the customer with their router.",
    guardrails=[polite],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "My router keeps dropping the connection.")
    for verdict in result.guardrails:
        print(f"{verdict['name']}: passed={verdict['passed']} {verdict['message']}")
    purposes = [(e.data or {}).get("purpose") for e in result.events if e.type == "llm_call"]
    print(f"judge calls: {purposes.count('guardrail')}")
    print(f"answer: {result.output}")

# expect: politeness_judge: passed=False The answer mocks the customer.
# expect: politeness_judge: passed=True
# expect: judge calls: 2
# expect: answer: Sorry for the trouble! Holding the reset button
