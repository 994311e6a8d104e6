"""Usage and cost: every model call is measured, and a run's total includes its children.

    python examples/12-budgets-and-cost/02_usage_and_cost.py

Each model call is an ``llm_call`` event with its model, tokens, latency and estimated cost
(from the server's price table). ``result.token_usage`` sums the execution and all its
sub-agents' executions; ``get_status(id).token_usage`` is one execution alone.

Offline this uses ``offline/basic`` (one token per word, cost 0: it has no price); with a
real model the same code prints real costs.
"""

import os

from agentspan.agents import Agent, AgentRuntime, tool

MODEL = os.environ.get("AGENTSPAN_LLM_MODEL") or (
    "openai/gpt-4o-mini" if os.environ.get("OPENAI_API_KEY") else "offline/basic"
)


@tool
def opening_hours(shop: str) -> str:
    """When a shop opens."""
    return f"{shop} opens at 5am"


baker = Agent(name="cost_baker", model=MODEL, instructions="Answer with the tool.", tools=[opening_hours])
editor = Agent(name="cost_editor", model=MODEL, instructions="Shorten the text.")

with AgentRuntime() as runtime:
    single = runtime.run(baker, "When does Crumbs open?")
    calls = [e.data or {} for e in single.events if e.type == "llm_call"]
    for n, call in enumerate(calls, 1):
        print(
            f"call {n}: {call['model']} {call['promptTokens']}+{call['completionTokens']} tokens, ${call['costUsd']}"
        )
    summed = sum(c["promptTokens"] + c["completionTokens"] for c in calls)
    assert single.token_usage is not None  # always set on a finished run
    print(f"sum of calls == result.token_usage: {summed == single.token_usage.total_tokens}")

    team = runtime.run(baker >> editor, "When does Crumbs open?")
    own = runtime.get_status(team.execution_id).token_usage
    assert own is not None and team.token_usage is not None
    print(
        f"pipeline: its own execution {own.total_tokens} tokens, with its steps {team.token_usage.total_tokens}"
    )
    print(f"children counted in the total: {team.token_usage.total_tokens > own.total_tokens}")
    print(f"estimated cost of the whole tree: ${team.token_usage.cost_usd:.6f}")

# expect: call 1:
# expect: call 2:
# expect: sum of calls == result.token_usage: True
# expect: pipeline: its own execution 0 tokens, with its steps
# expect: children counted in the total: True
# expect: estimated cost of the whole tree: $
