"""``validate_strategy``: check that a multi-agent run followed its strategy's rules.

    python examples/13-testing/05_validate_strategy.py

It reads the run's ``handoff`` events and checks them against the team's strategy (a
pipeline ran every step once, in order; a router picked exactly one agent; a round robin
rotated…) and ``allowed_transitions``, raising ``StrategyViolation`` with every rule broken.
It works on live runs and on ``mock_run`` results alike.
"""

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.testing import (
    MockEvent,
    StrategyViolation,
    mock_run,
    scripted_or_live,
    validate_strategy,
)

outline = Agent(name="vs_outline", model=scripted_or_live(["1. intro 2. body"]))
draft = Agent(name="vs_draft", model=scripted_or_live(["Intro... body..."]))
pipeline = Agent(name="vs_pipeline", agents=[outline, draft], strategy="sequential")

with AgentRuntime() as runtime:
    live = runtime.run(pipeline, "Write about tea.")
validate_strategy(pipeline, live)
print("the live run followed the sequential strategy")

wrong = mock_run(pipeline, "Write about tea.", [MockEvent.handoff("vs_draft"), MockEvent.done("oops")])
try:
    validate_strategy(pipeline, wrong)
except StrategyViolation as violation:
    print(f"a scripted bad run breaks '{violation.strategy}':")
    for rule in violation.violations:
        print(f"  - {rule}")

# expect: the live run followed the sequential strategy
# expect: a scripted bad run breaks 'sequential':
# expect: vs_outline
