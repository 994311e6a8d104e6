"""A function guardrail with retry: your Python check, the model tries again on failure.

    python examples/04-guardrails/02_function_guardrail_retry.py

A ``@guardrail`` function runs in your process as a durable worker task (recorded once,
never asked again after a crash). With ``OnFail.RETRY`` a failed answer stays in the
conversation, the guardrail's message is sent to the model, and it answers again; after
``max_retries`` failures the run fails.
"""

from agentspan.agents import Agent, AgentRuntime, Guardrail, GuardrailResult, OnFail, guardrail
from agentspan.agents.testing import scripted_or_live

checked: list[str] = []


@guardrail
def three_bullets(content: str) -> GuardrailResult:
    """The answer must be exactly three bullet points."""
    checked.append(content)
    bullets = [line for line in content.splitlines() if line.startswith("- ")]
    if len(bullets) != 3:
        return GuardrailResult(
            passed=False, message=f"Use exactly three '- ' bullets (you used {len(bullets)})."
        )
    return GuardrailResult(passed=True)


agent = Agent(
    name="bullet_writer",
    model=scripted_or_live(
        [
            "Durable agents save every step, resume after crashes and wait for people.",
            "- every step is saved\n- crashes resume\n- people can approve",
        ]
    ),
    instructions="Answer in exactly three bullet points.",
    guardrails=[Guardrail(three_bullets, on_fail=OnFail.RETRY, max_retries=2)],
)

with AgentRuntime() as runtime:
    result = runtime.run(agent, "Why durable agents?")
    print(f"the guardrail ran {len(checked)} times in this process")
    for verdict in result.guardrails:
        print(f"{verdict['name']}: passed={verdict['passed']} {verdict['message']}")
    print(result.output)

# expect: the guardrail ran 2 times in this process
# expect: three_bullets: passed=False Use exactly three '- ' bullets (you used 0).
# expect: three_bullets: passed=True
# expect: - people can approve
