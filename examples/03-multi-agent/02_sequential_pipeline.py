"""A pipeline: ``a >> b >> c`` runs agents one after another, each building on the last.

    python examples/03-multi-agent/02_sequential_pipeline.py

Each step is a child execution whose output is passed to the next step; the pipeline's
answer is the last step's. ``result.sub_results`` keeps what every step said.
"""

from agentspan.agents import Agent, AgentRuntime
from agentspan.agents.testing import scripted_or_live

researcher = Agent(
    name="pipe_researcher",
    model=scripted_or_live(["Facts: tides come twice a day; the moon causes them."]),
    instructions="List the key facts about the topic.",
)
writer = Agent(
    name="pipe_writer",
    model=scripted_or_live(["Twice a day the moon pulls the sea up the beach."]),
    instructions="Turn the facts into one plain sentence.",
)
editor = Agent(
    name="pipe_editor",
    model=scripted_or_live(["Twice a day, the moon draws the sea up the beach."]),
    instructions="Polish the sentence.",
)

pipeline = researcher >> writer >> editor

with AgentRuntime() as runtime:
    result = runtime.run(pipeline, "Explain tides to a child.")
    print(f"pipeline: {pipeline.name} ({pipeline.strategy})")
    for step, text in result.sub_results.items():
        print(f"  {step}: {text}")
    print(f"answer: {result.output}")

# expect: pipeline: pipe_researcher_pipe_writer_pipe_editor (sequential)
# expect:   pipe_researcher: Facts: tides come twice a day
# expect:   pipe_writer: Twice a day the moon pulls the sea up the beach.
# expect: answer: Twice a day, the moon draws the sea up the beach.
