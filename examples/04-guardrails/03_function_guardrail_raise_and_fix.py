"""``raise`` and ``fix``: fail the run outright, or let the guardrail correct the answer.

    python examples/04-guardrails/03_function_guardrail_raise_and_fix.py

``OnFail.RAISE`` fails the run at once (``finish_reason == "guardrail"``, the answer is never
returned). ``OnFail.FIX`` replaces the answer with the guardrail's ``fixed_output`` (here:
e-mail addresses masked), and the run completes with the corrected text.
"""

import re

from agentspan.agents import Agent, AgentRuntime, Guardrail, GuardrailResult, OnFail, guardrail
from agentspan.agents.testing import scripted_or_live

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@guardrail
def no_competitors(content: str) -> GuardrailResult:
    """Never recommend a competitor."""
    if "megacorp" in content.lower():
        return GuardrailResult(passed=False, message="recommends a competitor")
    return GuardrailResult(passed=True)


@guardrail
def mask_emails(content: str) -> GuardrailResult:
    """Mask e-mail addresses before the answer leaves."""
    if EMAIL.search(content):
        return GuardrailResult(
            passed=False, message="contains an e-mail", fixed_output=EMAIL.sub("[email]", content)
        )
    return GuardrailResult(passed=True)


strict = Agent(
    name="loyal_advisor",
    model=scripted_or_live(["Honestly, MegaCorp does this better."]),
    guardrails=[Guardrail(no_competitors, on_fail=OnFail.RAISE)],
)
masking = Agent(
    name="contact_finder",
    model=scripted_or_live(["Write to jane.doe@example.com for refunds."]),
    guardrails=[Guardrail(mask_emails, on_fail=OnFail.FIX)],
)

with AgentRuntime() as runtime:
    failed = runtime.run(strict, "Which product should I buy?")
    print(f"raise: {failed.status}, finish_reason={failed.finish_reason}, output={failed.output}")
    print(f"       {failed.error}")
    fixed = runtime.run(masking, "Who handles refunds?")
    print(f"fix:   {fixed.status}, output: {fixed.output}")

# expect: raise: FAILED, finish_reason=FinishReason.GUARDRAIL, output=None
# expect: Guardrail 'no_competitors' failed: recommends a competitor
# expect: fix:   COMPLETED, output: Write to [email] for refunds.
