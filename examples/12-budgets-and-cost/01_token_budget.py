"""Budgets: cap the tokens (or dollars) a run and all its sub-agents may spend.

    python examples/12-budgets-and-cost/01_token_budget.py

``run(..., max_tokens_total=N)`` (or ``max_cost_usd=``) sets a budget for the execution and
every child it starts. The server checks it before each model call: once it is used up no
further call is made, and the run completes with its last text and
``finish_reason == "budget_exceeded"``. The call that crosses the line still completes, so a
budget can be passed by a little.

Offline this uses the built-in ``offline/basic`` model, which counts one token per word
(scripted models report no tokens at all).
"""

import os

from agentspan.agents import Agent, AgentRuntime, tool

MODEL = os.environ.get("AGENTSPAN_LLM_MODEL") or (
    "openai/gpt-4o-mini" if os.environ.get("OPENAI_API_KEY") else "offline/basic"
)


@tool
def search_archive(query: str) -> str:
    """Search the newspaper archive."""
    return "1969: the first moon landing. " * 20


agent = Agent(
    name="budget_researcher",
    model=MODEL,
    instructions="Research the question with search_archive, then answer.",
    tools=[search_archive],
)

with AgentRuntime() as runtime:
    free = runtime.run(agent, "When was the first moon landing?")
    assert free.token_usage is not None  # always set on a finished run
    print(f"without a budget: {free.finish_reason}, {free.token_usage.total_tokens} tokens")

    capped = runtime.run(agent, "When was the first moon landing?", max_tokens_total=20)
    assert capped.token_usage is not None
    print(f"with 20 tokens:   {capped.finish_reason}, {capped.token_usage.total_tokens} tokens")
    print(f"why: {[e.content for e in capped.events if e.type == 'budget_exceeded']}")

# expect: without a budget: FinishReason.STOP
# expect: with 20 tokens:   FinishReason.BUDGET_EXCEEDED
# expect: why: ['token budget exhausted
