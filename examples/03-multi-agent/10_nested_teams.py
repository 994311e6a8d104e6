"""Nested teams: a team can be a member of another team, to any depth.

    python examples/03-multi-agent/10_nested_teams.py

Here a pipeline's first step is itself a parallel team: two researchers work at once, then
a writer turns their combined notes into the answer. Every agent in the tree is its own
child execution, so ``agentspan executions show <id>`` prints the whole tree.
"""

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.testing import scripted_or_live

prices = Agent(name="nest_prices", model=scripted_or_live(["Prices: flat this year."]))
reviews = Agent(name="nest_reviews", model=scripted_or_live(["Reviews: 4.6 stars on average."]))
research = Agent(name="nest_research", agents=[prices, reviews], strategy="parallel")
writer = Agent(
    name="nest_writer",
    model=scripted_or_live(["Steady prices and 4.6-star reviews: a safe buy."]),
    instructions="Write a one-line verdict from the research.",
)
report = research >> writer

with AgentRuntime() as runtime:
    result = runtime.run(report, "Should we buy the X200 vacuum?")
    print(f"steps: {list(result.sub_results)}")
    print(f"research step said: {result.sub_results['nest_research']!r}")
    print(f"answer: {result.output}")

# expect: steps: ['nest_research', 'nest_writer']
# expect: [nest_prices]: Prices: flat this year.
# expect: [nest_reviews]: Reviews: 4.6 stars on average.
# expect: answer: Steady prices and 4.6-star reviews: a safe buy.
